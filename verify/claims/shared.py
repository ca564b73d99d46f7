"""Work shared by several claims (tuned panel curves, minimax points), computed once per run.

A *task* is ``(fn, args)``: a module-level function and hashable arguments; its result is stored under
``(fn's module and name, args)`` in this process (:func:`cached` reads it, or computes and stores it).
A task may carry a third item, a relative cost (default 1): the costliest tasks of a stage start first.
A *plan* is ``(generator function, args)``; the generator yields lists of tasks, stage by stage, and may
read the results of earlier stages with :func:`cached` (they are stored before it resumes). Claims list
their plans in ``Claim.needs``; the runner (verify.runner.run_all) runs the tasks of every chosen
claim's plans as one flat list per stage over its worker pool, stores the results here, and only then
runs the claims (forked workers inherit the store). A claim run alone computes the same tasks lazily
through :func:`cached`, with the same arguments, so its numbers do not depend on how it was run.

    >>> def square(x): return x * x
    >>> cached(square, 3), is_stored(square, 3)
    (9, True)
"""
from __future__ import annotations

from typing import Any, Callable, Iterator

_STORE: dict = {}


def task_key(fn: Callable, args: tuple) -> tuple:
    """The store key of a task: (module, qualified name, args)."""
    return (fn.__module__, fn.__qualname__, tuple(args))


def is_stored(fn: Callable, *args) -> bool:
    return task_key(fn, args) in _STORE


def store(fn: Callable, args: tuple, result: Any) -> None:
    _STORE[task_key(fn, args)] = result


def cached(fn: Callable, *args) -> Any:
    """fn(*args), computed once per process (or taken from the shared phase of the run)."""
    key = task_key(fn, args)
    if key not in _STORE:
        _STORE[key] = fn(*args)
    return _STORE[key]


def run_task(fn: Callable, args: tuple) -> Any:
    """Worker side: one task (no store: the result travels back to the parent, which stores it)."""
    return fn(*args)


def clear() -> None:
    """Forget every stored result (tests)."""
    _STORE.clear()


def stages(plans) -> Iterator[list[tuple]]:
    """The stages of several plans run side by side: each yielded list holds the distinct tasks of that
    stage not stored yet; the caller stores their results (:func:`store`) before asking for the next."""
    gens = []
    for p in dict.fromkeys(plans):               # distinct plans, in order
        fn, args = p[0], tuple(p[1:]) if len(p) > 1 else ()
        gens.append(fn(*args))
    while gens:
        tasks, alive = {}, []
        for g in gens:
            try:
                stage = next(g)
            except StopIteration:
                continue
            alive.append(g)
            for t in stage:
                fn, args, cost = t[0], tuple(t[1]), (t[2] if len(t) > 2 else 1.0)
                key = task_key(fn, args)
                if key not in _STORE and key not in tasks:
                    tasks[key] = (cost, fn, args)
        gens = alive
        if tasks:       # the costliest first (a long task started last would idle the other workers)
            yield [(fn, args) for _, fn, args in sorted(tasks.values(), key=lambda t: -t[0])]
