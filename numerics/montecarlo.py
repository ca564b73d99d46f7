"""Monte Carlo of the very processes the moment operators describe (MATH.md §3), written once against
the array API: R replicas in parallel, numpy by default, CuPy on a GPU.

Each replica steps the state-space form of the method, with (A, b, c) the float values of its triple
(``numerics.operators.method_arrays``), never a re-typed update rule:

    y_k = (c^T ⊗ I) z_k,   u_k = G_B y_k,   z_{k+1} = (A ⊗ I) z_k + (b ⊗ I) u_k,   e_k = first block of z_k.

G_B y = (1/B) sum_j x_j (y_j^T y) is a batched contraction over the (R, B, d) array of draws; no d x d
matrix is formed per replica. Gaussian draws are x = sqrt(spectrum) * N(0, 1); finite populations draw
component indices i.i.d. with probabilities p (with replacement; Walker's alias method, O(1) per draw)
or a uniform B-subset (without).

Gaussian batches B >= 2 use an identity in law that needs d + B normals instead of B d ("reduced"):
with v = H y, s^2 = y^T H y, each x_j = v (x_j.y)/s^2 + x_j', where x_j.y ~ N(0, s^2) is independent
of x_j' ~ N(0, H - v v^T/s^2). Given the x_j.y, sum_j (x_j.y) x_j' is N(0, (sum_j (x_j.y)^2)(H - v v^T/s^2)),
and sum_j (x_j.y)^2 = s^2 Q with Q ~ chi^2_B, so

    G_B y  =(law)  (1/B) (Q v + s sqrt(Q) x'),   x' = x - v (x.y)/s^2,  x ~ N(0, H),  Q = sum of B squared N(0, 1).

The law of the whole trajectory is unchanged (fresh draws each step, conditionally on the state);
``gaussian_sampler="direct"`` keeps the B d draws (the tests hold both against the exact recursion).

Estimates. Replicas are split into G groups (batch means). At each step the estimate of E||e_k||^2 is
the mean over all replicas; its interval is the batch-means t interval

    mean ± t_{G-1, (1+conf)/2} * se,   se^2 = G/(G-1) sum_g (n_g/R)^2 (mean_g - mean)^2,

clipped at 0. Why this interval: ||e_k||^2 is a product of random matrices applied to e_0 and is heavy
tailed (close to log-normal), so the per-replica CLT interval undercovers; group means are averages of
R/G replicas and much closer to normal, and the t quantile pays for estimating their spread from G
values. No moment-based interval survives a tail so heavy that a few replicas carry the mean, so each
step also reports the effective sample size ESS_k = (sum_r w_r)^2 / sum_r w_r^2, w_r = ||e_k^(r)||^2,
and flags the intervals reliable only while ESS_j >= 20 G for every j <= k (about 20 effective replicas
per group; a prefix of the run, since later steps are driven by the same replicas; calibrated on the
tests' random instances). The same for f(x_k) with its own ESS.

Decay rate: least squares slope of log(mean_k) on k over a tail window (default: the second half of the
reliable prefix of the run, i.e. of the steps before the first unreliable one), rho = exp(slope); its
interval is a delete-one-group jackknife over the G groups with the t_{G-1} quantile (the jackknife
also removes the first-order bias of log(mean)).

Overflow: a replica with ||e_k||^2 > 1e150 (or a non-finite value) stops the run cleanly at step k;
results hold the steps before it.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
from scipy import stats as _stats

from .backends import get_backend
from .operators import (SecondMomentOperator, as_method, batch_factor_value, decoupled_kernel, init_weights,
                                method_arrays)
from ..theory.errors import InputError
from ..theory.moments import vech_index
from ..theory.sampling import SamplingModel, alias_table as _alias_table

OVERFLOW = 1e150          # ||e||^2 above this stops the run (its square still fits in a double)
UNDERFLOW = 1e-280        # every replica below this: stop (subnormals are slow and carry no digits)
DEFAULT_GROUPS = 30
CHUNK_ELEMENTS = 1 << 18  # size of the largest temporary per chunk (cache-sized)
RELIABLE_ESS_PER_GROUP = 20


# --------------------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------------------
@dataclass
class RateFit:
    """Fitted decay rate of E||e_k||^2: rho = exp(slope of log mean on k) over ``window``.

    ci : (lo, hi) jackknife-over-groups t interval at ``confidence``; ``reliable`` is False when the
    window had fewer than 3 steps with a reliable mean (the fit then used all of its steps).
    """

    rho: float
    ci: tuple[float, float]
    window: tuple[int, int]
    confidence: float
    reliable: bool
    method: str = "least squares of log mean on k; delete-one-group jackknife t interval"
    n_used: int = 0         # steps used by the fit (k1 - k0 + 1 when the window has no holes)


@dataclass
class SimulationResult:
    """Per-step Monte Carlo estimates (arrays over ``steps`` = 0, 1, ..., last completed step)."""

    steps: np.ndarray
    mean_sq_error: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    mean_loss: np.ndarray
    loss_ci_low: np.ndarray
    loss_ci_high: np.ndarray
    ess: np.ndarray
    reliable: np.ndarray
    loss_ess: np.ndarray
    loss_reliable: np.ndarray
    rate_fit: RateFit | None
    runs: int
    groups: int
    confidence: float
    backend: str
    seed: int
    elapsed_s: float
    stopped_at: int | None = None
    stop_reason: str | None = None
    interval_method: str = field(default="batch means over groups, t quantile, clipped at 0")

    def __repr__(self) -> str:
        k = int(self.steps[-1])
        pct = f"{100 * self.confidence:g}%"
        last = (f"E||e_{k}||^2 = {self.mean_sq_error[-1]:.6g}, {pct} CI [{self.ci_low[-1]:.6g}, "
                f"{self.ci_high[-1]:.6g}] (reliable: {bool(self.reliable[-1])})")
        stop = f", stopped_at={self.stopped_at}" if self.stopped_at is not None else ""
        return (f"SimulationResult(steps=0..{k}, {last}, rate_fit={self.rate_fit!r}, runs={self.runs}, "
                f"groups={self.groups}, backend={self.backend!r}, seed={self.seed}{stop})")

    @property
    def replica_steps(self) -> int:
        return self.runs * (len(self.steps) - 1)


# --------------------------------------------------------------------------------------------------
# initial condition and the exact recursion
# --------------------------------------------------------------------------------------------------
def initial_error(d: int, x0=None) -> np.ndarray:
    """x_0 - x* (= x_{-1} - x*): the given vector, or the all-ones vector over sqrt(d)."""
    if x0 is None:
        return np.full(d, 1.0 / math.sqrt(d))
    arr = np.asarray(x0, dtype=float)
    if arr.shape != (d,):
        raise InputError("x0", f"needs {d} entries (one per coordinate), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InputError("x0", "has a non-finite entry")
    return arr


def exact_moments(method, model: SamplingModel, batch, lr, momentum, steps: int, x0=None):
    """Exact E||e_k||^2 and E f(x_k) = (1/2) tr(H E[e_k e_k^T]) for k = 0..steps.

    From the second-moment recursion S_{k+1} = T(S_k), S_0 = z_0 z_0^T (MATH.md §4); for decoupled
    models the diagonal blocks of S in H's eigenbasis close on themselves (MATH.md §5), so the
    recursion runs on d blocks of size s(s+1)/2 in O(d) per step, else on the full (sd)^2 matrix.
    """
    method = as_method(method)
    steps = int(steps)
    e0 = initial_error(model.d, x0)
    with np.errstate(over="ignore", invalid="ignore"):
        if model.decoupled is not None:
            return _exact_decoupled(method, model, batch, lr, momentum, steps, e0)
        return _exact_dense(method, model, batch, lr, momentum, steps, e0)


def exact_cost(method, model: SamplingModel, steps: int) -> float:
    """Rough floating-point operations of :func:`exact_moments` (to decide whether to run it)."""
    m = as_method(method).s * model.d
    if model.decoupled is not None:
        return 20.0 * steps * model.d * m
    return steps * (4.0 * m**3 + 2.0 * (model.n or model.d) * model.d**2)


def _exact_dense(method, model, batch, lr, momentum, steps, e0):
    op = SecondMomentOperator(method, model, batch, lr, momentum)
    d, s = op.d, op.s
    z0 = np.kron(init_weights(method, lr, momentum), e0)       # z_0 = w ⊗ e_0 (w = 1 by default)
    S = np.outer(z0, z0)
    err2, loss = np.empty(steps + 1), np.empty(steps + 1)
    for k in range(steps + 1):
        top = S[:d, :d]
        err2[k], loss[k] = np.trace(top), 0.5 * np.sum(op.H * top)
        if k < steps:
            S = op.apply(S)
    return err2, loss


def _exact_decoupled(method, model, batch, lr, momentum, steps, e0):
    lam = np.diag(model.hessian_array()).astype(float)      # decoupled models have a diagonal H
    D, u, v = decoupled_kernel(method, model.decoupled)(lam, float(lr), float(momentum),
                                                        batch_factor_value(model, batch), float(lam.sum()))
    idx = vech_index(method.s)
    w = init_weights(method, lr, momentum)                   # z_0 = w ⊗ e_0 (w = 1 by default)
    V = np.stack([(w[a] * w[b]) * (e0 * e0) for a, b in idx], axis=1)
    top = idx.index((0, 0))
    err2, loss = np.empty(steps + 1), np.empty(steps + 1)
    for k in range(steps + 1):
        err2[k], loss[k] = V[:, top].sum(), 0.5 * np.dot(lam, V[:, top])
        if k < steps:
            V = np.einsum("ikl,il->ik", D, V) + u * np.sum(v * V)
    return err2, loss


# --------------------------------------------------------------------------------------------------
# layout of replicas: G groups, each of p blocks of c replicas; chunks of q whole blocks
# --------------------------------------------------------------------------------------------------
@dataclass
class _Layout:
    runs: int
    groups: int
    blocks_per_group: int
    block: int
    blocks_per_chunk: int

    @classmethod
    def plan(cls, runs: int, groups: int, per_replica_elements: int):
        groups = max(2, min(groups, runs))
        m = -(-runs // groups)
        per_chunk = max(1, CHUNK_ELEMENTS // max(1, per_replica_elements))
        if per_chunk >= m:
            return cls(runs, groups, 1, m, per_chunk // m)
        p = -(-m // per_chunk)
        return cls(runs, groups, p, -(-m // p), 1)

    @property
    def n_blocks(self) -> int:
        return self.groups * self.blocks_per_group

    @property
    def group_sizes(self) -> np.ndarray:
        """Real replicas per group (the rest of each group is zero padding)."""
        base, extra = divmod(self.runs, self.groups)
        return np.array([base + (g < extra) for g in range(self.groups)], dtype=float)

    def chunks(self):
        """(first block, number of blocks) of each chunk."""
        nb, q = self.n_blocks, self.blocks_per_chunk
        return [(b0, min(q, nb - b0)) for b0 in range(0, nb, q)]

    def real_mask(self, b0: int, nblk: int) -> np.ndarray:
        """Which replicas of the chunk are real (padding replicas start, and stay, at zero)."""
        per_group = self.blocks_per_group * self.block
        r = np.arange(b0 * self.block, (b0 + nblk) * self.block)
        g, j = divmod(r, per_group)
        return j < self.group_sizes[g]


# --------------------------------------------------------------------------------------------------
# the kernel
# --------------------------------------------------------------------------------------------------
def _lincomb(coefs, arrays):
    """sum_i coefs[i] * arrays[i], skipping zero coefficients and multiplications by one."""
    out = None
    for c, a in zip(coefs, arrays):
        c = float(c)
        if c == 0.0:
            continue
        term = a if c == 1.0 else c * a
        out = term if out is None else out + term
    return out if out is not None else 0.0 * arrays[0]


def alias_table(p) -> tuple[np.ndarray, np.ndarray]:
    """Walker's alias table (Vose's construction) as arrays: draw j uniform in 0..n-1 and V uniform in
    [0, 1); the index is j if V < keep[j], else alias[j]. Then P(index = i) = p_i / sum(p)."""
    keep, alias = _alias_table(list(np.asarray(p, dtype=float)))
    return np.asarray(keep), np.asarray(alias)


class _Kernel:
    """G_B y and H e for one model on one backend (arrays of shape (r, d)); the draws are the model's own
    sampler (``model.sampler``), exact gradients at batch = inf."""

    def __init__(self, model: SamplingModel, batch, bk, gaussian_sampler: str = "reduced"):
        xp = self.xp = bk.xp
        self.bk, self.batch, self.d = bk, batch, model.d
        H = np.asarray(model.hessian_array(np), dtype=float)
        self.diagonal = not np.any(H - np.diag(np.diag(H)))
        self.H_T = xp.asarray(np.ascontiguousarray(H.T))
        self.lam = xp.asarray(np.diag(H).copy())
        if batch == math.inf:
            self.kind, self.per_replica, self.sampler = "deterministic", model.d, None
            return
        self.sampler = model.sampler(int(batch), bk, gaussian_sampler=gaussian_sampler)
        self.kind = getattr(self.sampler, "kind", type(self.sampler).__name__)
        self.per_replica = self.sampler.per_replica

    def hess(self, e):
        """H e for each replica."""
        return e * self.lam if self.diagonal else self.xp.matmul(e, self.H_T)

    def grad(self, y):
        """u = G_B y for each replica (a fresh batch per replica)."""
        if self.sampler is None:
            return self.hess(y)
        return self.sampler.grad(y)


# --------------------------------------------------------------------------------------------------
# simulate
# --------------------------------------------------------------------------------------------------
def simulate(method, model: SamplingModel, batch, lr, momentum, steps: int, runs: int, *, seed: int = 0,
             backend="numpy", x0=None, progress=None, confidence: float = 0.99,
             groups: int = DEFAULT_GROUPS, fit_window: tuple[int, int] | None = None,
             gaussian_sampler: str = "reduced") -> SimulationResult:
    """Simulate ``runs`` replicas of ``method`` on ``model`` for ``steps`` steps.

    Parameters
    ----------
    method : name or :class:`theory.methods.Method`; stepped from its (A, b, c) at (lr, momentum).
    model : sampling model; with or without replacement as the model says.
    batch : int >= 1 or ``math.inf`` (exact gradients).
    backend : "numpy", "cupy", or an array-API namespace module (e.g. ``array_api_strict``).
    x0 : initial error x_0 - x* = x_{-1} - x* (default all-ones / sqrt(d)).
    progress : optional callable ``progress(k, steps)`` called after each step.
    confidence : level of the per-step intervals and of the rate interval.
    groups : number of replica groups G for the batch-means intervals and the jackknife.
    gaussian_sampler : "reduced" (d + B normals per replica-step, B >= 2) or "direct" (B d normals).
    fit_window : (k0, k1) steps of the rate fit (default: second half of the steps before the first
        unreliable one; all completed steps when fewer than 4 are reliable).
    """
    method = as_method(method)
    batch = model.check_batch(batch)
    steps, runs = int(steps), int(runs)
    if steps < 1:
        raise InputError("steps", f"must be >= 1, got {steps}")
    if runs < 2:
        raise InputError("runs", f"must be >= 2 (intervals need at least two replicas), got {runs}")
    if not 0 < confidence < 1:
        raise InputError("confidence", f"must lie in (0, 1), got {confidence}")
    lr, momentum = float(lr), float(momentum)
    if not (math.isfinite(lr) and lr > 0):
        raise InputError("lr", f"must be > 0, got {lr}")
    A, b, c = (np.asarray(a, dtype=float) for a in method_arrays(method, lr, momentum))
    s = A.shape[0]
    w0 = init_weights(method, lr, momentum)
    e0 = initial_error(model.d, x0)
    with np.errstate(over="ignore", invalid="ignore"):   # an overflowing norm is the error reported here
        e0_norm2 = float(np.dot(e0, e0))
    if not e0_norm2 <= OVERFLOW:
        raise InputError("x0", f"||x_0 - x*||^2 exceeds {OVERFLOW:g}")

    bk = get_backend(backend, seed)
    xp = bk.xp
    kernel = _Kernel(model, batch, bk, gaussian_sampler)
    layout = _Layout.plan(runs, groups, kernel.per_replica)
    chunks = layout.chunks()
    states = []
    for b0, nblk in chunks:
        start = layout.real_mask(b0, nblk)[:, None] * e0[None, :]
        states.append([xp.asarray(w0[a] * start) for a in range(s)])     # z_0 = w ⊗ e_0

    record = np.empty((steps + 1, 5, layout.n_blocks))
    t0 = time.perf_counter()
    stopped_at, reason, last = None, None, steps
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(steps + 1):
            if k > 0:
                for z in states:
                    y = _lincomb(c, z)
                    u = kernel.grad(y)
                    z[:] = [_lincomb(list(A[a]) + [b[a]], z + [u]) for a in range(s)]
            for (b0, nblk), z in zip(chunks, states):
                record[k, :, b0:b0 + nblk] = _chunk_stats(kernel, z[0], nblk, layout.block)
            mx = record[k, 4]
            if not np.all(np.isfinite(record[k])) or np.max(mx) > OVERFLOW:
                stopped_at, reason, last = k, f"overflow: some replica has ||e_k||^2 > {OVERFLOW:g} " \
                                                 f"or a non-finite value at step {k}", k - 1
                break
            if np.max(mx) < UNDERFLOW:
                stopped_at, reason, last = k, f"underflow: every replica has ||e_k||^2 < {UNDERFLOW:g} " \
                                                 f"at step {k}", k
                break
            if progress is not None and k > 0:
                progress(k, steps)
    elapsed = time.perf_counter() - t0
    return _summarise(record[:last + 1], layout, confidence, fit_window, runs, bk.name, seed, elapsed,
                      stopped_at, reason)


def _chunk_stats(kernel, e, nblk, block):
    """(5, nblk) host array: per block sum ||e||^2, sum ||e||^4, sum f, sum f^2, max ||e||^2."""
    xp = kernel.xp
    err2 = xp.reshape(xp.vecdot(e, e), (nblk, block))
    f = xp.reshape(0.5 * xp.vecdot(e, kernel.hess(e)), (nblk, block))
    out = xp.stack([xp.sum(err2, axis=1), xp.sum(err2 * err2, axis=1), xp.sum(f, axis=1),
                    xp.sum(f * f, axis=1), xp.max(err2, axis=1)])
    return kernel.bk.to_numpy(out)


# --------------------------------------------------------------------------------------------------
# statistics (host, numpy)
# --------------------------------------------------------------------------------------------------
def _t_quantile(confidence: float, dof: int) -> float:
    return float(_stats.t.ppf(0.5 + confidence / 2, dof))


def batch_means_interval(group_sums: np.ndarray, sizes: np.ndarray, confidence: float):
    """Mean over replicas and its batch-means t interval (clipped at 0) from per-group sums (..., G)."""
    R, G = sizes.sum(), sizes.size
    mean = group_sums.sum(axis=-1) / R
    gm = group_sums / sizes
    se = np.sqrt(G / (G - 1) * np.sum((sizes / R) ** 2 * (gm - mean[..., None]) ** 2, axis=-1))
    half = _t_quantile(confidence, G - 1) * se
    return mean, np.maximum(mean - half, 0.0), mean + half


def log_slope(steps: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Least squares slope of log(values) on steps (along the first axis; values > 0)."""
    x = np.asarray(steps, dtype=float)
    xc = (x - x.mean())
    logs = np.log(values)
    return np.tensordot(xc, logs - logs.mean(axis=0), axes=(0, 0)) / np.dot(xc, xc)


def fit_rate(steps, group_sums, sizes, reliable, confidence, window=None) -> RateFit | None:
    """rho = exp(slope of log mean on k) over the window, with a delete-one-group jackknife interval."""
    steps = np.asarray(steps)
    k_last = int(steps[-1])
    if window is None:
        bad = np.flatnonzero(~reliable)
        k_rel = int(steps[bad[0]] - 1) if bad.size else k_last       # end of the reliable prefix
        k_end = k_rel if k_rel >= 4 else k_last
        window = (max(1, k_end // 2), k_end)
    k0, k1 = window
    R, G = sizes.sum(), sizes.size
    total = group_sums.sum(axis=1)
    loo = (total[:, None] - group_sums) / (R - sizes)                         # leave-one-group-out means
    inside = (steps >= k0) & (steps <= k1) & (total > 0) & np.all(loo > 0, axis=1)
    use = inside & reliable
    ok = use.sum() >= 3
    if not ok:
        use = inside
    if use.sum() < 3:
        return None
    theta = log_slope(steps[use], total[use] / R)
    loo_theta = log_slope(steps[use], loo[use])
    pseudo = G * theta - (G - 1) * loo_theta
    center = pseudo.mean()
    se = pseudo.std(ddof=1) / math.sqrt(G)
    half = _t_quantile(confidence, G - 1) * se
    ks = steps[use]
    return RateFit(float(math.exp(center)), (float(math.exp(center - half)), float(math.exp(center + half))),
                   (int(ks[0]), int(ks[-1])), confidence, bool(ok), n_used=int(ks.size))


def _summarise(record, layout, confidence, window, runs, backend, seed, elapsed, stopped_at, reason):
    K1, G, p = record.shape[0], layout.groups, layout.blocks_per_group
    sizes = layout.group_sizes
    per_group = record.reshape(K1, 5, G, p).sum(axis=3)
    mean, lo, hi = batch_means_interval(per_group[:, 0], sizes, confidence)
    fmean, flo, fhi = batch_means_interval(per_group[:, 2], sizes, confidence)
    tot, tot2 = per_group[:, 0].sum(axis=1), per_group[:, 1].sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ess = np.where(tot2 > 0, tot * tot / tot2, float(runs))
    reliable = np.logical_and.accumulate(ess >= RELIABLE_ESS_PER_GROUP * G)     # a prefix of the run
    ftot, ftot2 = per_group[:, 2].sum(axis=1), per_group[:, 3].sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        loss_ess = np.where(ftot2 > 0, ftot * ftot / ftot2, float(runs))
    loss_reliable = np.logical_and.accumulate(loss_ess >= RELIABLE_ESS_PER_GROUP * G)
    steps = np.arange(K1)
    fit = fit_rate(steps, per_group[:, 0], sizes, reliable, confidence, window) if K1 > 1 else None
    return SimulationResult(steps, mean, lo, hi, fmean, flo, fhi, ess, reliable, loss_ess, loss_reliable, fit,
                            runs, G, confidence, backend, seed, elapsed, stopped_at, reason)
