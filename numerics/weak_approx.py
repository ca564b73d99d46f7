"""SGDM against SGD at small learning rates (Wang et al. 2024; MATH.md §8), exactly.

With additive noise g = grad f + sigma v (Cov v = Sigma) the second moment obeys the affine recursion
of ``theory.additive``:

    S_{k+1} = T(S_k) + sigma^2 (b b^T) ⊗ Sigma,    E f(x_k) = (1/2) tr(H S_k[0:d, 0:d]),

with T the (matrix-free) second-moment operator of ``numerics.operators`` (mini-batch noise included
when a finite batch is given) and the forcing term lambdified from theory. The weak error is

    max_{k <= T/eta} |E f(x_k^SGDM(eta, beta)) - E f(x_k^SGD(eta))|,   sigma^2 = C / eta,

on one shared start x_0 = x_{-1} (zero initial momentum). Three routes compute it: ``dense`` (the full
(2d)^2 recursion in float64), ``decoupled`` (H diagonal and Sigma in {I, H}: d blocks of 3 unknowns,
float64, O(d) per step) and ``mpmath`` (the decoupled route at a chosen working precision). The
printed digits come from the agreement of two routes.

Also here: a small Monte Carlo of the additive-noise process (array API, through ``numerics.backends``)
for the agreement tests, the order fit, the bound check, and SVAG.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import mpmath as mp
import numpy as np
import sympy as sp

from .backends import get_backend
from .montecarlo import batch_means_interval, initial_error
from .operators import (SecondMomentOperator, as_method, batch_factor_value, decoupled_kernel,
                                lambdify_matrix, method_arrays)
from ..theory import symbols
from ..theory.additive import SIGMA_SPECTRA, decoupled_forcing, forcing, svag_parameters
from ..theory.errors import InputError
from ..theory.methods import Method
from ..theory.moments import vech_index
from ..theory.sampling import GAUSSIAN_NOISE, SamplingModel

DENSE_CHECK_MAX_D = 40      # cross-check with the dense route up to this dimension
MAX_DIGITS = 14             # float64 agreement beyond this is not distinguishable
MAX_STEPS = 5_000_000       # T / eta beyond this is refused (minutes of recursion per lr)


# --------------------------------------------------------------------------------------------------
# kernels generated from theory
# --------------------------------------------------------------------------------------------------
@lru_cache(maxsize=None)
def _bbT_kernel(method: Method, module: str = "numpy"):
    """(eta, beta) -> b b^T (the forcing per unit sigma^2 Sigma)."""
    return lambdify_matrix(forcing(method, sp.Matrix([[1]]), 1), (symbols.eta, symbols.beta), module)


@lru_cache(maxsize=None)
def _block_forcing_kernel(method: Method, kind: str, module: str = "numpy"):
    """(lambda, eta, beta) -> s(lambda) vech(b b^T), per unit sigma^2."""
    f = lambdify_matrix(decoupled_forcing(method, kind, 1), (symbols.lam, symbols.eta, symbols.beta), module)
    if module == "mpmath":
        return f
    return lambda *a: f(*a)[..., 0]


def noise_matrix(model: SamplingModel, cov) -> np.ndarray:
    """Sigma as a float array: ``"identity"``, ``"hessian"`` or a symmetric PSD d x d array."""
    H = model.hessian_array()
    d = H.shape[0]
    if isinstance(cov, str):
        if cov == "identity":
            return np.eye(d)
        if cov == "hessian":
            return np.array(H, dtype=float)
        raise InputError("noise-cov", f"unknown covariance {cov!r} (choose from identity, hessian)")
    S = np.asarray(cov, dtype=float)
    if S.shape != (d, d):
        raise InputError("noise-cov", f"must be {d} x {d}, got shape {S.shape}")
    if not np.allclose(S, S.T, rtol=0, atol=1e-12 * max(1.0, np.abs(S).max())):
        raise InputError("noise-cov", "must be symmetric")
    if np.linalg.eigvalsh(S)[0] < -1e-10 * max(1.0, np.abs(S).max()):
        raise InputError("noise-cov", "must be positive semidefinite")
    return S


def _decouplable(model: SamplingModel, cov) -> bool:
    H = model.hessian_array()
    return (isinstance(cov, str) and cov in SIGMA_SPECTRA and model.decoupled is GAUSSIAN_NOISE
            and np.count_nonzero(H - np.diag(np.diag(H))) == 0)


# --------------------------------------------------------------------------------------------------
# E f(x_k) along the affine recursion
# --------------------------------------------------------------------------------------------------
def loss_curve(method, model: SamplingModel, lr, momentum, steps: int, sigma2, cov="identity", x0=None,
               batch=math.inf, route: str = "auto", dps: int = 30):
    """E f(x_k), k = 0..steps, under additive noise of variance ``sigma2`` (on top of mini-batch noise
    of size ``batch`` when finite). ``route``: "dense", "decoupled", "mpmath" or "auto" (decoupled when
    H is diagonal and Sigma in {I, H}, else dense). The mpmath route returns a list of mpf."""
    method = as_method(method)
    steps = int(steps)
    e0 = initial_error(model.d, x0)
    if route == "auto":
        route = "decoupled" if _decouplable(model, cov) else "dense"
    if route in ("decoupled", "mpmath") and not _decouplable(model, cov):
        raise InputError("route", "the decoupled routes need a diagonal gaussian H and Sigma in {identity, hessian}")
    if route == "dense":
        return _dense(method, model, lr, momentum, steps, sigma2, noise_matrix(model, cov), e0, batch)
    if route == "decoupled":
        return _decoupled(method, model, lr, momentum, steps, sigma2, cov, e0, batch)
    if route == "mpmath":
        return _decoupled_mp(method, model, lr, momentum, steps, sigma2, cov, e0, batch, dps)
    raise InputError("route", f"unknown route {route!r} (dense, decoupled, mpmath, auto)")


def _dense(method, model, lr, momentum, steps, sigma2, Sigma, e0, batch):
    op = SecondMomentOperator(method, model, batch, lr, momentum)
    d, s = op.d, op.s
    F = np.kron(_bbT_kernel(method)(float(lr), float(momentum)), float(sigma2) * Sigma)
    z0 = np.tile(e0, s)
    S = np.outer(z0, z0)
    out = np.empty(steps + 1)
    for k in range(steps + 1):
        out[k] = 0.5 * np.sum(op.H * S[:d, :d])
        if k < steps:
            S = op.apply(S) + F
    return out


def _decoupled(method, model, lr, momentum, steps, sigma2, kind, e0, batch):
    lam = np.diag(model.hessian_array()).astype(float)
    D, u, v = decoupled_kernel(method, model.decoupled)(lam, float(lr), float(momentum),
                                                        batch_factor_value(model, batch), float(lam.sum()))
    F = float(sigma2) * _block_forcing_kernel(method, kind)(lam, float(lr), float(momentum))
    idx = vech_index(method.s)
    V = np.stack([e0 * e0 for _ in idx], axis=1)
    top = idx.index((0, 0))
    out = np.empty(steps + 1)
    for k in range(steps + 1):
        out[k] = 0.5 * np.dot(lam, V[:, top])
        if k < steps:
            V = np.einsum("ikl,il->ik", D, V) + u * np.sum(v * V) + F
    return out


def _decoupled_mp(method, model, lr, momentum, steps, sigma2, kind, e0, batch, dps):
    with mp.workdps(dps):
        lam = [mp.mpf(float(x)) for x in np.diag(model.hessian_array())]
        a = (mp.mpf(float(lr)), mp.mpf(float(momentum)), mp.mpf(batch_factor_value(model, batch)), mp.fsum(lam))
        kern, fk = decoupled_kernel(method, model.decoupled, "mpmath"), _block_forcing_kernel(method, kind, "mpmath")
        blocks = [kern(li, *a) for li in lam]
        Fs = [mp.mpf(sigma2) * fk(li, a[0], a[1]) for li in lam]
        idx = vech_index(method.s)
        top = idx.index((0, 0))
        V = [mp.matrix([mp.mpf(float(x)) ** 2] * len(idx)) for x in e0]
        out = []
        for k in range(steps + 1):
            out.append(mp.fsum(li * Vi[top] for li, Vi in zip(lam, V)) / 2)
            if k < steps:
                t = mp.fsum(mp.fsum(vb[j] * Vi[j] for j in range(len(idx))) for (_, _, vb), Vi in zip(blocks, V))
                V = [D * Vi + u * t + F for (D, u, _), Vi, F in zip(blocks, V, Fs)]
        return out


# --------------------------------------------------------------------------------------------------
# the weak error
# --------------------------------------------------------------------------------------------------
@dataclass
class WeakPoint:
    """max_{k <= steps} |E f(SGDM_k) - E f(SGD_k)| at one learning rate.

    digits : significant digits of ``max_error`` trusted (agreement of two routes), None if unchecked.
    """

    lr: float
    momentum: float
    steps: int
    sigma2: float
    max_error: float
    argmax: int
    route: str
    digits: int | None
    check_route: str | None

    def to_json(self) -> dict:
        return {"lr": self.lr, "momentum": self.momentum, "steps": self.steps, "sigma2": self.sigma2,
                "max_error": self.max_error, "argmax_step": self.argmax, "digits": self.digits,
                "route": self.route, "check_route": self.check_route}


def gap_curve(model, lr, momentum, steps, sigma2, cov="identity", x0=None, batch=math.inf, route="auto",
              dps: int = 30, sgd_lr=None):
    """E f(x_k^SGDM(lr, momentum)) - E f(x_k^SGD(sgd_lr or lr)), k = 0..steps (floats, or mpf)."""
    a = loss_curve("sgdm", model, lr, momentum, steps, sigma2, cov, x0, batch, route, dps)
    b = loss_curve("sgd", model, lr if sgd_lr is None else sgd_lr, 0.0, steps, sigma2, cov, x0, batch, route, dps)
    if route == "mpmath":
        return [x - y for x, y in zip(a, b)]
    return a - b


def agreement_digits(a: float, b: float) -> int:
    """Significant digits on which two values agree (0..MAX_DIGITS)."""
    if a == b:
        return MAX_DIGITS
    rel = abs(a - b) / max(abs(a), abs(b))
    return int(max(0, min(MAX_DIGITS, math.floor(-math.log10(rel)))))


def steps_for(horizon, lr) -> int:
    """Number of steps k <= T / eta (a hair of slack for decimal T / eta)."""
    return int(math.floor(horizon / lr * (1 + 1e-12)))


def weak_error(model: SamplingModel, lr, momentum, horizon, noise_scale=1.0, cov="identity", x0=None,
               batch=math.inf, check: bool = True) -> WeakPoint:
    """max_{k <= T/eta} |E f(SGDM_k) - E f(SGD_k)| with sigma^2 = noise_scale / eta.

    Primary route: decoupled when possible, else dense; with ``check`` the other float64 route (dense
    up to d = DENSE_CHECK_MAX_D) gives the digits: those the two routes agree on, less one (the margin
    that the mpmath comparison in tests/test_weak_approx.py needed).
    """
    lr, momentum = _check_lr(lr), _check_momentum(momentum)
    if not horizon > 0:
        raise InputError("horizon", f"must be > 0, got {horizon}")
    if not noise_scale >= 0:
        raise InputError("noise-scale", f"must be >= 0, got {noise_scale}")
    steps = steps_for(horizon, lr)
    if steps < 1:
        raise InputError("horizon", f"T / eta = {horizon / lr:g} < 1 step at lr {lr:g}")
    if steps > MAX_STEPS:
        raise InputError("horizon", f"T / eta = {steps} steps at lr {lr:g} exceeds the limit {MAX_STEPS}")
    sigma2 = noise_scale / lr
    dec = _decouplable(model, cov)
    route = "decoupled" if dec else "dense"
    g = np.abs(gap_curve(model, lr, momentum, steps, sigma2, cov, x0, batch, route))
    k = int(np.argmax(g))
    digits = check_route = None
    if check and (not dec or model.d <= DENSE_CHECK_MAX_D):
        check_route = "dense" if dec else None
        if check_route:
            g2 = np.abs(gap_curve(model, lr, momentum, steps, sigma2, cov, x0, batch, check_route))
            digits = max(0, agreement_digits(float(g[k]), float(np.max(g2))) - 1)   # one digit of margin
    return WeakPoint(lr, momentum, steps, sigma2, float(g[k]), k, route, digits, check_route)


def _check_lr(lr) -> float:
    lr = float(lr)
    if not (math.isfinite(lr) and lr > 0):
        raise InputError("lr", f"must be > 0, got {lr:g}")
    return lr


def _check_momentum(beta, param="momentum") -> float:
    beta = float(beta)
    if not 0 <= beta < 1:
        raise InputError(param, f"must lie in [0, 1), got {beta:g}")
    return beta


def scaled_momentum(lr, alpha, C) -> float:
    """beta = 1 - C eta^alpha; must land in [0, 1)."""
    if not (math.isfinite(alpha) and alpha >= 0):
        raise InputError("momentum-scaling", f"ALPHA must be >= 0, got {alpha:g}")
    if not C > 0:
        raise InputError("momentum-scaling", f"C must be > 0, got {C:g}")
    one_minus = C * lr ** alpha
    if not 0 < one_minus <= 1:
        raise InputError("momentum-scaling", f"1 - beta = C eta^ALPHA = {one_minus:g} at lr {lr:g} is outside (0, 1]")
    return 1.0 - one_minus


def sweep(model, lrs, horizon, momentum=None, scaling=None, noise_scale=1.0, cov="identity", x0=None,
          batch=math.inf, check: bool = True) -> list[WeakPoint]:
    """One :class:`WeakPoint` per lr, with beta fixed (``momentum``) or 1 - beta = C eta^alpha
    (``scaling`` = (alpha, C))."""
    if (momentum is None) == (scaling is None):
        raise InputError("momentum", "give exactly one of --momentum or --momentum-scaling")
    out = []
    for lr in lrs:
        lr = _check_lr(lr)
        beta = _check_momentum(momentum) if scaling is None else scaled_momentum(lr, *scaling)
        out.append(weak_error(model, lr, beta, horizon, noise_scale, cov, x0, batch, check))
    return out


# --------------------------------------------------------------------------------------------------
# fits and the bound
# --------------------------------------------------------------------------------------------------
def fitted_order(points: list[WeakPoint]) -> float | None:
    """Slope of log(max_error) on log(lr) over the two smallest lr (None for fewer than two)."""
    pts = sorted(points, key=lambda p: p.lr)
    if len(pts) < 2 or pts[0].lr == pts[1].lr or pts[0].max_error <= 0 or pts[1].max_error <= 0:
        return None
    return math.log(pts[1].max_error / pts[0].max_error) / math.log(pts[1].lr / pts[0].lr)


def local_orders(points: list[WeakPoint]) -> list[float]:
    """Slopes between consecutive lr (descending lr)."""
    pts = sorted(points, key=lambda p: -p.lr)
    return [math.log(a.max_error / b.max_error) / math.log(a.lr / b.lr) for a, b in zip(pts, pts[1:])]


@dataclass
class BoundCheck:
    """max_error <= C (eta / (1 - beta))^exponent over the sequence, C fitted at the largest eta."""

    constant: float
    ratios: list[float]
    holds: bool
    exponent: float


def bound_check(points: list[WeakPoint], exponent: float = 0.5, rel_slack: float = 1e-9) -> BoundCheck:
    """Fit C = max_error / (eta/(1-beta))^exponent at the largest eta; the bound holds if every smaller
    eta satisfies max_error <= C (1 + rel_slack) (eta/(1-beta))^exponent."""
    pts = sorted(points, key=lambda p: -p.lr)
    ratios = [p.max_error / (p.lr / (1 - p.momentum)) ** exponent for p in pts]
    C = ratios[0]
    return BoundCheck(C, ratios, all(r <= C * (1 + rel_slack) for r in ratios), exponent)


# --------------------------------------------------------------------------------------------------
# SVAG
# --------------------------------------------------------------------------------------------------
def svag_gap(model, lr, momentum, horizon, l: int, noise_scale=1.0, cov="identity", x0=None) -> WeakPoint:
    """max over the horizon of |E f(SGDM) - E f(SGD)| under SVAG with parameter l: step lr / l, noise
    variance (r1^2 + r2^2) sigma^2 = l sigma^2 (sigma^2 = noise_scale / lr), l times the steps
    (``theory.additive.svag_parameters``)."""
    step, var, mult = (float(x) for x in svag_parameters(sp.Integer(int(l)), sp.Float(lr), sp.Float(noise_scale / lr)))
    steps = steps_for(horizon, lr) * int(mult)
    route = "decoupled" if _decouplable(model, cov) else "dense"
    g = np.abs(gap_curve(model, step, momentum, steps, var, cov, x0, math.inf, route))
    k = int(np.argmax(g))
    return WeakPoint(step, momentum, steps, var, float(g[k]), k, route, None, None)


# --------------------------------------------------------------------------------------------------
# Monte Carlo of the additive-noise process (agreement with the affine recursion)
# --------------------------------------------------------------------------------------------------
@dataclass
class AdditiveSimulation:
    """Mean of f(x_k) over replicas at ``checkpoints`` with batch-means t intervals."""

    checkpoints: np.ndarray
    mean_loss: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    runs: int
    confidence: float
    backend: str


def simulate_additive(method, model: SamplingModel, lr, momentum, steps: int, sigma2, cov="identity",
                      runs: int = 2000, seed: int = 0, x0=None, checkpoints=None, backend="numpy",
                      groups: int = 20, confidence: float = 0.999) -> AdditiveSimulation:
    """Replicas of z+ = (A ⊗ I) z + (b ⊗ I)(H y + sigma v), y = (c^T ⊗ I) z, v ~ N(0, Sigma), from the
    method's float triple; exact gradients otherwise (no mini-batch noise)."""
    method = as_method(method)
    A, b, c = (np.asarray(a, dtype=float) for a in method_arrays(method, lr, momentum))
    H = np.asarray(model.hessian_array(), dtype=float)
    Sigma = noise_matrix(model, cov)
    w, Q = np.linalg.eigh(Sigma)
    root = (Q * np.sqrt(np.clip(w, 0, None))).T * math.sqrt(float(sigma2))   # v sigma = Z @ root
    bk = get_backend(backend, seed)
    xp = bk.xp
    e0 = initial_error(model.d, x0)
    groups = max(2, min(groups, runs))
    runs = (runs // groups) * groups
    z = [xp.asarray(np.tile(e0, (runs, 1))) for _ in range(A.shape[0])]
    Ht, R = xp.asarray(H.T.copy()), xp.asarray(root)
    cps = np.arange(steps + 1) if checkpoints is None else np.asarray(sorted(set(int(k) for k in checkpoints)))
    sums = np.empty((len(cps), groups))
    j = 0
    for k in range(steps + 1):
        if k == cps[j]:
            e = z[0]
            f = 0.5 * xp.sum(e * xp.matmul(e, Ht), axis=1)
            sums[j] = bk.to_numpy(xp.sum(xp.reshape(f, (groups, runs // groups)), axis=1))
            j += 1
            if j == len(cps):
                break
        y = sum(float(c[a]) * z[a] for a in range(len(z)) if c[a] != 0)
        u = xp.matmul(y, Ht) + xp.matmul(bk.normal((runs, model.d)), R)
        z = [sum(float(A[i, a]) * z[a] for a in range(len(z))) + float(b[i]) * u for i in range(len(z))]
    sizes = np.full(groups, runs // groups, dtype=float)
    mean, lo, hi = batch_means_interval(sums, sizes, confidence)
    return AdditiveSimulation(cps, mean, lo, hi, runs, confidence, bk.name)
