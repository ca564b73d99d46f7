"""Certified enclosures of rho(T) with interval arithmetic (python-flint arb).

Every interval returned here provably contains rho(T) for the exact inputs (floats are read as the
binary fractions they store; fractions and SymPy numbers such as sqrt(2) are enclosed by arb):

* ``deterministic`` (B = inf): rho = max_i rho(M_i)^2 from the 2 x 2 block charpolys z^2 - t z + q:
  |mu|^2 = q when t^2 - 4q < 0, ((|t| + sqrt(t^2 - 4q))/2)^2 when > 0, the union of both when the
  discriminant's enclosure contains 0 (critical damping, Polyak's optimum). The width then shrinks
  like the square root of the working precision, which is raised until the requested digits hold.
* ``secular``: the secular sum of :mod:`.secular` evaluated in the arb context; z > rho(D) iff every derivative of every det(zI - D_i) is positive at z (Budan-Fourier
  plus Gauss-Lucas: the Perron root is real and bounds the real parts of all roots). Then
  F(hi) < 1 proves rho(T) <= hi; F(lo) > 1 (with lo > rho(D)) proves rho(T) > lo; a derivative of some
  det(zI - D_i) certainly <= 0 at lo proves rho(T) >= rho(D) >= lo.
* ``dense``: the PSD-cone bounds of MATH.md §4 checked in arb: T(X) <= c X with X > 0 (X solves
  (c - T) X = I in floating point, a quadratic Lyapunov function) gives rho <= c; T(P) >= c' P with
  P >= 0 (the float Perron eigenvector plus a ridge) gives rho >= c'. Positive definiteness is checked
  by an interval LDL^T factorisation.
* ``exact_radius_interval``: rational data, small size: the characteristic polynomial of T in the vech
  basis over Q (flint fmpq_mat), its roots isolated by flint (multiplicities exact, so Jordan blocks are
  harmless).
"""
from __future__ import annotations

import flint
import mpmath as mp
import numpy as np
import sympy as sp

from .contexts import arb_to_mpf_interval, arbctx, bits_for, mpf_to_arb, to_arb, with_prec
from .exact import ObjectSecondMomentOperator, exact, spectrum_exact
from .secular import SecularSum
from ..operators import SecondMomentOperator, as_method, first_moment_charpoly_kernel
from ...theory.errors import InputError

CERT_DENSE_MAX_M = 60        # size s d of the matrices checked in arb on the dense route
EXACT_MAX_M = 8              # exact rational charpoly of T (vech size s d (s d + 1)/2 <= 36)


class CertificationError(RuntimeError):
    """No enclosure could be proven at the precisions tried."""


# --------------------------------------------------------------------------------------------------
# deterministic (B = inf)
# --------------------------------------------------------------------------------------------------
def _spectrum_arb(method, model):
    """Enclosures of the eigenvalues of H."""
    if model.decoupled is not None:
        return [to_arb(v) for v in spectrum_exact(model)]
    H = ObjectSecondMomentOperator(method, model, 1, 1, 0, to_arb).H
    M = flint.acb_mat([[flint.acb(v) for v in row] for row in H.tolist()])
    try:
        ev = M.eig()
    except (ValueError, ArithmeticError):
        ev = M.eig(multiple=True)
    out = []
    for v in ev:
        out.append(v.real.union(v.real))       # H is symmetric: the eigenvalues are real
    return out


def deterministic_interval(method, model, lr, momentum, digits: int = 15) -> tuple:
    """Certified (lo, hi) for rho = max_i rho(A + lambda_i b c^T)^2; the precision rises until the
    relative width is below 10^-digits (or a precision cap is reached; the interval is valid anyway)."""
    method = as_method(method)
    bits = bits_for(2 * digits)
    best = None
    for _ in range(6):
        with with_prec(bits):
            k = first_moment_charpoly_kernel(method, "arb")
            e, b = to_arb(lr), to_arb(momentum)
            rho = flint.arb(0)
            for lam in _spectrum_arb(method, model):
                c = [flint.arb(x) for x in k(lam, e, b)]
                rho = _arb_max(rho, _block_radius_sq(c))
            best = arb_to_mpf_interval(rho)
            if rho.rad() <= abs(rho.mid()) * flint.arb(10) ** (-digits - 1) or rho.rad() == 0:
                return best
        bits *= 2
    return best


def _arb_max(a: flint.arb, b: flint.arb) -> flint.arb:
    """An enclosure of max(x, y) for x in a, y in b."""
    lo = a.lower() if a.lower() > b.lower() else b.lower()
    hi = a.upper() if a.upper() > b.upper() else b.upper()
    return lo.union(hi)


def _block_radius_sq(c) -> flint.arb:
    """Enclosure of rho(M)^2 for the monic charpoly c of an s x s block."""
    if len(c) == 2:
        return c[1] * c[1]
    if len(c) != 3:
        P = flint.arb_poly(list(reversed(c)))
        roots = flint.acb_poly(P).roots()
        return max((abs(r) ** 2 for r in roots), key=lambda a: a.upper())
    t, q = -c[1], c[2]
    disc = t * t - 4 * q
    complex_pair = abs(q)
    real = ((abs(t) + disc.nonnegative_part().sqrt()) / 2) ** 2
    if disc < 0:
        return complex_pair
    if disc > 0:
        return real
    return complex_pair.union(real)




# --------------------------------------------------------------------------------------------------
# secular route
# --------------------------------------------------------------------------------------------------
def secular_interval(method, model, batch, lr, momentum, rho, digits: int) -> tuple:
    """Certified (lo, hi) around the approximation ``rho`` (good to about ``digits`` digits), widening
    and raising the precision until both ends are proven."""
    method = as_method(method)
    rho = rho if isinstance(rho, mp.mpf) else mp.mpf(rho)      # (mpf() would round to the context)
    rel = mp.mpf(10) ** (-max(digits, 13)) * 4    # tight first; widened (x100) until proven
    bits = bits_for(digits + 10)
    for _ in range(10):
        with with_prec(bits), mp.workdps(int(bits / 3.3) + 10):
            S = SecularSum(arbctx, method, model, batch, lr, momentum)
            lo_v, hi_v = rho * (1 - rel), rho * (1 + rel)
            lo, hi = mpf_to_arb(lo_v), mpf_to_arb(hi_v)
            up_ok = S.above(hi) and S.F(hi)[0] < 1
            lo_ok = (S.above(lo) and S.F(lo)[0] > 1) or S.not_above(lo) or lo_v <= 0
            if up_ok and lo_ok:
                return (max(lo_v, mp.mpf(0)), hi_v)
        rel *= 100
        bits = int(bits * 1.5)
    raise CertificationError("could not certify the secular bracket")




# --------------------------------------------------------------------------------------------------
# dense route: PSD-cone (Collatz-Wielandt / Lyapunov) bounds in arb
# --------------------------------------------------------------------------------------------------
def is_positive_definite(M) -> bool:
    """Certainly M > 0: interval LDL^T with every pivot certainly positive (M an object array of arb)."""
    m = M.shape[0]
    L = [[None] * m for _ in range(m)]
    dvals = []
    for j in range(m):
        s = M[j, j]
        for k in range(j):
            s = s - L[j][k] * L[j][k] * dvals[k]
        if not s > 0:
            return False
        dvals.append(s)
        for i in range(j + 1, m):
            t = M[i, j]
            for k in range(j):
                t = t - L[i][k] * L[j][k] * dvals[k]
            L[i][j] = t / s
    return True


def _arb_matrix(X: np.ndarray) -> np.ndarray:
    return np.array([[flint.arb(float(v)) for v in row] for row in X], dtype=object)


def dense_interval(method, model, batch, lr, momentum) -> tuple:
    """Certified (lo, hi) from the cone bounds; lo falls back to 0 if no lower certificate is found."""
    from ...theory.moments import vech_index
    method = as_method(method)
    m = method.s * model.d
    if m > CERT_DENSE_MAX_M:
        raise InputError("certify", f"the dense certificate handles s d <= {CERT_DENSE_MAX_M} (here {m})")
    fop = SecondMomentOperator(method, model, batch, float(lr), float(momentum))
    Tv = fop.vech_matrix()
    w, V = np.linalg.eig(Tv)
    k = int(np.argmax(np.abs(w)))
    rho = float(f"{float(abs(w[k])):.13g}")   # 13 digits: the same c grid whatever the BLAS kernel's last bits
    idx = vech_index(m)
    with with_prec(128):
        aop = ObjectSecondMomentOperator(method, model, batch, lr, momentum, to_arb)
        # upper: X = (c - T)^{-1} I, then c X - T(X) = I > 0 up to rounding
        hi = None
        for delta in (1e-12, 1e-10, 1e-8, 1e-6, 1e-4, 1e-2, 0.5):
            c = rho * (1 + delta) + 1e-300
            x = np.linalg.solve(c * np.eye(len(idx)) - Tv, np.array([1.0 if i == j else 0.0 for i, j in idx]))
            X = _unvech(x, m)
            Xa = _arb_matrix(X)
            R = flint.arb(c) * Xa - aop.apply(Xa)
            if is_positive_definite(R) and is_positive_definite(Xa):
                hi = mp.mpf(c)
                break
        if hi is None:
            raise CertificationError("no Lyapunov certificate found for the upper bound")
        # lower: P >= 0 (Perron eigenvector + ridge) with T(P) >= c' P
        P = _unvech(np.real(V[:, k]), m)
        P = P / np.trace(P)
        lo = mp.mpf(0)
        for ridge in (0.0, 1e-14, 1e-12, 1e-10):
            Pr = P + ridge * np.eye(m)
            Pa = _arb_matrix(Pr)
            if not is_positive_definite(Pa):
                continue
            TPa = aop.apply(Pa)
            for delta in (1e-12, 1e-10, 1e-8, 1e-6, 1e-4, 1e-2):
                c = rho * (1 - delta)
                if is_positive_definite(TPa - flint.arb(c) * Pa):
                    lo = mp.mpf(c)
                    break
            if lo > 0:
                break
    return lo, hi


def _unvech(x, m):
    from ...theory.moments import vech_index
    S = np.zeros((m, m))
    for v, (i, j) in zip(x, vech_index(m)):
        S[i, j] = S[j, i] = v
    return S


# --------------------------------------------------------------------------------------------------
# exact characteristic polynomial (rational data, small sizes)
# --------------------------------------------------------------------------------------------------
def _fmpq(e):
    e = exact(e)
    if not isinstance(e, sp.Rational):
        raise InputError("lr", f"exact charpoly roots need rational inputs, got {e}")
    return flint.fmpq(int(e.p), int(e.q))


def exact_radius_interval(method, model, batch, lr, momentum, digits: int = 30) -> tuple:
    """rho(T) from the exact rational characteristic polynomial of T (vech basis), roots isolated by
    flint with exact multiplicities; for rational data and small s d only."""
    method = as_method(method)
    T = ObjectSecondMomentOperator(method, model, batch, lr, momentum, _fmpq).vech_matrix()
    cp = flint.fmpq_mat(T.tolist()).charpoly()
    den = cp.denom()
    P = flint.fmpz_poly([int(c * den) for c in cp.coeffs()])
    with with_prec(bits_for(digits + 10)):
        best = flint.arb(0)
        for fac, _mult in P.factor()[1]:
            for r in flint.fmpz_poly(fac).complex_roots():
                root = r[0] if isinstance(r, tuple) else r
                best = _arb_max(best, abs(root))
        return arb_to_mpf_interval(best)


# --------------------------------------------------------------------------------------------------
# dispatch
# --------------------------------------------------------------------------------------------------
def certify_rate(method, model, batch, lr, momentum, res, route) -> tuple:
    """Certified (lo, hi) containing rho for a computed :class:`.result.RateResult`."""
    digits = max(int(res.digits), 1)
    if route == "deterministic":
        return deterministic_interval(method, model, lr, momentum, digits)
    if route == "secular":
        return secular_interval(method, model, batch, lr, momentum, res.rho, digits)
    if route == "dense" or method_size(method, model) <= CERT_DENSE_MAX_M:
        lo, hi = dense_interval(method, model, batch, lr, momentum)
        if method_size(method, model) <= EXACT_MAX_M:      # rational data: exact charpoly, tight
            try:
                elo, ehi = exact_radius_interval(method, model, batch, lr, momentum, digits + 10)
            except InputError:                              # irrational inputs (sqrt(2), ...)
                return lo, hi
            if elo <= hi and lo <= ehi:                     # both enclosures hold: intersect
                return max(lo, elo), min(hi, ehi)
        return lo, hi
    raise InputError("certify", f"certification needs the secular, deterministic or dense route "
                                f"(s d <= {CERT_DENSE_MAX_M}); this model has d = {model.d}")


def method_size(method, model) -> int:
    return as_method(method).s * model.d
