"""Spectrum classes of the decoupled models and the symbolic pieces of their worst case (MATH.md §9).

The class C(mu, L, d) is every spectrum of dimension d in [mu, L] that contains mu and L; optionally
the average condition number kappa_bar = R^2/mu is fixed, which fixes tr H = tau:

    gaussian:   R^2 = tau + 2 L   (E[x x^T x x^T] = 2 H^2 + tr(H) H),   so tau = kappa_bar mu - 2 L;
    coordinate: R^2 = tau         (E[G^T G] = H diag(1/p) H = tr(H) H),  so tau = kappa_bar mu.

For the branch-and-bound over lambda the worst-case code needs, at a fixed z, polynomials in lambda:
the numerator N and the denominator P of phi(z, lambda) = N/P (theory.moments.secular_term, P monic
in z) and the Taylor coefficients det(zI - D(lambda))^(k)(z)/k! of each block's characteristic
polynomial (positive for every k exactly when z > rho(D(lambda)), by Budan-Fourier and Gauss-Lucas).
The trace may depend on lambda linearly, tau = tau0 + tau1 lambda (coordinate descent, where the
worst spectrum holds lambda together with d - 2 copies of L): the coefficients below are therefore
polynomials in lambda with coefficients in z, eta, beta, f_B, tau0, tau1. Only SymPy here.
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp

from . import symbols
from .errors import InputError
from .formulas import charpoly
from .methods import Method
from .moments import decoupled_block, secular_term
from .sampling import DecoupledNoise

F_B = sp.Symbol("f_B", nonnegative=True)
TAU0 = sp.Symbol("tau0", real=True)
TAU1 = sp.Symbol("tau1", real=True)
COEFF_ARGS = (symbols.z, symbols.eta, symbols.beta, F_B, TAU0, TAU1)

CLASS_MODELS = ("gaussian", "coordinate")


def r_squared(model: str, tau, L):
    """R^2 of a decoupled model with tr H = tau and largest eigenvalue L (MATH.md §2)."""
    if model == "gaussian":
        return tau + 2 * L
    if model == "coordinate":
        return tau
    raise InputError("model", f"spectrum classes exist for {', '.join(CLASS_MODELS)}, not {model!r}")


@lru_cache(maxsize=None)
def trace_formula(model: str) -> sp.Expr:
    """tau = tr H in terms of mu, L, kappa_bar, solved from kappa_bar mu = R^2(tau, L)."""
    t = sp.Symbol("t")
    return sp.solve(sp.Eq(r_squared(model, t, symbols.L), symbols.kappa_bar * symbols.mu), t)[0]


def trace_for_kappa_bar(model: str, mu, L, kappa_bar):
    """tau = tr H fixed by kappa_bar = R^2/mu (solved from :func:`r_squared`)."""
    return trace_formula(model).subs({symbols.mu: mu, symbols.L: L, symbols.kappa_bar: kappa_bar})


def kappa_bar_range(model: str, mu, L, d):
    """(min, max) of kappa_bar over C(mu, L, d): tau runs from (d - 1) mu + L to mu + (d - 1) L."""
    lo = r_squared(model, (d - 1) * mu + L, L) / mu
    hi = r_squared(model, mu + (d - 1) * L, L) / mu
    return lo, hi


def _lam_coeffs(expr) -> list:
    """Coefficients of ``expr`` as a polynomial in lambda, lowest degree first."""
    P = sp.Poly(sp.expand(expr), symbols.lam)
    return list(reversed(P.all_coeffs()))


@lru_cache(maxsize=None)
def lambda_polynomials(method: Method, noise: DecoupledNoise) -> dict:
    """phi = N/P and the block charpoly's Taylor coefficients at z, as polynomials in lambda.

    Returns a dict with ``num`` and ``den`` (lists of SymPy coefficients of lambda^0, lambda^1, ...,
    each an expression in :data:`COEFF_ARGS`) and ``taylor``: a list (k = 0..q) of such lists, the
    k-th Taylor coefficient in z of det(zI - D(lambda)) at z. The trace is tau = tau0 + tau1 lambda.
    """
    lam, z = symbols.lam, symbols.z
    tau_sub = {symbols.tau: TAU0 + TAU1 * lam}
    num, den = sp.fraction(sp.together(secular_term(method, noise, F_B)))
    lc = sp.Poly(sp.expand(den), z).LC()
    num, den = sp.expand(sp.cancel(num / lc)), sp.expand(sp.cancel(den / lc))
    if lc.has(lam):
        raise ValueError("phi's denominator has a leading coefficient in z that depends on lambda")
    D, _, _ = decoupled_block(method, noise, fB=F_B)
    char = charpoly(D)
    q = sp.Poly(char, z).degree()
    taylor = [sp.expand(sp.diff(char, z, k) / sp.factorial(k)) for k in range(q + 1)]
    out = {"num": _lam_coeffs(sp.expand(num.subs(tau_sub))), "den": _lam_coeffs(sp.expand(den.subs(tau_sub))),
           "taylor": [_lam_coeffs(sp.expand(t.subs(tau_sub))) for t in taylor]}
    return out
