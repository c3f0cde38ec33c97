"""The comparison grid of chapter 6 run live: every arm × task × seed of a setting, trained and
measured once through the experiment's own :func:`~handbook_utils.chapters.ch06_experiment.run_cell`,
then read.

Runs go through :func:`handbook_utils.experiments.run_cells`, as the full grid's do: the project's
one grid runner (a local process pool, or Ray), and one stored result per cell in the result cache,
keyed by the cell and the code the experiment declares; a second run of the chapter reads them
instantly. The full setting is run by :mod:`handbook_utils.experiments` into
the results store instead.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ... import checks
from ...recipes import Recipe
from .runs import RunResult
from .settings import ComparisonSetting, get_setting


@dataclass
class Grid:
    """All results of a comparison, in a fixed order: task, then arm, then seed."""

    setting: ComparisonSetting
    results: list[RunResult]
    trained: int = 0  # runs computed by this call (the rest came from the cache)
    wall_time_s: float = 0.0  # time this call took

    @property
    def arm_names(self) -> list[str]:
        return list(self.setting.arms)

    def select(self, task: str | None = None, arm: str | None = None) -> list[RunResult]:
        return [r for r in self.results if (task is None or r.task == task) and (arm is None or r.arm == arm)]

    def recipe(self, task: str, arm: str, seed: int) -> Recipe:
        """The recipe behind one run (``.run()`` loads its trained model from the cache)."""
        from ..ch06_experiment import Cell

        return Cell(self.setting, task, arm, seed).recipe()


def run_grid(
    setting: str | ComparisonSetting = "quick",
    *,
    workers: int | None = None,
    engine: str = "local",
    cache: bool = True,
) -> Grid:
    """Train and measure every task × arm × seed of ``setting``; stored runs are only read.

    ``workers`` processes train in parallel (default: 2 on a CPU with two or more cores, 1 on an
    accelerator); ``engine="ray"`` hands the runs to Ray instead. Every run trains on one thread, so
    the results do not depend on ``workers`` or ``engine``. With ``cache=False`` nothing is read or
    written (every run trains again).
    """
    from ...experiments import run_cells
    from ..ch06_experiment import cells

    setting = get_setting(setting)
    checks.boolean("cache", cache)
    start = time.perf_counter()
    outputs, trained = run_cells("ch06", setting.name, cells(setting), workers=workers, engine=engine, cache=cache)
    return Grid(setting=setting, results=[RunResult.from_dict(out) for out in outputs], trained=trained,
                wall_time_s=time.perf_counter() - start)
