"""Numbers from theory's expressions: operators, spectral radii, tuning, Monte Carlo."""
