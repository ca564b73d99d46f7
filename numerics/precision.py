"""Multiprecision spectral radii (mpmath) and exact input data for the high-precision and certified routes.

A request for N digits is answered by computing at two working precisions (N + 10 and 2N + 20 decimal
digits) and keeping the digits on which they agree; if fewer than N agree, both precisions grow and the
computation is repeated. Inputs are kept exact: floats are read as the binary fractions they are,
fractions and SymPy numbers (``sqrt(2)``) are evaluated at the working precision.
"""
from __future__ import annotations

import math
from fractions import Fraction

import mpmath as mp
import numpy as np
import sympy as sp

from .operators import (
    SecondMomentOperator, as_method, first_moment_charpoly_kernel, secular_lambda_kernel,
)
from ..theory.errors import InputError
from ..theory.sampling import Coordinate, FiniteSum, Gaussian, Kaczmarz, RankOneModel, SamplingModel

MAX_DPS = 4000
MP_DENSE_MAX_M = 12          # mpmath on the dense route: T in the vech basis has s d (s d + 1)/2 rows


# --------------------------------------------------------------------------------------------------
# exact inputs
# --------------------------------------------------------------------------------------------------
def exact(x) -> sp.Expr:
    """An exact SymPy number for an input value (floats are the binary fractions they store)."""
    if isinstance(x, sp.Basic):
        if isinstance(x, sp.Float):
            return _binary_fraction(x._mpf_)
        return x
    if isinstance(x, (bool, np.bool_)):
        raise InputError("value", f"not a number: {x!r}")
    if isinstance(x, (int, np.integer)):
        return sp.Integer(int(x))
    if isinstance(x, Fraction):
        return sp.Rational(x.numerator, x.denominator)
    if isinstance(x, (float, np.floating)):
        return sp.Rational(*Fraction(float(x)).as_integer_ratio())
    if isinstance(x, mp.mpf):
        return _binary_fraction(x._mpf_)
    raise InputError("value", f"not a number: {x!r}")


def _binary_fraction(mpf_tuple) -> sp.Rational:
    """The binary fraction (-1)^sign man 2^exp that an mpf / SymPy Float stores, exactly."""
    sign, man, exp, bc = mpf_tuple
    if man == 0 and exp != 0:           # mpmath's encodings of inf / nan
        raise InputError("value", "not a finite number")
    v = sp.Integer(int(man)) * sp.Integer(2) ** int(exp)
    return -v if sign else v


def to_mpf(x):
    """An exact input at the current mpmath working precision."""
    e = exact(x)
    if isinstance(e, sp.Rational):
        return mp.mpf(e.p) / e.q
    return mp.mpf(sp.N(e, mp.mp.dps + 10))


def spectrum_exact(model: SamplingModel) -> list:
    """Exact eigenvalues of a diagonal model (gaussian, coordinate with diagonal H), ascending like
    ``model.spectrum_array()`` (indices of eigenvalues agree between the double and exact routes)."""
    if isinstance(model, Gaussian):
        vals = model.spectrum.tolist() if isinstance(model.spectrum, np.ndarray) else list(model.spectrum)
        out = [exact(v) for v in vals]
    else:
        H = np.asarray(model.H, dtype=object) if not isinstance(model.H, np.ndarray) else model.H
        out = [exact(H[i][i]) for i in range(model.d)]
    return sorted(out, key=lambda v: (float(v), v))


def exact_copy(model: SamplingModel) -> SamplingModel:
    """The same model with its data as exact rationals, so that derived components (a_i / ||a_i||^2,
    e_i / p_i) are exact too (a model built from floats computes them in rounded arithmetic)."""
    def rat(data):
        return [[exact(v) for v in row] for row in np.asarray(data, dtype=object).tolist()]
    wr = model.without_replacement
    if isinstance(model, FiniteSum):
        w = None if model.weights is None else [exact(v) for v in np.asarray(model.weights, dtype=object).tolist()]
        return FiniteSum(rat(model.A), weights=w, without_replacement=wr)
    if isinstance(model, Kaczmarz):
        return Kaczmarz(rat(model.A), without_replacement=wr)
    if isinstance(model, Coordinate):
        return Coordinate(H=rat(model.H), without_replacement=wr)
    return model


def batch_factor_exact(model: SamplingModel, batch) -> sp.Expr:
    return sp.Integer(0) if batch == math.inf else sp.sympify(model.batch_factor(batch))


# --------------------------------------------------------------------------------------------------
# the operator with entries in any number type (object arrays): mpmath mpf or flint arb
# --------------------------------------------------------------------------------------------------
class ObjectSecondMomentOperator(SecondMomentOperator):
    """:class:`numerics.operators.SecondMomentOperator` whose arrays hold exact data converted by ``conv``
    (a function from an exact SymPy number to mpf or arb); ``apply`` is inherited unchanged."""

    def __init__(self, method, model: SamplingModel, batch, lr, momentum, conv):
        self.method, self.model = as_method(method), model
        from ..theory.symbols import beta, eta
        subs = {eta: exact(lr), beta: exact(momentum)}

        def arr(M):
            return np.array([[conv(sp.sympify(e).subs(subs)) for e in row]
                             for row in sp.Matrix(M).tolist()], dtype=object)

        self.A, self.b, self.c = arr(self.method.A), arr(self.method.b)[:, 0], arr(self.method.c)[:, 0]
        self.d, self.s = model.d, self.A.shape[0]
        self.fB = conv(batch_factor_exact(model, batch))
        self._zero = conv(sp.Integer(0))
        if isinstance(model, RankOneModel):
            p, X, Y = exact_copy(model).components()
            self.p = np.array([conv(exact(v)) for v in p], dtype=object)
            self.X = np.array([[conv(exact(v)) for v in x] for x in X], dtype=object)
            self.Yv = np.array([[conv(exact(v)) for v in y] for y in Y], dtype=object)
            self.H = (self.X * self.p[:, None]).T @ self.Yv
        else:
            lam = spectrum_exact(model)
            self.H = np.array([[conv(lam[i]) if i == j else self._zero for j in range(self.d)]
                               for i in range(self.d)], dtype=object)
        eye = np.array([[conv(sp.Integer(int(i == j))) for j in range(self.d)] for i in range(self.d)],
                       dtype=object)
        self.Mbar = np.kron(self.A, eye) + np.kron(np.outer(self.b, self.c), self.H)

    def covariance(self, Y):
        if self.fB == 0:
            return np.full(Y.shape, self._zero, dtype=object)
        return self.fB * (self.second_moment(Y) - self.H @ Y @ self.H.T)

    def second_moment(self, Y):
        if isinstance(self.model, Gaussian):
            H = self.H
            return 2 * H @ Y @ H + np.trace(H @ Y) * H
        w = self.p * np.array([self.Yv[i] @ Y @ self.Yv[i] for i in range(self.Yv.shape[0])], dtype=object)
        return (self.X * w[:, None]).T @ self.X

    def vech_matrix(self):
        from ..theory.moments import vech_index
        m = self.s * self.d
        idx = vech_index(m)
        T = np.empty((len(idx), len(idx)), dtype=object)
        for k, (i, j) in enumerate(idx):
            E = np.full((m, m), self._zero, dtype=object)
            E[i, j] = E[j, i] = self._zero + 1
            img = self.apply(E)
            T[:, k] = [img[a, b] for a, b in idx]
        return T


# --------------------------------------------------------------------------------------------------
# mpmath evaluations at the current working precision
# --------------------------------------------------------------------------------------------------
def _poly(c, z):
    p, dp = c[0], mp.mpf(0)
    for a in c[1:]:
        dp = dp * z + p
        p = p * z + a
    return p, dp


def _taylor_positive(c, z) -> bool:
    a = list(c)
    q = len(a) - 1
    for k in range(q + 1):
        for j in range(1, q + 1 - k):
            a[j] = a[j - 1] * z + a[j]
        if not a[q - k] > 0:
            return False
    return True


class _MpSecular:
    """F(z) = sum_i phi(z, lambda_i) (= h(z) sum_i w_i / den_i(z) when theory's numerator factors) and
    the Budan-Fourier test, in mpmath."""

    def __init__(self, method, model, batch, lr, momentum):
        lam = [to_mpf(v) for v in spectrum_exact(model)]
        e, b, f = to_mpf(lr), to_mpf(momentum), to_mpf(batch_factor_exact(model, batch))
        tau = mp.fsum(lam)
        at = secular_lambda_kernel(method, model.decoupled, "mpmath")(e, b, f, tau)
        rows = [at(l) for l in lam]
        one = mp.mpf(1)
        self.lam = lam
        self.den = [[one] + [mp.mpf(x) for x in r["den"]] for r in rows]
        self.char = self.den if rows[0]["char"] is None else [[one] + [mp.mpf(x) for x in r["char"]] for r in rows]
        if "w" in rows[0]:
            self.w = [mp.mpf(r["w"][0]) for r in rows]
            self.h = [mp.mpf(x) for x in rows[0]["h"]]
            self.num = None
            self.trivial = all(x == 0 for x in self.w)
        else:
            self.num = [[mp.mpf(x) for x in r["num"]] for r in rows]
            self.trivial = all(x == 0 for c in self.num for x in c)

    def F(self, z):
        s, ds = mp.mpf(0), mp.mpf(0)
        if self.num is None:
            for w, cd in zip(self.w, self.den):
                p, dp = _poly(cd, z)
                r = w / p
                s += r
                ds += r * dp / p
            h, dh = _poly(self.h, z)
            return h * s, dh * s - h * ds
        for cn, cd in zip(self.num, self.den):
            n, dn = _poly(cn, z)
            p, dp = _poly(cd, z)
            s += n / p
            ds += (dn * p - n * dp) / (p * p)
        return s, ds

    def above(self, z, which=None) -> bool:
        rows = self.char if which is None else [self.char[i] for i in which]
        return all(_taylor_positive(c, z) for c in rows)

    def block_radius(self, i):
        """Largest real root of det(z I - D_i) (= rho(D_i), a Perron eigenvalue)."""
        c = self.char[i]
        while len(c) > 1 and c[-1] == 0:
            c = c[:-1]
        if len(c) == 1:
            return mp.mpf(0)
        roots = mp.polyroots(c, maxsteps=400, extraprec=4 * mp.mp.prec, error=False)
        return max((mp.re(r) for r in roots if abs(mp.im(r)) <= mp.mpf(10) ** (-mp.mp.dps // 3) * (1 + abs(r))),
                   default=max(abs(r) for r in roots))


def _secular_mp(method, model, batch, lr, momentum, z0, top: list[int], z0_digits: int = 12):
    """rho(T) at the current precision, starting from the double estimate ``z0``; ``top`` lists the
    eigenvalue indices whose blocks may attain rho(D)."""
    S = _MpSecular(method, model, batch, lr, momentum)
    tol = mp.mpf(10) ** (-mp.mp.dps + 3)
    if S.trivial:
        return max(S.block_radius(i) for i in top)
    z0 = z0 if isinstance(z0, mp.mpf) else mp.mpf(z0)
    # a point above the root: above rho(D) and F < 1, walking up from the estimate (z0_digits good)
    gap = max(abs(z0) * mp.mpf(10) ** -(z0_digits - 4), mp.mpf(10) ** (-mp.mp.dps + 5))
    for _ in range(4000):
        hi = z0 + gap
        if S.above(hi) and S.F(hi)[0] < 1:
            break
        gap *= 4
    # walk down from hi toward rho(D): Newton on F from hi lands at or below the root; then bisect on
    # "above rho(D) and F >= 1"
    F, dF = S.F(hi)
    c = hi - (F - 1) / dF if dF < 0 else hi / 2
    below = mp.mpf(0)
    left = None
    for _ in range(40 * mp.mp.dps):
        if hi - below <= tol * hi:
            break
        if not below < c < hi:
            c = (below + hi) / 2
        if not S.above(c):
            below = c
            c = (below + hi) / 2
            continue
        Fc, dFc = S.F(c)
        if Fc >= 1:
            left = c
            break
        hi = c
        c = c - (Fc - 1) / dFc if dFc < 0 else (below + hi) / 2
    if left is None:                         # no root above rho(D): rho = rho(D)
        return max(S.block_radius(i) for i in top)
    # from the left: Newton on G = 1/F (nearly linear next to a pole of F) while it does not overshoot,
    # then Newton on F (never overshoots: F is convex decreasing above rho(D)); bisection as a fallback
    z, use_F = left, False
    F, dF = S.F(z)
    for _ in range(400):
        if dF >= 0 or not mp.isfinite(F):
            break
        step = (F - 1) / -dF if use_F else (F * F - F) / -dF
        if step <= tol * z and abs(F - 1) <= mp.sqrt(tol):
            return z + step
        znew = z + step
        if not z < znew < hi:
            znew = (z + hi) / 2
        Fn, dFn = S.F(znew)
        if abs(Fn - 1) <= tol:
            return znew
        if Fn >= 1:
            z, F, dF = znew, Fn, dFn
        else:
            hi, use_F = znew, True
        if hi - z <= tol * hi:
            return z
    while hi - z > tol * hi:                 # fallback: bisection on F >= 1
        c = (z + hi) / 2
        if S.F(c)[0] >= 1:
            z = c
        else:
            hi = c
    return z


def _deterministic_mp(method, model, lr, momentum):
    """max_i rho(A + lambda_i b c^T)^2 from the closed-form roots of the block charpolys."""
    if model.decoupled is not None:
        lam = [to_mpf(v) for v in spectrum_exact(model)]
    else:
        Hs = ObjectSecondMomentOperator(method, model, 1, lr, momentum, _mpf_exact).H
        lam = list(mp.eigsy(mp.matrix(Hs.tolist()), eigvals_only=True))
    k = first_moment_charpoly_kernel(method, "mpmath")
    e, b = to_mpf(lr), to_mpf(momentum)
    best = mp.mpf(0)
    for l in lam:
        c = [mp.mpf(x) for x in k(l, e, b)]
        if len(c) == 3:
            t, q = -c[1], c[2]
            disc = t * t - 4 * q
            r = abs(q) if disc < 0 else ((abs(t) + mp.sqrt(disc)) / 2) ** 2
        else:
            r = max(abs(x) for x in mp.polyroots(c, maxsteps=400, extraprec=4 * mp.mp.prec)) ** 2
        best = max(best, r)
    return best


def _mpf_exact(e):
    return to_mpf(e)


def _dense_mp(method, model, batch, lr, momentum, sigma=None):
    """Top eigenvalue of T (vech basis) by inverse iteration shifted at the double estimate ``sigma``
    (a few steps reach any precision for a simple eigenvalue; mpmath's QR otherwise)."""
    T = mp.matrix(ObjectSecondMomentOperator(method, model, batch, lr, momentum, _mpf_exact).vech_matrix().tolist())
    N = T.rows
    if sigma is not None:
        shift = mp.mpf(sigma) * (1 + mp.mpf(2) ** -40)
        x = mp.matrix([1] * N)
        prev = None
        try:
            for _ in range(60):
                x = mp.lu_solve(T - shift * mp.eye(N), x)
                x = x / mp.norm(x)
                k = max(range(N), key=lambda i: abs(x[i]))
                est = (T * x)[k] / x[k]
                if prev is not None and abs(est - prev) <= mp.mpf(10) ** (-mp.mp.dps + 2) * abs(est):
                    return abs(est)
                prev = est
        except ZeroDivisionError:
            pass
    ev = mp.eig(T, left=False, right=False)
    return max(abs(x) for x in ev)


def spectral_radius_mp(method, model, batch, lr, momentum, route, digits):
    """RateResult with ``digits`` correct digits, agreed between two working precisions."""
    from .spectral import RateResult, _double, _top_blocks
    method = as_method(method)
    if route == "matrix-free" or (route == "dense" and method.s * model.d > MP_DENSE_MAX_M):
        raise InputError("digits", f"multiprecision needs the secular or deterministic route, or the dense "
                                   f"route with s d <= {MP_DENSE_MAX_M} (here d = {model.d}); ask for at most "
                                   f"12 digits on the matrix-free route")
    z0 = None
    top = None
    if route == "dense":
        z0 = float(_double(method, model, batch, float(lr), float(momentum), route).rho)
    if route == "secular":
        z0 = float(_double(method, model, batch, float(lr), float(momentum), route).rho)
        top = _top_blocks(method, model, batch, float(lr), float(momentum))
    dps = digits + 10
    for _ in range(12):
        vals = []
        start, start_digits = z0, 12
        for p in (dps, dps + 15):
            with mp.workdps(p):
                if route == "deterministic":
                    v = _deterministic_mp(method, model, lr, momentum)
                elif route == "secular":        # the second precision starts from the first's root
                    v = _secular_mp(method, model, batch, lr, momentum, start, top, start_digits)
                    start, start_digits = +v, max(12, dps - 12)
                else:
                    v = _dense_mp(method, model, batch, lr, momentum, z0)
                vals.append(+v)
        with mp.workdps(dps + 15):
            a, b = vals
            if a == b:
                agree = dps + 15
            else:
                agree = int(mp.floor(-mp.log10(abs(a - b) / abs(b)))) if b != 0 else 0
        if agree >= digits + 2 or (b == 0 and a == 0):
            with mp.workdps(dps + 15):
                rho = +b
            return RateResult(rho, digits, None, route, "mpmath")
        dps = 2 * dps if dps < MAX_DPS else dps
        if dps > MAX_DPS:
            break
    raise RuntimeError(f"could not reach {digits} digits (precisions disagree beyond {agree} digits)")
