"""Spearman's rank correlation of each proxy column of `nascent proxies --out` CSV files with
their `test_accuracy` column (ties averaged, non-finite scores ranked lowest, as
`nascent_core::stats::spearman`), for files of runs stopped before the end (the command writes
its rows as it goes; its own summary comes only at the end). With --old FILE, the same cells'
scores in an earlier run's file are correlated too (a same-cells comparison).

    python3 bench/proxy_spearman.py [--old bench/results/nb201_proxies_1000.csv] FILE.csv...
"""

import csv
import math
import sys


def ranks(x):
    xs = [v if math.isfinite(v) else -math.inf for v in x]
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    r = [0.0] * len(xs)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return r


def spearman(x, y):
    rx, ry = ranks(x), ranks(y)
    n = len(x)
    mx, my = sum(rx) / n, sum(ry) / n
    num = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    den = math.sqrt(sum((a - mx) ** 2 for a in rx) * sum((b - my) ** 2 for b in ry))
    return num / den if den else float("nan")


def main(argv):
    old = None
    if argv[:1] == ["--old"]:
        with open(argv[1]) as f:
            old = {r["index"]: r for r in csv.DictReader(f)}
        argv = argv[2:]
    for path in argv:
        with open(path) as f:
            rows = list(csv.DictReader(f))
        acc = [float(r["test_accuracy"]) for r in rows]
        print(f"{path}: {len(rows)} cells; Spearman with the 200-epoch test accuracy")
        for col in rows[0]:
            if col in ("index", "arch", "test_accuracy"):
                continue
            line = f"  {col:<10} {spearman([float(r[col]) for r in rows], acc):.3f}"
            if old is not None and col in next(iter(old.values())):
                o = [float(old[r["index"]][col]) for r in rows]
                line += f"   (earlier run, same cells: {spearman(o, acc):.3f})"
            print(line)


if __name__ == "__main__":
    main(sys.argv[1:])
