"""Helpers shared by the claims modules: stated formulas (parsed, never eval'd), condition numbers of a
sampling model, and printable numbers that carry their precision."""
from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import sympy as sp

from ...theory import symbols
from ...theory.parse import parse_expression
from ...theory.sampling import SamplingModel

d_sym = sp.Symbol("d", positive=True)
#: names a stated formula may use (MATH.md notation)
FORMULA_NAMES = {"kappa": symbols.kappa, "kappa_bar": symbols.kappa_bar, "B": symbols.B, "d": d_sym,
                 "mu": symbols.mu, "L": symbols.L, "eta": symbols.eta, "beta": symbols.beta}


def stated(text: str, param: str = "formula", names: dict | None = None) -> sp.Expr:
    """A formula as a paper states it, parsed with the whitelist parser (theory.parse)."""
    return parse_expression(text, FORMULA_NAMES if names is None else names, param)


def value(expr: sp.Expr, dps: int = 50, **subs) -> mp.mpf:
    """Evaluate a SymPy expression at exact (or float) values with ``dps`` digits (mpmath)."""
    sym = {FORMULA_NAMES[k]: sp.nsimplify(v) if isinstance(v, (int, sp.Rational)) else v for k, v in subs.items()}
    with mp.workdps(dps + 10):
        out = mp.mpf(sp.N(expr.subs(sym), dps + 10))
    return out


# --------------------------------------------------------------------------------------------------
# condition numbers (MATH.md §2): mu, L, tr H, R^2 (smallest with E[G^T G] <= R^2 H), kappa, kappa_bar
# --------------------------------------------------------------------------------------------------
def condition_numbers(model: SamplingModel) -> dict:
    """mu, L, trH, R2, kappa = L/mu, kappa_bar = R2/mu as floats (double precision).

    R^2 = the model's closed form where it has one (gaussian tr H + 2L, kaczmarz 1), else the largest
    generalized eigenvalue of (E[G^T G], H) from the model's ``gradient_gram_array`` (rank-one components
    G_i = x_i y_i^T: E[G^T G] = sum_i p_i |x_i|^2 y_i y_i^T).
    """
    from scipy.linalg import eigh

    lam = model.spectrum_array(np)
    mu, L, tr = float(lam.min()), float(lam.max()), float(lam.sum())
    closed = model.R2_exact()
    if closed is not None:
        R2 = float(closed)
    else:
        H = model.hessian_array(np)
        R2 = float(eigh(model.gradient_gram_array(np), (H + H.T) / 2, eigvals_only=True)[-1])
    return {"mu": mu, "L": L, "trH": tr, "R2": R2, "kappa": L / mu, "kappa_bar": R2 / mu}


# --------------------------------------------------------------------------------------------------
# printable numbers
# --------------------------------------------------------------------------------------------------
def sig(x, digits: int = 6) -> str:
    """A float with ``digits`` significant digits."""
    if x is None:
        return "none"
    x = float(x)
    if not math.isfinite(x):
        return str(x)
    return f"{x:.{digits}g}"


def mp_str(x, digits: int) -> str:
    """An mpmath/float value printed with ``digits`` significant digits."""
    with mp.workdps(digits + 10):
        return mp.nstr(mp.mpf(x), digits, strip_zeros=False)


def rate_str(r) -> str:
    """A RateResult's rho with its stated precision (digits, and the certified interval, rounded outward)."""
    j = r.to_json()
    s = f"{j['rho']} ({j['digits']} digits, {r.precision})"
    if "interval" in j:
        s += f", certified [{j['interval'][0]}, {j['interval'][1]}]"
    return s


def route_str(r) -> str:
    """'numeric (<route> route, <precision>)' of a RateResult."""
    return f"numeric ({r.route} route, {r.precision})"


def routes_of(results) -> list[str]:
    """Distinct numeric routes used by a list of RateResults, in order."""
    out = []
    for r in results:
        s = route_str(r)
        if s not in out:
            out.append(s)
    if any(getattr(r, "interval", None) for r in results):
        out.append("certified (arb interval)")
    return out


def within_factor(ratio: float, factor: float) -> bool:
    return ratio is not None and 1 / factor <= ratio <= factor


def monte_carlo_rate(method, model, batch, lr, momentum, steps: int, runs: int, seed: int = 0):
    """(RateFit or None, printable string): the decay rate of E||e_k||^2 fitted to a simulation of the very
    process (numerics.montecarlo), with its confidence interval."""
    from ...numerics.montecarlo import simulate
    res = simulate(method, model, batch, lr, momentum, steps, runs, seed=seed)
    fit = res.rate_fit
    if fit is None:
        return None, f"no fit ({res.stop_reason or 'too few steps'})"
    lo, hi = fit.ci
    note = "" if fit.reliable else ", unreliable window"
    stop = f", stopped at step {res.stopped_at}: {res.stop_reason}" if res.stopped_at is not None else ""
    return fit, (f"{sig(fit.rho, 6)}, {int(round(fit.confidence * 100))}% CI [{sig(lo, 6)}, {sig(hi, 6)}] "
                 f"({runs} runs, steps {fit.window[0]}-{fit.window[1]}{note}{stop})")
