"""Timing of the tuner (numerics.tuning) against a grid + Nelder-Mead reference run in the same process.

    python benchmarks/bench_tune.py              # 12 batch sizes x sgd, heavy-ball, nesterov, gaussian d = 200
    python benchmarks/bench_tune.py --quick      # 4 batch sizes, d = 50 (smoke test)

Target of issue 16 item 1: the 36 tuned points in < 2 s in-process and >= 50x faster than the reference,
with the same or better optima. The reference, per point: the best of a 40 x 40 grid over
(ln eta in [ln 1e-5, ln 8], ln(1 - beta) in [ln 1e-4, 0]) (a 400-point line for sgd) from ``rho_grid``,
then scipy's Nelder-Mead on rho_grid from there (xatol 1e-8, fatol 1e-14). Both optima are re-evaluated
by ``spectral_radius``; the table prints (rho_tuner - rho_ref) / (1 - rho_ref) (negative: the tuner is
better). Times are wall and CPU of this process; the load average is printed before and after (the
machine is shared: compare the ratio, measured in the same run).
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402
from scipy.optimize import minimize  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from momentum_verify.numerics.rates import rho_grid, spectral_radius  # noqa: E402
from momentum_verify.numerics.tuning import tune  # noqa: E402
from momentum_verify.theory.sampling import Gaussian  # noqa: E402

METHODS = ("sgd", "heavy-ball", "nesterov")


def reference(method, model, batch):
    """(lr, momentum, evaluations) by grid + Nelder-Mead on rho_grid."""
    momentum = method != "sgd"
    count = [0]

    def f(p):
        count[0] += 1
        x, w = p[0], (-abs(p[1]) if momentum else 0.0)
        with np.errstate(all="ignore"):
            r = float(rho_grid(method, model, batch, math.exp(x), -math.expm1(w)))
        return r if math.isfinite(r) else 1e300

    xs = np.linspace(math.log(1e-5), math.log(8.0), 40 if momentum else 400)
    ws = np.linspace(math.log(1e-4), 0.0, 40) if momentum else np.zeros(1)
    X, W = np.meshgrid(xs, ws)
    with np.errstate(all="ignore"):
        R = np.asarray(rho_grid(method, model, batch, np.exp(X), -np.expm1(W)), dtype=float)
    count[0] += R.size
    R = np.where(np.isfinite(R), R, np.inf)
    i = np.unravel_index(np.argmin(R), R.shape)
    p0 = [X[i], W[i]] if momentum else [X[i], 0.0]
    res = minimize(f, p0, method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-14, "maxfev": 4000})
    x, w = res.x[0], (-abs(res.x[1]) if momentum else 0.0)
    return math.exp(x), -math.expm1(w), count[0]


def timed(fn):
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t, time.process_time() - c


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--d", type=int, default=None)
    args = ap.parse_args()
    d = args.d or (50 if args.quick else 200)
    batches = [1, 8, 64, math.inf] if args.quick else \
        [int(b) for b in np.unique(np.geomspace(1, 4096, 11).round())] + [math.inf]
    model = Gaussian(np.geomspace(1e-3, 1.0, d))
    print(f"gaussian, spectrum geomspace(1e-3, 1, {d}), batches {batches}, methods {list(METHODS)}")
    print(f"load average before: {os.getloadavg()}")
    for m in METHODS:                               # warm the kernels (one-time SymPy derivations)
        tune(m, model, 4)
        reference(m, model, 4)
    points = [(m, b) for m in METHODS for b in batches]

    res, wall, cpu = timed(lambda: {p: tune(p[0], model, p[1]) for p in points})
    print(f"tuner: {len(points)} points, wall {wall:.2f} s, CPU {cpu:.2f} s (target < 2 s: "
          f"{'met' if wall < 2 else 'MISSED'})")
    ref, rwall, rcpu = timed(lambda: {p: reference(p[0], model, p[1]) for p in points})
    print(f"reference (grid + Nelder-Mead): wall {rwall:.2f} s, CPU {rcpu:.2f} s")
    print(f"ratio reference / tuner: wall {rwall / wall:.1f}x, CPU {rcpu / cpu:.1f}x (target >= 50x)")

    compare(model, points, res, ref)
    print(f"load average after: {os.getloadavg()}")


def compare(model, points, res, ref):
    """Print the tuner's rho against the reference's (re-evaluated by spectral_radius) per point, and the
    worst (rho_tuner - rho_ref) / (1 - rho_ref)."""
    worst = -math.inf
    print(f"{'method':<11s} {'B':>5s} {'rho tuner':>16s} {'rho reference':>16s} {'(t - r)/(1 - r)':>16s}")
    for p in points:
        r = res[p]
        lr, beta, _ = ref[p]
        rr = float(spectral_radius(p[0], model, p[1], lr, beta).rho)
        rel = (r.rho - rr) / (1 - rr) if rr < 1 else -math.inf
        worst = max(worst, rel)
        print(f"{p[0]:<11s} {str(p[1]):>5s} {r.rho:16.12f} {rr:16.12f} {rel:16.2e}")
    print(f"worst (rho_tuner - rho_ref) / (1 - rho_ref): {worst:.2e} (<= 1e-6: same or better; rho to the "
          f"digits spectral_radius states, >= 8)")


if __name__ == "__main__":
    main()
