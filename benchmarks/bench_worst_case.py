"""Timing of the worst case over spectrum classes (numerics.worst_case) against brute-force enumeration
run in the same process.

    python benchmarks/bench_worst_case.py            # C(1, 100, d = 1000), gaussian, heavy ball
    python benchmarks/bench_worst_case.py --quick    # d = 100

Targets of issue 14: worst case over C(mu, L, d = 1000) at one parameter point < 0.2 s in double,
certified < 5 s; minimax tuning at one B < 10 s.
Baselines (same process): (i) enumeration of the one-parameter family (mu, L, lambda x (d - 2)) over a
grid of 200 lambda values, each rate by ``rates.spectral_radius`` (a lower bound only, and the family
that contains the untraced worst instance); (ii) for minimax tuning, a 15 x 15 grid over
(ln eta, ln(1 - beta)) of the tool's own double-precision worst case.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
import warnings

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from momentum_verify.numerics import worst_case as W  # noqa: E402
from momentum_verify.numerics.rates import spectral_radius  # noqa: E402


CPU = {}


def timed(f, repeat=3):
    """Best wall time of ``repeat`` runs (CPU seconds of the best run kept in CPU[id(result)])."""
    best, out, cpu = math.inf, None, None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        out = f()
        w = time.perf_counter() - t
        if w < best:
            best, cpu = w, time.process_time() - c
    CPU[id(out)] = cpu
    return best, out


def family_brute(cls, batch, lr, mom, n=200):
    best = -1.0
    for x in np.linspace(cls.mu, cls.L, n):
        spec = [cls.mu, cls.L] + [float(x)] * (cls.d - 2)
        best = max(best, float(spectral_radius("heavy-ball", cls.sampling_model(spec), batch, lr, mom).rho))
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    d = 100 if a.quick else 1000
    batch, lr, mom = 64, 0.004, 0.9
    warm = W.SpectrumClass("gaussian", 1.0, 10.0, 4)
    W.worst_case("heavy-ball", warm, 8, 0.1, 0.5, certify=True)      # SymPy derivations and lambdify, once
    W.worst_case("heavy-ball", W.SpectrumClass("gaussian", 1.0, 10.0, 4, 35.0), 8, 0.1, 0.5, certify=True)
    rows = []
    for label, cls in (("C(1, 100, d)", W.SpectrumClass("gaussian", 1.0, 100.0, d)),
                       ("C(1, 100, d), kappa_bar = 20 d + 300", W.SpectrumClass("gaussian", 1.0, 100.0, d, 20.0 * d + 300)),
                       ("coordinate C(1, 100, d)", W.SpectrumClass("coordinate", 1.0, 100.0, d))):
        lr_ = lr if cls.model == "gaussian" else 1e-4
        t_d, r_d = timed(lambda: W.worst_case("heavy-ball", cls, batch, lr_, mom))
        t_c, r_c = timed(lambda: W.worst_case("heavy-ball", cls, batch, lr_, mom, certify=True), 1)
        rows.append((label, t_d, t_c, r_c))
    cls = W.SpectrumClass("gaussian", 1.0, 100.0, d)
    t_b, bf = timed(lambda: family_brute(cls, batch, lr, mom), 1)
    t_m, mm = timed(lambda: W.minimax_tune("heavy-ball", cls, batch), 1)
    from momentum_verify.numerics.tuning import tune
    t_it, _ = timed(lambda: tune("heavy-ball", cls.sampling_model(mm.worst.instance), batch), 1)
    etas, oms = np.log(np.geomspace(1e-4, 1.0, 15)), np.log(np.geomspace(1e-3, 1.0, 15))
    t0 = time.perf_counter()
    g = min(W.estimate("heavy-ball", cls, batch, math.exp(x), 1 - math.exp(y), W.COARSE).upper for x in etas for y in oms)
    t_g = time.perf_counter() - t0
    print(f"d = {d}, heavy ball, B = {batch}, lr = {lr}, momentum = {mom}; load average {os.getloadavg()[0]:.1f}")
    print(f"{'class':<40} {'double s':>9} {'certified s':>12} {'lower':>14} {'upper':>14} {'gap':>9}")
    for label, t_d, t_c, r in rows:
        print(f"{label:<40} {t_d:>9.3f} {t_c:>12.3f} {r.lower:>14.10g} {r.upper:>14.10g} {r.gap:>9.1e}  "
              f"(certified CPU {CPU[id(r)]:.3f} s)")
    print(f"brute force over the family (mu, L, lambda x (d-2)), 200 lambdas: {t_b:.2f} s, best {bf:.10g} "
          f"(ratio brute/double = {t_b / rows[0][1]:.0f}x, brute/certified = {t_b / rows[0][2]:.0f}x)")
    print(f"minimax tuning at B = {batch}: {t_m:.2f} s wall, {CPU[id(mm)]:.2f} CPU s ({mm.evaluations} worst-case "
          f"evaluations; the instance tune alone {t_it:.2f} s), K_minimax = {mm.K_minimax:.6g}, "
          f"K_instance = {mm.K_instance:.6g}")
    print(f"15 x 15 grid of the worst case over (eta, beta): {t_g:.2f} s, best rho {g:.10g} vs minimax "
          f"{mm.worst.lower:.10g} (ratio grid/minimax time {t_g / t_m:.2f})")


if __name__ == "__main__":
    main()
