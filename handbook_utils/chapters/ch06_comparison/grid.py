"""The comparison grid of chapter 6 run live: every arm × task × seed of a setting, trained and
measured once through the experiment's own :func:`~handbook_utils.chapters.ch06_experiment.run_cell`,
then read.

Runs go through the project's one grid runner (:func:`handbook_utils.grid.run_jobs`: a local
process pool, or Ray) and their measurements are stored as results in the one cache
(:func:`handbook_utils.cache.save_result`), keyed by the cell and the package code; a second run of
the chapter reads them instantly. The full setting is run by :mod:`handbook_utils.experiments` into
the results store instead.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ... import cache as cache_lib
from ... import checks
from ...grid import run_jobs
from ...recipes import Recipe
from .runs import RESULT_FORMAT, RunResult
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


def _cell_settings(cell) -> dict:
    return cache_lib.describe({"kind": "ch06-run", "format": RESULT_FORMAT, "cell": cell.label(),
                               "recipe": cell.recipe(), "setting": cell.setting})


def _measure(job: dict) -> dict:
    """One job of the grid (runs in a worker): train and measure, store the result, return it."""
    from ..ch06_experiment import run_cell

    result = run_cell(job["cell"], cache=job["cache"])
    if job["key"] is not None:
        cache_lib.save_result(job["key"], result, job["directory"], job["settings"])
    return result


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
    from ..ch06_experiment import cells

    setting = get_setting(setting)
    checks.boolean("cache", cache)
    directory = cache_lib.cache_dir(None) if cache else None
    start = time.perf_counter()
    grid_cells = cells(setting)
    results: dict[int, RunResult] = {}
    pending = []
    for i, cell in enumerate(grid_cells):
        job = {"cell": cell, "cache": cache, "key": None, "directory": directory, "settings": None}
        if cache:
            job["settings"] = _cell_settings(cell)
            job["key"] = cache_lib.make_key(job["settings"])
            stored = cache_lib.load_result(job["key"], directory, job["settings"])
            if stored is not None:
                results[i] = RunResult.from_dict(stored)
                continue
        pending.append((i, job))
    if pending:
        done = run_jobs(_measure, [job for _, job in pending], workers=workers, engine=engine,
                        costs=[job["cell"].cost for _, job in pending])
        for (i, _), data in zip(pending, done):
            results[i] = RunResult.from_dict(data)
    return Grid(setting=setting, results=[results[i] for i in range(len(grid_cells))], trained=len(pending),
                wall_time_s=time.perf_counter() - start)
