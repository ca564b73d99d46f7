"""Sweep engine against its baseline, in one run: the same tune sweep

    serial   : every point tuned in this process (``verify.sweep.run_serial``), no Dask
    1 worker : ``run_sweep`` on a LocalCluster of one worker process
    2 workers: ``run_sweep`` on a LocalCluster of two worker processes

printing the per-point cost, the sweep's per-point overhead (1 worker against serial; target <= 10%) and
the speedup of 2 workers over 1 (target >= 1.6 on a 2-core machine). Every process is warmed up first
(kernels lambdified, one tune) so that the timings compare steady states; the cluster start-up and
warm-up are printed apart. The tables of the three runs must be identical.

The serial runs and the 1-worker sweeps alternate ``--repeat`` times on one warm cluster (its scheduler
idles in a thread of this process while the serial baseline runs), and the overhead is the median of the
ratios of each pair: the speed of this shared machine drifts by up to 30 % within a minute (the same
serial run measured 5.5 s and 3.6 s in one process), so only neighbouring runs compare.
This process keeps one BLAS thread, as Dask's nanny gives its workers (``OPENBLAS_NUM_THREADS=1`` and
friends), so that the serial baseline does the same arithmetic the workers do.

    python benchmarks/bench_sweep.py [--d D] [--instances N] [--repeat R]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):   # as in Dask's workers
    os.environ.setdefault(_var, "1")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from momentum_verify.verify import sweep  # noqa: E402

SPEC = """
task = "tune"
model = "gaussian"
methods = ["sgd", "heavy-ball", "nesterov"]
batches = [1, 8, 64, "inf"]
spectra = [{spectra}]
"""


NOOP_SPEC = """
task = "rate"
model = "gaussian"
methods = ["sgd", "heavy-ball"]
batches = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
spectra = ["1,2"]
lrs = [0.1, 0.2, 0.3, 0.4, 0.5]
momenta = [0.1, 0.2, 0.3]
"""  # 200 points


def noop_point(p):
    """No work: a sweep of these measures the machinery alone (Dask round trip, CSV write + fsync)."""
    return {"rho": "0.5", "digits": 1, "K": "1", "route": "none", "precision": "none"}


def warm_up():
    """Lambdify the kernels and run one tune (the per-process start-up cost of the engine)."""
    from momentum_verify.numerics.tuning import tune
    from momentum_verify.theory.sampling import Gaussian
    for m in ("sgd", "heavy-ball", "nesterov"):
        tune(m, Gaussian([0.1, 1.0]), 4)
    return True


SUMMARY_S: list = []     # seconds of each sweep's final summary.json + curves.png (once per sweep)


def _timed_summary(fn):
    def wrapped(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            SUMMARY_S.append(time.perf_counter() - t0)
    return wrapped


sweep.write_summary = _timed_summary(sweep.write_summary)


def timed_sweep(spec, text, workers: int, root: Path, repeat: int = 1, between=None):
    """(walls of the points, start-up, worker CPUs, machinery per point, rows, seconds of the final
    summary), the sweep run ``repeat`` times on one cluster, ``between()`` called before each run (the
    serial baseline, alternating with the sweeps): the wall excludes the once-per-sweep summary.json +
    curves.png, printed apart."""
    from distributed import Client
    t0 = time.perf_counter()
    cluster = sweep.start_local_cluster(workers)
    client = Client(cluster)
    client.wait_for_workers(workers)
    client.run(warm_up)
    start = time.perf_counter() - t0
    walls, cpus, summary = [], [], 0.0
    try:
        for r in range(repeat):
            if between is not None:
                between()
            out = root / f"w{workers}-{r}"
            cpu0 = sum(client.run(time.process_time).values())
            t0 = time.perf_counter()
            SUMMARY_S.clear()
            res = sweep.run_sweep(spec, text, out, client=client)
            summary = sum(SUMMARY_S)
            walls.append(time.perf_counter() - t0 - summary)
            cpus.append(sum(client.run(time.process_time).values()) - cpu0)
            assert res.computed == res.total and res.failed == 0, res
        (root / "noop.toml").write_text(NOOP_SPEC)
        nspec, ntext = sweep.load_spec(root / "noop.toml")
        t0 = time.perf_counter()
        nres = sweep.run_sweep(nspec, ntext, root / f"noop{workers}", client=client, point_fn=noop_point)
        machinery = (time.perf_counter() - t0) / nres.total
    finally:
        client.close()
        cluster.close()
    return walls, start, cpus, machinery, sweep.read_results(out / "results.csv"), summary


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", type=int, default=2, help="gaussian spectra in the sweep (12 points each)")
    ap.add_argument("--d", type=int, default=200, help="dimension of each spectrum")
    ap.add_argument("--repeat", type=int, default=5, help="runs of the serial baseline and of each sweep (medians)")
    args = ap.parse_args(argv)
    spectra = ", ".join(f'"geomspace:{10.0 ** -(2 + k % 2)}:1:{args.d + k}"' for k in range(args.instances))
    text = SPEC.format(spectra=spectra)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "spec.toml").write_text(text)
        spec, text = sweep.load_spec(root / "spec.toml")
        n = len(sweep.points(spec))
        print(f"tune sweep: {n} points (gaussian, d ~ {args.d}, 3 methods x 4 batches x {args.instances} spectra)")

        warm_up()
        load = os.getloadavg()[0]
        serial_runs = []

        def run_serial():
            c0 = time.process_time()
            t0 = time.perf_counter()
            rows = sweep.run_serial(spec)
            serial_runs.append((time.perf_counter() - t0, time.process_time() - c0, rows))

        w1, s1, cpu1, m1, rows1, f1 = timed_sweep(spec, text, 1, root, args.repeat, between=run_serial)
        t_serial = statistics.median(r[0] for r in serial_runs)
        c_serial = statistics.median(r[1] for r in serial_runs)
        serial = serial_runs[-1][2]
        t1, c1 = statistics.median(w1), statistics.median(cpu1)
        runs = f"median of {args.repeat} runs, " if args.repeat > 1 else ""
        print(f"serial in-process : {t_serial:8.2f} s  ({runs}{t_serial / n:.3f} s/point; CPU {c_serial:.2f} s; "
              f"each run {', '.join(f'{r[0]:.2f}' for r in serial_runs)} s)")
        print(f"sweep, 1 worker   : {t1:8.2f} s  ({runs}{t1 / n:.3f} s/point; worker CPU {c1:.2f} s; each run "
              f"{', '.join(f'{w:.2f}' for w in w1)} s; cluster start + warm-up {s1:.1f} s; final summary + "
              f"figure {f1:.2f} s)")
        w2, s2, cpu2, m2, rows2, f2 = timed_sweep(spec, text, 2, root, args.repeat)
        t2, c2 = statistics.median(w2), statistics.median(cpu2)
        print(f"sweep, 2 workers  : {t2:8.2f} s  ({runs}{t2 / n:.3f} s/point; worker CPU {c2:.2f} s = {c2 / t2:.2f} "
              f"cores busy on average; cluster start + warm-up {s2:.1f} s; final summary + figure {f2:.2f} s)")

        same_serial = all(r[2] == serial for r in serial_runs)
        same = same_serial and rows1 == rows2 == [{k: r[k] for k in sweep.COLUMNS} for r in serial]
        overhead = statistics.median(w / r[0] for w, r in zip(w1, serial_runs)) - 1
        overhead_cpu = statistics.median(c / r[1] for c, r in zip(cpu1, serial_runs)) - 1
        print(f"tables identical (serial, 1 worker, 2 workers): {same}")
        pairs = f"median over {args.repeat} neighbouring pairs" if args.repeat > 1 else "one pair"
        print(f"per-point overhead of the sweep (1 worker vs serial, {pairs}): {100 * overhead:+.1f} % wall, "
              f"{100 * overhead_cpu:+.1f} % CPU  (target <= 10 %)")
        print(f"speedup 2 workers / 1 worker: {t1 / t2:.2f}x wall  (target >= 1.6x); "
              f"machine load average before the runs: {load:.1f} on {os.cpu_count()} cores")
        per_point = c_serial / n    # CPU seconds: the wall time of an unloaded core
        print(f"machinery per point (200 no-op points): {1e3 * m1:.1f} ms wall on 1 worker, {1e3 * m2:.1f} ms on 2 "
              f"= {100 * m1 / per_point:.1f} % of a {per_point:.3f} CPU s tune point")
        print(f"per-point cost: {per_point:.3f} CPU s ({t_serial / n:.3f} s wall here); estimate for 10,000 such "
              f"points: {10_000 * per_point / 2 / 60:.1f} min on an idle 2-core machine, "
              f"{10_000 * per_point / 32 / 60:.1f} min on 32 workers (+ cluster start, ~5 s)")
        return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
