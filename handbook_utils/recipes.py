"""Named, cached training recipes that several chapters share.

A :class:`Recipe` is everything that decides a trained model: the task, the model's config (as
overrides of ``GPTConfig.for_task`` / ``GRUConfig.for_task``), the strategy and the arguments of
:func:`handbook_utils.training.train`. ``recipe.run()`` trains it with the on-disk cache switched
on, so the second chapter that asks for the same recipe loads the weights instead of retraining.

The size knob
-------------
Every recipe function takes ``size``:

- ``"quick"`` (the default): trains on a 2-core CPU in about a minute. This is what the book is
  built with and every number in the text comes from it.
- ``"gpu"``: a bigger model, more steps and, for the addition task, chains of up to ten terms with
  numbers up to 10, whose targets average about 140 characters, the length of the example that
  opens chapter 3 (``AdditionChainTask(n_terms=10, max_value=10).example(list(range(1, 11)))`` is
  142 characters). Minutes on a GPU; far too slow for a CPU.

``size=None`` reads the environment variable ``HANDBOOK_SIZE`` (``quick`` when it is unset), so
``HANDBOOK_SIZE=gpu make book`` rebuilds the whole book at the larger size.

Usage::

    from handbook_utils.recipes import addition_model, addition_recipe

    model, task, history = addition_model()            # quick, cached
    long = addition_recipe(size="gpu")                 # look before you train
    short = addition_recipe(steps=300).run()           # any train argument can be overridden
    ss = addition_recipe().replace(strategy=ScheduledSampling(0.25, mode="parallel"))
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from . import checks
from .device import get_device
from .models import GPTConfig, GRUConfig, count_parameters, make_model
from .runtime import cpu_threads, env
from .strategies import Strategy, TeacherForcing
from .tasks import AdditionChainTask, MarkovTask, Task
from .training import History, TrainConfig, train

__all__ = [
    "SIZES",
    "Recipe",
    "Trained",
    "default_size",
    "addition_recipe",
    "addition_model",
    "markov_recipe",
    "markov_model",
    "five_term_recipe",
]

SIZES = ("quick", "gpu")

_TRAIN_KEYS = TrainConfig.field_names()


def default_size() -> str:
    """``$HANDBOOK_SIZE`` if set (``quick`` or ``gpu``), otherwise ``"quick"``."""
    value = (env("HANDBOOK_SIZE") or "quick").lower()
    if value not in SIZES:
        raise ValueError(f"HANDBOOK_SIZE={value!r} is not a known size; use one of {list(SIZES)}")
    return value


def _size(size) -> str:
    if size is None:
        return default_size()
    if not isinstance(size, str):
        raise TypeError(f"size must be a str or None, got {type(size).__name__}")
    if size not in SIZES:
        raise ValueError(f"size must be one of {list(SIZES)}, got {size!r}")
    return size


def _frozen(mapping, name: str) -> Mapping:
    if not isinstance(mapping, Mapping):
        raise TypeError(f"{name} must be a mapping (dict), got {type(mapping).__name__}")
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class Recipe:
    """A task, a model config and training arguments: one reproducible trained model.

    ``model`` holds overrides for ``GPTConfig.for_task(task, ...)`` (or ``GRUConfig`` when
    ``arch="gru"``); ``train`` holds keyword arguments of :func:`~handbook_utils.training.train`
    (``steps``, ``batch_size``, ``lr`` and ``seed`` are required). Both are stored read-only; use
    :meth:`replace` to derive a variant.

    ``init``: another recipe whose *trained* weights this one starts from (trained or loaded from the
    cache first). That is how a run continues in stages (the stages are then cached one by one, and
    the model after each stage is available on its own), and how a teacher-forced model is
    fine-tuned with another strategy: ``Recipe(..., strategy=ScheduledSampling(...), init=tf)``.
    Both recipes must build the same model config.
    """

    name: str
    task: Task
    model: Mapping[str, Any] = field(default_factory=dict)
    train: Mapping[str, Any] = field(default_factory=dict)
    strategy: Strategy = TeacherForcing()
    arch: str = "gpt"
    model_seed: int = 0
    init: Recipe | None = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise TypeError("name must be a non-empty str")
        if not isinstance(self.task, Task):
            raise TypeError(f"task must be a handbook_utils.tasks.Task, got {type(self.task).__name__}")
        if self.arch not in ("gpt", "gru"):
            raise ValueError(f"arch must be 'gpt' or 'gru', got {self.arch!r}")
        checks.instance("strategy", self.strategy, Strategy, "handbook_utils.strategies.Strategy instance")
        checks.seed("model_seed", self.model_seed)
        object.__setattr__(self, "model", _frozen(self.model, "model"))
        object.__setattr__(self, "train", _frozen(self.train, "train"))
        unknown = set(self.train) - _TRAIN_KEYS
        if unknown:
            raise ValueError(f"train has unknown arguments {sorted(unknown)}; known: {sorted(_TRAIN_KEYS)}")
        missing = {"steps", "batch_size", "lr", "seed"} - set(self.train)
        if missing:
            raise ValueError(f"train must set {sorted(missing)}")
        TrainConfig(**self.train)  # every value checked now, not after the first stage has trained
        if self.init is not None:
            if not isinstance(self.init, Recipe):
                raise TypeError(f"init must be a Recipe or None, got {type(self.init).__name__}")
            if self.init.arch != self.arch or self.init.config() != self.config():
                raise ValueError("init must build the same model (arch and config) as this recipe")

    def __reduce__(self):
        """Pickle as plain fields (the read-only mappings cannot be pickled): grid workers receive recipes."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        fields["model"], fields["train"] = dict(self.model), dict(self.train)
        return (_recipe_from_fields, (fields,))

    # ---------------------------------------------------------------- deriving variants

    def replace(self, *, model: Mapping | None = None, train: Mapping | None = None, **changes) -> Recipe:
        """A copy with some fields changed. ``model`` and ``train`` are *merged* into the current ones;
        any training argument may also be given directly: ``recipe.replace(steps=300, seed=1)``."""
        train_changes = {k: changes.pop(k) for k in list(changes) if k in _TRAIN_KEYS}
        new_model = {**self.model, **(model or {})}
        new_train = {**self.train, **(train or {}), **train_changes}
        return dataclasses.replace(self, model=new_model, train=new_train, **changes)

    # ---------------------------------------------------------------- building and training

    @property
    def steps(self) -> int:
        """Steps of this stage alone."""
        return self.train["steps"]

    @property
    def total_steps(self) -> int:
        """Steps of this stage and of every stage before it (see ``init``)."""
        return self.steps + (self.init.total_steps if self.init is not None else 0)

    @property
    def stages(self) -> list[Recipe]:
        """The stages in training order, this recipe last."""
        return (self.init.stages if self.init is not None else []) + [self]

    def config(self) -> GPTConfig | GRUConfig:
        cls = GPTConfig if self.arch == "gpt" else GRUConfig
        return cls.for_task(self.task, **self.model)

    def build_model(self):
        """The untrained model, with weights drawn from ``model_seed`` (always the same ones)."""
        return make_model(self.config(), seed=self.model_seed)

    def run(
        self, *, cache: bool | str | os.PathLike = True, progress: bool = True, device=None, threads: int | None = 1
    ) -> Trained:
        """Train (or load from the cache) and return the :class:`Trained` model, task and history.

        ``threads``: on the CPU, train with this many torch threads (restored afterwards); ``None``
        keeps torch's setting. The default of one thread makes the trained weights, and so every
        number on the page, independent of how many cores the machine has, and these small models
        lose little by it: on a 2-core machine that is busy with anything else, two threads were
        measured 10 to 25 times *slower* than one.
        """
        if threads is not None:
            checks.positive_int("threads", threads)
        before = None
        model = self.build_model()
        if self.init is not None:
            before = self.init.run(cache=cache, progress=progress, device=device, threads=threads)
            model.load_state_dict(before.model.state_dict())
        with cpu_threads(threads if get_device(device).type == "cpu" else None):
            history = train(model, self.task, self.strategy, cache=cache, progress=progress, device=device,
                            **self.train)
        model.eval()
        if before is not None:
            history = _chain(before.history, history)
        return Trained(model=model, task=self.task, history=history, recipe=self)

    def describe(self) -> str:
        """One line for the page: task, model size and training budget."""
        cfg = self.config()
        if self.arch == "gpt":
            net = f"GPT {cfg.n_layer} layers × {cfg.n_embd} wide"
        else:
            net = f"GRU {cfg.n_layer} layer(s) × {cfg.n_hidden} hidden"
        n_params = count_parameters(self.build_model())
        budget = " then ".join(f"{r.steps} steps at lr {r.train['lr']:g}" for r in self.stages)
        return (
            f"{self.name}: {self.task!r}; {net} ({n_params:,} parameters); "
            f"batch {self.train['batch_size']}, {budget}"
        )


def _recipe_from_fields(fields: dict) -> Recipe:
    return Recipe(**fields)


def _chain(first: History, second: History) -> History:
    """One History for two consecutive stages: the second's steps continue the first's."""
    offset = first.steps[-1] if first.steps else 0
    return History(
        steps=list(first.steps) + [s + offset for s in second.steps],
        losses=list(first.losses) + list(second.losses),
        evals=list(first.evals) + [(s + offset, ev) for s, ev in second.evals],
        wall_time_s=first.wall_time_s + second.wall_time_s,
        config=second.config,
        lrs=list(first.lrs) + list(second.lrs),
        from_cache=first.from_cache and second.from_cache,
    )


@dataclass
class Trained:
    """A trained model with its task, history and recipe. Unpacks as ``model, task, history``."""

    model: Any
    task: Task
    history: History
    recipe: Recipe

    def __iter__(self):
        return iter((self.model, self.task, self.history))

    @property
    def final_eval(self):
        return self.history.final_eval


# ---------------------------------------------------------------------------------------------
# The addition chain (chapters 3, 4 and 6)

# Two stages, so that the model after the first one is available too (chapter 4 compares them).
# quick, measured on the 2-core CPU (torch 2.13, one thread): about 18 s for stage 1 (400 steps,
# teacher-forced token accuracy 0.937) and 25 s for stage 2 (600 more steps at a lower learning
# rate, fresh data): final token accuracy 0.988 with greedy exact match 0.68 on targets of 21 to 63
# characters. Long enough for compounding to show, short enough to train live.
_ADDITION = {
    "quick": dict(
        task=dict(n_terms=(2, 6), max_value=9, split="train"),  # measured on task.held_out_task()
        model=dict(),  # the GPTConfig defaults: 2 layers, 4 heads, 64 wide (~0.1 M parameters)
        stage1=dict(steps=400, batch_size=32, lr=5e-3, seed=0, eval_every=125, eval_n=256, eval_seed=12345),
        stage2=dict(steps=600, batch_size=32, lr=3e-3, seed=1, eval_every=125, eval_n=256, eval_seed=12345),
    ),
    # gpu: chains of 2 to 10 terms with numbers up to 10 (ten-term targets average ~138 characters),
    # a 4-layer, 256-wide model and 4x the batch. Not measured on the CPU machine the book is built on.
    "gpu": dict(
        task=dict(n_terms=(2, 10), max_value=10, split="train"),
        model=dict(n_layer=4, n_head=8, n_embd=256),
        stage1=dict(steps=2000, batch_size=128, lr=1e-3, warmup_steps=200, seed=0, eval_every=500, eval_n=512,
                    eval_seed=12345),
        stage2=dict(steps=4000, batch_size=128, lr=6e-4, seed=1, eval_every=500, eval_n=512, eval_seed=12345),
    ),
}


def addition_recipe(
    size: str | None = None,
    *,
    n_terms: int | tuple[int, int] | None = None,
    max_value: int | None = None,
    model: Mapping | None = None,
    strategy: Strategy | None = None,
    stage: int = 2,
    **train_overrides,
) -> Recipe:
    """The reasoning-addition recipe ``1+2+3=<think>1+2+3=3+3=6</think>6`` at ``size``.

    It trains in two stages: ``stage=1`` returns the first alone, ``stage=2`` (the default) the
    whole run, a recipe whose ``init`` is stage 1. ``n_terms``/``max_value`` change the task and
    ``model`` the config (of both stages); ``strategy`` and any keyword of
    :func:`~handbook_utils.training.train` (``steps``, ``seed``, ``lr`` ...) change the returned
    stage only. For one stage from scratch, ``addition_recipe(stage=1, steps=...)``.
    """
    size = _size(size)
    if stage not in (1, 2):
        raise ValueError(f"stage must be 1 or 2, got {stage!r}")
    base = _ADDITION[size]
    task_kw = dict(base["task"])
    if n_terms is not None:
        task_kw["n_terms"] = n_terms
    if max_value is not None:
        task_kw["max_value"] = max_value
    unknown = set(train_overrides) - _TRAIN_KEYS
    if unknown:
        raise TypeError(f"addition_recipe got unexpected arguments {sorted(unknown)}")
    task = AdditionChainTask(**task_kw)
    model_kw = {**base["model"], **(model or {})}
    first = Recipe(name=f"addition-{size}-stage1", task=task, model=model_kw, train=base["stage1"])
    if stage == 1:
        recipe = first.replace(train=train_overrides)
    else:
        recipe = Recipe(name=f"addition-{size}", task=task, model=model_kw, train={**base["stage2"], **train_overrides},
                        init=first)
    return recipe.replace(strategy=strategy) if strategy is not None else recipe


def addition_model(size: str | None = None, *, cache=True, progress: bool = True, device=None, threads=1,
                   **kwargs) -> Trained:
    """Train (or load) :func:`addition_recipe` ``(size, **kwargs)``: ``model, task, history = addition_model()``."""
    return addition_recipe(size, **kwargs).run(cache=cache, progress=progress, device=device, threads=threads)


# ---------------------------------------------------------------------------------------------
# A known Markov chain (chapter 4): exact KL at every position

# quick: an order-2 chain over 6 letters with peaked rows, 32 letters long; a one-layer GPT 32 wide.
# Measured on the 2-core CPU (one thread): about 6 s for the 400 steps, mean exact KL 0.034 nats
# per letter on true prefixes.
_MARKOV = {
    "quick": dict(
        task=dict(n_states=6, order=2, length=32, concentration=0.3, seed=0),
        model=dict(n_layer=1, n_head=2, n_embd=32),
        train=dict(steps=400, batch_size=32, lr=5e-3, seed=0),
    ),
    "gpu": dict(
        task=dict(n_states=8, order=3, length=128, concentration=0.3, seed=0),
        model=dict(n_layer=4, n_head=8, n_embd=256),
        train=dict(steps=4000, batch_size=128, lr=1e-3, warmup_steps=200, seed=0),
    ),
}


def markov_recipe(
    size: str | None = None,
    *,
    task: Mapping | None = None,
    model: Mapping | None = None,
    strategy: Strategy | None = None,
    **train_overrides,
) -> Recipe:
    """A GPT trained on strings of a known :class:`~handbook_utils.tasks.markov.MarkovTask`.

    ``task`` overrides MarkovTask fields (``n_states``, ``order``, ``length``, ...); the rest as in
    :func:`addition_recipe`.
    """
    size = _size(size)
    base = _MARKOV[size]
    unknown = set(train_overrides) - _TRAIN_KEYS
    if unknown:
        raise TypeError(f"markov_recipe got unexpected arguments {sorted(unknown)}")
    recipe = Recipe(
        name=f"markov-{size}",
        task=MarkovTask(**{**base["task"], **(task or {})}),
        model={**base["model"], **(model or {})},
        train={**base["train"], **train_overrides},
    )
    return recipe.replace(strategy=strategy) if strategy is not None else recipe


def markov_model(size: str | None = None, *, cache=True, progress: bool = True, device=None, threads=1,
                 **kwargs) -> Trained:
    """Train (or load) :func:`markov_recipe` ``(size, **kwargs)``."""
    return markov_recipe(size, **kwargs).run(cache=cache, progress=progress, device=device, threads=threads)


def five_term_recipe() -> Recipe:
    """The training-speed target of ``benchmarks/run.py``: exactly five terms, 1000 steps, on the CPU.

    It trains further than the quick recipe relative to its task: measured teacher-forced token
    accuracy 0.9999 and exact match 0.994, so compounding barely shows. Kept for comparisons.
    """
    return Recipe(
        name="addition-five-term",
        task=AdditionChainTask(n_terms=5, max_value=9),
        model={},
        train=dict(steps=1000, batch_size=32, lr=5e-3, seed=0, eval_every=1000, eval_n=512),
    )
