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
- A tqdm progress bar (a widget with the time left, in JupyterLab), off for the whole package with
  ``set_progress(False)`` (``TQDM_DISABLE`` does not reach notebook bars) or with the environment
  variable ``HANDBOOK_PROGRESS=0``, which the book build, nbval and ``make notebooks`` set.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import time
import warnings
from dataclasses import dataclass, field

import torch
import torch.nn as nn
from tqdm.auto import tqdm

from . import cache as cache_lib
from . import checks
from .device import get_device, seed_everything
from .metrics import Evaluation, evaluate
from .runtime import progress_enabled, set_progress
from .strategies import Strategy, TeacherForcing
from .tasks import Task

__all__ = ["History", "TrainConfig", "configure_optimizer", "lr_at", "progress_enabled", "set_progress", "train"]


@dataclass(frozen=True)
class TrainConfig:
    """Every training argument that changes the result, validated once; the cache hashes it.

    Recipes store these as a mapping (``Recipe.train``) and build a TrainConfig from it; a chapter may
    pass one to :func:`train` or give the same names as keywords.
    """

    steps: int
    batch_size: int
    lr: float
    seed: int
    eval_every: int | None = None  # evaluate every that many steps and after the last one
    eval_n: int = 256  # examples per evaluation (the same ones each time: eval_seed)
    eval_seed: int = 12345
    weight_decay: float = 0.0
    warmup_steps: int = 0  # linear warm-up, then lr_schedule
    lr_schedule: str = "cosine"  # "constant" or "cosine" (decays to lr * min_lr_ratio)
    min_lr_ratio: float = 0.1
    grad_clip: float | None = 1.0  # max gradient norm, None for no clipping
    steps_per_epoch: float = 100  # fresh data every step: an "epoch" is just a unit of training time
    compile: bool = False  # torch.compile (CUDA only)
    amp: bool = True  # bf16 autocast (CUDA only)

    def __post_init__(self):
        checks.positive_int("steps", self.steps)
        checks.positive_int("batch_size", self.batch_size)
        checks.number("lr", self.lr, 0.0, 10.0, lo_open=True)
        checks.seed("seed", self.seed)
        if self.eval_every is not None:
            checks.positive_int("eval_every", self.eval_every)
        checks.positive_int("eval_n", self.eval_n)
        checks.non_negative_int("eval_seed", self.eval_seed)
        checks.non_negative("weight_decay", self.weight_decay)
        checks.integer("warmup_steps", self.warmup_steps, 0, self.steps)
        checks.one_of("lr_schedule", self.lr_schedule, ("constant", "cosine"))
        checks.probability("min_lr_ratio", self.min_lr_ratio)
        if self.grad_clip is not None:
            checks.positive("grad_clip", self.grad_clip)
        checks.positive("steps_per_epoch", self.steps_per_epoch)
        checks.boolean("compile", self.compile)
        checks.boolean("amp", self.amp)

    @classmethod
    def field_names(cls) -> frozenset[str]:
        return frozenset(f.name for f in dataclasses.fields(cls))


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

    def timing_note(self) -> str:
        """One honest sentence on where the model came from and what training it cost.

        A model loaded from the cache took no training time now: its ``wall_time_s`` is the time the
        run took when it was cached, so the note says so instead of "trained in 55 s".
        """
        if self.from_cache:
            return f"loaded from the cache (training it took {self.wall_time_s:.0f} s when it was cached)"
        return f"trained in {self.wall_time_s:.0f} s"

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
    def from_dict(cls, d: dict, from_cache: bool = False) -> History:
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


def _autocast(device: torch.device, amp: bool):
    if device.type == "cuda" and amp:
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _check_pairing(model, task, strategy) -> None:
    checks.instance("model", model, nn.Module, "torch.nn.Module")
    checks.instance("task", task, Task, "handbook_utils.tasks.Task")
    checks.instance("strategy", strategy, Strategy, "handbook_utils.strategies.Strategy instance")
    checks.same_vocabulary(model, task.tokenizer)
    block = getattr(model, "block_size", None)
    if block is not None and block < task.max_len:
        raise ValueError(f"model block_size {block} is shorter than the task's longest input ({task.max_len})")
    if task.teacherless and not isinstance(strategy, TeacherForcing):
        raise ValueError(
            f"strategy {type(strategy).__name__} would replace the dummy inputs of a teacherless task with the "
            "model's own tokens; a teacherless task trains with TeacherForcing() (its inputs are dummies already)"
        )


# --------------------------------------------------------------------------------------------
# The loop


def train(
    model: nn.Module,
    task: Task,
    strategy: Strategy = TeacherForcing(),
    config: TrainConfig | None = None,
    *,
    device=None,
    progress: bool = True,
    cache: bool | str | os.PathLike = True,
    **settings,
) -> History:
    """Train ``model`` in place on fresh batches of ``task`` with ``strategy``; return its History.

    The training arguments are a :class:`TrainConfig`, given as ``config`` or as keywords of the same
    names (``train(model, task, steps=300, batch_size=32, lr=5e-3, seed=0)``); keywords override
    fields of ``config``. ``eval_every`` runs :func:`~handbook_utils.metrics.evaluate` on ``eval_n``
    fixed examples (``eval_seed``) of ``task.held_out_task()`` (held-out problems when the task keeps
    a split) every that many steps and after the last one. ``cache`` is True
    (default directory), False, or a directory; on a hit the stored weights are loaded into ``model``
    and the stored History is returned with ``from_cache=True``. Either way the global random
    generators are left seeded from ``seed``, so code that samples afterwards behaves the same after a
    cold and a warm run. On the CPU the thread count is part of the cache key (it changes the weights).
    """
    unknown = set(settings) - TrainConfig.field_names()
    if unknown:
        raise TypeError(f"train() got unknown arguments {sorted(unknown)}; known: {sorted(TrainConfig.field_names())}")
    if config is None:
        config = TrainConfig(**settings)
    else:
        checks.instance("config", config, TrainConfig)
        config = dataclasses.replace(config, **settings)
    _check_pairing(model, task, strategy)
    checks.boolean("progress", progress)
    if not isinstance(cache, (bool, str, os.PathLike)):
        raise TypeError(f"cache must be a bool, str or os.PathLike, got {type(cache).__name__}")
    try:
        device = get_device(device)
    except ValueError as err:
        raise ValueError(f"device: {err}") from None
    if config.compile and device.type != "cuda":
        warnings.warn("compile=True only takes effect on CUDA; training uncompiled", stacklevel=2)
        config = dataclasses.replace(config, compile=False)
    settings_key = {
        "model": {
            "class": f"{type(model).__module__}.{type(model).__qualname__}",
            "config": getattr(model, "config", None),
            "initial_weights": cache_lib.weights_digest(model),
        },
        "task": task,
        "strategy": strategy,
        "train": config,
        "device": device.type,
        "threads": torch.get_num_threads() if device.type == "cpu" else None,
    }
    described = cache_lib.describe(settings_key, strict=cache is not False)  # fails early if it can't hash
    directory = None
    if cache is not False:
        directory = cache_lib.cache_dir(None if cache is True else cache)
        key = cache_lib.make_key(described)
        stored = cache_lib.load_model(key, model, directory, described)
        if stored is not None:
            model.to(device)
            seed_everything(config.seed)
            return History.from_dict(stored, from_cache=True)
        problem = cache_lib.writable_problem(directory)
        if problem:
            warnings.warn(f"the cache directory {directory} is not writable ({problem}); training without "
                          "caching the result", stacklevel=2)
            directory = None
    history = _run(model, task, strategy, config, device, progress, described)
    if directory is not None:
        cache_lib.save_model(key, model, history.to_dict(), directory, described)
    seed_everything(config.seed)
    return history


def _run(model, task: Task, strategy: Strategy, c: TrainConfig, device, progress: bool, described) -> History:
    """The loop itself: one fresh batch per step, loss, backward, clip, step."""
    seed_everything(c.seed)
    data_rng = torch.Generator().manual_seed(c.seed)  # data order independent of model-side randomness
    held_out = task.held_out_task()  # evaluations measure problems the training stream cannot contain
    model.to(device)
    model.train()
    fwd = torch.compile(model) if c.compile else model
    optimizer = configure_optimizer(model, c.lr, c.weight_decay)
    history = History(steps=[], losses=[], evals=[], wall_time_s=0.0, config=described)
    bar = tqdm(range(c.steps), disable=not (progress and progress_enabled()), desc=type(strategy).__name__,
               leave=False)
    t0 = time.perf_counter()
    for step in bar:
        epoch = step / c.steps_per_epoch
        lr_now = lr_at(step, c.steps, c.lr, c.warmup_steps, c.lr_schedule, c.min_lr_ratio)
        for group in optimizer.param_groups:
            group["lr"] = lr_now
        step_seed = int(torch.randint(0, 2**31 - 1, (1,), generator=data_rng))
        batch = task.batch(task.sample_at(c.batch_size, step_seed, epoch), device=device)
        with _autocast(device, c.amp):
            loss = strategy.loss(fwd, batch, epoch)
        value = loss.item()
        if not math.isfinite(value):  # before backward and step: the model keeps its last finite weights
            clip = f"grad_clip is {c.grad_clip}" if c.grad_clip is not None else "grad_clip is off"
            raise FloatingPointError(
                f"loss became {value} at step {step + 1} of {c.steps}; the model keeps the weights of the step "
                f"before. Lower lr (now {c.lr:g}; {clip})."
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if c.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), c.grad_clip)
        optimizer.step()
        history.steps.append(step + 1)
        history.losses.append(value)
        history.lrs.append(lr_now)
        if step % 10 == 0:
            bar.set_postfix(loss=f"{value:.4f}")
        if c.eval_every is not None and ((step + 1) % c.eval_every == 0 or step + 1 == c.steps):
            history.evals.append((step + 1, evaluate(model, held_out, c.eval_n, c.eval_seed)))
            model.train()
    history.wall_time_s = time.perf_counter() - t0
    bar.close()
    return history
