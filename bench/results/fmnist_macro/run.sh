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
root="$(cd "$here/../../.." && pwd)"
bin="${NASCENT_BIN:-$root/target/release/nascent}"
arch='|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|'
mkdir -p "$here/logs"
for run in "$@"; do
  IFS=: read -r c stride seed epochs <<<"$run"
  par=(--replicas 2)
  [[ -n "${THREADS:-}" ]] && par=(--threads "$THREADS")
  log="$here/logs/c$c-s$stride-e$epochs-seed$seed.log"
  start=$(date +%s)
  NASCENT_EXP_STEM_STRIDE=$stride "$bin" train --space nb201 --arch "$arch" --channels "$c" --cells 1 \
    --epochs "$epochs" --seed "$seed" "${par[@]}" --precision bfloat16 -v \
    >"$log.out" 2>"$log"
  end=$(date +%s)
  acc=$(grep -oE "test accuracy +[0-9.]+" "$log.out" | grep -oE "[0-9.]+$")
  echo "c=$c stride=$stride epochs=$epochs seed=$seed test=$acc seconds=$((end - start)) threads=${THREADS:-copies} $(date -u +%FT%TZ)" >>"$here/runs.txt"
done
