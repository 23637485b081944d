#!/usr/bin/env bash
# Issue 10, the CIFAR-10 comparison: the default study (synflow ranks the NB201 cells, the best
# retrained at 16 channels) against random search and the all-conv3x3 reference, 60 minutes
# each (57 of them for the retraining), on ../shared/data/cifar10-jpg (JPEG, lossy). One arm at
# a time on an idle machine; each adds a line to results.jsonl, logs go to logs/.
#
#   bench/results/compare_cifar10/run.sh study:0 random:0 reference:0
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
data="${NASCENT_CIFAR10:-$root/../shared/data/cifar10-jpg/cifar10-jpg.tar.gz}"
[[ -e "$data" ]] || { echo "no CIFAR-10 at $data (set NASCENT_CIFAR10)" >&2; exit 1; }
mkdir -p "$here/logs"
bin="$root/target/release/nascent"
ref='|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|'
for spec in "$@"; do
  arm="${spec%%:*}"; seed="${spec##*:}"
  cd "$(mktemp -d)"
  extra=()
  [[ "$arm" == reference ]] && extra=(--reference-arch "$ref")
  echo "$(date -u +%FT%TZ) start $arm seed $seed" >> "$here/logs/runs.txt"
  "$bin" -v compare --arm "$arm" --seeds "$seed" --out "$PWD/cmp" \
    --set "data.name=$data" --set budget.minutes=60 --set retrain.minutes=57 --set retrain.max_epochs=60 \
    --results "$here/results.jsonl" "${extra[@]}" > "$here/logs/$arm-seed$seed.out" 2> "$here/logs/$arm-seed$seed.log"
  echo "$(date -u +%FT%TZ) end $arm seed $seed" >> "$here/logs/runs.txt"
done
