"""Timing of the spectral-radius engine against baselines run in the same process (ratios printed).

    python benchmarks/bench_spectral.py            # all cases
    python benchmarks/bench_spectral.py --quick    # smaller sizes (smoke test)

Cases (targets of issue 3 on a 2-core machine):
  1. secular vs the dense Kronecker operator ((2d)^2 x (2d)^2, float64 eigvals) at d = 20   (>= 1000x)
  2. gaussian d = 10,000, double precision                                                  (< 50 ms)
  3. 50 digits at d = 1,000 (arb tier: one solve, the digits proven; mpmath as fallback)      (< 2 s)
  4. certified interval at d = 1,000 (arb)                                                  (< 5 s)
  5. finite sum d = 200, n = 2,000, matrix-free                                             (< 10 s)
  6. rho_grid: 100 x 100 (lr, momentum) grid at d = 1,000 (used by the tuner)                (< 0.3 s)
  7. hostile point (issue 16 item 5): sgdm, B = 1e5, lr = 1e-5, 1 - beta = 1e-6, spectrum linspace(1e-3, 1,
     5,000): default and 30 digits (arb tier, < 10 s each) against the mpmath solver (the previous
     tier) in the same process at 45 digits, which also confirms the 30 digits
"""
from __future__ import annotations

import argparse
import os
import sys
import time

# one BLAS thread: on the shared 2-core machine a threaded eigvalsh(400 x 400) took 4 s instead of 0.02 s
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from momentum_verify.numerics.operators import SecondMomentOperator  # noqa: E402
from momentum_verify.numerics.rates import rho_grid, spectral_radius  # noqa: E402
from momentum_verify.theory.sampling import FiniteSum, Gaussian  # noqa: E402


def best_of(f, repeat=3):
    """(best wall time in seconds, last result)."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t)
    return best, out


def kronecker_baseline(method, model, batch, lr, momentum) -> float:
    """The naive route: T as a dense (2d)^2 x (2d)^2 matrix on all 2d x 2d matrices, float64 eigvals."""
    op = SecondMomentOperator(method, model, batch, lr, momentum)
    m = op.s * op.d
    T = np.empty((m * m, m * m))
    for k in range(m * m):
        E = np.zeros(m * m)
        E[k] = 1.0
        T[:, k] = op.apply(E.reshape(m, m)).ravel()
    return float(np.max(np.abs(np.linalg.eigvals(T))))


def line(name, t, target=None, extra=""):
    tgt = "" if target is None else f"  (target < {target:g} s: {'met' if t < target else 'MISSED'})"
    print(f"{name:<58s} {t * 1e3:10.1f} ms{tgt}{extra}", flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    q = args.quick
    method, B, lr, mom = "heavy-ball", 10, 0.5, 0.8

    # warm the lambdified kernels (one-time symbolic work, not part of any timing)
    spectral_radius(method, Gaussian([1.0, 2.0]), B, lr, mom)
    spectral_radius(method, Gaussian([1.0, 2.0]), B, lr, mom, digits=20, certify=True)

    print(f"load average at start: {os.getloadavg()[0]:.2f} (machine shared; timings are wall clock)")
    # 1. secular vs Kronecker
    d = 8 if q else 20
    g = Gaussian(np.geomspace(0.05, 1.0, d))
    lrk = 0.4
    t_sec, r_sec = best_of(lambda: spectral_radius(method, g, B, lrk, mom), 20)
    t_kron, r_kron = best_of(lambda: kronecker_baseline(method, g, B, lrk, mom), 1)
    line(f"1. secular, gaussian d = {d}", t_sec)
    line(f"   dense Kronecker eigvals ({(2 * d) ** 2} x {(2 * d) ** 2}), baseline", t_kron,
         extra=f"  ratio {t_kron / t_sec:,.0f}x (target >= 1000x); |rho diff| = {abs(float(r_sec.rho) - r_kron):.1e}")

    # 2. gaussian d = 10,000 double
    d = 1000 if q else 10_000
    g = Gaussian(np.geomspace(1e-3, 1.0, d))
    lr = B * (1 - mom) / (2 * float(np.sum(g.spectrum_array())))   # convergent: eta = B (1 - beta) / (2 tr H)
    t2, r2 = best_of(lambda: spectral_radius(method, g, B, lr, mom), 5)
    line(f"2. secular double, gaussian d = {d}", t2, 0.05, f"  rho = {float(r2.rho):.12g} ({r2.digits} digits)")

    # 3. 50 digits at d = 1000
    d = 100 if q else 1000
    g = Gaussian(np.geomspace(1e-3, 1.0, d))
    lr = B * (1 - mom) / (2 * float(np.sum(g.spectrum_array())))
    t_dbl, _ = best_of(lambda: spectral_radius(method, g, B, lr, mom), 5)
    t3, r3 = best_of(lambda: spectral_radius(method, g, B, lr, mom, digits=50), 1)
    line(f"3. 50 digits (arb tier), gaussian d = {d}", t3, 2.0, f"  ratio to double {t3 / t_dbl:,.0f}x; rho = "
         f"{r3.to_json()['rho'][:20]}...")

    # 4. certified at d = 1000
    t4, r4 = best_of(lambda: spectral_radius(method, g, B, lr, mom, certify=True), 1)
    lo, hi = r4.interval
    line(f"4. certified (arb), gaussian d = {d}", t4, 5.0,
         f"  ratio to double {t4 / t_dbl:,.0f}x; width {float((hi - lo) / r4.rho):.1e} relative")

    # 5. finite sum, matrix-free
    d, n = (40, 400) if q else (200, 2000)
    A = np.random.default_rng(0).standard_normal((n, d)) / np.sqrt(d)
    fs = FiniteSum(A)
    op = SecondMomentOperator(method, fs, B, 0.3, 0.5)
    S0 = np.eye(2 * d)
    t_apply, _ = best_of(lambda: op.apply(S0), 3)
    t5, r5 = best_of(lambda: spectral_radius(method, fs, B, 0.3, 0.5), 1)
    line(f"5. matrix-free, finite sum d = {d}, n = {n}", t5, 10.0,
         f"  = {t5 / t_apply:,.0f} applications of T ({t_apply * 1e3:.1f} ms each); rho = "
         f"{float(r5.rho):.12g} ({r5.digits} digits)")

    # 6. grid for the tuner
    d, k = (200, 30) if q else (1000, 100)
    g = Gaussian(np.geomspace(1e-3, 1.0, d))
    E, M = np.meshgrid(np.geomspace(0.01, 3.0, k), np.linspace(0.0, 0.99, k))
    t6, R = best_of(lambda: rho_grid(method, g, B, E, M), 1)
    t_pt, _ = best_of(lambda: spectral_radius(method, g, B, 0.5, 0.5), 5)
    line(f"6. rho_grid {k} x {k}, gaussian d = {d}", t6, None,
         f"  = {t6 / (k * k) * 1e3:.3f} ms per point (vs {t_pt * 1e3:.2f} ms for one spectral_radius call)")
    from momentum_verify.numerics import rates
    from momentum_verify.numerics.operators import batch_factor_value
    _, rel = rates.secular_grid(rates.as_method(method), g, batch_factor_value(g, B), E.ravel(), M.ravel())
    esc = int(np.sum(~(rel <= 10.0 ** -rates.GRID_DIGITS_MIN)))
    t6c, _ = best_of(lambda: rho_grid(method, g, B, E, M, check=True), 1)
    line("   the same grid with check=True (error bounds; weak points through spectral_radius)", t6c,
         None, f"  {esc} of {k * k} points recomputed; {t6c / t6:.2f}x the unchecked grid")

    # 7. hostile point
    import mpmath as mp
    from momentum_verify.numerics.rates import format_digits
    from momentum_verify.numerics.rates.secular import secular_double, secular_mp, top_blocks
    from momentum_verify.numerics.operators import as_method
    d = 500 if q else 5000
    g = Gaussian(np.linspace(1e-3, 1.0, d))
    hm = ("sgdm", g, 100000, 1e-5, 1 - 1e-6)
    t7a, r7a = best_of(lambda: spectral_radius(*hm), 1)
    t7b, r7b = best_of(lambda: spectral_radius(*hm, digits=30), 1)
    dbl = secular_double(as_method("sgdm"), *hm[1:])
    top = top_blocks(as_method("sgdm"), *hm[1:])

    def mp_solver():
        with mp.workdps(45):
            return +secular_mp(as_method("sgdm"), *hm[1:], float(dbl.rho), top)
    t7c, ref = best_of(mp_solver, 1)
    with mp.workdps(50):
        err = abs(mp.mpf(r7b.rho) - ref) / ref
    same = format_digits(r7b.rho, 30) == format_digits(ref, 30)
    line(f"7. hostile point d = {d}, default ({r7a.digits} digits, {r7a.precision})", t7a, 10.0,
         f"  (double alone states {dbl.digits} digits)")
    line(f"   same, --digits 30 ({r7b.precision})", t7b, 10.0,
         f"  rho = {format_digits(r7b.rho, 30)}")
    line("   baseline: mpmath solver at 45 digits (one precision)", t7c, None,
         f"  ratio {t7c / t7b:,.1f}x to the 30-digit arb tier; relative difference {mp.nstr(err, 3)}; "
         f"30 digits {'identical' if same else 'DIFFER'}")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
