"""Inputs given as mpmath / SymPy floats are read as the exact binary fractions they store."""
import mpmath as mp
import pytest
import sympy as sp

from momentum_verify.numerics.rates.exact import exact
from momentum_verify.numerics.rates import spectral_radius
from momentum_verify.theory.errors import InputError
from momentum_verify.theory.sampling import Gaussian


def test_mpf_and_float_are_binary_fractions():
    assert exact(mp.mpf("0.1")) == sp.Rational(*(0.1).as_integer_ratio())
    with mp.workdps(60):
        x = mp.mpf(1) / 3
        assert abs(mp.mpf(exact(x).p) / exact(x).q - x) == 0
    f = sp.Float("0.1", 50)
    assert exact(f) != sp.Rational(1, 10) and abs(exact(f) - sp.Rational(1, 10)) < sp.Rational(1, 10**49)
    assert exact(mp.mpf(-3)) == -3 and exact(mp.mpf(0)) == 0
    with pytest.raises(InputError):
        exact(mp.inf)


def test_mpf_parameters_reach_the_engine():
    a = spectral_radius("heavy-ball", Gaussian([1, 0.1]), 4, mp.mpf("0.5"), 0.5, digits=20)
    b = spectral_radius("heavy-ball", Gaussian([1, 0.1]), 4, 0.5, 0.5, digits=20)
    assert a.rho == b.rho
