#!/usr/bin/env bash
# Issue 10: the default study since the final model became an ensemble (`retrain.ensemble = 2`:
# two networks of the chosen cell trained at once, one CPU thread each, their probabilities
# averaged), Fashion-MNIST, 30 minutes, one arm at a time on an idle machine; each arm adds a
# line to results.jsonl here, logs go to logs/. The single-network study, random search and the
# reference it is compared with are in ../compare_fmnist_bf16/.
#
#   bench/results/compare_fmnist_ensemble/run.sh study:0 study:1
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
COMPARE_DIR="$here" exec "$here/../compare_fmnist_default/run.sh" "$@"
