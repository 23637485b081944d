#!/bin/bash
# Issue 10: how far above its 30-minute accuracy does the all-conv3x3 reference cell go with
# more epochs? The cell (16 channels, one cell per stage, two data-parallel copies, bfloat16,
# the default recipe) trained for a fixed number of epochs, so the accuracy does not depend on the
# machine's pace. One run per argument NAME:SEED:EPOCHS, appended to runs.txt; logs in logs/.
#   bench/results/fmnist_ceiling/run.sh conv3x3:0:54
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
bin="${NASCENT_BIN:-$root/target/release/nascent}"
declare -A arch=(
  [conv3x3]='|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|'
  [transfer]='|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|'
)
mkdir -p "$here/logs"
for run in "$@"; do
  IFS=: read -r name seed epochs <<<"$run"
  log="$here/logs/$name-e$epochs-seed$seed.log"
  start=$(date +%s)
  "$bin" train --space nb201 --arch "${arch[$name]}" --channels 16 --cells 1 --epochs "$epochs" \
    --seed "$seed" --replicas 2 --precision bfloat16 -v \
    >"$log.out" 2>"$log"
  end=$(date +%s)
  acc=$(grep -oE "test accuracy +[0-9.]+" "$log.out" | grep -oE "[0-9.]+$")
  echo "name=$name epochs=$epochs seed=$seed test=$acc seconds=$((end - start)) $(date -u +%FT%TZ)" >>"$here/runs.txt"
done
