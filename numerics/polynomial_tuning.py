"""Tuned stochastic rates on few-eigenvalue gaussian spectra, evaluated to any precision (mpmath) from the
exact rate polynomials of :mod:`theory.stochastic` (the symbolic asymptotics are in :mod:`theory.asymptotics`).

rho is the root of largest modulus of det(zI - T_k) (Krein-Rutman: it is real and equals rho(T)); the tuned
rate min_(eta, beta) rho solves the smooth optimality system Q = dQ/deta = dQ/dbeta = 0 (an interior
optimum with a simple top root: dz = -grad Q / Q_z), found by Newton from a global double-precision
search, then validated (the root is the top root, and a local minimum).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import mpmath as mp
import numpy as np
import sympy as sp

from ..theory import symbols
from ..theory.asymptotics import family_batch, family_spectrum
from ..theory.stochastic import Spectrum, rate_polynomial

z, eta, beta = symbols.z, symbols.eta, symbols.beta


# --------------------------------------------------------------------------------------------------
# evaluation at numeric parameters
# --------------------------------------------------------------------------------------------------
class PolyPartials:
    """A polynomial in a few variables with exact (SymPy) coefficients, evaluated with all its partial
    derivatives of order <= 2 in one pass, in mpmath at the working precision.

    p(x) = sum_a c_a x^a; d^2 p / dx_i dx_j = sum_a c_a a_i (a_j - [i = j]) x^(a - e_i - e_j).

    >>> x, y = sp.symbols("x y")
    >>> P = PolyPartials(x**2 * y + 3 * y, (x, y))
    >>> v = P(mp.mpf(2), mp.mpf(5))
    >>> [int(v[k]) for k in ((), (0,), (1,), (0, 0), (0, 1), (1, 1))]
    [35, 20, 7, 10, 4, 0]
    """

    def __init__(self, expr, gens):
        terms = sp.Poly(expr, *gens).terms()
        self.exponents = [a for a, _ in terms]
        self.n = n = len(gens)
        self.keys = [()] + [(i,) for i in range(n)] + [(i, j) for i in range(n) for j in range(i, n)]
        # for each partial: (term index, integer factor, exponents of the differentiated monomial)
        self._plan = {}
        for key in self.keys:
            rows = []
            for t, a in enumerate(self.exponents):
                e, f = list(a), 1
                for i in key:
                    f *= e[i]
                    e[i] -= 1
                if f:
                    rows.append((t, f, tuple(e)))
            self._plan[key] = rows
        self._monomials = sorted({e for rows in self._plan.values() for _, _, e in rows})
        self._deg = [max(a[i] for a in self.exponents) for i in range(n)]
        self._coeffs = sp.lambdify((), [c for _, c in terms], "mpmath")   # constants: sqrt etc. at any prec
        self._cache = {}

    def coefficients(self) -> list:
        """The coefficients at the working precision (cached per precision)."""
        if mp.mp.prec not in self._cache:
            c = [mp.mpf(v) for v in self._coeffs()]
            self._cache[mp.mp.prec] = (c, {key: [f * c[t] for t, f, _ in rows] for key, rows in self._plan.items()})
        return self._cache[mp.mp.prec][0]

    def __call__(self, *x) -> dict:
        """{(): p, (i,): dp/dx_i, (i, j): d^2p/dx_i dx_j (i <= j)} at x."""
        self.coefficients()
        scaled = self._cache[mp.mp.prec][1]
        pw = []
        for i in range(self.n):
            row = [mp.mpf(1)]
            for _ in range(self._deg[i]):
                row.append(row[-1] * x[i])
            pw.append(row)
        mono = {}
        for e in self._monomials:
            m = pw[0][e[0]]
            for i in range(1, self.n):
                m = m * pw[i][e[i]]
            mono[e] = m
        return {key: mp.fdot(scaled[key], [mono[e] for _, _, e in rows]) for key, rows in self._plan.items()}


@dataclass(frozen=True)
class Kernels:
    """One rate polynomial with numeric spectrum and batch, ready to evaluate (free: z, eta, beta)."""

    full: PolyPartials        # det(zI - T_k) in (z, eta, beta)
    secular: PolyPartials     # its secular factor Q in (z, eta(, beta))
    degree: int               # degree of det(zI - T_k) in z
    momentum: bool

    def coeffs_mp(self, e, b) -> list:
        """Coefficients of det(zI - T_k) in z at (eta, beta) = (e, b), highest first."""
        out = [mp.mpf(0)] * (self.degree + 1)
        for (i, j, k), c in zip(self.full.exponents, self.full.coefficients()):
            out[self.degree - i] += c * e ** j * b ** k
        return out

    def system_mp(self, *x) -> list:
        """[Q, Q_eta(, Q_beta)] at x = (z, eta(, beta))."""
        v = self.secular(*x)
        return [v[()]] + [v[(i,)] for i in range(1, len(x))]

    def jacobian_mp(self, *x) -> mp.matrix:
        """The Jacobian of ``system_mp`` in (z, eta(, beta))."""
        v = self.secular(*x)
        n = len(x)
        rows = [[v[(j,)] for j in range(n)]]
        rows += [[v[tuple(sorted((i, j)))] for j in range(n)] for i in range(1, n)]
        return mp.matrix(rows)

    def derivs_mp(self, *x):
        """(Q_z, Q_zz, grad_p Q, grad_p Q_z, Hess_p Q) at x (p = eta(, beta)): the implicit derivatives of
        the root z(p) of Q follow from these."""
        v = self.secular(*x)
        n = len(x)
        ps = range(1, n)
        return (v[(0,)], v[(0, 0)], [v[(i,)] for i in ps], [v[(0, i)] for i in ps],
                mp.matrix([[v[tuple(sorted((i, j)))] for j in ps] for i in ps]))


def kernels(method: str, spectrum: Spectrum, batch) -> Kernels:
    """Build the kernels for ``method`` on a numeric ``spectrum`` (values and multiplicities numbers)."""
    return _kernels(method, spectrum, sp.sympify(batch))


@lru_cache(maxsize=64)
def _kernels(method: str, spectrum: Spectrum, batch) -> Kernels:
    rp = rate_polynomial(method, spectrum, batch)
    momentum = rp.full.has(beta)
    params = (eta, beta) if momentum else (eta,)
    full = PolyPartials(sp.expand(rp.full), (z, eta, beta))
    return Kernels(full, PolyPartials(sp.expand(rp.secular), (z,) + params), rp.degree, momentum)


def top_root_mp(coeffs) -> mp.mpf:
    """rho = max |root| of a polynomial (coefficients highest first) at the working precision.

    Roots at 0 (the z^(2k) factor of SGD) are divided out first. The roots are isolated by python-flint
    (acb_poly.roots: rigorous balls, refined below the working precision); where that fails (repeated
    or tightly clustered roots), mpmath's polyroots, then the eigenvalues of the companion matrix.
    """
    c = list(coeffs)
    while len(c) > 1 and c[-1] == 0:
        c.pop()
    if len(c) == 1:
        return mp.mpf(0)
    try:
        return _top_root_flint(c)
    except ValueError:
        pass
    try:
        roots = mp.polyroots(c, maxsteps=200, extraprec=2 * mp.mp.prec)
    except mp.libmp.libhyper.NoConvergence:
        n = len(c) - 1
        C = mp.matrix(n, n)
        for j in range(n):
            C[0, j] = -mp.mpf(c[j + 1]) / c[0]
        for i in range(1, n):
            C[i, i - 1] = 1
        roots = mp.eig(C, left=False, right=False)
    return max(abs(r) for r in roots)


def _top_root_flint(c) -> mp.mpf:
    """max |root| by flint: the mpf coefficients enter exactly, the balls are refined to 2^-(prec + 10)
    relative to the largest root; raises ValueError where flint cannot isolate the roots."""
    import flint

    prec = mp.mp.prec
    with flint.ctx.workprec(prec + 20):
        def arb(x):
            s, man, e, _ = mp.mpf(x)._mpf_
            return flint.arb(-man if s else man) * flint.arb(2) ** e if man else flint.arb(0)
        P = flint.acb_poly([flint.acb(arb(x)) for x in reversed(c)])
        roots = P.roots(tol=flint.arb(2) ** -(prec + 10), maxprec=8 * prec + 200)
        top = max((abs(r) for r in roots), key=lambda a: a.mid())
        m, e = top.mid().man_exp()
        return mp.mpf((int(m), int(e)))


def rho_mp(method: str, spectrum: Spectrum, batch, lr, momentum, dps: int = 40) -> mp.mpf:
    """rho(T) at (lr, momentum) as the top root of det(zI - T_k), computed at ``dps`` digits."""
    k = kernels(method, spectrum, batch)
    with mp.workdps(dps):
        return +top_root_mp(k.coeffs_mp(mp.mpf(lr) if not isinstance(lr, mp.mpf) else lr,
                                        mp.mpf(momentum) if not isinstance(momentum, mp.mpf) else momentum))


@dataclass
class Tuned:
    """The tuned rate: rho, K = -1/ln rho, eta, beta at ``digits`` digits; ``check`` how it was validated."""

    rho: mp.mpf
    eta: mp.mpf
    beta: mp.mpf
    digits: int
    check: dict = field(default_factory=dict)

    @property
    def K(self) -> mp.mpf:
        with mp.workdps(self.digits + 10):
            return -1 / mp.log(self.rho)


def _global_start(method: str, spectrum: Spectrum, batch, momentum: bool):
    """A double-precision optimum to start Newton from: the better (by rho) of the best point of a
    (log eta, log(1 - beta)) grid (``numerics.rates.rho_grid``, one vectorised call) and the optimum of
    ``numerics.tuning.tune`` (batch rounded to an integer: this is only a starting point)."""
    from .rates import rho_grid
    from .tuning import tune
    from ..theory.sampling import Gaussian

    lams = [float(v) for v in spectrum.expanded()]
    model = Gaussian(lams)
    Bi = max(1, int(round(float(batch)))) if batch is not sp.oo else math.inf
    L = max(lams)
    le = np.linspace(math.log(1e-6 / L), math.log(4.0 / L), 48)
    lg = np.linspace(math.log(1e-9), 0.0, 48) if momentum else np.array([0.0])
    E, G = np.meshgrid(np.exp(le), np.exp(lg), indexing="ij")
    R = rho_grid(method, model, Bi, E, 1 - G)
    R = np.where(np.isfinite(R), R, np.inf)
    i, j = np.unravel_index(np.argmin(R), R.shape)
    t = tune(method, model, Bi)
    if t.rho < R[i, j]:
        return t.lr, (t.momentum if momentum else 0.0)
    return float(E[i, j]), (1 - float(G[i, j])) if momentum else 0.0


def damped_newton(f, J, x0, tol, maxsteps: int = 200) -> list:
    """Newton's method with backtracking on the Newton step norm (affine invariant), mpmath.

    Stops when the step is below ``tol`` (relative), or when it is below sqrt(tol) and a full step no
    longer shrinks it: the iteration has reached the rounding floor of the working precision (an
    ill-conditioned Jacobian puts that floor above ``tol``; backtracking there only costs evaluations).
    """
    x = mp.matrix(x0)

    def step(x):
        return mp.lu_solve(J(*x), mp.matrix(f(*x)))

    dx = step(x)
    for _ in range(maxsteps):
        t = mp.mpf(1)
        near = mp.norm(dx) <= mp.sqrt(tol) * max(1, mp.norm(x))
        while True:
            xn = x - t * dx
            try:
                dxn = step(xn)
            except ZeroDivisionError:
                dxn = None
            if dxn is not None and mp.norm(dxn) < (1 - t / 4) * mp.norm(dx) or t < mp.mpf(2) ** -30:
                break
            if near:
                return [x[i] for i in range(len(x0))]
            t /= 2
        x, dx = xn, (dxn if dxn is not None else dx)
        if mp.norm(dx) <= tol * max(1, mp.norm(x)):
            x = x - dx
            break
    return [x[i] for i in range(len(x0))]


def _descend(k: Kernels, p: list, tol, maxsteps: int = 200) -> list:
    """Minimise the top root z(eta, beta) by Newton steps with implicit derivatives
    (grad z = -grad Q / Q_z, Hess z from Q's second derivatives) and backtracking on z itself, so every
    accepted point is a genuine decrease of rho (no jumping to another branch of Q = 0). An unstable
    start is first moved into the stable region by halving eta."""
    def zof(q):
        if q[0] <= 0 or (k.momentum and not 0 <= q[1] < 1):
            return mp.inf
        return top_root_mp(k.coeffs_mp(q[0], q[1] if k.momentum else 0))

    z = zof(p)
    for _ in range(60):       # an unstable start (an extrapolated one overshoots): halve eta until rho < 1
        if z < 1:
            break
        p = [p[0] / 2] + p[1:]
        z = zof(p)
    for _ in range(maxsteps):
        Qz, Qzz, gQ, gQz, HQ = k.derivs_mp(z, *p)
        gz = -mp.matrix(gQ) / Qz
        n = len(p)
        H = mp.matrix(n, n)
        for i in range(n):
            for j in range(n):
                H[i, j] = -(HQ[i, j] + gQz[i] * gz[j] + gQz[j] * gz[i] + Qzz * gz[i] * gz[j]) / Qz
        try:
            step = -mp.lu_solve(H, gz)
            if mp.fdot(step, gz) >= 0:
                raise ZeroDivisionError
        except ZeroDivisionError:
            step = -gz * (mp.mpf(10) ** -3 / max(mp.norm(gz), mp.mpf(10) ** -30))
        t = mp.mpf(1)
        while t > mp.mpf(2) ** -40:
            q = [p[i] + t * step[i] for i in range(n)]
            zq = zof(q)
            if zq < z:
                break
            t /= 2
        else:
            return p
        done = max(abs(t * step[i]) / max(abs(p[i]), mp.mpf(10) ** -30) for i in range(n)) < tol
        p, z = q, zq
        if done:
            break
    return p


def tuned_rate(method: str, spectrum: Spectrum, batch, dps: int = 30, start=None) -> Tuned:
    """min over (eta, beta) (beta = 0 without momentum) of rho(T), to ``dps`` digits.

    ``start`` = (eta, beta) skips the global double-precision search (continuation in a parameter).
    Raises RuntimeError when the optimum is not a smooth interior point (validation fails).
    """
    k = kernels(method, spectrum, batch)
    e0, b0 = start if start is not None else _global_start(method, spectrum, batch, k.momentum)
    with mp.workdps(dps + 20):
        p = [mp.mpf(e0), mp.mpf(b0)] if k.momentum else [mp.mpf(e0)]
        p = _descend(k, p, mp.mpf(10) ** (-(dps // 2 + 5)))
        # polish: Newton on the smooth optimality system from the descended point
        z0 = top_root_mp(k.coeffs_mp(p[0], p[1] if k.momentum else 0))
        x0 = [z0] + p
        sol = damped_newton(k.system_mp, k.jacobian_mp, x0, mp.mpf(10) ** (-(dps + 10)), maxsteps=30)
        zs, es = sol[0], sol[1]
        bs = sol[2] if k.momentum else mp.mpf(0)
        top = top_root_mp(k.coeffs_mp(es, bs))
        gap = abs(top - zs) / zs
        # local minimum: rho at perturbed parameters is not below the optimum
        h = mp.mpf(10) ** (-(dps // 4))
        worse = True
        for de, db in ((h, 0), (-h, 0), (0, h), (0, -h)) if k.momentum else ((h, 0), (-h, 0)):
            worse &= top_root_mp(k.coeffs_mp(es * (1 + de), bs + db * (1 - bs))) >= top * (1 - h**3)
        ok = gap < mp.mpf(10) ** (-dps) and es > 0 and 0 <= bs < 1 and worse
        if not ok:
            raise RuntimeError(f"tuned {method}: no smooth interior optimum found (gap {mp.nstr(gap, 3)}, "
                               f"local minimum {worse}, eta {mp.nstr(es, 8)}, beta {mp.nstr(bs, 8)})")
        return Tuned(+top, +es, +bs, dps, {"top-root gap": mp.nstr(gap, 3), "local minimum": worse,
                                          "conditions": "Q = dQ/deta = dQ/dbeta = 0" if k.momentum
                                          else "Q = dQ/deta = 0"})


# --------------------------------------------------------------------------------------------------
# sequences along kappa on theory.asymptotics' FAMILY
# --------------------------------------------------------------------------------------------------
def tuned_sequence(method: str, kappas, m_value: int, b, a, dps: int = 30) -> list[Tuned]:
    """Tuned rates along kappa (increasing), continuing (log-log extrapolation) from one global search."""
    out, hist = [], []
    for kv in kappas:
        spec, bt = family_spectrum(kv, m_value), family_batch(kv, b, a)
        start = None
        if len(hist) >= 2:
            (k1, e1, g1), (k2, e2, g2) = hist[-2], hist[-1]
            t = math.log(kv / k2) / math.log(k2 / k1)
            start = (e2 * (e2 / e1) ** t, 1 - g2 * (g2 / g1) ** t if g2 > 0 else 0.0)
        elif len(hist) == 1:
            start = (hist[-1][1], 1 - hist[-1][2])
        try:
            res = tuned_rate(method, spec, bt, dps=dps, start=start)
        except RuntimeError:
            if start is None:
                raise
            res = tuned_rate(method, spec, bt, dps=dps)           # continuation failed: global search
            res.check["continuation"] = "failed; global search"
        out.append(res)
        hist.append((kv, float(res.eta), float(1 - res.beta)))
    return out
