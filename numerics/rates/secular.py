"""The secular route (MATH.md §5), written once over an arithmetic context.

For decoupled models T = blockdiag(D_i) + u v^T and, off the spectrum of D,

    z is an eigenvalue of T  iff  F(z) = sum_i phi(z, lambda_i) = 1,   phi = num_i(z) / den_i(z).

On (rho(D), inf) every term of F is a power series in 1/z with non-negative coefficients, so F is
decreasing and convex there; rho(T) is the largest root of F = 1 above rho(D), or rho(D) when there is
none. Whether a point lies above rho(D) is decided by the Budan-Fourier test (every derivative of every
det(zI - D_i) positive there), never by F's value.

:class:`SecularSum` holds the coefficients in one context (:mod:`.contexts`: mpmath, arb) and evaluates
F, F' and the Budan-Fourier test; :func:`solve` is the one root-finding algorithm over it; the
certified tier (:mod:`.certify`) runs the same evaluations in arb, where each comparison is a proof.
The double route is the vectorised solver of :mod:`.grid` at one parameter point.
"""
from __future__ import annotations

import mpmath as mp
import numpy as np

from .contexts import mpctx
from .exact import batch_factor_exact, spectrum_exact
from .grid import SecularArrays, solve_grid
from .polynomials import horner, taylor_shift
from .result import EPS, RateResult, digits_from_rel
from ..operators import batch_factor_value, secular_magnitude_kernel


class SecularSum:
    """F(z) = sum_i phi(z, lambda_i) and the Budan-Fourier test in the context ``ctx``.

    When theory's numerator factors as w(lambda) h(z), F = h(z) sum_i w_i / den_i(z) (one division
    per eigenvalue); otherwise F = sum_i num_i(z) / den_i(z).
    """

    def __init__(self, ctx, method, model, batch, lr, momentum):
        self.ctx = ctx
        rows = ctx.secular_rows(method, model.decoupled, spectrum_exact(model), lr, momentum,
                                batch_factor_exact(model, batch))
        self.den, self.char = rows["den"], rows["char"]
        self.w, self.h, self.num = rows.get("w"), rows.get("h"), rows.get("num")
        if self.w is not None:
            self.trivial = all(x == 0 for x in self.w)
        else:
            self.trivial = all(x == 0 for c in self.num for x in c)

    def F(self, z):
        """(F(z), F'(z))."""
        s, ds = self.ctx.zero, self.ctx.zero
        if self.num is None:
            for w, cd in zip(self.w, self.den):
                p, dp = horner(cd, z)
                r = w / p
                s += r
                ds += r * dp / p
            h, dh = horner(self.h, z)
            return h * s, dh * s - h * ds
        for cn, cd in zip(self.num, self.den):
            n, dn = horner(cn, z)
            p, dp = horner(cd, z)
            s += n / p
            ds += (dn * p - n * dp) / (p * p)
        return s, ds

    def above(self, z, which=None) -> bool:
        """z > rho(D) (in arb: certainly): every derivative of every det(zI - D_i) > 0 at z."""
        rows = self.char if which is None else [self.char[i] for i in which]
        for c in rows:
            for v in taylor_shift(c, z):
                if not v > 0:
                    return False
        return True

    def not_above(self, z) -> bool:
        """rho(D) >= z (in arb: certainly): some derivative of some det(zI - D_i) <= 0 at z."""
        return any(any(v <= 0 for v in taylor_shift(c, z)) for c in self.char)

    def block_radius(self, i):
        """Largest real root of det(z I - D_i) (= rho(D_i), a Perron eigenvalue); mpmath only."""
        c = self.char[i]
        while len(c) > 1 and c[-1] == 0:
            c = c[:-1]
        if len(c) == 1:
            return mp.mpf(0)
        roots = mp.polyroots(c, maxsteps=400, extraprec=4 * mp.mp.prec, error=False)
        return max((mp.re(r) for r in roots if abs(mp.im(r)) <= mp.mpf(10) ** (-mp.mp.dps // 3) * (1 + abs(r))),
                   default=max(abs(r) for r in roots))


def solve(S: SecularSum, z0, top: list[int], z0_digits: int = 12):
    """rho(T) at the context's working precision, starting from an estimate ``z0`` good to about
    ``z0_digits`` digits; ``top`` lists the eigenvalue indices whose blocks may attain rho(D).

    A point above the root (above rho(D), F < 1) is found walking up from ``z0``; from there Newton on F
    lands at or below the root and bisection on "above rho(D) and F >= 1" finds a left point; from the
    left, Newton on G = 1/F (nearly linear next to a pole of F) while it does not overshoot, then Newton
    on F (never overshoots: F is convex decreasing above rho(D)); bisection as a fallback.
    """
    ctx = S.ctx
    tol = ctx.tolerance()
    if S.trivial:
        return max(S.block_radius(i) for i in top)
    z0 = ctx.number(z0)
    gap = max(abs(z0) * ctx.ten_pow(-(z0_digits - 4)), ctx.ulp_gap())
    for _ in range(4000):
        hi = z0 + gap
        if S.above(hi) and S.F(hi)[0] < 1:
            break
        gap *= 4
    F, dF = S.F(hi)
    c = hi - (F - 1) / dF if dF < 0 else hi / 2
    below = ctx.zero
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
    z, use_F = left, False
    F, dF = S.F(z)
    for _ in range(400):
        if dF >= 0 or not ctx.isfinite(F):
            break
        step = (F - 1) / -dF if use_F else (F * F - F) / -dF
        if step <= tol * z and abs(F - 1) <= ctx.sqrt(tol):
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


def secular_mp(method, model, batch, lr, momentum, z0, top: list[int], z0_digits: int = 12):
    """rho(T) in mpmath at the current ``mp.dps`` (see :func:`solve`)."""
    return solve(SecularSum(mpctx, method, model, batch, lr, momentum), z0, top, z0_digits)


# --------------------------------------------------------------------------------------------------
# the double tier at one point
# --------------------------------------------------------------------------------------------------
def secular_double(method, model, batch, e, b) -> RateResult:
    """rho(T) in double precision with a running error bound (grid solver at one point)."""
    lam = model.spectrum_array()
    fB = batch_factor_value(model, batch)
    arr = SecularArrays(method, model.decoupled, lam, np.array([e]), np.array([b]), np.array([fB]),
                        float(np.sum(lam)))
    rho, lo, hi, found = solve_grid(arr)
    r = float(rho[0])
    if found[0]:
        mags = secular_magnitude_kernel(method, model.decoupled)(lam[None, :], e, b, fB, float(np.sum(lam)))
        rel = float(arr.rel_error(rho, mags)[0])
        return RateResult(r, digits_from_rel(rel), None, "secular", "double")
    # rho = rho(D) (e.g. coordinate descent, where u = v = 0): the top block's eigenvalue
    r, rel = block_radius_double(method, model, batch, e, b)
    return RateResult(r, digits_from_rel(rel), None, "secular", "double")


def _blocks(method, model, batch, e, b):
    from ..operators import DecoupledProblem
    return DecoupledProblem(method, model, batch, e, b).D


def block_radii_double(method, model, batch, e, b) -> np.ndarray:
    """rho(D_i) for every block, from double eigenvalues (good to about eps^(1/s) near defective blocks)."""
    return np.max(np.abs(np.linalg.eigvals(_blocks(method, model, batch, e, b))), axis=-1)


def top_blocks(method, model, batch, e, b, rel: float = 1e-6) -> list[int]:
    """Indices i whose block radius rho(D_i) is within ``rel`` (relative) of rho(D)."""
    r = block_radii_double(method, model, batch, e, b)
    return [int(i) for i in np.flatnonzero(r >= r.max() * (1 - rel) - 1e-300)]


def block_radius_double(method, model, batch, e, b):
    """rho(D) = max_i rho(D_i) and a relative error bound from the top block's eigenvalue condition
    number ||x|| ||y|| / |y^H x| (left and right eigenvectors: the blocks are far from normal near
    critical damping), eps^(1/k) when the block is (nearly) defective."""
    import scipy.linalg as sla
    D = _blocks(method, model, batch, e, b)
    r = np.max(np.abs(np.linalg.eigvals(D)), axis=-1)
    i = int(np.argmax(r))
    rho = float(r[i])
    if rho == 0:
        return 0.0, 0.0
    rel = 0.0
    for j in np.flatnonzero(r >= rho * (1 - 1e-6)):      # every block that may attain the max
        w, vl, vr = sla.eig(D[j], left=True, right=True)
        k = int(np.argmax(np.abs(w)))
        x, y = vr[:, k], vl[:, k]
        cond = np.linalg.norm(x) * np.linalg.norm(y) / max(abs(np.vdot(y, x)), 1e-300)
        kk = D.shape[-1]
        bound = 40 * EPS * np.linalg.norm(D[j]) * cond / rho
        if not np.isfinite(bound) or bound > EPS ** (1 / kk):
            bound = max(bound if np.isfinite(bound) else 0.0, 10 * EPS ** (1 / kk))
        rel = max(rel, bound)
    return rho, rel


# --------------------------------------------------------------------------------------------------
# the arb tier: the same solver on arb midpoints, then a certificate
# --------------------------------------------------------------------------------------------------
class RefinementFailed(RuntimeError):
    """The arb tier could not certify the requested digits (the caller falls back to mpmath)."""


class MidpointSum:
    """A :class:`SecularSum` in arb seen as floating point at ``flint.ctx.prec`` bits: F and F' are the
    midpoints of their enclosures, z > rho(D) is asked of the exact midpoint of z (a certain answer).
    :func:`solve` runs over it unchanged; only the final certificate relies on the enclosures."""

    def __init__(self, S: SecularSum):
        self.S, self.ctx, self.trivial = S, S.ctx, S.trivial
        self.evaluations = 0

    def F(self, z):
        self.evaluations += 1
        F, dF = self.S.F(z.mid())
        return F.mid(), dF.mid()

    def above(self, z, which=None) -> bool:
        return self.S.above(z.mid(), which)

    def block_radius(self, i):
        raise RefinementFailed("rho = rho(D): left to the mpmath solver")


def _largest_real_root(c, z):
    """Largest real root of the monic polynomial ``c`` (arb midpoints, highest degree first) by Newton
    from a point ``z`` above every root's real part: monotone from the right (the polynomial is convex
    increasing there), linear only while resolving a near-double root."""
    for _ in range(4000):
        p, dp = horner(c, z)
        if not dp > 0:
            break
        step = (p / dp).mid()
        if not step > 0:
            break
        z = (z - step).mid()
        if step <= abs(z) * 2 ** (-0.9 * _bits()):
            break
    return z


def _bits() -> int:
    import flint
    return flint.ctx.prec


def _block_root(S: SecularSum, i):
    import flint
    c = [a.mid() for a in S.char[i]]
    z = flint.arb(2) * max((abs(a) ** (flint.arb(1) / k)).mid() for k, a in enumerate(c[1:], 1)) + flint.arb(2) ** -60
    return _largest_real_root(c, z)


def rank_blocks(S: SecularSum, c) -> np.ndarray:
    """Block indices ranked by their largest real root, largest first: every det(zI - D_i) shifted to
    the centre c in arb (so the cancellation near a cluster of roots happens once, at full precision),
    rounded to double in w = z - c, then Newton from the right on all blocks at once."""
    polys = [list(reversed(taylor_shift(p, c))) for p in S.char]
    C = np.array([[float(a.mid()) for a in p] for p in polys])
    q = C.shape[1] - 1
    w = np.zeros(C.shape[0])
    for k in range(1, q + 1):
        w = np.maximum(w, (np.abs(C[:, k]) / (2 if k == q else 1)) ** (1.0 / k))
    w = 2 * w + 1e-300
    with np.errstate(all="ignore"):
        for _ in range(300):
            p, dp = horner([C[:, k] for k in range(q + 1)], w)
            step = np.where(dp > 0, p / dp, 0.0)
            step = np.where(np.isfinite(step) & (step > 0), step, 0.0)
            w = w - step
            if np.all(step <= 4 * EPS * np.abs(w)):
                break
    return np.argsort(-w, kind="stable")


def _pole(S: SecularSum, order):
    """rho(D) = max_i of the largest real root of det(zI - D_i): the roots of the first few blocks of
    ``order`` (ranked by their double radius), then of every block that fails the Budan-Fourier test
    just above the running maximum, until none does."""
    import flint
    done, best = set(), flint.arb(0)
    todo = [int(i) for i in order[:8]]
    for _ in range(20):
        for i in todo:
            r = _block_root(S, i)
            if r > best:
                best = r
        done.update(todo)
        z = (best + abs(best) * flint.arb(2) ** (-int(0.8 * _bits())) + flint.arb(2) ** -(2 * _bits())).mid()
        todo = [i for i, c in enumerate(S.char) if i not in done and not all(v > 0 for v in taylor_shift(c, z))]
        if not todo:
            return best
        if len(todo) > 64:                      # many blocks tie: take them all at once
            todo = [i for i in range(len(S.char)) if i not in done]
    return best


def _solve_with_pole(M: MidpointSum, p, digits: int, max_iter: int = 300):
    """The root of F = 1 above the pole p = rho(D) in arb midpoint arithmetic, from the model
    F ~ b + a/(z - p) (exact for one dominant pole, as in :func:`.grid.solve_grid`) inside a bracket
    that only shrinks: ``hi`` above rho(D) with F < 1, ``left`` above rho(D) with F >= 1. Returns the
    estimate (checked afterwards by the certificate); p itself when F < 1 all the way down to p."""
    import flint
    tol = flint.arb(10) ** -(digits + 4)
    gap = abs(p) * flint.arb(10) ** -3 + flint.arb(2) ** -200
    hi = None
    for _ in range(400):                      # a point above rho(D) with F < 1
        z = (p + gap).mid()
        if M.above(z):
            F, dF = M.F(z)
            if F < 1:
                hi = z
                break
        gap *= 8
    if hi is None:
        raise RefinementFailed("no point with F < 1 found above rho(D)")
    left = None
    z = hi
    for _ in range(max_iter):
        floor = p if left is None else left
        d = z - p
        a = (-dF * d * d).mid()
        b = (F - a / d).mid()
        c = (p + a / (1 - b)).mid() if (a > 0 and b < 1) else None
        if c is None or not (floor < c < hi):
            c = (floor + hi) / 2 if left is not None else (p + (hi - p) / 64)
            c = c.mid()
        if not M.above(c):                    # c <= rho(D): the pole estimate was low
            p = c
            continue
        Fc, dFc = M.F(c)
        step_small = abs(c - z) <= tol * abs(c)
        if Fc >= 1:
            left = c
        else:
            hi = c
        z, F, dF = c, Fc, dFc
        if step_small or hi - floor <= tol * hi:
            return z
        if left is None and (hi - p) <= tol * hi:
            return p                          # F < 1 down to rho(D): rho = rho(D)
    return z


def secular_arb(method, model, batch, lr, momentum, digits: int, centre: float):
    """rho(T) to ``digits`` proven digits in arb (python-flint's balls, an order of magnitude faster per
    operation than mpmath's mpf at these sizes), for large or ill-conditioned decoupled problems.

    At about digits + 25 decimal digits: rho(D) from the candidate blocks (Newton from the right on
    each det(zI - D_i)), the root of F = 1 from the one-pole model F ~ b + a/(z - rho(D)) on midpoints
    (:func:`_solve_with_pole`; the blocks are ranked by :func:`rank_blocks` around ``centre``, a double
    estimate of rho(D), to start the search for rho(D)), then a certificate at rho (1 -+ 10^-(digits+1)): above rho(D) and F < 1
    at the upper end; F > 1 above rho(D), or not above rho(D), at the lower end (the enclosures of every
    block, so the ranking only guides the search). The precision rises (x1.6) until it closes.

    Returns (rho as mpf, (lo, hi) proven, F evaluations); raises :class:`RefinementFailed` when there is no
    coupling or no certificate after four precisions.
    """
    from .contexts import arbctx, arb_to_mpf_interval, mpf_to_arb, with_prec, bits_for
    bits = bits_for(digits + 25)
    for _attempt in range(4):
        with with_prec(bits), mp.workdps(int(bits / 3.33)):
            S = SecularSum(arbctx, method, model, batch, lr, momentum)
            if S.trivial:
                raise RefinementFailed("no coupling (rho = rho(D))")
            M = MidpointSum(S)
            p = _pole(S, rank_blocks(S, mpf_to_arb(mp.mpf(centre))))
            z = _solve_with_pole(M, p, digits)
            rho = arb_to_mpf_interval(z.mid())[0]
            r = mp.mpf(10) ** -(digits + 1)
            lo, hi = rho * (1 - r), rho * (1 + r)
            la, ha = mpf_to_arb(lo), mpf_to_arb(hi)
            up_ok = S.above(ha) and S.F(ha)[0] < 1
            lo_ok = up_ok and ((S.above(la) and S.F(la)[0] > 1) or S.not_above(la))
            if up_ok and lo_ok:
                return rho, (lo, hi), M.evaluations
        bits = int(bits * 1.6)
    raise RefinementFailed(f"could not certify {digits} digits in arb")
