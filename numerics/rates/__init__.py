"""The spectral radius rho(T) of the second-moment operator (MATH.md §4-5), the rate of E||e_k||^2:
the front door (dispatch and precision policy). Import the rate engine only from here.

Routes (one module each)
------------------------
* :mod:`.deterministic` (batch = inf, or f_B = 0): rho = max_i rho(A + lambda_i b c^T)^2.
* :mod:`.secular` (decoupled models: gaussian, coordinate with diagonal H): T = blockdiag(D_i) + u v^T,
  rho(T) = max(rho(D), largest root of F(z) = sum_i phi(z, lambda_i) = 1), O(d) per evaluation of F;
  the vectorised double solver behind it and :func:`rho_grid` live in :mod:`.grid`.
* :mod:`.dense`: eigenvalues of T in the vech basis (size m(m+1)/2, m = s d; small d only).
* :mod:`.matrix_free`: finite sums, kaczmarz, coordinate at larger d (the resolvent reduction,
  Collatz-Wielandt bounds, ARPACK as the fallback).

Precision policy
----------------
``digits=None`` works in double precision and states a conservative number of correct digits (running
error bounds, eigenvalue condition numbers, Collatz-Wielandt brackets); ill-conditioned points (fewer
than ``DOUBLE_DIGITS_MIN`` digits) are recomputed with multiprecision (N = 15 digits). ``digits=N``:
on the secular route, one solve in arb midpoint arithmetic at about N + 25 digits whose N digits are
then proven in arb (precision ``"arb"``; see :func:`.secular.secular_arb`), the mpmath solver at two
working precisions where that fails; on the other routes mpmath at two working precisions, the result
kept only when they agree to N + 2 digits (precision ``"mpmath"``). ``certify=True``
adds an interval from :mod:`.certify` (python-flint arb) that provably contains rho. The arithmetic
contexts (mpmath, arb) are in :mod:`.contexts`; the result type in :mod:`.result`.

Examples
--------
>>> from momentum_verify.theory.sampling import Gaussian
>>> r = spectral_radius("sgd", Gaussian([1, 1]), 2, 0.4, 0, digits=20)
>>> r.digits, r.precision
(20, 'arb')
"""
from __future__ import annotations

import dataclasses
import functools
import math

import mpmath as mp
import numpy as np

from .deterministic import deterministic_double, deterministic_mp, deterministic_result
from .grid import grid_inputs, secular_grid
from .result import ROUTES, RateResult, format_bound, format_digits
from ..operators import as_method, batch_factor_value
from ...theory.errors import InputError
from ...theory.sampling import SamplingModel

__all__ = ["RateResult", "check_params", "format_bound", "format_digits", "pick_route", "rho_batches", "rho_grid",
           "spectral_radius"]

DOUBLE_DIGITS_MIN = 8     # below this many trustworthy digits a double result is recomputed in multiprecision
DOUBLE_DIGITS_MAX = 12    # digits=N up to this may be answered in double on routes without multiprecision
MAX_DIGITS = 1000         # the largest digits request
MAX_DPS = 4000            # the largest mpmath working precision (decimal digits)
DENSE_MAX = 210           # vech size of T up to which the dense route is the default (s d <= 20 for s = 2)
MP_DENSE_MAX_M = 12       # mpmath on the dense route: s d at most this (vech size s d (s d + 1)/2 <= 78)
GRID_DIGITS_MIN = 8       # rho_grid points with fewer trustworthy digits go through spectral_radius
MP_DENSE_AUTO_M = 8       # ... and at most this for the automatic escalation of an ill-conditioned double


def check_params(lr, momentum):
    """(lr, momentum) as floats with lr > 0 finite and momentum in [0, 1); InputError naming the bad one."""
    try:
        e, b = float(lr), float(momentum)
    except (TypeError, ValueError):
        raise InputError("lr", f"must be a number, got {lr!r}") from None
    if not (e > 0 and math.isfinite(e)):
        raise InputError("lr", f"must be > 0, got {lr!r}")
    if not (0 <= b < 1):
        raise InputError("momentum", f"must lie in [0, 1), got {momentum!r}")
    return e, b


def pick_route(model: SamplingModel, batch, route=None, *, method=None) -> str:
    """The route used for a model and batch (``route`` forces one where it applies); the size of the
    dense operator uses the state size s of ``method`` (default: sgd's).

    >>> from momentum_verify.theory.sampling import Gaussian
    >>> pick_route(Gaussian([1.0, 2.0]), 4), pick_route(Gaussian([1.0]), math.inf)
    ('secular', 'deterministic')
    """
    fB = batch_factor_value(model, batch)
    if route is not None:
        if route not in ROUTES:
            raise InputError("route", f"unknown route {route!r} (choose from {', '.join(ROUTES)})")
        if route == "secular" and model.decoupled is None:
            raise InputError("route", f"the secular route needs a decoupled model, not {model.name}")
        if route == "deterministic" and fB != 0.0:
            raise InputError("route", "the deterministic route needs batch = inf (or B = n without replacement)")
        return route
    if fB == 0.0:
        return "deterministic"
    if model.decoupled is not None:
        return "secular"
    m = as_method("sgd" if method is None else method).s * model.d
    return "dense" if m * (m + 1) // 2 <= DENSE_MAX else "matrix-free"


def spectral_radius(method, model: SamplingModel, batch, lr, momentum, *, digits=None, certify=False,
                    route=None) -> RateResult:
    """rho(T) for a method, sampling model and batch size at step ``lr`` and momentum ``momentum``.

    Parameters
    ----------
    method : a name or :class:`theory.methods.Method`.
    model : a :mod:`theory.sampling` model.
    batch : int >= 1 or ``math.inf`` (deterministic).
    lr, momentum : numbers (float, int, Fraction, SymPy numbers such as ``sqrt(2)`` or mpmath mpf);
        exact types are kept exact in the multiprecision and certified routes.
    digits : None for double precision (escalating to multiprecision when ill-conditioned), or the
        number of correct significant digits wanted.
    certify : also return an interval proven (python-flint arb) to contain rho.
    route : force "secular", "dense", "matrix-free" or "deterministic".

    Examples
    --------
    >>> from momentum_verify.theory.sampling import Gaussian
    >>> spectral_radius("sgd", Gaussian([1, 1]), 2, 0.4, 0, digits=10)   # (d+1)/(B+d+1) at eta = B/(B+d+1)
    RateResult(rho='0.6000000000', digits=10, route='secular', precision='arb')
    """
    method = as_method(method)
    batch = model.check_batch(batch)
    check_params(lr, momentum)
    if digits is not None:
        if isinstance(digits, bool) or not isinstance(digits, (int, np.integer)) or not 1 <= digits <= MAX_DIGITS:
            raise InputError("digits", f"must be an integer in [1, {MAX_DIGITS}], got {digits!r}")
        digits = int(digits)
    route = pick_route(model, batch, route, method=method)
    size = method.s * model.d
    if digits is None:
        res = _double(method, model, batch, lr, momentum, route)
        if res.digits < DOUBLE_DIGITS_MIN and (route in ("secular", "deterministic")
                                               or (route == "dense" and size <= MP_DENSE_AUTO_M)):
            res = _multiprecision(method, model, batch, lr, momentum, route, 15)
            res = dataclasses.replace(res, notes=res.notes + (
                f"double precision was ill-conditioned here; recomputed with {res.precision}",))
    elif digits <= DOUBLE_DIGITS_MAX and (route == "matrix-free" or (route == "dense" and size > MP_DENSE_MAX_M)):
        res = _double(method, model, batch, lr, momentum, route)
        if res.digits < digits:
            raise InputError("digits", f"the {route} route reached only {res.digits} digits here")
    else:
        res = _multiprecision(method, model, batch, lr, momentum, route, digits)
    if certify:
        from .certify import certify_rate
        res = dataclasses.replace(res, interval=certify_rate(method, model, batch, lr, momentum, res, route))
    return res


def _double(method, model, batch, lr, momentum, route) -> RateResult:
    e, b = check_params(lr, momentum)
    if route == "deterministic":
        return deterministic_result(method, model, e, b)
    if route == "secular":
        from .secular import secular_double
        return secular_double(method, model, batch, e, b)
    if route == "dense":
        from .dense import dense_double
        return dense_double(method, model, batch, e, b)
    from .matrix_free import matrix_free_double
    return matrix_free_double(method, model, batch, e, b)


def _multiprecision(method, model, batch, lr, momentum, route, digits) -> RateResult:
    """RateResult with ``digits`` correct digits, agreed between two working precisions (N + 10 and
    N + 25 decimal digits; both grow until they agree to N + 2 digits)."""
    from .dense import dense_mp
    from .secular import RefinementFailed, block_radii_double, secular_arb, secular_mp
    method = as_method(method)
    if route == "matrix-free" or (route == "dense" and method.s * model.d > MP_DENSE_MAX_M):
        raise InputError("digits", f"multiprecision needs the secular or deterministic route, or the dense "
                                   f"route with s d <= {MP_DENSE_MAX_M} (here d = {model.d}); ask for at most "
                                   f"{DOUBLE_DIGITS_MAX} digits on the matrix-free route")
    z0 = None
    top = None
    if route == "dense":
        z0 = float(_double(method, model, batch, float(lr), float(momentum), route).rho)
    if route == "secular":
        z0 = float(_double(method, model, batch, float(lr), float(momentum), route).rho)
        radii = block_radii_double(method, model, batch, float(lr), float(momentum))
        try:                                # one precision in arb, the digits proven: O(d) per step
            rho, _, _ = secular_arb(method, model, batch, lr, momentum, digits, float(radii.max()))
            with mp.workdps(digits + 15):
                return RateResult(+rho, digits, None, route, "arb")
        except RefinementFailed:            # no coupling, or no certificate: the mpmath solver
            pass
        top = [int(i) for i in np.flatnonzero(radii >= radii.max() * (1 - 1e-6) - 1e-300)]
    dps = digits + 10
    agree = 0
    for _ in range(12):
        vals = []
        start, start_digits = z0, 12
        for p in (dps, dps + 15):
            with mp.workdps(p):
                if route == "deterministic":
                    v = deterministic_mp(method, model, lr, momentum)
                elif route == "secular":        # the second precision starts from the first's root
                    v = secular_mp(method, model, batch, lr, momentum, start, top, start_digits)
                    start, start_digits = +v, max(12, dps - 12)
                else:
                    v = dense_mp(method, model, batch, lr, momentum, z0)
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


def rho_grid(method, model: SamplingModel, batch, lrs, momenta, *, check: bool = False) -> np.ndarray:
    """Double-precision rho over broadcast arrays of step sizes and momenta (shape of the broadcast).

    Decoupled models use the vectorised secular solver; with ``check=True`` the points where its running
    error bound allows fewer than ``GRID_DIGITS_MIN`` digits (near beta = 1, where the double grid can
    be wrong in the 6th digit) are recomputed by :func:`spectral_radius` (which escalates to arb there);
    without it (the tuner's search, which confirms its best points with :func:`spectral_radius`) the
    values are the double solver's, unchecked. batch = inf: the closed-form deterministic rate; coupled
    models on the dense route: unchecked, the batched vech eigenvalues of :mod:`numerics.dense_batch`
    (the matrix of :func:`spectral_radius`'s dense route, eigenvalues without vectors), with
    ``check=True`` a loop over :func:`spectral_radius`, as for the other models. Diverging points get
    rho > 1.

    >>> from momentum_verify.theory.sampling import Gaussian
    >>> rho_grid("sgd", Gaussian([1.0, 1.0]), 2, [0.4, 0.8], 0.0).round(12)
    array([0.6, 1. ])
    """
    method = as_method(method)
    batch = model.check_batch(batch)
    shape, e, b = grid_inputs(lrs, momenta)
    if not np.all(np.isfinite(e)):           # infinite steps diverge
        out = np.full(e.size, np.inf)
        fin = np.isfinite(e)
        if fin.any():
            out[fin] = rho_grid(method, model, batch, e[fin], b[fin], check=check)
        return out.reshape(shape)
    fB = batch_factor_value(model, batch)
    if fB == 0.0:
        return deterministic_double(method, model.spectrum_array(), e, b)[0].reshape(shape)
    if model.decoupled is None and not check and pick_route(model, batch, method=method) == "dense":
        return _dense_batch(method, model, batch).rho(e, b).reshape(shape)
    if model.decoupled is None:              # lr = 0: nothing moves (rho = 1); momentum 1: not convergent
        out = [1.0 if ei == 0 else math.inf if bi >= 1 else float(spectral_radius(method, model, batch, ei, bi).rho)
               for ei, bi in zip(e, b)]
        return np.array(out).reshape(shape)
    out, rel = secular_grid(method, model, fB, e, b, error_bounds=check)
    # ill-conditioned points (near beta = 1 the expanded coefficients cancel): the front door's answer
    for k in np.flatnonzero(~(rel <= 10.0 ** -GRID_DIGITS_MIN)):
        if e[k] > 0 and b[k] < 1:
            out[k] = float(spectral_radius(method, model, batch, e[k], b[k]).rho)
    return out.reshape(shape)


def _dense_batch(method, model, batch):
    """The batched dense evaluator of one (method, model, batch) (its noise map tabulated once; kept
    for hashable arguments)."""
    try:
        return _dense_batch_cached(method, model, batch)
    except TypeError:                        # unhashable (a model holding a plain array)
        from ..dense_batch import DenseBatch
        return DenseBatch(method, model, batch)


@functools.lru_cache(maxsize=32)
def _dense_batch_cached(method, model, batch):
    from ..dense_batch import DenseBatch
    return DenseBatch(method, model, batch)


def rho_batches(method, model: SamplingModel, batches, lrs, momenta) -> np.ndarray:
    """:func:`rho_grid` (unchecked) with a batch size per point: ``batches``, ``lrs`` and ``momenta``
    broadcast together. A decoupled model solves every finite batch in one vectorised secular solve
    (the batch factor f(B) enters the secular tables per point); other models, and B = inf, go through
    :func:`rho_grid` once per distinct batch size. The tuner's lockstep search uses it.

    >>> from momentum_verify.theory.sampling import Gaussian
    >>> rho_batches("sgd", Gaussian([1.0, 1.0]), [2, 6], [0.4, 6 / 9], 0.0).round(12)   # (d+1)/(B+d+1)
    array([0.6       , 0.33333333])
    """
    method = as_method(method)
    Bs, e, b = np.broadcast_arrays(np.asarray(batches, dtype=object), np.asarray(lrs, dtype=float),
                                   np.asarray(momenta, dtype=float))
    shape = e.shape
    Bs, e, b = Bs.ravel(), e.ravel(), b.ravel()
    out = np.empty(e.size)
    fB = np.array([batch_factor_value(model, model.check_batch(B)) for B in Bs], dtype=float)
    rest = np.ones(e.size, dtype=bool)
    if model.decoupled is not None:
        grid_inputs(e, b)
        sel = np.flatnonzero((fB != 0.0) & np.isfinite(e))
        if sel.size:
            out[sel] = secular_grid(method, model, fB[sel], e[sel], b[sel], error_bounds=False)[0]
            rest[sel] = False
    for B in dict.fromkeys(Bs[rest].tolist()):
        sel = np.flatnonzero(rest & (Bs == B))
        out[sel] = rho_grid(method, model, B, e[sel], b[sel])
    return out.reshape(shape)
