"""Monte Carlo against the exact second-moment recursion (numerics.montecarlo).

False-alarm calibration: every random draw comes from a fixed seed and hypothesis runs derandomized
(profile "ci"), so a run is reproducible. The level of each check is still chosen as if it were random:
per instance, the mean is checked at every reliable step with intervals at level 1 - ALPHA/K
(Bonferroni over the K steps), and the rate interval at the same level, ALPHA = 1e-4, so that the
probability of a false alarm per instance is at most about 2e-4 under the interval's normal approximation
(the dev profile's 600 instances then false-alarm with probability about 0.1; the measured excursions on
300 seeds of one heavy-tailed instance stayed below 4 standard errors, the check allows about 5.9).
Steps whose interval the simulator flags unreliable (effective sample size too small: heavy tails) are not
held to their interval; the first steps always are. A separate test measures
the actual coverage of the per-step intervals over many seeds.
"""
from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from momentum_verify.numerics import montecarlo
from momentum_verify.numerics.montecarlo import exact_moments, log_slope, simulate
from momentum_verify.numerics.operators import SecondMomentOperator
from momentum_verify.theory.errors import InputError
from momentum_verify.theory.methods import METHODS
from momentum_verify.theory.sampling import Coordinate, FiniteSum, Gaussian, Kaczmarz

ALPHA = 1e-4
STEPS, RUNS = 40, 3000
MODEL_KINDS = ["gaussian", "finite", "finite-without", "kaczmarz", "coordinate", "coordinate-matrix"]


# --------------------------------------------------------------------------------------------------
# random small instances
# --------------------------------------------------------------------------------------------------
def make_model(kind: str, rng: np.random.Generator):
    d = int(rng.integers(1, 4))
    if kind == "gaussian":
        return Gaussian(rng.uniform(0.05, 1.0, d))
    if kind in ("finite", "finite-without", "kaczmarz"):
        n = int(rng.integers(d, 6)) + 1
        A = rng.standard_normal((n, d)) * rng.uniform(0.3, 1.5, d)
        if kind == "kaczmarz":
            return Kaczmarz(A)
        return FiniteSum(A, without_replacement=(kind == "finite-without"))
    if kind == "coordinate":
        return Coordinate(spectrum=rng.uniform(0.2, 1.0, d))
    M = rng.standard_normal((d, d))
    return Coordinate(H=M @ M.T + 0.3 * np.eye(d))


def rho_exact(method, model, batch, lr, momentum) -> float:
    """max |eig| of T in the vech basis (small d): a route independent of the simulator."""
    T = SecondMomentOperator(method, model, batch, lr, momentum).vech_matrix()
    return float(np.max(np.abs(np.linalg.eigvals(T))))


def stable_lr(method, model, batch, momentum) -> float:
    """The largest step with rho(T) < 1 (bisection on a log scale; the stable set is an interval here)."""
    lo, hi = 0.0, 1e-2
    while rho_exact(method, model, batch, hi, momentum) < 1 and hi < 1e4:
        lo, hi = hi, 2 * hi
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if rho_exact(method, model, batch, mid, momentum) < 1 else (lo, mid)
    return lo


@st.composite
def instances(draw, kind):
    seed = draw(st.integers(0, 2**32 - 1))
    method = draw(st.sampled_from(sorted(METHODS)))
    rng = np.random.default_rng(seed)
    model = make_model(kind, rng)
    if model.n is not None:
        batch = draw(st.integers(1, model.n))
    else:
        batch = draw(st.integers(1, 4))
    momentum = 0.0 if method == "sgd" else draw(st.sampled_from([0.0, 0.3, 0.6]))
    frac = draw(st.sampled_from([0.15, 0.3, 0.5]))
    lr = frac * stable_lr(method, model, batch, momentum)
    # rho ~ 0 (d = 1 and the exact step 1/lambda): E||e_k||^2 is rounding noise after a few steps
    assume(rho_exact(method, model, batch, lr, momentum) > 0.02)
    return method, model, batch, lr, momentum, seed + 1     # the simulation's stream differs from the model's


def check_against_exact(res, method, model, batch, lr, momentum, x0=None):
    """Mean within its (Bonferroni) interval at every reliable step; fitted rate against rho."""
    K = len(res.steps) - 1
    exact, exact_loss = exact_moments(method, model, batch, lr, momentum, K, x0)
    rel = res.reliable
    assert rel[0], "step 0 is deterministic"
    tol = 1e-9 * exact
    assert np.all(res.ci_low[rel] - tol[rel] <= exact[rel]), (res.ci_low, exact)
    assert np.all(exact[rel] <= res.ci_high[rel] + tol[rel]), (res.ci_high, exact)
    tol_f, rel_f = 1e-9 * exact_loss + 1e-300, res.loss_reliable
    assert np.all(res.loss_ci_low[rel_f] - tol_f[rel_f] <= exact_loss[rel_f])
    assert np.all(exact_loss[rel_f] <= res.loss_ci_high[rel_f] + tol_f[rel_f])

    fit = res.rate_fit
    if fit is None or not fit.reliable:    # the tail is too heavy for a moment-based interval: nothing to hold
        return
    rho = rho_exact(method, model, batch, lr, momentum)
    k0, k1 = fit.window
    # deterministic fitting bias: the same fit on the exact curve against rho (subdominant modes)
    bias = abs(log_slope(np.arange(k0, k1 + 1), exact[k0:k1 + 1]) - math.log(rho))
    assert math.log(fit.ci[0]) - bias - 1e-9 <= math.log(rho) <= math.log(fit.ci[1]) + bias + 1e-9, \
        (fit, rho, bias)


@pytest.mark.parametrize("kind", MODEL_KINDS)
@given(data=st.data())
def test_monte_carlo_matches_exact_recursion(kind, data):
    method, model, batch, lr, momentum, seed = data.draw(instances(kind))
    res = simulate(method, model, batch, lr, momentum, STEPS, RUNS, seed=seed, confidence=1 - ALPHA / STEPS)
    check_against_exact(res, method, model, batch, lr, momentum)
    if res.rate_fit is not None:
        assert res.rate_fit.ci[0] <= res.rate_fit.rho <= res.rate_fit.ci[1]


FIXED = [
    ("heavy-ball", Gaussian(np.geomspace(0.05, 1.0, 6)), 4, 0.5, 0.5),
    ("nesterov", FiniteSum(np.random.default_rng(0).standard_normal((8, 4))), 2, 0.05, 0.6),
    ("sgd", Kaczmarz(np.random.default_rng(1).standard_normal((8, 4))), 1, 1.0, 0.0),   # randomized Kaczmarz
    ("sgdm", Coordinate(spectrum=[1.0, 0.5, 0.3, 0.2]), 4, 0.5, 0.5),
]


@pytest.mark.parametrize("method, model, batch, lr, momentum", FIXED, ids=[f[0] + "-" + f[1].name for f in FIXED])
def test_rate_fit_on_fixed_instances(method, model, batch, lr, momentum):
    """The fitted decay rate holds rho (vech eigenvalues, and numerics.spectral where present)."""
    res = simulate(method, model, batch, lr, momentum, 60, 4000, seed=2, confidence=0.999)
    assert res.rate_fit.reliable and res.rate_fit.window[1] >= 20
    check_against_exact(res, method, model, batch, lr, momentum)
    try:
        from momentum_verify.numerics.rates import spectral_radius
    except ImportError:
        return
    rho = float(spectral_radius(method, model, batch, lr, momentum).rho)
    assert rho == pytest.approx(rho_exact(method, model, batch, lr, momentum), rel=1e-8)


def test_interval_coverage_is_calibrated():
    """Actual coverage of the nominal 99% per-step intervals over 300 independent seeds."""
    model = Gaussian([1.0, 0.4, 0.1])
    args = ("heavy-ball", model, 2, 0.4, 0.5)
    exact, _ = exact_moments(*args, 6)
    misses = 0
    for seed in range(300):
        res = simulate(*args, 6, 300, seed=seed, groups=20)
        misses += int(not res.ci_low[6] <= exact[6] <= res.ci_high[6])
    # Binomial(300, 0.01) exceeds 12 with probability < 1e-5; a 95% interval would miss ~15 times
    assert misses <= 12


def test_deterministic_batch_matches_exactly():
    """batch = inf: every replica follows x+ = the deterministic method; mean = exact to rounding."""
    model = FiniteSum(np.array([[1.0, 0.5], [0.2, 1.0], [0.3, -0.4]]))
    for method in METHODS:
        res = simulate(method, model, math.inf, 0.5, 0.4, 30, 7)
        exact, loss = exact_moments(method, model, math.inf, 0.5, 0.4, 30)
        np.testing.assert_allclose(res.mean_sq_error, exact, rtol=1e-11)
        np.testing.assert_allclose(res.mean_loss, loss, rtol=1e-11)
        np.testing.assert_allclose(res.ci_high, exact, rtol=1e-11)


def test_padding_and_chunking(monkeypatch):
    """Groups of unequal size, groups split over chunks: padding replicas never count."""
    monkeypatch.setattr(montecarlo, "CHUNK_ELEMENTS", 64)
    model = Gaussian([1.0, 0.3, 0.2, 0.1])
    res = simulate("nesterov", model, 3, 0.3, 0.3, 20, 1001, seed=5, groups=7)
    assert res.groups == 7 and res.runs == 1001
    assert res.mean_sq_error[0] == pytest.approx(1.0, rel=1e-14)
    check_against_exact(res, "nesterov", model, 3, 0.3, 0.3)
    det = simulate("heavy-ball", model, math.inf, 0.5, 0.5, 10, 1001, groups=7)
    np.testing.assert_allclose(det.mean_sq_error, exact_moments("heavy-ball", model, math.inf, 0.5, 0.5, 10)[0],
                               rtol=1e-12)


@given(st.integers(0, 2**32 - 1), st.sampled_from(sorted(METHODS)), st.sampled_from(["gaussian", "coordinate"]))
def test_exact_decoupled_equals_dense(seed, method, kind):
    rng = np.random.default_rng(seed)
    model = make_model(kind, rng)
    x0 = rng.standard_normal(model.d)
    lr, momentum = float(rng.uniform(0.05, 0.8)), float(rng.uniform(0, 0.9))
    fast = exact_moments(method, model, 2, lr, momentum, 15, x0)
    dense = montecarlo._exact_dense(METHODS[method], model, 2, lr, momentum, 15, x0)
    # the curves can dip far below their start (cancellation): compare on the scale of the start
    for a, b in zip(fast, dense):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12 * np.max(np.abs(b)))


def test_array_api_strict_runs_the_same_process():
    """Only standard array-API calls: array_api_strict reproduces the numpy run (same host draws)."""
    xps = pytest.importorskip("array_api_strict")
    rng = np.random.default_rng(3)
    for model in (Gaussian([1.0, 0.5, 0.2]), Kaczmarz(rng.standard_normal((5, 3))),
                  FiniteSum(rng.standard_normal((5, 3)), without_replacement=True)):
        a = simulate("nesterov", model, 2, 0.2, 0.5, 15, 40, seed=11, backend=xps)
        b = simulate("nesterov", model, 2, 0.2, 0.5, 15, 40, seed=11, backend="numpy")
        assert a.backend == "array_api_strict"
        np.testing.assert_allclose(a.mean_sq_error, b.mean_sq_error, rtol=1e-12)
        np.testing.assert_allclose(a.ci_high, b.ci_high, rtol=1e-12)


def _cupy_ready() -> bool:
    if os.environ.get("MV_BACKEND") != "cupy":
        return False
    try:
        import cupy
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


@pytest.mark.gpu
@pytest.mark.skipif(not _cupy_ready(), reason="set MV_BACKEND=cupy on a machine with CuPy and an NVIDIA GPU")
@pytest.mark.parametrize("kind", MODEL_KINDS)
@settings(max_examples=5)
@given(data=st.data())
def test_cupy_matches_exact_recursion(kind, data):
    method, model, batch, lr, momentum, seed = data.draw(instances(kind))
    res = simulate(method, model, batch, lr, momentum, STEPS, RUNS, seed=seed, backend="cupy",
                   confidence=1 - ALPHA / STEPS)
    assert res.backend == "cupy"
    check_against_exact(res, method, model, batch, lr, momentum)


def test_cupy_missing_is_an_input_error():
    if _cupy_ready():
        pytest.skip("CuPy is available here")
    with pytest.raises(InputError, match="backend"):
        simulate("sgd", Gaussian([1.0]), 1, 0.1, 0.0, 3, 4, backend="cupy")


def test_overflow_stops_cleanly():
    model = Gaussian([1.0, 0.5])
    res = simulate("sgd", model, 1, 1.5, 0.0, 5000, 50)
    assert res.stopped_at is not None and res.stopped_at < 5000
    assert "overflow" in res.stop_reason and str(res.stopped_at) in res.stop_reason
    assert len(res.steps) == res.stopped_at
    for arr in (res.mean_sq_error, res.ci_low, res.ci_high, res.mean_loss, res.ess):
        assert np.all(np.isfinite(arr))
    assert res.rate_fit is not None and res.rate_fit.rho > 1
    json.dumps([float(v) for v in res.ci_high], allow_nan=False)


def test_reproducible_with_seed():
    model = Kaczmarz(np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 2.0]]))
    a, b = (simulate("sgd", model, 1, 1.0, 0.0, 10, 20, seed=4) for _ in range(2))
    c = simulate("sgd", model, 1, 1.0, 0.0, 10, 20, seed=5)
    np.testing.assert_array_equal(a.mean_sq_error, b.mean_sq_error)
    assert not np.array_equal(a.mean_sq_error, c.mean_sq_error)


def test_x0_is_used():
    model = Gaussian([1.0, 0.5])
    x0 = np.array([2.0, -1.0])
    res = simulate("heavy-ball", model, 2, 0.3, 0.5, 20, 2000, seed=1, x0=x0)
    assert res.mean_sq_error[0] == pytest.approx(5.0)
    check_against_exact(res, "heavy-ball", model, 2, 0.3, 0.5, x0=x0)


@pytest.mark.parametrize("kwargs, param", [
    ({"runs": 1}, "runs"), ({"steps": 0}, "steps"), ({"x0": [1.0, 2.0, 3.0]}, "x0"),
    ({"backend": "torch"}, "backend"), ({"batch": 0}, "batch"), ({"confidence": 1.0}, "confidence"),
    ({"lr": -1.0}, "lr"), ({"x0": [1e80, 0.0]}, "x0"),
])
def test_bad_input(kwargs, param):
    args = dict(method="sgd", model=Gaussian([1.0, 0.5]), batch=1, lr=0.1, momentum=0.0, steps=5, runs=10)
    args.update(kwargs)
    with pytest.raises(InputError) as err:
        simulate(**args)
    assert err.value.param == param


def test_without_replacement_needs_batch_at_most_n():
    model = FiniteSum(np.eye(3), without_replacement=True)
    with pytest.raises(InputError, match="batch"):
        simulate("sgd", model, 4, 0.1, 0.0, 5, 10)


def test_gaussian_reduced_sampler_has_the_law_of_the_direct_one():
    """G_B y from d + B normals against B d normals: mean, second and fourth moments of u agree."""
    from momentum_verify.numerics.backends import get_backend
    model = Gaussian([1.0, 0.5, 0.1])
    y = np.tile(np.array([0.3, -1.0, 2.0]), (200_000, 1))
    draws = {}
    for sampler in ("direct", "reduced"):
        kernel = montecarlo._Kernel(model, 3, get_backend("numpy", seed=9), sampler)
        u = np.asarray(kernel.grad(y))
        feats = np.column_stack([u, u[:, [0, 0, 1]] * u[:, [1, 2, 2]], u ** 2, np.sum(u ** 2, axis=1) ** 2])
        draws[sampler] = feats
    a, b = draws["direct"], draws["reduced"]
    se = np.sqrt(a.var(axis=0) / len(a) + b.var(axis=0) / len(b))
    assert np.all(np.abs(a.mean(axis=0) - b.mean(axis=0)) <= 5 * se)     # 5 se: Bonferroni over 10 at ~6e-6
    H = np.diag([1.0, 0.5, 0.1])
    np.testing.assert_allclose(b[:, :3].mean(axis=0), H @ y[0], atol=5 * se[:3].max())


def test_direct_gaussian_sampler_matches_exact():
    model = Gaussian(np.geomspace(0.05, 1.0, 4))
    res = simulate("nesterov", model, 3, 0.4, 0.5, 30, 3000, seed=8, confidence=1 - ALPHA / 30,
                   gaussian_sampler="direct")
    check_against_exact(res, "nesterov", model, 3, 0.4, 0.5)


@given(st.lists(st.floats(0.0, 10.0), min_size=1, max_size=12).filter(lambda w: sum(w) > 0))
def test_alias_table_gives_the_probabilities(w):
    """Exact: P(i) = (1/n) sum_j [keep_j if j = i] + (1 - keep_j) [alias_j = i]."""
    keep, alias = montecarlo.alias_table(w)
    n = len(w)
    prob = keep / n
    np.add.at(prob, alias, (1 - keep) / n)
    np.testing.assert_allclose(prob, np.asarray(w) / sum(w), atol=1e-12)
