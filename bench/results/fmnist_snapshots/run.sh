#!/bin/bash
# Issue 10, the snapshot-ensemble lever (fast geometric ensembling within one network's time):
# the reference network (all-conv3x3 NB201 cell, 16 channels, one cell per stage), two
# data-parallel copies, bfloat16, the default recipe except the schedule: cosine from 0.1 to 0
# over the first E1 epochs, then cycles of C epochs each from LR_HI to 0, a snapshot after epoch
# E1 and after each cycle. One run measures each snapshot, the ensembles of the last k
# snapshots (softmax averaged) and the averages of their weights (stochastic weight averaging,
# batch-norm statistics recomputed over 200 training batches) on the test split. One run per
# argument SEED:EPOCHS:E1:C:LR_HI, appended to runs.txt; logs in logs/.
#   bench/results/fmnist_snapshots/run.sh 0:27:18:3:0.05
# The schedule is an experiment's knob, not kept in nascent unless the measurement says yes:
# apply it first with `git apply bench/results/fmnist_snapshots/snapshots.patch` and rebuild
# (`cargo build --release -p nascent-cli`).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../../fmnist_fixed.sh"
for run in "$@"; do
  IFS=: read -r seed epochs e1 c hi <<<"$run"
  name="e$epochs-seed$seed-fge$e1-$c-$hi"
  NASCENT_EXP_FGE=$e1:$c:$hi fixed_epochs_run "$here" "$name" \
    "seed=$seed epochs=$epochs fge=$e1:$c:$hi" \
    --arch "${NB201_CELL[conv3x3]}" --channels 16 --cells 1 --epochs "$epochs" --seed "$seed" \
    --replicas 2 --precision bfloat16
  grep -oE "EXP [a-z].*test.*" "$here/logs/$name.log" | sed 's/^/  /' >>"$here/runs.txt"
done
