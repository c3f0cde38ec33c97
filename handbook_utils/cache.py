"""A disk cache for trained models, so re-running a chapter does not retrain what it already has.

Where: the directory named by the environment variable ``HANDBOOK_CACHE_DIR`` if it is set,
otherwise ``~/.cache/handbook``. Delete the directory (or call :func:`clear`) to start over.

What: one file per training run, ``<key>.pt``, holding the trained weights and the run's history.
The key is a SHA-256 hash of every setting that changes the result: the model class, its config and
its *initial* weights, the task, the strategy (with its schedule), every training argument, the
seed, the device type, and the versions of this package and of torch.

How it stays trustworthy:

- writes are atomic (a temporary file in the same directory, then ``os.replace``), so an interrupted
  run never leaves a half-written entry behind;
- entries are read with ``torch.load(weights_only=True)``: a cache file cannot run code;
- an entry that is corrupt, from another format, or whose settings or tensor shapes do not match is
  reported with ``warnings.warn`` and rebuilt, never silently used.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import json
import math
import numbers
import os
import tempfile
import warnings
from pathlib import Path

import torch

ENV_VAR = "HANDBOOK_CACHE_DIR"
DEFAULT_DIR = Path("~/.cache/handbook")
FORMAT = 1


def cache_dir(path: str | os.PathLike | None = None) -> Path:
    """The cache directory: ``path`` if given, else ``$HANDBOOK_CACHE_DIR``, else ``~/.cache/handbook``."""
    source = "cache"
    if path is None:
        source = ENV_VAR if os.environ.get(ENV_VAR) else "the default cache directory"
        path = os.environ.get(ENV_VAR) or DEFAULT_DIR
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"cache must be a bool, str or os.PathLike, got {type(path).__name__}")
    if str(path).strip() == "":
        raise ValueError(f"{source} must name a directory, got an empty path")
    directory = Path(path).expanduser()
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"{source}={str(path)!r} exists and is not a directory")
    return directory


# --------------------------------------------------------------------------------------------
# Keys


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
    if isinstance(obj, dict):
        return {str(k): d(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, (torch.device, torch.dtype, Path)):
        return str(obj)
    if isinstance(obj, torch.Tensor):
        return {"tensor": tensor_digest(obj)}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = {f.name: d(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.init}
        return {"class": f"{type(obj).__module__}.{type(obj).__qualname__}", **fields}
    if isinstance(obj, functools.partial):
        return {"partial": d(obj.func), "args": d(list(obj.args)), "keywords": d(obj.keywords)}
    if callable(obj) and hasattr(obj, "__qualname__"):
        if strict and ("<lambda>" in obj.__qualname__ or "<locals>" in obj.__qualname__):
            raise ValueError(
                f"cannot hash {obj.__qualname__} for the cache: lambdas and local functions have no stable "
                "name. Use a schedule object (e.g. schedules.LinearSchedule) or pass cache=False."
            )
        return f"{getattr(obj, '__module__', '?')}.{obj.__qualname__}"
    if not strict:
        return f"<{type(obj).__module__}.{type(obj).__qualname__}>"
    raise TypeError(f"cannot describe a {type(obj).__name__} for the cache key; make it a dataclass or pass cache=False")


def tensor_digest(t: torch.Tensor) -> str:
    t = t.detach().cpu().contiguous()
    h = hashlib.sha256(f"{t.dtype}{tuple(t.shape)}".encode())
    h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:16]


def weights_digest(model: torch.nn.Module) -> str:
    """Hash of every parameter and buffer: two models with the same config but other weights differ."""
    h = hashlib.sha256()
    for name, t in model.state_dict().items():
        h.update(name.encode())
        h.update(tensor_digest(t).encode())
    return h.hexdigest()[:16]


def make_key(settings: dict) -> str:
    """Hash of ``describe(settings)``."""
    text = json.dumps(describe(settings), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


# --------------------------------------------------------------------------------------------
# Entries


def entry_path(key: str, directory: Path) -> Path:
    return Path(directory) / f"{key}.pt"


def load(key: str, model: torch.nn.Module, directory: Path, settings: dict) -> dict | None:
    """Load the cached weights into ``model`` and return the stored history, or None on a miss.

    ``settings`` is what the key was made from (as returned by :func:`describe`), stored in full in
    the entry so that a hash collision or a hand-edited file cannot pass for a hit.

    Anything wrong with the entry is reported and treated as a miss (the caller retrains and overwrites).
    """
    path = entry_path(key, directory)
    if not path.exists():
        return None
    try:
        entry = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated, garbage, or not a torch file at all
        warnings.warn(f"cache entry {path} is corrupt ({type(err).__name__}: {err}); retraining", stacklevel=3)
        return None
    problem = _check_entry(entry, key, model, settings)
    if problem:
        warnings.warn(f"cache entry {path} {problem}; retraining", stacklevel=3)
        return None
    model.load_state_dict(entry["state_dict"])
    return entry["history"]


def _check_entry(entry, key: str, model: torch.nn.Module, settings: dict) -> str | None:
    if not isinstance(entry, dict) or not {"format", "key", "settings", "state_dict", "history"} <= entry.keys():
        return "is not a cache entry"
    if entry["format"] != FORMAT:
        return f"has format {entry['format']!r}, expected {FORMAT}"
    if entry["key"] != key or entry["settings"] != json.dumps(settings, sort_keys=True):
        return "was written for other settings"
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    stored = entry["state_dict"]
    if not isinstance(stored, dict) or {k: tuple(getattr(v, "shape", ())) for k, v in stored.items()} != expected:
        return "holds weights that do not fit this model"
    history = entry["history"]
    if not isinstance(history, dict) or not {"steps", "losses", "evals", "wall_time_s", "config"} <= history.keys():
        return "holds no valid history"
    return None


def save(key: str, model: torch.nn.Module, history: dict, directory: Path, settings: dict) -> Path:
    """Write the entry atomically: a temporary file in the same directory, then ``os.replace``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    entry = {
        "format": FORMAT,
        "key": key,
        "settings": json.dumps(settings, sort_keys=True),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "history": history,
    }
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{key}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(entry, f)
        os.replace(tmp, entry_path(key, directory))
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return entry_path(key, directory)


def clear(path: str | os.PathLike | None = None) -> int:
    """Delete every cache entry in the cache directory; returns how many were removed."""
    directory = cache_dir(path)
    if not directory.exists():
        return 0
    removed = 0
    for f in directory.glob("*.pt"):
        f.unlink()
        removed += 1
    return removed
