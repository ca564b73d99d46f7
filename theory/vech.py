"""Index bookkeeping of the half-vectorisation (no SymPy: the numeric dense route uses it too).

>>> vech_index(2)
[(0, 0), (0, 1), (1, 1)]
"""


def vech_index(m: int) -> list[tuple[int, int]]:
    """Positions (i, j), i <= j, of the half-vectorisation of a symmetric m x m matrix."""
    return [(i, j) for i in range(m) for j in range(i, m)]
