#!/usr/bin/env bash
# Creates the benchmark's own Python environment with PyTorch 2.11.0 from PyPI (once), and
# prints its python. Override the place with NASCENT_BENCH_VENV.
set -euo pipefail
venv="${NASCENT_BENCH_VENV:-$HOME/.cache/nascent/bench-venv}"
if ! "$venv/bin/python" -c "import torch, sys; sys.exit(0 if torch.__version__.startswith('2.11.0') else 1)" 2>/dev/null; then
    echo "bench: installing torch 2.11.0 into $venv (once)" >&2
    mkdir -p "$(dirname "$venv")"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet torch==2.11.0 numpy >&2
fi
echo "$venv/bin/python"
