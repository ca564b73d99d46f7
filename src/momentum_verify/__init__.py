"""momentum-verify: exact convergence theory of stochastic momentum methods on quadratics.

The everyday API, in the command line's vocabulary (``lr``, ``momentum``, ``batch``); parameters may be
given as the command line takes them (``lr="4/9"`` is the exact fraction, ``batch="inf"``)::

    >>> import momentum_verify as mv
    >>> model = mv.Gaussian([1, 4])
    >>> model
    Gaussian(spectrum=(1, 4))
    >>> mv.rate("heavy-ball", model, batch=8, lr=0.1, momentum=0.5).route
    'secular'
    >>> mv.rate("sgd", mv.Gaussian([1, 1]), batch=2, lr="2/5", digits=10)  # doctest: +ELLIPSIS
    RateResult(rho='0.6000000000', digits=10, route='secular', precision=...)
    >>> mv.from_spec("kaczmarz", matrix=[[1, 0], [1, 1], [0, 2]])
    Kaczmarz(A=((1, 0), (1, 1), (0, 2)))
    >>> mv.method("heavy-ball").name
    'heavy-ball'

Models: ``Gaussian(spectrum)``, ``FiniteSum(A)``, ``Kaczmarz(A)``, ``Coordinate(H=...)`` or
``Coordinate(spectrum=...)``, and ``from_spec(model, spectrum=..., matrix=...)`` (the constructor the CLI
and the sweeps use). Functions: ``method(name)``, ``rate``, ``tune``, ``simulate``, ``formula``, ``check``.

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
    "MODELS": ("theory.sampling", "MODELS"),
    "from_spec": ("verify.model_spec", "from_spec"),
    "method": ("theory.methods", "get_method"),
    "load_method": ("theory.method_file", "load_method"),
    "from_torch": ("numerics.conventions", "from_torch"),
    "check_claims": ("testing", "check_claims"),
    "METHODS": ("theory.methods", "METHODS"),
    "rate": ("verify.api", "rate"),
    "rho_grid": ("numerics.rates", "rho_grid"),
    "RateResult": ("numerics.rates", "RateResult"),
    "tune": ("verify.api", "tune"),
    "tune_curve": ("numerics.tuning", "tune_curve"),
    "simulate": ("verify.api", "simulate"),
    "formula": ("verify.api", "formula"),
    "check": ("verify.api", "check"),
    "SpectrumClass": ("numerics.worst_case", "SpectrumClass"),
    "spectrum_class": ("numerics.worst_case", "parse_class"),
    "worst_case": ("numerics.worst_case", "worst_case"),
    "minimax_tune": ("numerics.worst_case", "minimax_tune"),
    "minimax_curve": ("numerics.worst_case", "minimax_curve"),
    "bound_check": ("verify.bound_check", "bound_check"),
    "DataClass": ("numerics.worst_case", "DataClass"),
    "search_data_class": ("numerics.worst_case", "search_data_class"),
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
