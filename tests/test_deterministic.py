"""Derived deterministic tunings equal MATH.md §6 (symbolically, and to 40 digits by a second route)."""
import mpmath as mp
import pytest
import sympy as sp
from hypothesis import given, strategies as st

from momentum_verify.theory import symbols
from momentum_verify.theory.formulas import deterministic_tuning, first_moment_charpoly
from momentum_verify.theory.methods import get_method

k, mu, L = symbols.kappa, symbols.mu, symbols.L
s = sp.sqrt(k)
EXPECTED = {  # MATH.md §6: (eta, beta, contraction)
    "sgd": (2 / (L + mu), 0, (k - 1) / (k + 1)),
    "heavy-ball": (4 / (sp.sqrt(L) + sp.sqrt(mu)) ** 2, ((s - 1) / (s + 1)) ** 2, (s - 1) / (s + 1)),
    "nesterov": (1 / L, (s - 1) / (s + 1), 1 - 1 / s),
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_closed_forms(name):
    t = deterministic_tuning(name)
    e, b, c = EXPECTED[name]
    assert sp.simplify(t.eta - e) == 0
    assert sp.simplify(t.beta - b) == 0
    assert sp.simplify(t.contraction - c) == 0
    assert sp.simplify(t.rho - c**2) == 0


def test_sgdm_is_heavy_ball_rescaled():
    hb, sg = deterministic_tuning("heavy-ball"), deterministic_tuning("sgdm")
    assert sp.simplify(sg.eta * (1 - sg.beta) - hb.eta.subs(L, k * mu)) == 0 or \
        sp.simplify((sg.eta * (1 - sg.beta) - hb.eta).subs(L, k * mu)) == 0
    assert sp.simplify(sg.rho - hb.rho) == 0


def _block_radius(name):
    """Second route: roots of the block's charpoly in mpmath, largest modulus."""
    p = sp.Poly(first_moment_charpoly(get_method(name)), symbols.z)
    coeffs = sp.lambdify((symbols.eta, symbols.beta, symbols.lam), p.all_coeffs(), "mpmath")
    return lambda e, b, lv: max(abs(r) for r in mp.polyroots(coeffs(e, b, lv), maxsteps=400, extraprec=400))


@given(kap=st.fractions(min_value=2, max_value=10**6))
@pytest.mark.parametrize("name", list(EXPECTED))
def test_rate_40_digits(name, kap):
    """The closed-form rho equals the largest block spectral radius over the spectrum (checked at mu, L
    and interior points) to 40 digits."""
    t = deterministic_tuning(name)
    f = sp.lambdify((mu, L, k), [t.eta, t.beta, t.rho], "mpmath")
    radius = _block_radius(name)
    with mp.workdps(100):
        kv = mp.mpf(kap.numerator) / kap.denominator
        eta_v, beta_v, rho = f(1, kv, kv)
        lams = [1 + (kv - 1) * mp.mpf(j) / 7 for j in range(8)]
        worst = max(radius(eta_v, beta_v, lv) for lv in lams)
        assert abs(worst**2 - rho) <= mp.mpf(10) ** -40 * rho
