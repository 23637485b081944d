#!/bin/bash
# Training speed of the all-conv3x3 reference cell against NAS-Bench-201's best CIFAR-10 cell (the
# transfer prior), 16 channels, one cell per stage, two data-parallel copies, bfloat16, on a
# quarter of Fashion-MNIST for 2 epochs, alternating, ROUNDS rounds (appends to speed.txt).
# Usage: bench/results/fmnist_ceiling/speed.sh [ROUNDS]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../../fmnist_fixed.sh"
for round in $(seq "${1:-3}"); do
  for name in conv3x3 transfer; do
    speed_pass "$name" --arch "${NB201_CELL[$name]}" --channels 16 --cells 1 | tee -a "$here/speed.txt"
  done
done
