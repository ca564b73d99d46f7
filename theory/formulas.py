"""Characteristic polynomials, deterministic optimal tunings and rates, condition numbers, rendering.

The deterministic (B = inf) tunings are derived from the first-moment blocks A + lambda b c^T by
balancing the extreme eigenvalues mu and L (MATH.md §6), then simplified to closed forms in kappa.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

from . import symbols
from .methods import Method, get_method
from .moments import decoupled_block
from .sampling import GAUSSIAN_NOISE, DecoupledNoise

eta, beta, lam, z = symbols.eta, symbols.beta, symbols.lam, symbols.z
mu, L, kappa = symbols.mu, symbols.L, symbols.kappa


def charpoly(M: sp.Matrix, var=z) -> sp.Expr:
    """det(var I - M), expanded: the characteristic polynomial of a square matrix M.

    Computed in M's polynomial domain (SymPy's ``DomainMatrix.charpoly``, division-free Berkowitz)
    instead of ``Matrix.det``, whose simplifying elimination took 78 s for a 6 x 6 second-moment block
    of a three-state method (0.09 s here, the same expression).

    >>> charpoly(sp.Matrix([[z, 1], [0, 2]]), sp.Symbol("x"))
    x**2 - x*z - 2*x + 2*z
    """
    from sympy.polys.matrices import DomainMatrix
    dM = DomainMatrix.from_Matrix(sp.Matrix(M))
    cs = dM.charpoly()
    n = len(cs) - 1
    return sp.expand(sp.Add(*[dM.domain.to_sympy(c) * var ** (n - k) for k, c in enumerate(cs)]))


def first_moment_charpoly(method: Method, lam=lam) -> sp.Expr:
    """det(z I - (A + lambda b c^T)), expanded in z."""
    return sp.collect(charpoly(method.block(lam)), z)


def second_moment_charpoly(method: Method, noise: DecoupledNoise = GAUSSIAN_NOISE, batch=symbols.B) -> sp.Expr:
    """det(z I - D(lambda)) of the decoupled per-eigenvalue second-moment block, expanded in z."""
    D, _, _ = decoupled_block(method, noise, batch)
    return sp.collect(charpoly(D), z)


@dataclass(frozen=True)
class DeterministicTuning:
    """Optimal constant parameters at B = inf and the resulting rates.

    ``contraction`` is the spectral radius of the first-moment operator (per step, on ||e||),
    ``rho`` = contraction^2 the rate of E||e_k||^2; ``conditions`` the equations that were solved.
    """

    method: str
    eta: sp.Expr
    beta: sp.Expr
    contraction: sp.Expr
    rho: sp.Expr
    conditions: tuple


_r = sp.Symbol("r", positive=True)            # sqrt(beta)
_m = sp.Symbol("m", positive=True)            # sqrt(mu)
_l = sp.Symbol("l", positive=True)            # sqrt(L)
_s = sp.Symbol("s", positive=True)            # sqrt(kappa) = l / m


def _charpoly_at(method: Method, lam_value, subs=None) -> sp.Poly:
    """Charpoly in z of the first-moment block at lambda = lam_value, with beta = r^2."""
    subs = dict(subs or {})
    subs.setdefault(beta, _r**2)
    return sp.Poly(first_moment_charpoly(method, lam_value).subs(subs), z)


def _in_kappa(expr: sp.Expr) -> sp.Expr:
    """Rewrite an expression in sqrt(mu) = m, sqrt(L) = l as a function of kappa (scale-invariant)."""
    out = sp.simplify(sp.factor(expr.subs(_l, _s * _m)))
    if out.has(_m):
        raise RuntimeError(f"not scale invariant: {out}")
    return sp.factor(out.subs(_s, sp.sqrt(kappa)))


def _in_mu_L(expr: sp.Expr) -> sp.Expr:
    return sp.factor(sp.simplify(expr.subs({_m: sp.sqrt(mu), _l: sp.sqrt(L), _r: sp.sqrt(beta)})))


def _critical_conditions(method: Method, lam_value, subs=None) -> sp.Expr:
    """Numerator of the discriminant of the block's charpoly: zero when the block is critically damped."""
    return sp.fraction(sp.factor(sp.discriminant(_charpoly_at(method, lam_value, subs))))[0]


def _double_root(method: Method, lam_value, subs) -> sp.Expr:
    """The (double) root -coeff_z / 2 of a critically damped 2 x 2 block."""
    return -_charpoly_at(method, lam_value, subs).coeff_monomial(z) / 2


@lru_cache(maxsize=None)
def deterministic_tuning(method_name: str) -> DeterministicTuning:
    """Derive the optimal (eta, beta) at B = inf from the first-moment blocks and simplify the rates.

    * no momentum: the nonzero eigenvalue r(lambda) of the block; solve r(mu) = -r(L).
    * heavy-ball, sgdm: both extreme blocks critically damped (discriminant 0 at mu and at L), the
      double root positive at mu and negative at L; contraction = |double root| = sqrt(beta).
    * nesterov: the step that makes the block at L nilpotent (charpoly z^2), then critical damping at
      mu with a positive double root; contraction = that root.
    All derivations run in m = sqrt(mu), l = sqrt(L), r = sqrt(beta), then are rewritten in kappa.
    """
    method = get_method(method_name)
    mu_, L_ = _m**2, _l**2

    if not method.uses_momentum:
        roots = sp.roots(_charpoly_at(method, lam))
        rt = next(x for x in roots if x != 0)
        cond = sp.Eq(rt.subs(lam, mu_), -rt.subs(lam, L_))
        eta_star = sp.solve(cond, eta)[0]
        contraction = rt.subs({lam: mu_, eta: eta_star})
        r_star = sp.Integer(0)
        conds = (cond,)
    elif method.name == "nesterov":
        top = _charpoly_at(method, L_)
        c_nil = sp.Eq(top.coeff_monomial(z), 0)
        eta_star = [e for e in sp.solve(c_nil, eta) if e.is_positive][0]
        c_mu = sp.Eq(_critical_conditions(method, mu_, {eta: eta_star}), 0)
        r_star = _pick_unit(sp.solve(c_mu, _r), lambda x: x,
                            lambda x: [_double_root(method, mu_, {eta: eta_star, _r: x}) > 0])
        contraction = _double_root(method, mu_, {eta: eta_star, _r: r_star})
        conds = (c_nil, c_mu)
    else:
        c_mu = sp.Eq(_critical_conditions(method, mu_), 0)
        c_L = sp.Eq(_critical_conditions(method, L_), 0)
        sols = sp.solve([c_mu, c_L], [eta, _r], dict=True)
        s = _pick_unit(sols, lambda x: x[_r],
                       lambda x: [x[eta] > 0, _double_root(method, mu_, x) > 0, _double_root(method, L_, x) < 0])
        eta_star, r_star = s[eta], s[_r]
        contraction = r_star                                            # |double root| = sqrt(beta)
        conds = (c_mu, c_L)

    beta_star = r_star**2
    contraction_k = _in_kappa(contraction)
    return DeterministicTuning(
        method.name, _in_mu_L(eta_star), _in_kappa(beta_star) if beta_star != 0 else beta_star,
        contraction_k, sp.factor(contraction_k**2), tuple(sp.Eq(_in_mu_L(c.lhs - c.rhs), 0) for c in conds))


def _pick_unit(cands, key, ok):
    """The unique candidate with key in (0, 1) and ``ok`` true at a sample point (mu = 1, L = 9)."""
    pt = {_m: 1, _l: 3}

    def at(c):
        return c.subs(pt) if isinstance(c, sp.Basic) else {k: v.subs(pt) for k, v in c.items()}

    good = [c for c in cands if 0 < key(at(c)) < 1 and all(bool(sp.sympify(v).subs(pt)) for v in ok(c))]
    if len(good) != 1:
        raise RuntimeError(f"expected one admissible solution, got {cands}")
    return good[0]


def gaussian_condition_numbers(spectrum) -> dict:
    """mu, L, tr H, R^2 = tr H + 2 L (from E[x x^T x x^T] = 2 H^2 + tr(H) H), kappa = L/mu, kappa_bar = R^2/mu."""
    lams = [sp.sympify(v) for v in spectrum]
    m, l, tr = sp.Min(*lams), sp.Max(*lams), sp.Add(*lams)
    R2 = tr + 2 * l
    return {"mu": m, "L": l, "trH": tr, "R2": R2, "kappa": l / m, "kappa_bar": R2 / m}


def gradient_second_moment(model) -> sp.Matrix:
    """E[G_xi^T G_xi]; R^2 is the smallest constant with E[G^T G] <= R^2 H (MATH.md §2)."""
    if model.name == "gaussian":
        H = model.hessian()
        return 2 * H * H + H.trace() * H
    p, X, Y = model.components()
    return sp.Matrix(sum((pi * (x.T * x)[0, 0] * y * y.T for pi, x, y in zip(p, X, Y)),
                         sp.zeros(model.d, model.d)))


def render(expr, latex: bool = False) -> str:
    """Plain text (SymPy's string form, parseable back) or LaTeX."""
    if isinstance(expr, sp.Eq):
        return (sp.latex(expr.lhs) + " = " + sp.latex(expr.rhs)) if latex else f"{expr.lhs} = {expr.rhs}"
    return sp.latex(expr) if latex else sp.sstr(expr)
