#!/usr/bin/env bash
# Fashion-MNIST, the reference network (all-conv3x3 NB201 cell, 16 channels, 1 cell per stage),
# trained for a fixed number of epochs in float32 or in bfloat16 autocast on the CPU: what the
# precision costs in accuracy at the epochs it buys. One run per argument,
# EPOCHS:PRECISION:SEED[:CHANNELS[:CELLS]] (precision fp32 or bf16; 16 channels, 1 cell by default), appended to runs.txt; logs in logs/.
#   bench/results/fmnist_bf16/run.sh 25:bf16:1 15:fp32:1 13:bf16:1:24:1
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../../fmnist_fixed.sh"
for run in "$@"; do
  IFS=: read -r epochs precision seed channels cells <<<"$run"
  channels="${channels:-16}"
  cells="${cells:-1}"
  amp=()
  if [[ "$precision" == bf16 ]]; then amp=(--precision bfloat16); else amp=(--precision float32); fi
  fixed_epochs_run "$here" "e${epochs}-${precision}-seed${seed}-c${channels}x${cells}" \
    "channels=$channels cells=$cells epochs=$epochs precision=$precision seed=$seed" \
    --arch "${NB201_CELL[conv3x3]}" --channels "$channels" --cells "$cells" --epochs "$epochs" \
    --seed "$seed" "${amp[@]}"
done
