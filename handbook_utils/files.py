"""Files on disk: the one atomic write, and the one digest of a tree of source files.

Kept free of torch so the build tools (``tools/notebooks.py``, ``tools/build_inputs.py``) can import
it without paying for a torch import. Used by :mod:`.cache` (entries), the results store, and
those tools (reference notebooks, the build's input digest).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: str | os.PathLike, write: Callable[[object], None], *, binary: bool = True) -> Path:
    """Write ``path`` through ``write(file)`` into a temporary file beside it, then ``os.replace``:
    a reader sees the old file or the whole new one, never half of it, and an interrupted write
    leaves at most a ``.<name>.*.tmp`` orphan (which :func:`handbook_utils.cache.clear` removes)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"})) as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def source_files(root: str | os.PathLike) -> list[Path]:
    """Every ``*.py`` file below ``root`` (caches excluded), in a stable order."""
    root = Path(root)
    return sorted((p for p in root.rglob("*.py") if "__pycache__" not in p.parts),
                  key=lambda p: p.relative_to(root).as_posix())


def tree_digest(root: str | os.PathLike) -> str:
    """SHA-256 over the relative path and bytes of every :func:`source_files` file below ``root``:
    it changes when any source file is edited, added, removed or renamed."""
    root = Path(root)
    h = hashlib.sha256()
    for path in source_files(root):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()[:16]
