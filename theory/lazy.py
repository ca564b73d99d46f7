"""SymPy on demand: the numeric fast paths (``rate`` on a built-in method and model) never import it.

``sp = LazyModule("sympy")`` stands for the module: the first attribute read (``sp.Rational``) imports
it, so code written against ``sp`` is unchanged. :func:`is_sympy` asks whether a value is a SymPy object
without importing SymPy (if SymPy is not loaded, nothing can be one).

>>> sp = LazyModule("sympy")
>>> sp.Rational(1, 3)
1/3
>>> is_sympy(sp.Integer(2)), is_sympy(2)
(True, False)
"""
from __future__ import annotations

import importlib
import sys


class LazyModule:
    """A module imported on first attribute access (``name`` absolute, e.g. ``"sympy"``)."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attr):
        return getattr(importlib.import_module(self._name), attr)

    def __repr__(self) -> str:
        return f"LazyModule({self._name!r})"


def is_sympy(x) -> bool:
    """Whether ``x`` is a SymPy object (False without importing SymPy when it is not loaded)."""
    mod = sys.modules.get("sympy")
    return mod is not None and isinstance(x, mod.Basic)


def is_sympy_infinity(x) -> bool:
    """Whether ``x`` is SymPy's ``oo``."""
    mod = sys.modules.get("sympy")
    return mod is not None and x is mod.oo
