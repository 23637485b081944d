#!/usr/bin/env python3
"""Shortens a libFuzzer log in place: drops the progress lines (`#N NEW/REDUCE/pulse ...`)
except the first and last 10, keeping everything else (settings, errors, final statistics)."""
import re, sys

for path in sys.argv[1:]:
    lines = open(path, errors="replace").read().splitlines(keepends=True)
    prog = [i for i, l in enumerate(lines) if re.match(r"#\d+\s+(NEW|REDUCE|pulse|RELOAD)", l)]
    drop = set(prog[10:-10])
    out = []
    for i, l in enumerate(lines):
        if i in drop:
            if i - 1 not in drop:
                out.append(f"[... {len(drop)} progress lines dropped by fuzz/trim_log.py ...]\n")
            continue
        out.append(l)
    open(path, "w").write("".join(out))
