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
cd "$(dirname "$0")/../../.."
here=bench/results/fmnist_macro
bin=${NASCENT_BIN:-target/release/nascent}
arch='|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|'
rounds=$1; shift
for round in $(seq "$rounds"); do
  for cfg in "$@"; do
    IFS=: read -r c stride <<<"$cfg"
    out=$(NASCENT_EXP_STEM_STRIDE=$stride "$bin" train --space nb201 --arch "$arch" --channels "$c" --cells 1 --epochs 2 \
      --data-fraction 0.25 --replicas 2 --precision bfloat16 -v 2>&1 |
      grep -E "epoch [0-9]:" | sed -E 's/.*(epoch [0-9]).*, ([0-9]+) img\/s/\1 \2/' | tr '\n' ' ')
    echo "$(date -u +%FT%TZ) c=$c stride=$stride $out" | tee -a "$here/speed.txt"
  done
done
