#!/usr/bin/env bash
# Issue 10, CIFAR-10: the default study with a race before the retraining ([retrain.race]: the
# five cells synflow ranks best each train one epoch on a quarter of the data at 16 channels, the
# best validation accuracy is retrained), 60 minutes in all (57 for the race and the retraining),
# against the all-conv3x3 reference of bench/results/compare_cifar10/fill (87.64 %, same budget
# and seed). One arm at a time on an idle machine; each adds a line to results.jsonl here.
#
#   bench/results/compare_cifar10_race/run.sh study:0
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
data="${NASCENT_CIFAR10:-$root/../shared/data/cifar10-jpg/cifar10-jpg.tar.gz}"
[[ -e "$data" ]] || { echo "no CIFAR-10 at $data (set NASCENT_CIFAR10)" >&2; exit 1; }
COMPARE_DIR="$here" \
COMPARE_SETS="data.name=$data budget.minutes=60 retrain.minutes=57 retrain.max_epochs=60 retrain.race.candidates=5" \
  exec "$root/bench/results/compare_fmnist_default/run.sh" "$@"
