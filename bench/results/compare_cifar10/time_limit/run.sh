#!/usr/bin/env bash
# Issue 10, the CIFAR-10 study again with the retraining's time limit (TrainConfig::time_limit,
# 97 % of the time left when the epochs are planned): the same settings as ../run.sh, results
# and logs kept here, apart from the runs before the limit.
#
#   bench/results/compare_cifar10/time_limit/run.sh study:0
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
data="${NASCENT_CIFAR10:-$here/../../../../../shared/data/cifar10-jpg/cifar10-jpg.tar.gz}"
[[ -e "$data" ]] || { echo "no CIFAR-10 at $data (set NASCENT_CIFAR10)" >&2; exit 1; }
COMPARE_DIR="$here" \
COMPARE_SETS="data.name=$data budget.minutes=60 retrain.minutes=57 retrain.max_epochs=60" \
  exec "$here/../../compare_fmnist_default/run.sh" "$@"
