"""Theory's expressions turned into numeric kernels (lambdify), and the second-moment operator T
applied to numeric matrices (MATH.md §4):

    T(S) = Mbar S Mbar^T + (b b^T) ⊗ C_B(Y),  Y = (c^T ⊗ I) S (c ⊗ I),  Mbar = A ⊗ I + b c^T ⊗ H,
    C_B(Y) = f_B (E[G Y G^T] - H Y H^T).

For decoupled models (MATH.md §5) the per-eigenvalue blocks D(lambda_i), couplings u_i, v_i and the
secular term phi(z, lambda) come from ``theory.moments`` through lambdify, vectorised over lambda and
over parameter grids. For the built-in methods and noises the same expressions were printed once into
:mod:`numerics.generated` (:mod:`numerics.kernels`), so those kernels need no SymPy at run time: a
kernel is a *plan* (functions of the parameters, from lambdify or from the shipped text) and one
runner per kind of plan, the same for both.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from ..theory.lazy import LazyModule
from ..theory.methods import Method, get_method
from ..theory.sampling import DecoupledNoise, SamplingModel
from . import kernels

sp = LazyModule("sympy")                         # SymPy only where a kernel is derived (user methods)
symbols = LazyModule("momentum_verify.theory.symbols")


def _fB():
    """The symbol f_B of the batch factor (``F_B`` of this module)."""
    return sp.Symbol("f_B", nonnegative=True)


def _args():
    """(lambda, eta, beta, f_B, tau): the arguments of the decoupled kernels."""
    return (symbols.lam, symbols.eta, symbols.beta, _fB(), symbols.tau)


def __getattr__(name):                           # F_B, _ARGS, LAM_I, LAM_J: SymPy objects on first use
    if name == "F_B":
        return _fB()
    if name == "_ARGS":
        return _args()
    if name in ("LAM_I", "LAM_J"):
        return _lam_ij()[name == "LAM_J"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def as_method(method) -> Method:
    return get_method(method) if isinstance(method, str) else method


def _broadcast_entries(funcs, shape_tail, vals, dtype=float):
    shape = np.broadcast(*[np.asarray(v) for v in vals]).shape
    out = np.empty(shape + (len(funcs),), dtype=dtype)
    for k, g in enumerate(funcs):
        out[..., k] = g(*vals)
    return out.reshape(shape + shape_tail)


def entries_runner(funcs, shape):
    """f(*args) -> array of shape broadcast(args).shape + ``shape``, from one function per entry (row major)."""
    return lambda *vals: _broadcast_entries(funcs, shape, vals)


def lambdify_matrix(M: sp.Matrix, args, module: str = "numpy"):
    """f(*args) -> array of shape broadcast(args).shape + M.shape, entries lambdified one by one."""
    funcs = [sp.lambdify(args, e, module) for e in M]
    if module == "numpy":
        return entries_runner(funcs, M.shape)
    if module == "mpmath":
        import mpmath as mp
        return lambda *vals: mp.matrix([[funcs[i * M.shape[1] + j](*vals) for j in range(M.shape[1])]
                                        for i in range(M.shape[0])])
    return lambda *vals: _broadcast_entries(funcs, M.shape, vals)


@lru_cache(maxsize=None)
def triple_kernel(method: Method, module: str = "numpy"):
    """(eta, beta) -> (A, b, c) as arrays (or mpmath matrices)."""
    shipped = kernels.shipped("triple", method) if module == "numpy" else None
    if shipped is not None:
        fA, fb, fc = (entries_runner(*shipped[k]) for k in ("A", "b", "c"))
    else:
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
    if kernels.builtin_key(m) is not None and not m.has_init:        # all ones: no SymPy needed
        return np.ones(m.s, dtype=float)
    w = m.init_vector().subs({symbols.eta: lr, symbols.beta: momentum})
    return np.array([float(x) for x in w], dtype=float)


@lru_cache(maxsize=None)
def decoupled_kernel(method: Method, noise: DecoupledNoise, module: str = "numpy"):
    """(lambda, eta, beta, f_B, tau) -> (D (..., k, k), u (..., k), v (..., k)), k = s(s+1)/2."""
    shipped = kernels.shipped("decoupled", method, noise) if module == "numpy" else None
    if shipped is not None:
        fD, fu, fv = (entries_runner(*shipped[k]) for k in ("D", "u", "v"))
        return lambda *a: (fD(*a), fu(*a)[..., 0], fv(*a)[..., 0])
    D, u, v = decoupled_exprs(method, noise)
    fD, fu, fv = (lambdify_matrix(m, _args(), module) for m in (D, u, v))
    if module == "mpmath":
        return lambda *a: (fD(*a), fu(*a), fv(*a))
    return lambda *a: (fD(*a), fu(*a)[..., 0], fv(*a)[..., 0])


def decoupled_exprs(method: Method, noise: DecoupledNoise):
    """(D, u, v) of :func:`theory.moments.decoupled_block` with f_B a symbol."""
    from ..theory.moments import decoupled_block
    return decoupled_block(method, noise, fB=_fB())


def _secular_fraction(method: Method, noise: DecoupledNoise):
    """(num, den) of theory's secular term phi(z, lambda) = v^T (z I - D)^{-1} u."""
    from ..theory.moments import secular_term
    return sp.fraction(sp.together(secular_term(method, noise, _fB())))


@lru_cache(maxsize=None)
def secular_kernel(method: Method, noise: DecoupledNoise, module: str = "numpy"):
    """(z, lambda, eta, beta, f_B, tau) -> phi(z, lambda) = v^T (z I - D)^{-1} u (one fraction)."""
    from ..theory.moments import secular_term
    return sp.lambdify((symbols.z,) + _args(), secular_term(method, noise, _fB()), module)


def batch_factor_value(model: SamplingModel, batch) -> float:
    """f_B as a float (0 at batch = inf)."""
    if batch == math.inf:
        return 0.0
    exact = getattr(model, "batch_factor_fraction", lambda b: None)(batch)   # a Fraction: no SymPy
    return float(exact) if exact is not None else float(model.batch_factor(batch))


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
        from ..theory.vech import vech_index
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
        return _row_runner(entries_runner([sp.lambdify(args, c, module) for c in coeffs], (1, len(coeffs))))
    if module == "arb":         # python-flint intervals: rationals become arb(p)/arb(q) enclosures
        import flint
        module = [{"mpf": flint.arb, "sqrt": lambda x: flint.arb(x).sqrt()}, "mpmath"]
    funcs = [sp.lambdify(args, c, module) for c in coeffs]
    return lambda *vals: [g(*vals) for g in funcs]


def _row_runner(f):
    """The (..., 1, n) entries of ``f`` as (..., n)."""
    return lambda *vals: f(*vals)[..., 0, :]


def _charpoly(M):
    """det(z I - M) (theory.formulas.charpoly; imported here, on the SymPy paths only)."""
    from ..theory.formulas import charpoly
    return charpoly(M)


def _monic_coefficients(poly_expr, lead=None):
    """Coefficients in z (highest first) of a polynomial, divided by ``lead`` (default its own LC)."""
    P = sp.Poly(sp.expand(poly_expr), symbols.z)
    lc = P.LC() if lead is None else lead
    return [sp.cancel(c / lc) for c in P.all_coeffs()], lc


@lru_cache(maxsize=None)
def secular_poly_kernel(method: Method, noise: DecoupledNoise, module: str = "numpy"):
    """(lambda, eta, beta, f_B, tau) -> (num, den): phi(z, lambda) = num(z) / den(z), coefficients in z
    highest degree first, ``den`` monic (from theory's secular term)."""
    num, den = _secular_fraction(method, noise)
    dcoef, lc = _monic_coefficients(den)
    ncoef, _ = _monic_coefficients(num, lc)
    return _coefficient_kernel(ncoef, _args(), module), _coefficient_kernel(dcoef, _args(), module)


@lru_cache(maxsize=None)
def block_charpoly_kernel(method: Method, noise: DecoupledNoise, module: str = "numpy"):
    """(lambda, eta, beta, f_B, tau) -> coefficients of det(z I - D(lambda)) (monic, highest first)."""
    D, _, _ = decoupled_exprs(method, noise)
    coef, _ = _monic_coefficients(_charpoly(D))
    return _coefficient_kernel(coef, _args(), module)


def first_moment_charpoly_exprs(method: Method) -> list:
    """Coefficients of det(z I - (A + lambda b c^T)) in z (monic, highest first), in lambda, eta, beta."""
    M = method.block(symbols.lam)
    return _monic_coefficients(_charpoly(M))[0]


@lru_cache(maxsize=None)
def first_moment_charpoly_kernel(method: Method, module: str = "numpy"):
    """(lambda, eta, beta) -> coefficients of det(z I - (A + lambda b c^T)) (monic, highest first)."""
    shipped = kernels.shipped("first_moment", method) if module == "numpy" else None
    if shipped is not None:
        return _row_runner(entries_runner(*shipped["charpoly"]))
    return _coefficient_kernel(first_moment_charpoly_exprs(method), (symbols.lam, symbols.eta, symbols.beta),
                               module)


def _weight_factors(method: Method, noise: DecoupledNoise):
    """(w, h) with phi(z, lambda) = w(lambda) h(z) / den(z), h free of lambda and den monic, when
    theory's numerator factors so (it does for sgd, heavy-ball, sgdm); None otherwise."""
    num, den = _secular_fraction(method, noise)
    if num == 0:
        return None
    lc = sp.Poly(sp.expand(den), symbols.z).LC()
    parts = sp.Mul.make_args(sp.factor(num / lc))
    w = sp.Mul(*[p for p in parts if not p.has(symbols.z)])
    h = sp.Mul(*[p for p in parts if p.has(symbols.z)])
    if h.has(symbols.lam):
        return None
    return w, h


@lru_cache(maxsize=None)
def secular_weight_kernel(method: Method, noise: DecoupledNoise):
    """phi(z, lambda) = w(lambda) h(z) / den(z) when theory's numerator factors so (it does for sgd,
    heavy-ball, sgdm); returns (w(lambda, eta, beta, f_B, tau), h-coefficients(eta, beta, f_B, tau))
    as numpy kernels, or None. Then F(z) = h(z) sum_i w_i / den_i(z): one division per eigenvalue."""
    fac = _weight_factors(method, noise)
    if fac is None:
        return None
    w, h = fac
    hcoef, _ = _monic_coefficients(h, sp.Integer(1))
    kw = sp.lambdify(_args(), w, "numpy")
    kh = _coefficient_kernel(hcoef, _args()[1:], "numpy")
    return kw, kh


def lambda_poly_split(exprs) -> list:
    """Each expression polynomial in lambda as ("horner", [coefficients in the parameters, highest
    first]), else ("direct", expression): the plan of :func:`poly_runner` (SymPy)."""
    lam = symbols.lam
    plans = []
    for e in exprs:
        e = sp.expand(e)
        try:
            coeffs = sp.Poly(e, lam).all_coeffs() if e.has(lam) else [e]
        except sp.PolynomialError:
            coeffs = None
        plans.append(("direct", e) if coeffs is None else ("horner", coeffs))
    return plans


def _lambdify_split(plans) -> list:
    args = _args()
    return [("direct", sp.lambdify(args, e, "numpy")) if kind == "direct"
            else ("horner", [sp.lambdify(args[1:], c, "numpy") for c in e]) for kind, e in plans]


def poly_runner(plans):
    """Kernel for a list of expressions polynomial in lambda: f(lam (d,), eta, beta, f_B, tau as (G, 1)
    arrays or scalars) -> list of (G, d) arrays, by Horner in lambda with coefficient functions of the
    parameters (a few operations per entry instead of the expanded expression). ``plans``: a list of
    ("horner", [functions of (eta, beta, f_B, tau)]) or ("direct", function of all five)."""
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


def _lambda_poly_kernel(exprs):
    """:func:`poly_runner` of lambdified :func:`lambda_poly_split` plans."""
    return poly_runner(_lambdify_split(lambda_poly_split(exprs)))


def secular_grid_exprs(method: Method, noise: DecoupledNoise) -> dict:
    """The expressions of :func:`secular_grid_kernel` (SymPy): ``den`` and ``char`` (monic coefficient
    lists in z, leading 1 dropped; ``char`` None when equal to ``den``), and ``w`` (one expression) with
    ``h`` (coefficients in z, free of lambda) when theory's numerator factors as w(lambda) h(z), else
    ``num`` (coefficients divided by den's leading coefficient)."""
    num, den = _secular_fraction(method, noise)
    dcoef, lc = _monic_coefficients(den)
    D, _, _ = decoupled_exprs(method, noise)
    ccoef, _ = _monic_coefficients(_charpoly(D))
    same = len(dcoef) == len(ccoef) and all(sp.simplify(a - b) == 0 for a, b in zip(dcoef, ccoef))
    out = {"den": dcoef[1:], "char": None if same else ccoef[1:], "w": None, "h": None, "num": None}
    fac = _weight_factors(method, noise)
    if fac is not None:
        parts = sp.Mul.make_args(sp.factor(num / lc))
        out["w"] = [sp.Mul(*[p for p in parts if not p.has(symbols.z)])]
        out["h"] = _monic_coefficients(fac[1], sp.Integer(1))[0]
    else:
        out["num"] = _monic_coefficients(num, lc)[0] if num != 0 else [sp.Integer(0)]
    return out


def secular_grid_plans(method: Method, noise: DecoupledNoise) -> dict:
    """:func:`secular_grid_exprs` as plans: :func:`lambda_poly_split` of every list but ``h`` (its
    coefficients as they are); the text printed into :mod:`numerics.generated`."""
    ex = secular_grid_exprs(method, noise)
    return {k: (None if v is None else v if k == "h" else lambda_poly_split(v)) for k, v in ex.items()}


def _grid_runner(plans: dict):
    """The kernel of :func:`secular_grid_kernel` from plans of functions."""
    kden = poly_runner(plans["den"])
    kchar = None if plans["char"] is None else poly_runner(plans["char"])
    if plans["w"] is not None:
        kw = poly_runner(plans["w"])
        kh = _row_runner(entries_runner(plans["h"], (1, len(plans["h"]))))
    else:
        knum = poly_runner(plans["num"])

    def run(L, e, b, f, tau):
        out = {"den": kden(L, e, b, f, tau)}
        out["char"] = out["den"] if kchar is None else kchar(L, e, b, f, tau)
        if plans["w"] is not None:
            out["w"] = kw(L, e, b, f, tau)[0]
            out["h"] = kh
        else:
            out["num"] = knum(L, e, b, f, tau)
        return out
    return run


@lru_cache(maxsize=None)
def secular_grid_kernel(method: Method, noise: DecoupledNoise):
    """(lam (1, d), eta, beta, f_B, tau as (G, 1)) -> dict of (G, d) coefficient arrays for the grid
    solver: ``den`` (monic, without the leading 1), ``char`` (det(zI - D), monic, without the leading
    1; the same list object as ``den`` when the two coincide), and either ``w`` with ``h`` (coefficient
    kernel in the parameters, F = h(z) sum_i w_i/den_i(z)) or ``num``. Built-in methods and noises
    use the shipped plans (no SymPy)."""
    shipped = kernels.shipped("secular_grid", method, noise)
    if shipped is not None:
        return _grid_runner(shipped["grid"])
    plans = secular_grid_plans(method, noise)
    args = _args()
    funcs = {k: (None if v is None else [sp.lambdify(args[1:], c, "numpy") for c in v] if k == "h"
                 else _lambdify_split(v)) for k, v in plans.items()}
    return _grid_runner(funcs)


# --------------------------------------------------------------------------------------------------
# pair responses (added for the matrix-free route of numerics.spectral)
# --------------------------------------------------------------------------------------------------
def _lam_ij():
    """The symbols lambda_i, lambda_j of the pair response (``LAM_I``, ``LAM_J`` of this module)."""
    return sp.symbols("lambda_i lambda_j", positive=True)


@lru_cache(maxsize=None)
def pair_response(method: Method) -> sp.Expr:
    """psi(z, lambda_i, lambda_j) = c^T X c with z X - M_i X M_j^T = b b^T, M = A + lambda b c^T:
    the resolvent of the deterministic map S -> Mbar S Mbar^T seen through the gradient feedback,
    sum_k (c^T M_i^k b)(c^T M_j^k b) z^(-k-1). In H's eigenbasis T = K + N with K(S) = Mbar S Mbar^T,
    and z > rho(K) is an eigenvalue of T iff 1 is an eigenvalue of Y -> Psi(z) o C_B(Y) (Hadamard)."""
    LAM_I, LAM_J = _lam_ij()
    Mi, Mj = method.block(LAM_I), method.block(LAM_J)
    s = method.s
    X = sp.Matrix(s, s, sp.symbols(f"x0:{s * s}"))
    eqs = list(symbols.z * X - Mi * X * Mj.T - method.b * method.b.T)
    sol = sp.solve(eqs, list(X), dict=True)[0]
    return sp.factor(sp.cancel((method.c.T * X.subs(sol) * method.c)[0, 0]))


@lru_cache(maxsize=None)
def pair_response_kernel(method: Method):
    """(z, lambda_i, lambda_j, eta, beta) -> psi (numpy, broadcasting)."""
    shipped = kernels.shipped("pair_response", method)
    if shipped is not None:
        return shipped["psi"]
    return sp.lambdify(pair_response_args(), pair_response(method), "numpy")


@lru_cache(maxsize=None)
def pair_response_z_coeffs(method: Method) -> tuple:
    """(numerator, denominator) coefficients of psi = N(z) / D(z) in z, highest power first, each an
    expanded polynomial in (lambda_i, lambda_j, eta, beta): for evaluating psi at many z per point."""
    num, den = sp.fraction(sp.cancel(pair_response(method)))
    return tuple(sp.Poly(num, symbols.z).all_coeffs()), tuple(sp.Poly(den, symbols.z).all_coeffs())


@lru_cache(maxsize=None)
def pair_response_z_kernel(method: Method):
    """(lambda_i, lambda_j, eta, beta) -> ([N's coefficients], [D's coefficients]) of
    :func:`pair_response_z_coeffs` (numpy, broadcasting; a constant coefficient is a scalar)."""
    shipped = kernels.shipped("pair_response", method)
    if shipped is not None and "num" in shipped:
        fns = shipped["num"], shipped["den"]
    else:
        args = pair_response_args()[1:]
        fns = tuple([sp.lambdify(args, c, "numpy") for c in cs] for cs in pair_response_z_coeffs(method))

    def coeffs(lambda_i, lambda_j, eta, beta):
        return tuple([f(lambda_i, lambda_j, eta, beta) for f in fs] for fs in fns)
    return coeffs


@lru_cache(maxsize=None)
def pair_response_error(method: Method) -> sp.Expr:
    """kappa(z, lambda_i, lambda_j, eta, beta) with |fl(psi) - psi| <= kappa eps |psi| to first order
    for psi evaluated as :func:`pair_response` prints (a product of powers of expanded sums): the sum
    over factors B^k of |k| (terms + degree) A / |B|, A the sum of B's monomials' absolute values, plus
    one unit per factor. Near a pole of psi its denominator cancels and kappa grows like 1/|B|."""
    kappa = sp.Integer(0)
    for f in sp.Mul.make_args(pair_response(method)):
        base, k = f.as_base_exp()
        kappa += abs(k)
        if isinstance(base, sp.Add):
            terms = sp.Add.make_args(sp.expand(base))
            deg = max(sp.Poly(t, *sorted(t.free_symbols, key=str)).total_degree() if t.free_symbols else 0
                      for t in terms)
            kappa += abs(k) * (len(terms) + deg) * _abs_expanded(base) / sp.Abs(base)
    return kappa


@lru_cache(maxsize=None)
def pair_response_error_kernel(method: Method):
    """(z, lambda_i, lambda_j, eta, beta) -> kappa of :func:`pair_response_error` (numpy, broadcasting)."""
    shipped = kernels.shipped("pair_response", method)
    if shipped is not None:
        return shipped["kappa"]
    return sp.lambdify(pair_response_args(), pair_response_error(method), "numpy")


def pair_response_args() -> tuple:
    """(z, lambda_i, lambda_j, eta, beta): the arguments of :func:`pair_response_kernel`."""
    return (symbols.z,) + tuple(_lam_ij()) + (symbols.eta, symbols.beta)


@lru_cache(maxsize=None)
def secular_lambda_kernel(method: Method, noise: DecoupledNoise, module: str = "mpmath"):
    """Scalar kernels for the multiprecision secular route: (eta, beta, f_B, tau) -> a function of lambda
    giving ``den`` (monic coefficients of phi's denominator, leading 1 dropped), ``char`` (of
    det(zI - D), or None when equal to ``den``) and either ``w`` (phi = w(lambda) h(z)/den(z)) with
    ``h`` coefficients, or ``num`` coefficients; each coefficient is a polynomial in lambda evaluated by
    Horner (a few operations per eigenvalue)."""
    _ARGS = _args()
    lam = _ARGS[0]
    num, den = _secular_fraction(method, noise)
    dcoef, lc = _monic_coefficients(den)
    D, _, _ = decoupled_exprs(method, noise)
    ccoef, _ = _monic_coefficients(_charpoly(D))
    same = len(dcoef) == len(ccoef) and all(sp.simplify(a - b) == 0 for a, b in zip(dcoef, ccoef))
    fac = _weight_factors(method, noise)
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


def secular_magnitude_exprs(method: Method, noise: DecoupledNoise) -> dict:
    """The expressions of :func:`secular_magnitude_kernel` (SymPy): ``den`` and ``num`` lists."""
    num, den = _secular_fraction(method, noise)
    dcoef, lc = _monic_coefficients(den)
    out = {"den": [_abs_expanded(c) for c in dcoef[1:]]}
    if _weight_factors(method, noise) is not None:
        parts = sp.Mul.make_args(sp.factor(num / lc))
        w = sp.Mul(*[p for p in parts if not p.has(symbols.z)])
        out["num"] = [_abs_expanded(w)]
    else:
        ncoef, _ = _monic_coefficients(num, lc) if num != 0 else ([sp.Integer(0)], None)
        out["num"] = [_abs_expanded(c) for c in ncoef]
    return out


def secular_magnitude_plans(method: Method, noise: DecoupledNoise) -> dict:
    """:func:`secular_magnitude_exprs` split by :func:`lambda_poly_split` (printed into the shipped module)."""
    return {k: lambda_poly_split(v) for k, v in secular_magnitude_exprs(method, noise).items()}


def _magnitude_runner(plans: dict):
    kden, kn = poly_runner(plans["den"]), poly_runner(plans["num"])

    def run(L, e, b, f, tau):
        return {"den": kden(L, e, b, f, tau), "num": kn(L, e, b, f, tau)}
    return run


@lru_cache(maxsize=None)
def secular_magnitude_kernel(method: Method, noise: DecoupledNoise):
    """Like :func:`secular_grid_kernel`, but each coefficient replaced by the sum of the absolute values
    of its monomials (``den`` and ``w`` or ``num``): the error bound of the double route multiplies
    these by the unit roundoff (expanded coefficients cancel badly, e.g. near beta = 1)."""
    shipped = kernels.shipped("secular_grid", method, noise)
    if shipped is not None:
        return _magnitude_runner(shipped["magnitude"])
    return _magnitude_runner({k: _lambdify_split(v) for k, v in secular_magnitude_plans(method, noise).items()})
