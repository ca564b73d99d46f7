"""``momentum-verify formula``: print a derived object as plain text or LaTeX."""
from __future__ import annotations

import sympy as sp

from ..theory import symbols
from ..theory.errors import InputError
from ..theory.formulas import deterministic_tuning, first_moment_charpoly, render, second_moment_charpoly
from ..theory.methods import METHODS, get_method
from .method_options import METHOD_HELP, add_param_option, formula_method
from ..theory.moments import decoupled_block, first_moment_block, secular_term
from ..theory.sampling import COORDINATE_DIAGONAL_NOISE, GAUSSIAN_NOISE, MODELS

WHATS = ["first-moment", "second-moment", "charpoly", "deterministic-rate", "stochastic-rate"]
DECOUPLED = {"gaussian": GAUSSIAN_NOISE, "coordinate": COORDINATE_DIAGONAL_NOISE}


def add_parser(p):
    p.add_argument("--method", required=True, help=METHOD_HELP)
    add_param_option(p, conventions=False)
    p.add_argument("--model", default="gaussian", help=f"one of: {', '.join(MODELS)} (default gaussian)")
    p.add_argument("--what", default="first-moment", help=f"one of: {', '.join(WHATS)}")
    p.add_argument("--latex", action="store_true", help="print LaTeX instead of plain text")
    p.add_argument("--spectrum", default=None,
                   help='stochastic-rate: distinct eigenvalues with multiplicities, e.g. "L^m1,mu^m2", "1^d", '
                        '"L^1,mu^(d-1)", "1^m,(1/kappa)^1" (names: L, mu, kappa, d, m, m1, m2, m3; default "1^d")')
    p.add_argument("--batch", default=None,
                   help="stochastic-rate: batch size: an integer, inf, or an expression in B, n (default: symbol B)")
    p.add_argument("--json", action="store_true", help="print one JSON object (formulas as SymPy srepr strings)")


def lines_for(method_name: str, model: str, what: str, latex: bool, spectrum: str | None = None,
              batch: str | None = None) -> list[tuple[str, object]]:
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
                        # a polynomial in z with each coefficient factored: as readable as a full
                        # factorisation (which finds no factor here) and cheap (3 s, not 300 s, for qhm)
                        sp.collect(second_moment_charpoly(method, DECOUPLED[model]), symbols.z, sp.factor)))
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
    if what == "stochastic-rate":
        return stochastic_rate_lines(method, spectrum, batch, model)
    t = deterministic_tuning(method.name)
    return [("eta*", t.eta), ("beta*", t.beta), ("contraction of E e_k (per step)", t.contraction),
            ("rho = rate of E||e_k||^2", t.rho)] + [("condition", c) for c in t.conditions]


def stochastic_rate_lines(method_name: str, spectrum: str | None, batch: str | None,
                          model: str = "gaussian") -> list[tuple[str, object]]:
    """``--what stochastic-rate``: the polynomial whose largest real root is rho(T) on a gaussian
    spectrum with few distinct eigenvalues, and its closed forms / tuning conditions / expansion."""
    from ..theory.asymptotics import FAMILY_SYMBOLIC, eps, heavy_ball_series, sgd_series
    from ..theory.stochastic import (isotropic_sgd, parse_batch_expr, parse_spectrum, rate_polynomial,
                                   tuning_conditions)

    if model != "gaussian":
        raise InputError("model", "stochastic-rate is derived for the gaussian model only")
    spec = parse_spectrum(spectrum if spectrum is not None else "1^d")
    bt = parse_batch_expr(batch)
    rp = rate_polynomial(method_name, spec, bt)
    out = [("spectrum (eigenvalue^multiplicity)", sp.Tuple(*[sp.Tuple(v, mi) for v, mi in zip(spec.values, spec.mults)])),
           ("f_B (batch factor)", rp.fB),
           ("F(z) = sum_i m_i phi(z, lambda_i); the rate solves F(z) = 1", rp.secular_fn),
           (f"det(z I - T_k), degree {rp.degree}: rho(T) = its largest real root", rp.full),
           ("secular factor Q(z) (denominators of F cleared)", rp.secular),
           ("extra factor (roots of D_i that F does not see; spurious for F = 1)", rp.extra)]
    method = get_method(method_name)
    if spec.k == 1:
        roots = sp.roots(sp.Poly(rp.secular, symbols.z), multiple=True)
        out += [(f"root {i + 1} of Q (the rate is the largest real root)", r) for i, r in enumerate(roots)]
        if not method.uses_momentum and rp.fB != 0:
            iso = isotropic_sgd(spec, bt)
            out += [("rho(eta)", iso.rho_of_eta), ("eta_opt = argmin rho(eta)", iso.eta_opt),
                    ("rho_opt", iso.rho_opt), ("eta_max (rho(eta_max) = 1)", iso.eta_max)]
            if bt.has(symbols.B):
                out += [("eta_opt ~ slope * B as B -> 0 (linear scaling), slope", iso.eta_linear_slope),
                        ("eta_opt -> as B -> oo", iso.eta_large_batch),
                        ("critical batch (where the two asymptotes of eta_opt meet)", iso.batch_critical)]
    if spec.k == 2 and rp.fB != 0 and spec.values[0].free_symbols | spec.values[1].free_symbols:
        tc = tuning_conditions(method_name, spec, bt, eliminate=not method.uses_momentum)
        out += [("optimal tuning, smooth interior optimum: equation", c) for c in tc.smooth]
        if tc.eliminated is not None:
            out.append(("tuned step: root of (resultant of Q and dQ/deta in z) = 0", tc.eliminated))
    fam = FAMILY_SYMBOLIC.subs({eps: 1 / symbols.kappa})
    series = {"sgd": sgd_series, "heavy-ball": heavy_ball_series}.get(method.name)
    if series and bt == symbols.B and spec.values == fam.values and spec.mults == fam.mults:
        s = series()
        out += [("K = -1/ln(rho_tuned) as kappa -> oo, B fixed: leading term", s.leading),
                ("relative correction (times kappa^(-1/2))", s.correction),
                ("K, two terms", s.K()),
                ("tuned eta, two terms", s.eta)]
    return out


def _json_item(label, obj) -> dict:
    return {"label": label, "text": render(obj), "srepr": sp.srepr(obj)}


def run(args) -> int:
    if args.what != "stochastic-rate" and (args.spectrum is not None or args.batch is not None):
        raise InputError("spectrum" if args.spectrum is not None else "batch",
                         "only used with --what stochastic-rate")
    items = lines_for(formula_method(args), args.model, args.what, args.latex, args.spectrum, args.batch)
    if args.json:
        import json
        print(json.dumps({"method": args.method, "what": args.what, "model": args.model,
                          "items": [_json_item(label, obj) for label, obj in items]}))
        return 0
    for label, obj in items:
        print(f"{label}:")
        print(f"  {render(obj, latex=args.latex)}")
    return 0
