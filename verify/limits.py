"""Limits on the work one command may start: checked before anything is allocated, refused as bad input.

Every command estimates its cost from its options (dimension d, steps x runs x d, grid sizes, digits,
workers) and compares it with the limits below. A refusal is an :class:`InputError` (one line, exit
status 2) that names the limit and how to raise it. The limits are documented here, and overridden with
the environment variable ``MOMENTUM_VERIFY_LIMITS``, a comma list of ``NAME=VALUE``::

    MOMENTUM_VERIFY_LIMITS="memory=64G,work=1e14" momentum-verify simulate ...

``memory`` defaults to 80% of the memory the machine has available now (``MemAvailable``); sizes accept
the suffixes K, M, G, T (powers of 1024). The formula parser's limits (``formula_length``,
``formula_depth``, ``literal_digits``, ``literal_exponent``, ``power_exponent``, ``power_digits``) live in
``theory.parse.LIMITS`` and are overridden the same way.

>>> check("spectrum_size", 10, "SPEC with 10 eigenvalues", "spectrum")
>>> check("spectrum_size", 10**12, "SPEC with 10**12 eigenvalues", "spectrum")
Traceback (most recent call last):
...
momentum_verify.theory.errors.InputError: spectrum: SPEC with 10**12 eigenvalues exceeds the limit spectrum_size = 10000000 (raise it with MOMENTUM_VERIFY_LIMITS=spectrum_size=N)
"""
from __future__ import annotations

import math
import os

from ..theory import parse_limits as _parse
from ..theory.errors import InputError

ENV = "MOMENTUM_VERIFY_LIMITS"

# name: (default, what it bounds). memory's default (None) is 80% of the available RAM.
DEFAULTS = {
    "memory": (None, "bytes one command may allocate (default: 80% of the available RAM)"),
    "work": (1e12, "element-steps of one simulation or recursion (steps x runs x d; about 20 min)"),
    "steps": (10 ** 8, "steps of one simulation or weak-approximation recursion (all lrs together)"),
    "spectrum_size": (10 ** 7, "eigenvalues in one SPEC (linspace/geomspace D, list or file entries)"),
    "matrix_entries": (10 ** 8, "entries of one matrix file (rows x columns)"),
    "file_bytes": (2 * 1024 ** 3, "bytes of one input file (SPEC @FILE, --matrix, --x0)"),
    "digits": (1000, "significant digits asked of the rate engine"),
    "grid_points": (10 ** 6, "points of one sweep or tune grid"),
    "workers": (None, "worker processes (default: the CPU count; more are capped with a note)"),
}
_overrides: dict[str, float] = {}
_SUFFIX = {"K": 1024, "M": 1024 ** 2, "G": 1024 ** 3, "T": 1024 ** 4}


def available_memory() -> int:
    """Bytes of memory available now: ``MemAvailable`` of /proc/meminfo, else the physical memory."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8 * 1024 ** 3


def cpu_count() -> int:
    """CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _parse_value(name: str, text: str) -> float:
    t = text.strip().upper().removesuffix("B")
    scale = 1
    if t and t[-1] in _SUFFIX:
        scale, t = _SUFFIX[t[-1]], t[:-1]
    try:
        v = float(t) * scale
    except ValueError:
        v = math.nan
    if not (v > 0 and math.isfinite(v)):
        raise InputError(ENV, f"{name}={text!r} is not a positive number")
    return v


def load_env(environ=None) -> None:
    """Read ``MOMENTUM_VERIFY_LIMITS`` (replacing earlier overrides); bad entries are bad input."""
    text = (os.environ if environ is None else environ).get(ENV, "")
    new: dict[str, float] = {}
    parse_new: dict[str, int] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        name, eq, value = item.partition("=")
        name = name.strip()
        if not eq:
            raise InputError(ENV, f"malformed entry {item!r} (use NAME=VALUE)")
        if name in DEFAULTS:
            new[name] = _parse_value(name, value)
        elif name in _PARSE_DEFAULTS:
            parse_new[name] = int(_parse_value(name, value))
        else:
            raise InputError(ENV, f"unknown limit {name!r} (known: {', '.join(list(DEFAULTS) + list(_PARSE_DEFAULTS))})")
    _overrides.clear()
    _overrides.update(new)
    _parse.LIMITS.update(_PARSE_DEFAULTS)
    _parse.LIMITS.update(parse_new)


_PARSE_DEFAULTS = dict(_parse.LIMITS)


def get(name: str) -> float:
    """The current value of limit ``name``."""
    if name in _overrides:
        return _overrides[name]
    if name == "memory":
        return 0.8 * available_memory()
    if name == "workers":
        return cpu_count()
    return DEFAULTS[name][0]


def _hint(name: str) -> str:
    return f"raise it with {ENV}={name}=N"


def _fmt(v: float) -> str:
    return f"{int(v)}" if float(v).is_integer() and abs(v) < 1e15 else f"{v:.3g}"


def _bytes(n: float) -> str:
    for unit, size in (("TiB", 1024 ** 4), ("GiB", 1024 ** 3), ("MiB", 1024 ** 2), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{int(n)} B"


def check(name: str, value: float, what: str, param: str) -> None:
    """Refuse ``value`` above limit ``name``: ``InputError(param, '<what> exceeds the limit ...')``."""
    lim = get(name)
    if not value <= lim:
        raise InputError(param, f"{what} exceeds the limit {name} = {_fmt(lim)} ({_hint(name)})")


def check_memory(nbytes: float, what: str, param: str) -> None:
    """Refuse an estimated allocation of ``nbytes`` above the ``memory`` limit."""
    lim = get("memory")
    if not nbytes <= lim:
        raise InputError(param, f"{what} needs about {_bytes(nbytes)}, over the limit memory = {_bytes(lim)} "
                                f"({'80% of the available RAM; ' if 'memory' not in _overrides else ''}"
                                f"{_hint('memory')})")


def cap_workers(n: int, param: str = "workers") -> tuple[int, str | None]:
    """``(min(n, limit), note)``: more worker processes than CPUs only add memory, so they are capped
    (the note says so; None when nothing was capped)."""
    lim = int(get("workers"))
    if n <= lim:
        return n, None
    return lim, f"{param}: {n} capped to {lim} (the CPU count; {_hint('workers')})"


def check_file(path, param: str, expand: float = 1.0) -> None:
    """Refuse a file larger than ``file_bytes``, or whose parsed content (``expand`` x its size) would
    not fit in ``memory``."""
    try:
        size = os.stat(path).st_size
    except OSError:
        return          # the reader reports a missing file with its own message
    check("file_bytes", size, f"file {str(path)!r} of {_bytes(size)}", param)
    check_memory(size * expand, f"reading {str(path)!r}", param)


# --------------------------------------------------------------------------------------------------
# cost estimates per command (bytes and element-steps; order-of-magnitude, on the safe side)
# --------------------------------------------------------------------------------------------------
def check_spectrum_size(count: int, param: str) -> None:
    check("spectrum_size", count, f"SPEC with {count} eigenvalues", param)
    check_memory(8.0 * 4 * count, f"a SPEC of {count} eigenvalues", param)


def check_simulate(d: int, steps: int, runs: int, blocks: int = 64) -> None:
    """Monte Carlo: replicas hold a few (runs x d) arrays; the record is (steps + 1) x 5 x blocks; the work
    is steps x runs x d."""
    check("steps", steps, f"{steps} steps", "steps")
    check("work", float(steps) * runs * d, f"steps x runs x d = {float(steps) * runs * d:.3g}", "runs")
    check_memory(8.0 * (8 * runs * d + (steps + 1) * 5 * blocks + 4 * (steps + 1)),
                 f"{runs} runs x {steps} steps at d = {d}", "runs")


def check_recursion(d: int, steps: int, param: str = "horizon", dense: int = 2) -> None:
    """An exact moment recursion of ``steps`` steps on blocks of size ``dense`` d (time and memory)."""
    check("steps", steps, f"{steps} recursion steps", param)
    check("work", float(steps) * (dense * d) ** 2, f"steps x (dense d)^2 = {float(steps) * (dense * d) ** 2:.3g}",
          param)
    check_memory(8.0 * (4 * steps + 4 * (dense * d) ** 2), f"{steps} recursion steps at d = {d}", param)


def check_digits(digits: int | None, param: str = "digits") -> None:
    if digits is not None:
        check("digits", digits, f"{digits} digits", param)


def check_grid(points: int, param: str) -> None:
    check("grid_points", points, f"a grid of {points} points", param)


DEFAULTS["lr_scale"] = (1e100, "eta L (step size times the largest curvature): beyond it eta^2 L^2 leaves double precision")


def curvature_scale(model) -> float:
    """An upper estimate of L = lambda_max(H) from the model's data (no eigen-solve): max |lambda| of a
    spectrum, d max |H_ij| of a matrix H, d max |a_ij|^2 of data rows A (1 for Kaczmarz: rows normalised)."""
    import numpy as np
    try:
        if type(model).__name__ == "Kaczmarz":
            return 1.0
        spec = getattr(model, "spectrum", None)
        H = getattr(model, "H", None)
        if H is not None:
            return float(np.max(np.abs(np.asarray(H, dtype=float)))) * int(model.d)
        if spec is not None:
            return float(np.max(np.abs(np.asarray(spec, dtype=float))))
        A = getattr(model, "A", None)
        if A is not None:
            return float(np.max(np.abs(np.asarray(A, dtype=float)))) ** 2 * int(model.d)
    except (TypeError, ValueError, OverflowError):
        pass
    return 1.0


def check_step(lr: float, model, param: str = "lr") -> None:
    """Refuse eta L beyond ``lr_scale`` (the method diverges long before; the routes would overflow)."""
    scale = float(lr) * curvature_scale(model)
    check("lr_scale", scale, f"eta L of about {scale:.3g}", param)
