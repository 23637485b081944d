#!/usr/bin/env bash
# Fashion-MNIST, the reference network (all-conv3x3 NB201 cell, 16 channels, 1 cell per stage),
# trained for a fixed number of epochs in float32 or in bfloat16 autocast on the CPU: what the
# precision costs in accuracy at the epochs it buys. One run per argument,
# EPOCHS:PRECISION:SEED[:CHANNELS[:CELLS]] (precision fp32 or bf16; 16 channels, 1 cell by default), appended to runs.txt; logs in logs/.
#   bench/results/fmnist_bf16/run.sh 25:bf16:1 15:fp32:1 13:bf16:1:24:1
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
bin="${NASCENT_BIN:-$root/target/release/nascent}"
arch='|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|'
mkdir -p "$here/logs"
for run in "$@"; do
  IFS=: read -r epochs precision seed channels cells <<<"$run"
  channels="${channels:-16}"
  cells="${cells:-1}"
  amp=()
  if [[ "$precision" == bf16 ]]; then amp=(--precision bfloat16); else amp=(--precision float32); fi
  log="$here/logs/e${epochs}-${precision}-seed${seed}-c${channels}x${cells}.log"
  start=$(date +%s)
  "$bin" train --space nb201 --arch "$arch" --channels "$channels" --cells "$cells" --epochs "$epochs" \
    --seed "$seed" "${amp[@]}" -v >"$log.out" 2>"$log"
  end=$(date +%s)
  acc=$(grep -oE "test accuracy +[0-9.]+" "$log.out" | grep -oE "[0-9.]+$")
  echo "channels=$channels cells=$cells epochs=$epochs precision=$precision seed=$seed test=$acc seconds=$((end - start)) $(date -u +%FT%TZ)" >>"$here/runs.txt"
done
