#!/usr/bin/env bash
# Issue 10, the CIFAR-10 comparison: the default study (synflow ranks the NB201 cells, the best
# retrained at 16 channels) against random search and the all-conv3x3 reference, 60 minutes
# each (57 of them for the retraining), on ../shared/data/cifar10-jpg (JPEG, lossy). One arm at
# a time on an idle machine; each adds a line to results.jsonl here, logs go to logs/ (or under
# COMPARE_DIR when set).
#
#   bench/results/compare_cifar10/run.sh study:0 random:0 reference:0
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
data="${NASCENT_CIFAR10:-$here/../../../../shared/data/cifar10-jpg/cifar10-jpg.tar.gz}"
[[ -e "$data" ]] || { echo "no CIFAR-10 at $data (set NASCENT_CIFAR10)" >&2; exit 1; }
COMPARE_DIR="${COMPARE_DIR:-$here}" \
COMPARE_SETS="data.name=$data budget.minutes=60 retrain.minutes=57 retrain.max_epochs=60" \
  exec "$here/../compare_fmnist_default/run.sh" "$@"
