"""Monte Carlo of a non-quadratic model with a manifold of minimizers (MATH.md §8, Theorem 4.5):

    f(u, v) = (u v - y)^2 / 2,   y = 1 + delta xi,  xi = ±1 with probability 1/2 (label noise),

minimizers u v = 1. The stochastic gradient is g = r (v, u), r = u v - y. Each replica steps the
method's float triple (A, b, c) (``numerics.operators.method_arrays``) on the state z = (x_k, x_{k-1}),
x = (u, v): y_k = (c^T ⊗ I) z_k, z_{k+1} = (A ⊗ I) z_k + (b ⊗ I) g(y_k).

Observable: q = u^2 - v^2 (zero on the flat-minimum point |u| = |v| of the manifold). For SGD one step
gives exactly q+ = q (1 - eta^2 r^2), so over t / eta^2 steps q drifts to about q_0 exp(-delta^2 t)
(the slow SDE's drift toward |u| = |v|); Theorem 4.5 says SGDM (1 - beta = Theta(eta^alpha)) has the
same limit. Written against the array API (array_api_compat.array_namespace): numpy by default, CuPy
arrays work unchanged; draws come from ``numerics.backends``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from array_api_compat import array_namespace

from .backends import get_backend
from .montecarlo import batch_means_interval
from .operators import method_arrays
from ..theory.errors import InputError


@dataclass
class LabelNoiseRun:
    """E[u_k^2 - v_k^2] and E[u_k v_k] at the final step k = steps, with batch-means t intervals."""

    method: str
    lr: float
    momentum: float
    delta: float
    steps: int
    q_mean: float
    q_ci: tuple[float, float]
    uv_mean: float
    runs: int
    confidence: float
    backend: str

    @property
    def q_half_width(self) -> float:
        return (self.q_ci[1] - self.q_ci[0]) / 2


def step_state(z, A, b, c, y_label):
    """One step of every replica: z = list of (R, 2) arrays (x_k, x_{k-1}); returns the new list."""
    xp = array_namespace(z[0])
    yk = sum(float(c[a]) * z[a] for a in range(len(z)) if c[a] != 0)
    u, v = yk[:, 0], yk[:, 1]
    r = u * v - y_label
    g = xp.stack([r * v, r * u], axis=1)
    return [sum(float(A[i, a]) * z[a] for a in range(len(z)) if A[i, a] != 0) + float(b[i]) * g
            for i in range(len(z))]


def simulate_label_noise(method: str, lr: float, momentum: float, delta: float, time: float,
                         u0: float = 2.0, v0: float = 0.5, runs: int = 4000, seed: int = 0,
                         backend="numpy", groups: int = 20, confidence: float = 0.99) -> LabelNoiseRun:
    """Run ``runs`` replicas for round(time / lr^2) steps from (u0, v0) with zero initial momentum."""
    if not lr > 0:
        raise InputError("lr", f"must be > 0, got {lr}")
    if not 0 <= momentum < 1:
        raise InputError("momentum", f"must lie in [0, 1), got {momentum}")
    if not delta >= 0:
        raise InputError("delta", f"must be >= 0, got {delta}")
    steps = int(round(time / lr**2))
    if steps < 1:
        raise InputError("time", f"time / lr^2 = {time / lr**2:g} < 1 step")
    A, b, c = (np.asarray(a, dtype=float) for a in method_arrays(method, lr, momentum))
    bk = get_backend(backend, seed)
    xp = bk.xp
    groups = max(2, min(groups, runs))
    runs = (runs // groups) * groups
    x0 = xp.asarray(np.tile([u0, v0], (runs, 1)).astype(float))
    z = [x0 for _ in range(A.shape[0])]
    for _ in range(steps):
        sign = 1.0 - 2.0 * xp.astype(bk.uniform((runs,)) < 0.5, xp.float64)
        z = step_state(z, A, b, c, 1.0 + delta * sign)
    u, v = z[0][:, 0], z[0][:, 1]
    q = bk.to_numpy(xp.reshape(u * u - v * v, (groups, runs // groups)))
    uv = float(np.mean(bk.to_numpy(u * v)))
    sizes = np.full(groups, runs // groups, dtype=float)
    mean, _, _ = batch_means_interval(q.sum(axis=1)[None, :], sizes, confidence)
    # two-sided interval without clipping at 0 (q may be negative)
    R, G = sizes.sum(), groups
    gm = q.mean(axis=1)
    se = math.sqrt(G / (G - 1) * np.sum((sizes / R) ** 2 * (gm - mean[0]) ** 2))
    from scipy import stats
    half = float(stats.t.ppf(0.5 + confidence / 2, G - 1)) * se
    return LabelNoiseRun(method, lr, momentum, delta, steps, float(mean[0]), (float(mean[0] - half),
                         float(mean[0] + half)), uv, runs, confidence, bk.name)


def slow_sde_prediction(q0: float, delta: float, time: float) -> float:
    """q_0 exp(-delta^2 t): the drift of u^2 - v^2 from q+ = q (1 - eta^2 r^2) with r^2 -> delta^2."""
    return q0 * math.exp(-delta**2 * time)
