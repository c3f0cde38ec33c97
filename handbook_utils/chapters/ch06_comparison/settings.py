"""How big the comparison of chapter 6 is: tasks, seeds, model and training budget ("quick" for the
book, "full" for the results store)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...recipes import Recipe
from ...tasks import AdditionChainTask


@dataclass(frozen=True)
class ComparisonSetting:
    """Everything that sizes the comparison: tasks, seeds, model and training budget.

    Each task is trained for ``steps`` steps, spread over ``total_epochs`` epochs (the schedules and
    the curriculum read the epoch), and evaluated every ``eval_every`` steps on ``eval_n`` fixed
    examples. Recovery is measured by corrupting one digit at target index ``injection_position``
    of ``injection_n`` gold chains (see :func:`handbook_utils.metrics.inject_error_and_continue`).
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

    def __post_init__(self):
        if not self.tasks or not all(isinstance(t, AdditionChainTask) for _, t in self.tasks):
            raise ValueError("tasks must be a non-empty tuple of (label, AdditionChainTask)")
        if not self.seeds:
            raise ValueError("seeds must hold at least one seed")
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


SETTINGS: dict[str, ComparisonSetting] = {
    # quick: what the book is built with. A one-layer, 32-wide GPT (about 16 k parameters) trained
    # for 300 steps of 8 chains: the 36 runs (6 arms × 2 tasks × 3 seeds) took 62 CPU-seconds on the
    # 2-core machine the book is built on, shared by two worker processes.
    "quick": ComparisonSetting(
        name="quick",
        tasks=(
            ("short chains", AdditionChainTask(n_terms=(2, 4), max_value=5)),
            ("long chains", AdditionChainTask(n_terms=(4, 6), max_value=2)),
        ),
        seeds=(0, 1, 2),
        model=dict(n_layer=1, n_head=2, n_embd=32),
        steps=300,
        batch_size=8,
        lr=2e-2,
        eval_every=100,
    ),
    # full: the model and the task of the shared addition recipe (handbook_utils.recipes: 2 layers,
    # 64 wide, chains of 2 to 6 terms) with its total budget of 1000 steps of 32 chains, trained from
    # scratch for every arm, and chains of 5 to 8 terms; five seeds. Sixty runs of about a minute
    # each on the CPU: run it on a GPU, or overnight.
    "full": ComparisonSetting(
        name="full",
        tasks=(
            ("short chains", AdditionChainTask(n_terms=(2, 6), max_value=9)),
            ("long chains", AdditionChainTask(n_terms=(5, 8), max_value=3)),
        ),
        seeds=(0, 1, 2, 3, 4),
        model=dict(),
        steps=1000,
        batch_size=32,
        lr=5e-3,
        eval_every=125,
        eval_n=512,
        injection_n=256,
    ),
}


def get_setting(setting: str | ComparisonSetting) -> ComparisonSetting:
    """``"quick"``, ``"full"`` or a :class:`ComparisonSetting` itself."""
    if isinstance(setting, ComparisonSetting):
        return setting
    if setting not in SETTINGS:
        raise ValueError(f"setting must be one of {sorted(SETTINGS)} or a ComparisonSetting, got {setting!r}")
    return SETTINGS[setting]


