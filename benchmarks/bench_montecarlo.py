"""Monte Carlo throughput: replica-steps per second of ``numerics.montecarlo.simulate`` against

* a plain per-replica Python loop (the same process, one replica at a time, numpy on d-vectors);
* the memory-bandwidth bound of the kernel on this machine: bandwidth measured with a numpy copy
  (bytes read + written per second), divided by the fewest bytes one replica-step must move
  (state in and out, 2 * 8 s d, and the draws or gathered rows written once and read once: 2 * 8 B d
  for gathered rows, 2 * 8 (d + B) for gaussian batches B >= 2, drawn by the reduced sampler);
* for the gaussian model also the random-number bound: normals per second of numpy's generator
  divided by the normals one replica-step needs (d at B = 1, d + B otherwise).

Run: ``python benchmarks/bench_montecarlo.py [--backend cupy] [--quick]``. Prints one table; numbers go
to benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

# one BLAS thread: replicas are the parallelism; threaded BLAS on the tiny per-step products only
# adds synchronisation (17 ms instead of 0.24 ms for a 270x100 @ 100x100 product on the loaded 2-core box)
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from momentum_verify.numerics.montecarlo import initial_error, simulate  # noqa: E402
from momentum_verify.numerics.operators import method_arrays  # noqa: E402
from momentum_verify.theory.sampling import FiniteSum, Gaussian  # noqa: E402


def copy_bandwidth(n: int = 1 << 25, repeats: int = 5) -> float:
    """Bytes per second of np.copyto on a 256 MB array (read + write), best of ``repeats``."""
    a, b = np.ones(n), np.empty(n)
    best = math.inf
    for _ in range(repeats):
        t = time.perf_counter()
        np.copyto(b, a)
        best = min(best, time.perf_counter() - t)
    return 2 * a.nbytes / best


def normal_rate(n: int = 1 << 22, repeats: int = 5) -> float:
    """float64 standard normals per second of numpy's default generator, best of ``repeats``."""
    rng, out = np.random.default_rng(0), np.empty(n)
    best = math.inf
    for _ in range(repeats):
        t = time.perf_counter()
        rng.standard_normal(out=out)
        best = min(best, time.perf_counter() - t)
    return n / best


def loop_baseline(method, model, batch, lr, momentum, steps, runs, seed=0) -> float:
    """Replica-steps per second of a per-replica Python loop stepping the same (A, b, c)."""
    A, b, c = method_arrays(method, lr, momentum)
    rng = np.random.default_rng(seed)
    e0 = initial_error(model.d)
    if isinstance(model, Gaussian):
        sq = np.sqrt(np.diag(model.hessian_array()))
    else:
        p, X, Y = model.component_arrays()
    t = time.perf_counter()
    for _ in range(runs):
        z = [e0.copy() for _ in range(A.shape[0])]
        for _ in range(steps):
            y = sum(ci * zi for ci, zi in zip(c, z))
            if isinstance(model, Gaussian):
                x = sq * rng.standard_normal((batch, model.d))
                u = x.T @ (x @ y) / batch
            else:
                idx = rng.choice(len(p), size=batch, p=p)
                u = X[idx].T @ (Y[idx] @ y) / batch
            z = [sum(A[a, j] * z[j] for j in range(len(z))) + b[a] * u for a in range(len(z))]
    return runs * steps / (time.perf_counter() - t)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default="numpy")
    ap.add_argument("--quick", action="store_true", help="smaller runs")
    args = ap.parse_args(argv)
    runs, steps = (4000, 20) if args.quick else (20000, 30)
    d = 100
    rng = np.random.default_rng(0)
    cases = [
        ("gaussian d=10 B=1", "heavy-ball", Gaussian(np.geomspace(0.01, 1.0, 10)), 1, 0.05, 0.5),
        ("gaussian d=100 B=1", "heavy-ball", Gaussian(np.geomspace(0.01, 1.0, d)), 1, 0.05, 0.5),
        ("gaussian d=100 B=16", "heavy-ball", Gaussian(np.geomspace(0.01, 1.0, d)), 16, 0.2, 0.5),
        ("finite d=100 n=2000 B=8", "nesterov", FiniteSum(rng.standard_normal((2000, d)) / math.sqrt(d)), 8, 0.1, 0.5),
    ]
    bw, nr = copy_bandwidth(), normal_rate()
    print(f"machine: copy bandwidth {bw / 1e9:.2f} GB/s (read + write), numpy normals {nr / 1e6:.0f} M/s; "
          f"backend {args.backend}; {runs} replicas x {steps} steps")
    print(f"{'case':<26}{'vectorised':>12}{'loop':>10}{'speed-up':>10}{'bw bound':>11}{'ratio':>8}"
          f"{'rng bound':>11}{'ratio':>8}   (replica-steps/s)")
    for name, method, model, batch, lr, momentum in cases:
        simulate(method, model, batch, lr, momentum, 2, 64, backend=args.backend)     # warm-up (lambdify, CuPy)
        res = simulate(method, model, batch, lr, momentum, steps, runs, seed=1, backend=args.backend)
        fast = res.replica_steps / res.elapsed_s
        slow = loop_baseline(method, model, batch, lr, momentum, steps, max(20, runs // 200))
        s, dm = 2, model.d
        draws = dm if batch == 1 else dm + batch                                # reduced sampler for B >= 2
        if not isinstance(model, Gaussian):
            draws = batch * dm                                                   # gathered rows
        bytes_per = 2 * 8 * s * dm + 2 * 8 * draws
        bw_bound = bw / bytes_per
        rng_bound = nr / draws if isinstance(model, Gaussian) else math.inf
        print(f"{name:<26}{fast:>12.3g}{slow:>10.3g}{fast / slow:>9.0f}x{bw_bound:>11.3g}{bw_bound / fast:>7.1f}x"
              f"{rng_bound:>11.3g}{(rng_bound / fast if math.isfinite(rng_bound) else float('nan')):>7.1f}x")
    print("ratio = bound / measured (1.0x would be at the bound)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
