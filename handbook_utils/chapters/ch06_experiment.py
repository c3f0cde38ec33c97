"""Chapter 6, *Scheduled sampling in practice*: the remedies for exposure bias trained side by side,
arms × tasks × seeds, each model from scratch on the training split and measured on held-out problems.

The grid is :data:`SETTINGS` ``[name]``: two tasks that differ only in the length of the chain
(2–3 against 5–6 numbers from 0 to 9), the arms of :func:`.ch06_comparison.arms.make_arm` (teacher
forcing; scheduled sampling with three schedule families and a sweep of the point where the
probability reaches one half; free running; the one-pass variant; the uniform-noise control; a
curriculum) and the seeds. Every cell trains one model (:meth:`~handbook_utils.recipes.Recipe.run`,
so the weights land in the model cache) and measures it (:func:`.ch06_comparison.runs.run_one`).

The chapter trains the ``quick`` setting live through the same :func:`run_cell`
(:func:`.ch06_comparison.grid.run_grid`) and reads ``results/ch06_full.json``, written by
``python -m handbook_utils.experiments run ch06``; :mod:`handbook_utils.experiments` declares the
modules its numbers depend on.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import checks
from ..recipes import Recipe
from .ch06_comparison.arms import make_arm
from .ch06_comparison.runs import run_one
from .ch06_comparison.settings import SETTINGS, ComparisonSetting

__all__ = ["SETTINGS", "Cell", "cells", "run_cell"]

_RELATIVE_COST = {"free running": 4.0, "uniform noise": 1.0, "teacher forcing": 1.0, "curriculum": 1.0}
"""Step cost against teacher forcing, roughly (the scheduled-sampling arms: 1.6, an extra pass)."""


@dataclass(frozen=True)
class Cell:
    """One task, arm and seed of a setting: the unit the grid runner hands to a worker."""

    setting: ComparisonSetting
    task: str
    arm: str
    seed: int

    def __post_init__(self):
        checks.instance("setting", self.setting, ComparisonSetting)
        self.setting.task(self.task)  # raises for an unknown task
        checks.one_of("arm", self.arm, self.setting.arms)
        checks.seed("seed", self.seed)

    def label(self) -> dict:
        return {"task": self.task, "arm": self.arm, "seed": self.seed}

    def recipe(self) -> Recipe:
        """The recipe this cell trains (``.run()`` loads it from the model cache once trained)."""
        arm = make_arm(self.arm, total_epochs=self.setting.total_epochs)
        return arm.recipe(self.setting.base_recipe(self.task), self.seed)

    @property
    def cost(self) -> float:
        """Relative cost, so the longest cells start first: steps × sequence length × step cost."""
        per_step = _RELATIVE_COST.get(self.arm, 1.6)
        return self.setting.steps * self.setting.task(self.task).max_len * per_step


def cells(setting: ComparisonSetting) -> list[Cell]:
    """Every task × arm × seed of ``setting``, in table order."""
    checks.instance("setting", setting, ComparisonSetting)
    return [Cell(setting, task, arm, seed) for task in setting.task_names for arm in setting.arms
            for seed in setting.seeds]


def run_cell(cell: Cell, *, cache: bool = True) -> dict:
    """Train the cell's model (or load it from the model cache) and measure it: a
    :class:`~.ch06_comparison.runs.RunResult` as a dict."""
    checks.instance("cell", cell, Cell)
    s = cell.setting
    result = run_one(cell.recipe(), task_name=cell.task, arm_name=cell.arm, injection_n=s.injection_n,
                     injection_position=s.injection_position, injection_seed=s.injection_seed, cache=cache)
    return result.to_dict()
