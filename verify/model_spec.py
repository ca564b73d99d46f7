"""The one constructor of a sampling model from named data, as the command line, the sweep files and the
Python front door (``momentum_verify.from_spec``) give it.

``spectrum`` is a SPEC (``"1,4/9,2"``: exact numbers, parsed by the whitelist parser;
``"linspace:LO:HI:D"``, ``"geomspace:LO:HI:D"``; ``"@FILE"``) or a sequence of numbers; ``matrix`` is a file
(``.npy`` or text) or an array / list of rows: the rows a_i of A (finite, kaczmarz) or H (coordinate).
"""
from __future__ import annotations

from ..theory.errors import InputError
from ..theory.sampling import MODEL_DATA, MODELS, SamplingModel, build, check_model_name

__all__ = ["from_spec", "MODELS"]


def _spectrum(spectrum, param: str):
    if not isinstance(spectrum, str):
        return spectrum
    t = spectrum.strip()
    if not t:
        raise InputError(param, "empty SPEC")
    if t.startswith("@") or t.split(":")[0] in ("linspace", "geomspace"):
        from .parsing import parse_spec
        return parse_spec(t, param)
    parts = t.split(",")
    if any(not p.strip() for p in parts):
        raise InputError(param, f"malformed list {spectrum!r} (comma-separated, no empty entries)")
    from ..theory.parse_number import parse_fraction
    return tuple(parse_fraction(p, param) for p in parts)      # exact: "0.1" is 1/10, "4/9" is 4/9 (no SymPy)


def _matrix(matrix, param: str):
    if isinstance(matrix, str):
        from .parsing import load_array
        return load_array(matrix, param, ndim=2)
    return matrix


def from_spec(model: str = "gaussian", spectrum=None, matrix=None, without_replacement: bool = False, *,
              spectrum_param: str = "spectrum", matrix_param: str = "matrix") -> SamplingModel:
    """The sampling model ``model`` (a name in ``MODELS``) from a spectrum or a matrix.

    Errors are :class:`theory.errors.InputError` naming the parameter; ``spectrum_param`` and
    ``matrix_param`` name the data while it is parsed (``spectra`` and ``matrices`` in sweep files).

    >>> from_spec("gaussian", spectrum="1,4/9")
    Gaussian(spectrum=(1, '4/9'))
    >>> from_spec("coordinate", spectrum="linspace:1:2:3")
    Coordinate(spectrum=(1.0, 1.5, 2.0))
    >>> from_spec("finite", matrix=[[1, 0], [0, 2]], without_replacement=True)
    FiniteSum(A=((1, 0), (0, 2)), without_replacement=True)
    >>> from_spec("kaczmarz", spectrum="1,2")
    Traceback (most recent call last):
    ...
    momentum_verify.theory.errors.InputError: matrix: the kaczmarz model takes a matrix (the rows a_i of A), not a spectrum
    """
    check_model_name(model)
    takes = MODEL_DATA[model]
    if spectrum is None and matrix is None or spectrum is not None and matrix is not None:
        if takes == ("spectrum",):
            raise InputError(spectrum_param, f"the {model} model takes a spectrum (--spectrum), not a matrix")
        if takes == ("matrix",):
            raise InputError(matrix_param, f"the {model} model takes a matrix (--matrix FILE: the rows a_i of A)")
        raise InputError(matrix_param, f"{model} takes exactly one of a spectrum (--spectrum: diagonal H) or "
                                       "a matrix (--matrix: H)")
    if spectrum is not None and "spectrum" not in takes:
        raise InputError(matrix_param, f"the {model} model takes a matrix (the rows a_i of A), not a spectrum")
    if matrix is not None and "matrix" not in takes:
        raise InputError(spectrum_param, f"the {model} model takes a spectrum (--spectrum), not a matrix")
    if spectrum is not None:
        return build(model, spectrum=_spectrum(spectrum, spectrum_param), without_replacement=without_replacement)
    return build(model, matrix=_matrix(matrix, matrix_param), without_replacement=without_replacement)
