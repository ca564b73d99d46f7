"""The formula parser's work limits (hostile input), in a module that imports nothing heavy.

:mod:`theory.parse` enforces them; ``momentum_verify.verify.limits`` documents them and overrides them
(``MOMENTUM_VERIFY_LIMITS``) without importing SymPy.
"""

LIMITS = {
    "formula_length": 2000,      # characters of one formula
    "formula_depth": 50,         # nesting of parentheses, unary signs and exponents
    "literal_digits": 400,       # digits of one number literal (mantissa; both sides of a fraction)
    "literal_exponent": 400,     # |e| of a decimal exponent in a literal (1e400 is the largest)
    "power_exponent": 10000,     # |p| of a numeric exponent in a formula
    "power_digits": 10000,       # decimal digits of an exact numeric power
}
