#!/bin/bash
# Issue 10: how far above its 30-minute accuracy does the all-conv3x3 reference cell go with
# more epochs? The cell (16 channels, one cell per stage, two data-parallel copies, bfloat16,
# the default recipe) trained for a fixed number of epochs, so the accuracy does not depend on the
# machine's pace. One run per argument NAME:SEED:EPOCHS, appended to runs.txt; logs in logs/.
#   bench/results/fmnist_ceiling/run.sh conv3x3:0:54
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../../fmnist_fixed.sh"
for run in "$@"; do
  IFS=: read -r name seed epochs <<<"$run"
  fixed_epochs_run "$here" "$name-e$epochs-seed$seed" "name=$name epochs=$epochs seed=$seed" \
    --arch "${NB201_CELL[$name]}" --channels 16 --cells 1 --epochs "$epochs" --seed "$seed" \
    --replicas 2 --precision bfloat16
done
