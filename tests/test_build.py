"""The build and set-up targets must never serve stale numbers nor throw away work.

- ``make book`` re-executes the chapters when anything besides the chapter that changes its
  numbers changed: the package (sub-packages included), ``pyproject.toml``, torch, and the
  variables ``HANDBOOK_SIZE`` / ``HANDBOOK_DEVICE`` (``tools/build_inputs.py``); an unchanged
  rebuild executes nothing.
- ``make setup`` recovers from an interrupt at any point: a venv left without pip is recreated
  (``tools/ensure_venv.sh``), and the install stamp is written only after a complete install.
- ``make clean`` keeps the trained models; ``make clean-cache`` removes them too.
- ``make help`` lists every target.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from myst_pages import MYST_HEADER

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import build_inputs  # noqa: E402

VENV = ROOT / ".venv"


def _make_env(**extra: str) -> dict[str, str]:
    """The environment for a nested ``make``: without the variables of an enclosing ``make unit``
    (MAKEFLAGS would pass its command-line variables, e.g. VENV=, down to the nested make)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "HANDBOOK_SIZE", "HANDBOOK_DEVICE")}
    env.update(extra)
    return env


def _make(*args: str, cwd: Path = ROOT, timeout: int = 120, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", *args], cwd=cwd, env=_make_env(**env),
                          capture_output=True, text=True, timeout=timeout)


# --------------------------------------------------------------------------------------------
# The input digest


def _scratch_inputs(tmp_path: Path) -> Path:
    """A scratch root with a copy of the package, pyproject.toml and the Sphinx extension."""
    root = tmp_path / "repo"
    shutil.copytree(ROOT / "handbook_utils", root / "handbook_utils",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    (root / "tools").mkdir()
    shutil.copy(ROOT / "tools" / "sphinx_offline.py", root / "tools" / "sphinx_offline.py")
    return root


def test_digest_follows_the_variables_that_change_results(tmp_path):
    root = _scratch_inputs(tmp_path)
    base = build_inputs.execution_digest(root, {})
    assert build_inputs.execution_digest(root, {}) == base, "the digest must be deterministic"
    # unset and empty both mean "the default" to the package
    assert build_inputs.execution_digest(root, {"HANDBOOK_SIZE": "", "HANDBOOK_DEVICE": " "}) == base
    gpu = build_inputs.execution_digest(root, {"HANDBOOK_SIZE": "gpu"})
    cpu = build_inputs.execution_digest(root, {"HANDBOOK_DEVICE": "cpu"})
    cuda = build_inputs.execution_digest(root, {"HANDBOOK_DEVICE": "cuda"})
    assert len({base, gpu, cpu, cuda}) == 4
    # a variable that does not change the numbers does not force a re-execution
    assert build_inputs.execution_digest(root, {"HANDBOOK_CACHE_DIR": "/elsewhere"}) == base


def test_digest_follows_every_package_source_and_pyproject(tmp_path):
    root = _scratch_inputs(tmp_path)
    seen = {build_inputs.execution_digest(root, {})}
    nested = root / "handbook_utils" / "sub" / "deeper" / "module.py"
    nested.parent.mkdir(parents=True)
    nested.write_text("VALUE = 1\n")
    seen.add(build_inputs.execution_digest(root, {}))
    nested.write_text("VALUE = 2\n")
    seen.add(build_inputs.execution_digest(root, {}))
    nested.rename(nested.with_name("renamed.py"))
    seen.add(build_inputs.execution_digest(root, {}))
    with open(root / "pyproject.toml", "a") as f:
        f.write("\n# a new dependency\n")
    seen.add(build_inputs.execution_digest(root, {}))
    assert len(seen) == 5
    (root / "handbook_utils" / "notes.txt").write_text("not code\n")
    assert build_inputs.execution_digest(root, {}) in seen


def test_variables_the_package_declares_are_followed(tmp_path):
    root = _scratch_inputs(tmp_path)
    (root / "handbook_utils" / "runtime.py").write_text(
        'RESULT_VARIABLES = ("HANDBOOK_DEVICE", "HANDBOOK_SIZE", "HANDBOOK_NEW")\n')
    assert "HANDBOOK_NEW" in build_inputs.result_variables(root)
    base = build_inputs.execution_digest(root, {})
    assert build_inputs.execution_digest(root, {"HANDBOOK_NEW": "x"}) != base
    # and the repository's own list is covered
    assert {"HANDBOOK_SIZE", "HANDBOOK_DEVICE"} <= set(build_inputs.result_variables(ROOT))


def test_refresh_drops_exactly_the_stale_caches(tmp_path):
    root = _scratch_inputs(tmp_path)
    build = root / "_build"

    def populate():
        for name in (".jupyter_cache", ".doctrees", "html", "model-cache"):
            (build / name).mkdir(parents=True, exist_ok=True)
            (build / name / "kept").write_text("x")

    def present():
        return {p.name for p in build.iterdir() if p.is_dir()}

    populate()
    # caches of unknown provenance (no digest recorded yet) are dropped, the models kept
    assert set(build_inputs.refresh(root, build, {})) == {".jupyter_cache", ".doctrees", "html"}
    assert present() == {"model-cache"}
    populate()
    assert build_inputs.refresh(root, build, {}) == []  # unchanged inputs: nothing redone
    assert present() == {".jupyter_cache", ".doctrees", "html", "model-cache"}
    (root / "handbook_utils" / "chapters").mkdir(exist_ok=True)
    (root / "handbook_utils" / "chapters" / "probe.py").write_text("VALUE = 3\n")
    assert set(build_inputs.refresh(root, build, {})) == {".jupyter_cache", ".doctrees", "html"}
    assert present() == {"model-cache"} and (build / "model-cache" / "kept").exists()
    populate()
    assert set(build_inputs.refresh(root, build, {"HANDBOOK_SIZE": "gpu"})) == {".jupyter_cache", ".doctrees", "html"}
    populate()
    # the Sphinx extension changes the pages, not the executed outputs
    with open(root / "tools" / "sphinx_offline.py", "a") as f:
        f.write("\n# changed\n")
    assert set(build_inputs.refresh(root, build, {"HANDBOOK_SIZE": "gpu"})) == {".doctrees", "html"}
    assert present() == {".jupyter_cache", "model-cache"}


# --------------------------------------------------------------------------------------------
# A real book build in a scratch copy of the repository

PROBE_PAGE = MYST_HEADER + textwrap.dedent(
    """\

    # Probe

    ```{code-cell} ipython3
    # The probe module is imported from its folder directly, so the page does not import the
    # whole package (torch) and the build stays short.
    import sys
    sys.path.insert(0, "handbook_utils/chapters")
    import build_probe
    print(f"probe value: {build_probe.VALUE}")
    ```
    """
)


@pytest.fixture
def scratch_book(tmp_path):
    """The repository's files copied to a scratch folder, reduced to a one-page book.

    It reuses the project's .venv through a symlink (nothing is installed), and `make` is told
    the install and vendor stamps are up to date (``-o``), so it can never reinstall anything.
    """
    if not (VENV / ".installed-stamp").exists():
        pytest.skip("needs the project's environment (make setup)")
    repo = tmp_path / "repo"
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           cwd=ROOT, capture_output=True, text=True, check=True).stdout.split("\0")
    for rel in filter(None, files):
        src = ROOT / rel
        if src.is_file():
            (repo / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, repo / rel)
    (repo / ".venv").symlink_to(VENV)
    (repo / "_vendor").mkdir()
    (repo / "_vendor" / ".stamp").touch()
    (repo / "_toc.yml").write_text("format: jb-book\nroot: probe\n")
    (repo / "probe.md").write_text(PROBE_PAGE)
    probe = repo / "handbook_utils" / "chapters" / "build_probe.py"
    probe.parent.mkdir(parents=True, exist_ok=True)
    probe.write_text("VALUE = 'first'\n")
    return repo


def _book(repo: Path, **env: str) -> str:
    result = _make("-o", ".venv/.installed-stamp", "-o", "_vendor/.stamp", "book",
                   cwd=repo, timeout=300, **env)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    return re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)  # Sphinx colours its log


def _page(repo: Path) -> str:
    return (repo / "_build" / "html" / "probe.html").read_text()


@pytest.mark.slow  # about 30 s: three builds of a one-page book
def test_make_book_reexecutes_after_a_package_edit(scratch_book):
    repo = scratch_book
    _book(repo)
    assert "probe value: first" in _page(repo)

    # edit a module of a sub-package: the next build must show the new value
    (repo / "handbook_utils" / "chapters" / "build_probe.py").write_text("VALUE = 'second'\n")
    out = _book(repo)
    page = _page(repo)
    assert "probe value: second" in page and "probe value: first" not in page, out[-3000:]
    assert "build_inputs:" in out and ".jupyter_cache" in out
    assert "Executing notebook" in out, out[-3000:]

    # unchanged inputs: nothing is dropped, re-read or executed
    out = _book(repo)
    assert "build_inputs:" not in out
    assert re.search(r"\b0 added, 0 changed, 0 removed", out), out[-3000:]
    assert "Executing notebook" not in out
    assert "probe value: second" in _page(repo)

    # a variable that changes results re-executes too
    out = _book(repo, HANDBOOK_SIZE="gpu")
    assert "build_inputs:" in out and re.search(r"\b1 added", out), out[-3000:]


# --------------------------------------------------------------------------------------------
# Set-up that survives an interrupt


def test_venv_without_pip_is_recreated(tmp_path):
    """What an interrupt inside `python -m venv` leaves behind: a python, but no pip."""
    venv = tmp_path / "venv"
    python = shutil.which("python3") or sys.executable
    subprocess.run([python, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    assert (venv / "bin" / "python").exists()
    assert subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "--version"],
                          capture_output=True).returncode != 0
    result = subprocess.run(["bash", str(ROOT / "tools" / "ensure_venv.sh"), str(venv), python],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "recreating" in result.stdout
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "--version"], check=True, capture_output=True)


def _fake_venv(path: Path, pip_install_status: int) -> Path:
    """A venv whose python answers `-m pip --version` and fails or succeeds `-m pip install`."""
    (path / "bin").mkdir(parents=True)
    python = path / "bin" / "python"
    python.write_text(textwrap.dedent(f"""\
        #!/bin/bash
        if [ "$*" = "-m pip --version" ]; then echo "pip 0 (fake)"; exit 0; fi
        if [ "$1 $2 $3" = "-m pip install" ]; then exit {pip_install_status}; fi
        exit 3
        """))
    python.chmod(python.stat().st_mode | stat.S_IXUSR)
    return path


def test_working_venv_is_left_alone(tmp_path):
    venv = _fake_venv(tmp_path / "venv", 0)
    (venv / "keep-me").write_text("x")
    result = subprocess.run(["bash", str(ROOT / "tools" / "ensure_venv.sh"), str(venv), "false"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (venv / "keep-me").exists()


def test_setup_checks_pip_and_stamps_only_a_complete_install(tmp_path):
    venv = _fake_venv(tmp_path / "venv", 1)  # the install is interrupted (fails)
    stamp = venv / ".installed-stamp"
    plan = _make("-n", str(stamp), f"VENV={venv}", "PYTHON=python3").stdout.splitlines()
    assert plan[0] == f"bash tools/ensure_venv.sh {venv} python3", plan
    assert plan[-1] == f"touch {stamp}", plan
    result = _make(str(stamp), f"VENV={venv}", "TORCH_SPEC=")
    assert result.returncode != 0 and not stamp.exists()
    (venv / "bin" / "python").write_text((venv / "bin" / "python").read_text().replace("exit 1", "exit 0"))
    result = _make(str(stamp), f"VENV={venv}", "TORCH_SPEC=")
    assert result.returncode == 0 and stamp.exists(), result.stdout + result.stderr


# --------------------------------------------------------------------------------------------
# Cleaning and help


def test_clean_keeps_the_model_cache_and_clean_cache_removes_it(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(ROOT / "Makefile", repo / "Makefile")
    for rel in ("_build/model-cache/gpu/model.pt", "_build/html/index.html", "_build/.doctrees/x",
                "_build/.jupyter_cache/x", "_build/.inputs-digest", "_vendor/.stamp"):
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text("x")
    assert _make("clean", cwd=repo).returncode == 0
    assert [p.relative_to(repo).as_posix() for p in sorted(repo.rglob("*")) if p.is_file()] == [
        "Makefile", "_build/model-cache/gpu/model.pt"]
    assert _make("clean", cwd=repo).returncode == 0  # idempotent
    assert _make("clean-cache", cwd=repo).returncode == 0
    assert not (repo / "_build").exists()
    assert _make("clean", cwd=repo).returncode == 0  # nothing to clean is fine


def _phony_targets() -> list[str]:
    targets: list[str] = []
    text = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    for line in text.splitlines():
        if line.startswith(".PHONY:"):
            targets += line.split(":", 1)[1].split()
    return targets


def test_help_lists_every_target():
    targets = _phony_targets()
    assert {"book", "test", "setup", "clean", "clean-cache", "help"} <= set(targets)
    result = _make("help")
    assert result.returncode == 0
    listed = set(re.findall(r"^make (\S+)", result.stdout, flags=re.M))
    missing = [t for t in targets if t not in listed]
    assert not missing, f"make help does not list: {missing}"


# --------------------------------------------------------------------------------------------
# The API reference


def test_api_reference_documents_every_core_module():
    """reference/api.md names every module of the training core in an ``automodule`` directive, so a
    core module added without its reference fails here rather than going unlisted."""
    from handbook_utils.results import CORE_MODULES

    page = (ROOT / "reference" / "api.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\.\. automodule:: handbook_utils\.([\w.]+)[ \t]*$", page, flags=re.M))
    missing = [name for name in CORE_MODULES if name not in documented]
    assert not missing, f"reference/api.md has no '.. automodule:: handbook_utils.<name>' for: {missing}"
