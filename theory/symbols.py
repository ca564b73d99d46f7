"""The SymPy symbols shared by every derivation (MATH.md notation)."""
import sympy as sp

eta = sp.Symbol("eta", positive=True)          # step size (learning rate)
beta = sp.Symbol("beta", nonnegative=True)     # momentum
lam = sp.Symbol("lambda", positive=True)       # an eigenvalue of H
z = sp.Symbol("z")                             # spectral variable
B = sp.Symbol("B", positive=True)              # batch size
n = sp.Symbol("n", positive=True)              # number of components of a finite sum
mu = sp.Symbol("mu", positive=True)            # smallest eigenvalue of H
L = sp.Symbol("L", positive=True)              # largest eigenvalue of H
kappa = sp.Symbol("kappa", positive=True)      # L / mu
kappa_bar = sp.Symbol("kappa_bar", positive=True)  # R^2 / mu
R2 = sp.Symbol("R2", positive=True)            # average smoothness R^2
tau = sp.Symbol("tau", positive=True)          # tr(H)
sigma = sp.Symbol("sigma", nonnegative=True)   # additive noise scale
