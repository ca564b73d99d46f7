"""Theory's expressions turned into numeric kernels (lambdify), and the second-moment operator T
applied to numeric matrices (MATH.md §4):

    T(S) = Mbar S Mbar^T + (b b^T) ⊗ C_B(Y),  Y = (c^T ⊗ I) S (c ⊗ I),  Mbar = A ⊗ I + b c^T ⊗ H,
    C_B(Y) = f_B (E[G Y G^T] - H Y H^T).

For decoupled models (MATH.md §5) the per-eigenvalue blocks D(lambda_i), couplings u_i, v_i and the
secular term phi(z, lambda) come from ``theory.moments`` through lambdify, vectorised over lambda and
over parameter grids.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import sympy as sp

from ..theory import symbols
from ..theory.methods import Method, get_method
from ..theory.moments import decoupled_block, secular_term, vech_index
from ..theory.sampling import DecoupledNoise, SamplingModel

F_B = sp.Symbol("f_B", nonnegative=True)
_ARGS = (symbols.lam, symbols.eta, symbols.beta, F_B, symbols.tau)


def as_method(method) -> Method:
    return get_method(method) if isinstance(method, str) else method


def _broadcast_entries(funcs, shape_tail, vals, dtype=float):
    shape = np.broadcast(*[np.asarray(v) for v in vals]).shape
    out = np.empty(shape + (len(funcs),), dtype=dtype)
    for k, g in enumerate(funcs):
        out[..., k] = g(*vals)
    return out.reshape(shape + shape_tail)


def lambdify_matrix(M: sp.Matrix, args, module: str = "numpy"):
    """f(*args) -> array of shape broadcast(args).shape + M.shape, entries lambdified one by one."""
    funcs = [sp.lambdify(args, e, module) for e in M]
    if module == "mpmath":
        import mpmath as mp
        return lambda *vals: mp.matrix([[funcs[i * M.shape[1] + j](*vals) for j in range(M.shape[1])]
                                        for i in range(M.shape[0])])
    return lambda *vals: _broadcast_entries(funcs, M.shape, vals)


@lru_cache(maxsize=None)
def triple_kernel(method: Method, module: str = "numpy"):
    """(eta, beta) -> (A, b, c) as arrays (or mpmath matrices)."""
    args = (symbols.eta, symbols.beta)
    fA, fb, fc = (lambdify_matrix(m, args, module) for m in (method.A, method.b, method.c))
    if module == "mpmath":
        return lambda e, bt: (fA(e, bt), fb(e, bt), fc(e, bt))
    return lambda e, bt: (fA(e, bt), fb(e, bt)[..., 0], fc(e, bt)[..., 0])


def method_arrays(method, lr, momentum):
    """Float (A (s, s), b (s,), c (s,)) of a method at step ``lr`` and momentum ``momentum``."""
    return triple_kernel(as_method(method))(float(lr), float(momentum))


def init_weights(method, lr, momentum) -> np.ndarray:
    """w (s,) with z_0 = w ⊗ e_0: the method's ``init`` (all ones by default) at (lr, momentum)."""
    m = as_method(method)
    w = m.init_vector().subs({symbols.eta: lr, symbols.beta: momentum})
    return np.array([float(x) for x in w], dtype=float)


@lru_cache(maxsize=None)
def decoupled_kernel(method: Method, noise: DecoupledNoise, module: str = "numpy"):
    """(lambda, eta, beta, f_B, tau) -> (D (..., k, k), u (..., k), v (..., k)), k = s(s+1)/2."""
    D, u, v = decoupled_block(method, noise, fB=F_B)
    fD, fu, fv = (lambdify_matrix(m, _ARGS, module) for m in (D, u, v))
    if module == "mpmath":
        return lambda *a: (fD(*a), fu(*a), fv(*a))
    return lambda *a: (fD(*a), fu(*a)[..., 0], fv(*a)[..., 0])


@lru_cache(maxsize=None)
def secular_kernel(method: Method, noise: DecoupledNoise, module: str = "numpy"):
    """(z, lambda, eta, beta, f_B, tau) -> phi(z, lambda) = v^T (z I - D)^{-1} u (one fraction)."""
    return sp.lambdify((symbols.z,) + _ARGS, secular_term(method, noise, F_B), module)


def batch_factor_value(model: SamplingModel, batch) -> float:
    """f_B as a float (0 at batch = inf)."""
    return 0.0 if batch == math.inf else float(model.batch_factor(batch))


class DecoupledProblem:
    """Arrays of the decoupled reduction T = blockdiag(D_i) + u v^T for one parameter point.

    Attributes: ``lam`` (d,), ``D`` (d, k, k), ``u`` (d, k), ``v`` (d, k), ``fB``, ``tau`` = tr H.
    """

    def __init__(self, method, model: SamplingModel, batch, lr, momentum):
        if model.decoupled is None:
            raise ValueError(f"model {model.name} is not decoupled")
        self.method, self.model = as_method(method), model
        self.batch = batch
        self.lam = model.spectrum_array(np)
        self.fB = batch_factor_value(model, batch)
        self.tau = float(np.sum(self.lam))
        self.lr, self.momentum = float(lr), float(momentum)
        self.D, self.u, self.v = decoupled_kernel(self.method, model.decoupled)(
            self.lam, self.lr, self.momentum, self.fB, self.tau)

    def __repr__(self) -> str:
        return (f"DecoupledProblem(method={self.method.name!r}, model={self.model!r}, batch={self.batch!r}, "
                f"lr={self.lr!r}, momentum={self.momentum!r})")

    def secular(self, z):
        """F(z) = sum_i phi(z, lambda_i) evaluated with the lambdified closed-form fraction."""
        phi = secular_kernel(self.method, self.model.decoupled)
        z = np.asarray(z, dtype=float)
        return np.sum(phi(z[..., None], self.lam, self.lr, self.momentum, self.fB, self.tau), axis=-1)

    def dense(self) -> np.ndarray:
        """blockdiag(D_i) + u v^T as a dense (d k) x (d k) matrix (small d only)."""
        d, k = self.u.shape
        T = np.zeros((d * k, d * k))
        for i in range(d):
            T[i * k:(i + 1) * k, i * k:(i + 1) * k] = self.D[i]
        return T + np.outer(self.u.ravel(), self.v.ravel())


class SecondMomentOperator:
    """T on symmetric (s d) x (s d) matrices for any model, applied matrix-free.

    E[G Y G^T] is the model's ``second_moment_array`` on its ``operator_data`` (no case analysis here).
    Cost per application: O((s d)^3) for Mbar S Mbar^T plus O(n d^2) for rank-one components
    (E[G Y G^T] = sum_i p_i (y_i^T Y y_i) x_i x_i^T), O(d^3) for gaussian (2 H Y H + tr(H Y) H).
    """

    def __init__(self, method, model: SamplingModel, batch, lr, momentum):
        self.method, self.model = as_method(method), model
        self.batch, self.lr, self.momentum = batch, lr, momentum
        self.A, self.b, self.c = method_arrays(self.method, lr, momentum)
        self.H = model.hessian_array(np)
        self.d, self.s = self.H.shape[0], self.A.shape[0]
        self.fB = batch_factor_value(model, batch)
        self.Mbar = np.kron(self.A, np.eye(self.d)) + np.kron(np.outer(self.b, self.c), self.H)
        self.data = model.operator_data(np)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(method={self.method.name!r}, model={self.model!r}, "
                f"batch={getattr(self, 'batch', None)!r}, lr={getattr(self, 'lr', None)!r}, "
                f"momentum={getattr(self, 'momentum', None)!r})")

    def second_moment(self, Y: np.ndarray) -> np.ndarray:
        """E[G_xi Y G_xi^T] for one draw (the model's own formula, on float arrays)."""
        return self.model.second_moment_array(Y, self.data, np)

    def covariance(self, Y: np.ndarray) -> np.ndarray:
        """C_B(Y) = f_B (E[G Y G^T] - H Y H^T)."""
        if self.fB == 0.0:
            return np.zeros_like(Y)
        return self.fB * (self.second_moment(Y) - self.H @ Y @ self.H.T)

    def output_moment(self, S: np.ndarray) -> np.ndarray:
        """Y = (c^T ⊗ I) S (c ⊗ I) = sum_{a, b} c_a c_b S_ab (d x d blocks)."""
        d = self.d
        blocks = S.reshape(self.s, d, self.s, d)
        return np.einsum("a,b,aibj->ij", self.c, self.c, blocks)

    def apply(self, S: np.ndarray) -> np.ndarray:
        """T(S) for one symmetric (s d) x (s d) matrix."""
        out = self.Mbar @ S @ self.Mbar.T
        return out + np.kron(np.outer(self.b, self.b), self.covariance(self.output_moment(S)))

    def vech_matrix(self) -> np.ndarray:
        """Dense matrix of T in the vech basis (size m = sd(sd+1)/2; small d only)."""
        m = self.s * self.d
        idx = vech_index(m)
        rows, cols = np.array([i for i, _ in idx]), np.array([j for _, j in idx])
        T = np.empty((len(idx), len(idx)))
        for k, (i, j) in enumerate(idx):
            E = np.zeros((m, m))
            E[i, j] = E[j, i] = 1.0
            T[:, k] = self.apply(E)[rows, cols]
        return T

    def iterate(self, S0: np.ndarray, steps: int) -> list[np.ndarray]:
        """S_0, T(S_0), ..., T^steps(S_0): the exact second-moment recursion."""
        out = [S0]
        for _ in range(steps):
            out.append(self.apply(out[-1]))
        return out


# --------------------------------------------------------------------------------------------------
# polynomial coefficients in z (added for numerics.spectral / numerics.certify)
# --------------------------------------------------------------------------------------------------
def _coefficient_kernel(coeffs, args, module: str):
    """f(*args) -> array (..., len(coeffs)) (numpy) or list of values (``mpmath``, ``arb``)."""
    if module == "numpy":
        f = lambdify_matrix(sp.Matrix([coeffs]), args, module)
        return lambda *vals: f(*vals)[..., 0, :]
    if module == "arb":         # python-flint intervals: rationals become arb(p)/arb(q) enclosures
        import flint
        module = [{"mpf": flint.arb, "sqrt": lambda x: flint.arb(x).sqrt()}, "mpmath"]
    funcs = [sp.lambdify(args, c, module) for c in coeffs]
    return lambda *vals: [g(*vals) for g in funcs]


def _monic_coefficients(poly_expr, lead=None):
    """Coefficients in z (highest first) of a polynomial, divided by ``lead`` (default its own LC)."""
    P = sp.Poly(sp.expand(poly_expr), symbols.z)
    lc = P.LC() if lead is None else lead
    return [sp.cancel(c / lc) for c in P.all_coeffs()], lc


@lru_cache(maxsize=None)
def secular_poly_kernel(method: Method, noise: DecoupledNoise, module: str = "numpy"):
    """(lambda, eta, beta, f_B, tau) -> (num, den): phi(z, lambda) = num(z) / den(z), coefficients in z
    highest degree first, ``den`` monic (from theory's secular term)."""
    num, den = sp.fraction(sp.together(secular_term(method, noise, F_B)))
    dcoef, lc = _monic_coefficients(den)
    ncoef, _ = _monic_coefficients(num, lc)
    return _coefficient_kernel(ncoef, _ARGS, module), _coefficient_kernel(dcoef, _ARGS, module)


@lru_cache(maxsize=None)
def block_charpoly_kernel(method: Method, noise: DecoupledNoise, module: str = "numpy"):
    """(lambda, eta, beta, f_B, tau) -> coefficients of det(z I - D(lambda)) (monic, highest first)."""
    D, _, _ = decoupled_block(method, noise, fB=F_B)
    coef, _ = _monic_coefficients((symbols.z * sp.eye(D.shape[0]) - D).det())
    return _coefficient_kernel(coef, _ARGS, module)


@lru_cache(maxsize=None)
def first_moment_charpoly_kernel(method: Method, module: str = "numpy"):
    """(lambda, eta, beta) -> coefficients of det(z I - (A + lambda b c^T)) (monic, highest first)."""
    M = method.block(symbols.lam)
    coef, _ = _monic_coefficients((symbols.z * sp.eye(M.shape[0]) - M).det())
    return _coefficient_kernel(coef, (symbols.lam, symbols.eta, symbols.beta), module)


@lru_cache(maxsize=None)
def secular_weight_kernel(method: Method, noise: DecoupledNoise):
    """phi(z, lambda) = w(lambda) h(z) / den(z) when theory's numerator factors so (it does for sgd,
    heavy-ball, sgdm); returns (w(lambda, eta, beta, f_B, tau), h-coefficients(eta, beta, f_B, tau))
    as numpy kernels, or None. Then F(z) = h(z) sum_i w_i / den_i(z): one division per eigenvalue."""
    num, den = sp.fraction(sp.together(secular_term(method, noise, F_B)))
    if num == 0:
        return None
    lc = sp.Poly(sp.expand(den), symbols.z).LC()
    parts = sp.Mul.make_args(sp.factor(num / lc))
    w = sp.Mul(*[p for p in parts if not p.has(symbols.z)])
    h = sp.Mul(*[p for p in parts if p.has(symbols.z)])
    if h.has(symbols.lam):
        return None
    hcoef, _ = _monic_coefficients(h, sp.Integer(1))
    kw = sp.lambdify(_ARGS, w, "numpy")
    kh = _coefficient_kernel(hcoef, _ARGS[1:], "numpy")
    return kw, kh


def _lambda_poly_kernel(exprs):
    """Kernel for a list of expressions polynomial in lambda: f(lam (d,), eta, beta, f_B, tau as (G, 1)
    arrays or scalars) -> list of (G, d) arrays, by Horner in lambda with lambdified coefficients in the
    parameters (a few operations per entry instead of the expanded expression)."""
    lam, rest = _ARGS[0], _ARGS[1:]
    plans = []
    for e in exprs:
        e = sp.expand(e)
        try:
            coeffs = sp.Poly(e, lam).all_coeffs() if e.has(lam) else [e]
        except sp.PolynomialError:
            coeffs = None
        if coeffs is None:
            plans.append(("direct", sp.lambdify(_ARGS, e, "numpy")))
        else:
            plans.append(("horner", [sp.lambdify(rest, c, "numpy") for c in coeffs]))

    def run(L, *params):
        shape = np.broadcast(L, *params).shape
        out = []
        for kind, f in plans:
            if kind == "direct":
                out.append(np.ascontiguousarray(np.broadcast_to(f(L, *params), shape), dtype=float))
                continue
            acc = np.broadcast_to(np.asarray(f[0](*params), dtype=float), shape).copy()
            for g in f[1:]:
                acc *= L
                acc += g(*params)
            out.append(acc)
        return out
    return run


@lru_cache(maxsize=None)
def secular_grid_kernel(method: Method, noise: DecoupledNoise):
    """(lam (1, d), eta, beta, f_B, tau as (G, 1)) -> dict of (G, d) coefficient arrays for the grid
    solver: ``den`` (monic, without the leading 1), ``char`` (det(zI - D), monic, without the leading
    1; the same list object as ``den`` when the two coincide), and either ``w`` with ``h`` (coefficient
    kernel in the parameters, F = h(z) sum_i w_i/den_i(z)) or ``num``."""
    num, den = sp.fraction(sp.together(secular_term(method, noise, F_B)))
    dcoef, lc = _monic_coefficients(den)
    D, _, _ = decoupled_block(method, noise, fB=F_B)
    ccoef, _ = _monic_coefficients((symbols.z * sp.eye(D.shape[0]) - D).det())
    same = len(dcoef) == len(ccoef) and all(sp.simplify(a - b) == 0 for a, b in zip(dcoef, ccoef))
    kden = _lambda_poly_kernel(dcoef[1:])
    kchar = None if same else _lambda_poly_kernel(ccoef[1:])
    fac = secular_weight_kernel(method, noise)
    kw = None
    if fac is not None:
        parts = sp.Mul.make_args(sp.factor(num / lc))
        kw = _lambda_poly_kernel([sp.Mul(*[p for p in parts if not p.has(symbols.z)])])
    ncoef, _ = _monic_coefficients(num, lc) if num != 0 else ([sp.Integer(0)], None)
    knum = _lambda_poly_kernel(ncoef)

    def run(L, e, b, f, tau):
        out = {"den": kden(L, e, b, f, tau)}
        out["char"] = out["den"] if kchar is None else kchar(L, e, b, f, tau)
        if fac is not None:
            out["w"] = kw(L, e, b, f, tau)[0]
            out["h"] = fac[1]
        else:
            out["num"] = knum(L, e, b, f, tau)
        return out
    return run


# --------------------------------------------------------------------------------------------------
# pair responses (added for the matrix-free route of numerics.spectral)
# --------------------------------------------------------------------------------------------------
LAM_I, LAM_J = sp.symbols("lambda_i lambda_j", positive=True)


@lru_cache(maxsize=None)
def pair_response(method: Method) -> sp.Expr:
    """psi(z, lambda_i, lambda_j) = c^T X c with z X - M_i X M_j^T = b b^T, M = A + lambda b c^T:
    the resolvent of the deterministic map S -> Mbar S Mbar^T seen through the gradient feedback,
    sum_k (c^T M_i^k b)(c^T M_j^k b) z^(-k-1). In H's eigenbasis T = K + N with K(S) = Mbar S Mbar^T,
    and z > rho(K) is an eigenvalue of T iff 1 is an eigenvalue of Y -> Psi(z) o C_B(Y) (Hadamard)."""
    Mi, Mj = method.block(LAM_I), method.block(LAM_J)
    s = method.s
    X = sp.Matrix(s, s, sp.symbols(f"x0:{s * s}"))
    eqs = list(symbols.z * X - Mi * X * Mj.T - method.b * method.b.T)
    sol = sp.solve(eqs, list(X), dict=True)[0]
    return sp.factor(sp.cancel((method.c.T * X.subs(sol) * method.c)[0, 0]))


@lru_cache(maxsize=None)
def pair_response_kernel(method: Method):
    """(z, lambda_i, lambda_j, eta, beta) -> psi (numpy, broadcasting)."""
    return sp.lambdify((symbols.z, LAM_I, LAM_J, symbols.eta, symbols.beta), pair_response(method), "numpy")


@lru_cache(maxsize=None)
def secular_lambda_kernel(method: Method, noise: DecoupledNoise, module: str = "mpmath"):
    """Scalar kernels for the multiprecision secular route: (eta, beta, f_B, tau) -> a function of lambda
    giving ``den`` (monic coefficients of phi's denominator, leading 1 dropped), ``char`` (of
    det(zI - D), or None when equal to ``den``) and either ``w`` (phi = w(lambda) h(z)/den(z)) with
    ``h`` coefficients, or ``num`` coefficients; each coefficient is a polynomial in lambda evaluated by
    Horner (a few operations per eigenvalue)."""
    lam = _ARGS[0]
    num, den = sp.fraction(sp.together(secular_term(method, noise, F_B)))
    dcoef, lc = _monic_coefficients(den)
    D, _, _ = decoupled_block(method, noise, fB=F_B)
    ccoef, _ = _monic_coefficients((symbols.z * sp.eye(D.shape[0]) - D).det())
    same = len(dcoef) == len(ccoef) and all(sp.simplify(a - b) == 0 for a, b in zip(dcoef, ccoef))
    fac = secular_weight_kernel(method, noise)
    parts = {"den": dcoef[1:], "char": None if same else ccoef[1:]}
    if fac is not None:
        factors = sp.Mul.make_args(sp.factor(num / lc))
        parts["w"] = [sp.Mul(*[p for p in factors if not p.has(symbols.z)])]
        parts["h"] = _monic_coefficients(sp.Mul(*[p for p in factors if p.has(symbols.z)]), sp.Integer(1))[0]
    else:
        parts["num"] = _monic_coefficients(num, lc)[0] if num != 0 else [sp.Integer(0)]

    def lam_poly(e):
        e = sp.expand(e)
        cs = sp.Poly(e, lam).all_coeffs() if e.has(lam) else [e]
        return [sp.lambdify(_ARGS[1:], c, module) for c in cs]

    plans = {k: (None if v is None else ([sp.lambdify(_ARGS[1:], c, module) for c in v] if k == "h"
                                          else [lam_poly(c) for c in v])) for k, v in parts.items()}

    def bind(*params):
        bound = {k: (None if v is None else ([f(*params) for f in v] if k == "h"
                                              else [[f(*params) for f in cs] for cs in v]))
                 for k, v in plans.items()}

        def at(x):
            out = {}
            for k, v in bound.items():
                if v is None or k == "h":
                    out[k] = v
                    continue
                vals = []
                for cs in v:
                    acc = cs[0]
                    for c in cs[1:]:
                        acc = acc * x + c
                    vals.append(acc)
                out[k] = vals
            return out
        return at
    return bind


def _abs_expanded(e) -> sp.Expr:
    """Sum of the absolute values of the monomials of ``e`` expanded (all symbols are >= 0): the scale
    of the rounding error made when ``e`` is evaluated in its expanded form."""
    return sp.Add(*[sp.Abs(t) for t in sp.Add.make_args(sp.expand(e))])


@lru_cache(maxsize=None)
def secular_magnitude_kernel(method: Method, noise: DecoupledNoise):
    """Like :func:`secular_grid_kernel`, but each coefficient replaced by the sum of the absolute values
    of its monomials (``den`` and ``w`` or ``num``): the error bound of the double route multiplies
    these by the unit roundoff (expanded coefficients cancel badly, e.g. near beta = 1)."""
    num, den = sp.fraction(sp.together(secular_term(method, noise, F_B)))
    dcoef, lc = _monic_coefficients(den)
    kden = _lambda_poly_kernel([_abs_expanded(c) for c in dcoef[1:]])
    fac = secular_weight_kernel(method, noise)
    if fac is not None:
        parts = sp.Mul.make_args(sp.factor(num / lc))
        w = sp.Mul(*[p for p in parts if not p.has(symbols.z)])
        kn = _lambda_poly_kernel([_abs_expanded(w)])
    else:
        ncoef, _ = _monic_coefficients(num, lc) if num != 0 else ([sp.Integer(0)], None)
        kn = _lambda_poly_kernel([_abs_expanded(c) for c in ncoef])

    def run(L, e, b, f, tau):
        return {"den": kden(L, e, b, f, tau), "num": kn(L, e, b, f, tau)}
    return run
