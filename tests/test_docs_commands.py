"""Every command and example shown in README.md and docs/ runs, and says what the page says.

Conventions (the pages follow them; this file enforces them):

* A fenced block labelled ``console`` holds commands on lines starting with ``$ `` (a trailing ``\\``
  continues a command on the next line) and, below a command, the output it prints. Each command is run
  in a fresh temporary folder per page (holding a copy of ``examples/``), in page order, and must exit
  with status 0; a command whose shown output has a line ``momentum-verify ...: error: ...`` is a failing
  example and must exit with status 2. Every shown output line must appear, in order, in what the command
  prints (whitespace-normalised): the pages show real output.
* A fenced block labelled ``bash`` holds commands to copy as they are (no prompt, no output). The
  install lines ``pip install ... && CMD`` run CMD (the install is this environment's); README's test
  command is not run here (it is what runs this file) but must be the one ``.ci/run`` runs, verbatim.
* A fenced block labelled ``python`` with ``>>>`` prompts is a doctest; a page's blocks share one
  namespace and run in order.
* Commands that take long are listed in ``SLOW`` (run with ``-m slow``); every command runs in one of
  the two profiles.

Also here: the gallery examples (each asserts its comparison with theory), doctests of every module of
the package, and the copy of MATH.md in docs/ against ``../shared/MATH.md`` when it is there.
"""
from __future__ import annotations

import contextlib
import doctest
import importlib
import io
import os
import pkgutil
import re
import runpy
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md"] + sorted(
    p for p in DOCS.rglob("*.md") if not {"_build", "auto_examples"} & set(p.relative_to(DOCS).parts)
)

# substrings of commands that take more than a few seconds: they run in the slow profile only
SLOW = [
    "momentum-verify check",
    "momentum-verify sweep",
    "--runs 4000",
    "tune --spectrum geomspace:0.001:1:200",
    "tune --method heavy-ball,sgdm --model finite",
    "formula --what stochastic-rate --method sgd --spectrum \"1^m,(1/kappa)^1\"",
    "formula --what stochastic-rate --method heavy-ball",
    "weak-approx --spectrum 0.5,1,2",
    "worst-case --method heavy-ball --class \"mu=0.01,L=1,d=20\" --batch 4 --tune",
    "bound-check",
    "python -m sphinx",
]

ERROR_LINE = re.compile(r"^momentum-verify(?: [\w-]+)?: error: ")
FENCE = re.compile(r"^(\s*)(`{3,})\s*([\w{}-]*)")


@dataclass
class Command:
    page: Path
    line: int
    text: str  # the command as shown (continuations joined)
    lang: str
    output: list[str] = field(default_factory=list)
    script: str | None = None  # a whole block run as one bash script (background jobs, exports)

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def expect_status(self) -> int:
        return 2 if any(ERROR_LINE.match(line) for line in self.output) else 0

    @property
    def slow(self) -> bool:
        return any(s in self.text for s in SLOW)


def fenced_blocks(path: Path):
    """(language, first line number, lines) of every fenced block of a Markdown file."""
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, lang, start = m.group(2), m.group(3), i + 1
        body = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i])
            i += 1
        i += 1
        yield lang, start + 1, body


def _join_continuations(body: list[str], first: int):
    """Yield (line number, logical line) with trailing-backslash continuations joined."""
    buf, start = [], None
    for k, line in enumerate(body):
        if start is None:
            start = first + k
        if line.rstrip().endswith("\\"):
            buf.append(line.rstrip()[:-1].strip())
            continue
        buf.append(line.strip())
        yield start, " ".join(buf)
        buf, start = [], None
    if buf:
        yield start, " ".join(buf)


SHELL_ONLY = re.compile(r"(^|\s)(export|dask|cd)\s|&\s*$")


def commands(path: Path) -> list[Command]:
    out: list[Command] = []
    for lang, first, body in fenced_blocks(path):
        if lang == "console":
            cmds: list[Command] = []
            k = 0
            while k < len(body):
                line = body[k]
                if line.startswith("$ "):
                    parts = [line[2:]]
                    start = first + k
                    while parts[-1].rstrip().endswith("\\") and k + 1 < len(body):
                        parts[-1] = parts[-1].rstrip()[:-1].strip()
                        k += 1
                        parts.append(body[k].strip())
                    cmds.append(Command(path, start, " ".join(p.strip() for p in parts), lang))
                elif cmds and line.strip():
                    cmds[-1].output.append(line)
                k += 1
            if any(SHELL_ONLY.search(c.text) for c in cmds):  # run the whole block as one script
                script = "\n".join(c.text for c in cmds)
                out.append(Command(path, first, script, lang, script=script))
            else:
                out.extend(cmds)
        elif lang in ("bash", "sh", "shell"):
            for start, text in _join_continuations(body, first):
                if text and not text.startswith("#"):
                    out.append(Command(path, start, text, lang))
    return out


ALL = [c for page in PAGES for c in commands(page)]
INSTALL = re.compile(r"^pip install (-e )?(\.|\"\.\[[\w,]+\]\")\s*&&\s*")
TEST_COMMAND = 'pip install -e ".[test]" && python -m pytest -m "not slow"'


def _ci_script() -> str:
    return (ROOT / ".ci" / "run").read_text()


def _params():
    for c in ALL:
        marks = [pytest.mark.slow] if c.slow else []
        yield pytest.param(c, id=c.id, marks=marks)


# --------------------------------------------------------------------------------------------------
# the conventions hold
# --------------------------------------------------------------------------------------------------
def test_pages_show_commands():
    readme = [c for c in ALL if c.page.name == "README.md"]
    assert len(readme) >= 5, [c.text for c in readme]
    assert sum(c.expect_status == 2 for c in ALL) >= 1  # at least one failing example is shown
    assert len({c.page for c in ALL}) >= 8


def test_readme_test_command_is_ci():
    """README's first two commands: the full paper check, then the test command .ci/run runs verbatim."""
    readme = [c for c in ALL if c.page.name == "README.md" and c.lang == "bash"]
    assert readme[0].text == "pip install -e . && momentum-verify check"
    assert readme[1].text == TEST_COMMAND
    assert TEST_COMMAND in _ci_script().splitlines()


def test_ci_builds_docs_warning_free():
    ci = _ci_script()
    assert 'pip install -e ".[docs]"' in ci
    assert re.search(r"sphinx(-build)? .*-W", ci)


def test_no_missing_example_files():
    """Paths named in commands (examples/..., docs/...) exist in the repository.

    Build outputs (``docs/_build/...``) are written by the command, so they are not inputs.
    """
    for c in ALL:
        for word in shlex.split(c.text, comments=True):
            if word.startswith("docs/_build"):
                continue
            if word.startswith(("examples/", "docs/")) and not any(ch in word for ch in "*?"):
                assert (ROOT / word).exists(), f"{c.id}: {word} does not exist"


def test_error_convention_detects_failing_examples():
    """Planted: a console block with an error line is a failing example, one without is not."""
    page = ROOT / "README.md"
    ok = Command(page, 1, "momentum-verify rate", "console", ["rho = 0.5 (10 digits)"])
    bad = Command(page, 1, "momentum-verify rate", "console", ["momentum-verify rate: error: lr: must be > 0"])
    assert (ok.expect_status, bad.expect_status) == (0, 2)


# --------------------------------------------------------------------------------------------------
# running them
# --------------------------------------------------------------------------------------------------
_WORKDIRS: dict[Path, Path] = {}


def _workdir(page: Path, tmp_path_factory) -> Path:
    if page not in _WORKDIRS:
        d = tmp_path_factory.mktemp(page.stem)
        shutil.copytree(ROOT / "examples", d / "examples")
        _WORKDIRS[page] = d
    return _WORKDIRS[page]


def _run_in_process(argv: list[str], cwd: Path) -> tuple[int, str]:
    from momentum_verify.verify.cli import main

    out, err = io.StringIO(), io.StringIO()
    old = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = main(argv)
            except SystemExit as exc:  # argparse errors
                status = exc.code if isinstance(exc.code, int) else 1
    finally:
        os.chdir(old)
    return int(status or 0), out.getvalue() + err.getvalue()


def _run_shell(script: str, cwd: Path, timeout: float = 1800) -> tuple[int, str]:
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=str(ROOT))
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    full = f"set -e\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n{script}\n"
    proc = subprocess.run(["bash", "-c", full], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    return proc.returncode, proc.stdout + proc.stderr


def _norm(line: str) -> str:
    return " ".join(line.split())


_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def _same_line(want: str, got: str, rel: float) -> bool:
    """Equal, or (rel > 0) equal up to numbers that agree to relative ``rel``."""
    if want == got:
        return True
    if rel == 0:
        return False
    a, b = want.split(), got.split()
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if x == y:
            continue
        if not (_NUMBER.match(x) and _NUMBER.match(y)):
            return False
        fx, fy = float(x), float(y)
        if abs(fx - fy) > rel * max(abs(fx), abs(fy)):
            return False
    return True


# The tuner locates its argmin to a stated relative tolerance (about 1e-4 in lr and 1 - momentum), so
# the digits of a tuned point may move within it when the search changes; everything else must match
# exactly.
TOLERANT = {"momentum-verify tune": 1e-3}


def _assert_output_shown(c: Command, printed: str):
    rel = max([r for prefix, r in TOLERANT.items() if c.text.startswith(prefix)], default=0.0)
    got = [_norm(x) for x in printed.splitlines()]
    pos = 0
    for want in (_norm(x) for x in c.output):
        if want == "...":
            continue
        hit = next((i for i in range(pos, len(got)) if _same_line(want, got[i], rel)), None)
        if hit is None:
            raise AssertionError(f"{c.id}: the page shows {want!r}, the command printed:\n{printed}")
        pos = hit + 1


def test_output_comparison_can_fail():
    """Planted: a changed digit fails an exact page, passes a tolerant one only within its tolerance."""
    c = Command(ROOT / "README.md", 1, "momentum-verify rate", "console", ["rho = 0.5801147545 (10 digits)"])
    _assert_output_shown(c, "rho = 0.5801147545 (10 digits)\n")
    with pytest.raises(AssertionError):
        _assert_output_shown(c, "rho = 0.5801147546 (10 digits)\n")
    t = Command(ROOT / "README.md", 1, "momentum-verify tune", "console", ["16 0.95476 0 0.981292817976 (12)"])
    _assert_output_shown(t, "16 0.95475 0 0.981292818065 (12)\n")
    with pytest.raises(AssertionError):
        _assert_output_shown(t, "16 0.99 0 0.981292818065 (12)\n")


@pytest.mark.parametrize("cmd", list(_params()))
def test_command_runs(cmd: Command, tmp_path_factory, monkeypatch):
    if cmd.text == TEST_COMMAND:
        pytest.skip("README's test command is what runs this file (checked against .ci/run above)")
    text = INSTALL.sub("", cmd.text)
    if "python -m sphinx" in text:
        pytest.skip("the docs build runs in .ci/run (checked above) and in test_docs_build")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    cwd = _workdir(cmd.page, tmp_path_factory)
    if cmd.script is None and text.startswith("momentum-verify ") and not re.search(r"[|&;<>$`]", text):
        status, printed = _run_in_process(shlex.split(text, comments=True)[1:], cwd)
    else:
        status, printed = _run_shell(cmd.script or text, cwd)
    assert status == cmd.expect_status, f"{cmd.id}: {text!r} exited {status}:\n{printed[-3000:]}"
    _assert_output_shown(cmd, printed)


def _doctest_blocks(page: Path) -> str:
    return "\n".join("\n".join(body) for lang, _, body in fenced_blocks(page)
                     if lang in ("python", "pycon") and any(x.lstrip().startswith(">>>") for x in body))


@pytest.mark.parametrize("page", [p for p in PAGES if _doctest_blocks(p)],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_page_doctests(page: Path):
    text = _doctest_blocks(page)
    test = doctest.DocTestParser().get_doctest(text, {}, page.name, str(page), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    out = io.StringIO()
    runner.run(test, out=out.write)
    assert runner.failures == 0, out.getvalue()
    assert runner.tries > 0


# --------------------------------------------------------------------------------------------------
# gallery, module doctests, MATH.md
# --------------------------------------------------------------------------------------------------
GALLERY = sorted((DOCS / "gallery").glob("ex_*.py"))


def test_gallery_present():
    assert len(GALLERY) >= 4


@pytest.mark.parametrize("example", GALLERY, ids=lambda p: p.name)
def test_gallery_example(example: Path, monkeypatch, tmp_path):
    """Each example asserts its comparison with the theoretical value; running it is the test."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(tmp_path)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    try:
        runpy.run_path(str(example), run_name="__main__")
    finally:
        plt.close("all")


def _package_modules() -> list[str]:
    import momentum_verify

    names = ["momentum_verify"]
    for info in pkgutil.walk_packages(momentum_verify.__path__, "momentum_verify."):
        names.append(info.name)
    for sub in ("theory", "numerics", "verify"):
        pkg = importlib.import_module(f"momentum_verify.{sub}")
        names.append(pkg.__name__)
        names += [i.name for i in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + ".")]
    return sorted(n for n in set(names) if not n.endswith("__main__"))  # __main__ runs the CLI


MODULES = _package_modules()


def test_modules_found():
    assert len(MODULES) > 20 and "momentum_verify.theory.methods" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_module_doctests(name: str, monkeypatch, tmp_path):
    """The examples in the docstrings run and print what they show."""
    monkeypatch.chdir(tmp_path)
    try:
        mod = importlib.import_module(name)
    except ImportError as exc:  # an optional dependency (CuPy, torch, ...) that this machine lacks
        pytest.skip(f"{name}: {exc}")
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    out = io.StringIO()
    for test in finder.find(mod, name):  # globals: a copy of the module's, as doctest.testmod
        if test.examples:
            runner.run(test, out=out.write)
    assert runner.failures == 0, out.getvalue()


def test_math_copy_matches_shared():
    shared = ROOT.parent / "shared" / "MATH.md"
    if not shared.exists():
        pytest.skip("../shared/MATH.md is not beside this checkout")
    assert (DOCS / "MATH.md").read_text() == shared.read_text(), (
        "docs/MATH.md differs from ../shared/MATH.md: cp ../shared/MATH.md docs/MATH.md")
