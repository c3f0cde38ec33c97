"""The comparison grid of chapter 6: every arm × task × seed, trained and measured once, then read.

Runs go through the project's one grid runner (:func:`handbook_utils.grid.run_jobs`: a local
process pool, or Ray) and their measurements are stored as results in the one cache
(:func:`handbook_utils.cache.save_result`), keyed by the recipe, the measurement settings and the
package code; a second run of the chapter reads them instantly.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from ... import cache as cache_lib
from ... import checks
from ...grid import run_jobs
from ...recipes import Recipe
from ...strategies import ScheduledSampling
from .arms import Arm, default_arms
from .runs import RESULT_FORMAT, RunResult, run_one
from .settings import ComparisonSetting, get_setting
from .stats import Stat, summarize


@dataclass
class Grid:
    """All results of a comparison, in a fixed order: task, then arm, then seed."""

    setting: ComparisonSetting
    arms: list[Arm]
    results: list[RunResult]
    trained: int = 0  # runs computed by this call (the rest came from the cache)
    wall_time_s: float = 0.0  # time this call took

    @property
    def arm_names(self) -> list[str]:
        return [a.name for a in self.arms]

    def select(self, task: str | None = None, arm: str | None = None) -> list[RunResult]:
        return [r for r in self.results if (task is None or r.task == task) and (arm is None or r.arm == arm)]

    def recipe(self, task: str, arm: str, seed: int) -> Recipe:
        """The recipe behind one run (``.run()`` loads its trained model from the cache)."""
        by_name = {a.name: a for a in self.arms}
        return by_name[arm].recipe(self.setting.base_recipe(task), seed)

    def summary(self) -> dict[tuple[str, str], dict[str, Stat]]:
        return summarize(self.results)


def _result_settings(recipe: Recipe, measure: dict) -> dict:
    return cache_lib.describe({"kind": "ch06-run", "format": RESULT_FORMAT, "recipe": recipe, "measure": measure})


def _measure(job: dict) -> dict:
    """One job of the grid (runs in a worker): train and measure, store the result, return it."""
    result = run_one(job["recipe"], **job["kwargs"])
    if job["key"] is not None:
        cache_lib.save_result(job["key"], result.to_dict(), job["directory"], job["settings"])
    return result.to_dict()


def _job_cost(recipe: Recipe) -> float:
    """A rough relative cost, so the longest runs start first."""
    strategy = recipe.strategy
    extra = getattr(strategy, "passes", 0) if isinstance(strategy, ScheduledSampling) else 0
    if isinstance(strategy, ScheduledSampling) and strategy.mode == "sequential":
        extra = 4
    return recipe.train["steps"] * recipe.task.max_len * (1.0 + extra / 3)


def run_grid(
    setting: str | ComparisonSetting = "quick",
    arms: Sequence[Arm] | None = None,
    *,
    tasks: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
    workers: int | None = None,
    engine: str = "local",
    cache: bool = True,
) -> Grid:
    """Train and measure every arm × task × seed of ``setting``; stored runs are only read.

    ``workers`` processes train in parallel (default: 2 on a CPU with two or more cores, 1 on an
    accelerator); ``engine="ray"`` hands the runs to Ray instead. Every run trains on one thread, so
    the results do not depend on ``workers`` or ``engine``. With ``cache=False`` nothing is read or
    written (every run trains again).
    """
    setting = get_setting(setting)
    arms = list(arms) if arms is not None else default_arms(total_epochs=setting.total_epochs)
    if not arms or not all(isinstance(a, Arm) for a in arms):
        raise TypeError("arms must be a non-empty list of Arm")
    if len({a.name for a in arms}) != len(arms):
        raise ValueError("arms must have distinct names")
    tasks = list(tasks) if tasks is not None else setting.task_names
    for t in tasks:
        setting.task(t)  # raises for an unknown name
    seeds = list(seeds) if seeds is not None else list(setting.seeds)
    if not seeds:
        raise ValueError("seeds must hold at least one seed (or be None for the setting's seeds)")
    seeds = [checks.seed("seeds[i]", s) for s in seeds]
    checks.boolean("cache", cache)
    measure = dict(injection_n=setting.injection_n, injection_position=setting.injection_position,
                   injection_seed=setting.injection_seed)
    directory = cache_lib.cache_dir(None) if cache else None

    start = time.perf_counter()
    order, results, pending = [], {}, []
    for task in tasks:
        base = setting.base_recipe(task)
        for arm in arms:
            for seed in seeds:
                recipe = arm.recipe(base, seed)
                slot = (task, arm.name, seed)
                order.append(slot)
                job = {"recipe": recipe, "key": None, "directory": directory, "settings": None,
                       "kwargs": dict(task_name=task, arm_name=arm.name, cache=cache, **measure)}
                if cache:
                    job["settings"] = _result_settings(recipe, measure)
                    job["key"] = cache_lib.make_key(job["settings"])
                    stored = cache_lib.load_result(job["key"], directory, job["settings"])
                    if stored is not None:
                        results[slot] = RunResult.from_dict(stored)
                        continue
                pending.append((slot, job))

    if pending:
        jobs = [job for _, job in pending]
        done = run_jobs(_measure, jobs, workers=workers, engine=engine,
                        costs=[_job_cost(job["recipe"]) for job in jobs])
        for (slot, _), data in zip(pending, done):
            results[slot] = RunResult.from_dict(data)
    return Grid(setting=setting, arms=arms, results=[results[s] for s in order], trained=len(pending),
                wall_time_s=time.perf_counter() - start)
