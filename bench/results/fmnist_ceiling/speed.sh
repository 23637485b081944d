#!/bin/bash
# Training speed of the all-conv3x3 reference cell against NAS-Bench-201's best CIFAR-10 cell (the
# transfer prior), 16 channels, one cell per stage, two data-parallel copies, bfloat16, on a
# quarter of Fashion-MNIST for 2 epochs, alternating, ROUNDS rounds (appends to speed.txt).
# Usage: bench/results/fmnist_ceiling/speed.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../../.."
here=bench/results/fmnist_ceiling
bin=${NASCENT_BIN:-target/release/nascent}
declare -A arch=(
  [conv3x3]='|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|'
  [transfer]='|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|'
)
for round in $(seq "${1:-3}"); do
  for name in conv3x3 transfer; do
    out=$("$bin" train --space nb201 --arch "${arch[$name]}" --channels 16 --cells 1 --epochs 2 \
      --data-fraction 0.25 --replicas 2 --precision bfloat16 -v 2>&1 |
      grep -E "epoch [0-9]:" | sed -E 's/.*(epoch [0-9]).*, ([0-9]+) img\/s/\1 \2/' | tr '\n' ' ')
    echo "$(date -u +%FT%TZ) $name $out" | tee -a "$here/speed.txt"
  done
done
