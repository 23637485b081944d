#!/bin/bash
# Issue 10, wider and shallower: NAS-Bench-201's ResNet cell at a width whose network does about
# the reference's work (resnet:24, 37 M multiply-accumulates against the all-conv3x3 cell's 38 M
# at 16 channels), one cell per stage, two data-parallel copies, bfloat16, the default recipe,
# for a fixed number of epochs (the reference's 27 scaled by the speed measured with speed.sh),
# so that the accuracy does not depend on the machine's pace. One run per argument
# CELL:C:SEED:EPOCHS, appended to runs.txt; logs in logs/.
#   bench/results/fmnist_wide/run.sh resnet:24:0:22
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../../fmnist_fixed.sh"
for run in "$@"; do
  IFS=: read -r name c seed epochs <<<"$run"
  fixed_epochs_run "$here" "$name-c$c-e$epochs-seed$seed" \
    "cell=$name c=$c epochs=$epochs seed=$seed" \
    --arch "${NB201_CELL[$name]}" --channels "$c" --cells 1 --epochs "$epochs" --seed "$seed" \
    --replicas 2 --precision bfloat16
done
