"""Optimal constant step size and momentum per batch size, and iterations-versus-batch curves.

For a method, a sampling model and a batch size B the tuned rate is

    rho*(B) = min over the stable region {rho(T) < 1} of rho(T(eta, beta; B)),   K*(B) = -1/ln rho*(B),

with beta = 0 for methods without momentum. Every rho comes from :mod:`numerics.spectral` (``rho_grid``
on whole grids at once, ``spectral_radius`` for the reported point); this module only searches.

Decoupled models with noise (gaussian; coordinate with a diagonal H), and symmetric rank-one models
(finite sums, kaczmarz), use the structured search:

1. the beta = 0 line: the deterministic stability limit (bisection at B = inf), a logit scan under it,
   then from each of the best scan minima a safeguarded Newton on d rho / d ln eta = 0 inside the
   bracket of its neighbours (bisection on the derivative's sign toward a kink);
2. momentum: a coarse grid on the chart under the deterministic limits (the safety net), theory's
   B = inf optimum (``theory.formulas.deterministic_tuning``) and the beta = 0 optimum as starts, then
   a vectorised trust-region Newton from all of them (three radii and pattern moves per iteration);
   where Newton stalls (kinked valleys) or a start beats every Newton result, the direct search below
   continues from there.

Gradients come from the implicit function theorem on the secular equation F(z; eta, beta) = 1,
rho_p = -F_p / F_z, O(d) per point (:mod:`numerics.secular_local`, kernels generated from theory's
expressions by :mod:`numerics.kernels`); Hessians by forward differences of that gradient. Every
candidate's rho is a verified secular root (F = 1, z above rho(D)) or comes from ``rates.rho_grid``.

Other models (and ``refine=False``) use the grid and direct search, global over the stable region, in
x = ln eta and w = ln(1 - beta) <= 0:

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

Each search is written as a generator that asks for rho (or gradients) at arrays of points;
:func:`tune_many` and :func:`tune_curve` run one method's searches at all batch sizes side by side and
answer every round of requests with one vectorised solve (the batch factor f(B) enters the secular
tables per point), so a curve of 12 batch sizes costs about the solver calls of one point.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field, replace
from typing import NamedTuple

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
ENGINE_POINTS = 8      # per batch size: points the rank-one evaluator cannot verify sent to the Krylov route


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
# the objective: the searches are generators that ask for rho (and gradients); drivers answer them
# --------------------------------------------------------------------------------------------------
# Every search below is a generator: ``r = yield _Rho(x, w)`` asks for rho at the points
# (x, w) = (ln eta, ln(1 - beta)) (arrays), ``z, g, ok = yield _Grad(x, w, z0)`` for the verified secular
# root from warm starts z0 and its gradient (:meth:`numerics.secular_local.LocalSecular.rho_gradient`),
# and ``return`` gives its result. :func:`_lockstep` runs the searches of several batch sizes side by
# side and answers each round of requests with one vectorised call per kind, so a tuned curve costs
# about as many solver calls as one tuned point. Each search sees exactly the values it would see alone.
class _Rho(NamedTuple):
    x: np.ndarray
    w: np.ndarray
    batch: object = None          # None: the point's own batch size (math.inf: the deterministic limit)
    above: object = None          # rho is needed only below this (broadcast with x): a point shown to be
                                  # at or above it may be answered +inf (None: needed everywhere)


class _Grad(NamedTuple):
    x: np.ndarray
    w: np.ndarray
    z0: np.ndarray
    fallback: bool = True         # points whose root fails the check: rho from the rate engine (else inf)


class _Evaluator:
    """Answers the searches' requests for one method and sampling model, at any batch sizes.

    rho from ``rates.rho_batches`` (decoupled models: one secular solve for every batch size at once;
    coupled models on the dense route: the batched vech eigenvalues of :mod:`numerics.dense_batch`),
    and for symmetric rank-one models from :mod:`numerics.rank_one_secular` (:func:`_rank_one_applies`;
    points it cannot verify: :meth:`_fallback`); non-finite rho (overflowing divergence) is returned as
    +inf. ``structured``: the searches may be structured ones (else only the grid and direct search).
    """

    def __init__(self, method, model, structured: bool = True):
        self.method, self.model = method, model
        self.momentum = method.uses_momentum
        self._local = None
        self.rank_one = _rank_one(method, model, structured)
        self._engine_memo = {}                   # (x, w, B) -> rho from the Krylov route
        self._engine_points = {}                 # B -> points sent there
        self.skipped = {}                        # B -> (least lower bound, count) of the points skipped

    def _engine(self, x, w, B):
        beta = -np.expm1(w) if self.momentum else np.zeros_like(w)
        with np.errstate(all="ignore"):
            out = rates.rho_batches(self.method, self.model, B, np.exp(x), beta)
        return np.where(np.isfinite(out), out, np.inf)

    def _fallback(self, x, w, B, lower):
        """rho where the rank-one evaluator could not verify a root (``lower``: its lower bound there):
        the matrix-free Krylov route (:func:`rates.matrix_free.krylov_double`), each point once (the
        direct search polls some again), at most ENGINE_POINTS points per batch size. Beyond that
        budget, and where that route forms no bracket or its brackets disagree (it would go on to
        ARPACK on T: minutes a point), the point is +inf, one the search then avoids; its lower bound
        is kept (:attr:`skipped`) for the result's notes."""
        from .rates.matrix_free import krylov_double
        out = np.empty(x.size)
        for k in range(x.size):
            key = (float(x[k]), float(w[k]), B[k])
            if key not in self._engine_memo:
                r, sent = None, self._engine_points.get(B[k], 0)
                if sent < ENGINE_POINTS:
                    self._engine_points[B[k]] = sent + 1
                    beta = -math.expm1(key[1]) if self.momentum else 0.0
                    try:
                        r = krylov_double(self.method, self.model, B[k], math.exp(key[0]), beta)
                    except RuntimeError:
                        r = None
                if r is None:
                    lo, n = self.skipped.get(B[k], (math.inf, 0))
                    self.skipped[B[k]] = (min(lo, float(lower[k])), n + 1)
                self._engine_memo[key] = math.inf if r is None or not math.isfinite(r.rho) else float(r.rho)
            out[k] = self._engine_memo[key]
        return out

    def rho(self, reqs, batches) -> list:
        """rho for each request (``batches``: the batch size of each request's search). A point the
        rank-one evaluator cannot verify goes to :meth:`_fallback`, unless the evaluator's lower bound of
        rho there is already at or above the request's ``above``: then it is +inf."""
        x, w, above, B = _concat([(np.asarray(r.x, dtype=float), np.asarray(r.w, dtype=float),
                                   np.inf if r.above is None else np.asarray(r.above, dtype=float),
                                   r.batch if r.batch is not None else b) for r, b in zip(reqs, batches)])
        if self.rank_one is None:
            return _split(self._engine(x, w, B), reqs)
        z, ok = self.rank_one.rho(x, w, B)
        z[~ok & (z >= above)] = np.inf
        redo = ~ok & np.isfinite(z)
        if redo.any():
            z[redo] = self._fallback(x[redo], w[redo], B[redo], z[redo])
        return _split(np.where(np.isfinite(z), z, np.inf), reqs)

    def grad(self, reqs, batches) -> list:
        """(rho, g, ok) for each request (one ``rho_gradient`` call; the fallback flag per point)."""
        x, w, z0, fb, B = _concat([(np.atleast_1d(np.asarray(r.x, dtype=float)),
                                    np.atleast_1d(np.asarray(r.w, dtype=float)),
                                    np.atleast_1d(np.asarray(r.z0, dtype=float)), r.fallback, b)
                                   for r, b in zip(reqs, batches)])
        fb = fb.astype(bool)
        if self.rank_one is not None:
            z, g, ok, verified = self.rank_one.rho_gradient(x, w, z0, B)
            redo = ~verified & fb
            if redo.any():
                z[redo] = self._fallback(x[redo], w[redo], B[redo], z[redo])
            z[~verified & ~fb] = np.inf
        else:
            if self._local is None:
                from .secular_local import LocalSecular
                self._local = LocalSecular(self.method, self.model, batches[0], momentum=self.momentum)
            z, g, ok = self._local.rho_gradient(x, w, z0, fallback=fb, batches=B)
        return list(zip(_split(z, reqs), _split(g, reqs), _split(ok, reqs)))


def _rank_one(method, model, structured: bool = True):
    """The symmetric rank-one evaluator (:mod:`numerics.rank_one_secular`) where :func:`_rank_one_applies`,
    else None."""
    from . import rank_one_secular
    return rank_one_secular.RankOneSecular(method, model) if _rank_one_applies(method, model, structured) else None


def _rank_one_applies(method, model, structured: bool = True) -> bool:
    """Symmetric rank-one components (finite sums, kaczmarz) on the matrix-free route, or on the dense
    route when the search is the structured one: there its gradients save most of the points (the
    panel's kaczmarz instances: 16,202 against 4,960 points, 11.5 s against 4.3 s for 11 batch sizes,
    the same K to 6 digits), while the grid and direct search is cheaper on the batched vech
    eigenvalues (2.5 ms against 10 ms a point)."""
    from . import rank_one_secular
    if model.decoupled is not None or not rank_one_secular.applies(model):
        return False
    route = rates.pick_route(model, 1, method=method)
    return route == "matrix-free" or structured and route == "dense"


def _size(r) -> int:
    return int(np.broadcast(np.asarray(r.x), np.asarray(r.w)).size)


def _concat(parts):
    """Concatenate per-request arrays (broadcast together) into flat arrays; the last item of each part
    (its batch size) repeated per point."""
    arrays = []
    for *arrs, b in parts:
        arrs = np.broadcast_arrays(*[np.asarray(a) for a in arrs])
        arrays.append([a.ravel() for a in arrs] + [np.full(arrs[0].size, b, dtype=object)])
    return [np.concatenate(col) for col in zip(*arrays)]


def _split(flat, reqs) -> list:
    """Cut a flat answer back into the requests' shapes."""
    out, k = [], 0
    for r in reqs:
        shape = np.broadcast(np.asarray(r.x), np.asarray(r.w)).shape
        n = int(np.prod(shape))
        out.append(flat[k:k + n].reshape(shape + flat.shape[1:]))
        k += n
    return out


def _lockstep(ev: _Evaluator, searches, batches) -> tuple[list, list]:
    """Run the search generators side by side (``batches``: each one's batch size): every round, all
    pending rho requests are answered by one :meth:`_Evaluator.rho` call and all gradient requests by
    one :meth:`_Evaluator.grad` call. Returns (their return values, the points each one evaluated)."""
    n = len(searches)
    results, counts, pending = [None] * n, [0] * n, {}

    def advance(i, answer):
        try:
            req = searches[i].send(answer)
        except StopIteration as stop:
            results[i] = stop.value
            pending.pop(i, None)
            return
        pending[i] = req
        counts[i] += _size(req)

    kinds = {_Rho: ev.rho, _Grad: ev.grad}
    for i in range(n):
        advance(i, None)
    while pending:
        answers = {}
        for kind, call in kinds.items():
            idx = [i for i, r in pending.items() if isinstance(r, kind)]
            if idx:
                answers.update(zip(idx, call([pending[i] for i in idx], [batches[i] for i in idx])))
        for i in list(pending):
            advance(i, answers[i])
    return results, counts


def _stability_limit(hi, w, batch, steps: int, max_rounds: int = 8):
    """ln eta where rho reaches 1, per momentum, by bisection below ``hi`` (unstable or marginal).

    A 1000-fold bracket [hi - ln 1000, hi] is moved down until its lower end is stable (small steps are
    always stable: rho = 1 - 2 eta mu / (1 - beta) + O(eta^2)), then halved ``steps`` times.
    Returns the stable lower end (never above the true limit, up to rounding).
    """
    hi = np.asarray(hi, dtype=float).copy()
    width = math.log(1000.0)
    lo = hi - width
    for _ in range(max_rounds):
        bad = ~((yield _Rho(lo, w, batch)) < 1)
        if not bad.any():
            break
        hi = np.where(bad, lo, hi)
        lo = np.where(bad, lo - width, lo)
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        ok = (yield _Rho(mid, w, batch)) < 1
        lo, hi = np.where(ok, mid, lo), np.where(ok, hi, mid)
    return lo


def _deterministic_limit(w, mu: float, L: float, steps: int = 40):
    """ln eta_det(beta): the largest stable step of the deterministic method (rho at B = inf < 1)."""
    hi = np.full(np.shape(w), math.log(4.0 / L))
    for _ in range(200):                          # grow until unstable (sgdm's limit ~ 1/(1 - beta))
        ok = (yield _Rho(hi, w, math.inf)) < 1
        if not ok.any():
            break
        hi = np.where(ok, hi + math.log(4.0), hi)
    return (yield from _stability_limit(hi, w, math.inf, steps=steps))


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

    ``fun(y, w)`` is a search (generator) that evaluates arrays of points. Each level polls c + h * u (u: :func:`_stencil_2d`
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
        # a poll point only matters if it beats its start: the evaluator may skip the others
        vals[ok] = yield from fun(pts[ok][:, 0], pts[ok][:, 1], np.broadcast_to(f[idx, None], ok.shape)[ok])
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


def _limits(model, ws, mu, L, batch, grid: TuneGrid):
    """ln eta_max(beta) at the momenta ws: deterministic limit, then the noise limit below it."""
    x_det = yield from _deterministic_limit(ws, mu, L)
    if not _has_noise(model, batch):
        return x_det
    return (yield from _stability_limit(x_det, ws, None, grid.boundary_steps))


def _search(ws, x_max, grid: TuneGrid, rng, extra=()):
    """Grid on the chart over the momenta ``ws`` then direct search; ``extra``: (x, w, rho) starts."""
    chart = _Chart(ws, x_max)

    def fun(y, w, above=None):
        return (yield _Rho(chart.x(y, w), w, None, above))

    ys, hy = chart.y_grid(grid, rng)
    Y, W = np.broadcast_arrays(ys[None, :], np.asarray(ws, dtype=float)[:, None])
    V = yield from fun(Y, W)
    mins = _grid_local_minima(V)[:grid.starts]
    starts = [(Y[ij], W[ij]) for ij in mins]
    vals = [V[ij] for ij in mins]
    for x, w, r in extra:   # back to the chart: y = logit(eta / (slack eta_max(w)))
        q = min(math.exp(x - float(chart.x_max(w)) - chart.SLACK), 1 - 1e-16)
        starts.append((math.log(q / (1 - q)), w))
        vals.append(r)
    two_d = len(ws) > 1
    hw = (abs(float(np.min(ws))) / len(ws)) if two_d else 0.0
    (y, w), f, h, gap = yield from _pattern_search(fun, starts, vals, (hy, hw), two_d, grid, float(rng.uniform()))
    x = float(chart.x(y, w))
    # tolerances: the largest change of (ln eta, w) over the final poll
    probe = np.array([(y + a * h[0], w + b * h[1]) for a in (-1, 0, 1) for b in (-1, 0, 1)])
    dx = float(np.max(np.abs(chart.x(probe[:, 0], probe[:, 1]) - x)))
    return x, w, f, dx, float(h[1]), gap


# --------------------------------------------------------------------------------------------------
# the structured search (decoupled models with noise): trust-region Newton on implicit derivatives
# --------------------------------------------------------------------------------------------------
def _trust_step(g: np.ndarray, H: np.ndarray, delta: float) -> np.ndarray:
    """argmin of g.s + s.H.s / 2 over ||s|| <= delta (exact for the 1- and 2-dimensional models here:
    s = -(H + lambda I)^-1 g with lambda >= max(0, -lambda_min(H)) on the boundary)."""
    lv, Q = np.linalg.eigh(H)
    gq = Q.T @ g

    def s_of(t):
        return -Q @ (gq / (lv + t))

    if lv[0] > 0:
        s = s_of(0.0)
        if np.linalg.norm(s) <= delta:
            return s
    lo = max(0.0, -lv[0]) * (1 + 1e-12) + 1e-300
    with np.errstate(all="ignore"):
        s_lo = s_of(lo)
    if not np.all(np.isfinite(s_lo)) or np.linalg.norm(s_lo) <= delta:   # the hard case
        s = np.where(np.isfinite(s_lo), s_lo, 0.0)
        rest = math.sqrt(max(delta ** 2 - float(s @ s), 0.0))
        sign = -1.0 if gq[0] > 0 else 1.0
        return s + rest * sign * Q[:, 0]
    hi = lo + np.linalg.norm(g) / delta + float(np.max(np.abs(lv)))
    for _ in range(80):                      # ||s(t)|| decreases in t: bisection for ||s|| = delta
        mid = 0.5 * (lo + hi)
        if np.linalg.norm(s_of(mid)) > delta:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-2 * hi:         # the radius only needs to hold roughly
            break
    return s_of(hi)


_FD = 1e-5        # forward-difference step (log coordinates) of the Hessian from analytic gradients


@dataclass
class _Local:
    x: float
    w: float
    rho: float
    dx: float = math.nan      # last Newton step (ln eta, ln(1 - beta)): the argmin's precision
    dw: float = math.nan
    gap: float = math.nan     # the quadratic model's predicted remaining decrease of rho
    converged: bool = False


_RADII = np.array([1.0, 0.25, 1.0 / 16])   # trust radii tried at once (in units of the current radius)


def _newton(starts, two_d: bool, grid: TuneGrid, max_iter: int = 60, explore: int = 4) -> list:
    """Trust-region Newton on rho(x, w) (w <= 0: beta >= 0) from several starts (x, w, rho) at once.

    Gradient from the implicit derivatives (:class:`numerics.secular_local.LocalSecular`), Hessian by
    forward differences of that gradient. Each iteration evaluates, for every active start in one
    vectorised call, the exact trust-region steps at three radii and a pattern move along the last two
    accepted steps (for curved valleys), and keeps the lowest rho (a verified secular root) if it is
    lower. A start stops when its Newton step is below ``grid.xtol`` or the quadratic model predicts a
    decrease below ftol (1 - rho) / 100; after ``explore`` iterations only the best start continues.
    Returns a :class:`_Local` per start whose gradient exists (the others are dropped).
    """
    x0 = np.array([s[0] for s in starts], dtype=float)
    w0 = np.array([s[1] for s in starts], dtype=float) if two_d else np.zeros(len(starts))
    z0 = np.array([s[2] for s in starts], dtype=float)
    z, g, ok = yield _Grad(x0, w0, z0)                    # polish onto the local solver's own root
    keep = ok & np.isfinite(z)
    P = np.stack([x0, w0], axis=1)[keep]
    z, g = z[keep], g[keep]
    n = len(z)
    if n == 0:
        return []
    delta = np.ones(n)
    prev = [None] * n                                     # the point before the last accepted step
    out = [_Local(P[k, 0], P[k, 1], float(z[k])) for k in range(n)]
    active = np.ones(n, dtype=bool)
    dim = 2 if two_d else 1
    for it in range(max_iter):
        if it == explore and active.sum() > 1:
            best = int(np.argmin(np.where(active, z, np.inf)))
            active[:] = False
            active[best] = True
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        # Hessians by forward differences of the analytic gradient
        if two_d:
            fx = np.concatenate([P[idx, 0] + _FD, P[idx, 0]])
            fw = np.concatenate([P[idx, 1], P[idx, 1] - _FD])
            fz = np.concatenate([z[idx] + _FD * g[idx, 0], z[idx] - _FD * g[idx, 1]])
        else:
            fx, fw, fz = P[idx, 0] + _FD, P[idx, 1], z[idx] + _FD * g[idx, 0]
        _, gf, okf = yield _Grad(fx, fw, fz, fallback=False)
        trials, owners, preds, kinds = [], [], [], []
        for j, k in enumerate(idx):
            if two_d:
                okh = okf[j] and okf[j + idx.size]
                Hm = np.column_stack([(gf[j] - g[k]) / _FD, (g[k] - gf[j + idx.size]) / _FD])
                Hm = (Hm + Hm.T) / 2
            else:
                okh = okf[j]
                Hm = np.array([[(gf[j, 0] - g[k, 0]) / _FD]])
            if not okh or not np.all(np.isfinite(Hm)):
                active[k] = False
                continue
            free = [0, 1] if two_d else [0]
            if two_d and P[k, 1] >= -1e-300 and g[k, 1] < 0:     # beta = 0 optimal along w: a bound
                free = [0]
            newton_norm = None
            for r in _RADII:
                S = np.zeros(2)
                S[free] = _trust_step(g[k, free], Hm[np.ix_(free, free)], r * delta[k])
                if two_d and P[k, 1] + S[1] > 0:
                    S[1] = -P[k, 1]
                pred = -(float(g[k, :dim] @ S[:dim]) + 0.5 * float(S[:dim] @ Hm @ S[:dim]))
                if newton_norm is None:
                    newton_norm, top_pred = float(np.linalg.norm(S)), pred
                    out[k].dx, out[k].dw, out[k].gap = abs(S[0]), abs(S[1]), max(pred, 0.0)
                trials.append(P[k] + S)
                owners.append(k)
                preds.append(pred)
                kinds.append(r)
            if newton_norm <= grid.xtol or top_pred <= 1e-2 * grid.ftol * max(1.0 - z[k], 0.0):
                out[k].converged = True
                active[k] = False
                del trials[-len(_RADII):], owners[-len(_RADII):], preds[-len(_RADII):], kinds[-len(_RADII):]
                continue
            if prev[k] is not None:                       # pattern moves along the last step
                for f in _EXTRAPOLATE[:3]:
                    T = P[k] + f * (P[k] - prev[k])
                    T[1] = min(T[1], 0.0)
                    trials.append(T)
                    owners.append(k)
                    preds.append(math.nan)
                    kinds.append(0.0)
        if not trials:
            break
        T = np.array(trials)
        owners = np.array(owners)
        zt, gt, okt = yield _Grad(T[:, 0], T[:, 1], z[owners] - np.nan_to_num(np.array(preds)), fallback=False)
        zt = np.where(okt, zt, np.inf)
        for k in np.unique(owners):
            sel = np.flatnonzero(owners == k)
            b = sel[int(np.argmin(zt[sel]))]
            if zt[b] < z[k]:
                prev[k] = P[k].copy()
                P[k], z[k], g[k] = T[b], zt[b], gt[b]
                out[k].x, out[k].w, out[k].rho = float(P[k, 0]), float(P[k, 1]), float(z[k])
                r = kinds[b]
                step = float(np.linalg.norm(T[b] - prev[k]))
                if r == 1.0:
                    delta[k] = min(4 * delta[k], 8.0)
                elif r > 0:
                    delta[k] = max(r * delta[k], 2 * step)
                else:
                    delta[k] = max(delta[k], step)
            else:
                delta[k] *= _RADII[-1] / 4
                if delta[k] <= grid.xtol:
                    out[k].converged = True
                    active[k] = False
    return out


def _line_newton(xs, vals, k: int, grid: TuneGrid, max_iter: int = 60) -> _Local | None:
    """Minimise rho along beta = 0 from scan point k, inside the bracket of its scan neighbours.

    Safeguarded Newton on d rho / d ln eta = 0 from the best point so far (the derivative from the
    implicit function theorem, the second derivative by a forward difference of it); where the model is
    not convex or the step leaves the bracket, half the way to the bracket end on the descent side. The
    bracket shrinks by the sign of the derivative at the best point and by every worse point (rho is
    unimodal inside it), so a kink is bracketed too. None where no gradient exists at the start.
    """
    lo = float(xs[k - 1]) if k > 0 else float(xs[k]) - 4.0
    hi = float(xs[k + 1]) if k + 1 < len(xs) else float(xs[k]) + 1.0
    xb = float(xs[k])
    z, g, ok = yield _Grad(np.array([xb, xb + _FD]), np.zeros(2), np.array([vals[k], vals[k]]))
    if not ok.all():
        return None
    zb, gb, hb = float(z[0]), float(g[0, 0]), float((g[1, 0] - g[0, 0]) / _FD)
    out = _Local(xb, 0.0, zb)
    g_prev, was_newton = math.inf, False
    for _ in range(max_iter):
        if gb < 0:
            lo = max(lo, xb)
        elif gb > 0:
            hi = min(hi, xb)
        # a Newton step that did not halve the derivative: a kink ahead (the curvature grows without
        # bound toward it); bisect instead
        kink = was_newton and abs(gb) > 0.5 * abs(g_prev)
        xn = xb - gb / hb if hb > 0 and not kink else math.nan
        newton = lo < xn < hi
        if not newton:
            xn = xb + 0.5 * ((hi if gb < 0 else lo) - xb)
        out.dx = abs(xn - xb)
        out.gap = 0.5 * gb * gb / hb if newton else abs(gb * (xn - xb))
        # the model's predicted decrease counts only for a Newton step inside the bracket (at a kink the
        # local curvature says nothing about the way to the bracket end)
        settled = newton and was_newton and abs(gb) <= 0.5 * abs(g_prev)      # Newton converging
        if hi - lo <= grid.xtol or settled and (out.dx <= grid.xtol or out.gap <= 1e-2 * grid.ftol * (1 - zb)):
            out.converged = True
            break
        zn, gn, okn = yield _Grad(np.array([xn, xn + _FD]), np.zeros(2), np.full(2, zb + gb * (xn - xb)))
        if okn.all() and zn[0] < zb:
            if xn > xb:
                lo = xb
            else:
                hi = xb
            g_prev, was_newton = gb, newton
            xb, zb, gb, hb = xn, float(zn[0]), float(gn[0, 0]), float((gn[1, 0] - gn[0, 0]) / _FD)
            out.x, out.rho = xb, zb
        else:
            was_newton = False
            if xn > xb:
                hi = xn
            else:
                lo = xn
    return out


def _closed_form_start(m, mu: float, L: float):
    """(ln eta, ln(1 - beta)) of theory's B = inf optimum of a registered method (None if underived)."""
    try:
        from ..theory import symbols
        from ..theory.formulas import deterministic_tuning
        t = deterministic_tuning(m.name)
        vals = {symbols.mu: mu, symbols.L: L, symbols.kappa: L / mu}
        e, b = float(t.eta.subs(vals)), float(t.beta.subs(vals))
    except Exception:        # a method theory has no closed form for (or not registered): no start
        return None
    if not (e > 0 and 0 <= b < 1 and math.isfinite(e)):
        return None
    return math.log(e), math.log1p(-b)


def _structured_ok(m, model, batch) -> bool:
    """The structured search applies: a decoupled model with noise and a nonzero secular term, or a
    symmetric rank-one model (:func:`_rank_one_applies`)."""
    if not _has_noise(model, batch):
        return False
    if model.decoupled is None:
        return _rank_one_applies(m, model)
    try:
        from .kernels import secular_tuning_kernel
        k = secular_tuning_kernel(m, model.decoupled)
        C = k(np.ones((1, 1)), np.ones((1, 1)), np.full((1, 1), 0.5), np.ones((1, 1)), np.ones((1, 1)))
    except Exception:        # theory gives no secular fraction for this method / noise
        return False
    return any(np.any(c != 0) for c in C["num"])


_LIMIT_STEPS = 10     # bisection steps for the deterministic limits of the chart (a 1000-fold bracket)


def _line_scan(x_det: float, n: int, rng):
    """(ln eta, rho) on a logit scan of eta / eta_det in [1e-6, 1 - 1e-4] at beta = 0 (ascending)."""
    lo, hi = math.log(1e-6 / (1 - 1e-6)), math.log((1 - 1e-4) / 1e-4)
    ys = lo + (hi - lo) * _offsets(n, rng)
    xs = x_det - np.logaddexp(0.0, -ys)
    return xs, (yield _Rho(xs, np.zeros(n)))


def _line_minima(vals) -> list[int]:
    """Indices of the finite local minima of a 1-D array, best first."""
    P = np.concatenate([[np.inf], vals, [np.inf]])
    mins = np.flatnonzero((vals <= P[:-2]) & (vals <= P[2:]) & np.isfinite(vals))
    return [int(k) for k in mins[np.argsort(vals[mins], kind="stable")]]


def _tune_structured(m, model, grid: TuneGrid, rng):
    """Search (generator) for the best point: a :class:`_Local`, or None to use the direct search."""
    mu, L = _extremes(model)
    # the beta = 0 line (all of sgd; a start for momentum methods, so never worse than tuned sgd)
    x_det0 = float((yield from _deterministic_limit(np.array([0.0]), mu, L, steps=_LIMIT_STEPS))[0])
    xs, vals = yield from _line_scan(x_det0, 3 * grid.n_eta, rng)
    mins = [k for k in _line_minima(vals) if vals[k] < 1][:grid.starts]
    cands = []
    for k in mins:
        cands.append((yield from _line_newton(xs, vals, k, grid)))
    if not cands or any(c is None for c in cands):
        return None
    line = min(cands, key=lambda c: c.rho)
    if not m.uses_momentum:
        return line
    # momentum: a coarse grid on the chart under the deterministic limit (the safety net), theory's
    # B = inf optimum, the beta = 0 optimum; Newton from each; the best wins
    omb_min = grid.one_minus_beta_min or min(0.1, 0.25 / math.sqrt(L / mu))
    nb = max(2, grid.n_beta)
    ws = np.concatenate([np.sort(math.log(omb_min) * (1 - _offsets(nb - 1, rng))), [0.0]])
    xd = yield from _deterministic_limit(ws[:-1], mu, L, steps=_LIMIT_STEPS)
    chart = _Chart(ws, np.concatenate([xd, [x_det0]]))
    chart.SLACK = 0.0
    r_lo, r_hi = 1e-5, 1 - 1e-4
    lo, hi = math.log(r_lo / (1 - r_lo)), math.log(r_hi / (1 - r_hi))
    ys = lo + (hi - lo) * _offsets(grid.n_eta, rng)
    Y, W = np.broadcast_arrays(ys[None, :], ws[:, None])
    X = chart.x(Y, W)
    V = yield _Rho(X, W)
    starts = [(float(X[ij]), float(W[ij]), float(V[ij])) for ij in _grid_local_minima(V)[:grid.starts]
              if V[ij] < 1]
    cf = _closed_form_start(m, mu, L)
    if cf is not None:
        r = float((yield _Rho(np.array([cf[0]]), np.array([min(cf[1], 0.0)])))[0])
        if r < 1:
            starts.append((cf[0], min(cf[1], 0.0), r))
    starts.append((line.x, 0.0, line.rho))
    best = min([line] + (yield from _newton(starts, True, grid)), key=lambda c: c.rho)

    def direct(best, x0, w0, r0):
        """The direct search from (x0, w0); its point replaces ``best`` only if it is better."""
        def fun(a, b, above):
            return (yield _Rho(a, b, None, above))
        (x, w), f, h, gap = yield from _pattern_search(fun, [(x0, w0)], [r0], (0.1, 0.1), True, grid,
                                                       float(rng.uniform()))
        return _Local(float(x), float(w), f, float(h[0]), float(h[1]), gap, True) if f < best.rho else best

    # the safety net: a start that is already better than every Newton result (no gradient there, e.g.
    # rho = rho(D) or a root squeezed against a pole) is refined by the direct search
    x0, w0, r0 = min(starts, key=lambda s: s[2])
    if not best.converged and best.w < 0:            # Newton stalled (a kinked valley): go on from there
        x0, w0, r0 = best.x, best.w, best.rho
    if r0 < best.rho or not best.converged and best.w < 0:
        best = yield from direct(best, x0, w0, r0)
    # Newton failed from every momentum start and only the beta = 0 line is left (the gd2026
    # gaussian-uniform panel, Nesterov at B = 8: K 17586 there against 12773 found this way): the direct
    # search from the best momentum start
    mom = [s for s in starts if s[1] < 0 and s[2] < 1]
    if best.w == 0 and mom:
        best = yield from direct(best, *min(mom, key=lambda s: s[2]))
    return best


def _tune_search(m, model, batch, grid: TuneGrid, refine: bool, rng, mu, L):
    """The grid and direct search (every model; generator): (x, w, rho, dx, dw, gap)."""
    g = grid if refine else replace(grid, max_levels=0)
    # the beta = 0 line: all of sgd, and a start for momentum methods (never worse than tuned sgd)
    w0 = np.array([0.0])
    best = yield from _search(w0, (yield from _limits(model, w0, mu, L, batch, g)), g, rng)
    if m.uses_momentum:
        omb_min = g.one_minus_beta_min or min(0.1, 0.25 / math.sqrt(L / mu))
        nb = max(2, g.n_beta)
        ws = np.concatenate([np.sort(math.log(omb_min) * (1 - _offsets(nb - 1, rng))), [0.0]])
        best = yield from _search(ws, (yield from _limits(model, ws, mu, L, batch, g)), g, rng,
                                  extra=[(best[0], best[1], best[2])])
    return best


def _point_search(m, model, batch, grid: TuneGrid, refine: bool, seed: int):
    """The whole search of one point (generator): (x, w, dx, dw, gap, notes)."""
    rng = np.random.default_rng(seed)
    found = None
    if refine and _structured_ok(m, model, batch):
        found = yield from _tune_structured(m, model, grid, rng)
    if found is not None:
        notes = [] if found.converged else ["the local search stopped before its tolerance"]
        return found.x, found.w, found.dx, found.dw, found.gap, notes
    mu, L = _extremes(model)
    x, w, _, dx, dw, gap = yield from _tune_search(m, model, batch, grid, refine, rng, mu, L)
    return x, w, dx, dw, gap, []


def _check_tunable(model):
    mu, L = _extremes(model)
    if float(np.min(model.spectrum_array())) <= 1e-13 * L:
        raise InputError("spectrum" if model.name in ("gaussian", "coordinate") else "matrix",
                         "H is singular: the error in its null space never decays (rho = 1 for every step "
                         "size and momentum), so there is nothing to tune")


def _result(m, model, batch, found, count, skipped=None) -> TuneResult:
    """The TuneResult at a search's point: rho and K from ``rates.spectral_radius`` there (``skipped``:
    the least lower bound and the number of the points the evaluator skipped, :meth:`_Evaluator._fallback`)."""
    x, w, dx, dw, gap, notes = found
    lr, beta = math.exp(x), (-math.expm1(w) if m.uses_momentum else 0.0)
    res = rates.spectral_radius(m, model, batch, lr, beta)
    rho = float(res.rho)
    out = TuneResult(m.name, batch, lr, beta, rho, float(res.K), int(res.digits), int(res.K_digits()),
                     res.route, res.precision, lr_tol=float(math.expm1(dx)),
                     momentum_tol=float((1 - beta) * math.expm1(dw)) if m.uses_momentum else 0.0,
                     rho_gap=gap, evaluations=count, notes=notes + list(res.notes))
    if not rho < 1:
        out.notes.append("no stable (eta, beta) found: rho >= 1 everywhere searched")
    if skipped is not None and skipped[0] < rho:
        lo = math.floor(skipped[0] * 1e10) / 1e10          # rounded down: still a lower bound
        out.notes.append(f"the search skipped {skipped[1]} points whose root the rank-one evaluator could not "
                         f"verify (the Krylov route's budget of {ENGINE_POINTS} points a batch size spent, or "
                         f"no bracket there); their rho is at least {lo:.10f} (a lower bound from Ritz values, "
                         f"not certified), so a better point may lie among them")
    return out


def tune(method, model: SamplingModel, batch, *, seed: int = 0, grid: TuneGrid = DEFAULT_GRID,
         refine: bool = True) -> TuneResult:
    """Optimal constant (eta, beta) of ``method`` at batch size ``batch`` (beta = 0 without momentum).

    Decoupled models with noise, and symmetric rank-one models (finite sums, kaczmarz), use the
    structured search (scans, theory's B = inf optimum as a start,
    trust-region Newton on the implicit derivatives of the secular root, or of lambda_max = 1 for the
    rank-one models, :mod:`numerics.rank_one_secular`); the others, and ``refine=False``, the grid and
    direct search.

    Parameters
    ----------
    method : a name or :class:`theory.methods.Method`.
    model : a :mod:`theory.sampling` model.
    batch : int >= 1 or ``math.inf``.
    seed : jitters the grid offsets and the poll directions; the result is deterministic given the
        seed, and independent of it up to the stated tolerances.
    grid : search settings (:class:`TuneGrid`).
    refine : run the local search (else return the best coarse-grid point).

    Returns
    -------
    TuneResult with rho and K recomputed at the optimum by ``rates.spectral_radius`` (digits stated).
    """
    return tune_many(method, model, [batch], seed=seed, grid=grid, refine=refine)[0]


def tune_many(method, model: SamplingModel, batches, *, seed: int = 0, grid: TuneGrid = DEFAULT_GRID,
              refine: bool = True) -> list[TuneResult]:
    """:func:`tune` at each of ``batches``, the searches run side by side (:func:`_lockstep`).

    Each point gets the search :func:`tune` runs for it alone (same seed, same steps); only the solver
    calls are shared, so a curve of 12 batch sizes costs about as many calls as one point.

    >>> from momentum_verify.theory.sampling import Gaussian
    >>> [round(r.lr, 4) for r in tune_many("sgd", Gaussian([1.0, 1.0]), [2, 6])]   # B / (B + d + 1)
    [0.4, 0.6667]
    """
    m = as_method(method)
    batches = [model.check_batch(b) for b in batches]
    _check_tunable(model)
    searches = [_point_search(m, model, b, grid, refine, seed) for b in batches]
    ev = _Evaluator(m, model, structured=refine)
    found, counts = _lockstep(ev, searches, batches)
    return [_result(m, model, b, f, c, ev.skipped.get(b)) for b, f, c in zip(batches, found, counts)]


def _drive(method, model, batch, search):
    """Run one search generator alone (tests, and any caller of the internal searches)."""
    m = as_method(method)
    return _lockstep(_Evaluator(m, model), [search], [batch])[0][0]


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


_TUNED: dict = {}          # tuned points of this process, shared by every curve (claims reuse them)


def _cache_key(task):
    """(method, model, batch, seed, grid) when all are hashable (value objects), else None."""
    try:
        hash(task)
    except TypeError:
        return None
    return task


def _tune_group(args):
    """The tuned points of one method at several batch sizes (:func:`tune_many`; a pool task)."""
    method, model, batches, seed, grid = args
    return tune_many(method, model, batches, seed=seed, grid=grid)


def tune_curve(methods, model: SamplingModel, batches, *, seed: int = 0, grid: TuneGrid = DEFAULT_GRID,
               workers: int = 1, cache: bool = True) -> TuneCurve:
    """Tune every method at every batch size (sgd always, as the baseline of the acceleration).

    Batches are sorted ascending (inf last); each point gets its own search (same seed), run side by side
    with the method's other batch sizes (:func:`tune_many`), so neither the order of the input nor
    ``workers`` (processes, each taking a share of every method's batches) changes the result beyond
    the last bits of the solver's sums.
    ``cache``: reuse points tuned before in this process with the same method, model, batch, seed and
    grid (the paper checks tune the same curves in several claims); copies are returned.
    """
    objs = {as_method(m).name: as_method(m) for m in methods}     # method files and bound methods travel as objects
    names = list(objs)
    if "sgd" not in names:
        names = ["sgd"] + names
    names = list(dict.fromkeys(names))
    bs = sorted({model.check_batch(b) for b in batches})
    tasks = [(objs.get(m, m), model, b, seed, grid) for m in names for b in bs]
    keys = [_cache_key(t) if cache else None for t in tasks]
    todo = [i for i, k in enumerate(keys) if k is None or k not in _TUNED]
    # one lockstep group per method (and per worker: a method's batches dealt round-robin)
    parts = max(1, min(workers, len(todo)))
    groups = [g for k in range(len(names)) for j in range(parts)
              for g in [[i for i in todo if i // len(bs) == k][j::parts]] if g]
    args = [(tasks[g[0]][0], model, [tasks[i][2] for i in g], seed, grid) for g in groups]
    if workers > 1 and len(groups) > 1:
        from concurrent.futures import ProcessPoolExecutor
        with ProcessPoolExecutor(max_workers=workers) as pool:
            out = list(pool.map(_tune_group, args))
    else:
        out = [_tune_group(a) for a in args]
    todo = [i for g in groups for i in g]
    fresh = [r for rs in out for r in rs]
    for i, r in zip(todo, fresh):
        if keys[i] is not None:
            _TUNED[keys[i]] = r
    got = dict(zip(todo, fresh))
    flat = [copy.deepcopy(got[i] if i in got else _TUNED[keys[i]]) for i in range(len(tasks))]
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
