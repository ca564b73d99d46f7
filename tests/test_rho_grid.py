"""The fast grid solver (numerics/rates/grid.py): every point's stated digits hold against the pointwise
route, the lambda-polynomial kernel equals the coefficient arrays from theory, starting points change
nothing but the work, and no RuntimeWarning leaks."""
import warnings

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from momentum_verify.numerics.operators import as_method, batch_factor_value
from momentum_verify.numerics.rates import grid, rho_grid, spectral_radius
from momentum_verify.numerics.rates.deterministic import deterministic_double
from momentum_verify.theory.sampling import Gaussian

METHODS = ["sgd", "heavy-ball", "nesterov", "sgdm"]


def tables(method, g, B, e, b):
    m = as_method(method)
    lam = g.spectrum_array()
    k = grid.lambda_poly_kernel(m, g.decoupled)
    G = e.size
    return k(e, b, np.full(G, batch_factor_value(g, B)), np.full(G, float(np.sum(lam)))), lam


def within_stated(rho, rel, ref) -> bool:
    """|rho - ref| <= rel |ref|, ref an mpmath number (20 proven digits)."""
    with mp.workdps(30):
        return bool(abs(mp.mpf(float(rho)) - ref) <= mp.mpf(float(rel)) * abs(ref))


@settings(max_examples=12, deadline=None)
@given(method=st.sampled_from(METHODS), d=st.sampled_from([3, 17, 70, 130]), B=st.integers(1, 300),
       kappa=st.floats(1.0, 1e3), seed=st.integers(0, 2 ** 31 - 1))
def test_stated_digits_hold_on_random_grids(method, d, B, kappa, seed):
    """Random grids (d >= 64 starts from the compressed spectrum): at every point whose bound is finite,
    rho is within its stated bound of spectral_radius at 20 digits (the arb tier's proven digits)."""
    rng = np.random.default_rng(seed)
    g = Gaussian(np.sort(rng.uniform(1.0 / kappa, 1.0, d)))
    n = 4
    e = 10 ** rng.uniform(-2.5, 0.5, n)
    b = rng.uniform(0, 0.995, n) if method != "sgd" else np.zeros(n)
    m = as_method(method)
    rho, rel = grid.secular_grid(m, g, batch_factor_value(g, B), e, b)
    for i in range(n):
        if not np.isfinite(rel[i]):
            continue
        ref = mp.mpf(spectral_radius(m, g, B, float(e[i]), float(b[i]), digits=20).rho)
        assert within_stated(rho[i], rel[i], ref), (method, d, B, e[i], b[i], rho[i], rel[i], ref)


def test_the_digits_check_can_fail():
    """A value moved by 10x its stated bound is caught by the comparison the property test makes."""
    g = Gaussian(np.geomspace(1e-2, 1, 80))
    m = as_method("heavy-ball")
    rho, rel = grid.secular_grid(m, g, batch_factor_value(g, 4), np.array([0.3]), np.array([0.6]))
    ref = mp.mpf(spectral_radius(m, g, 4, 0.3, 0.6, digits=20).rho)
    assert within_stated(rho[0], rel[0], ref)
    assert rel[0] < 1e-10
    assert not within_stated(rho[0] * (1 + 10 * rel[0]), rel[0], ref)


@pytest.mark.parametrize("method", METHODS)
def test_fast_path_matches_generic_path(method):
    """The lambda-polynomial solver and the coefficient-array solver (the previous one) agree within the
    sum of their stated bounds on a grid spanning convergent and diverging points."""
    g = Gaussian(np.geomspace(1e-3, 1, 120))
    E, M = np.meshgrid(np.geomspace(0.01, 3.0, 9), np.linspace(0.0, 0.99, 7))
    e, b = E.ravel(), M.ravel()
    m = as_method(method)
    fB = batch_factor_value(g, 10)
    r1, rel1 = grid.secular_grid(m, g, fB, e, b)
    r0, rel0 = grid._secular_grid_generic(m, g, fB, e, b)
    fin = np.isfinite(rel1) & np.isfinite(rel0)
    assert fin.mean() > 0.9
    assert np.all(np.abs(r1 - r0)[fin] <= (rel1 + rel0)[fin] * np.abs(r0[fin]))
    assert np.median(rel1[fin]) < 1e-12


@pytest.mark.parametrize("method", METHODS)
def test_lambda_poly_F_equals_coefficient_arrays(method):
    """F and F' of the lambda-polynomial tables equal those of theory's coefficient arrays in z."""
    g = Gaussian(np.geomspace(1e-2, 1, 30))
    rng = np.random.default_rng(3)
    e, b = 10 ** rng.uniform(-2, 0, 6), rng.uniform(0, 0.95, 6)
    t, lam = tables(method, g, 10, e, b)
    new = grid.LambdaPolyArrays(t, lam)
    fB = batch_factor_value(g, 10)
    old = grid.SecularArrays(as_method(method), g.decoupled, lam, e, b, np.full(6, fB), float(lam.sum()))
    rho, _, _, _ = grid.solve_grid(old)
    z = rho * 1.01                           # away from the root's steep neighbourhood and above rho(D)
    (F1, d1), (F0, d0) = new.F(z), old.F(z)
    np.testing.assert_allclose(F1, F0, rtol=1e-11)
    np.testing.assert_allclose(d1, d0, rtol=1e-9)
    assert np.array_equal(new.above(z), old.above(z)) and new.above(z).all()
    assert np.all(new.start() >= old.start() * (1 - 1e-12))


def test_starting_points_change_only_the_work():
    """Good, poor and absurd starting points give the same roots (to rounding) as no starting point."""
    g = Gaussian(np.geomspace(1e-3, 1, 200))
    E, M = np.meshgrid(np.geomspace(0.01, 3.0, 8), np.linspace(0.0, 0.99, 8))
    e, b = E.ravel(), M.ravel()
    t, lam = tables("heavy-ball", g, 10, e, b)
    ref, _, _, found = grid.solve_grid(grid.LambdaPolyArrays(t, lam))
    rng = np.random.default_rng(1)
    for z0 in (grid.surrogate_roots(t, lam), ref * (1 + 1e-6 * rng.standard_normal(e.size)),
               ref * rng.uniform(0.2, 5, e.size), np.full(e.size, np.nan)):
        r, _, _, f = grid.solve_grid(grid.LambdaPolyArrays(t, lam), z0=z0)
        assert np.array_equal(f, found)
        np.testing.assert_allclose(r, ref, rtol=1e-11)


def test_spectral_quadrature_is_exact_for_polynomials():
    lam = np.random.default_rng(0).uniform(0.01, 1, 500)
    x, w = grid.spectral_quadrature(lam, 10)
    assert np.min(x) == lam.min() and np.max(x) == lam.max()
    for k in range(0, 20):                   # degree < 2m
        assert w @ x ** k == pytest.approx(np.sum(lam ** k), rel=1e-11)


def test_no_runtime_warning_leaks():
    """lr = 0, beta = 0 and 1, diverging steps, the deterministic limit and tiny spectra: no RuntimeWarning."""
    e = np.array([0.0, 1e-8, 0.1, 1.0, 5.0, 50.0])[:, None]
    b = np.array([0.0, 0.5, 0.999999, 1.0])[None, :]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        for method in METHODS:
            for g, batches in ((Gaussian([1.0, 2.0]), (1, 10, np.inf)), (Gaussian(np.geomspace(1e-3, 1, 100)), (10,))):
                for B in batches:
                    R = rho_grid(method, g, B, e, b)
                    assert R.shape == (6, 4) and not np.isnan(R).any()
                    rho_grid(method, g, B, e[2:4], b[:, 1:3], check=True)
        # t = q = 0 (eta lambda = 1, beta = 0): the 0/0 the error bound used to make
        rho, rel = deterministic_double(as_method("heavy-ball"), np.array([1.0]), np.array([1.0]), np.array([0.0]))
        assert rho[0] == 0.0 and rel[0] == 0.0


def test_near_pole_points_keep_a_bound_that_holds():
    """sgdm at beta = 0.99 with small steps: the root sits within 1e-9 of rho(D) and the expanded
    denominators cancel to 1e-15, where the new bound cannot linearise; the first-order bound that
    replaces it there holds against 20 arb digits."""
    g = Gaussian(np.geomspace(1e-3, 1, 300))
    m = as_method("sgdm")
    e = np.geomspace(0.01, 0.05, 4)
    b = np.full(4, 0.99)
    t, lam = tables("sgdm", g, 10, e, b)
    rho, _, _, found = grid.solve_grid(grid.LambdaPolyArrays(t, lam))
    assert not np.isfinite(grid.LambdaPolyArrays(t, lam).rel_error(rho)).all()   # the case arises
    r, rel = grid.secular_grid(m, g, batch_factor_value(g, 10), e, b)
    assert np.all(np.isfinite(rel)) and np.all(rel < 1e-6)
    for i in range(4):
        ref = mp.mpf(spectral_radius(m, g, 10, float(e[i]), float(b[i]), digits=20).rho)
        assert within_stated(r[i], rel[i], ref)


@pytest.mark.parametrize("method", METHODS)
def test_shipped_tables_equal_the_sympy_route(method):
    """The tables built from the shipped kernels (no SymPy) equal those derived from theory, and the
    shipped rounding count covers the derived one."""
    g = Gaussian([1.0, 2.0])
    m = as_method(method)
    rng = np.random.default_rng(5)
    args = (rng.uniform(0, 2, 6), rng.uniform(0, 1, 6), rng.uniform(0, 3, 6), rng.uniform(0.5, 5, 6))
    fast = grid._shipped_tables(m, g.decoupled)
    assert fast is not None
    grid.lambda_poly_kernel.cache_clear()
    try:
        saved, grid._shipped_tables = grid._shipped_tables, lambda *a: None
        slow = grid.lambda_poly_kernel(m, g.decoupled)
    finally:
        grid._shipped_tables = saved
        grid.lambda_poly_kernel.cache_clear()
    a, b = fast(*args), slow(*args)
    eps = np.finfo(float).eps
    for key in ("den", "char", "num", "den_mag", "num_mag"):
        assert a[key].shape == b[key].shape, key
        # both evaluate expanded coefficients: equal to within rounding of their magnitudes
        scale = b[key + "_mag"] if key + "_mag" in b else np.abs(b[key]) + np.max(np.abs(b[key]))
        assert np.all(np.abs(a[key] - b[key]) <= 64 * eps * (scale + np.abs(b[key]))), key
    assert not np.allclose(a["num"] * 1.01, b["num"])          # the comparison can fail
    assert b["ops"] <= grid.SHIPPED_OPS == a["ops"]


def test_rho_grid_imports_no_sympy():
    """A built-in method on a gaussian model: the grid (and its error bounds) without SymPy."""
    import subprocess
    import sys
    code = ("import sys, numpy as np\n"
            "from momentum_verify.numerics.rates import rho_grid\n"
            "from momentum_verify.theory.sampling import Gaussian\n"
            "g = Gaussian(np.geomspace(1e-3, 1, 100))\n"
            "r = rho_grid('heavy-ball', g, 10, np.geomspace(0.01, 1, 5)[:, None], np.linspace(0, 0.9, 4), check=True)\n"
            "print('sympy' in sys.modules, r.shape)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.stdout.split() == ["False", "(5,"] + ["4)"], out.stdout + out.stderr


def test_unchecked_values_near_beta_one_rank_points_correctly():
    """Regression: on the gd2026 power-law panel instance at B = 1, Nesterov along Polyak's relation
    (1 - beta ~ 3e-4), the lambda-polynomial tables cancel and once returned a wrong root (1.3e-4 low at
    eta = 2.5e-4), so the rule search ranked that point first. The unchecked values must now agree with
    spectral_radius (which escalates to arb) to 1e-6."""
    from momentum_verify.numerics.rates import rho_grid, spectral_radius
    from momentum_verify.verify.claims.instances import PANEL
    model = PANEL["gaussian-power-law"].model()
    mu = float(model.spectrum_array().min())
    etas = np.geomspace(1e-5, 1e-3, 400)[[170, 210, 269, 279]]     # points the tables got wrong
    betas = (1 - np.sqrt(etas * mu)) / (1 + np.sqrt(etas * mu))
    got = rho_grid("nesterov", model, 1, etas, betas)
    for e, b, r in zip(etas, betas, got):
        true = float(spectral_radius("nesterov", model, 1, float(e), float(b)).rho)
        assert abs(r - true) <= 1e-6 * true, (e, r, true)


@pytest.mark.parametrize("method", ["sgd", "heavy-ball", "nesterov"])
def test_coupled_dense_grid_agrees_with_spectral_radius(method):
    """A coupled model on the dense route: the unchecked grid (batched vech eigenvalues) lies within the
    digits spectral_radius states at every point, and check=True gives spectral_radius's own values
    (plant: a grid off by 10x the stated tolerance is caught)."""
    from momentum_verify.theory.sampling import Kaczmarz
    rng = np.random.default_rng(7)
    model = Kaczmarz(rng.standard_normal((9, 3)) * np.array([1.0, 0.5, 0.2]))
    e = np.exp(rng.uniform(np.log(1e-3), np.log(1.5), 12))
    b = rng.uniform(0, 0.99, 12) if method != "sgd" else np.zeros(12)
    grid = rho_grid(method, model, 2, e, b)
    checked = rho_grid(method, model, 2, e, b, check=True)
    for k in range(e.size):
        ref = spectral_radius(method, model, 2, float(e[k]), float(b[k]))
        tol = 10.0 ** -ref.digits * float(ref.rho)
        assert abs(grid[k] - float(ref.rho)) <= tol
        assert checked[k] == float(ref.rho)
        assert not abs(grid[k] * (1 + 10 * 10.0 ** -ref.digits) - float(ref.rho)) <= tol
