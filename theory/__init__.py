"""Exact objects and derivations (SymPy): methods, sampling models, moment operators, rate formulas.

Nothing here knows about floating-point arrays or papers: ``numerics`` turns these expressions into
kernels and ``verify`` turns them into claims.
"""
from .errors import InputError

# SymPy-backed names load on first use, so importing a submodule (e.g. ``theory.errors`` for the
# command line's error type) does not import SymPy
_LAZY = {"METHODS": "methods", "Method": "methods", "get_method": "methods",
         "B": "symbols", "beta": "symbols", "eta": "symbols", "lam": "symbols", "z": "symbols"}

__all__ = ["InputError"] + list(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
