"""rho_grid on a 100 x 100 (lr, momentum) grid at d = 1,000 (issue 16 item 4: < 0.3 s), against the
previous grid solver run in the same process.

    python benchmarks/bench_rho_grid.py            # d = 1,000, 100 x 100, every built-in method
    python benchmarks/bench_rho_grid.py --quick    # d = 200, 30 x 30 (smoke test)

Baseline: ``numerics/rates/grid.py`` as of commit e0274b0 (coefficient arrays in z per (point,
eigenvalue), chunks of 2^16 pairs, about 11 evaluations of F per point), loaded from git into the
package namespace so that it runs beside the present module. Both are timed on the same points (the
gaussian model, B = 10, H's spectrum geomspace(1e-3, 1, d), lr geomspace(0.01, 3), momentum
linspace(0, 0.99)), best of ``--repeat`` runs, wall clock and CPU time, one BLAS thread.

Printed per method: the unchecked grid (``rho_grid``'s default, what the tuner uses) old vs new and
their ratio; the grid with error bounds (``check=True``'s first stage) old vs new; the whole
``check=True`` path (points under GRID_DIGITS_MIN stated digits recomputed by ``spectral_radius``; for
the old solver its first stage plus those recomputations, timed alike); digits agreement:
at every point |new - old| / old against the two stated bounds (new bound + old bound), the smallest
and median stated digits, and a sample of points against the pointwise ``spectral_radius`` at 20
digits (its digits proven by the arb tier).
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import time
import types

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import mpmath as mp  # noqa: E402
import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from momentum_verify.numerics.operators import as_method, batch_factor_value  # noqa: E402
from momentum_verify.numerics.rates import GRID_DIGITS_MIN, grid, rho_grid, spectral_radius  # noqa: E402
from momentum_verify.theory.sampling import Gaussian  # noqa: E402

BASELINE_COMMIT = "e0274b0"


def load_baseline():
    """The grid module at BASELINE_COMMIT as ``momentum_verify.numerics.rates._grid_baseline``."""
    src = subprocess.run(["git", "-C", ROOT, "show", f"{BASELINE_COMMIT}:numerics/rates/grid.py"],
                         capture_output=True, text=True, check=True).stdout
    name = "momentum_verify.numerics.rates._grid_baseline"
    mod = types.ModuleType(name)
    mod.__package__ = "momentum_verify.numerics.rates"
    mod.__file__ = f"<grid.py at {BASELINE_COMMIT}>"
    sys.modules[name] = mod
    exec(compile(src, mod.__file__, "exec"), mod.__dict__)
    return mod


def timed(f, repeat):
    """(best wall seconds, CPU seconds of that run, result)."""
    best, cpu, out = float("inf"), 0.0, None
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        out = f()
        dw = time.perf_counter() - w
        if dw < best:
            best, cpu = dw, time.process_time() - c
    return best, cpu, out


def digits(rel):
    with np.errstate(divide="ignore"):
        return np.floor(-np.log10(np.maximum(rel, 1e-300)))


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--methods", default="heavy-ball,nesterov,sgdm,sgd")
    ap.add_argument("--pointwise", type=int, default=12, help="points per method checked against spectral_radius")
    args = ap.parse_args(argv)
    d, k = (200, 30) if args.quick else (1000, 100)
    old = load_baseline()
    g = Gaussian(np.geomspace(1e-3, 1.0, d))
    B = 10
    E, M = np.meshgrid(np.geomspace(0.01, 3.0, k), np.linspace(0.0, 0.99, k))
    e, b = E.ravel(), M.ravel()
    print(f"rho_grid {k} x {k}, gaussian d = {d}, B = {B}; baseline: grid.py at {BASELINE_COMMIT}")
    print(f"load average at start: {os.getloadavg()[0]:.2f} (2-core machine, shared; wall and CPU seconds)")
    rng = np.random.default_rng(0)
    for name in args.methods.split(","):
        m = as_method(name)
        fB = batch_factor_value(g, B)
        rho_grid(m, g, B, E[:2, :2], M[:2, :2])                     # warm the kernels (not timed)
        old.secular_grid(m, g, fB, e[:4], b[:4])
        grid.secular_grid(m, g, fB, e[:4], b[:4])
        t_new, c_new, R = timed(lambda: rho_grid(m, g, B, E, M), args.repeat)
        t_old, c_old, (r_old, _) = timed(lambda: old.secular_grid(m, g, fB, e, b, error_bounds=False),
                                         args.repeat)
        tb_new, cb_new, (r_new, rel_new) = timed(lambda: grid.secular_grid(m, g, fB, e, b), args.repeat)
        tb_old, cb_old, (r_o2, rel_old) = timed(lambda: old.secular_grid(m, g, fB, e, b), 1)
        # the whole check=True path: the old one recomputed its weak points through spectral_radius too
        tc_new, cc_new, _ = timed(lambda: rho_grid(m, g, B, E, M, check=True), 1)
        weak_old = np.flatnonzero(~(rel_old <= 10.0 ** -GRID_DIGITS_MIN))
        t0 = time.perf_counter()
        for i in weak_old:
            spectral_radius(m, g, B, float(e[i]), float(b[i]))
        tc_old = tb_old + time.perf_counter() - t0
        diff = np.abs(R.ravel() - r_old) / np.abs(r_old)
        bound = rel_new + rel_old
        ok = diff <= bound
        fin = np.isfinite(rel_new)
        print(f"\n[{name}]")
        print(f"  unchecked grid (rho_grid default): new {t_new:7.3f} s (cpu {c_new:.3f})   old {t_old:7.3f} s "
              f"(cpu {c_old:.3f})   ratio {t_old / t_new:5.1f}x wall, {c_old / c_new:5.1f}x cpu   "
              f"(target < 0.3 s: {'met' if t_new < 0.3 else 'MISSED'})")
        print(f"  with error bounds (check=True's first stage): new {tb_new:7.3f} s (cpu {cb_new:.3f})   "
              f"old {tb_old:7.3f} s (cpu {cb_old:.3f})   ratio {tb_old / tb_new:5.1f}x wall")
        weak_new = int(np.sum(~(rel_new <= 10.0 ** -GRID_DIGITS_MIN)))
        print(f"  rho_grid(check=True) (weak points through spectral_radius): new {tc_new:7.3f} s "
              f"({weak_new} points recomputed)   old {tc_old:7.3f} s ({weak_old.size} recomputed)   "
              f"ratio {tc_old / tc_new:5.1f}x wall")
        print(f"  new vs old: max |diff| / rho = {diff.max():.1e}; within the two stated bounds at "
              f"{ok.sum()} of {ok.size} points; stated digits (new) min {int(digits(rel_new[fin]).min())}, "
              f"median {int(np.median(digits(rel_new[fin])))}, {int((~fin).sum())} points unresolved (inf)")
        print(f"  stated digits (old) min {int(digits(rel_old[np.isfinite(rel_old)]).min())}, median "
              f"{int(np.median(digits(rel_old[np.isfinite(rel_old)])))}; points under 8 digits: new "
              f"{int(np.sum(~(rel_new <= 1e-8)))}, old {int(np.sum(~(rel_old <= 1e-8)))}")
        pick = rng.choice(e.size, size=min(args.pointwise, e.size), replace=False)
        bad = 0
        for i in pick:
            s = spectral_radius(m, g, B, float(e[i]), float(b[i]), digits=20)
            with mp.workdps(30):
                err = abs(mp.mpf(float(r_new[i])) - mp.mpf(s.rho)) / abs(mp.mpf(s.rho))
            bad += not (err <= rel_new[i])
        print(f"  {len(pick)} random points against spectral_radius(digits=20): the new value within its "
              f"stated bound at {len(pick) - bad} of {len(pick)}")
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
