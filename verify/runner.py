"""Run claims and collect their verdicts (holds / fails / inconclusive) with the numbers behind them.

A check that raises is a failure (the error is its number); a claim whose reading is "uncertain"
cannot hold or fail: its verdict becomes "inconclusive" and the raw outcome is kept in its numbers.
"""
from __future__ import annotations

import fnmatch
import inspect
import math
import multiprocessing as mp
import os
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .claim import FAILS, HOLDS, INCONCLUSIVE, Claim, Verdict
from .claims import LoadError, load_claims

VERDICTS = (HOLDS, FAILS, INCONCLUSIVE)


@dataclass
class Outcome:
    """One claim's result as the report and the JSON output read it."""

    id: str
    source: str
    statement: str
    reading: str
    tolerance: str
    verdict: Verdict
    seconds: float = 0.0
    module: str = ""
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        v = self.verdict
        from .json_convention import structure_numbers       # the one JSON convention (phrases read)
        return {"id": self.id, "source": self.source, "verdict": v.verdict,
                "numbers": structure_numbers(jsonable(v.numbers)),
                "routes": list(v.routes), "precision": v.precision, "reading": self.reading,
                "statement": self.statement, "tolerance": self.tolerance, "method": v.method,
                "figures": list(v.figures), "seconds": round(self.seconds, 2)}


def jsonable(x: Any) -> Any:
    """Numbers and containers as JSON-safe values (numpy scalars to Python, non-finite floats to strings)."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return [jsonable(v) for v in x.tolist()]
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        x = float(x)
        return x if math.isfinite(x) else str(x)
    if x is None or isinstance(x, str):
        return x
    return str(x)


def select(claims: list[Claim], *, quick: bool = False, only: str | None = None) -> list[Claim]:
    """Claims to run: the quick subset if ``quick``; ``only`` is a comma-separated list of glob patterns
    (``fnmatch`` on the id) or, without glob characters, substrings of the id."""
    out = [c for c in claims if c.quick or not quick]
    if only:
        pats = [p.strip() for p in only.split(",") if p.strip()]

        def match(cid):
            return any(fnmatch.fnmatchcase(cid, p) if any(ch in p for ch in "*?[") else p in cid for p in pats)
        out = [c for c in out if match(c.id)]
    return out


def _accepted(check: Callable, options: dict) -> dict:
    """The options a check accepts (all of them when it takes ``**options``)."""
    params = inspect.signature(check).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return dict(options)
    return {k: v for k, v in options.items() if k in params}


def run_claim(claim: Claim, options: dict | None = None) -> Outcome:
    """Run one claim; exceptions and malformed verdicts become failures with the error as number."""
    options = options or {}
    t0 = time.perf_counter()
    broken = False
    try:
        v = claim.check(**_accepted(claim.check, options))
        if not isinstance(v, Verdict) or v.verdict not in VERDICTS:
            raise TypeError(f"check returned {v!r}, not a Verdict with a verdict in {VERDICTS}")
    except Exception as exc:  # a broken check is a failing claim, shown with its error
        tb = traceback.extract_tb(exc.__traceback__)[-1]
        v = Verdict(FAILS, {"error": f"{type(exc).__name__}: {exc} ({tb.filename.split('/')[-1]}:{tb.lineno})"},
                    routes=["none (the check raised)"], method="the check did not complete",
                    precision="none (no numbers)")
        broken = True
    if claim.reading == "uncertain" and v.verdict != INCONCLUSIVE and not broken:
        v.numbers = {**v.numbers, "outcome under our reading": v.verdict}
        v.method = (v.method + " " if v.method else "") + \
            "The reading of the claim is uncertain, so the verdict is inconclusive whatever the numbers."
        v.verdict = INCONCLUSIVE
    return Outcome(claim.id, claim.source, claim.statement, claim.reading, claim.tolerance, v,
                   time.perf_counter() - t0, getattr(claim.check, "__module__", ""))


def load_error_outcome(err: LoadError) -> Outcome:
    """A claims module that did not load, as a failing entry."""
    v = Verdict(FAILS, {"error": err.error}, routes=["none (module not loaded)"],
                method=f"loading {err.module}", precision="none (no numbers)")
    return Outcome(f"load:{err.module}", err.module, "the claims module loads and exposes CLAIMS",
                   "exact", "", v, 0.0, err.module)


_CHOSEN: list[Claim] = []        # the claims of a parallel run, inherited by the forked workers
_OPTIONS: dict = {}
IN_WORKER = False                # True in the worker processes of a run (a worker starts no pool of its own)


def _worker_init() -> None:
    global IN_WORKER
    IN_WORKER = True


def _run_index(i: int) -> Outcome:
    """Worker side of a parallel run: the i-th chosen claim (the list is inherited by fork)."""
    return run_claim(_CHOSEN[i], _OPTIONS)


def default_workers() -> int:
    """Processes for a parallel run: every core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:                  # not Linux
        return max(1, os.cpu_count() or 1)


def _fork_pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork"), initializer=_worker_init)


def run_shared(claims: list[Claim], *, workers: int = 1,
               on_progress: Callable[[int, int, int], None] | None = None) -> dict:
    """The shared work of ``claims`` (their ``needs``, verify.claims.shared), stage by stage: the distinct
    tasks of every plan's stage as one flat list over ``workers`` fork processes (in this process when 1),
    results stored in this process before the next stage is planned. ``on_progress(done, total, stage)``
    after each task. A task that raises is not stored (the claim that reads it computes it and reports the
    error); a worker that died has its task rerun here. Returns {"tasks", "failed", "seconds", "stages"}.
    """
    from .claims import shared
    plans = [p for c in claims for p in c.needs]
    info = {"tasks": 0, "failed": 0, "seconds": 0.0, "stages": 0}
    if not plans:
        return info
    t0 = time.perf_counter()
    parallel = workers > 1 and "fork" in mp.get_all_start_methods()
    pool = _fork_pool(workers) if parallel else None
    try:
        for stage_no, tasks in enumerate(shared.stages(plans), 1):
            info["stages"] = stage_no
            done = 0
            if pool is None or len(tasks) == 1:
                for fn, args in tasks:
                    try:
                        shared.store(fn, args, fn(*args))
                    except Exception:
                        info["failed"] += 1
                    done += 1
                    if on_progress:
                        on_progress(done, len(tasks), stage_no)
            else:
                broken = False
                futures = {pool.submit(shared.run_task, fn, args): (fn, args) for fn, args in tasks}
                for fut in as_completed(futures):
                    fn, args = futures[fut]
                    try:
                        shared.store(fn, args, fut.result())
                    except BrokenProcessPool:          # a worker died: this task here (the claim may fail)
                        broken = True
                        try:
                            shared.store(fn, args, fn(*args))
                        except Exception:
                            info["failed"] += 1
                    except Exception:
                        info["failed"] += 1
                    done += 1
                    if on_progress:
                        on_progress(done, len(tasks), stage_no)
                if broken:                              # a fresh pool for the next stage
                    pool.shutdown(cancel_futures=True)
                    pool = _fork_pool(workers)
            info["tasks"] += len(tasks)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    info["seconds"] = time.perf_counter() - t0
    return info


def run_all(*, quick: bool = False, only: str | None = None, options: dict | None = None,
            on_start: Callable[[Claim, int, int], None] | None = None,
            on_done: Callable[[Outcome], None] | None = None,
            on_shared: Callable[[int, int, int], None] | None = None,
            claims: list[Claim] | None = None, workers: int = 1) -> list[Outcome]:
    """Load (unless ``claims`` is given), select and run the claims; load errors come first, then the
    outcomes in the claims' order.

    First the shared work of the chosen claims (:func:`run_shared`: tuned curves and searches that
    several claims read, each computed once, ``on_shared`` reporting progress), then the claims.
    ``workers`` > 1 runs both in that many processes (``concurrent.futures`` with fork, so claims from
    claim files travel too, and the claims' workers inherit the shared results); a worker starts no pool
    of its own. The longest claims are submitted first, ``on_start`` is called when a claim is submitted
    and ``on_done`` as each one finishes. Each claim computes what it reads with the same arguments and
    seeds as a serial run, so verdicts do not depend on ``workers``.
    """
    errors: list[LoadError] = []
    if claims is None:
        claims, errors = load_claims()
    chosen = select(claims, quick=quick, only=only)
    out = [load_error_outcome(e) for e in errors]
    workers = 1 if IN_WORKER else workers
    run_shared(chosen, workers=workers, on_progress=on_shared)
    if workers <= 1 or len(chosen) <= 1 or "fork" not in mp.get_all_start_methods():
        for i, c in enumerate(chosen):
            if on_start:
                on_start(c, i, len(chosen))
            res = run_claim(c, options)
            out.append(res)
            if on_done:
                on_done(res)
        return out
    global _CHOSEN, _OPTIONS
    _CHOSEN, _OPTIONS = list(chosen), dict(options or {})
    order = sorted(range(len(chosen)), key=lambda i: chosen[i].quick)      # the long ones first
    results: dict[int, Outcome] = {}
    try:
        with _fork_pool(min(workers, len(chosen))) as pool:
            futures = {}
            for n, i in enumerate(order):
                if on_start:
                    on_start(chosen[i], n, len(chosen))
                futures[pool.submit(_run_index, i)] = i
            for fut in as_completed(futures):
                i = futures[fut]
                try:
                    res = fut.result()
                except Exception:            # a worker that died: run that claim here
                    res = run_claim(chosen[i], options)
                results[i] = res
                if on_done:
                    on_done(res)
    finally:
        _CHOSEN, _OPTIONS = [], {}
    return out + [results[i] for i in range(len(chosen))]


def exit_status(outcomes: list[Outcome]) -> int:
    """0 when no claim fails, 1 otherwise."""
    return 1 if any(o.verdict.verdict == FAILS for o in outcomes) else 0
