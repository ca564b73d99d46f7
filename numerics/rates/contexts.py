"""Arithmetic contexts (mpmath's style: one algorithm, many arithmetics).

A context supplies numbers and the few operations the secular algorithm of :mod:`.secular` needs
beyond +, -, *, / and comparisons: conversion of exact inputs, the working precision, ``sqrt``,
``isfinite``, the coefficient kernels of theory's secular term in that arithmetic, and the root
tolerance. Comparisons are the context's own: for mpmath numbers they compare rounded values, for arb
intervals ``x > 0`` means *certainly* positive, which turns the same tests into proofs.

* :data:`mpctx`: mpmath ``mpf`` at ``mp.dps`` decimal digits.
* :data:`arbctx`: python-flint ``arb`` balls at ``flint.ctx.prec`` bits (interval arithmetic).

The double tier is the vectorised solver of :mod:`.grid` (NumPy float64 over many parameter points).
"""
from __future__ import annotations

import contextlib

import mpmath as mp

from .exact import exact, to_mpf
from ..operators import secular_lambda_kernel
from ...theory.lazy import LazyModule

sp = LazyModule("sympy")          # the exact tiers only: the double routes import no SymPy


class MpContext:
    """mpmath numbers at the current working precision ``mp.dps``."""

    name = "mpmath"

    @staticmethod
    def convert(x):
        """An exact input (SymPy number, float, Fraction, mpf) at the working precision."""
        return to_mpf(x)

    @staticmethod
    def number(x):
        return x if isinstance(x, mp.mpf) else mp.mpf(x)

    zero = property(lambda self: mp.mpf(0))
    one = property(lambda self: mp.mpf(1))

    @staticmethod
    def sqrt(x):
        return mp.sqrt(x)

    @staticmethod
    def isfinite(x) -> bool:
        return mp.isfinite(x)

    @staticmethod
    def tolerance():
        """Relative tolerance of a root at the working precision (3 digits of slack)."""
        return mp.mpf(10) ** (-mp.mp.dps + 3)

    @staticmethod
    def ulp_gap():
        return mp.mpf(10) ** (-mp.mp.dps + 5)

    @staticmethod
    def ten_pow(k: int):
        return mp.mpf(10) ** k

    @staticmethod
    def workdps(dps: int):
        return mp.workdps(dps)

    @staticmethod
    def secular_rows(method, noise, lam, lr, momentum, fB):
        """Per eigenvalue: monic ``den`` and ``char`` (det(zI - D_i)) coefficients, and either ``w``
        (phi = w_i h(z) / den_i(z)) with ``h``, or ``num`` (phi = num_i(z) / den_i(z))."""
        lam = [to_mpf(v) for v in lam]
        e, b, f = to_mpf(lr), to_mpf(momentum), to_mpf(fB)
        tau = mp.fsum(lam)
        at = secular_lambda_kernel(method, noise, "mpmath")(e, b, f, tau)
        rows = [at(v) for v in lam]
        one = mp.mpf(1)
        out = {"den": [[one] + [mp.mpf(x) for x in r["den"]] for r in rows]}
        out["char"] = out["den"] if rows[0]["char"] is None else \
            [[one] + [mp.mpf(x) for x in r["char"]] for r in rows]
        if "w" in rows[0]:
            out["w"] = [mp.mpf(r["w"][0]) for r in rows]
            out["h"] = [mp.mpf(x) for x in rows[0]["h"]]
        else:
            out["num"] = [[mp.mpf(x) for x in r["num"]] for r in rows]
        return out


class ArbContext:
    """python-flint arb balls at ``flint.ctx.prec`` bits: every comparison that holds is a proof."""

    name = "arb"

    @staticmethod
    def convert(x):
        return to_arb(x)

    @staticmethod
    def number(x):
        import flint
        return x if isinstance(x, flint.arb) else mpf_to_arb(x)

    @property
    def zero(self):
        import flint
        return flint.arb(0)

    @property
    def one(self):
        import flint
        return flint.arb(1)

    @staticmethod
    def sqrt(x):
        return x.sqrt()

    @staticmethod
    def isfinite(x) -> bool:
        return x.is_finite()

    @staticmethod
    def workdps(dps: int):
        return with_prec(int(dps * 3.33) + 10)

    @staticmethod
    def _dps() -> int:
        import flint
        return int(flint.ctx.prec / 3.33)

    def tolerance(self):
        """Relative root tolerance at flint's precision (3 digits of slack)."""
        return self.ten_pow(-self._dps() + 3)

    def ulp_gap(self):
        return self.ten_pow(-self._dps() + 5)

    @staticmethod
    def ten_pow(k: int):
        import flint
        return flint.arb(10) ** int(k)

    @staticmethod
    def secular_rows(method, noise, lam, lr, momentum, fB):
        """As :meth:`MpContext.secular_rows` (the same Horner-in-lambda kernels of theory's secular term,
        evaluated with arb balls: rational constants become enclosures)."""
        import flint
        lam = [to_arb(v) for v in lam]
        e, b, f = to_arb(lr), to_arb(momentum), to_arb(fB)
        tau = sum(lam, flint.arb(0))
        at = _arb_lambda_kernel(method, noise)(e, b, f, tau)
        rows = [at(v) for v in lam]
        one = flint.arb(1)
        out = {"den": [[one] + [flint.arb(x) for x in r["den"]] for r in rows]}
        out["char"] = out["den"] if rows[0]["char"] is None else \
            [[one] + [flint.arb(x) for x in r["char"]] for r in rows]
        if "w" in rows[0]:
            out["w"] = [flint.arb(r["w"][0]) for r in rows]
            out["h"] = [flint.arb(x) for x in rows[0]["h"]]
        else:
            out["num"] = [[flint.arb(x) for x in r["num"]] for r in rows]
        return out


_ARB_KERNELS: dict = {}


def _arb_lambda_kernel(method, noise):
    """:func:`numerics.operators.secular_lambda_kernel` lambdified for arb (cached here: the module
    mapping is not hashable for the operators' own cache)."""
    key = (method, noise)
    if key not in _ARB_KERNELS:
        _ARB_KERNELS[key] = secular_lambda_kernel.__wrapped__(method, noise, _arb_modules())
    return _ARB_KERNELS[key]


mpctx = MpContext()
arbctx = ArbContext()


# --------------------------------------------------------------------------------------------------
# arb conversions
# --------------------------------------------------------------------------------------------------
def _arb_modules():
    import flint
    return [{"mpf": flint.arb, "sqrt": lambda x: flint.arb(x).sqrt()}, "mpmath"]


def to_arb(x):
    """An enclosure of an exact input (SymPy number, float, int, Fraction, mpf) at flint's precision."""
    import flint
    e = exact(x)
    if isinstance(e, sp.Integer):
        return flint.arb(int(e))
    if isinstance(e, sp.Rational):
        return flint.arb(flint.fmpq(int(e.p), int(e.q)))
    return flint.arb(sp.lambdify((), e, _arb_modules())())


def arb_to_mpf_interval(a) -> tuple:
    """(lo, hi) as mpmath mpf, rounded outward."""
    lo, hi = a.lower(), a.upper()
    with mp.workdps(max(mp.mp.dps, 30)):
        return _arb_bound(lo), _arb_bound(hi)


def _arb_bound(x):
    m, e = x.mid().man_exp()           # exact: lower()/upper() have radius 0
    m, e = int(m), int(e)
    if m == 0:
        return mp.mpf(0)
    with mp.workprec(max(abs(m).bit_length() + 10, 53)):
        return mp.ldexp(mp.mpf(m), e)


def mpf_to_arb(x):
    """The exact arb of an mpf (or float)."""
    import flint
    m, e = (x if isinstance(x, mp.mpf) else mp.mpf(x)).man_exp
    return flint.arb(flint.fmpz(int(m))) * flint.arb(2) ** int(e) if m != 0 else flint.arb(0)


@contextlib.contextmanager
def with_prec(bits: int):
    """flint's working precision set to ``bits`` inside the block."""
    import flint
    old = flint.ctx.prec
    flint.ctx.prec = int(bits)
    try:
        yield
    finally:
        flint.ctx.prec = old


def bits_for(digits: int) -> int:
    """Working bits for ``digits`` decimal digits plus guard bits."""
    return int(3.33 * digits) + 64
