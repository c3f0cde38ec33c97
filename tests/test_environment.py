"""pyproject.toml and environment.yml must describe the same environment."""

from __future__ import annotations

from pathlib import Path

import tomllib
import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def _pyproject_requirements() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        lines += extra
    reqs = [Requirement(line) for line in lines]
    return {r.name.lower(): r for r in reqs}


def _conda_pip_requirements() -> dict[str, Requirement]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    reqs = [Requirement(line) for line in pip_section if not line.startswith("-e")]
    return {r.name.lower(): r for r in reqs}


def test_same_packages():
    assert set(_pyproject_requirements()) == set(_conda_pip_requirements())


def test_same_version_specifiers_except_the_torch_pin():
    project, conda = _pyproject_requirements(), _conda_pip_requirements()
    differing = {name for name in project if name != "torch" and project[name].specifier != conda[name].specifier}
    assert differing == set()


def test_torch_pin_satisfies_the_package_range():
    """environment.yml pins the tested CPU build; pyproject.toml keeps a range for CUDA users."""
    pinned = _conda_pip_requirements()["torch"]
    (spec,) = list(pinned.specifier)
    assert spec.operator == "=="
    assert _pyproject_requirements()["torch"].specifier.contains(spec.version)


def test_makefile_installs_the_same_torch_pin():
    pinned = str(_conda_pip_requirements()["torch"])
    assert f"TORCH_SPEC ?= {pinned}" in (ROOT / "Makefile").read_text()


def test_environment_installs_the_package_itself():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert "-e ." in pip_section
