"""The tuner (numerics.tuning) and the ``tune`` command.

Independent routes: closed forms of MATH.md (isotropic SGD, Polyak's heavy ball, Nesterov at eta = 1/L),
brute-force grids of rho, exact identities between methods (sgdm = heavy ball rescaled; every momentum
method at beta = 0 is SGD).
"""
import json
import math
import random

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings, strategies as st

from momentum_verify.numerics.rates import rho_grid, spectral_radius
from momentum_verify.numerics.tuning import TuneGrid, loglog_slope, saturation_batch, tune, tune_curve
from momentum_verify.theory.methods import Method
from momentum_verify.theory.sampling import FiniteSum, Gaussian
from momentum_verify.theory.symbols import beta, eta
from momentum_verify.verify.cli import main

FINE = TuneGrid(ftol=1e-10, xtol=1e-9)          # tighter stopping, for closed-form comparisons


def rel(a, b):
    return abs(a - b) / abs(b)


def K_rel(rho, rho_true):
    """Relative error of K = -1/ln(rho)."""
    return abs(math.log(rho_true) / math.log(rho) - 1)


# --------------------------------------------------------------------------------------------------
# closed forms
# --------------------------------------------------------------------------------------------------
@given(d=st.integers(1, 30), B=st.integers(1, 300))
def test_isotropic_sgd_closed_form(d, B):
    """H = I_d: tuned SGD has rho = (d+1)/(B+d+1) at eta = B/(B+d+1) (MATH.md §7)."""
    r = tune("sgd", Gaussian(np.ones(d)), B)
    rho = (d + 1) / (B + d + 1)
    assert r.momentum == 0.0
    assert K_rel(r.rho, rho) <= 1e-6                             # the default ftol
    assert rel(r.lr, B / (B + d + 1)) <= 1e-3                    # a smooth minimum: lr to ~sqrt(ftol)


@pytest.mark.parametrize("kappa", [4.0, 100.0, 1e4])
def test_polyak_heavy_ball_at_batch_inf(kappa):
    """B = inf: tuned heavy ball is Polyak's ((sqrt k - 1)/(sqrt k + 1))^2 at beta = that contraction^2."""
    model = Gaussian(np.array([1.0, 2.0, kappa / 3, kappa]))
    r = tune("heavy-ball", model, math.inf, grid=FINE)
    s = math.sqrt(kappa)
    rho = ((s - 1) / (s + 1)) ** 2
    assert r.rho >= rho * (1 - 1e-12)                # nothing beats the optimum
    assert K_rel(r.rho, rho) <= 1e-7
    assert abs(r.momentum - rho) <= 1e-3
    assert rel(r.lr, 4 / (math.sqrt(kappa) + 1) ** 2) <= 1e-2


@pytest.mark.parametrize("kappa", [10.0, 100.0, 1e4])
def test_nesterov_at_batch_inf_no_worse_than_closed_form(kappa):
    """Tuned over both parameters, Nesterov at B = inf is at least as fast as eta = 1/L,
    beta = (sqrt k - 1)/(sqrt k + 1), whose rho is (1 - 1/sqrt k)^2 (MATH.md §6)."""
    model = Gaussian(np.geomspace(1.0, kappa, 6))
    r = tune("nesterov", model, math.inf)
    assert r.rho <= (1 - 1 / math.sqrt(kappa)) ** 2 * (1 + 1e-9)


# --------------------------------------------------------------------------------------------------
# structure: momentum never worse than sgd, sgdm = heavy ball, determinism
# --------------------------------------------------------------------------------------------------
spectra = st.lists(st.floats(0.01, 100.0), min_size=1, max_size=6).map(lambda v: np.array(v))


@settings(max_examples=6)
@given(lam=spectra, B=st.sampled_from([1, 3, 20, math.inf]))
def test_momentum_never_worse_than_sgd(lam, B):
    """beta = 0 is in the search space, and the tuner starts from the tuned beta = 0 point."""
    model = Gaussian(lam)
    sgd = tune("sgd", model, B)
    for m in ("heavy-ball", "nesterov"):
        r = tune(m, model, B)
        assert r.rho <= sgd.rho * (1 + 1e-12)
        assert 0 <= r.momentum < 1 and r.lr > 0


def test_sgdm_is_heavy_ball_rescaled():
    """sgdm(eta, beta) = heavy ball(eta (1 - beta), beta): same tuned rate; and the identity at the point."""
    model = Gaussian(np.geomspace(0.05, 1.0, 8))
    s, h = tune("sgdm", model, 4), tune("heavy-ball", model, 4)
    assert abs(s.rho - h.rho) <= 1e-5 * (1 - h.rho)
    at = spectral_radius("heavy-ball", model, 4, s.lr * (1 - s.momentum), s.momentum)
    assert rel(float(at.rho), s.rho) <= 1e-12


def test_deterministic_given_seed_and_independent_of_it():
    model = Gaussian(np.geomspace(0.01, 1.0, 10))
    a, b = tune("heavy-ball", model, 8, seed=3), tune("heavy-ball", model, 8, seed=3)
    assert (a.lr, a.momentum, a.rho) == (b.lr, b.momentum, b.rho)
    rhos = [tune("heavy-ball", model, 8, seed=s).rho for s in (0, 1, 2)]
    assert max(rhos) - min(rhos) <= 1e-5 * (1 - min(rhos))


def test_curve_independent_of_batch_order():
    model = Gaussian(np.geomspace(0.1, 1.0, 5))
    batches = [1, 4, 16, math.inf]
    shuffled = batches[:]
    random.Random(1).shuffle(shuffled)
    c1 = tune_curve(["heavy-ball"], model, batches, cache=False)
    c2 = tune_curve(["heavy-ball"], model, shuffled, cache=False)
    assert c1.batches == c2.batches == batches
    for m in ("sgd", "heavy-ball"):
        assert [r.rho for r in c1.results[m]] == [r.rho for r in c2.results[m]]


# --------------------------------------------------------------------------------------------------
# globality
# --------------------------------------------------------------------------------------------------
_q = 4 * beta * (1 - beta)
TWIN = Method("twin", sp.ImmutableMatrix([[1 + _q, -_q], [1, 0]]), sp.ImmutableMatrix([-eta, 0]),
              sp.ImmutableMatrix([1 + beta**2, -beta**2]), "heavy ball with momentum 4 beta (1 - beta), "
              "evaluated at y = x + beta^2 (x - x-)")


def _brute(method, model, B, betas):
    """Best rho over a fine (eta, beta) grid, per beta row."""
    x = np.linspace(math.log(1e-3), math.log(4.0), 240)
    X, Bt = np.meshgrid(x, betas)
    with np.errstate(all="ignore"):
        R = rho_grid(method, model, B, np.exp(X), Bt)
    return np.where(np.isfinite(R), R, np.inf).min(axis=1)


@pytest.mark.parametrize("B, better", [(math.inf, "low"), (8, "high")])
def test_two_basins_the_better_one_is_found(B, better):
    """A method whose momentum 4 beta (1 - beta) takes each value twice: two basins, beta < 1/2 and
    beta > 1/2, separated by the unstable ridge at beta = 1/2 (momentum 1), with different rates (the
    extrapolation beta^2 differs). Which basin is better flips between B = inf and B = 8; the tuner must
    find the better one, as a brute-force grid does."""
    model = Gaussian(np.array([1.0, 3.0, 10.0]))
    betas = np.linspace(0.0, 0.995, 200)
    g = _brute(TWIN, model, B, betas)
    low, high = g[betas < 0.45].min(), g[betas > 0.55].min()
    ridge = g[np.abs(betas - 0.5) < 0.01].min()
    assert min(low, high) < max(low, high) - 0.02 and ridge > max(low, high) + 0.2   # two basins
    r = tune(TWIN, model, B)
    assert r.rho <= min(low, high) * (1 + 1e-6)
    assert (r.momentum < 0.5) == (better == "low") == (low < high)


def test_brute_force_grid_never_beats_the_tuner():
    model = Gaussian(np.geomspace(0.01, 1.0, 8))
    betas = 1 - np.geomspace(1e-3, 1.0, 120)
    for m in ("heavy-ball", "nesterov"):
        r = tune(m, model, 4)
        assert r.rho <= _brute(m, model, 4, betas).min() * (1 + 1e-9)


def test_finite_sum_model():
    """A non-decoupled model (dense route): the 2-D 'discrete' instance of Kidambi et al."""
    model = FiniteSum(np.array([[1.0, 0.0], [0.0, 0.1]]))
    sgd, hb = tune("sgd", model, 1), tune("heavy-ball", model, 1)
    assert 0 < hb.rho <= sgd.rho * (1 + 1e-12) < 1
    assert hb.route == "dense"


# --------------------------------------------------------------------------------------------------
# curves: saturation and slopes
# --------------------------------------------------------------------------------------------------
def test_saturation_batch_piecewise_power_law():
    """K = max(1/B, 1/B0): B K = max(1, B/B0) doubles at B = 2 B0 (exact in log-log interpolation)."""
    B0 = 10.0
    bs = [1, 2, 4, 8, 16, 32, 64]
    K = [max(1 / b, 1 / B0) for b in bs]
    assert saturation_batch(bs, K) == pytest.approx(2 * B0, rel=1e-12)
    assert saturation_batch(bs, [1 / b for b in bs]) is None
    dip = [max(1 / b, 1 / B0) / (1 + (b == 2)) for b in bs]       # B K = 1, 1/2, then max(1, B/B0)
    assert saturation_batch(bs, dip) == pytest.approx(2 * B0, rel=1e-12)
    assert saturation_batch(bs, dip, from_min=True) == pytest.approx(4.0, rel=1e-12)
    assert loglog_slope(bs, [3 * b**0.7 for b in bs]) == pytest.approx(0.7, rel=1e-12)


def test_curve_acceleration_and_json():
    model = Gaussian(np.geomspace(0.01, 1.0, 10))
    c = tune_curve(["nesterov"], model, [1, 8, 64, math.inf])
    assert list(c.results) == ["sgd", "nesterov"]
    for i in range(4):
        assert c.acceleration["nesterov"][i] == pytest.approx(c.results["sgd"][i].K / c.results["nesterov"][i].K)
        assert c.acceleration["nesterov"][i] >= 1 - 1e-9
    j = json.loads(json.dumps(c.to_json()))
    assert {"results", "acceleration_slope", "saturation_batch"} <= set(j)
    row = j["results"][-1]
    assert {"batch", "method", "lr", "momentum", "rho", "K"} <= set(row)
    assert row["batch"] == "inf"


# --------------------------------------------------------------------------------------------------
# the command
# --------------------------------------------------------------------------------------------------
def test_cli_json(capsys):
    assert main(["tune", "--method", "heavy-ball", "--spectrum", "geomspace:0.1:1:4", "--batch", "1,16,inf",
                 "--json"]) == 0
    j = json.loads(capsys.readouterr().out)
    assert len(j["results"]) == 6 and {r["method"] for r in j["results"]} == {"sgd", "heavy-ball"}
    assert set(j["acceleration_slope"]) == {"sgd", "heavy-ball"}


def test_cli_table_and_plot(tmp_path, capsys):
    png = tmp_path / "curve.png"
    assert main(["tune", "--spectrum", "1,2,5", "--batch", "1,4,16", "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "nesterov:" in out and "saturation batch sgd" in out and "acceleration slope" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("argv, param", [
    (["--spectrum", "1,2", "--batch", "0"], "batch"),
    (["--spectrum", "1,2", "--batch", "1,,4"], "batch"),
    (["--spectrum", "1,2", "--batch", "two"], "batch"),
    (["--spectrum", "1,-2", "--batch", "1"], "spectrum"),
    (["--spectrum", "1,nan", "--batch", "1"], "spectrum"),
    (["--spectrum", "1,2", "--batch", "1", "--method", "adam"], "method"),
    (["--batch", "1"], "spectrum"),
    (["--model", "finite", "--matrix", "/nonexistent.npy", "--batch", "1"], "matrix"),
    (["--spectrum", "1,2", "--batch", "1", "--plot", "out.pdf"], "plot"),
    (["--spectrum", "1,2", "--batch", "1", "--seed", "x"], "seed"),
])
def test_cli_bad_input(argv, param, capsys):
    assert main(["tune"] + argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"error: {param}" in err and "Traceback" not in err


def test_cli_without_replacement_batch_exceeds_n(tmp_path, capsys):
    f = tmp_path / "A.npy"
    np.save(f, np.eye(3))
    assert main(["tune", "--model", "finite", "--matrix", str(f), "--without-replacement", "--batch", "2,5"]) == 2
    assert "batch" in capsys.readouterr().err


def test_singular_hessian_is_an_input_error(capsys):
    assert main(["tune", "--spectrum", "0,1,2", "--batch", "4"]) == 2
    assert "spectrum" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------------
# the structured search: kernels from theory, implicit derivatives, and against the direct search
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["sgd", "heavy-ball", "nesterov"])
def test_tuning_kernel_matches_theory(method):
    """The generated kernel's num/den reproduce theory's secular term phi(z, lambda) exactly (SymPy
    rationals in, floats out), and its eta/beta columns are phi's partial derivatives."""
    from momentum_verify.numerics.kernels import secular_tuning_kernel
    from momentum_verify.numerics.operators import F_B
    from momentum_verify.theory import symbols as S
    from momentum_verify.theory.moments import secular_term
    from momentum_verify.theory.methods import get_method
    from momentum_verify.theory.sampling import GAUSSIAN_NOISE
    phi = secular_term(get_method(method), GAUSSIAN_NOISE, F_B)
    k = secular_tuning_kernel(method, GAUSSIAN_NOISE)
    pt = {S.lam: sp.Rational(3, 7), S.eta: sp.Rational(2, 5), S.beta: sp.Rational(5, 9), F_B: sp.Rational(1, 8),
          S.tau: sp.Integer(2), S.z: sp.Rational(9, 10)}
    C = k(*[np.array([[float(pt[s])]]) for s in (S.lam, S.eta, S.beta, F_B, S.tau)])
    z = float(pt[S.z])

    def poly(cs, monic):
        cs = ([1.0] if monic else []) + [float(c[0, 0]) for c in cs]
        return np.polyval(cs, z)
    den, num = poly(C["den"], True), poly(C["num"], False)
    assert num / den == pytest.approx(float(phi.subs(pt)), rel=1e-12)
    for p, tag in ((S.eta, "eta"), (S.beta, "beta")):
        dden = poly(C[f"den_{tag}"], False) if C[f"den_{tag}"] else 0.0
        dphi = (poly(C[f"num_{tag}"], False) * den - num * dden) / den ** 2
        assert dphi == pytest.approx(float(sp.diff(phi, p).subs(pt)), rel=1e-10, abs=1e-14)


@pytest.mark.parametrize("method, B, lr, beta", [("heavy-ball", 4, 0.02, 0.9), ("nesterov", 64, 0.3, 0.95),
                                                  ("sgd", 16, 0.5, 0.0)])
def test_implicit_gradient_matches_finite_differences(method, B, lr, beta):
    """d rho / d(ln eta, ln(1 - beta)) = -F_p / F_z equals central differences of the rate engine's rho."""
    from momentum_verify.numerics.secular_local import LocalSecular
    model = Gaussian(np.geomspace(0.01, 1.0, 12))
    ev = LocalSecular(method, model, B, momentum=method != "sgd")
    x, w = math.log(lr), math.log1p(-beta)
    z, g, ok = ev.rho_gradient([x], [w], [float(spectral_radius(method, model, B, lr, beta).rho)])
    assert ok[0]
    h = 1e-5

    def r(a, b):
        return float(rho_grid(method, model, B, math.exp(a), -math.expm1(b)))
    assert g[0, 0] == pytest.approx((r(x + h, w) - r(x - h, w)) / (2 * h), rel=1e-5, abs=1e-12)
    if method != "sgd":
        assert g[0, 1] == pytest.approx((r(x, w + h) - r(x, w - h)) / (2 * h), rel=1e-5, abs=1e-12)


_SLOW = pytest.mark.slow          # the direct search it is compared with takes ~10 CPU s on these


@pytest.mark.parametrize("method, B", [("sgd", 2), ("sgd", 500), ("heavy-ball", 300),
                                       pytest.param("heavy-ball", 3, marks=_SLOW),
                                       pytest.param("nesterov", 40, marks=_SLOW),
                                       pytest.param("nesterov", 2000, marks=_SLOW)])
def test_structured_search_no_worse_than_direct_search(method, B):
    """The Newton search on the implicit derivatives reaches the direct search's optimum (or better), in
    the noise-dominated and the near-deterministic (kinked) regimes; plant: the coarse grid alone is worse."""
    from momentum_verify.numerics import tuning as T
    model = Gaussian(np.geomspace(1e-3, 1.0, 12))
    r = tune(method, model, B)
    m = T.as_method(method)
    mu, L = T._extremes(model)
    x, w, *_ = T._drive(m, model, B, T._tune_search(m, model, B, T.DEFAULT_GRID, True, np.random.default_rng(0),
                                                    mu, L))
    ref = float(spectral_radius(m, model, B, math.exp(x), -math.expm1(w) if m.uses_momentum else 0.0).rho)
    assert r.rho <= ref + 1e-6 * (1 - ref)
    coarse = tune(method, model, B, refine=False)
    assert coarse.rho > r.rho                         # the local search did the work


def test_curve_cache_reuses_points(monkeypatch):
    """A second curve over overlapping batches tunes only the new points, with identical results; a changed
    seed is a different key (plant: clearing the cache retunes everything)."""
    from momentum_verify.numerics import tuning as T
    model = Gaussian(np.geomspace(0.1, 1.0, 4))
    calls = []
    real = T._tune_group
    monkeypatch.setattr(T, "_tune_group", lambda a: calls.extend(a[2]) or real(a))
    monkeypatch.setattr(T, "_TUNED", {})
    c1 = tune_curve(["sgd"], model, [1, 4])
    c2 = tune_curve(["sgd"], model, [1, 4, 16])
    assert calls == [1, 4, 16]
    assert [r.rho for r in c2.results["sgd"][:2]] == [r.rho for r in c1.results["sgd"]]
    c2.results["sgd"][0].rho = -1.0                                       # copies: the cache is not touched
    assert tune_curve(["sgd"], model, [1]).results["sgd"][0].rho == c1.results["sgd"][0].rho
    tune_curve(["sgd"], model, [1], seed=1)
    assert calls == [1, 4, 16, 1]


# --------------------------------------------------------------------------------------------------
# the batched dense evaluator (coupled small models: kaczmarz, dense coordinate descent)
# --------------------------------------------------------------------------------------------------
def _small_kaczmarz():
    from momentum_verify.theory.sampling import Kaczmarz
    rng = np.random.default_rng(5)
    return Kaczmarz(rng.standard_normal((9, 3)) * np.array([1.0, 0.5, 0.2]))


@pytest.mark.parametrize("method", ["sgd", "heavy-ball", "nesterov"])
def test_dense_batch_matches_the_operator(method):
    """T's vech matrix at several points equals SecondMomentOperator.vech_matrix; rho = spectral_radius."""
    from momentum_verify.numerics.dense_batch import DenseBatch
    from momentum_verify.numerics.operators import SecondMomentOperator
    model = _small_kaczmarz()
    e, b = np.array([0.05, 0.4, 1.1]), np.array([0.0, 0.5, 0.9])
    for B in (1, 3):
        ev = DenseBatch(method, model, B)
        T = ev.matrices(e, b)
        for g in range(3):
            ref = SecondMomentOperator(method, model, B, e[g], b[g]).vech_matrix()
            assert np.max(np.abs(T[g] - ref)) <= 1e-14 * max(1.0, np.max(np.abs(ref)))
        r = ev.rho(e, b)
        for g in range(3):
            rr = float(spectral_radius(method, model, B, e[g], b[g]).rho)
            assert abs(r[g] - rr) <= 1e-9 * rr


def test_dense_batch_detects_a_planted_error():
    """The comparison above can fail: a perturbed noise table gives a different matrix and rho."""
    from momentum_verify.numerics.dense_batch import DenseBatch
    from momentum_verify.numerics.operators import SecondMomentOperator
    model = _small_kaczmarz()
    ev = DenseBatch("heavy-ball", model, 1)
    ev.N = ev.N * (1 + 1e-3)
    ref = SecondMomentOperator("heavy-ball", model, 1, 0.4, 0.5).vech_matrix()
    assert np.max(np.abs(ev.matrices(0.4, 0.5)[0] - ref)) > 1e-8
    assert abs(ev.rho(0.4, 0.5)[0] - spectral_radius("heavy-ball", model, 1, 0.4, 0.5).rho) > 1e-8


@pytest.mark.parametrize("method,B", [("sgd", 2), pytest.param("heavy-ball", 1, marks=pytest.mark.slow),
                                      pytest.param("nesterov", 4, marks=pytest.mark.slow)])
def test_dense_batch_tuner_same_optimum_as_rho_grid(method, B, monkeypatch):
    """The tuner searching with the batched dense evaluator returns the optimum of the route that takes
    every searched rho from spectral_radius (rho_grid's dense branch replaced by a loop over it)."""
    from momentum_verify.numerics import rates
    model = _small_kaczmarz()
    grid = TuneGrid(n_beta=6, n_eta=6, ftol=1e-5)
    new = tune(method, model, B, grid=grid)

    class Loop:                  # rho_grid's spectral_radius loop (the path check=True takes)
        def __init__(self, m, mo, b):
            self.args = (m, mo, b)

        def rho(self, e, b):
            return rates.rho_grid(*self.args, e, b, check=True)

    monkeypatch.setattr(rates, "_dense_batch", Loop)
    old = tune(method, model, B, grid=grid)
    assert new.rho <= old.rho + 1e-9 * (1 - old.rho)
    assert abs(new.rho - old.rho) <= 1e-6 * (1 - old.rho)
    assert new.rho == float(spectral_radius(method, model, B, new.lr, new.momentum).rho)


def _not_worse(rho, rho_ref, tol=1e-6):
    """rho is as good as rho_ref up to tol (1 - rho_ref) (the tuner's stated ftol)."""
    return rho <= rho_ref + tol * (1 - rho_ref)


def test_dense_tuner_beats_a_brute_force_grid():
    """Tiny coupled model: the tuned heavy-ball rho is no worse than the best of a 16 x 16 grid of the rate
    engine (spectral_radius through rho_grid); a planted worse point (lr 5% off the optimum) is caught."""
    from momentum_verify.theory.sampling import Kaczmarz
    model = Kaczmarz(np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 2.0]]))
    r = tune("heavy-ball", model, 1)
    E, Bt = np.meshgrid(np.geomspace(0.05, 2.0, 16), np.linspace(0.0, 0.9, 16))
    grid_best = float(np.min(rho_grid("heavy-ball", model, 1, E, Bt)))
    assert _not_worse(r.rho, grid_best)
    planted = float(spectral_radius("heavy-ball", model, 1, r.lr * 1.05, r.momentum).rho)
    assert not _not_worse(planted, r.rho)


def test_momentum_tuner_beats_a_brute_force_grid_where_newton_fails():
    """Regression (gd2026 gaussian-uniform panel, Nesterov, B = 8): Newton failed from every momentum start
    and the tuner returned SGD's point (K 17586); the direct search from the best momentum start now
    runs there. Second route: the best point of a 40 x 40 log grid of rho_grid, confirmed by
    spectral_radius; the tuner must be no worse."""
    from momentum_verify.verify.claims.instances import PANEL
    model = PANEL["gaussian-uniform"].model()
    t = tune("nesterov", model, 8)
    E, O = np.meshgrid(np.geomspace(1e-4, 1e-1, 40), np.geomspace(1e-3, 1e-1, 40))
    R = rho_grid("nesterov", model, 8, E.ravel(), 1 - O.ravel())
    k = int(np.argmin(R))
    best = float(spectral_radius("nesterov", model, 8, float(E.ravel()[k]), float(1 - O.ravel()[k])).rho)
    assert best < 1 and t.momentum > 0.5
    assert float(t.rho) <= best + 1e-6 * (1 - best), (t, best, -1 / math.log(best))



def _matrix_free_finite_sum():
    """d = 12 rows of decaying scale: s d = 24 > 20, so the rate engine takes the matrix-free route."""
    A = np.random.default_rng(11).standard_normal((60, 12)) * np.geomspace(1.0, 0.08, 12)
    return FiniteSum(A)


def test_matrix_free_finite_sum_tuned_with_the_rank_one_evaluator(monkeypatch):
    """Symmetric rank-one models on the matrix-free route: the search runs on
    numerics.rank_one_secular; the optimum is a local minimum of the rate on the dense route (an
    independent algorithm: vech eigenvalues) at 8 neighbours 3 % away in eta and 1 - beta, and never
    worse than tuned sgd."""
    from momentum_verify.numerics import rank_one_secular as R, rates
    model = _matrix_free_finite_sum()
    assert rates.pick_route(model, 4, method="heavy-ball") == "matrix-free"
    calls = []
    solve = R.RankOneSecular.solve
    monkeypatch.setattr(R.RankOneSecular, "solve", lambda self, *a, **k: calls.append(1) or solve(self, *a, **k))
    hb, sgd = tune("heavy-ball", model, 4), tune("sgd", model, 4)
    assert calls and hb.route == "matrix-free"
    assert hb.rho <= sgd.rho * (1 + 1e-12) < 1
    at = spectral_radius("heavy-ball", model, 4, hb.lr, hb.momentum, route="dense")
    assert abs(at.rho - hb.rho) <= 10.0 ** -min(at.digits, hb.rho_digits)
    for fe, fb in [(a, b) for a in (0.97, 1.0, 1.03) for b in (0.97, 1.0, 1.03) if (a, b) != (1.0, 1.0)]:
        r = spectral_radius("heavy-ball", model, 4, hb.lr * fe, 1 - (1 - hb.momentum) * fb, route="dense")
        assert r.rho >= hb.rho - 10.0 ** -min(r.digits, hb.rho_digits), (fe, fb)


@pytest.mark.slow
def test_rank_one_search_never_beaten_by_a_brute_force_grid():
    """A 16 x 16 grid in (ln eta, ln(1 - beta)) around the optimum, rho on the dense route."""
    model = _matrix_free_finite_sum()
    hb = tune("heavy-ball", model, 4)
    best = min(float(spectral_radius("heavy-ball", model, 4, hb.lr * a, 1 - (1 - hb.momentum) * b,
                                     route="dense").rho)
               for a in np.geomspace(0.5, 2.0, 16) for b in np.geomspace(0.25, 4.0, 16)
               if 1 - (1 - hb.momentum) * b > 0)
    assert hb.rho <= best + 10.0 ** -hb.rho_digits


def test_rank_one_fallback_point_without_a_rate_is_avoided(monkeypatch):
    """A point the rank-one evaluator cannot verify goes to the Krylov route once; where that route
    raises (brackets that disagree) or forms no bracket, the point is +inf to the search, not an
    exception, and its lower bound is kept for the notes; a point polled again costs nothing."""
    from momentum_verify.numerics import tuning as T
    from momentum_verify.numerics.rates import matrix_free
    from momentum_verify.numerics.rates.result import RateResult
    ev = T._Evaluator(T.as_method("heavy-ball"), _matrix_free_finite_sum())
    calls = []

    def krylov(method, model, batch, e, b):
        calls.append(e)
        if len(calls) == 2:
            raise RuntimeError("matrix-free: the brackets do not meet")
        return None if len(calls) == 3 else RateResult(0.5, 10, None, "matrix-free", "double")
    monkeypatch.setattr(matrix_free, "krylov_double", krylov)
    B4 = np.array([4] * 4, dtype=object)
    out = ev._fallback(np.log([0.1, 0.2, 0.3, 0.4]), np.zeros(4), B4, np.array([0.1, 0.2, 0.3, 0.4]))
    assert list(out) == [0.5, np.inf, np.inf, 0.5]
    assert ev.skipped[4] == (0.2, 2)
    again = ev._fallback(np.log([0.4, 0.1]), np.zeros(2), B4[:2], np.array([0.4, 0.1]))
    assert list(again) == [0.5, 0.5] and len(calls) == 4


def test_points_that_cannot_beat_their_start_are_skipped(monkeypatch):
    """A point the rank-one evaluator cannot verify but whose lower bound is at or above the request's
    ``above`` (its poll's start) is +inf without the Krylov route; the others go there."""
    from momentum_verify.numerics import tuning as T
    ev = T._Evaluator(T.as_method("heavy-ball"), _matrix_free_finite_sum())
    monkeypatch.setattr(ev.rank_one, "rho", lambda x, w, B: (np.array([0.3, 0.6, 0.2]),
                                                              np.array([False, False, True])))
    sent = []
    monkeypatch.setattr(ev, "_fallback", lambda x, w, B, lower: sent.append(list(lower)) or np.full(x.size, 0.4))
    out = ev.rho([T._Rho(np.log([0.1, 0.2, 0.3]), np.zeros(3), None, np.array([0.5, 0.5, 0.5]))], [4])[0]
    assert list(out) == [0.4, np.inf, 0.2] and sent == [[0.3]]
    out = ev.rho([T._Rho(np.log([0.1, 0.2, 0.3]), np.zeros(3))], [4])[0]     # above=None: needed everywhere
    assert list(out) == [0.4, 0.4, 0.2] and sent[-1] == [0.3, 0.6]


def test_rank_one_fallback_budget_per_batch_size(monkeypatch):
    """At most ENGINE_POINTS points a batch size go to the Krylov route; the rest are +inf, counted with
    their least lower bound, and the tuned result's notes say so when that bound is below its rho."""
    from momentum_verify.numerics import tuning as T
    from momentum_verify.numerics.rates import matrix_free
    from momentum_verify.numerics.rates.result import RateResult
    ev = T._Evaluator(T.as_method("heavy-ball"), _matrix_free_finite_sum())
    monkeypatch.setattr(matrix_free, "krylov_double",
                        lambda *a: RateResult(0.5, 10, None, "matrix-free", "double"))
    n = T.ENGINE_POINTS + 3
    for B in (2, 4):
        out = ev._fallback(np.log(np.linspace(0.01, 0.1, n)), np.zeros(n), np.array([B] * n, dtype=object),
                           np.linspace(0.3, 0.4, n))
        assert list(out) == [0.5] * T.ENGINE_POINTS + [np.inf] * 3
        assert ev.skipped[B] == (pytest.approx(np.linspace(0.3, 0.4, n)[T.ENGINE_POINTS]), 3)
