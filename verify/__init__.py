"""Claims of the papers, the runner and report, sweeps, and the ``momentum-verify`` command line."""
