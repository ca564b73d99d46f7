"""Timing of the tuner (numerics.tuning) against a brute-force grid run in the same process.

    python benchmarks/bench_tune.py              # 12 batch sizes x 3 methods, gaussian d = 1,000
    python benchmarks/bench_tune.py --quick      # d = 100, 4 batch sizes (smoke test)

Target of issue 3: tune over 12 batch sizes x 3 methods (sgd, heavy-ball, nesterov) at d = 1,000 in < 20 s
on a 2-core machine (``--workers 2``: the 36 independent points on two processes).
Baseline: a plain 60 x 60 grid over (ln eta, ln(1 - beta)) at two of the momentum points, timed in the
same run; its best rho is compared with the tuner's (the tuner should be both faster and no worse).
"""
from __future__ import annotations

import argparse
import math
import os
import resource
import sys
import time

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from momentum_verify.numerics.rates import rho_grid  # noqa: E402
from momentum_verify.numerics.tuning import tune, tune_curve  # noqa: E402
from momentum_verify.theory.sampling import Gaussian  # noqa: E402


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the worker processes)."""
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def brute_grid(method, model, batch, n=60):
    """Best rho on an n x n grid in (ln eta in [ln 1e-5, ln 4], ln(1 - beta) in [ln 1e-4, 0])."""
    X, W = np.meshgrid(np.linspace(math.log(1e-5), math.log(4.0), n), np.linspace(math.log(1e-4), 0.0, n))
    with np.errstate(all="ignore"):
        R = rho_grid(method, model, batch, np.exp(X), -np.expm1(W))
    R = np.where(np.isfinite(R), R, np.inf)
    return float(R.min())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    d = 100 if args.quick else 1000
    batches = [1, 4, 16, 64] if args.quick else \
        [int(b) for b in np.unique(np.geomspace(1, 4096, 11).round())] + [math.inf]
    model = Gaussian(np.geomspace(1e-3, 1.0, d))
    methods = ["sgd", "heavy-ball", "nesterov"]
    print(f"gaussian, spectrum geomspace(1e-3, 1, {d}), batches {batches}, methods {methods}")
    print(f"load average before: {os.getloadavg()}")

    tune("heavy-ball", model, 4)                 # warm the kernels (one-time SymPy derivation)
    t0, c0 = time.perf_counter(), cpu_seconds()
    curve = tune_curve(methods, model, batches, workers=args.workers)
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    n = sum(len(v) for v in curve.results.values())
    evals = sum(r.evaluations for v in curve.results.values() for r in v)
    print(f"tune_curve: {n} points, {args.workers} workers: wall {wall:.2f} s (target < 20 s: "
          f"{'met' if wall < 20 else 'MISSED'}), CPU {cpu:.2f} s ({cpu / n:.3f} s/point), {evals} rho evaluations")
    for m, rows in curve.results.items():
        print(f"  {m:<11s} K: " + " ".join(f"{r.K:.4g}" for r in rows))
    print(f"  acceleration slopes {curve.acceleration_slope}, saturation {curve.saturation_batch}")

    print("baseline: 60 x 60 brute-force grid at two points")
    for m, B in (("heavy-ball", 16), ("nesterov", 16)):
        t, c = time.perf_counter(), cpu_seconds()
        r = tune(m, model, B)
        tt, ct = time.perf_counter() - t, cpu_seconds() - c
        t, c = time.perf_counter(), cpu_seconds()
        g = brute_grid(m, model, B)
        tg, cg = time.perf_counter() - t, cpu_seconds() - c
        print(f"  {m} B={B}: tuner {tt:.2f} s wall / {ct:.2f} s CPU, rho {r.rho:.12f}; grid {tg:.2f} s wall / "
              f"{cg:.2f} s CPU, rho {g:.12f}; CPU ratio {cg / ct:.1f}x, grid rho - tuner rho {g - r.rho:.2e}")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
