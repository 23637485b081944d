#!/usr/bin/env bash
# Issue 10: synflow and MeCo (and parameters, FLOPs) of all 15,625 NAS-Bench-201 cells on
# CIFAR-10 (../shared/data/cifar10-jpg), in the network the studies retrain (16 channels, one
# cell per stage), one minibatch of 64, seed 0, one thread; the Spearman correlation with the
# benchmark's 200-epoch CIFAR-10 accuracy goes to spearman_seed0.txt, the scores (without the
# benchmark's accuracies, which stay in ../shared/data) to scores_seed0.csv. About 5 minutes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
data="${NASCENT_CIFAR10:-$root/../shared/data/cifar10-jpg/cifar10-jpg.tar.gz}"
table="$root/../shared/data/nb201/nb201.csv"
tmp="$(mktemp)"
"$root/target/release/nascent" proxies --data "$data" --archs 15625 \
  --proxies synflow,meco,params,flops --channels 16 --cells 1 --threads 1 \
  --table "$table" --out "$tmp" > "$here/spearman_seed0.txt"
python3 - "$tmp" "$here/scores_seed0.csv" <<'PY'
import csv, sys
rows = csv.DictReader(open(sys.argv[1]))
cols = [c for c in rows.fieldnames if c != "test_accuracy"]
out = csv.DictWriter(open(sys.argv[2], "w", newline=""), fieldnames=cols)
out.writeheader()
for r in rows:
    out.writerow({c: r[c] for c in cols})
PY
rm -f "$tmp"
