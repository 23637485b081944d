#!/usr/bin/env bash
# The storage's cost in a distributed study, PostgreSQL (a throwaway server) against SQLite on
# the same machine: 16 worker processes on 5,000 trials, and the per-trial cost, `best` and a
# new worker joining at 1,000 and 100,000 stored trials. Output: bench/results/distributed.txt.
#   bench/distributed.sh [--trials N --workers K --sizes A,B --skip-load --skip-scaling]
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/results/distributed.txt
{
    echo "# $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores ($(uname -m)); cargo bench -p nascent-study --bench distributed -- $*"
    cargo bench -q -p nascent-study --bench distributed -- "$@"
} | tee "$out"
