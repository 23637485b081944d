#!/usr/bin/env python3
"""The Kendall-tau table of bench/fmnist_signals: every cheap signal of the measured cells
against their final test accuracy, with seconds per cell.

    bench/fmnist_signals/table.py [--out bench/results/fmnist_signals]

Reads OUT/cells.jsonl, runs the `signals_fit` example (learning-curve extrapolation, the
surrogate's leave-one-out predictions), writes OUT/table.json and OUT/table.md and prints the
table. Kendall's tau-b (ties counted); the interval is the 5th-95th percentile of 2,000
bootstrap resamples of the cells.
"""
import argparse, json, os, random, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def tau_b(x, y):
    n = len(x)
    c = d = tx = ty = 0
    for i in range(n):
        for j in range(i + 1, n):
            a = (x[i] > x[j]) - (x[i] < x[j])
            b = (y[i] > y[j]) - (y[i] < y[j])
            if a == 0 and b == 0:
                continue
            if a == 0:
                tx += 1
            elif b == 0:
                ty += 1
            elif a == b:
                c += 1
            else:
                d += 1
    den = ((c + d + tx) * (c + d + ty)) ** 0.5
    return (c - d) / den if den > 0 else float("nan")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "fmnist_signals"))
    a = p.parse_args()
    cells_path = os.path.join(a.out, "cells.jsonl")
    cells = [json.loads(l) for l in open(cells_path) if l.strip()]
    if len(cells) < 4:
        raise SystemExit(f"{cells_path}: {len(cells)} cells, the table needs at least 4")
    fit = subprocess.run(["cargo", "run", "--quiet", "--release", "-p", "nascent-estimate",
                          "--example", "signals_fit", "--", cells_path],
                         cwd=ROOT, capture_output=True, text=True)
    if fit.returncode != 0:
        raise SystemExit(f"signals_fit failed: {fit.stderr[-2000:]}")
    fitted = {}
    for line in fit.stdout.splitlines():
        r = json.loads(line)
        fitted[r["arch"]] = r
    final_seconds = sum(c["final"]["train_seconds"] for c in cells) / len(cells)
    for c in cells:
        f = fitted[c["arch"]]
        if f["curve_extrapolated"] is not None:
            c["signals"]["curve_8c_q_e3_extrapolated"] = f["curve_extrapolated"]
            c["seconds"]["curve_8c_q_e3_extrapolated"] = c["seconds"]["curve_8c_q_e3"]
        if f["surrogate_loo"] is not None:
            c["signals"]["surrogate_loo"] = f["surrogate_loo"]
            # What the surrogate's training set cost, per cell predicted.
            c["seconds"]["surrogate_loo"] = final_seconds
    y = [c["final"]["test_accuracy"] for c in cells]
    names = sorted({k for c in cells for k in c["signals"]})
    rng = random.Random(0)
    boots = [[rng.randrange(len(cells)) for _ in cells] for _ in range(2000)]
    rows = []
    for name in names:
        idx = [i for i, c in enumerate(cells) if name in c["signals"] and c["signals"][name] == c["signals"][name]]
        x = [cells[i]["signals"][name] for i in idx]
        yy = [y[i] for i in idx]
        t = tau_b(x, yy)
        bt = []
        for b in boots:
            bb = [k for k in b if k in set(idx)]
            if len(bb) >= 4:
                v = tau_b([cells[k]["signals"][name] for k in bb], [y[k] for k in bb])
                if v == v:
                    bt.append(v)
        bt.sort()
        lo = bt[int(0.05 * len(bt))] if bt else float("nan")
        hi = bt[int(0.95 * len(bt)) - 1] if bt else float("nan")
        secs = [cells[i]["seconds"].get(name) for i in idx]
        secs = [s for s in secs if s is not None]
        rows.append({"signal": name, "cells": len(idx), "kendall_tau": t, "tau_low": lo,
                     "tau_high": hi,
                     "seconds_per_cell": sum(secs) / len(secs) if secs else None})
    rows.sort(key=lambda r: -r["kendall_tau"] if r["kendall_tau"] == r["kendall_tau"] else 9)
    out = {"cells": len(cells), "final": {
        "what": f"test accuracy after {cells[0]['final_epochs']} epochs at 16 channels, 1 cell per stage, all the training split",
        "mean_train_seconds": final_seconds,
        "test_accuracy_min": min(y), "test_accuracy_max": max(y)}, "rows": rows}
    json.dump(out, open(os.path.join(a.out, "table.json"), "w"), indent=1)
    lines = [f"{len(cells)} cells; final: {out['final']['what']} "
             f"({final_seconds:.0f} s per cell on average; test accuracy {min(y):.2f}-{max(y):.2f} %)", "",
             "| signal | Kendall tau | 90 % interval | seconds per cell |", "|---|---|---|---|"]
    for r in rows:
        s = "-" if r["seconds_per_cell"] is None else f"{r['seconds_per_cell']:.2f}"
        lines.append(f"| {r['signal']} | {r['kendall_tau']:.3f} | {r['tau_low']:.2f} to {r['tau_high']:.2f} | {s} |")
    text = "\n".join(lines) + "\n"
    open(os.path.join(a.out, "table.md"), "w").write(text)
    print(text)


if __name__ == "__main__":
    main()
