"""One disk cache for everything the book computes slowly: trained weights and measured results.

Where: the directory named by ``HANDBOOK_CACHE_DIR`` if it is set, otherwise ``~/.cache/handbook``
(see :mod:`handbook_utils.runtime`). :func:`clear` empties it.

What: one file per entry, ``model-<key>.pt`` (weights and training history, written by
:func:`handbook_utils.training.train`) or ``result-<key>.json`` (measurements, written by the grid
runner of chapter 6). The key is a SHA-256 hash of every setting that changes the result *and of the
code that produced it*: :func:`make_key` adds a digest of this package's source files, so editing
any module invalidates every entry, and :func:`describe` hashes the source of user-defined
callables and classes (your own schedule function) as well as their names.

How it stays trustworthy:

- writes are atomic (:func:`handbook_utils.files.atomic_write`: a temporary file in the same
  directory, then ``os.replace``), so an interrupted run never leaves a half-written entry behind;
- weights are read with ``torch.load(weights_only=True)``: a cache file cannot run code;
- every entry stores a digest of its payload (weights and history, or the JSON data) that is
  checked on load, together with the full settings it was written for; an entry that is corrupt,
  from another format, for other settings, or with non-finite weights is reported with
  ``warnings.warn`` and rebuilt, never silently used;
- :func:`clear` removes only files whose names the cache itself writes (and orphaned temporary
  files of killed writes), never anything else in the directory.

Used by :mod:`.training` (models), :mod:`.recipes` and chapter 6's grid (results).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import inspect
import json
import math
import numbers
import os
import re
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path

import torch

from .files import atomic_write, tree_digest
from .runtime import env

DEFAULT_DIR = Path("~/.cache/handbook")
FORMAT = 2
PACKAGE_ROOT = Path(__file__).resolve().parent
_KINDS = {"model": ".pt", "result": ".json"}
_ENTRY = re.compile(r"^(model|result)-[0-9a-f]{32}\.(pt|json)$")
_ORPHAN = re.compile(r"^\.(model|result)-[0-9a-f]{32}\..*\.tmp$")


def cache_dir(path: str | os.PathLike | None = None) -> Path:
    """The cache directory: ``path`` if given, else ``$HANDBOOK_CACHE_DIR``, else ``~/.cache/handbook``."""
    source = "cache"
    if path is None:
        source = "HANDBOOK_CACHE_DIR" if env("HANDBOOK_CACHE_DIR") else "the default cache directory"
        path = env("HANDBOOK_CACHE_DIR") or DEFAULT_DIR
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"cache must be a bool, str or os.PathLike, got {type(path).__name__}")
    if str(path).strip() == "":
        raise ValueError(f"{source} must name a directory, got an empty path")
    directory = Path(path).expanduser()
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"{source}={str(path)!r} exists and is not a directory")
    return directory


def writable_problem(directory: Path) -> str | None:
    """Why entries could not be written to ``directory`` (None when they can): checked *before* a
    long training run, so finished work is never lost to a read-only or misplaced cache."""
    try:
        Path(directory).mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=directory, prefix=".model-" + "0" * 32 + ".", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        return f"{type(err).__name__}: {err}"
    return None


# --------------------------------------------------------------------------------------------
# Keys


@functools.lru_cache(maxsize=1)
def code_digest() -> str:
    """:func:`~handbook_utils.files.tree_digest` of this package's sources, read once per process.

    Part of every key: an entry trained by other code is a miss, whatever its settings say.
    """
    return tree_digest(PACKAGE_ROOT)


def _source_digest(obj) -> str | None:
    """Digest of the source of a callable or class defined outside this package (None inside it,
    where :func:`code_digest` covers it, or when Python cannot show the source)."""
    module = getattr(obj, "__module__", "") or ""
    if module == "handbook_utils" or module.startswith("handbook_utils."):
        return None
    try:
        source = inspect.getsource(obj)
    except (OSError, TypeError):
        return None
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def describe(obj, strict: bool = True):
    """A JSON-able, stable description of a setting (no memory addresses), for hashing.

    With ``strict=False`` (used when the cache is off) things without a stable description (a
    lambda, an arbitrary object) are described by name instead of raising.
    """
    def d(x):
        return describe(x, strict)

    if obj is None or isinstance(obj, bool):
        return obj
    if isinstance(obj, str):  # also str subclasses such as torch's TorchVersion, stored as plain str
        return str(obj)
    if isinstance(obj, numbers.Integral):
        return int(obj)
    if isinstance(obj, numbers.Real):
        return float(obj) if math.isfinite(obj) else repr(float(obj))
    if isinstance(obj, enum.Enum):
        return f"{type(obj).__qualname__}.{obj.name}"
    if isinstance(obj, (list, tuple)):
        return [d(x) for x in obj]
    if isinstance(obj, Mapping):
        return {str(k): d(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, (torch.device, torch.dtype, Path)):
        return str(obj)
    if isinstance(obj, torch.Tensor):
        return {"tensor": tensor_digest(obj)}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = {f.name: d(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.init}
        cls = type(obj)
        described = {"class": f"{cls.__module__}.{cls.__qualname__}", **fields}
        source = _source_digest(cls)
        return {**described, "source": source} if source else described
    if isinstance(obj, functools.partial):
        return {"partial": d(obj.func), "args": d(list(obj.args)), "keywords": d(obj.keywords)}
    if callable(obj) and hasattr(obj, "__qualname__"):
        if strict and ("<lambda>" in obj.__qualname__ or "<locals>" in obj.__qualname__):
            raise ValueError(
                f"cannot hash {obj.__qualname__} for the cache: lambdas and local functions have no stable "
                "name. Use a schedule object (e.g. schedules.LinearSchedule) or pass cache=False."
            )
        name = f"{getattr(obj, '__module__', '?')}.{obj.__qualname__}"
        source = _source_digest(obj)
        return {"callable": name, "source": source} if source else name
    if not strict:
        return f"<{type(obj).__module__}.{type(obj).__qualname__}>"
    raise TypeError(f"cannot describe a {type(obj).__name__} for the cache key; "
                    "make it a dataclass or pass cache=False")


def tensor_digest(t: torch.Tensor) -> str:
    t = t.detach().cpu().contiguous()
    h = hashlib.sha256(f"{t.dtype}{tuple(t.shape)}".encode())
    h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:16]


def state_digest(state_dict: dict) -> str:
    """Hash of every named tensor of a state dict."""
    h = hashlib.sha256()
    for name, t in state_dict.items():
        h.update(name.encode())
        h.update(tensor_digest(t).encode())
    return h.hexdigest()[:16]


def weights_digest(model: torch.nn.Module) -> str:
    """Hash of every parameter and buffer: two models with the same config but other weights differ."""
    return state_digest(model.state_dict())


def make_key(settings: dict) -> str:
    """Hash of ``describe(settings)``, the package's :func:`code_digest`, the torch version and the
    entry format."""
    text = json.dumps({"settings": describe(settings), "code": code_digest(), "torch": str(torch.__version__),
                       "format": FORMAT}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _json_digest(data) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# Writing


def entry_path(kind: str, key: str, directory: Path) -> Path:
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {sorted(_KINDS)}, got {kind!r}")
    return Path(directory) / f"{kind}-{key}{_KINDS[kind]}"


def _try_write(path: Path, write, binary: bool) -> Path | None:
    """A cache write that fails (full disk, read-only folder) warns and returns None: the caller
    keeps its result; only the cache misses out."""
    try:
        return atomic_write(path, write, binary=binary)
    except OSError as err:
        warnings.warn(f"could not write the cache entry {path} ({type(err).__name__}: {err}); "
                      "the result is returned but not cached", stacklevel=3)
        return None


def save_model(key: str, model: torch.nn.Module, history: dict, directory: Path, settings) -> Path | None:
    """Store trained weights and their history under ``key`` (atomic; warns instead of raising)."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    entry = {
        "format": FORMAT,
        "key": key,
        "settings": json.dumps(settings, sort_keys=True),
        "state_dict": state,
        "history": history,
        "digest": _model_digest(state, history),
    }
    return _try_write(entry_path("model", key, directory), lambda f: torch.save(entry, f), binary=True)


def save_result(key: str, data: dict, directory: Path, settings) -> Path | None:
    """Store a JSON-able result under ``key`` (atomic; warns instead of raising)."""
    entry = {"format": FORMAT, "key": key, "settings": json.dumps(settings, sort_keys=True), "data": data,
             "digest": _json_digest(data)}
    return _try_write(entry_path("result", key, directory), lambda f: json.dump(entry, f), binary=False)


def _model_digest(state: dict, history: dict) -> str:
    return state_digest(state) + _json_digest(history)


# --------------------------------------------------------------------------------------------
# Reading


def load_model(key: str, model: torch.nn.Module, directory: Path, settings) -> dict | None:
    """Load the cached weights into ``model`` and return the stored history, or None on a miss.

    ``settings`` is what the key was made from (as returned by :func:`describe`), stored in full in
    the entry so that a hash collision or a hand-edited file cannot pass for a hit. Anything wrong
    with the entry is reported and treated as a miss (the caller retrains and overwrites).
    """
    path = entry_path("model", key, directory)
    if not path.exists():
        return None
    try:
        entry = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated, garbage, or not a torch file at all
        return _miss(path, f"is corrupt ({type(err).__name__}: {err})")
    problem = _check_model_entry(entry, key, model, settings)
    if problem:
        return _miss(path, problem)
    model.load_state_dict(entry["state_dict"])
    return entry["history"]


def load_result(key: str, directory: Path, settings) -> dict | None:
    """The stored JSON result for ``key``, or None on a miss (a bad entry warns and misses)."""
    path = entry_path("result", key, directory)
    if not path.exists():
        return None
    try:
        entry = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        return _miss(path, f"is unreadable ({type(err).__name__}: {err})")
    problem = _check_header(entry, key, settings, "data")
    if problem is None and entry.get("digest") != _json_digest(entry["data"]):
        problem = "does not match its stored digest (the file was changed or damaged)"
    if problem:
        return _miss(path, problem)
    return entry["data"]


def _miss(path: Path, problem: str) -> None:
    warnings.warn(f"cache entry {path} {problem}; recomputing", stacklevel=4)
    return None


def _check_header(entry, key: str, settings, payload: str) -> str | None:
    if not isinstance(entry, dict) or not {"format", "key", "settings", payload, "digest"} <= entry.keys():
        return "is not a cache entry"
    if entry["format"] != FORMAT:
        return f"has format {entry['format']!r}, expected {FORMAT}"
    if entry["key"] != key or entry["settings"] != json.dumps(settings, sort_keys=True):
        return "was written for other settings"
    return None


def _check_model_entry(entry, key: str, model: torch.nn.Module, settings) -> str | None:
    problem = _check_header(entry, key, settings, "state_dict")
    if problem:
        return problem
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    stored = entry["state_dict"]
    if not isinstance(stored, dict) or {k: tuple(getattr(v, "shape", ())) for k, v in stored.items()} != expected:
        return "holds weights that do not fit this model"
    history = entry.get("history")
    if not isinstance(history, dict) or not {"steps", "losses", "evals", "wall_time_s", "config"} <= history.keys():
        return "holds no valid history"
    if entry["digest"] != _model_digest(stored, history):
        return "does not match its stored digest (the file was changed or damaged)"
    if not all(bool(torch.isfinite(v).all()) for v in stored.values() if v.is_floating_point()):
        return "holds non-finite weights"
    return None


# --------------------------------------------------------------------------------------------
# Clearing


def clear(path: str | os.PathLike | None = None) -> int:
    """Delete every entry this cache wrote (and orphaned temporary files of killed writes) from the
    cache directory; other files there are left alone. Returns how many files were removed."""
    directory = cache_dir(path)
    if not directory.exists():
        return 0
    removed = 0
    for f in directory.iterdir():
        if f.is_file() and (_ENTRY.match(f.name) or _ORPHAN.match(f.name)):
            f.unlink()
            removed += 1
    return removed
