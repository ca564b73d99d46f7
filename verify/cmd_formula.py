"""``momentum-verify formula``: print a derived object as plain text or LaTeX."""
from __future__ import annotations

import sympy as sp

from theory import symbols
from theory.errors import InputError
from theory.formulas import deterministic_tuning, first_moment_charpoly, render, second_moment_charpoly
from theory.methods import METHODS, get_method
from theory.moments import decoupled_block, first_moment_block, secular_term
from theory.sampling import COORDINATE_DIAGONAL_NOISE, GAUSSIAN_NOISE, MODELS

WHATS = ["first-moment", "second-moment", "charpoly", "deterministic-rate"]
DECOUPLED = {"gaussian": GAUSSIAN_NOISE, "coordinate": COORDINATE_DIAGONAL_NOISE}


def add_parser(p):
    p.add_argument("--method", required=True, help=f"one of: {', '.join(METHODS)}")
    p.add_argument("--model", default="gaussian", help=f"one of: {', '.join(MODELS)} (default gaussian)")
    p.add_argument("--what", default="first-moment", help=f"one of: {', '.join(WHATS)}")
    p.add_argument("--latex", action="store_true", help="print LaTeX instead of plain text")


def lines_for(method_name: str, model: str, what: str, latex: bool) -> list[tuple[str, object]]:
    """The (label, SymPy object) pairs that ``formula`` prints."""
    method = get_method(method_name)
    if model not in MODELS:
        raise InputError("model", f"unknown model {model!r} (choose from {', '.join(MODELS)})")
    if what not in WHATS:
        raise InputError("what", f"unknown object {what!r} (choose from {', '.join(WHATS)})")
    lam = symbols.lam
    if what == "first-moment":
        return [("A + lambda b c^T", first_moment_block(method, lam))]
    if what == "charpoly":
        out = [("det(z I - (A + lambda b c^T))", first_moment_charpoly(method))]
        if model in DECOUPLED:
            out.append((f"det(z I - D(lambda)) [{model}, vech basis]",
                        sp.factor(second_moment_charpoly(method, DECOUPLED[model]))))
        return out
    if what == "second-moment":
        if model not in DECOUPLED:
            return [("Mbar = A ⊗ I + b c^T ⊗ H with b c^T", method.b * method.c.T),
                    ("T(S) = Mbar S Mbar^T + (b ⊗ I) C_B((c^T ⊗ I) S (c ⊗ I)) (b ⊗ I)^T with b b^T", method.b * method.b.T),
                    ("C_B(Y) = f_B (E[G Y G^T] - H Y H^T), f_B", sp.Symbol("f_B")),
                    ("f_B with replacement", 1 / symbols.B),
                    ("f_B without replacement", (symbols.n - symbols.B) / (symbols.B * (symbols.n - 1)))]
        noise = DECOUPLED[model]
        D, u, v = decoupled_block(method, noise)
        return [("D(lambda) [vech basis (E e^2, E e e_-, E e_-^2)]", D), ("u(lambda)", u), ("v(lambda)", v),
                ("phi(z, lambda) = v^T (z I - D)^(-1) u, F(z) = sum_i phi(z, lambda_i) = 1; f_B = 1/B",
                 secular_term(method, noise))]
    t = deterministic_tuning(method.name)
    return [("eta*", t.eta), ("beta*", t.beta), ("contraction of E e_k (per step)", t.contraction),
            ("rho = rate of E||e_k||^2", t.rho)] + [("condition", c) for c in t.conditions]


def run(args) -> int:
    for label, obj in lines_for(args.method, args.model, args.what, args.latex):
        print(f"{label}:")
        print(f"  {render(obj, latex=args.latex)}")
    return 0
