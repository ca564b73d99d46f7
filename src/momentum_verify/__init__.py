"""momentum-verify: exact convergence theory of stochastic momentum methods on quadratics.

The everyday API, in one vocabulary (``lr``, ``momentum``, ``batch``)::

    >>> import momentum_verify as mv
    >>> model = mv.Gaussian([1, 4])
    >>> mv.rate("heavy-ball", model, batch=8, lr=0.1, momentum=0.5).route
    'secular'

Names are imported lazily, so ``import momentum_verify`` is cheap and SymPy loads only when a
symbolic object is first needed.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> (module relative to this package, attribute)
_EXPORTS = {
    "InputError": ("theory.errors", "InputError"),
    "Gaussian": ("theory.sampling", "Gaussian"),
    "FiniteSum": ("theory.sampling", "FiniteSum"),
    "Kaczmarz": ("theory.sampling", "Kaczmarz"),
    "Coordinate": ("theory.sampling", "Coordinate"),
    "method": ("theory.methods", "get_method"),
    "rate": ("numerics.rates", "spectral_radius"),
    "rho_grid": ("numerics.rates", "rho_grid"),
    "tune": ("numerics.tuning", "tune"),
    "tune_curve": ("numerics.tuning", "tune_curve"),
    "simulate": ("numerics.montecarlo", "simulate"),
    "check": ("verify.runner", "run_all"),
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    try:
        module, attr = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'momentum_verify' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f".{module}", __name__), attr)
    globals()[name] = value
    return value


def __dir__():
    return __all__
