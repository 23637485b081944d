#!/bin/bash
# Issue 10, the macro lever: the all-conv3x3 NB201 network with its stem at stride STRIDE and
# first-stage width C, two data-parallel copies (THREADS=1: one network on one thread, so that
# two runs can share the machine), bfloat16, the default recipe, for a fixed number of epochs, so
# that the accuracy does not depend on the machine's pace. One run per argument
# C:STRIDE:SEED:EPOCHS, appended to runs.txt; logs in logs/.
#   bench/results/fmnist_macro/run.sh 32:2:0:28 24:1:0:13
# The stem's stride is an experiment's knob, not kept in nascent (the measurement said no):
# apply it first with `git apply bench/results/fmnist_macro/stem_stride.patch` and rebuild
# (`cargo build --release -p nascent-cli`); it reads NASCENT_EXP_STEM_STRIDE (default 1).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../../fmnist_fixed.sh"
for run in "$@"; do
  IFS=: read -r c stride seed epochs <<<"$run"
  par=(--replicas 2)
  [[ -n "${THREADS:-}" ]] && par=(--threads "$THREADS")
  NASCENT_EXP_STEM_STRIDE=$stride fixed_epochs_run "$here" "c$c-s$stride-e$epochs-seed$seed" \
    "c=$c stride=$stride epochs=$epochs seed=$seed threads=${THREADS:-copies}" \
    --arch "${NB201_CELL[conv3x3]}" --channels "$c" --cells 1 --epochs "$epochs" --seed "$seed" \
    "${par[@]}" --precision bfloat16
done
