"""Finite sums at data-set scale through the matrix-free route (issue 16, item 6).

Times, stated digits and memory peaks (tracemalloc: numpy's allocations included) of

1. load_digits (scikit-learn if installed, else a seeded synthetic stand-in of the same shape,
   1797 x 61, standardised): heavy ball at B = 32 by the Krylov route (new) and by the nonlinear power
   iteration it replaces (old, ``resolvent_double``), in the same process; randomized Kaczmarz;
2. with ``--curve``: the tuned K(B) curve of sgd and heavy ball on load_digits, B = 1, 2, ..., 1024
   (numerics.tuning.tune_curve: the search on numerics.rank_one_secular, then one certified rate per
   point), the certified rates timed apart; the ratio printed is the whole curve against those rates
   alone (the search's overhead over the certification it cannot skip);
3. a finite sum with n = 20,000 seeded Gaussian rows, d = 500: one heavy-ball rate (model
   construction timed separately).

Run: ``OPENBLAS_NUM_THREADS=1 python benchmarks/bench_finite_sum.py [--quick] [--no-old] [--curve]``. The numbers
in benchmarks/README.md were measured on the shared 2-core machine under load (``uptime`` printed).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import tracemalloc

import numpy as np


def digits_data():
    """(X standardised, name): load_digits without its constant columns, or a synthetic stand-in."""
    try:
        from sklearn.datasets import load_digits
        X = load_digits().data.astype(float)
        name = "load_digits"
    except ImportError:
        rng = np.random.default_rng(0)
        X = rng.standard_normal((1797, 61)) @ (np.eye(61) + 0.3 * rng.standard_normal((61, 61)))
        name = "synthetic 1797 x 61"
    X = X[:, X.std(0) > 0]
    return (X - X.mean(0)) / X.std(0), name


def timed(f, *a, **k):
    tracemalloc.start()
    t = time.perf_counter()
    out = f(*a, **k)
    dt = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return out, dt, peak / 2**20


def curve(model):
    """The tuned sgd and heavy-ball K(B) curve, the certified rate at each optimum timed apart."""
    from momentum_verify.numerics import tuning
    from momentum_verify.numerics.rates import spectral_radius
    certify = []

    def timed_rate(*a, **k):
        t = time.perf_counter()
        out = spectral_radius(*a, **k)
        certify.append(time.perf_counter() - t)
        return out

    batches = [2 ** k for k in range(11)]
    tuning.rates.spectral_radius, keep = timed_rate, tuning.rates.spectral_radius
    try:
        t = time.perf_counter()           # not under tracemalloc: it slows the Python-heavy engine
        c = tuning.tune_curve(["heavy-ball"], model, batches)
        dt = time.perf_counter() - t
    finally:
        tuning.rates.spectral_radius = keep
    print(f"\n  tuned K(B) curve, sgd and heavy ball, B = 1..1024 (11 points each): {dt:.1f} s;"
          f" the {len(certify)} certified rates {sum(certify):.1f} s; ratio curve / certified rates "
          f"{dt / sum(certify):.2f}")
    for m, rows in c.results.items():
        for r in rows:
            print(f"    {m:10s} B={r.batch:<5d} lr={r.lr:.5g} momentum={r.momentum:.5g} rho={r.rho:.{max(r.rho_digits, 1)}g} "
                  f"({r.rho_digits} digits) K={r.K:.{max(r.K_digits, 1)}g} ({r.K_digits} digits)")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="skip the n = 20,000 x 500 case")
    ap.add_argument("--no-old", action="store_true", help="skip the old route (tens of seconds a call)")
    ap.add_argument("--curve", action="store_true", help="also the tuned K(B) curve, B = 1..1024 (minutes)")
    args = ap.parse_args(argv)
    print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    print("OPENBLAS_NUM_THREADS =", os.environ.get("OPENBLAS_NUM_THREADS", "unset"))
    from momentum_verify.numerics.rates import spectral_radius
    from momentum_verify.numerics.rates import matrix_free as mf
    from momentum_verify.theory.sampling import FiniteSum, Kaczmarz
    from momentum_verify.numerics.rates import format_digits

    def fmt(r):
        return format_digits(r.rho, max(r.digits, 1))

    spectral_radius("heavy-ball", FiniteSum([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), 2, 0.1, 0.5)  # kernels
    X, name = digits_data()
    (model, dt, mem) = timed(FiniteSum, X)
    print(f"\n{name}: n = {X.shape[0]}, d = {X.shape[1]}; FiniteSum built in {dt:.2f} s ({mem:.0f} MiB peak)")
    points = [(32, 0.002, 0.5), (32, 0.001, 0.9), (32, 0.004, 0.7)]
    for i, (B, lr, mom) in enumerate(points):
        r, dt, mem = timed(spectral_radius, "heavy-ball", model, B, lr, mom)
        first = " (first call: H's eigendecomposition, rotated rows)" if i == 0 else ""
        print(f"  new  heavy-ball B={B} lr={lr} momentum={mom}: rho = {fmt(r)} ({r.digits} digits), "
              f"{dt:.2f} s, peak {mem:.1f} MiB{first}")
    if not args.no_old:
        B, lr, mom = points[0]
        r, dt, mem = timed(mf.resolvent_double, "heavy-ball", model, B, lr, mom)
        print(f"  old  heavy-ball B={B} lr={lr} momentum={mom}: rho = {fmt(r)} ({r.digits} digits), "
              f"{dt:.2f} s, peak {mem:.1f} MiB")
    kz = Kaczmarz(X)
    r, dt, mem = timed(spectral_radius, "sgd", kz, 1, 1.0, 0.0)
    print(f"  kaczmarz (lr 1, B 1): rho = {fmt(r)} ({r.digits} digits), {dt:.2f} s, peak {mem:.1f} MiB")
    r, dt, mem = timed(spectral_radius, "heavy-ball", kz, 8, 1.0, 0.3)
    print(f"  kaczmarz heavy-ball (lr 1, B 8, momentum 0.3): rho = {fmt(r)} ({r.digits} digits), "
          f"{dt:.2f} s, peak {mem:.1f} MiB")

    if args.curve:
        curve(model)

    if not args.quick:
        n, d = 20_000, 500
        A = np.random.default_rng(20_000).standard_normal((n, d))
        big, dt, mem = timed(FiniteSum, A)
        print(f"\nGaussian rows n = {n}, d = {d}: FiniteSum built in {dt:.1f} s ({mem:.0f} MiB peak; the model "
              f"keeps its data as Python floats)")
        del A
        r, dt, mem = timed(spectral_radius, "heavy-ball", big, 64, 0.05, 0.5)
        print(f"  heavy-ball B=64 lr=0.05 momentum=0.5: rho = {fmt(r)} ({r.digits} digits), {dt:.1f} s, "
              f"peak {mem:.0f} MiB (float copy of the rows and their rotation included)")
    try:
        import resource
        print(f"\nmax RSS of the process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    except ImportError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
