"""The everyday Python API behind ``import momentum_verify as mv``, in the command line's vocabulary
(``lr``, ``momentum``, ``batch``), accepting what the command line accepts: numbers as strings such as
``"4/9"`` (parsed exactly by the whitelist parser, never eval'd), ``batch="inf"``, and a spectrum SPEC in
place of a model (a gaussian model). Each function is a thin call into the engine it names; imports are
lazy, so ``import momentum_verify`` stays cheap.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass


# --------------------------------------------------------------------------------------------------
# arguments as the command line takes them
# --------------------------------------------------------------------------------------------------
def _exact(x, param: str):
    """A parameter value: strings parsed exactly (SymPy Rational), other numbers kept as given."""
    if isinstance(x, str):
        from ..theory.parse import parse_number_exact
        return parse_number_exact(x, param)
    if isinstance(x, bool) or not isinstance(x, numbers.Number) and not hasattr(x, "_mpf_") \
            and not hasattr(x, "is_number"):
        from ..theory.errors import InputError
        raise InputError(param, f"must be a number, got {x!r}")
    return x


def _float(x, param: str) -> float:
    return float(_exact(x, param))


def _model(model):
    """A sampling model as is; a SPEC string or a sequence of eigenvalues as a gaussian model."""
    from ..theory.sampling import SamplingModel
    if isinstance(model, SamplingModel):
        return model
    from .model_spec import from_spec
    return from_spec("gaussian", spectrum=model)


def _batch(model, batch):
    return model.check_batch(batch)


# --------------------------------------------------------------------------------------------------
# the API
# --------------------------------------------------------------------------------------------------
def rate(method, model, batch, lr, momentum=0, *, digits=None, certify=False, route=None):
    """rho(T), the mean-square rate, and K = -1/ln(rho) (``numerics.rates.spectral_radius``).

    >>> import momentum_verify as mv
    >>> mv.rate("sgd", mv.Gaussian([1, 1]), batch=2, lr="2/5", digits=10)  # doctest: +ELLIPSIS
    RateResult(rho='0.6000000000', digits=10, route='secular', precision=...)
    """
    from ..numerics.rates import spectral_radius
    model = _model(model)
    return spectral_radius(method, model, _batch(model, batch), _exact(lr, "lr"), _exact(momentum, "momentum"),
                           digits=digits, certify=certify, route=route)


def tune(method, model, batch, **options):
    """The optimal constant (lr, momentum) at ``batch`` (``numerics.tuning.tune``; options: seed, grid, refine)."""
    from ..numerics.tuning import tune as _tune
    model = _model(model)
    return _tune(method, model, _batch(model, batch), **options)


def simulate(method, model, batch, lr, momentum=0, *, steps, runs, **options):
    """Monte Carlo of the process itself (``numerics.montecarlo.simulate``; options: seed, backend, x0,
    confidence, groups, fit_window, gaussian_sampler)."""
    from ..numerics.montecarlo import simulate as _simulate
    model = _model(model)
    return _simulate(method, model, _batch(model, batch), _float(lr, "lr"), _float(momentum, "momentum"),
                     int(steps), int(runs), **options)


@dataclass(frozen=True)
class Formulas:
    """Labelled SymPy objects, as ``momentum-verify formula`` prints them (``items``: (label, expr) pairs).

    Shows as text (``str``), as LaTeX in Jupyter (``_repr_latex_``), and indexes by label.
    """

    method: str
    what: str
    model: str
    items: tuple

    def __repr__(self) -> str:
        labels = ", ".join(repr(lbl) for lbl, _ in self.items)
        return f"Formulas(method={self.method!r}, what={self.what!r}, model={self.model!r}, labels=[{labels}])"

    def __str__(self) -> str:
        from ..theory.formulas import render
        return "\n".join(f"{lbl}: {render(e)}" for lbl, e in self.items)

    def __getitem__(self, label: str):
        for lbl, e in self.items:
            if lbl == label:
                return e
        raise KeyError(label)

    def labels(self) -> list:
        return [lbl for lbl, _ in self.items]

    def _repr_latex_(self) -> str:
        import sympy as sp
        def text(lbl):
            return "\\text{" + lbl.replace("_", "\\_").replace("^", "\\^{}") + "}"
        rows = r" \\ ".join(f"{text(lbl)}: & {sp.latex(e)}" for lbl, e in self.items)
        return rf"$\begin{{aligned}} {rows} \end{{aligned}}$"


def formula(method, what: str = "charpoly", model: str = "gaussian", *, spectrum=None, batch=None) -> Formulas:
    """The symbolic objects ``momentum-verify formula`` derives (what: first-moment, charpoly,
    second-moment, tuning, stochastic-rate).

    >>> import momentum_verify as mv
    >>> f = mv.formula("sgd", "charpoly")
    >>> f.labels()[0]
    'det(z I - (A + lambda b c^T))'
    >>> f['det(z I - (A + lambda b c^T))']
    z**2 + z*(eta*lambda - 1)
    """
    from ..theory.methods import get_method
    from .cmd_formula import lines_for
    m = get_method(method)
    items = lines_for(m, model, what, False, spectrum, None if batch is None else str(batch))
    return Formulas(m.name, what, model, tuple(items))


def check(only=None, *, quick: bool = False, options=None):
    """Run the paper claims (``verify.runner.run_all``): a list of outcomes with verdicts as data."""
    from .runner import run_all
    return run_all(quick=quick, only=only, options=options)


def from_spec(model: str = "gaussian", spectrum=None, matrix=None, without_replacement: bool = False):
    """The sampling model from named data (``verify.model_spec.from_spec``)."""
    from .model_spec import from_spec as _from_spec
    return _from_spec(model, spectrum, matrix, without_replacement)
