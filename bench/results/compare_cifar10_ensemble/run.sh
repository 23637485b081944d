#!/usr/bin/env bash
# Issue 10, CIFAR-10: the default study with its ensemble final model (`retrain.ensemble = 2`),
# 60 minutes (57 for the retraining), against the all-conv3x3 reference and random search of
# ../compare_cifar10/ (same budget and seed). One arm at a time on an idle machine; each adds a
# line to results.jsonl here, logs go to logs/.
#
#   bench/results/compare_cifar10_ensemble/run.sh study:0
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
COMPARE_DIR="$here" exec "$here/../compare_cifar10/run.sh" "$@"
