#!/usr/bin/env bash
# nascent against PyTorch: training images/s and batch-1 latency of the NB201 (all-conv3x3)
# and DARTS-V2 networks, same network, same batch, same threads, in one run, as ratios
# nascent/PyTorch. Installs torch 2.11.0 from PyPI into its own environment once
# (bench/pytorch/setup.sh; NASCENT_BENCH_VENV overrides the place).
#
#   bench/pytorch/run.sh [--net nb201|darts|both] [--batch 64] [--steps 10] [--rounds 3]
#                        [--threads 2] [--device cpu|cuda] [--json FILE]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
source "$root/scripts/env.sh"
NASCENT_BENCH_PYTHON="${NASCENT_BENCH_PYTHON:-$(bash "$root/bench/pytorch/setup.sh")}"
export NASCENT_BENCH_PYTHON
# cargo runs the bench from the crate's folder: make a relative --json path absolute here.
args=()
prev=""
for a in "$@"; do
  if [[ "$prev" == "--json" && "$a" != /* ]]; then a="$PWD/$a"; fi
  args+=("$a")
  prev="$a"
done
cd "$root"
exec cargo bench --quiet -p nascent-train --bench vs_pytorch -- "${args[@]}"
