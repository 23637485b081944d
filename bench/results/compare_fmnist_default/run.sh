#!/usr/bin/env bash
# Issue 10: the default study (synflow ranks the cells; the best retrained at 16 channels) against
# random search and the all-conv3x3 reference, 30 minutes each, one arm at a time on an idle
# machine. Each arm adds a line to results.jsonl; logs go to logs/.
#
#   bench/results/compare_fmnist_default/run.sh study:1 random:1 reference:1
#
# COMPARE_DIR puts results.jsonl and logs/ elsewhere; COMPARE_SETS adds `--set` overrides
# (space-separated KEY=VALUE), as bench/results/compare_cifar10/run.sh does; STUDY_FILE runs
# that study file instead of the default study (bench/studies/chain.toml).
set -euo pipefail
here="$(mkdir -p "${COMPARE_DIR:-$(dirname "$0")}" && cd "${COMPARE_DIR:-$(dirname "$0")}" && pwd)"
root="$(cd "$(dirname "$0")/../../.." && pwd)"
mkdir -p "$here/logs"
bin="$root/target/release/nascent"
ref='|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|'
file=()
[[ -n "${STUDY_FILE:-}" ]] && file=("$(cd "$(dirname "$STUDY_FILE")" && pwd)/$(basename "$STUDY_FILE")")
sets=()
for kv in ${COMPARE_SETS:-}; do sets+=(--set "$kv"); done
for spec in "$@"; do            # ARM:SEED, e.g. study:1 random:1 reference:1
  arm="${spec%%:*}"; seed="${spec##*:}"
  cd "$(mktemp -d)"
  extra=()
  [[ "$arm" == reference ]] && extra=(--reference-arch "$ref")
  echo "$(date -u +%FT%TZ) start $arm seed $seed" >> "$here/logs/runs.txt"
  "$bin" -v compare "${file[@]}" --arm "$arm" --seeds "$seed" --out "$PWD/cmp" "${sets[@]}" \
    --results "$here/results.jsonl" "${extra[@]}" > "$here/logs/$arm-seed$seed.out" 2> "$here/logs/$arm-seed$seed.log"
  echo "$(date -u +%FT%TZ) end $arm seed $seed" >> "$here/logs/runs.txt"
done
