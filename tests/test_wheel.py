"""The wheel holds ``momentum_verify/...`` only, installs, and imports from outside the checkout."""
from __future__ import annotations

import pathlib
import subprocess
import sys
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> pathlib.Path:
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           str(ROOT), "-w", str(out)], capture_output=True, text=True)
    if proc.returncode != 0 and "bdist_wheel" in proc.stderr:
        pytest.skip("setuptools in this environment cannot build wheels (install the test extra)")
    assert proc.returncode == 0, proc.stderr
    (whl,) = out.glob("momentum_verify-*.whl")
    return whl


def test_wheel_contains_only_momentum_verify(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"momentum_verify", f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info"}
    for sub in ("theory", "numerics", "verify", "verify/claims", "numerics/rates"):
        assert f"momentum_verify/{sub}/__init__.py" in names
    top_level = next(n for n in names if n.endswith("top_level.txt"))
    assert zipfile.ZipFile(wheel).read(top_level).decode().split() == ["momentum_verify"]


def test_installed_wheel_imports_outside_the_checkout(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                    str(wheel)], check=True, capture_output=True)
    code = ("import momentum_verify as mv, pathlib; "
            "print(pathlib.Path(mv.__file__).parent.parent); "
            "r = mv.rate('heavy-ball', mv.Gaussian([1, 4]), 8, 0.1, 0.5); print(r.route, r.rho)")
    work = tmp_path / "elsewhere"
    work.mkdir()
    proc = subprocess.run([sys.executable, "-c", code], cwd=work, capture_output=True, text=True,
                          env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    where, answer = proc.stdout.splitlines()
    assert pathlib.Path(where) == target            # the wheel's copy, not the checkout
    route, rho = answer.split(" ", 1)
    assert route == "secular" and 0 < float(rho) < 1
