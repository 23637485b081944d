"""The peer of benches/runner.rs: Optuna's overhead per trial on the same kind of study.

A trial samples 6 categorical choices of 5 options (an NB201 cell), reports 5 intermediate
values, and returns one; the objective costs nothing, so the time is the library's and its
storage's. Prints `backend workers trials seconds trials/s` lines like the Rust benchmark.

    python optuna_overhead.py TRIALS DIR
"""

import sys
import time

import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)
OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]


def objective(trial):
    ops = [trial.suggest_categorical(f"edge{i}", OPS) for i in range(6)]
    score = 60.0 + 5.0 * ops.count("nor_conv_3x3") + 3.0 * ops.count("nor_conv_1x1")
    value = 10.0
    for epoch in range(1, 6):
        value = score - (score - 10.0) * (1.0 + epoch) ** -0.9
        trial.report(value, epoch)
    return value


def main():
    trials = int(sys.argv[1])
    folder = sys.argv[2]
    for backend in ["memory", "sqlite"]:
        for workers in [1, 4]:
            storage = None
            if backend == "sqlite":
                storage = f"sqlite:///{folder}/optuna-{workers}.db"
            study = optuna.create_study(
                direction="maximize",
                storage=storage,
                sampler=optuna.samplers.RandomSampler(seed=1),
            )
            t0 = time.perf_counter()
            study.optimize(objective, n_trials=trials, n_jobs=workers)
            secs = time.perf_counter() - t0
            print(f"{backend:<8} {workers:>7} {trials:>7} {secs:>8.2f} {trials / secs:>9.0f}", flush=True)


if __name__ == "__main__":
    main()
