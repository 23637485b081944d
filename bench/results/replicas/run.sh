#!/bin/bash
# Training speed of the 16-channel NB201 all-conv3x3 network on Fashion-MNIST (a quarter of the
# training split, 2 epochs, bfloat16) on this machine, four ways, alternating, ROUNDS rounds:
#   glibc      glibc's allocator as it comes (GLIBC_TUNABLES names a malloc tunable at its
#              default value, so nascent leaves the allocator alone)
#   kept       nascent's allocator setting (freed memory kept for the next tensors)
#   r1 / r2    one network on all threads / two data-parallel copies, one thread each
# Usage: bench/results/replicas/run.sh [ROUNDS]  (appends to runs.txt next to this script)
set -euo pipefail
cd "$(dirname "$0")/../../.."
here=bench/results/replicas
bin=${NASCENT_BIN:-target/release/nascent}
arch='|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|'
run() { # name replicas env...
  local name=$1 r=$2; shift 2
  local out
  out=$(env "$@" /usr/bin/time -f "user %U sys %S wall %e" "$bin" train --space nb201 --arch "$arch" \
    --channels 16 --cells 1 --epochs 2 --data-fraction 0.25 --replicas "$r" -v 2>&1 |
    grep -E "epoch [0-9]:|^user" | sed -E 's/.*(epoch [0-9]).*, ([0-9]+) img\/s/\1 \2/' | tr '\n' ' ')
  echo "$(date -u +%FT%TZ) $name $out" | tee -a "$here/runs.txt"
}
for round in $(seq "${1:-3}"); do
  run glibc-r1 1 GLIBC_TUNABLES=glibc.malloc.tcache_count=7
  run kept-r1 1
  run kept-r2 2
  run glibc-r2 2 GLIBC_TUNABLES=glibc.malloc.tcache_count=7
done
