"""numerics.rates: every route agrees with every other to the digits each states; independent
closed forms (MATH.md §6-7) as golden values; the decoupled reduction equals the full operator."""
import math

import mpmath as mp
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings, strategies as st

from momentum_verify.numerics.operators import DecoupledProblem, SecondMomentOperator, as_method
from momentum_verify.numerics.rates import RateResult, format_digits, rho_grid, spectral_radius
from momentum_verify.theory.errors import InputError
from momentum_verify.theory.sampling import Coordinate, FiniteSum, Gaussian, Kaczmarz

METHODS = ["sgd", "heavy-ball", "nesterov", "sgdm"]
INF = math.inf


def agree(a: RateResult, b: RateResult, slack: float = 1.0) -> bool:
    """|a - b| within the sum of the two stated error bars (relative 10^-digits each)."""
    ra, rb = mp.mpf(a.rho), mp.mpf(b.rho)
    tol = (mp.mpf(10) ** -a.digits + mp.mpf(10) ** -b.digits) * max(abs(ra), abs(rb)) * slack
    return abs(ra - rb) <= tol


def mpmath_solver(method, model, batch, lr, momentum, dps) -> RateResult:
    """The scalar secular solver over the mpmath context at ``dps`` digits (the route the arb tier
    replaced by default), stated to dps - 10 digits."""
    from momentum_verify.numerics.rates.secular import secular_double, secular_mp, top_blocks
    m = as_method(method)
    z0 = float(secular_double(m, model, batch, float(lr), float(momentum)).rho)
    top = top_blocks(m, model, batch, float(lr), float(momentum))
    with mp.workdps(dps):
        return RateResult(+secular_mp(m, model, batch, lr, momentum, z0, top), dps - 10, None, "secular", "mpmath")


def vech_rho(op: SecondMomentOperator) -> float:
    return float(np.max(np.abs(np.linalg.eigvals(op.vech_matrix()))))


instances = st.fixed_dictionaries({
    "method": st.sampled_from(METHODS),
    "lam": st.lists(st.floats(0.05, 2.0), min_size=1, max_size=3),
    "batch": st.integers(1, 8),
    "lr": st.floats(0.02, 1.5),
    "momentum": st.floats(0.0, 0.95),
})


# --------------------------------------------------------------------------------------------------
# routes agree
# --------------------------------------------------------------------------------------------------
@given(instances)
def test_secular_dense_matrix_free_agree(inst):
    g = Gaussian(inst["lam"])
    args = (inst["method"], g, inst["batch"], inst["lr"], inst["momentum"])
    sec = spectral_radius(*args)
    assert sec.route == "secular"
    dense = spectral_radius(*args, route="dense")
    mf = spectral_radius(*args, route="matrix-free")
    assert sec.digits >= 6 and dense.digits >= 4
    assert agree(sec, dense), (sec, dense)
    assert agree(sec, mf), (sec, mf)


@given(instances)
@settings(max_examples=8)
def test_mpmath_agrees_with_double(inst):
    g = Gaussian(inst["lam"])
    args = (inst["method"], g, inst["batch"], inst["lr"], inst["momentum"])
    hi = spectral_radius(*args, digits=25)
    assert hi.precision in ("arb", "mpmath") and hi.digits == 25
    assert agree(spectral_radius(*args), hi)
    assert agree(mpmath_solver(*args, 40), hi)      # the arb tier against the mpmath solver, 40 digits
    # the same 25 digits again at a different request: mpmath agrees with itself
    assert agree(spectral_radius(*args, digits=32), hi)


@pytest.mark.parametrize("method", METHODS)
def test_reduced_operator_has_the_full_spectral_radius(method):
    """Off-diagonal blocks of S decouple and cannot dominate: rho(blockdiag(D_i) + u v^T) equals rho
    of T on all symmetric 2d x 2d matrices, and T's top eigenvector is PSD."""
    rng = np.random.default_rng(7)
    for _ in range(4):
        lam = rng.uniform(0.1, 1.5, size=3)
        g = Gaussian(lam)
        B, lr, mom = int(rng.integers(1, 6)), float(rng.uniform(0.05, 1.2)), float(rng.uniform(0, 0.9))
        op = SecondMomentOperator(method, g, B, lr, mom)
        full = np.linalg.eig(op.vech_matrix())
        k = int(np.argmax(np.abs(full[0])))
        red = np.max(np.abs(np.linalg.eigvals(DecoupledProblem(method, g, B, lr, mom).dense())))
        assert abs(full[0][k]) == pytest.approx(red, rel=1e-9)
        assert abs(full[0][k].imag) <= 1e-9 * abs(full[0][k])
        from momentum_verify.theory.moments import vech_index
        m = 2 * g.d
        P = np.zeros((m, m))
        for v, (i, j) in zip(np.real(full[1][:, k]), vech_index(m)):
            P[i, j] = P[j, i] = v
        P *= np.sign(np.trace(P))
        assert np.linalg.eigvalsh(P)[0] >= -1e-8 * np.abs(P).max()
        assert spectral_radius(method, g, B, lr, mom).rho == pytest.approx(red, rel=1e-9)


@pytest.mark.parametrize("method", ["heavy-ball", "nesterov"])
def test_coordinate_diagonal_secular_equals_dense(method):
    c = Coordinate(spectrum=[1.0, 2.0, 3.0])
    for B, lr, mom in [(1, 1 / 6, 0.0), (2, 0.2, 0.5), (3, 0.1, 0.8)]:
        a = spectral_radius(method, c, B, lr, mom)
        assert a.route == "secular"
        b = spectral_radius(method, c, B, lr, mom, route="dense")
        assert agree(a, b)
        full = Coordinate(H=np.diag([1.0, 2.0, 3.0]))
        assert full.decoupled is not None


@pytest.mark.parametrize("cls", [FiniteSum, Kaczmarz])
def test_rank_one_models_dense_matrix_free_mpmath(cls):
    rng = np.random.default_rng(3)
    A = rng.standard_normal((5, 3))
    model = cls(A)
    for method, B, lr, mom in [("heavy-ball", 2, 0.2, 0.5), ("nesterov", 1, 0.1, 0.3), ("sgd", 3, 0.4, 0.0)]:
        if cls is Kaczmarz:
            lr = lr * 5
        d = spectral_radius(method, model, B, lr, mom)
        assert d.route == "dense"
        mf = spectral_radius(method, model, B, lr, mom, route="matrix-free")
        assert agree(d, mf)
        hi = spectral_radius(method, model, B, lr, mom, digits=16)
        assert hi.precision == "mpmath"
        assert agree(d, hi)


# --------------------------------------------------------------------------------------------------
# golden values from independent closed forms
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("d,B", [(1, 1), (3, 2), (10, 5), (50, 200)])
def test_isotropic_gaussian_tuned_sgd(d, B):
    """H = I_d: SGD at eta = B/(B+d+1) has rho = (d+1)/(B+d+1) (MATH.md §7)."""
    g = Gaussian([1] * d)
    r = spectral_radius("sgd", g, B, sp.Rational(B, B + d + 1), 0, digits=30)
    with mp.workdps(50):
        assert abs(r.rho - mp.mpf(d + 1) / (B + d + 1)) < mp.mpf(10) ** -30
    dbl = spectral_radius("sgd", g, B, B / (B + d + 1), 0)
    assert dbl.rho == pytest.approx((d + 1) / (B + d + 1), rel=10.0 ** -dbl.digits)


def test_gd_deterministic_closed_form():
    g = Gaussian([1, 2, 7, 10])
    r = spectral_radius("sgd", g, INF, sp.Rational(2, 11), 0, digits=40)
    assert r.route == "deterministic"
    with mp.workdps(60):
        assert abs(r.rho - (mp.mpf(9) / 11) ** 2) < mp.mpf(10) ** -40


@pytest.mark.parametrize("kappa", [4, 10, 1000])
def test_polyak_heavy_ball_30_digits(kappa):
    """Polyak's optimum at B = inf: rho = ((sqrt k - 1)/(sqrt k + 1))^2, a Jordan block at mu and L."""
    k = sp.Integer(kappa)
    g = Gaussian([1, 3, kappa])
    eta = 4 / (sp.sqrt(k) + 1) ** 2
    beta = ((sp.sqrt(k) - 1) / (sp.sqrt(k) + 1)) ** 2
    r = spectral_radius("heavy-ball", g, INF, eta, beta, digits=30, certify=True)
    with mp.workdps(150):
        truth = mp.mpf(sp.N(beta, 150))
        assert abs(r.rho - truth) <= mp.mpf(10) ** -30 * truth
        lo, hi = r.interval
        assert lo <= truth <= hi
        assert hi - lo <= mp.mpf(10) ** -29 * truth
    assert format_digits(r.rho, 30) == format_digits(truth, 30)


def test_polyak_in_double_precision_escalates():
    """Rounded Polyak parameters: the blocks are within rounding of defective, double precision would
    lose half the digits; the result is recomputed and agrees with mpmath at the same (float) inputs."""
    kappa = 10.0
    eta = 4 / (math.sqrt(kappa) + 1) ** 2
    beta = ((math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1)) ** 2
    g = Gaussian([1.0, 3.0, kappa])
    r = spectral_radius("heavy-ball", g, INF, eta, beta)
    assert r.digits >= 12
    hi = spectral_radius("heavy-ball", g, INF, eta, beta, digits=30)
    assert agree(r, hi)


def test_near_critical_damping_at_finite_batch():
    """Polyak's parameters with noise: the root sits next to near-defective blocks; double and mpmath
    agree to the stated digits."""
    kappa = 100.0
    eta = 4 / (math.sqrt(kappa) + 1) ** 2
    beta = ((math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1)) ** 2
    g = Gaussian(np.geomspace(1, kappa, 30))
    for B in (10 ** 3, 10 ** 6, 10 ** 9):
        r = spectral_radius("heavy-ball", g, B, eta, beta)
        hi = spectral_radius("heavy-ball", g, B, eta, beta, digits=20)
        assert agree(r, hi), (B, r, hi)


# --------------------------------------------------------------------------------------------------
# the grid
# --------------------------------------------------------------------------------------------------
def test_rho_grid_matches_pointwise():
    g = Gaussian(np.geomspace(0.01, 1, 40))
    lrs = np.array([0.05, 0.5, 1.0, 3.0])[:, None]
    moms = np.array([0.0, 0.5, 0.9])[None, :]
    for method in METHODS:
        for B in (1, 16, INF):
            R = rho_grid(method, g, B, lrs, moms)
            assert R.shape == (4, 3)
            for i in range(4):
                for j in range(3):
                    r = spectral_radius(method, g, B, lrs[i, 0], moms[0, j])
                    assert R[i, j] == pytest.approx(float(r.rho), rel=max(10.0 ** -r.digits, 1e-12))


def test_rho_grid_loops_for_other_models():
    A = np.random.default_rng(0).standard_normal((4, 2))
    m = FiniteSum(A)
    R = rho_grid("heavy-ball", m, 2, [0.1, 0.2], 0.5)
    assert R.shape == (2,)
    assert R[1] == pytest.approx(float(spectral_radius("heavy-ball", m, 2, 0.2, 0.5).rho), rel=1e-10)


# --------------------------------------------------------------------------------------------------
# results and errors
# --------------------------------------------------------------------------------------------------
def test_K_and_json():
    r = RateResult(mp.mpf("0.5"), 20, None, "secular", "mpmath")
    with mp.workdps(30):
        assert abs(r.K - 1 / mp.log(2)) < mp.mpf(10) ** -25
    j = r.to_json()
    assert j["rho"] == "0.50000000000000000000" and j["digits"] == 20
    assert set(j) == {"rho", "K", "digits", "route", "precision"}
    assert RateResult(1.0, 15).K == math.inf
    assert RateResult(2.0, 15).K < 0


@pytest.mark.parametrize("kw,param", [
    (dict(lr=-1.0), "lr"), (dict(lr=0.0), "lr"), (dict(momentum=1.0), "momentum"),
    (dict(momentum=-0.1), "momentum"), (dict(batch=0), "batch"), (dict(digits=0), "digits"),
    (dict(route="nonsense"), "route"),
])
def test_bad_input(kw, param):
    args = dict(method="heavy-ball", model=Gaussian([1.0, 2.0]), batch=2, lr=0.1, momentum=0.5)
    args.update(kw)
    with pytest.raises(InputError) as e:
        spectral_radius(args.pop("method"), args.pop("model"), args.pop("batch"), args.pop("lr"),
                        args.pop("momentum"), **args)
    assert e.value.param == param


@pytest.mark.parametrize("method", METHODS)
def test_matrix_free_resolvent_reduction_non_symmetric_components(method):
    """Coordinate descent on a non-diagonal H (G_i = e_i e_i^T H / p_i, not symmetric) and finite sums
    without replacement: the matrix-free reduction agrees with the dense vech eigenvalues."""
    H = np.array([[2.0, 1.0, 0.0], [1.0, 3.0, 1.0], [0.0, 1.0, 2.0]])
    A = np.random.default_rng(1).standard_normal((8, 3))
    for model, B in [(Coordinate(H=H), 1), (Coordinate(H=H), 2), (FiniteSum(A, without_replacement=True), 4)]:
        a = spectral_radius(method, model, B, 0.1, 0.5, route="dense")
        b = spectral_radius(method, model, B, 0.1, 0.5, route="matrix-free")
        assert b.digits >= 6 and agree(a, b), (model.name, B, a, b)


@pytest.mark.slow
@given(method=st.sampled_from(METHODS), d=st.integers(5, 60), batch=st.integers(1, 1000),
       lr=st.floats(1e-3, 2.0), momentum=st.floats(0.0, 0.999), kappa=st.floats(1.0, 1e4))
@settings(max_examples=60)
def test_secular_double_against_mpmath_wide(method, d, batch, lr, momentum, kappa):
    """Wide random instances (condition numbers up to 1e4, momentum up to 0.999): the double result is
    within its stated digits of the mpmath one, and the grid agrees with the single-point solver."""
    g = Gaussian(np.geomspace(1.0 / kappa, 1.0, d))
    r = spectral_radius(method, g, batch, lr, momentum)
    hi = spectral_radius(method, g, batch, lr, momentum, digits=20)
    assert agree(r, hi), (r, hi)
    R = rho_grid(method, g, batch, np.array([lr]), np.array([momentum]))
    assert R[0] == pytest.approx(float(hi.rho), rel=max(1e-9, 10.0 ** -r.digits))


def test_rho_grid_bad_input():
    g = Gaussian([1.0, 2.0])
    with pytest.raises(InputError) as e:
        rho_grid("heavy-ball", g, 2, [0.1, -0.1], 0.5)
    assert e.value.param == "lr"
    with pytest.raises(InputError) as e:
        rho_grid("heavy-ball", g, 2, 0.1, [0.5, 1.5])
    assert e.value.param == "momentum"


def test_rho_grid_edge_points():
    """Infinite steps diverge (rho = inf); lr = 0 and momentum = 1 do not move the error (rho = 1)."""
    g = Gaussian([1.0, 2.0])
    R = rho_grid("heavy-ball", g, 2, np.array([np.inf, 0.0, 0.1]), np.array([0.5, 0.5, 1.0]))
    assert R[0] == np.inf
    assert R[1] == pytest.approx(1.0, abs=1e-12) and R[2] >= 1 - 1e-12


@pytest.mark.parametrize("spectrum", [[1, 2, 3], [3, 1, 2], [2, 3, 1]])
def test_unsorted_spectrum_same_rate(spectrum):
    """The order of the eigenvalues is irrelevant on every route (rho = rho(D) for coordinate descent
    exercises the block lookup of the mpmath route)."""
    c = Coordinate(spectrum=spectrum)
    ref = spectral_radius("heavy-ball", Coordinate(spectrum=[1, 2, 3]), 2, 0.1, 0.5, digits=20)
    assert agree(spectral_radius("heavy-ball", c, 2, 0.1, 0.5, digits=20), ref)
    assert agree(spectral_radius("heavy-ball", c, 2, 0.1, 0.5), ref)


# --------------------------------------------------------------------------------------------------
# the result type: repr with exactly the stated digits, honest K at the edges
# --------------------------------------------------------------------------------------------------
def test_repr_shows_every_stated_digit_and_no_more():
    g = Gaussian([1, 2, 3])
    r = spectral_radius("heavy-ball", g, 2, sp.Rational(1, 10), sp.Rational(1, 2), digits=30)
    shown = repr(r).split("rho='")[1].split("'")[0]
    assert sum(ch.isdigit() for ch in shown.lstrip("0.")) == 30 and shown == format_digits(r.rho, 30)
    with mp.workdps(60):                      # the 30 digits shown are right: 45 digits from a second run
        ref = spectral_radius("heavy-ball", g, 2, sp.Rational(1, 10), sp.Rational(1, 2), digits=45).rho
        assert abs(mp.mpf(shown) - ref) <= mp.mpf(10) ** -30 * ref
    d = spectral_radius("heavy-ball", g, 2, 0.1, 0.5)
    shown = repr(d).split("rho='")[1].split("'")[0]
    assert sum(ch.isdigit() for ch in shown.lstrip("0.")) == d.digits < 17
    # a certified result prints its interval as an interval, rounded outward
    c = spectral_radius("heavy-ball", g, 2, sp.Rational(1, 10), sp.Rational(1, 2), certify=True)
    lo, hi = eval(repr(c).split("interval=")[1].split(")")[0] + ")")
    assert mp.mpf(lo) <= c.interval[0] and c.interval[1] <= mp.mpf(hi) and mp.mpf(lo) < mp.mpf(hi)


def test_repr_pastes_back_and_construction_validates():
    with mp.workdps(40):
        r = RateResult(mp.mpf(1) / 3, 25, (mp.mpf(1) / 3 - mp.mpf(10) ** -30, mp.mpf(1) / 3 + mp.mpf(10) ** -30),
                       "secular", "mpmath", ("a note",))
    again = eval(repr(r), {"RateResult": RateResult})
    assert again.digits == 25 and again.notes == r.notes and format_digits(again.rho, 25) == format_digits(r.rho, 25)
    # the interval pastes back as an enclosure of the original (outward rounding may widen it by one unit)
    assert again.interval[0] <= r.interval[0] and r.interval[1] <= again.interval[1]
    assert again.interval[1] - again.interval[0] <= 3 * (r.interval[1] - r.interval[0])
    with mp.workdps(40):
        assert abs(again.rho - mp.mpf(1) / 3) <= mp.mpf(10) ** -25
    with pytest.raises(AttributeError):
        r.rho = 0.5                            # frozen
    for bad in [dict(digits=-1), dict(route="nonsense"), dict(precision="single"),
                dict(interval=(mp.mpf(2), mp.mpf(1)))]:
        with pytest.raises(ValueError):
            RateResult(**{"rho": mp.mpf("0.5"), "digits": 5, **bad})


def test_K_is_inf_at_rho_one_in_every_mode():
    """GD at lr = 2/L on H = diag(1): the block is -1, rho = 1 exactly; K = inf in double and mpmath."""
    g = Gaussian([1])
    for kw in [{}, {"digits": 30}, {"certify": True}]:
        r = spectral_radius("sgd", g, INF, 2, 0, **kw)
        assert r.rho == 1 and math.isinf(float(r.K)) and r.K > 0 and r.K_digits() == 0
        assert r.to_json()["K"] == "inf" and not r.diverges
    # rho within its 30 stated digits of 1 (printed 1.000...): K is inf, not -4.9e55
    with mp.workdps(80):
        near = RateResult(1 + mp.mpf(10) ** -56 * 2, 30, None, "secular", "mpmath")
        below = RateResult(1 - mp.mpf(10) ** -56 * 2, 30, None, "secular", "mpmath")
    for x in (near, below):
        assert x.to_json()["rho"] == "1.00000000000000000000000000000" and x.to_json()["K"] == "inf"
        assert x.undecided and not x.diverges and mp.isinf(x.K)
    # but a rho clearly below 1 keeps its finite K
    with mp.workdps(50):
        ok = RateResult(1 - mp.mpf(10) ** -20, 30, None, "secular", "mpmath")
    assert not ok.undecided and ok.K_digits() == 10
    assert format_digits(ok.K, 10) == "1.000000000e+20"


def test_K_for_diverging_rates_is_not_a_positive_iteration_count():
    for r in [RateResult(2.0, 15), RateResult(mp.mpf(2), 30, None, "secular", "mpmath")]:
        assert r.diverges and r.K < 0
        with mp.workdps(40):                  # -K iterations per e-fold of growth
            assert abs(-r.K - 1 / mp.log(2)) <= mp.mpf(10) ** -14
        assert r.to_json()["K"].startswith("-")
    r = spectral_radius("heavy-ball", Gaussian([1.0, 2.0]), 1, 1.5, 0.5)
    assert r.rho > 1 and r.diverges and r.K < 0


@pytest.mark.parametrize("name", ["", ".result", ".polynomials", ".grid", ".secular", ".contexts", ".certify"])
def test_rates_docstring_examples_run(name):
    import doctest
    import importlib
    mod = importlib.import_module("momentum_verify.numerics.rates" + name)
    res = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0


# --------------------------------------------------------------------------------------------------
# the arb tier at ill-conditioned points (issue 16 item 5)
# --------------------------------------------------------------------------------------------------
HOSTILE = ("sgdm", 100000, 1e-5, 1 - 1e-6)      # method, B, lr, momentum: 1 - beta = 1e-6, root next to rho(D)


@pytest.mark.parametrize("d", [3, 40])
def test_arb_tier_at_hostile_point_matches_mpmath_solver(d):
    """Double precision loses every digit here (it states 2); the escalated and the 30-digit answers
    are proven in arb and agree with the scalar mpmath solver at 60 digits (an independent route)."""
    method, B, lr, mom = HOSTILE
    g = Gaussian(np.linspace(1e-3, 1, d))
    ref = mpmath_solver(method, g, B, lr, mom, 60)
    dflt = spectral_radius(method, g, B, lr, mom)
    assert dflt.digits >= 15 and dflt.precision == "arb" and agree(dflt, ref)
    hi = spectral_radius(method, g, B, lr, mom, digits=30)
    assert hi.precision == "arb" and hi.digits == 30 and agree(hi, ref)
    with mp.workdps(40):
        assert format_digits(hi.rho, 30) == format_digits(ref.rho, 30)


def test_arb_tier_certificate_rejects_a_wrong_root(monkeypatch):
    """A solver answer off by 1e-12 fails the arb certificate; the front door then falls back to the
    mpmath solver and still returns correct digits."""
    from momentum_verify.numerics.rates import secular
    method, B, lr, mom = "heavy-ball", 4, 0.1, 0.5
    g = Gaussian([0.2, 1.0, 2.0])
    good = spectral_radius(method, g, B, lr, mom, digits=20)
    real = secular._solve_with_pole
    monkeypatch.setattr(secular, "_solve_with_pole", lambda M, p, digits: (real(M, p, digits) * (1 + 1e-12)).mid())
    with pytest.raises(secular.RefinementFailed):
        secular.secular_arb(as_method(method), g, B, lr, mom, 20, 0.9)
    again = spectral_radius(method, g, B, lr, mom, digits=20)
    assert again.precision == "mpmath" and agree(again, good)


@pytest.mark.slow
@given(method=st.sampled_from(METHODS), d=st.integers(1, 30), batch=st.integers(1, 10 ** 6),
       lr=st.floats(1e-6, 2.0), one_minus_beta=st.floats(1e-7, 1.0), kappa=st.floats(1.0, 1e4))
@settings(max_examples=40, deadline=None)
def test_arb_tier_against_mpmath_solver_wide(method, d, batch, lr, one_minus_beta, kappa):
    g = Gaussian(np.geomspace(1.0 / kappa, 1.0, d))
    mom = 1 - one_minus_beta
    assume_ok = spectral_radius(method, g, batch, lr, mom)
    hi = spectral_radius(method, g, batch, lr, mom, digits=20)
    assert agree(hi, mpmath_solver(method, g, batch, lr, mom, 45)), (hi, assume_ok)


def test_rho_grid_near_beta_one_matches_spectral_radius():
    """Random points with 1 - beta down to 1e-5 (where the grid's expanded coefficients cancel; two of
    these 40 points are wrong by 1.2e-6 and 1.0e-7 in the unchecked grid): with ``check=True`` every
    grid value is within the single-point solver's stated digits."""
    rng = np.random.default_rng(0)
    for k in range(40):
        method = ["heavy-ball", "nesterov", "sgdm", "sgd"][k % 4]
        g = Gaussian(np.geomspace(10 ** rng.uniform(-4, -1), 1, 50))
        B = int(10 ** rng.uniform(0, 4))
        beta = 1 - 10 ** rng.uniform(-5, -1) if method != "sgd" else 0.0
        lr = 10 ** rng.uniform(-3, 0.5) * (1 - beta if method == "heavy-ball" else 1)
        r = rho_grid(method, g, B, np.array([lr]), np.array([beta]), check=True)[0]
        s = spectral_radius(method, g, B, lr, beta)
        assert r == pytest.approx(float(s.rho), rel=max(10.0 ** -s.digits, 1e-8)), (method, B, lr, beta)


def test_pick_route_takes_the_state_size_from_the_method():
    """The dense route's size is s d: at d = 7 a two-state method fits (vech size 105 <= 210), a
    three-state one does not (231) and goes matrix-free."""
    import types
    from momentum_verify.numerics.rates import DENSE_MAX, pick_route
    A = np.random.default_rng(2).standard_normal((12, 7))
    m = FiniteSum(A)
    assert pick_route(m, 2, method="heavy-ball") == "dense"
    three = types.SimpleNamespace(s=3)
    assert (3 * 7) * (3 * 7 + 1) // 2 > DENSE_MAX >= (2 * 7) * (2 * 7 + 1) // 2
    assert pick_route(m, 2, method=three) == "matrix-free"
