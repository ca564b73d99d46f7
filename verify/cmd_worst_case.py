"""``momentum-verify worst-case``: the worst rate over a spectrum class C(mu, L, d[, kappa_bar]).

Prints a lower bound attained by a printed class member and an upper bound (proven with --certify),
or, with --tune, the minimax (lr, momentum) of the class next to the instance-optimal tuning.
"""
from __future__ import annotations

import json

from ..theory.errors import InputError
from ..theory.methods import METHODS, get_method
from .parsing import parse_batch, parse_momentum, parse_positive


def add_parser(p):
    p.add_argument("--method", required=True, help=f"one of: {', '.join(METHODS)}")
    p.add_argument("--model", default="gaussian", help="gaussian (default) or coordinate (diagonal H)")
    p.add_argument("--class", dest="cls", required=True,
                   help='the class: "mu=..,L=..,d=..[,kappa_bar=..]" (kappa_bar fixes tr H)')
    p.add_argument("--batch", required=True, help="batch size B >= 1, or inf")
    p.add_argument("--lr", help="step size eta > 0 (not with --tune)")
    p.add_argument("--momentum", help="momentum beta in [0, 1) (default 0; not with --tune)")
    p.add_argument("--tune", action="store_true", help="minimax (lr, momentum) for the class")
    p.add_argument("--certify", action="store_true", help="prove both bounds with arb (python-flint)")
    p.add_argument("--search", action="store_true",
                   help="data-matrix class (finite, kaczmarz; coordinate with a general H; class key n = rows): "
                        "local search with restarts, a certified LOWER bound only")
    p.add_argument("--restarts", type=int, default=4, help="restarts of the --search (default 4)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args) -> int:
    from ..numerics.worst_case import minimax_tune, parse_class, worst_case
    method = get_method(args.method)
    batch = parse_batch(args.batch)
    if args.search or args.model in ("finite", "kaczmarz"):
        return _run_search(args, method, batch)
    cls = parse_class(args.cls, args.model)
    if args.tune:
        if args.lr is not None or args.momentum is not None:
            raise InputError("tune", "--tune searches lr and momentum itself: do not give --lr/--momentum")
        res = minimax_tune(method, cls, batch, certify=args.certify)
        j = res.to_json()
        wc = res.worst
    else:
        if args.lr is None:
            raise InputError("lr", "required (or use --tune)")
        lr = parse_positive(args.lr, "lr")
        momentum = parse_momentum(args.momentum or "0", "momentum")
        wc = worst_case(method, cls, batch, lr, momentum, certify=args.certify)
        j = wc.to_json()
    if args.json:
        print(json.dumps(j))
        return 0
    c = cls
    kb = f", kappa_bar = {c.kappa_bar:g} (tr H = {c.trace():.17g})" if c.kappa_bar is not None else ""
    print(f"class: {c.model}, C(mu = {c.mu:g}, L = {c.L:g}, d = {c.d}){kb}")
    print(f"method {wc.method}, batch {j['batch']}, lr {wc.lr!r}, momentum {wc.momentum!r}")
    tag = "certified (arb branch and bound)" if wc.certified else "double-precision estimate, not proven"
    print(f"lower = {j['lower']} ({j['digits']} digits): rho of the instance below, a class member")
    print(f"upper = {j['upper']} ({tag})")
    if "bracket" in j:
        print(f"certified: {j['bracket'][0]} <= rho_worst <= {j['bracket'][1]}")
    print(f"relative gap (upper - lower)/lower <= {j['gap']}; worst candidate: {j['attained_by']}")
    print("instance (value x multiplicity): " + ", ".join(f"{v!r} x{m}" for v, m in j["instance"]["distinct"]))
    print(f"K = -1/ln(rho) between {j['K_lower']} and {j['K_upper']}")
    if "tune" in j:
        t = j["tune"]
        print(f"minimax tuning: lr {t['lr']!r}, momentum {t['momentum']!r}, K_minimax = {t['K_minimax']}")
        print(f"instance-optimal on the worst instance: lr {t['instance_lr']!r}, momentum {t['instance_momentum']!r}, "
              f"K_instance = {t['K_instance']}; price K_minimax/K_instance = {t['price']}")
        print(f"note: {t['note']}")
    for n in j["notes"]:
        print(f"note: {n}")
    return 0


def _run_search(args, method, batch) -> int:
    from ..numerics.worst_case import parse_data_class, search_data_class
    if args.tune:
        raise InputError("tune", "minimax tuning needs a decoupled class (gaussian, coordinate with diagonal H)")
    if args.lr is None:
        raise InputError("lr", "required")
    if args.restarts < 1:
        raise InputError("restarts", f"must be >= 1, got {args.restarts}")
    cls = parse_data_class(args.cls, args.model)
    lr = parse_positive(args.lr, "lr")
    momentum = parse_momentum(args.momentum or "0", "momentum")
    res = search_data_class(method, cls, batch, lr, momentum, restarts=args.restarts)
    j = res.to_json()
    if args.json:
        print(json.dumps(j))
        return 0
    print(f"data-matrix class: {cls.model}, eigenvalues of H in [{cls.mu:g}, {cls.L:g}] (both attained), d = {cls.d}"
          + (f", n = {cls.n}" if cls.n else ""))
    print(f"best instance found (local search, {res.restarts} restarts, {res.evaluations} rate evaluations): "
          f"rho = {j['rate']['rho']} ({j['rate']['digits']} digits)")
    if j["certified"]:
        print(f"certified LOWER bound on the worst case: rho_worst >= {j['lower']} (arb)")
    print("note: " + j["note"])
    print("instance spectrum of H: " + ", ".join(f"{v:.6g}" for v in j["instance"]["spectrum"]) + " (--json for the matrix)")
    return 0
