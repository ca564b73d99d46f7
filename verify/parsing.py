"""Parsing of command-line values without eval: numbers, batch sizes, lists and spectrum SPECs.

SPEC (``--spectrum``): comma-separated numbers, ``linspace:LO:HI:D``, ``geomspace:LO:HI:D``, or
``@FILE`` (whitespace/comma separated text, or a ``.npy`` array).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..theory.errors import InputError
from ..theory.parse_number import parse_fraction
from . import limits


def parse_number(text: str, param: str) -> float:
    """A decimal or a fraction like '1/3', as a float (refused where double precision cannot hold it:
    above 1.8e308 in magnitude, or nonzero and below 5e-324). Read exactly as a Fraction (no SymPy),
    then rounded once to the nearest double."""
    exact = parse_fraction(str(text), param)
    try:
        v = float(exact)
    except OverflowError:
        v = math.inf
    if not math.isfinite(v):
        raise InputError(param, f"{_short(text)} is outside the double-precision range (|x| <= 1.8e308)")
    if v == 0 and exact != 0:
        raise InputError(param, f"{_short(text)} underflows to 0 in double precision (|x| >= 5e-324)")
    return v


def _short(text, limit: int = 40) -> str:
    t = str(text).strip()
    return repr(t if len(t) <= limit else t[:limit - 3] + "...")


def parse_int(text, param: str) -> int:
    """A decimal integer of at most ``theory.parse.LIMITS['literal_digits']`` digits (Python's ``int``
    would refuse 4,300 digits with its own ValueError, and accepts '1_000')."""
    from ..theory.parse_number import LIMITS, limit_error
    t = str(text).strip()
    body = t.lstrip("+-")
    if not body.isdigit() or not body.isascii() or len(t) - len(body) > 1:
        raise InputError(param, f"must be an integer, got {_short(text)}")
    if len(body.lstrip("0")) > LIMITS["literal_digits"]:
        raise limit_error(param, f"integer with {len(body.lstrip('0'))} digits", "literal_digits")
    return int(t)


def parse_positive(text: str, param: str) -> float:
    v = parse_number(text, param)
    if not v > 0:
        raise InputError(param, f"must be > 0, got {text}")
    return v


def parse_momentum(text: str, param: str = "momentum") -> float:
    v = parse_number(text, param)
    if not 0 <= v < 1:
        raise InputError(param, f"must lie in [0, 1), got {text}")
    return v


def parse_batch(text, param: str = "batch"):
    """An integer >= 1, or 'inf' (deterministic)."""
    t = str(text).strip().lower()
    if t in ("inf", "infinity", "∞"):
        return math.inf
    try:
        v = parse_int(t, param)
    except InputError:
        raise InputError(param, f"must be a positive integer or 'inf', got {_short(text)}") from None
    if v < 1:
        raise InputError(param, f"must be >= 1, got {v}")
    return v


def parse_list(text: str, item, param: str) -> list:
    """Comma-separated list parsed item by item with ``item(text, param)``."""
    parts = [p for p in str(text).split(",")]
    if not parts or any(not p.strip() for p in parts):
        raise InputError(param, f"malformed list {text!r} (comma-separated, no empty entries)")
    return [item(p.strip(), param) for p in parts]


def load_array(path_text: str, param: str, ndim: int | None = None) -> np.ndarray:
    """Read a .npy file or a text file of numbers (rows on lines, entries split by whitespace or commas)."""
    path = Path(path_text)
    if not path.is_file():
        raise InputError(param, f"cannot read file {path_text!r}")
    limits.check_file(path, param, expand=2.0 if path.suffix == ".npy" else 40.0)
    try:
        if path.suffix == ".npy":
            arr = np.load(path, allow_pickle=False, mmap_mode="r")   # the header first: no copy yet
            _check_entries(arr.size, path_text, param, ndim)
            arr = np.array(arr, dtype=float)
        else:
            rows = [ln.replace(",", " ").split() for ln in path.read_text().splitlines()]
            rows = [r for r in rows if r and not r[0].startswith("#")]
            _check_entries(sum(len(r) for r in rows), path_text, param, ndim)
            arr = np.array([[parse_number(v, param) for v in r] for r in rows], dtype=float)
            if ndim == 1 or (arr.ndim == 2 and (arr.shape[0] == 1 or arr.shape[1] == 1) and ndim != 2):
                arr = arr.ravel()
    except InputError:
        raise
    except Exception as exc:  # numpy's own messages for corrupt files
        raise InputError(param, f"cannot read file {path_text!r}: {exc}") from None
    arr = np.asarray(arr, dtype=float)
    if ndim is not None and arr.ndim != ndim:
        raise InputError(param, f"file {path_text!r} holds a {arr.ndim}-d array, expected {ndim}-d")
    return arr


def _check_entries(count: int, path_text: str, param: str, ndim):
    if ndim == 1:
        limits.check_spectrum_size(count, param)
    else:
        limits.check("matrix_entries", count, f"file {path_text!r} with {count} entries", param)


def parse_spec(text: str, param: str = "spectrum") -> np.ndarray:
    """A spectrum SPEC as a float array (validated by the sampling model)."""
    t = str(text).strip()
    if not t:
        raise InputError(param, "empty SPEC")
    if t.startswith("@"):
        return load_array(t[1:], param, ndim=1)
    head = t.split(":")[0]
    if head in ("linspace", "geomspace"):
        parts = t.split(":")
        if len(parts) != 4:
            raise InputError(param, f"malformed SPEC {text!r} (use {head}:LO:HI:D)")
        lo, hi = parse_number(parts[1], param), parse_number(parts[2], param)
        try:
            count = parse_int(parts[3], param)
        except InputError:
            raise InputError(param, f"malformed SPEC {text!r}: D must be an integer") from None
        if count < 1:
            raise InputError(param, f"malformed SPEC {text!r}: D must be >= 1")
        limits.check_spectrum_size(count, param)
        if head == "geomspace" and (lo <= 0 or hi <= 0):
            raise InputError(param, f"geomspace needs LO, HI > 0 in {text!r}")
        return (np.linspace if head == "linspace" else np.geomspace)(lo, hi, count)
    limits.check_spectrum_size(t.count(",") + 1, param)
    return np.array(parse_list(t, parse_number, param), dtype=float)


def check_output_file(path_text, param: str) -> None:
    """Refuse an output path that cannot be written, before any work: a directory, a path under a file
    or a missing folder, or a place without write permission (the file itself is not created)."""
    import os
    t = str(path_text)
    if not t.strip():
        raise InputError(param, "empty path")
    path = Path(t)
    if path.is_dir():
        raise InputError(param, f"{t!r} is a directory (give a file name)")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        for up in parent.parents:
            if up.exists() and not up.is_dir():
                raise InputError(param, f"cannot write {t!r}: {str(up)!r} is a file, not a folder")
        raise InputError(param, f"cannot write {t!r}: folder {str(parent)!r} does not exist")
    if not parent.is_dir():
        raise InputError(param, f"cannot write {t!r}: {str(parent)!r} is a file, not a folder")
    existed = path.exists()
    try:                                   # the one reliable test: open for appending (content untouched)
        with open(path, "a"):
            pass
    except OSError as exc:
        raise InputError(param, f"cannot write {t!r}: {exc.strerror or exc}") from None
    if not existed:
        try:
            os.unlink(path)
        except OSError:
            pass
