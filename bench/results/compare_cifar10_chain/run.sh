#!/usr/bin/env bash
# Issue 10, CIFAR-10 with the chain-space study (bench/studies/chain.toml): evolution over
# ResNet-like chains, each trial one epoch on a tenth of the data, networks too slow for 15
# retraining epochs infeasible, the best retrained; 60 minutes in all (52 for the retraining).
# Against random search of the same space and the all-conv3x3 NB201 reference (60 minutes).
# One arm at a time on an idle machine; each adds a line to results.jsonl here, logs in logs/.
#
#   bench/results/compare_cifar10_chain/run.sh study:0 random:0
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
data="${NASCENT_CIFAR10:-$root/../shared/data/cifar10-jpg/cifar10-jpg.tar.gz}"
[[ -e "$data" ]] || { echo "no CIFAR-10 at $data (set NASCENT_CIFAR10)" >&2; exit 1; }
STUDY_FILE="$root/bench/studies/chain.toml" COMPARE_DIR="$here" \
COMPARE_SETS="data.name=$data budget.minutes=60 retrain.minutes=52 retrain.max_epochs=60" \
  exec "$root/bench/results/compare_fmnist_default/run.sh" "$@"
