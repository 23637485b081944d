#!/bin/bash
# Issue 10, the weight-averaging lever: the reference network (all-conv3x3 NB201 cell, 16
# channels, one cell per stage), two data-parallel copies, bfloat16, the default recipe, for a
# fixed number of epochs. One run measures, after the same training, the plain final weights,
# exponential moving averages of the weights at three decays (NASCENT_EXP_EMA), and each with
# precise batch-norm statistics (the mean over NASCENT_EXP_PRECISE_BN training batches in place
# of the running averages of the first copy's shares). One run per argument SEED:EPOCHS,
# appended to runs.txt; logs in logs/.
#   bench/results/fmnist_averaging/run.sh 1:27 0:27
# The averages are an experiment's knob, not kept in nascent unless the measurement says yes:
# apply it first with `git apply bench/results/fmnist_averaging/averaging.patch` and rebuild
# (`cargo build --release -p nascent-cli`).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../../fmnist_fixed.sh"
export NASCENT_EXP_EMA="${EMA:-0.999,0.9995,0.9998}" NASCENT_EXP_PRECISE_BN="${PBN:-200}"
for run in "$@"; do
  IFS=: read -r seed epochs <<<"$run"
  fixed_epochs_run "$here" "e$epochs-seed$seed" "epochs=$epochs seed=$seed" \
    --arch "${NB201_CELL[conv3x3]}" --channels 16 --cells 1 --epochs "$epochs" --seed "$seed" \
    --replicas 2 --precision bfloat16
  grep -oE "EXP .*" "$here/logs/e$epochs-seed$seed.log" | sed 's/^/  /' >>"$here/runs.txt"
done
