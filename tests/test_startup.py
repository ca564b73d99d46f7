"""Start-up: ``momentum-verify --help`` imports no SymPy (the speed itself is in benchmarks/bench_startup.py)."""
import subprocess
import sys


def test_help_imports_no_sympy():
    code = ("import sys\nfrom momentum_verify.verify import cli\n"
            "try:\n    cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('sympy' in sys.modules, 'numpy' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "False False"
