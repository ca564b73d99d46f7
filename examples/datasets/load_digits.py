"""Rates of SGD, heavy ball and randomized Kaczmarz on a real data set: scikit-learn's ``load_digits``.

The data (1797 images x 64 pixels) are standardised after dropping the 3 constant columns, so
A is 1797 x 61 and the problem is consistent least squares f = (1/2n) ||A x - b||^2 with b = A x*
(MATH.md §2, model ``finite``); the Kaczmarz model samples rows with probability ~ ||a_i||^2.
Every rate comes from the matrix-free route (the Krylov iteration on the reduced operator, digits
from its Collatz-Wielandt bracket) and is printed with the digits it states.

scikit-learn is needed by this example only (``pip install -e ".[examples]"``); the package does not
depend on it. Run::

    python examples/datasets/load_digits.py            # a few rates (seconds)
    python examples/datasets/load_digits.py --tune 1 2 4 8 16 32 64 128 256 512 1024
        # the tuned sgd and heavy-ball K(B) curves by numerics.tuning.tune_curve (about 2 minutes with --workers 2)

The tuner searches with numerics.rank_one_secular (a symmetric eigenproblem per point, search grade)
and recomputes rho and K at each optimum on the matrix-free route, with their digits.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def standardised_digits() -> np.ndarray:
    """load_digits' pixels, constant columns dropped, each column centred and scaled to std 1."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        sys.exit("this example needs scikit-learn: pip install scikit-learn")
    X = load_digits().data.astype(float)
    X = X[:, X.std(0) > 0]
    return (X - X.mean(0)) / X.std(0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="rates on standardised load_digits")
    ap.add_argument("--tune", type=int, nargs="*", metavar="B", help="batch sizes for tuned sgd and heavy-ball curves")
    ap.add_argument("--workers", type=int, default=1, help="processes for --tune (default 1)")
    args = ap.parse_args(argv)
    from momentum_verify.numerics.rates import format_digits, spectral_radius
    from momentum_verify.theory.sampling import FiniteSum, Kaczmarz

    X = standardised_digits()
    finite, kaczmarz = FiniteSum(X), Kaczmarz(X)
    lam = np.linalg.eigvalsh(X.T @ X / X.shape[0])
    print(f"A: {X.shape[0]} x {X.shape[1]} (standardised), H = A^T A / n: mu = {lam[0]:.4g}, L = {lam[-1]:.4g}")
    runs = [("finite", finite, "sgd", 32, 0.002, 0.0), ("finite", finite, "heavy-ball", 32, 0.002, 0.5),
            ("finite", finite, "heavy-ball", 32, 0.001, 0.9), ("kaczmarz", kaczmarz, "sgd", 1, 1.0, 0.0),
            ("kaczmarz", kaczmarz, "heavy-ball", 8, 1.0, 0.3)]
    for name, model, method, B, lr, mom in runs:
        t = time.perf_counter()
        r = spectral_radius(method, model, B, lr, mom)
        dt = time.perf_counter() - t
        print(f"{name:9s} {method:10s} B={B:<3d} lr={lr:<6g} momentum={mom:<4g} rho = {format_digits(r.rho, max(r.digits, 1))} "
              f"({r.digits} digits)  K = {r.K_str()}  [{dt:.2f} s]")
    if args.tune:
        from momentum_verify.numerics.tuning import tune_curve
        print("\ntuned sgd and heavy ball (numerics.tuning.tune_curve; rho and K recomputed with their digits):")
        t = time.perf_counter()
        c = tune_curve(["heavy-ball"], finite, args.tune, workers=args.workers)
        for m, rows in c.results.items():
            for res in rows:
                print(f"  {m:10s} B = {res.batch:5d}: lr = {res.lr:.6g}, momentum = {res.momentum:.6g}, "
                      f"rho = {res.rho:.{max(res.rho_digits, 1)}g} ({res.rho_digits} digits), "
                      f"K = {res.K:.{max(res.K_digits, 1)}g} ({res.K_digits} digits)")
        print(f"  [{time.perf_counter() - t:.0f} s]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
