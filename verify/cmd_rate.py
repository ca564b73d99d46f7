"""``momentum-verify rate``: the spectral radius rho of the second-moment operator and K = -1/ln(rho).

Start-up: a built-in method on a built-in model in double precision imports no SymPy (the numbers are
read as Fractions, the kernels are the shipped ones of :mod:`numerics.generated`); ``--digits``,
``--certify`` and method files import it (exact numbers, derivations)."""
from __future__ import annotations

import math

from ..theory.errors import InputError
from ..theory.methods import METHODS, get_method
from ..theory.parse_number import parse_fraction
from ..theory.sampling import MODELS, check_model_name
from .method_options import METHOD_HELP, add_param_option, resolve_method
from .parsing import load_array, parse_batch, parse_momentum, parse_positive, parse_spec


def add_parser(p):
    p.add_argument("--method", help=METHOD_HELP)
    add_param_option(p)
    p.add_argument("--model", default="gaussian", help=f"one of: {', '.join(MODELS)} (default gaussian)")
    p.add_argument("--spectrum", help="eigenvalues of H: 1,2,3 | linspace:LO:HI:D | geomspace:LO:HI:D | @FILE "
                                      "(gaussian; coordinate with diagonal H)")
    p.add_argument("--matrix", help="FILE.npy or text: the data matrix A (finite, kaczmarz) or H (coordinate)")
    p.add_argument("--batch", required=True, help="batch size B >= 1, or inf (deterministic)")
    p.add_argument("--without-replacement", action="store_true",
                   help="draw a uniform B-subset of the n components (finite, kaczmarz, coordinate)")
    p.add_argument("--lr", help="step size eta > 0 (decimal or fraction like 1/3); required")
    p.add_argument("--momentum", default="0", help="momentum beta in [0, 1) (default 0)")
    p.add_argument("--digits", help="correct significant digits wanted (default: double precision)")
    p.add_argument("--certify", action="store_true", help="add an interval proven to contain rho (arb)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def build_model(args):
    """The sampling model from --model, --spectrum / --matrix and --without-replacement (``from_spec``)."""
    from .model_spec import from_spec
    return from_spec(args.model, getattr(args, "spectrum", None), getattr(args, "matrix", None),
                     bool(getattr(args, "without_replacement", False)))


def parse_digits(text):
    if text is None:
        return None
    try:
        v = int(str(text).strip())
    except ValueError:
        raise InputError("digits", f"must be an integer, got {text!r}") from None
    if not 1 <= v <= 1000:
        raise InputError("digits", f"must lie in [1, 1000], got {v}")
    return v


def run(args) -> int:
    from ..numerics.rates import format_digits
    from ..numerics.rates import spectral_radius
    method = resolve_method(args)
    parse_positive(args.lr, "lr")                       # validation with the parameter's name
    parse_momentum(args.momentum, "momentum")
    digits = parse_digits(args.digits)
    if digits is None and not args.certify:       # exact Fractions: no SymPy on the double route
        lr, momentum = parse_fraction(args.lr, "lr"), parse_fraction(args.momentum, "momentum")
    else:
        from ..theory.parse import parse_number_exact
        lr, momentum = parse_number_exact(args.lr, "lr"), parse_number_exact(args.momentum, "momentum")
    batch = parse_batch(args.batch)
    model = build_model(args)
    model.check_batch(batch)
    from . import limits
    limits.check_step(float(lr), model, "lr")
    res = spectral_radius(method, model, batch, lr, momentum, digits=digits, certify=args.certify)
    if args.json:
        import json
        from .json_convention import rate_json
        print(json.dumps(rate_json(res)))
        return 0
    j = res.to_json()
    print(f"rho = {j['rho']} ({res.digits} digits, {res.route}, {res.precision})")
    if res.interval is not None:
        print(f"certified: {j['interval'][0]} <= rho <= {j['interval'][1]} (arb)")
    K = res.K
    kd = res.K_digits()
    if float(res.rho) > 1:
        print(f"K = {j['K']} ({kd} digits): diverges, E||e_k||^2 grows by e every {format_digits(-K, kd)} iterations")
    elif math.isinf(float(K)):
        print("K = inf: no decay (rho = 1)")
    else:
        print(f"K = {j['K']} ({kd} digits) iterations per e-fold of E||e_k||^2")
    for note in res.notes:
        print(f"note: {note}")
    return 0
