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
root="$(cd "$here/../../.." && pwd)"
bin="${NASCENT_BIN:-$root/target/release/nascent}"
arch='|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|'
decays="${EMA:-0.999,0.9995,0.9998}"
pbn="${PBN:-200}"
mkdir -p "$here/logs"
for run in "$@"; do
  IFS=: read -r seed epochs <<<"$run"
  log="$here/logs/e$epochs-seed$seed.log"
  start=$(date +%s)
  NASCENT_EXP_EMA=$decays NASCENT_EXP_PRECISE_BN=$pbn "$bin" train --space nb201 --arch "$arch" \
    --channels 16 --cells 1 --epochs "$epochs" --seed "$seed" --replicas 2 --precision bfloat16 -v \
    >"$log.out" 2>"$log"
  end=$(date +%s)
  acc=$(grep -oE "test accuracy +[0-9.]+" "$log.out" | grep -oE "[0-9.]+$")
  {
    echo "epochs=$epochs seed=$seed test=$acc seconds=$((end - start)) $(date -u +%FT%TZ)"
    grep -oE "EXP .*" "$log" | sed 's/^/  /'
  } >>"$here/runs.txt"
done
