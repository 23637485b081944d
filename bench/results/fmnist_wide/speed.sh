#!/bin/bash
# Training speed of the all-conv3x3 reference cell at 16 channels against NAS-Bench-201's ResNet
# cell at wider widths (CELL:C arguments), one cell per stage, two data-parallel copies,
# bfloat16, on a quarter of Fashion-MNIST for 2 epochs, alternating, ROUNDS rounds (appends to
# speed.txt).
# Usage: ROUNDS=2 bench/results/fmnist_wide/speed.sh conv3x3:16 resnet:24 resnet:32
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../../fmnist_fixed.sh"
for round in $(seq "${ROUNDS:-2}"); do
  for run in "$@"; do
    IFS=: read -r name c <<<"$run"
    speed_pass "$name:$c" --arch "${NB201_CELL[$name]}" --channels "$c" --cells 1 |
      tee -a "$here/speed.txt"
  done
done
