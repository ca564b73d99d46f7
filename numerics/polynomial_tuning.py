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
@dataclass(frozen=True)
class Kernels:
    """Lambdified pieces of one rate polynomial with numeric spectrum and batch (free: z, eta, beta)."""

    coeffs_mp: object      # (eta, beta) -> list of coefficients of det(zI - T_k), highest first
    system_mp: object      # (z, eta, beta) -> [Q, Q_eta(, Q_beta)]
    jacobian_mp: object
    momentum: bool
    derivs_mp: object = None   # (z, eta, beta) -> (Q_z, Q_zz, grad_p Q, grad_p Q_z, Hess_p Q)


def kernels(method: str, spectrum: Spectrum, batch) -> Kernels:
    """Build the kernels for ``method`` on a numeric ``spectrum`` (values and multiplicities numbers)."""
    return _kernels(method, spectrum, sp.sympify(batch))


@lru_cache(maxsize=64)
def _kernels(method: str, spectrum: Spectrum, batch) -> Kernels:
    rp = rate_polynomial(method, spectrum, batch)
    coeffs = rp.coefficients()
    momentum = rp.full.has(beta)
    params = (eta, beta) if momentum else (eta,)
    Q = sp.expand(rp.secular)
    eqs = [Q] + [sp.diff(Q, p) for p in params]
    unknowns = (z,) + params
    J = sp.Matrix(eqs).jacobian(unknowns)
    Qz = sp.diff(Q, z)
    pieces = [Qz, sp.diff(Qz, z), sp.Matrix([sp.diff(Q, p) for p in params]),
              sp.Matrix([sp.diff(Qz, p) for p in params]), sp.hessian(Q, params)]
    return Kernels(sp.lambdify((eta, beta), coeffs, "mpmath"),
                   sp.lambdify(unknowns, eqs, "mpmath"), sp.lambdify(unknowns, J, "mpmath"), momentum,
                   sp.lambdify(unknowns, pieces, "mpmath"))


def top_root_mp(coeffs) -> mp.mpf:
    """rho = max |root| of a polynomial (coefficients highest first) at the working precision.

    Roots at 0 (the z^(2k) factor of SGD) are divided out first; if the iteration does not converge
    (clustered roots), the eigenvalues of the companion matrix are used instead.
    """
    c = list(coeffs)
    while len(c) > 1 and c[-1] == 0:
        c.pop()
    if len(c) == 1:
        return mp.mpf(0)
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
    """Newton's method with backtracking on the Newton step norm (affine invariant), mpmath."""
    x = mp.matrix(x0)

    def step(x):
        return mp.lu_solve(J(*x), mp.matrix(f(*x)))

    dx = step(x)
    for _ in range(maxsteps):
        t = mp.mpf(1)
        while True:
            xn = x - t * dx
            try:
                dxn = step(xn)
            except ZeroDivisionError:
                dxn = None
            if dxn is not None and mp.norm(dxn) < (1 - t / 4) * mp.norm(dx) or t < mp.mpf(2) ** -30:
                break
            t /= 2
        x, dx = xn, (dxn if dxn is not None else dx)
        if mp.norm(dx) <= tol * max(1, mp.norm(x)):
            x = x - dx
            break
    return [x[i] for i in range(len(x0))]


def _descend(k: Kernels, p: list, tol, maxsteps: int = 200) -> list:
    """Minimise the top root z(eta, beta) by Newton steps with implicit derivatives
    (grad z = -grad Q / Q_z, Hess z from Q's second derivatives) and backtracking on z itself, so every
    accepted point is a genuine decrease of rho (no jumping to another branch of Q = 0)."""
    def zof(q):
        if q[0] <= 0 or (k.momentum and not 0 <= q[1] < 1):
            return mp.inf
        return top_root_mp(k.coeffs_mp(q[0], q[1] if k.momentum else 0))

    z = zof(p)
    for _ in range(maxsteps):
        args = [z] + p + ([] if k.momentum else [])
        Qz, Qzz, gQ, gQz, HQ = k.derivs_mp(*args)
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
