#!/bin/bash
# Issue 10, the macro lever: training speed of the all-conv3x3 NB201 network with the stem at
# stride 1 (the reference: 28x28, 14x14, 7x7 stages at C, 2C, 4C) against stride 2 (14x14, 7x7,
# 4x4) at wider C, two data-parallel copies, bfloat16, 2 epochs on a quarter of Fashion-MNIST,
# alternating, ROUNDS rounds (appends to speed.txt). Each configuration is C:STRIDE (the
# first-stage width and the stem's stride).
# Usage: bench/results/fmnist_macro/speed.sh ROUNDS 16:1 32:2 24:2
# The stem's stride is an experiment's knob, not kept in nascent (the measurement said no):
# apply it first with `git apply bench/results/fmnist_macro/stem_stride.patch` and rebuild
# (`cargo build --release -p nascent-cli`); it reads NASCENT_EXP_STEM_STRIDE (default 1).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../../fmnist_fixed.sh"
rounds=$1; shift
for round in $(seq "$rounds"); do
  for cfg in "$@"; do
    IFS=: read -r c stride <<<"$cfg"
    NASCENT_EXP_STEM_STRIDE=$stride speed_pass "c=$c stride=$stride" \
      --arch "${NB201_CELL[conv3x3]}" --channels "$c" --cells 1 | tee -a "$here/speed.txt"
  done
done
