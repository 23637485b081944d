#!/usr/bin/env bash
# Issue 10, the CIFAR-10 study again with the retraining's time limit (TrainConfig::time_limit):
# the settings of ../run.sh, results and logs kept here, apart from the runs before the limit.
#
#   bench/results/compare_cifar10/time_limit/run.sh study:0
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
COMPARE_DIR="$here" exec "$here/../run.sh" "$@"
