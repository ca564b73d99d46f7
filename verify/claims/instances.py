"""The problem instances the claims share (one module, so that no claims module imports another for data):
the seeded Kaczmarz and coordinate-descent matrices of the classical claims, and the gd2026 panel
(gaussian, kaczmarz and coordinate instances with their batch grids) that the Lee et al. claim reuses.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...theory.sampling import Coordinate, Gaussian, Kaczmarz


# --------------------------------------------------------------------------------------------------
# seeded matrices (classical claims 4 and 5, and the gd2026 panel)
# --------------------------------------------------------------------------------------------------
def kaczmarz_matrices() -> dict[str, np.ndarray]:
    """A small panel of consistent systems (seeded): Gaussian rows, decaying column scales, coherent
    rows (nearly parallel), and a tiny integer matrix (exact arithmetic friendly)."""
    rng = np.random.default_rng(2026)
    g = rng.standard_normal((40, 6))
    decay = rng.standard_normal((40, 6)) * np.geomspace(1, 0.03, 6)
    u = rng.standard_normal(6)
    coherent = u + 0.15 * rng.standard_normal((30, 6))
    small = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 2.0]])
    return {"gaussian 40x6": g, "decaying columns 40x6": decay, "coherent rows 30x6": coherent,
            "integer 3x2": small}


def coordinate_matrices() -> dict[str, np.ndarray]:
    """Seeded SPD matrices: a Wishart matrix, an ill-conditioned one (scaled), and a diagonal one."""
    rng = np.random.default_rng(7)
    X = rng.standard_normal((12, 6))
    W = X.T @ X / 12
    s = np.geomspace(1, 0.05, 6)
    ill = (W * s[:, None]) * s[None, :]
    diag = np.diag(np.geomspace(1, 1e-3, 30))
    return {"wishart 6x6": W, "scaled wishart 6x6": ill, "diagonal 30x30": diag}


# --------------------------------------------------------------------------------------------------
# the gd2026 panel
# --------------------------------------------------------------------------------------------------
def _powers(hi_exp: int, base: int = 2) -> tuple:
    return tuple(base**k for k in range(hi_exp + 1))


@dataclass(frozen=True)
class Instance:
    """One panel entry: a name, a family (gaussian / kaczmarz / coordinate), how to build the model and
    the batch sizes at which the tuned curves are measured."""

    name: str
    family: str
    describe: str
    batches: tuple

    def model(self):
        return _BUILDERS[self.name]()


def _kaczmarz(kind):
    return Kaczmarz(kaczmarz_matrices()[kind])


def _coord_dense():
    return Coordinate(H=coordinate_matrices()["scaled wishart 6x6"])


_BUILDERS = {
    "gaussian-uniform": lambda: Gaussian(np.linspace(1e-4, 1, 100)),
    "gaussian-power-law": lambda: Gaussian(np.arange(1, 101, dtype=float) ** -2.0),
    "gaussian-two-clusters": lambda: Gaussian(np.concatenate([np.ones(10), np.full(90, 1e-4)])),
    "gaussian-small": lambda: Gaussian(np.geomspace(1e-4, 1, 30)),
    "kaczmarz-decaying-columns": lambda: _kaczmarz("decaying columns 40x6"),
    "kaczmarz-coherent-rows": lambda: _kaczmarz("coherent rows 30x6"),
    "coordinate-diagonal-power-law": lambda: Coordinate(spectrum=np.arange(1, 31, dtype=float) ** -2.0),
    "coordinate-dense-6x6": _coord_dense,
}

PANEL = {i.name: i for i in [
    Instance("gaussian-uniform", "gaussian", "gaussian, 100 eigenvalues uniform on [1e-4, 1]", _powers(17)),
    Instance("gaussian-power-law", "gaussian", "gaussian, eigenvalues i^-2, i = 1..100", _powers(14)),
    Instance("gaussian-two-clusters", "gaussian", "gaussian, 10 eigenvalues at 1 and 90 at 1e-4", _powers(16)),
    Instance("gaussian-small", "gaussian", "gaussian, 30 eigenvalues geometric on [1e-4, 1]", _powers(14)),
    Instance("kaczmarz-decaying-columns", "kaczmarz",
             "kaczmarz, 40x6 Gaussian rows, column scales geometric 1 to 0.03", _powers(10)),
    Instance("kaczmarz-coherent-rows", "kaczmarz", "kaczmarz, 30x6 rows u + 0.15 g_i (nearly parallel)",
             _powers(5, 4)),
    Instance("coordinate-diagonal-power-law", "coordinate", "coordinate descent, H = diag(i^-2), i = 1..30",
             _powers(12)),
    Instance("coordinate-dense-6x6", "coordinate", "coordinate descent, scaled Wishart H (6x6)", _powers(5, 4)),
]}
GAUSSIAN_PANEL = ("gaussian-uniform", "gaussian-power-law", "gaussian-two-clusters")
