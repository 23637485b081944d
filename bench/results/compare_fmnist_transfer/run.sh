#!/usr/bin/env bash
# Issue 10, item 4 (transfer as a prior): is NAS-Bench-201's best CIFAR-10 cell (best at 12 and
# at 200 epochs) better on Fashion-MNIST than the all-conv3x3 reference, both trained for the
# whole 30-minute budget with the default recipe (bfloat16 on this CPU)? One arm at a time on an
# idle machine; each adds a line to results.jsonl, logs go to logs/.
#
#   bench/results/compare_fmnist_transfer/run.sh transfer:1 conv3x3:1
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
mkdir -p "$here/logs"
bin="$root/target/release/nascent"
declare -A arch=(
  [transfer]='|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|'
  [conv3x3]='|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|'
)
for spec in "$@"; do            # NAME:SEED
  name="${spec%%:*}"; seed="${spec##*:}"
  cd "$(mktemp -d)"
  echo "$(date -u +%FT%TZ) start $name seed $seed" >> "$here/logs/runs.txt"
  "$bin" -v compare --arm reference --reference-arch "${arch[$name]}" --seeds "$seed" --out "$PWD/cmp" \
    --results "$here/results.jsonl" > "$here/logs/$name-seed$seed.out" 2> "$here/logs/$name-seed$seed.log"
  echo "$(date -u +%FT%TZ) end $name seed $seed" >> "$here/logs/runs.txt"
done
