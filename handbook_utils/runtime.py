"""Runtime settings in one place: the ``HANDBOOK_*`` environment variables, CPU threads, eval mode,
progress bars and fair timing.

Every environment variable the package reads is listed in :data:`ENVIRONMENT` and read through
:func:`env`, so a reader can see at a glance what changes the book's behaviour:

========================  ==============================================================
``HANDBOOK_DEVICE``        ``cpu``, ``cuda``, ``cuda:1``, ``mps``: where tensors live (:mod:`.device`)
``HANDBOOK_CACHE_DIR``     where trained models and results are cached (:mod:`.cache`)
``HANDBOOK_SIZE``          ``quick`` or ``gpu``: the size of the shared recipes (:mod:`.recipes`)
``HANDBOOK_PROGRESS``      ``0`` silences every progress bar (the book build and nbval set it)
========================  ==============================================================

Used by the core (training, generation, metrics, recipes, the grid runner) and by chapters 2 and 6
(timing, threads).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Mapping

import torch

from . import checks

ENVIRONMENT = {
    "HANDBOOK_DEVICE": "compute device: cpu, cuda, cuda:N or mps (default: the best available)",
    "HANDBOOK_CACHE_DIR": "cache directory for trained models and results (default: ~/.cache/handbook)",
    "HANDBOOK_SIZE": "size of the shared recipes: quick (default) or gpu",
    "HANDBOOK_PROGRESS": "0/false/no/off silences progress bars (default: on)",
}
"""Every environment variable the package reads, with what it does."""

RESULT_VARIABLES = ("HANDBOOK_DEVICE", "HANDBOOK_SIZE")
"""The variables that change the numbers a chapter prints (a book build must re-execute on change)."""


def env(name: str) -> str | None:
    """The stripped value of a ``HANDBOOK_*`` variable, None when unset or empty."""
    if name not in ENVIRONMENT:
        raise ValueError(f"name must be one of {sorted(ENVIRONMENT)}, got {name!r}")
    value = os.environ.get(name, "").strip()
    return value or None


# --------------------------------------------------------------------------------------------
# Progress bars

_progress_override: bool | None = None


def set_progress(enabled: bool | None) -> None:
    """Switch every progress bar of the package on or off; ``None`` returns to ``HANDBOOK_PROGRESS``."""
    global _progress_override
    if enabled is not None:
        checks.boolean("enabled", enabled)
    _progress_override = enabled


def progress_enabled() -> bool:
    if _progress_override is not None:
        return _progress_override
    value = env("HANDBOOK_PROGRESS")
    return value is None or value.lower() not in ("0", "false", "no", "off")


# --------------------------------------------------------------------------------------------
# Threads and modes


@contextlib.contextmanager
def cpu_threads(n: int | None) -> Iterator[None]:
    """Run torch's CPU kernels on ``n`` threads inside the block (``None``: leave the setting alone).

    Trained weights depend on the thread count (reductions are summed in another order), so every
    run the cache stores is trained on a fixed count, which is part of its key.
    """
    if n is None:
        yield
        return
    n = checks.positive_int("threads", n)
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def eval_mode(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """``model.eval()`` inside the block, then the mode it had before (training code calls us mid-run)."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


# --------------------------------------------------------------------------------------------
# Timing


def synchronize(device: torch.device | str | None) -> None:
    """Wait for queued CUDA work, so a timer measures the work and not only its launch."""
    if device is not None and torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def time_in_turns(callables: Mapping[str, Callable[[], object]], repeats: int, *, warmup: int = 1,
                  device=None) -> dict[str, list[float]]:
    """Seconds per call of each callable, timed in turns: round after round, one call of each.

    Taking turns means a burst of load from elsewhere on the machine hits every callable alike, so
    their *ratios* stay meaningful on a busy laptop; report the median (or the minimum) of each list.
    ``warmup`` untimed rounds first absorb caches and lazy initialisation.
    """
    if not isinstance(callables, Mapping) or not callables:
        raise ValueError("callables must be a non-empty mapping of name -> callable")
    for name, fn in callables.items():
        if not callable(fn):
            raise TypeError(f"callables[{name!r}] must be callable, got {type(fn).__name__}")
    repeats = checks.positive_int("repeats", repeats)
    warmup = checks.non_negative_int("warmup", warmup)
    for _ in range(warmup):
        for fn in callables.values():
            fn()
    synchronize(device)
    times: dict[str, list[float]] = {name: [] for name in callables}
    for _ in range(repeats):
        for name, fn in callables.items():
            start = time.perf_counter()
            fn()
            synchronize(device)
            times[name].append(time.perf_counter() - start)
    return times
