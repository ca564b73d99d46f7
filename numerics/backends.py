"""Array backends for the simulators: an array-API namespace and a random generator per backend.

``get_backend("numpy" | "cupy" | <namespace module>)`` returns a :class:`Backend` whose ``xp`` is a
standard array-API namespace (array-api-compat wraps numpy and CuPy) and whose ``normal`` / ``uniform``
draw float64 arrays in it. CuPy is imported lazily (extra ``gpu``); other namespaces (e.g.
``array_api_strict``) have no random generator in the standard, so their draws come from numpy on the host
and are copied in with ``xp.asarray``.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Callable

import numpy as np

from ..theory.errors import InputError

BACKENDS = ("numpy", "cupy")


@dataclass
class Backend:
    """An array namespace with its random source.

    name : "numpy", "cupy" or the namespace's module name.
    xp : array-API namespace.
    normal(shape) : standard normal float64 draws; uniform(shape) : U[0, 1) float64 draws.
    to_numpy(x) : a host numpy copy of an array of ``xp``.
    """

    name: str
    xp: ModuleType
    normal: Callable
    uniform: Callable
    to_numpy: Callable


def _numpy_backend(seed) -> Backend:
    import array_api_compat.numpy as xp
    rng = np.random.default_rng(seed)
    return Backend("numpy", xp,
                   lambda shape: rng.standard_normal(shape),
                   lambda shape: rng.random(shape),
                   np.asarray)


def _cupy_backend(seed) -> Backend:
    try:
        import cupy
        import array_api_compat.cupy as xp
        if cupy.cuda.runtime.getDeviceCount() < 1:
            raise RuntimeError("no CUDA device")
    except Exception as exc:  # ImportError, CUDA driver errors
        raise InputError("backend", f"cupy is not available ({exc}); install the extra 'gpu' "
                                    "(pip install momentum-verify[gpu]) on a machine with an NVIDIA GPU") from None
    rng = cupy.random.default_rng(seed)
    return Backend("cupy", xp,
                   lambda shape: rng.standard_normal(shape, dtype=cupy.float64),
                   lambda shape: rng.random(shape, dtype=cupy.float64),
                   cupy.asnumpy)


def _host_to_numpy(x):
    try:
        return np.from_dlpack(x)
    except Exception:
        return np.asarray(x)


def _namespace_backend(module: ModuleType, seed) -> Backend:
    import array_api_compat
    xp = array_api_compat.array_namespace(module.asarray(0.0))
    rng = np.random.default_rng(seed)
    return Backend(getattr(module, "__name__", "namespace"), xp,
                   lambda shape: xp.asarray(rng.standard_normal(shape), dtype=xp.float64),
                   lambda shape: xp.asarray(rng.random(shape), dtype=xp.float64),
                   _host_to_numpy)


def get_backend(backend="numpy", seed=0) -> Backend:
    """The backend named ``backend`` (or wrapping a namespace module), its generator seeded with ``seed``."""
    if isinstance(backend, ModuleType):
        return _namespace_backend(backend, seed)
    if backend == "numpy":
        return _numpy_backend(seed)
    if backend == "cupy":
        return _cupy_backend(seed)
    raise InputError("backend", f"unknown backend {backend!r} (choose from {', '.join(BACKENDS)})")
