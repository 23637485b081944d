#!/usr/bin/env python3
"""Cheap signals against the final training on Fashion-MNIST (issue 10, item 2).

For a uniform sample of NAS-Bench-201 cells (the default study's space), measures every
cheap signal nascent has and the accuracy after the final training, one JSON line per cell in
OUT/cells.jsonl (resumable: cells already there are skipped, so the sample can be extended
over several runs), then `bench/fmnist_signals/table.py` writes the Kendall-tau table.

    bench/fmnist_signals/run.py [--cells 14] [--seed 0] [--final-epochs 4] [--out bench/results/fmnist_signals]

Signals per cell (each with the seconds it cost):
  - every zero-cost proxy of `nascent proxies` at the final width (16 channels, 1 cell per stage),
    one minibatch of 64 Fashion-MNIST training images;
  - the cell's NAS-Bench-201 CIFAR-10 accuracy (a table lookup: transfer from a proxy task);
  - one epoch of low fidelity: 8 channels on a quarter of the data (the default study's trial),
    16 channels on a quarter, 8 channels on all of it;
  - a 3-epoch run at 8 channels on a quarter of the data: validation accuracy after 1, 2 and 3
    epochs, and the learning-curve extrapolation of those 3 points to epoch 12;
  - the surrogate (Gaussian process on the path encoding, leave-one-out over the sample's
    final accuracies): computed by `table.py` through the `signals_fit` example.
The final training: 16 channels, 1 cell per stage, all the training split, `--final-epochs`
epochs with the default recipe; its test accuracy is the truth the signals are ranked against.
"""
import argparse, csv, json, os, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NASCENT = os.path.join(ROOT, "target", "release", "nascent")
TABLE = os.path.join(ROOT, "..", "shared", "data", "nb201", "nb201.csv")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def train(arch, epochs, channels, fraction, seed):
    cmd = [NASCENT, "train", "--space", "nb201", "--arch", arch, "--data", "fashion-mnist",
           "--epochs", str(epochs), "--channels", str(channels), "--cells", "1",
           "--seed", str(seed), "--threads", "2", "--json"]
    if fraction < 1.0:
        cmd += ["--data-fraction", str(fraction)]
    t0 = time.time()
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"nascent train failed for {arch}: {out.stderr[-2000:]}")
    r = json.loads(out.stdout)
    r["process_seconds"] = time.time() - t0
    return r


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cells", type=int, default=14)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--final-epochs", type=int, default=4)
    p.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "fmnist_signals"))
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    proxies_csv = os.path.join(a.out, f"proxies_seed{a.seed}_{a.cells}.csv")
    proxies_json = os.path.join(a.out, f"proxies_seed{a.seed}_{a.cells}.json")
    if not os.path.exists(proxies_json):
        log(f"proxies of {a.cells} sampled cells (seed {a.seed}) ...")
        out = subprocess.run([NASCENT, "proxies", "--space", "nb201", "--data", "fashion-mnist",
                              "--archs", str(a.cells), "--batch", "64", "--proxies", "all",
                              "--channels", "16", "--cells", "1", "--table", TABLE,
                              "--seed", str(a.seed), "--threads", "2", "--out", proxies_csv,
                              "--json"], capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"nascent proxies failed: {out.stderr[-2000:]}")
        with open(proxies_json, "w") as f:
            f.write(out.stdout)
    summary = json.load(open(proxies_json))
    rows = list(csv.DictReader(open(proxies_csv)))
    cells_path = os.path.join(a.out, "cells.jsonl")
    done = set()
    if os.path.exists(cells_path):
        for line in open(cells_path):
            if line.strip():
                done.add(json.loads(line)["arch"])
    for i, row in enumerate(rows):
        arch = row["arch"]
        if arch in done:
            continue
        log(f"[{i + 1}/{len(rows)}] {arch}")
        rec = {"arch": arch, "index": int(row["index"]), "seed": a.seed,
               "final_epochs": a.final_epochs, "signals": {}, "seconds": {}}
        for k, v in row.items():
            if k in ("index", "arch"):
                continue
            if k.startswith("nb201") or k == "accuracy" or k.endswith("_accuracy"):
                rec["signals"]["nb201_cifar10"] = float(v)
                rec["seconds"]["nb201_cifar10"] = 0.0
            else:
                rec["signals"][k] = float(v)
        for pr in summary.get("proxies", []):
            rec["seconds"][pr["proxy"]] = pr.get("seconds_per_arch")
        for name, ch, frac in [("lowfi_8c_q", 8, 0.25), ("lowfi_16c_q", 16, 0.25), ("lowfi_8c_full", 8, 1.0)]:
            r = train(arch, 1, ch, frac, a.seed)
            rec["signals"][name] = r["val_accuracy"]
            rec["seconds"][name] = r["train_seconds"]
        r = train(arch, 3, 8, 0.25, a.seed)
        rec["curve_8c_q"] = [[h["epoch"], h["val_accuracy"], h["train_seconds"]] for h in r["history"]]
        t = 0.0
        for h in r["history"]:
            t += h["train_seconds"]
            rec["signals"][f"curve_8c_q_e{h['epoch']}"] = h["val_accuracy"]
            rec["seconds"][f"curve_8c_q_e{h['epoch']}"] = t
        r = train(arch, a.final_epochs, 16, 1.0, a.seed)
        rec["final"] = {"test_accuracy": r["test_accuracy"], "val_accuracy": r["val_accuracy"],
                        "train_seconds": r["train_seconds"], "params": r["params"],
                        "history": r["history"]}
        log(f"    final test {r['test_accuracy']:.2f} % in {r['train_seconds']:.0f} s; "
            f"1-epoch 8c/q {rec['signals']['lowfi_8c_q']:.2f}")
        with open(cells_path, "a") as f:
            f.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main()
