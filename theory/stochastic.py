"""Exact mean-square rates of mini-batch methods on gaussian spectra with few distinct eigenvalues.

For a spectrum with k distinct eigenvalues lambda_i of multiplicities m_i, the decoupled second-moment
operator (MATH.md §5) reduces, on the eigenvectors that are symmetric within each group of equal
eigenvalues, to T_k = blockdiag(D(lambda_i)) + (m_i u_i) v_j^T (size 3k for s = 2), and

    det(z I - T_k) = prod_i det(z I - D_i) * (1 - F(z)),   F(z) = sum_i m_i phi(z, lambda_i),

with phi = v^T (z I - D)^{-1} u = N / P (one cancelled fraction, ``theory.moments.secular_term``).
The remaining eigenvalues of T are those of the D_i (m_i - 1 more times each), all <= rho(T_k) since
T_k >= blockdiag(D_i) in the PSD-cone order. Hence

    rho(T) = largest real root of  Pfull(z) = det(z I - T_k)        (degree 3k),

and Pfull = E(z) * Q(z) with Q = prod P_i - sum_i m_i N_i prod_{j != i} P_j (the secular equation with
denominators cleared) and E = prod_i det(z I - D_i) / P_i (eigenvalues of D_i that phi does not see: the
"spurious" roots of F = 1 cleared with uncancelled denominators; for SGD E = z^(2k)). The rate is the
largest real root of Pfull = max(largest real root of Q, rho(D)) (MATH.md §5).

Closed forms derived here (never typed in): the isotropic spectrum (k = 1) for every method, the tuned
SGD step and rate on it, its stability limit and the batch where linear scaling ends; two-point spectra
{mu^m1, L^m2}: the polynomial and the optimal-tuning conditions.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

from . import symbols
from .errors import InputError
from .formulas import second_moment_charpoly
from .methods import Method, get_method
from .moments import secular_term
from .parse import parse_expression
from .sampling import GAUSSIAN_NOISE, batch_factor

z, eta, beta, lam, B = symbols.z, symbols.eta, symbols.beta, symbols.lam, symbols.B
F_B = sp.Symbol("f_B", nonnegative=True)        # the batch factor as a symbol (1/B, (n-B)/(B(n-1)), ...)
d = sp.Symbol("d", positive=True, integer=True)  # dimension
m1, m2, m3 = (sp.Symbol(f"m{i}", positive=True, integer=True) for i in (1, 2, 3))
m = sp.Symbol("m", positive=True, integer=True)

#: the names ``--spectrum`` may use (a whitelist; anything else is an InputError)
SPECTRUM_NAMES = {"L": symbols.L, "mu": symbols.mu, "kappa": symbols.kappa, "d": d, "m": m,
                  "m1": m1, "m2": m2, "m3": m3}
#: the names ``--batch`` may use besides integers and ``inf``
BATCH_NAMES = {"B": B, "n": symbols.n}


# --------------------------------------------------------------------------------------------------
# spectra with multiplicities
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Spectrum:
    """Distinct eigenvalues ``values`` with multiplicities ``mults`` (SymPy numbers or symbols)."""

    values: tuple
    mults: tuple

    @property
    def k(self) -> int:
        """Number of distinct eigenvalues."""
        return len(self.values)

    @property
    def dimension(self) -> sp.Expr:
        return sp.Add(*self.mults)

    def trace(self) -> sp.Expr:
        """tr H = sum_i m_i lambda_i."""
        return sp.Add(*[mi * vi for vi, mi in zip(self.values, self.mults)])

    def subs(self, values: dict) -> "Spectrum":
        return Spectrum(tuple(sp.sympify(v).subs(values) for v in self.values),
                        tuple(sp.sympify(mi).subs(values) for mi in self.mults))

    def expanded(self) -> list:
        """The d eigenvalues with repetition (numeric multiplicities only)."""
        out = []
        for v, mi in zip(self.values, self.mults):
            if not (mi.is_Integer and mi > 0):
                raise InputError("spectrum", f"multiplicity {mi} is not a positive integer")
            out += [v] * int(mi)
        return out

    def __str__(self) -> str:
        return ",".join(f"({sp.sstr(v)})^({sp.sstr(mi)})" for v, mi in zip(self.values, self.mults))

    def _repr_latex_(self) -> str:
        items = ", ".join(f"({sp.latex(v)})^{{{sp.latex(mi)}}}" for v, mi in zip(self.values, self.mults))
        return rf"$\{{{items}\}}$"


def _split_top_level(text: str, sep: str) -> list[str]:
    """Split at ``sep`` characters outside parentheses."""
    depth, parts, cur = 0, [], ""
    for ch in text:
        depth += (ch == "(") - (ch == ")")
        if ch == sep and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    return parts + [cur]


def _check_value(v: sp.Expr, item: str):
    if v.is_number:
        if not (v.is_real and v > 0):
            raise InputError("spectrum", f"eigenvalue {item!r} must be > 0")
    elif v.is_positive is False:
        raise InputError("spectrum", f"eigenvalue {item!r} is not positive")


def _check_mult(mi: sp.Expr, item: str):
    if mi.is_number:
        if not (mi.is_Integer and mi >= 1):
            raise InputError("spectrum", f"multiplicity in {item!r} must be an integer >= 1, got {mi}")
    elif mi.is_positive is False or mi.is_integer is False or (mi - 1).is_negative:
        raise InputError("spectrum", f"multiplicity in {item!r} must be an integer >= 1, got {mi}")


def parse_spectrum(text: str, param: str = "spectrum") -> Spectrum:
    """Parse ``"L^m1,mu^m2"``, ``"1^d"``, ``"L^1,mu^(d-1)"``, ``"4,1^3"`` into a :class:`Spectrum`.

    Items are comma-separated; in each, the last ``^`` outside parentheses separates the eigenvalue from
    its multiplicity (write ``(L^2)^3`` for the eigenvalue L^2 with multiplicity 3); an item without
    ``^`` has multiplicity 1. Names come from :data:`SPECTRUM_NAMES` (a whitelist parser, no eval).
    """
    if not isinstance(text, str) or not text.strip():
        raise InputError(param, "empty spectrum")
    values, mults = [], []
    for item in _split_top_level(text.strip(), ","):
        item = item.strip()
        if not item:
            raise InputError(param, f"empty item in {text!r}")
        pieces = _split_top_level(item, "^")
        if len(pieces) >= 2:
            val_text, mult_text = "^".join(pieces[:-1]), pieces[-1]
        else:
            val_text, mult_text = item, "1"
        v = parse_expression(val_text, SPECTRUM_NAMES, param)
        mi = parse_expression(mult_text, SPECTRUM_NAMES, param)
        _check_value(v, item)
        _check_mult(mi, item)
        if any(sp.simplify(v - w) == 0 for w in values):
            raise InputError(param, f"eigenvalue {val_text!r} appears twice (merge it into one multiplicity)")
        values.append(v)
        mults.append(mi)
    return Spectrum(tuple(values), tuple(mults))


def parse_batch_expr(text, param: str = "batch"):
    """``--batch``: an integer >= 1, ``inf``, or an expression in B and n (default: the symbol B)."""
    if text is None:
        return B
    t = str(text).strip()
    if t.lower() in ("inf", "infinity", "oo"):
        return sp.oo
    val = parse_expression(t, BATCH_NAMES, param)
    if val.is_number and not (val.is_Integer and val >= 1):
        raise InputError(param, f"must be an integer >= 1, 'inf' or an expression in B, n; got {text!r}")
    return val


def batch_factor_expr(batch=B, n=None, without_replacement: bool = False) -> sp.Expr:
    """f_B (``theory.sampling.batch_factor``), accepting ``sp.oo`` for the deterministic limit."""
    if batch is sp.oo or batch == math.inf:
        return sp.Integer(0)
    return batch_factor(batch, n, without_replacement)


# --------------------------------------------------------------------------------------------------
# the rate polynomial
# --------------------------------------------------------------------------------------------------
def _method(method) -> Method:
    return get_method(method) if isinstance(method, str) else method


@lru_cache(maxsize=None)
def _pieces(method: Method):
    """(N, P, E): phi = N / P cancelled, E = det(zI - D) / P, as polynomials in z (f_B symbolic)."""
    num, den = sp.fraction(secular_term(method, GAUSSIAN_NOISE, F_B))
    full = second_moment_charpoly(method, GAUSSIAN_NOISE, batch=1 / F_B)   # f_B = 1 / (1 / f_B)
    lead = sp.Poly(den, z).LC()
    num, den = sp.expand(num / lead), sp.expand(den / lead)             # make P monic in z
    extra, rem = sp.div(sp.Poly(full, z), sp.Poly(den, z))
    if not rem.is_zero:
        raise RuntimeError("P does not divide det(zI - D)")
    return num, den, sp.factor(extra.as_expr())


@dataclass(frozen=True)
class RatePolynomial:
    """The polynomial whose largest real root is rho(T), and its parts.

    full      : det(z I - T_k) = extra * secular, degree 3k (s = 2); rho(T) = its largest real root.
    secular   : Q(z), numerator of 1 - F(z) over the product of the cancelled denominators P_i.
    extra     : prod_i det(z I - D_i) / P_i (roots that F = 1 does not have; z^(2k) for SGD).
    secular_fn: F(z) = sum_i m_i phi(z, lambda_i) as a sum of fractions.
    spectrum, method, fB : the inputs (fB the batch factor substituted for f_B).
    """

    method: str
    spectrum: Spectrum
    fB: sp.Expr
    full: sp.Expr
    secular: sp.Expr
    extra: sp.Expr
    secular_fn: sp.Expr

    @property
    def degree(self) -> int:
        """Degree of ``full`` in z, read term by term (``full`` is sum_e c_e z^e with each c_e free of z;
        converting it to a Poly expands the factored c_e: seconds for Nesterov on two eigenvalues)."""
        return max(sp.Poly(t.as_independent(z, as_Add=False)[1], z).degree() for t in sp.Add.make_args(self.full))

    def coefficients(self) -> list:
        """Coefficients of ``full`` in z, highest degree first."""
        return sp.Poly(self.full, z).all_coeffs()

    def _repr_latex_(self) -> str:
        return rf"$\det(zI - T_k) = {sp.latex(self.extra)} \cdot \left({sp.latex(self.secular)}\right)$"


def rate_polynomial(method, spectrum: Spectrum, batch=B, n=None, without_replacement: bool = False,
                    fB=None) -> RatePolynomial:
    """det(z I - T_k) for the gaussian model on ``spectrum`` (MATH.md §5), with its secular factor.

    ``fB`` overrides the batch factor (give the symbol ``F_B`` to keep it abstract).
    """
    method = _method(method)
    f = batch_factor_expr(batch, n, without_replacement) if fB is None else sp.sympify(fB)
    N, P, E = _pieces(method)
    Ns = [sp.expand(N.subs(lam, v)) for v in spectrum.values]
    Ps = [sp.expand(P.subs(lam, v)) for v in spectrum.values]
    Es = [E.subs(lam, v) for v in spectrum.values]
    # Q = prod_i P_i - sum_i m_i N_i prod_{j != i} P_j as polynomials in z over the ring (or field) of
    # the other symbols (expanding expressions instead took seconds for Nesterov on two eigenvalues);
    # then f_B substituted in each coefficient
    PP = [sp.Poly(e, z) for e in Ps]
    Qp = _product(PP) - sum((sp.Poly(mi * Ni, z) * _product(PP[:i] + PP[i + 1:])
                             for i, (Ni, mi) in enumerate(zip(Ns, spectrum.mults))), sp.Poly(0, z))
    sub = {F_B: f}
    terms = _factored_terms(Qp, sub)
    Q = _collect(terms)
    extra = sp.factor(sp.Mul(*Es).subs(sub))
    shift = _z_power(extra)
    if shift is None:
        full = _collect(_factored_terms(sp.Poly(sp.expand(Q * extra), z)))
    else:              # extra = z^k (every registered method): full's coefficients are Q's, shifted
        full = _collect([(e + shift, c) for e, c in terms])
    F = sp.Add(*[mi * (Ni / Pi).subs(sub) for Ni, Pi, mi in zip(Ns, Ps, spectrum.mults)])
    return RatePolynomial(method.name, spectrum, f, full, Q, extra, F)


def _factored_terms(p: sp.Poly, sub=None) -> list:
    """[(e, c_e)] of the polynomial ``p`` in z, ``sub`` substituted in each coefficient and each one
    factored (readable, still exact); the coefficients that vanish are left out."""
    terms = [(e, sp.factor(c.subs(sub) if sub else c)) for (e,), c in p.terms()]
    return [(e, c) for e, c in terms if c != 0]


def _product(polys):
    out = sp.Poly(1, z)
    for q in polys:
        out = out * q
    return out


def _collect(terms) -> sp.Expr:
    """sum_e c_e z^e."""
    return sp.Add(*[c * z**e for e, c in terms])


def _z_power(expr: sp.Expr):
    """k where ``expr`` is z^k (k >= 0), else None."""
    p = sp.Poly(expr, z)
    return p.degree() if p.is_monomial and p.LC() == 1 else None


# --------------------------------------------------------------------------------------------------
# isotropic spectrum (k = 1): explicit roots and the tuned SGD closed forms
# --------------------------------------------------------------------------------------------------
ISOTROPIC = Spectrum((sp.Integer(1),), (d,))


def isotropic_roots(method, batch=B, spectrum: Spectrum = None) -> tuple[RatePolynomial, list]:
    """Roots in z of the secular factor for H = I_d (explicit; Cardano for the cubics).

    rho(T) is the largest real root of det(zI - T_1) = extra * Q; the extra factor is z^2 for SGD and 1
    for the momentum methods, so rho(T) is the largest real root of Q (here, for z > 0).
    """
    rp = rate_polynomial(method, ISOTROPIC if spectrum is None else spectrum, batch)
    roots = sp.roots(sp.Poly(rp.secular, z), multiple=True)
    return rp, roots


@dataclass(frozen=True)
class IsotropicSGD:
    """Tuned SGD on H = I_d with batch B, derived from the rate polynomial.

    rho_of_eta : rho(eta) (the secular root);  eta_opt, rho_opt : argmin and min over eta;
    eta_max : the stability limit rho(eta) = 1;  batch_critical : where the small-B asymptote of eta_opt
    (linear scaling eta ~ c B) meets its large-B limit;  K_times_B : B K at the optimum as B -> 0
    (perfect scaling constant);  conditions : the equations that were solved.
    """

    rho_of_eta: sp.Expr
    eta_opt: sp.Expr
    rho_opt: sp.Expr
    eta_max: sp.Expr
    batch_critical: sp.Expr
    eta_linear_slope: sp.Expr
    eta_large_batch: sp.Expr
    conditions: tuple


def isotropic_sgd(spectrum: Spectrum = None, batch=B) -> IsotropicSGD:
    """Derive eta_opt = argmin_eta rho(eta), rho_opt, eta_max and the critical batch for H = c I_d
    (default c = 1): rho(eta) is the root of the (linear) secular factor."""
    return _isotropic_sgd(ISOTROPIC if spectrum is None else spectrum, sp.sympify(batch))


@lru_cache(maxsize=None)
def _isotropic_sgd(spectrum: Spectrum, batch) -> IsotropicSGD:
    if spectrum.k != 1:
        raise InputError("spectrum", "the isotropic closed forms need one distinct eigenvalue")
    rp = rate_polynomial("sgd", spectrum, batch)
    (rho_eta,) = sp.solve(rp.secular, z)
    stationary = sp.Eq(sp.diff(rho_eta, eta), 0)
    (eta_opt,) = sp.solve(stationary, eta)
    rho_opt = sp.factor(rho_eta.subs(eta, eta_opt))
    stable = [e for e in sp.solve(sp.Eq(rho_eta, 1), eta) if e != 0]
    (eta_max,) = stable if stable else (sp.oo,)
    slope = top = b_crit = sp.nan
    if batch.has(B):
        slope = sp.limit(eta_opt / B, B, 0)        # eta_opt ~ slope * B as B -> 0 (linear scaling)
        top = sp.limit(eta_opt, B, sp.oo)          # eta_opt -> top as B -> oo
        (b_crit,) = sp.solve(sp.Eq(slope * B, top), B)
    return IsotropicSGD(sp.factor(rho_eta), sp.factor(eta_opt), rho_opt, sp.factor(eta_max),
                        sp.factor(b_crit), slope, top,
                        (sp.Eq(rp.secular, 0), stationary, sp.Eq(rho_eta, 1)))


# --------------------------------------------------------------------------------------------------
# two-point spectra {mu^m1, L^m2}
# --------------------------------------------------------------------------------------------------
TWO_POINT = Spectrum((symbols.mu, symbols.L), (m1, m2))


@dataclass(frozen=True)
class TuningConditions:
    """Equations whose solutions contain the optimal tuning, in the unknowns (z, eta[, beta]).

    smooth : Q = 0 with grad_(eta, beta) Q = 0 (an interior optimum where the top root is simple:
             dz = -grad Q / Q_z = 0).
    eliminated : for SGD, the resultant of Q and dQ/deta in z: a polynomial in eta alone that the
             tuned step is a root of (factored; the tuned rate is then the top root of Q).
    collision : Q = 0 and dQ/dz = 0 (the top root is double: the optimum of a max of roots can sit where
             two real roots meet; with the smooth conditions on the other parameter).
    """

    method: str
    unknowns: tuple
    smooth: tuple
    collision: tuple
    eliminated: sp.Expr | None


def tuning_conditions(method, spectrum: Spectrum = TWO_POINT, batch=B, eliminate: bool = True) -> TuningConditions:
    """Optimal-tuning conditions for ``method`` on ``spectrum`` (polynomial equations in z, eta, beta)."""
    method = _method(method)
    rp = rate_polynomial(method, spectrum, batch)
    Q = rp.secular
    if method.uses_momentum:
        params = (eta, beta)
    else:
        params = (eta,)
        Q = Q.subs(beta, 0)
    smooth = (sp.Eq(Q, 0),) + tuple(sp.Eq(sp.expand(sp.diff(Q, p)), 0) for p in params)
    collision = (sp.Eq(Q, 0), sp.Eq(sp.expand(sp.diff(Q, z)), 0)) + \
        tuple(sp.Eq(sp.expand(sp.diff(Q, p)), 0) for p in params[1:])
    elim = None
    if eliminate and not method.uses_momentum:
        elim = sp.factor(sp.resultant(sp.expand(Q), sp.expand(sp.diff(Q, eta)), z))
    return TuningConditions(method.name, (z,) + params, smooth, collision, elim)
