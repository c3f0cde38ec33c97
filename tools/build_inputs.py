"""Make ``make book`` rebuild whatever its inputs outdated, and nothing else.

Jupyter Book decides what to redo from two caches that only look at the chapter files:

- Sphinx's environment (``_build/.doctrees``) re-reads a page only when the page's own file
  changed, so after an edit to ``handbook_utils`` it reports "0 added, 0 changed" and the old
  HTML stays;
- jupyter-cache (``_build/.jupyter_cache``) keys executed outputs by the notebook's cells, so
  even a re-read page gets the outputs computed with the old code.

Yet a chapter's numbers also depend on the package code it calls, on ``pyproject.toml`` (the
dependencies), on the installed torch and Python, and on the environment variables that change
results (``HANDBOOK_SIZE``, ``HANDBOOK_DEVICE``; see ``handbook_utils.runtime.RESULT_VARIABLES``).
This script hashes those inputs and, when the hash differs from the one recorded by the previous
build, drops both caches and the HTML so the build re-reads and re-executes every chapter. With
unchanged inputs it touches nothing, so a rebuild still executes nothing.

A second, cheaper digest covers what only changes the rendering (the project's Sphinx extension,
which Sphinx does not track): when only that changed, the pages are re-read and re-written from
the kept execution cache, without running any chapter.

Usage (the Makefile runs this before ``jupyter-book build``)::

    python tools/build_inputs.py refresh [--root DIR] [--build-dir DIR]   # drop outdated caches
    python tools/build_inputs.py digest  [--root DIR]                     # print the digests

The digest is recorded as soon as the caches are dropped (not after a successful build): every
chapter executed from then on ran with the current inputs, so a build that fails half-way keeps
the chapters it already executed instead of starting over.

Besides the standard library only :mod:`handbook_utils.files` is imported (it does not import
torch, which would slow every build down).
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import platform
import shutil
import sys
from importlib import metadata
from pathlib import Path

from handbook_utils.files import atomic_write, tree_digest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "handbook_utils"
DIGEST_FILE = ".inputs-digest"

RESULT_VARIABLES = ("HANDBOOK_SIZE", "HANDBOOK_DEVICE")
"""Environment variables that change the numbers a chapter prints. Any variable the package
lists in ``handbook_utils.runtime.RESULT_VARIABLES`` is added to these (read from the source)."""

EXECUTION_CACHES = (".jupyter_cache", ".doctrees", "html")
"""What a change of the execution inputs makes stale: outputs, Sphinx's environment, pages."""
RENDERING_CACHES = (".doctrees", "html")
"""What a change of the rendering inputs makes stale (the executed outputs stay valid)."""
RENDERING_FILES = ("tools/sphinx_offline.py",)

DISTRIBUTIONS = ("torch",)
"""Installed distributions whose version changes results (a CPU vs a CUDA build of torch)."""


def result_variables(root: Path = ROOT) -> tuple[str, ...]:
    """:data:`RESULT_VARIABLES` plus any the package declares in ``runtime.RESULT_VARIABLES``.

    Read from the source with :mod:`ast`, so a variable the package starts honouring is picked up
    by the build without anyone having to remember this script.
    """
    names = set(RESULT_VARIABLES)
    runtime = root / PACKAGE / "runtime.py"
    try:
        tree = ast.parse(runtime.read_text(encoding="utf-8"))
    except (OSError, SyntaxError):
        return tuple(sorted(names))
    for node in tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else (
            node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None)
        if isinstance(target, ast.Name) and target.id == "RESULT_VARIABLES" and node.value is not None:
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                continue
            names.update(v for v in value if isinstance(v, str))
    return tuple(sorted(names))


def _hash_file(h, root: Path, path: Path) -> None:
    h.update(b"file\0" + path.relative_to(root).as_posix().encode() + b"\0")
    h.update(path.read_bytes() if path.exists() else b"<missing>")
    h.update(b"\0")


def execution_digest(root: Path = ROOT, environ: dict[str, str] | None = None) -> str:
    """sha256 of everything besides a chapter's own text that changes what the chapter prints.

    An unset variable and an empty one count as the same (the package treats both as "default").
    """
    environ = os.environ if environ is None else environ
    h = hashlib.sha256()
    h.update(f"package\0{tree_digest(root / PACKAGE)}\0".encode())
    _hash_file(h, root, root / "pyproject.toml")
    for name in result_variables(root):
        h.update(f"env\0{name}={environ.get(name, '').strip()}\0".encode())
    h.update(f"python\0{platform.python_version()}\0".encode())
    for dist in DISTRIBUTIONS:
        try:
            version = metadata.version(dist)
        except metadata.PackageNotFoundError:
            version = "<absent>"
        h.update(f"dist\0{dist}={version}\0".encode())
    return h.hexdigest()


def rendering_digest(root: Path = ROOT) -> str:
    """sha256 of the inputs that change the pages but not the executed outputs."""
    h = hashlib.sha256()
    for rel in RENDERING_FILES:
        _hash_file(h, root, root / rel)
    return h.hexdigest()


def digests(root: Path = ROOT, environ: dict[str, str] | None = None) -> dict[str, str]:
    return {"execution": execution_digest(root, environ), "rendering": rendering_digest(root)}


def _recorded(build_dir: Path) -> dict[str, str]:
    try:
        data = json.loads((build_dir / DIGEST_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def refresh(root: Path = ROOT, build_dir: Path | None = None,
            environ: dict[str, str] | None = None) -> list[str]:
    """Drop the caches the changed inputs made stale, record the new digests.

    Returns the names of the removed entries of ``build_dir`` (empty when nothing changed). The
    model cache (``_build/model-cache``) is never touched: trained models are keyed by their
    settings, not by these inputs.
    """
    build_dir = root / "_build" if build_dir is None else build_dir
    current = digests(root, environ)
    recorded = _recorded(build_dir)
    if recorded == current:
        return []
    stale = EXECUTION_CACHES if recorded.get("execution") != current["execution"] else RENDERING_CACHES
    removed = []
    for name in stale:
        path = build_dir / name
        if path.exists() or path.is_symlink():
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
            removed.append(name)
    build_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(current, indent=1) + "\n"
    atomic_write(build_dir / DIGEST_FILE, lambda f: f.write(text), binary=False)  # never half a digest
    return removed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("refresh", "digest"))
    parser.add_argument("--root", type=Path, default=ROOT)
    parser.add_argument("--build-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    root = args.root.resolve()
    if args.command == "digest":
        print(json.dumps(digests(root), indent=1))
        return 0
    build_dir = args.build_dir or root / "_build"
    had_record = (build_dir / DIGEST_FILE).exists()
    removed = refresh(root, build_dir)
    if removed:
        why = "the package, pyproject.toml, torch or HANDBOOK_SIZE/HANDBOOK_DEVICE changed" \
            if ".jupyter_cache" in removed else "the Sphinx extension changed"
        print(f"build_inputs: {why}; dropped _build/{{{','.join(removed)}}}, every page is rebuilt"
              + (" and every chapter re-executed" if ".jupyter_cache" in removed else ""))
    elif not had_record:
        print("build_inputs: recorded the build inputs (first build)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
