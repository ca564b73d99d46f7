"""``momentum-verify sweep SPEC.toml --out DIR``: a grid of rate/tune points on Dask (see verify.sweep)."""
from __future__ import annotations

import json
import signal
import sys

from ..theory.errors import InputError
from .sweep import CONNECT_TIMEOUT_S, load_spec, run_sweep


def add_parser(p):
    p.add_argument("spec", metavar="SPEC.toml", help="the sweep spec (TOML; see README, 'sweep')")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="output folder: results.csv, meta.json, spec.toml (+ summary.json, curves.png for tune)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="address of a running Dask scheduler, e.g. tcp://HOST:8786 (default: a LocalCluster)")
    p.add_argument("--workers", metavar="N", help="worker processes of the LocalCluster (default: the cores)")
    p.add_argument("--resume", action="store_true", help="continue the sweep in DIR: compute only missing points")
    p.add_argument("--retry-failed", action="store_true", help="with --resume: recompute points recorded as failed")
    p.add_argument("--chunk", metavar="N",
                   help="points per Dask task (default: 1 for tune; for rate, up to 50 with >= 8 tasks per worker)")
    p.add_argument("--json", action="store_true", help="print the final summary as one JSON object")


def _positive_int(text: str, param: str) -> int:
    from .parsing import parse_int
    try:
        v = parse_int(text, param)
    except InputError:
        raise InputError(param, f"must be a positive integer, got {text[:40]!r}") from None
    if v < 1:
        raise InputError(param, f"must be >= 1, got {v}")
    return v


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def run(args) -> int:
    workers = None if args.workers is None else _positive_int(args.workers, "--workers")
    chunk = None if args.chunk is None else _positive_int(args.chunk, "--chunk")
    if workers is not None and args.scheduler:
        raise InputError("--workers", "applies to the LocalCluster only; the cluster at --scheduler has its own")
    if workers is not None:
        from . import limits
        workers, note = limits.cap_workers(workers, "--workers")    # more processes than CPUs: memory only
        if note:
            sys.stderr.write(f"note: {note}\n")
    if args.retry_failed and not args.resume:
        raise InputError("--retry-failed", "needs --resume")
    spec, text = load_spec(args.spec)
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)   # SIGTERM stops like Ctrl-C: rows kept
    try:
        outcome = run_sweep(spec, text, args.out, scheduler=args.scheduler, workers=workers, resume=args.resume,
                            retry_failed=args.retry_failed, chunk=chunk, progress=sys.stderr.isatty(),
                            connect_timeout=CONNECT_TIMEOUT_S)
    finally:
        signal.signal(signal.SIGTERM, previous)
    if args.json:
        print(json.dumps({"points": outcome.total, "computed": outcome.computed, "skipped": outcome.skipped,
                          "failed": outcome.failed, "wall_s": round(outcome.wall_s, 3),
                          "interrupted": outcome.interrupted, "workers": outcome.workers, "out": outcome.out}))
    else:
        print(outcome.line())
    return 130 if outcome.interrupted else 0
