"""The spectral radius of the second-moment operator: the front door (dispatch and precision policy).

Import the rate engine only from here; the routes behind it are private to this package.
"""
from ..spectral import RateResult, format_bound, format_digits, pick_route, rho_grid, spectral_radius

__all__ = ["RateResult", "format_bound", "format_digits", "pick_route", "rho_grid", "spectral_radius"]
