"""How big the comparison of chapter 6 is: tasks, seeds, model and training budget ("quick" for the
book, "full" for the results store)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ... import checks
from ...recipes import Recipe
from ...tasks import AdditionChainTask
from .arms import ARM_NAMES, QUICK_ARMS


@dataclass(frozen=True)
class ComparisonSetting:
    """Everything that sizes the comparison: tasks, arms, seeds, model and training budget.

    Each task trains on its training split for ``steps`` steps, spread over ``total_epochs`` epochs
    (the schedules and the curriculum read the epoch), and is evaluated every ``eval_every`` steps on
    ``eval_n`` fixed held-out problems (the test split, which the training stream cannot contain).
    Recovery is measured by corrupting one digit at target index ``injection_position`` of
    ``injection_n`` held-out gold chains, with a wrong digit that occurs in the task (see
    :func:`.runs.slip_task`).
    """

    name: str
    tasks: tuple[tuple[str, AdditionChainTask], ...]
    seeds: tuple[int, ...]
    model: Mapping[str, Any]
    steps: int
    batch_size: int
    lr: float
    eval_every: int
    eval_n: int = 256
    total_epochs: float = 100.0
    injection_n: int = 128
    injection_position: int = 7  # the first digit after "<think>": the model's copy of the first term
    injection_seed: int = 777
    arms: tuple[str, ...] = QUICK_ARMS

    def __post_init__(self):
        if not self.tasks or not all(isinstance(t, AdditionChainTask) for _, t in self.tasks):
            raise ValueError("tasks must be a non-empty tuple of (label, AdditionChainTask)")
        if any(t.split != "train" for _, t in self.tasks):
            raise ValueError("every task must be a training split (split='train'): the comparison measures "
                             "on held-out problems")
        checks.grid(self.seeds, self.arms, ARM_NAMES)
        object.__setattr__(self, "model", dict(self.model))

    @property
    def task_names(self) -> list[str]:
        return [name for name, _ in self.tasks]

    def task(self, name: str) -> AdditionChainTask:
        for label, task in self.tasks:
            if label == name:
                return task
        raise KeyError(f"no task named {name!r}; known: {self.task_names}")

    def base_recipe(self, task_name: str) -> Recipe:
        """One training stage from scratch on ``task_name``, teacher forced: what every arm modifies.

        A plain :class:`~handbook_utils.recipes.Recipe`, so runs go through ``Recipe.run`` and the
        shared model cache like every other trained model of the book.
        """
        task = self.task(task_name)
        return Recipe(
            name=f"comparison-{self.name}",
            task=task,
            model=self.model,
            train=dict(steps=self.steps, batch_size=self.batch_size, lr=self.lr, seed=0,
                       eval_every=self.eval_every, eval_n=self.eval_n, steps_per_epoch=self.steps_per_epoch),
        )

    @property
    def steps_per_epoch(self) -> float:
        return self.steps / self.total_epochs


SHORT = AdditionChainTask(n_terms=(2, 3), max_value=9, split="train")
LONG = AdditionChainTask(n_terms=(5, 6), max_value=9, split="train")
"""The two tasks differ in one thing, the length of the chain: both add numbers from 0 to 9."""

SETTINGS: dict[str, ComparisonSetting] = {
    # full: what results/ch06_full.json holds (python -m handbook_utils.experiments run ch06). The
    # addition recipe's model (2 layers, 64 wide, ~0.1 M parameters) trained from scratch for 1000
    # steps of 32 chains per arm, evaluated 10 times. A pilot on the 2-core machine (one thread):
    # teacher forcing reached a held-out loss of 0.0008 on short chains (27 s) and 0.013 on long
    # chains (51 s).
    "full": ComparisonSetting(
        name="full",
        tasks=(("short chains", SHORT), ("long chains", LONG)),
        seeds=(0, 1, 2, 3, 4),
        model=dict(),
        steps=1000,
        batch_size=32,
        lr=5e-3,
        eval_every=100,
        eval_n=256,
        injection_n=256,
        arms=ARM_NAMES,
    ),
    # quick: what the page trains live, in about half a minute on two cores: the short chains only,
    # a one-layer, 48-wide GPT, 400 steps of 16 chains, six arms, three seeds (a demonstration,
    # labelled as such on the page; the long chains need the full setting's model and budget).
    "quick": ComparisonSetting(
        name="quick",
        tasks=(("short chains", SHORT),),
        seeds=(0, 1, 2),
        model=dict(n_layer=1, n_head=2, n_embd=48),
        steps=400,
        batch_size=16,
        lr=1e-2,
        eval_every=80,
        eval_n=128,
        injection_n=128,
    ),
    # smoke: seconds, for the tests.
    "smoke": ComparisonSetting(
        name="smoke",
        tasks=(("short chains", SHORT), ("long chains", LONG)),
        seeds=(0, 1),
        model=dict(n_layer=1, n_head=2, n_embd=16),
        steps=4,
        batch_size=4,
        lr=1e-2,
        eval_every=2,
        eval_n=8,
        injection_n=8,
        arms=("teacher forcing", "free running", "uniform noise", "curriculum"),
    ),
}


def get_setting(setting: str | ComparisonSetting) -> ComparisonSetting:
    """``"quick"``, ``"full"`` or a :class:`ComparisonSetting` itself."""
    if isinstance(setting, ComparisonSetting):
        return setting
    if setting not in SETTINGS:
        raise ValueError(f"setting must be one of {sorted(SETTINGS)} or a ComparisonSetting, got {setting!r}")
    return SETTINGS[setting]


