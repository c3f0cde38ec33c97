"""Runtime settings in one place: the ``HANDBOOK_*`` environment variables, CPU threads, eval mode,
progress bars and fair timing.

Every environment variable the package reads is listed in :data:`ENVIRONMENT` and read through
:func:`env`, so a reader can see at a glance what changes the book's behaviour:

========================  ==============================================================
``HANDBOOK_DEVICE``        ``cpu``, ``cuda``, ``cuda:1``, ``mps``: where tensors live (:mod:`.device`)
``HANDBOOK_CACHE_DIR``     where trained models and results are cached (:mod:`.cache`)
``HANDBOOK_SIZE``          ``quick`` or ``gpu``: the size of the shared recipes (:mod:`.recipes`)
``HANDBOOK_PROGRESS``      ``0`` silences every progress bar (the book build, nbval and
                           ``make notebooks`` set it; in JupyterLab the bars show)
========================  ==============================================================

Used by the core (training, generation, metrics, recipes, the grid runner) and by chapters 2 and 6
(timing, threads).

Two things exist for the JupyterLab reader, who reads a chapter in a live kernel rather than on the
static page:

- :func:`glued`: the prose's ``{glue:text}`name:fmt``` roles are shown in the lab as MyST
  ``{eval}`glued("name:fmt")``` expressions (``jupyterlab-myst`` evaluates them in the kernel, see
  ``tools/handbook_lab.py``), so the lab prints the very text the book pastes. The values come from the
  chapter's own ``glue(...)`` calls, recorded as the kernel publishes them.
- :func:`placeholder`: a widget's plain-text fallback, which a notebook shows before its cell has
  run in this kernel, says "run this cell" instead of ``VBox(children=(HTML(value=...``.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch

from . import checks
from .glue import glue_record

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


# --------------------------------------------------------------------------------------------
# The JupyterLab reader: glued values for {eval} roles, placeholders for widgets

_GLUED: dict[str, str] = {}
"""text/plain of every value a chapter glued in this kernel, by name (filled by :func:`_record_glue`)."""


def _record_glue(msg: dict) -> dict:
    """ipykernel display hook: remember the text/plain of every ``myst_nb.glue`` display, pass it on."""
    content = msg.get("content", {}) if isinstance(msg, dict) else {}
    record = glue_record(content) if isinstance(content, dict) else None
    if record is not None:
        _GLUED[record[0]] = record[1]
    return msg


def glued(key: str) -> str:
    """The text the book pastes for ``{glue:text}`key``` (``key`` is ``name`` or ``name:format``).

    Formatting is myst-nb's own (:func:`myst_nb.core.variables.format_plain_text`), so the lab and
    the static book print the same digits.
    """
    if not isinstance(key, str) or not key:
        raise ValueError(f"key must be a non-empty 'name' or 'name:format' string, got {key!r}")
    name, _, spec = key.partition(":")
    if name not in _GLUED:
        raise KeyError(f"nothing glued as {name!r} yet in this kernel: run the code cells above this text first")
    from myst_nb.core.variables import format_plain_text

    return format_plain_text(_GLUED[name], spec)


def _install_glue_recorder() -> bool:
    """Record glued values in a running IPython kernel and give its namespace :func:`glued`.

    Called on import; outside a kernel (scripts, tests, the book's own execution) it does nothing
    and returns False.
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipykernel and matplotlib's backends
        return False
    shell = get_ipython()
    publisher = getattr(shell, "display_pub", None)
    if shell is None or not hasattr(publisher, "register_hook"):
        return False
    if _record_glue not in getattr(publisher, "_hooks", ()):
        publisher.register_hook(_record_glue)
    shell.user_ns.setdefault("glued", glued)
    return True


def placeholder(widget: Any, text: str) -> Any:
    """Make ``text`` the plain-text fallback of ``widget`` and return the widget.

    A saved notebook shows that fallback until the cell runs in a live kernel (the widget's model
    lives in the kernel), so it should tell the reader what to do, e.g. "Run this cell to play".
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"text must be a non-empty string, got {text!r}")
    bundle = getattr(widget, "_repr_mimebundle_", None)
    if not callable(bundle):
        raise TypeError(f"widget must be displayable with _repr_mimebundle_, got {type(widget).__name__}")

    def _with_placeholder(**kwargs: Any) -> Any:
        data = bundle(**kwargs)
        if isinstance(data, tuple):
            return {**data[0], "text/plain": text}, data[1]
        return {**data, "text/plain": text}

    widget._repr_mimebundle_ = _with_placeholder
    return widget


_install_glue_recorder()
