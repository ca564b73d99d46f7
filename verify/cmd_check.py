"""``momentum-verify check``: run the claims (placeholder until the claims issue lands)."""


def add_parser(p):
    p.add_argument("--quick", action="store_true")


def run(args) -> int:
    print("no claims yet")
    return 0
