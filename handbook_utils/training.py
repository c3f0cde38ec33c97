"""The training loop every chapter calls: ``train(model, task, strategy, ...) -> History``.

Kept deliberately plain (AdamW, optional warm-up + cosine learning rate, gradient clipping) so that
the only thing that changes between experiments is the *strategy*, i.e. what the model reads.

- Repeatable: the same ``seed`` gives the same History on the CPU. ``seed_everything(seed)`` seeds
  model-side randomness (dropout, scheduled-sampling coins); a separate ``torch.Generator`` picks the
  data, so adding an evaluation never shifts which examples are trained on.
- Fresh data: every step draws a new batch from the task; an "epoch" is therefore just
  ``steps_per_epoch`` steps, and strategies read ``epoch = step / steps_per_epoch``.
- Curricula: if the task defines ``sample_at(n, seed, epoch)``, it is used instead of ``sample``.
- Cached: with ``cache=True`` (or a directory) a finished run is stored and re-used; see
  :mod:`handbook_utils.cache`.
- Fast where it can be: on CUDA, bf16 autocast and (opt-in) ``torch.compile``; on CPU plain float32.
- A tqdm progress bar, off for the whole package with ``set_progress(False)`` (``TQDM_DISABLE``
  does not reach notebook bars) or with the environment variable ``HANDBOOK_PROGRESS=0``.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
import warnings
from dataclasses import dataclass, field

import torch
import torch.nn as nn
from tqdm.auto import tqdm

from . import __version__
from . import cache as cache_lib
from .device import get_device, seed_everything
from .metrics import Evaluation, evaluate
from .strategies import Strategy, TeacherForcing
from .tasks import Task

_PROGRESS = os.environ.get("HANDBOOK_PROGRESS", "1").strip().lower() not in ("0", "false", "no", "off")


def set_progress(enabled: bool) -> None:
    """Switch every progress bar of the package on or off (e.g. when building the book)."""
    global _PROGRESS
    if not isinstance(enabled, bool):
        raise TypeError(f"enabled must be a bool, got {type(enabled).__name__}")
    _PROGRESS = enabled


def progress_enabled() -> bool:
    return _PROGRESS


@dataclass
class History:
    """What a training run produced: the per-step loss, periodic evaluations, and its settings."""

    steps: list[int]
    losses: list[float]
    evals: list[tuple[int, Evaluation]]
    wall_time_s: float
    config: dict
    lrs: list[float] = field(default_factory=list)
    from_cache: bool = False

    @property
    def final_eval(self) -> Evaluation | None:
        return self.evals[-1][1] if self.evals else None

    def to_dict(self) -> dict:
        return {
            "steps": list(self.steps),
            "losses": list(self.losses),
            "evals": [[step, ev.to_dict()] for step, ev in self.evals],
            "wall_time_s": self.wall_time_s,
            "config": self.config,
            "lrs": list(self.lrs),
        }

    @classmethod
    def from_dict(cls, d: dict, from_cache: bool = False) -> "History":
        evals = [(int(step), Evaluation(**ev)) for step, ev in d["evals"]]
        return cls(d["steps"], d["losses"], evals, d["wall_time_s"], d["config"], d.get("lrs", []), from_cache)


# --------------------------------------------------------------------------------------------
# Pieces of the loop


def configure_optimizer(model: nn.Module, lr: float, weight_decay: float, betas=(0.9, 0.99)):
    """AdamW; matrices decay, biases, norms and embeddings-as-vectors do not (as in nanoGPT)."""
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=betas)


def lr_at(step: int, steps: int, lr: float, warmup_steps: int, schedule: str, min_lr_ratio: float) -> float:
    """Linear warm-up, then constant or cosine decay to ``lr * min_lr_ratio`` at the last step."""
    if step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    if schedule == "constant":
        return lr
    progress = (step - warmup_steps) / max(1, steps - warmup_steps - 1)
    return lr * (min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def _sample(task, n: int, seed: int, epoch: float):
    """One batch of examples; a curriculum task may make it depend on training progress."""
    if hasattr(task, "sample_at"):
        return task.sample_at(n, seed, epoch)
    return task.sample(n, seed)


def _autocast(device: torch.device, amp: bool):
    if device.type == "cuda" and amp:
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _check_int(name, value, lo, hi=None):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < lo or (hi is not None and value > hi):
        raise ValueError(f"{name} must be in [{lo}, {hi if hi is not None else 'inf'}], got {value}")


def _check_float(name, value, lo, lo_open=False, hi=None):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    ok = math.isfinite(value) and (value > lo if lo_open else value >= lo) and (hi is None or value <= hi)
    if not ok:
        left = "(" if lo_open else "["
        raise ValueError(f"{name} must be a finite number in {left}{lo}, {hi if hi is not None else 'inf'}], got {value}")


def _validate(model, task, strategy, steps, batch_size, lr, seed, eval_every, eval_n, eval_seed, progress, cache,
              weight_decay, warmup_steps, lr_schedule, min_lr_ratio, grad_clip, steps_per_epoch, compile, amp):
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(task, Task):
        raise TypeError(f"task must be a handbook_utils.tasks.Task, got {type(task).__name__}")
    if not callable(getattr(strategy, "loss", None)):
        raise TypeError(f"strategy must have a loss(model, batch, epoch) method, got {type(strategy).__name__}")
    vocab = getattr(model, "vocab_size", None)
    if vocab is not None and vocab != task.tokenizer.vocab_size:
        raise ValueError(f"model has vocab_size {vocab} but task's tokenizer has {task.tokenizer.vocab_size}")
    block = getattr(model, "block_size", None)
    if block is not None and block < task.max_len:
        raise ValueError(f"model block_size {block} is shorter than the task's longest input ({task.max_len})")
    _check_int("steps", steps, 1)
    _check_int("batch_size", batch_size, 1)
    _check_float("lr", lr, 0.0, lo_open=True, hi=10.0)
    _check_int("seed", seed, 0, 2**32 - 1)
    if eval_every is not None:
        _check_int("eval_every", eval_every, 1)
    _check_int("eval_n", eval_n, 1)
    _check_int("eval_seed", eval_seed, 0)
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be a bool, got {type(progress).__name__}")
    if not isinstance(cache, (bool, str, os.PathLike)):
        raise TypeError(f"cache must be a bool, str or os.PathLike, got {type(cache).__name__}")
    _check_float("weight_decay", weight_decay, 0.0)
    _check_int("warmup_steps", warmup_steps, 0, steps)
    if lr_schedule not in ("constant", "cosine"):
        raise ValueError(f"lr_schedule must be 'constant' or 'cosine', got {lr_schedule!r}")
    _check_float("min_lr_ratio", min_lr_ratio, 0.0, hi=1.0)
    if grad_clip is not None:
        _check_float("grad_clip", grad_clip, 0.0, lo_open=True)
    _check_float("steps_per_epoch", steps_per_epoch, 0.0, lo_open=True)
    for name, value in (("compile", compile), ("amp", amp)):
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be a bool, got {type(value).__name__}")


# --------------------------------------------------------------------------------------------
# The loop


def train(
    model: nn.Module,
    task: Task,
    strategy: Strategy = TeacherForcing(),
    *,
    steps: int,
    batch_size: int,
    lr: float,
    seed: int,
    device=None,
    eval_every: int | None = None,
    eval_n: int = 256,
    eval_seed: int = 12345,
    progress: bool = True,
    cache: bool | str | os.PathLike = True,
    weight_decay: float = 0.0,
    warmup_steps: int = 0,
    lr_schedule: str = "cosine",
    min_lr_ratio: float = 0.1,
    grad_clip: float | None = 1.0,
    steps_per_epoch: float = 100,
    compile: bool = False,
    amp: bool = True,
) -> History:
    """Train ``model`` in place on fresh batches of ``task`` with ``strategy``; return its History.

    ``eval_every`` runs :func:`~handbook_utils.metrics.evaluate` on ``eval_n`` fixed examples
    (``eval_seed``) every that many steps and after the last one. ``cache`` is True (default
    directory), False, or a directory; on a hit the stored weights are loaded into ``model`` and the
    stored History is returned with ``from_cache=True``.
    """
    _validate(model, task, strategy, steps, batch_size, lr, seed, eval_every, eval_n, eval_seed, progress, cache,
              weight_decay, warmup_steps, lr_schedule, min_lr_ratio, grad_clip, steps_per_epoch, compile, amp)
    try:
        device = get_device(device)
    except ValueError as err:
        raise ValueError(f"device: {err}") from None
    if compile and device.type != "cuda":
        warnings.warn("compile=True only takes effect on CUDA; training uncompiled", stacklevel=2)
        compile = False
    settings = {
        "package_version": __version__,
        "torch_version": torch.__version__,
        "model": {
            "class": f"{type(model).__module__}.{type(model).__qualname__}",
            "config": getattr(model, "config", None),
            "initial_weights": cache_lib.weights_digest(model),
        },
        "task": task,
        "strategy": strategy,
        "train": dict(
            steps=steps, batch_size=batch_size, lr=lr, seed=seed, eval_every=eval_every, eval_n=eval_n,
            eval_seed=eval_seed, weight_decay=weight_decay, warmup_steps=warmup_steps, lr_schedule=lr_schedule,
            min_lr_ratio=min_lr_ratio, grad_clip=grad_clip, steps_per_epoch=steps_per_epoch, compile=compile, amp=amp,
        ),
        "device": device.type,
    }
    config = cache_lib.describe(settings, strict=cache is not False)  # fails early if the cache can't hash it
    if cache is not False:
        directory = cache_lib.cache_dir(None if cache is True else cache)
        key = cache_lib.make_key(config)
        stored = cache_lib.load(key, model, directory, config)
        if stored is not None:
            model.to(device)
            return History.from_dict(stored, from_cache=True)

    seed_everything(seed)
    data_rng = torch.Generator().manual_seed(seed)  # data order independent of model-side randomness
    model.to(device)
    model.train()
    fwd = torch.compile(model) if compile else model
    optimizer = configure_optimizer(model, lr, weight_decay)
    history = History(steps=[], losses=[], evals=[], wall_time_s=0.0, config=config)
    bar = tqdm(range(steps), disable=not (progress and _PROGRESS), desc=type(strategy).__name__, leave=False)
    t0 = time.perf_counter()
    for step in bar:
        epoch = step / steps_per_epoch
        lr_now = lr_at(step, steps, lr, warmup_steps, lr_schedule, min_lr_ratio)
        for group in optimizer.param_groups:
            group["lr"] = lr_now
        step_seed = int(torch.randint(0, 2**31 - 1, (1,), generator=data_rng))
        batch = task.batch(_sample(task, batch_size, step_seed, epoch), device=device)
        with _autocast(device, amp):
            loss = strategy.loss(fwd, batch, epoch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        value = loss.item()
        if not math.isfinite(value):
            raise FloatingPointError(f"loss became {value} at step {step}; lower lr or enable grad_clip")
        history.steps.append(step + 1)
        history.losses.append(value)
        history.lrs.append(lr_now)
        if step % 10 == 0:
            bar.set_postfix(loss=f"{value:.4f}")
        if eval_every is not None and ((step + 1) % eval_every == 0 or step + 1 == steps):
            history.evals.append((step + 1, evaluate(model, task, eval_n, eval_seed)))
            model.train()
    history.wall_time_s = time.perf_counter() - t0
    bar.close()
    if cache is not False:
        cache_lib.save(key, model, history.to_dict(), directory, config)
    return history
