"""Optimal constant step size and momentum per batch size, and iterations-versus-batch curves.

For a method, a sampling model and a batch size B the tuned rate is

    rho*(B) = min over the stable region {rho(T) < 1} of rho(T(eta, beta; B)),   K*(B) = -1/ln rho*(B),

with beta = 0 for methods without momentum. Every rho comes from :mod:`numerics.spectral` (``rho_grid``
on whole grids at once, ``spectral_radius`` for the reported point); this module only searches.

The search is global over the stable region, in x = ln eta and w = ln(1 - beta) <= 0:

1. for each momentum of a grid (1 - beta log-spaced from min(0.1, 1/(4 sqrt(kappa))) to 1, plus
   beta = 0), the deterministic stability limit eta_det(beta) (rho at B = inf reaches 1; the noise only
   adds a PSD-preserving term to T, so rho(T) >= rho(Mbar)^2 and no larger step is stable), then the
   limit with the noise eta_max(beta) <= eta_det(beta) by bisection on rho < 1;
2. a coarse grid on the chart eta = 1.15 eta_max(beta) sigmoid(y) (:class:`_Chart`): logit-spaced in
   eta / eta_max, dense both at small steps and right under the limit, where the optimum sits in the
   noise-dominated regime; offsets jittered by the seed;
3. a vectorised direct search from the best grid local minima and from the optimum on the beta = 0 line
   (so tuned momentum is never worse than tuned SGD): eight poll directions rotated every level (a fixed
   compass stalls at heavy ball's deterministic optimum, the apex of a wedge where rho is flat in eta),
   pattern moves along the last successful step (to run along the curved valleys), step halved on
   failure; after ``explore_levels`` levels only the best start continues, until the step is below
   ``xtol`` or K stopped changing at the ``ftol`` level.

``sgdm`` is tuned directly in its own (eta, beta), not through the identity with heavy ball; the tests
check that identity on the tuned results.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from . import rates
from .operators import as_method, batch_factor_value
from ..theory.errors import InputError
from ..theory.sampling import SamplingModel


# --------------------------------------------------------------------------------------------------
# settings and results
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TuneGrid:
    """Search settings of :func:`tune`.

    n_beta : momenta on the coarse grid (beta = 0 included). n_eta : step sizes per momentum.
    eta_span : the step grid spans [eta_span, 1) times the stability limit eta_max(beta).
    one_minus_beta_min : smallest 1 - beta on the grid (default min(0.1, 1/(4 sqrt(kappa))); the
        refinement may go beyond it).
    boundary_steps : bisection steps for eta_max(beta) (in ln eta, inside a 1000-fold bracket).
    starts : grid local minima refined (besides the beta = 0 optimum).
    explore_levels : pattern-search levels run from every start before only the best is kept.
    xtol : stop when the poll step is below this (chart coordinates, see :class:`_Chart`).
    ftol : or when rho decreased by less than ftol (1 - rho) over the last ten levels (so K = -1/ln rho
        has stopped changing at about this relative level).
    """

    n_beta: int = 12
    n_eta: int = 12
    eta_span: float = 1e-3
    one_minus_beta_min: float | None = None
    boundary_steps: int = 6
    starts: int = 2
    explore_levels: int = 4
    xtol: float = 1e-6
    ftol: float = 1e-6
    max_levels: int = 400


DEFAULT_GRID = TuneGrid()


def _json_number(x):
    """Float for JSON; infinities and NaN spelled as strings (JSON has none)."""
    if x is None:
        return None
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def _json_batch(b):
    return "inf" if b == math.inf else int(b)


@dataclass
class TuneResult:
    """The tuned point of one method at one batch size.

    rho, K : rate at (lr, momentum) from :func:`numerics.rates.spectral_radius`, correct to
        ``rho_digits`` / ``K_digits`` significant digits (as that function states them).
    lr_tol, momentum_tol : how far the final poll step reaches around (lr, momentum) (relative for lr,
        absolute for momentum): the argmin is located to about this precision.
    rho_gap : decrease of rho over the last five search levels (a heuristic for how far the attained rho
        may still be above the local minimum; the search converges about linearly, halving each level).
        The reported rho is attained, so it is an upper bound on the tuned rate up to its digits.
    evaluations : number of rho evaluations the search used.
    """

    method: str
    batch: int | float
    lr: float
    momentum: float
    rho: float
    K: float
    rho_digits: int = 0
    K_digits: int = 0
    route: str = ""
    precision: str = "double"
    lr_tol: float = math.nan
    momentum_tol: float = math.nan
    rho_gap: float = math.nan
    evaluations: int = 0
    notes: list = field(default_factory=list)

    def to_json(self) -> dict:
        return {"batch": _json_batch(self.batch), "method": self.method, "lr": self.lr,
                "momentum": self.momentum, "rho": _json_number(self.rho), "K": _json_number(self.K),
                "rho_digits": self.rho_digits, "K_digits": self.K_digits, "route": self.route,
                "precision": self.precision, "lr_tol": self.lr_tol, "momentum_tol": self.momentum_tol,
                "rho_gap": _json_number(self.rho_gap), "evaluations": self.evaluations}


# --------------------------------------------------------------------------------------------------
# the objective in search coordinates
# --------------------------------------------------------------------------------------------------
class _Objective:
    """rho at points (x, w) = (ln eta, ln(1 - beta)) through ``rates.rho_grid``; counts evaluations.

    Non-finite rho (overflowing divergence) is returned as +inf.
    """

    def __init__(self, method, model, batch, momentum: bool):
        self.method, self.model, self.batch, self.momentum = method, model, batch, momentum
        self.count = 0

    def __call__(self, x, w, batch=None) -> np.ndarray:
        x, w = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(w, dtype=float))
        if x.size == 0:
            return np.empty(x.shape)
        self.count += x.size
        beta = -np.expm1(w) if self.momentum else np.zeros_like(w)
        with np.errstate(all="ignore"):
            r = rates.rho_grid(self.method, self.model, self.batch if batch is None else batch,
                                  np.exp(x), beta)
        r = np.asarray(r, dtype=float)
        return np.where(np.isfinite(r), r, np.inf)


def _stability_limit(obj: _Objective, hi, w, batch, steps: int, max_rounds: int = 8):
    """ln eta where rho reaches 1, per momentum, by bisection below ``hi`` (unstable or marginal).

    A 1000-fold bracket [hi - ln 1000, hi] is moved down until its lower end is stable (small steps are
    always stable: rho = 1 - 2 eta mu / (1 - beta) + O(eta^2)), then halved ``steps`` times.
    Returns the stable lower end (never above the true limit, up to rounding).
    """
    hi = np.asarray(hi, dtype=float).copy()
    width = math.log(1000.0)
    lo = hi - width
    for _ in range(max_rounds):
        bad = ~(obj(lo, w, batch) < 1)
        if not bad.any():
            break
        hi = np.where(bad, lo, hi)
        lo = np.where(bad, lo - width, lo)
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        ok = obj(mid, w, batch) < 1
        lo, hi = np.where(ok, mid, lo), np.where(ok, hi, mid)
    return lo


def _deterministic_limit(obj: _Objective, w, mu: float, L: float):
    """ln eta_det(beta): the largest stable step of the deterministic method (rho at B = inf < 1)."""
    hi = np.full(np.shape(w), math.log(4.0 / L))
    for _ in range(200):                          # grow until unstable (sgdm's limit ~ 1/(1 - beta))
        ok = obj(hi, w, math.inf) < 1
        if not ok.any():
            break
        hi = np.where(ok, hi + math.log(4.0), hi)
    return _stability_limit(obj, hi, w, math.inf, steps=40)


# --------------------------------------------------------------------------------------------------
# pattern search
# --------------------------------------------------------------------------------------------------
_STENCIL_1D = np.array([(-1, 0), (1, 0)], dtype=float)
_EXTRAPOLATE = np.array([1.0, 2.0, 4.0, 8.0])   # pattern moves along the last successful step
_GOLDEN = (math.sqrt(5) - 1) / 2
_GAP_LEVELS = 10         # rho_gap: the decrease of rho over this many final levels


def _stencil_2d(level: int, phase: float) -> np.ndarray:
    """Eight unit directions 45 degrees apart, rotated by a quasi-random angle that changes every level.

    A fixed compass stencil stalls in the wedge-shaped valleys of rho (heavy ball's optimum is the apex
    of the region where every block is underdamped, where rho is flat in eta): rotating the poll
    directions (as in mesh-adaptive direct search) makes them dense in angle, so some direction points
    into any improving cone.
    """
    theta = (math.pi / 4) * ((phase + level * _GOLDEN) % 1.0)
    a = theta + np.arange(8) * (math.pi / 4)
    return np.stack([np.cos(a), np.sin(a)], axis=1)


def _pattern_search(fun, centers, values, h0, two_d: bool, grid: TuneGrid, phase: float = 0.0):
    """Vectorised direct search from several starts; returns (center, value, h, gap) of the best.

    ``fun(y, w)`` evaluates arrays of points. Each level polls c + h * u (u: :func:`_stencil_2d`
    directions, or +-1 along y on a line) for every active start in one call; a start moves to its best
    poll point when that is strictly lower (and doubles h, up to h0), else halves h. Points with w > 0
    (beta < 0) are skipped. After ``explore_levels`` levels only the best start continues.
    """
    c = np.array(centers, dtype=float).reshape(-1, 2)
    f = np.array(values, dtype=float).reshape(-1)
    h0 = np.asarray(h0, dtype=float)
    h = np.tile(h0, (len(c), 1))
    d = np.zeros_like(c)                      # last successful displacement of each start
    history = [f.copy()]
    active = np.ones(len(c), dtype=bool)
    for level in range(grid.max_levels):
        if level == grid.explore_levels and active.sum() > 1:
            active[:] = False
            active[int(np.argmin(f))] = True
        idx = np.flatnonzero(active & (np.max(h, axis=1) > grid.xtol))
        if idx.size == 0:
            break
        stencil = _stencil_2d(level, phase) if two_d else _STENCIL_1D
        pts = np.concatenate([c[idx, None, :] + stencil[None, :, :] * h[idx, None, :],
                              c[idx, None, :] + _EXTRAPOLATE[None, :, None] * d[idx, None, :]], axis=1)
        vals = np.full(pts.shape[:2], np.inf)
        ok = pts[..., 1] <= 0
        ok[:, len(stencil):] &= np.any(d[idx] != 0, axis=1)[:, None]
        vals[ok] = fun(pts[ok][:, 0], pts[ok][:, 1])
        best = np.argmin(vals, axis=1)
        bv = vals[np.arange(idx.size), best]
        move = bv < f[idx]
        new = pts[np.flatnonzero(move), best[move]]
        d[idx[move]] = new - c[idx[move]]
        c[idx[move]] = new
        f[idx[move]] = bv[move]
        h[idx[move]] = np.minimum(2 * h[idx[move]], h0)
        h[idx[~move]] /= 2
        d[idx[~move]] /= 2
        history.append(f.copy())
        if level >= grid.explore_levels + _GAP_LEVELS:
            k = int(np.argmin(f))
            if history[-1 - _GAP_LEVELS][k] - f[k] <= grid.ftol * max(1.0 - f[k], 0.0):
                break
    k = int(np.argmin(f))
    tail = history[max(0, len(history) - 1 - _GAP_LEVELS)][k] - f[k] if len(history) > 1 else np.nan
    return c[k], float(f[k]), h[k], float(tail)


class _Chart:
    """Search coordinates (y, w) under the stability limit: eta = SLACK exp(x_max(w)) sigmoid(y).

    x_max(w) = ln eta_max is interpolated piecewise linearly in w = ln(1 - beta) between the bisected
    limits (extrapolated linearly). The optimum often hugs the limit (noise-dominated regime: a narrow
    valley along eta / (1 - beta) = const), which the logit coordinate y resolves on both ends:
    eta / eta_max = 1 - e^{-y} for large y, e^{y} for very negative y.
    """

    SLACK = math.log(1.15)

    def __init__(self, ws, x_max):
        o = np.argsort(ws)
        self.ws, self.xm = np.asarray(ws, dtype=float)[o], np.asarray(x_max, dtype=float)[o]

    def x_max(self, w):
        w = np.asarray(w, dtype=float)
        if self.ws.size == 1:
            return np.full(w.shape, self.xm[0])
        out = np.interp(w, self.ws, self.xm)
        lo_slope = (self.xm[1] - self.xm[0]) / (self.ws[1] - self.ws[0])
        hi_slope = (self.xm[-1] - self.xm[-2]) / (self.ws[-1] - self.ws[-2])
        out = np.where(w < self.ws[0], self.xm[0] + lo_slope * (w - self.ws[0]), out)
        return np.where(w > self.ws[-1], self.xm[-1] + hi_slope * (w - self.ws[-1]), out)

    def x(self, y, w):
        """ln eta at chart point (y, w)."""
        return self.x_max(w) + self.SLACK - np.logaddexp(0.0, -np.asarray(y, dtype=float))

    def y_grid(self, grid: "TuneGrid", rng) -> np.ndarray:
        """Logit grid for eta / eta_max in [eta_span, 1 - 1e-4] (in units of the slackened limit)."""
        r_lo, r_hi = grid.eta_span / math.exp(self.SLACK), 1 - 1e-4
        lo, hi = math.log(r_lo / (1 - r_lo)), math.log(r_hi / (1 - r_hi))
        return lo + (hi - lo) * _offsets(grid.n_eta, rng), (hi - lo) / grid.n_eta


# --------------------------------------------------------------------------------------------------
# the tuner
# --------------------------------------------------------------------------------------------------
def _extremes(model: SamplingModel):
    lam = np.asarray(model.spectrum_array(), dtype=float)
    L = float(np.max(lam))
    pos = lam[lam > 1e-13 * L]
    return float(np.min(pos)), L


def _grid_local_minima(V: np.ndarray) -> list[tuple[int, int]]:
    """Indices of the 8-neighbourhood local minima of a 2-D array (finite values), best first."""
    n0, n1 = V.shape
    P = np.pad(V, 1, constant_values=np.inf)
    is_min = np.isfinite(V)
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            if di or dj:
                is_min &= V <= P[1 + di:1 + di + n0, 1 + dj:1 + dj + n1]
    cand = list(zip(*np.nonzero(is_min)))
    return sorted(cand, key=lambda ij: V[ij])


def _offsets(n: int, rng) -> np.ndarray:
    """n points in (0, 1), cell centres jittered by up to 0.3 of a cell (seeded)."""
    return (np.arange(n) + 0.5 + rng.uniform(-0.3, 0.3, n)) / n


def _has_noise(model, batch) -> bool:
    return batch_factor_value(model, batch) != 0.0


def _limits(obj: _Objective, ws, mu, L, batch, grid: TuneGrid):
    """ln eta_max(beta) at the momenta ws: deterministic limit, then the noise limit below it."""
    x_det = _deterministic_limit(obj, ws, mu, L)
    if not _has_noise(obj.model, batch):
        return x_det
    return _stability_limit(obj, x_det, ws, batch, grid.boundary_steps)


def _search(obj: _Objective, ws, x_max, grid: TuneGrid, rng, extra=()):
    """Grid on the chart over the momenta ``ws`` then direct search; ``extra``: (x, w, rho) starts."""
    chart = _Chart(ws, x_max)

    def fun(y, w):
        return obj(chart.x(y, w), w)

    ys, hy = chart.y_grid(grid, rng)
    Y, W = np.broadcast_arrays(ys[None, :], np.asarray(ws, dtype=float)[:, None])
    V = fun(Y, W)
    mins = _grid_local_minima(V)[:grid.starts]
    starts = [(Y[ij], W[ij]) for ij in mins]
    vals = [V[ij] for ij in mins]
    for x, w, r in extra:   # back to the chart: y = logit(eta / (slack eta_max(w)))
        q = min(math.exp(x - float(chart.x_max(w)) - chart.SLACK), 1 - 1e-16)
        starts.append((math.log(q / (1 - q)), w))
        vals.append(r)
    two_d = len(ws) > 1
    hw = (abs(float(np.min(ws))) / len(ws)) if two_d else 0.0
    (y, w), f, h, gap = _pattern_search(fun, starts, vals, (hy, hw), two_d, grid, float(rng.uniform()))
    x = float(chart.x(y, w))
    # tolerances: the largest change of (ln eta, w) over the final poll
    probe = np.array([(y + a * h[0], w + b * h[1]) for a in (-1, 0, 1) for b in (-1, 0, 1)])
    dx = float(np.max(np.abs(chart.x(probe[:, 0], probe[:, 1]) - x)))
    return x, w, f, dx, float(h[1]), gap


def tune(method, model: SamplingModel, batch, *, seed: int = 0, grid: TuneGrid = DEFAULT_GRID,
         refine: bool = True) -> TuneResult:
    """Optimal constant (eta, beta) of ``method`` at batch size ``batch`` (beta = 0 without momentum).

    Parameters
    ----------
    method : a name or :class:`theory.methods.Method`.
    model : a :mod:`theory.sampling` model.
    batch : int >= 1 or ``math.inf``.
    seed : jitters the grid offsets and the poll directions; the result is deterministic given the
        seed, and independent of it up to the stated tolerances.
    grid : search settings (:class:`TuneGrid`).
    refine : run the direct search (else return the best coarse-grid point).

    Returns
    -------
    TuneResult with rho and K recomputed at the optimum by ``rates.spectral_radius`` (digits stated).
    """
    m = as_method(method)
    batch = model.check_batch(batch)
    rng = np.random.default_rng(seed)
    mu, L = _extremes(model)
    if float(np.min(model.spectrum_array())) <= 1e-13 * L:
        raise InputError("spectrum" if model.name in ("gaussian", "coordinate") else "matrix",
                         "H is singular: the error in its null space never decays (rho = 1 for every step "
                         "size and momentum), so there is nothing to tune")
    obj = _Objective(m, model, batch, m.uses_momentum)
    g = grid if refine else replace(grid, max_levels=0)

    # the beta = 0 line: all of sgd, and a start for momentum methods (never worse than tuned sgd)
    w0 = np.array([0.0])
    best = _search(obj, w0, _limits(obj, w0, mu, L, batch, g), g, rng)
    if m.uses_momentum:
        omb_min = g.one_minus_beta_min or min(0.1, 0.25 / math.sqrt(L / mu))
        nb = max(2, g.n_beta)
        ws = np.concatenate([np.sort(math.log(omb_min) * (1 - _offsets(nb - 1, rng))), [0.0]])
        best = _search(obj, ws, _limits(obj, ws, mu, L, batch, g), g, rng,
                       extra=[(best[0], best[1], best[2])])
    x, w, f, dx, dw, gap = best
    lr, beta = math.exp(x), (-math.expm1(w) if m.uses_momentum else 0.0)
    res = rates.spectral_radius(m, model, batch, lr, beta)
    rho = float(res.rho)
    out = TuneResult(m.name, batch, lr, beta, rho, float(res.K), int(res.digits), int(res.K_digits()),
                     res.route, res.precision, lr_tol=float(math.expm1(dx)),
                     momentum_tol=float((1 - beta) * math.expm1(dw)) if m.uses_momentum else 0.0,
                     rho_gap=gap, evaluations=obj.count, notes=list(res.notes))
    if not rho < 1:
        out.notes.append("no stable (eta, beta) found: rho >= 1 everywhere searched")
    return out


# --------------------------------------------------------------------------------------------------
# curves over batch sizes
# --------------------------------------------------------------------------------------------------
@dataclass
class TuneCurve:
    """Tuned rates of several methods over a list of batch sizes.

    acceleration[m][i] = K_sgd / K_m at batches[i].
    saturation_batch[m]: smallest B where B K_m has doubled from its value at the smallest batch,
        interpolated linearly in (ln B, ln(B K)); None if it never doubles on the list.
    saturation_from_min[m]: the same with "doubled from its smallest value at batches <= B".
    acceleration_slope[m]: least-squares slope of ln(acceleration) against ln B over ``slope_batches[m]``:
        the finite batches with saturation_batch["sgd"] <= B <= saturation_batch[m] (the window where the
        acceleration can grow; a missing saturation drops that side), or all B <= saturation_batch[m]
        when that window holds fewer than 2 points; None with fewer than 2 points.
    """

    model: dict
    batches: list
    results: dict
    acceleration: dict
    acceleration_slope: dict
    slope_batches: dict
    saturation_batch: dict
    saturation_from_min: dict

    def to_json(self) -> dict:
        rows = [r.to_json() for i in range(len(self.batches)) for m in self.results
                for r in [self.results[m][i]]]
        return {"model": self.model, "batches": [_json_batch(b) for b in self.batches], "results": rows,
                "acceleration": {m: [_json_number(a) for a in v] for m, v in self.acceleration.items()},
                "acceleration_slope": {m: _json_number(v) for m, v in self.acceleration_slope.items()},
                "slope_batches": {m: [_json_batch(b) for b in v] for m, v in self.slope_batches.items()},
                "saturation_batch": {m: _json_number(v) for m, v in self.saturation_batch.items()},
                "saturation_from_min": {m: _json_number(v) for m, v in self.saturation_from_min.items()}}


def model_info(model: SamplingModel) -> dict:
    """Name, sizes and extreme eigenvalues of H (mu = smallest positive one), kappa = L / mu."""
    mu, L = _extremes(model)
    return {"name": model.name, "d": int(model.d), "n": None if model.n is None else int(model.n),
            "without_replacement": bool(model.without_replacement), "mu": mu, "L": L, "kappa": L / mu}


def saturation_batch(batches, K, from_min: bool = False) -> float | None:
    """Smallest B where B K(B) reaches twice its value at the first (smallest) batch, log-log interpolated.

    ``from_min``: twice the smallest B K over the batches up to B instead (for curves whose B K first
    dips, as Nesterov's does). ``batches`` ascending and finite, ``K`` positive and finite (others are
    skipped).
    """
    pts = [(b, k) for b, k in zip(batches, K) if math.isfinite(b) and math.isfinite(k) and k > 0]
    if len(pts) < 2:
        return None
    lb = np.log([b for b, _ in pts])
    lbk = np.log([b * k for b, k in pts])
    for i in range(1, len(pts)):
        target = (np.min(lbk[:i]) if from_min else lbk[0]) + math.log(2.0)
        if lbk[i] >= target:
            t = (target - lbk[i - 1]) / (lbk[i] - lbk[i - 1])
            return float(math.exp(lb[i - 1] + t * (lb[i] - lb[i - 1])))
    return None


def loglog_slope(batches, values) -> float | None:
    """Least-squares slope of ln(values) against ln(batches) (None with fewer than 2 usable points)."""
    pts = [(b, v) for b, v in zip(batches, values) if math.isfinite(b) and math.isfinite(v) and v > 0]
    if len(pts) < 2 or len({b for b, _ in pts}) < 2:
        return None
    x, y = np.log([b for b, _ in pts]), np.log([v for _, v in pts])
    return float(np.polyfit(x, y, 1)[0])


def _slope_window(batches, sat_sgd, sat_m):
    finite = [b for b in batches if math.isfinite(b)]
    upper = [b for b in finite if sat_m is None or b <= sat_m]
    window = [b for b in upper if sat_sgd is None or b >= sat_sgd]
    return window if len(window) >= 2 else upper


def _tune_task(args):
    method, model, batch, seed, grid = args
    return tune(method, model, batch, seed=seed, grid=grid)


def tune_curve(methods, model: SamplingModel, batches, *, seed: int = 0, grid: TuneGrid = DEFAULT_GRID,
               workers: int = 1) -> TuneCurve:
    """Tune every method at every batch size (sgd always, as the baseline of the acceleration).

    Batches are sorted ascending (inf last); each point is tuned independently (same seed), so neither
    the order of the input nor ``workers`` (processes, for the independent points) changes the result.
    """
    objs = {as_method(m).name: as_method(m) for m in methods}     # method files and bound methods travel as objects
    names = list(objs)
    if "sgd" not in names:
        names = ["sgd"] + names
    names = list(dict.fromkeys(names))
    bs = sorted({model.check_batch(b) for b in batches})
    tasks = [(objs.get(m, m), model, b, seed, grid) for m in names for b in bs]
    if workers > 1 and len(tasks) > 1:
        from concurrent.futures import ProcessPoolExecutor
        with ProcessPoolExecutor(max_workers=workers) as pool:
            flat = list(pool.map(_tune_task, tasks))
    else:
        flat = [_tune_task(t) for t in tasks]
    results = {m: flat[i * len(bs):(i + 1) * len(bs)] for i, m in enumerate(names)}
    K = {m: [r.K if r.rho < 1 else math.inf for r in results[m]] for m in names}
    acc = {m: [(ks / km) if math.isfinite(ks) and math.isfinite(km) and km > 0 else math.nan
               for ks, km in zip(K["sgd"], K[m])] for m in names}
    sat = {m: saturation_batch(bs, K[m]) for m in names}
    slope, used = {}, {}
    for m in names:
        used[m] = _slope_window(bs, sat["sgd"], sat[m])
        sel = [acc[m][bs.index(b)] for b in used[m]]
        slope[m] = loglog_slope(used[m], sel)
    sat_min = {m: saturation_batch(bs, K[m], from_min=True) for m in names}
    return TuneCurve(model_info(model), bs, results, acc, slope, used, sat, sat_min)
