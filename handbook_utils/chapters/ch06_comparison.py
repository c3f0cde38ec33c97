"""Remedies for exposure bias trained side by side: the grid, its cache, its table and its figures.

The chapter *Scheduled sampling in practice* calls this module; it holds every piece of logic the
chapter needs so that the page itself is prose and short calls.

- **Curriculum.** :class:`CurriculumTask` is an :class:`~handbook_utils.tasks.AdditionChainTask`
  whose training data start with the shortest chains and grow: ``training.train`` calls its
  ``sample_at(n, seed, epoch)``. Evaluation (``sample``) always sees the full task.
- **Arms.** An :class:`Arm` is one way of training (a strategy, optionally a curriculum);
  :func:`default_arms` gives the six the chapter compares, with the schedules solved by
  :func:`handbook_utils.chapters.ch05_schedule_tuning.solve_schedule`.
- **Settings.** :data:`SETTINGS` holds a ``"quick"`` setting (what the book is built with: the
  whole grid is about a minute of CPU time, shared by two processes) and a ``"full"`` one (the
  model and task of the shared addition recipe of :mod:`handbook_utils.recipes`, five seeds; an
  hour on a CPU).
- **The grid.** :func:`run_grid` trains every arm × task × seed through
  :meth:`handbook_utils.recipes.Recipe.run` (so trained weights land in the model cache), measures
  each model (teacher-forced loss, free-running exact match, per-position accuracy and survival,
  recovery after an injected error and whether the answer still follows the model's own chain) and
  stores these measurements as small JSON files next to the weights,
  so a second run of the chapter reads them instantly. Runs are spread over worker processes.
- **Summaries.** :func:`summarize` gives mean ± standard deviation over seeds;
  :func:`format_table` prints them; :func:`verdicts` says, per arm and metric, whether an arm beat
  teacher forcing, lost to it, or stayed within seed noise.
- **Cost.** :func:`step_costs` times training steps of several strategies alternately in one
  process (so machine load hits them alike); :func:`passes_agreement` shows how K parallel passes
  converge to sequential scheduled sampling.
- **Figures.** :func:`plot_training_curves`, :func:`plot_comparison`,
  :func:`plot_survival`, :func:`plot_step_costs` and :func:`plot_decision_flowchart` (a
  flowchart drawn with matplotlib, so the static book needs no network to show it).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import statistics
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .. import __version__
from .. import cache as cache_lib
from ..metrics import InjectedExample, inject_error_and_continue
from ..plotting import COLORS, PALETTE, new_axes
from ..recipes import Recipe
from ..runtime import cpu_threads, eval_mode, time_in_turns
from ..strategies import (
    AlwaysSampling,
    Draws,
    ScheduledSampling,
    Strategy,
    TeacherForcing,
    _choose,
    sequential_inputs_and_logits,
)
from ..tasks import AdditionChainTask, Batch, CurriculumTask
from .ch05_schedule_tuning import SCHEDULE_COLORS, solve_schedule

__all__ = [
    "ARM_COLORS",
    "FLOW_TEXT",
    "METRICS",
    "TABLE_METRICS",
    "MetricInfo",
    "PassesAgreement",
    "Verdict",
    "SETTINGS",
    "Arm",
    "ComparisonSetting",
    "CurriculumTask",
    "Grid",
    "RunResult",
    "Stat",
    "chain_agreement",
    "default_arms",
    "fed_tokens_text",
    "contrast_injections",
    "format_table",
    "format_verdicts",
    "get_setting",
    "InjectionContrast",
    "passes_agreement",
    "plot_comparison",
    "plot_decision_flowchart",
    "plot_survival",
    "survival_curve",
    "plot_step_costs",
    "plot_training_curves",
    "run_grid",
    "run_one",
    "step_costs",
    "summarize",
    "train_arm",
    "verdicts",
]

RESULT_FORMAT = 2  # bump when RunResult changes meaning: old JSON entries are then ignored


# --------------------------------------------------------------------------------------------
# Arms: one way of training each


@dataclass(frozen=True)
class Arm:
    """One way of training: a ``strategy``, on a curriculum when ``curriculum_full_at`` is set."""

    name: str
    strategy: Strategy
    curriculum_full_at: float | None = None  # epoch from which the curriculum shows the full task

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise TypeError("name must be a non-empty str")
        if not callable(getattr(self.strategy, "loss", None)):
            raise TypeError(f"strategy must have a loss(model, batch, epoch) method, got {type(self.strategy).__name__}")

    def recipe(self, base: Recipe, seed: int) -> Recipe:
        """``base`` trained this arm's way, with ``seed`` for both the weights and the data."""
        if not isinstance(base, Recipe):
            raise TypeError(f"base must be a Recipe, got {type(base).__name__}")
        task = base.task
        if self.curriculum_full_at is not None:
            task = CurriculumTask.wrap(task, self.curriculum_full_at)
        return base.replace(strategy=self.strategy, task=task, model_seed=seed, seed=seed)


def default_arms(
    *,
    total_epochs: float = 100.0,
    p: float = 0.5,
    at_fraction: float = 0.6,
    width_fraction: float = 0.1,
    passes: int = 1,
    mix: str = "sample",
) -> list[Arm]:
    """The six arms of the chapter.

    Teacher forcing; scheduled sampling with each schedule family solved to reach ``p`` at
    ``at_fraction`` of training (the inverse sigmoid with width ``width_fraction`` of training);
    always sampling from the first step; and teacher forcing on a curriculum that shows the full
    task from ``at_fraction`` of training on. Scheduled sampling is the parallel version with
    ``passes`` gradient-free passes.
    """
    def ss(kind, **kw):
        schedule = solve_schedule(kind, p, at_fraction, total_epochs, **kw)
        return ScheduledSampling(schedule, mode="parallel", passes=passes, mix=mix)

    return [
        Arm("teacher forcing", TeacherForcing()),
        Arm("SS linear", ss("linear")),
        Arm("SS exponential", ss("exponential")),
        Arm("SS inverse sigmoid", ss("inverse_sigmoid", b=width_fraction * total_epochs)),
        Arm("always sampling", AlwaysSampling(mode="parallel", passes=passes, mix=mix)),
        Arm("curriculum", TeacherForcing(), curriculum_full_at=at_fraction * total_epochs),
    ]


ARM_COLORS: dict[str, str] = {
    "teacher forcing": COLORS["teacher_forcing"],
    "SS linear": SCHEDULE_COLORS["linear"],
    "SS exponential": SCHEDULE_COLORS["exponential"],
    "SS inverse sigmoid": SCHEDULE_COLORS["inverse_sigmoid"],
    "always sampling": COLORS["free_running"],
    "curriculum": PALETTE[5],
}
"""One colour per arm; the schedules keep the colours of the schedule chapter."""


# --------------------------------------------------------------------------------------------
# Settings: quick (the book) and full


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


# --------------------------------------------------------------------------------------------
# One run: train (or load), then measure


@dataclass
class RunResult:
    """The measurements of one trained model (one arm, one task, one seed)."""

    task: str
    arm: str
    seed: int
    tf_loss: float  # teacher-forced loss per target token
    tf_token_accuracy: float
    exact_match: float  # greedy free-running answer entirely right
    free_token_accuracy: float  # free-running tokens right at their position, over all target tokens
    per_position_free_accuracy: list[float]
    survival: list[float]  # share of free-running answers with no wrong character among the first t + 1
    recovery: float  # final answer right after one injected wrong digit
    followed_error: float  # final answer is the one the injected digit implies
    answer_follows_chain: float  # after the injected slip: final answer = last number of its own chain
    wall_time_s: float  # training time (from the run that trained it)
    eval_steps: list[int] = field(default_factory=list)
    eval_tf_loss: list[float] = field(default_factory=list)
    eval_exact_match: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list, repr=False)  # training loss per step

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping) -> RunResult:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def _recipe_payload(recipe: Recipe) -> dict:
    """A picklable, hashable description of ``recipe`` (its mappings as plain dicts)."""
    return dict(name=recipe.name, task=recipe.task, model=dict(recipe.model), train=dict(recipe.train),
                strategy=recipe.strategy, arch=recipe.arch, model_seed=recipe.model_seed)


def _result_key(recipe: Recipe, measure: Mapping) -> str:
    return cache_lib.make_key({
        "format": RESULT_FORMAT,
        "package_version": __version__,
        "torch_version": torch.__version__,
        "recipe": _recipe_payload(recipe),
        "measure": dict(measure),
    })


def _result_path(key: str, directory: Path) -> Path:
    return Path(directory) / f"comparison-{key}.json"


def _load_result(path: Path) -> RunResult | None:
    if not path.exists():
        return None
    try:
        with open(path) as f:
            return RunResult.from_dict(json.load(f))
    except (OSError, ValueError, TypeError) as err:
        warnings.warn(f"comparison result {path} is unreadable ({err}); recomputing", stacklevel=3)
        return None


def _save_result(path: Path, result: RunResult) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as f:
        json.dump(result.to_dict(), f)
    os.replace(tmp, path)


@contextlib.contextmanager
def _one_thread():
    """Train on one CPU thread: tiny models run no slower, and results do not depend on the core count."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _token_weights(task, n: int, seed: int) -> list[int]:
    """How many evaluation examples have a target token at each position."""
    lengths = [len(task.encode(e)[1]) for e in task.sample(n, seed)]
    return [sum(L > t for L in lengths) for t in range(max(lengths))]


def survival_curve(first_errors: Sequence[int | None], length: int) -> list[float]:
    """``[S(0), …, S(length − 1)]``: the share of answers whose first wrong character comes after position t.

    ``first_errors`` holds, per answer, the position of its first wrong free-running character
    (``None`` when it is entirely right), as in :class:`~handbook_utils.metrics.Evaluation`. The curve
    falls from the share of answers with a right first character to exact match; where it drops
    is where answers go wrong for good.
    """
    if not first_errors:
        raise ValueError("first_errors must not be empty")
    n = len(first_errors)
    return [sum(e is None or e > t for e in first_errors) / n for t in range(length)]


def chain_agreement(examples: Sequence[InjectedExample]) -> float:
    """Share of well-formed injected answers whose final answer repeats the end of their own chain
    (nan if none is well formed): a model that uses its notes writes what its chain arrived at."""
    verdicts = [c.answer_follows_chain for c in (AdditionChainTask.check_chain(e.prompt, e.output) for e in examples)
                if c.well_formed]
    return sum(verdicts) / len(verdicts) if verdicts else float("nan")


def run_one(
    recipe: Recipe,
    *,
    task_name: str = "",
    arm_name: str = "",
    injection_n: int = 128,
    injection_position: int = 7,
    injection_seed: int = 777,
    cache: bool = True,
) -> RunResult:
    """Train ``recipe`` (or load it from the model cache) and measure it.

    The recipe must evaluate during training (``eval_every``): its last evaluation gives the
    teacher-forced and free-running numbers. Recovery comes from
    :func:`~handbook_utils.metrics.inject_error_and_continue` on ``injection_n`` gold chains.
    """
    if not isinstance(recipe, Recipe):
        raise TypeError(f"recipe must be a Recipe, got {type(recipe).__name__}")
    if recipe.train.get("eval_every") is None:
        raise ValueError("recipe must evaluate during training: set eval_every")
    with _one_thread():
        trained = recipe.run(cache=cache, progress=False)
        history, model = trained.history, trained.model
        ev = history.final_eval
        task = recipe.task.base if isinstance(recipe.task, CurriculumTask) else recipe.task
        injection = inject_error_and_continue(model, task, injection_n, injection_position, injection_seed)
    weights = _token_weights(task, ev.n, ev.seed)
    free = sum(a * w for a, w in zip(ev.per_position_free_accuracy, weights)) / sum(weights)
    return RunResult(
        task=task_name,
        arm=arm_name,
        seed=int(recipe.train["seed"]),
        tf_loss=ev.tf_loss,
        tf_token_accuracy=ev.tf_token_accuracy,
        exact_match=ev.exact_match,
        free_token_accuracy=free,
        per_position_free_accuracy=list(ev.per_position_free_accuracy),
        survival=survival_curve(ev.first_error_positions, len(ev.per_position_free_accuracy)),
        recovery=injection.recovery_rate,
        followed_error=injection.followed_error_rate,
        answer_follows_chain=chain_agreement(injection.examples),
        wall_time_s=history.wall_time_s,
        eval_steps=[s for s, _ in history.evals],
        eval_tf_loss=[e.tf_loss for _, e in history.evals],
        eval_exact_match=[e.exact_match for _, e in history.evals],
        losses=list(history.losses),
    )


def train_arm(setting: str | ComparisonSetting, task: str, arm: Arm, seed: int):
    """Train (or load) one model of the grid exactly as :func:`run_grid` does; returns ``Trained``."""
    setting = get_setting(setting)
    if not isinstance(arm, Arm):
        raise TypeError(f"arm must be an Arm, got {type(arm).__name__}")
    with _one_thread():
        return arm.recipe(setting.base_recipe(task), seed).run(progress=False)


def _run_job(job: dict) -> dict:
    """Run one job (a recipe payload and measurement settings); store its result if it has a path."""
    result = run_one(Recipe(**job["recipe"]), **job["kwargs"])
    if job.get("path"):
        _save_result(Path(job["path"]), result)
    return result.to_dict()


def _worker_main(jobs_path: str, out_path: str) -> None:
    """Entry point of a worker process: run the pickled jobs in order, pickle their results."""
    import pickle

    with open(jobs_path, "rb") as f:
        jobs = pickle.load(f)
    results = [_run_job(job) for job in jobs]
    with open(out_path, "wb") as f:
        pickle.dump(results, f)


def _job_cost(job: dict) -> float:
    """A rough relative cost, to share the jobs fairly between workers."""
    recipe = job["recipe"]
    strategy = recipe["strategy"]
    extra = getattr(strategy, "passes", 0) if isinstance(strategy, ScheduledSampling) else 0
    if isinstance(strategy, ScheduledSampling) and strategy.mode == "sequential":
        extra = 4
    return recipe["train"]["steps"] * recipe["task"].max_len * (1.0 + extra / 3)


def _run_in_workers(jobs: list[dict], workers: int) -> list[dict]:
    """Run ``jobs`` in ``workers`` fresh Python processes; results in the order of ``jobs``.

    Plain subprocesses rather than :mod:`multiprocessing`: they work the same from a script, a
    notebook or a test, and never re-import the caller's ``__main__``.
    """
    import pickle
    import subprocess
    import sys
    import tempfile

    order = sorted(range(len(jobs)), key=lambda i: -_job_cost(jobs[i]))
    groups: list[list[int]] = [[] for _ in range(workers)]
    load = [0.0] * workers
    for i in order:  # longest first, each to the least loaded worker
        w = load.index(min(load))
        groups[w].append(i)
        load[w] += _job_cost(jobs[i])
    groups = [g for g in groups if g]
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    code = "import sys; from handbook_utils.chapters.ch06_comparison import _worker_main; _worker_main(sys.argv[1], sys.argv[2])"
    results: list[dict | None] = [None] * len(jobs)
    with tempfile.TemporaryDirectory(prefix="comparison-") as tmp:
        procs = []
        for w, group in enumerate(groups):
            jobs_path, out_path = Path(tmp) / f"jobs{w}.pkl", Path(tmp) / f"results{w}.pkl"
            with open(jobs_path, "wb") as f:
                pickle.dump([jobs[i] for i in group], f)
            procs.append((group, out_path, subprocess.Popen([sys.executable, "-c", code, str(jobs_path), str(out_path)],
                                                            env=env)))
        failed = []
        for group, out_path, proc in procs:
            if proc.wait() != 0 or not out_path.exists():
                failed.append(proc.returncode)
                continue
            with open(out_path, "rb") as f:
                for i, result in zip(group, pickle.load(f)):
                    results[i] = result
    if failed:
        raise RuntimeError(f"{len(failed)} worker process(es) failed with exit codes {failed}")
    return results


# --------------------------------------------------------------------------------------------
# The grid


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


def _default_workers() -> int:
    from ..device import get_device

    if get_device().type != "cpu":
        return 1  # one accelerator: runs queue on it anyway
    return max(1, min(2, os.cpu_count() or 1))


def run_grid(
    setting: str | ComparisonSetting = "quick",
    arms: Sequence[Arm] | None = None,
    *,
    tasks: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
    workers: int | None = None,
    cache: bool = True,
) -> Grid:
    """Train and measure every arm × task × seed of ``setting``; cached runs are only read.

    ``workers`` processes train in parallel (default: 2 on a CPU with two or more cores, 1 on an
    accelerator). Every run trains on one thread, so the results do not depend on ``workers``.
    With ``cache=False`` nothing is read or written (every run trains again, serially).
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
    if workers is None:
        workers = _default_workers()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an int >= 1, got {workers!r}")
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
                path = _result_path(_result_key(recipe, measure), directory) if cache else None
                stored = _load_result(path) if cache else None
                if stored is not None:
                    results[slot] = stored
                else:
                    job = {"recipe": _recipe_payload(recipe), "path": str(path) if cache else None,
                           "kwargs": dict(task_name=task, arm_name=arm.name, cache=cache, **measure)}
                    pending.append((slot, job))

    n_new = len(pending)
    if len(pending) > 1 and workers > 1 and cache:
        try:
            for (slot, _), data in zip(pending, _run_in_workers([job for _, job in pending], min(workers, len(pending)))):
                results[slot] = RunResult.from_dict(data)
        except (OSError, RuntimeError) as err:
            warnings.warn(f"worker processes failed ({err}); training the rest in this process", stacklevel=2)
            for slot, job in pending:  # what a worker finished is in the cache now
                stored = _load_result(Path(job["path"]))
                if stored is not None:
                    results[slot] = stored
        pending = [(slot, job) for slot, job in pending if slot not in results]
    for slot, job in pending:
        results[slot] = RunResult.from_dict(_run_job(job))
    return Grid(setting=setting, arms=arms, results=[results[s] for s in order], trained=n_new,
                wall_time_s=time.perf_counter() - start)


# --------------------------------------------------------------------------------------------
# Summaries: mean ± spread over seeds, and what counts as a difference


@dataclass(frozen=True)
class MetricInfo:
    label: str  # for figures
    short: str  # for the text tables (at most 14 characters)
    fmt: str
    higher_is_better: bool


METRICS: dict[str, MetricInfo] = {
    "tf_loss": MetricInfo("teacher-forced loss", "tf loss", "{:.3f}", False),
    "tf_token_accuracy": MetricInfo("teacher-forced token accuracy", "tf token acc", "{:.3f}", True),
    "exact_match": MetricInfo("exact match", "exact match", "{:.3f}", True),
    "free_token_accuracy": MetricInfo("free-running token accuracy", "free token acc", "{:.3f}", True),
    "recovery": MetricInfo("recovery", "recovery", "{:.3f}", True),
    "followed_error": MetricInfo("follows the error", "follows error", "{:.3f}", False),
    "answer_follows_chain": MetricInfo("answer = end of own chain", "answer = chain", "{:.3f}", True),
    "wall_time_s": MetricInfo("training time (s)", "train time (s)", "{:.2f}", False),
}
"""The numbers each run reports, how to print them, and which direction is good."""

TABLE_METRICS = ("tf_loss", "exact_match", "free_token_accuracy", "recovery")


@dataclass(frozen=True)
class Stat:
    """One metric over seeds: mean, sample standard deviation (0 for one seed) and the values."""

    mean: float
    sd: float
    values: tuple[float, ...]

    @property
    def n(self) -> int:
        return len(self.values)

    @classmethod
    def of(cls, values: Sequence[float]) -> Stat:
        """Mean and sample standard deviation (``ddof=1``); a ``nan`` among the values makes both ``nan``."""
        values = tuple(float(v) for v in values)
        if not values:
            raise ValueError("values must not be empty")
        a = np.array(values)
        sd = float(a.std(ddof=1)) if len(values) > 1 else 0.0
        return cls(float(a.mean()), sd, values)


def _check_metric(name: str) -> MetricInfo:
    if name not in METRICS:
        raise ValueError(f"metric must be one of {list(METRICS)}, got {name!r}")
    return METRICS[name]


def summarize(results: Sequence[RunResult], metrics: Sequence[str] = tuple(METRICS)) -> dict[tuple[str, str], dict[str, Stat]]:
    """``{(task, arm): {metric: Stat}}`` over the seeds of each (task, arm), in first-seen order."""
    if isinstance(results, Grid):
        results = results.results
    if not results:
        raise ValueError("results must not be empty")
    for m in metrics:
        _check_metric(m)
    groups: dict[tuple[str, str], list[RunResult]] = {}
    for r in results:
        if not isinstance(r, RunResult):
            raise TypeError(f"results must hold RunResult, got {type(r).__name__}")
        groups.setdefault((r.task, r.arm), []).append(r)
    return {key: {m: Stat.of([getattr(r, m) for r in rs]) for m in metrics} for key, rs in groups.items()}


def _tasks_and_arms(summary) -> tuple[list[str], list[str]]:
    tasks, arms = [], []
    for task, arm in summary:
        if task not in tasks:
            tasks.append(task)
        if arm not in arms:
            arms.append(arm)
    return tasks, arms


def format_table(
    summary: Mapping[tuple[str, str], Mapping[str, Stat]],
    metrics: Sequence[str] = TABLE_METRICS,
    *,
    tasks: Sequence[str] | None = None,
    arms: Sequence[str] | None = None,
) -> str:
    """A plain-text table per task: one row per arm, ``mean ± s.d.`` per metric (80 columns for four)."""
    all_tasks, all_arms = _tasks_and_arms(summary)
    tasks = list(tasks) if tasks is not None else all_tasks
    arms = list(arms) if arms is not None else all_arms
    infos = [_check_metric(m) for m in metrics]
    width = 15
    name_w = max(len(a) for a in arms) + 1
    lines = []
    for task in tasks:
        n = next(iter(summary[(task, arms[0])].values())).n
        lines.append(f"{task}: mean ± s.d. over {n} seeds")
        lines.append(" " * name_w + "".join(f"{i.short:>{width}}" for i in infos))
        for arm in arms:
            row = summary[(task, arm)]
            cells = [f"{i.fmt.format(row[m].mean)} ± {i.fmt.format(row[m].sd)}" for m, i in zip(metrics, infos)]
            lines.append(f"{arm:<{name_w}}" + "".join(f"{c:>{width}}" for c in cells))
        lines.append("")
    return "\n".join(lines).rstrip("\n")


@dataclass(frozen=True)
class Verdict:
    """How an arm compares with the reference on one metric."""

    delta: float  # arm mean − reference mean
    se: float  # standard error of that difference, from the seed spread of both
    word: str  # "better", "worse" or "within noise"


def verdicts(
    summary: Mapping[tuple[str, str], Mapping[str, Stat]],
    reference: str = "teacher forcing",
    metrics: Sequence[str] = TABLE_METRICS,
    *,
    z: float = 2.0,
) -> dict[tuple[str, str], dict[str, Verdict]]:
    """Per task and arm: is the arm better or worse than ``reference`` beyond seed noise?

    A difference counts when ``|Δ| > z · se`` with ``se = sqrt(s_a²/n_a + s_r²/n_r)`` (the standard
    error of a difference of two means). With three seeds this is a coarse screen, not a test;
    "within noise" means the seeds do not separate the two, not that they are equal.
    """
    if z <= 0:
        raise ValueError(f"z must be > 0, got {z}")
    tasks, arms = _tasks_and_arms(summary)
    if reference not in arms:
        raise ValueError(f"reference {reference!r} is not one of the arms {arms}")
    out = {}
    for task in tasks:
        ref = summary[(task, reference)]
        for arm in arms:
            if arm == reference or (task, arm) not in summary:
                continue
            row = {}
            for m in metrics:
                info = _check_metric(m)
                a, r = summary[(task, arm)][m], ref[m]
                delta = a.mean - r.mean
                se = math.sqrt(a.sd**2 / a.n + r.sd**2 / r.n)
                if abs(delta) <= z * se or delta == 0:
                    word = "within noise"
                else:
                    word = "better" if (delta > 0) == info.higher_is_better else "worse"
                row[m] = Verdict(delta, se, word)
            out[(task, arm)] = row
    return out


def format_verdicts(
    table: Mapping[tuple[str, str], Mapping[str, Verdict]],
    metrics: Sequence[str] = TABLE_METRICS,
    reference: str = "teacher forcing",
) -> str:
    """Per task, one line per arm: ``better +0.123`` / ``worse -0.045`` / ``within noise`` per metric.

    ``reference`` only names, in the heading, the arm the verdicts were computed against.
    """
    infos = [_check_metric(m) for m in metrics]
    width = 15
    tasks, arms = _tasks_and_arms(table)
    name_w = max(len(a) for a in arms) + 1
    lines = []
    for task in tasks:
        lines.append(f"{task}: compared with {reference}")
        lines.append(" " * name_w + "".join(f"{i.short:>{width}}" for i in infos))
        for arm in arms:
            if (task, arm) not in table:
                continue
            row = table[(task, arm)]
            cells = [f"{v.word} {v.delta:+.3f}" if v.word != "within noise" else "within noise"
                     for v in (row[m] for m in metrics)]
            lines.append(f"{arm:<{name_w}}" + "".join(f"{c:>{width}}" for c in cells))
        lines.append("")
    return "\n".join(lines).rstrip("\n")


# --------------------------------------------------------------------------------------------
# Cost per training step, and K passes against the sequential loop


def step_costs(
    model: torch.nn.Module,
    batch: Batch,
    strategies: Mapping[str, Strategy],
    *,
    repeats: int = 7,
    warmup: int = 1,
    epoch: float = 1.0,
) -> dict[str, float]:
    """Median seconds of one training step (loss, backward, optimizer step) per strategy.

    The strategies are timed in turn, round after round, on copies of ``model`` and the same
    ``batch``, so a busy machine slows them alike and the *ratios* stay meaningful even when the
    seconds do not. Runs on one thread, like the training runs of :func:`run_grid`.
    """
    import copy

    from ..training import configure_optimizer

    if not strategies:
        raise ValueError("strategies must not be empty")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be an int >= 1, got {repeats!r}")
    steps = {}
    for name, strategy in strategies.items():
        if not callable(getattr(strategy, "loss", None)):
            raise TypeError(f"strategies[{name!r}] has no loss method")
        m = copy.deepcopy(model).train()
        opt = configure_optimizer(m, 1e-4, 0.0)

        def step(m=m, opt=opt, strategy=strategy):
            loss = strategy.loss(m, batch, epoch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        steps[name] = step
    with cpu_threads(1):
        times = time_in_turns(steps, repeats, warmup=warmup)
    return {name: statistics.median(ts) for name, ts in times.items()}


@dataclass(frozen=True)
class PassesAgreement:
    """How close K parallel passes come to sequential scheduled sampling, for K = 1 .. max."""

    passes: tuple[int, ...]
    token_agreement: tuple[float, ...]  # share of model-token inputs equal to the sequential ones
    row_agreement: tuple[float, ...]  # share of sequences whose whole input equals the sequential one
    length: int  # T: positions in the batch


@torch.no_grad()
def passes_agreement(model, batch: Batch, p: float, max_passes: int, *, seed: int = 0, mix: str = "sample") -> PassesAgreement:
    """Feed ``batch`` with the same random draws sequentially and with K = 1 .. ``max_passes`` passes.

    Pass k fixes the k-th replaced position for good (it depends only on earlier inputs), so the
    agreement climbs to 1 by K = T at the latest; usually much sooner, because most sequences hold
    only a few replaced positions whose prediction changes. The passes are run once, one after the
    other, exactly as :func:`~handbook_utils.strategies.parallel_inputs_and_logits` runs them, and
    the input after pass K is compared with the sequential one.
    """
    if not isinstance(batch, Batch):
        raise TypeError(f"batch must be a Batch, got {type(batch).__name__}")
    if isinstance(max_passes, bool) or not isinstance(max_passes, int) or max_passes < 1:
        raise ValueError(f"max_passes must be an int >= 1, got {max_passes!r}")
    with eval_mode(model):
        with _one_thread():
            draws = Draws.sample(batch, model.vocab_size, float(p), mix, torch.Generator().manual_seed(seed))
            _, fed_seq = sequential_inputs_and_logits(model, batch, draws)
            replaced = draws.use_model
            n = int(replaced.sum())
            gold = batch.inputs
            noise = None if draws.gumbel is None else draws.gumbel[:, 1:]
            x, tokens, rows = gold, [], []
            for _ in range(max_passes):
                pred = _choose(model(x)[:, :-1], noise)  # (B, T-1): the guess for input i, made at i-1
                x = torch.cat([gold[:, :1], torch.where(replaced[:, 1:], pred, gold[:, 1:])], dim=1)
                same = x == fed_seq
                tokens.append(float(same[replaced].sum()) / n if n else 1.0)
                rows.append(float(same.all(dim=1).double().mean()))
                if rows[-1] == 1.0:  # every sequence as in the loop: a fixed point from here on
                    break
            tokens += [1.0] * (max_passes - len(tokens))
            rows += [1.0] * (max_passes - len(rows))
    return PassesAgreement(tuple(range(1, max_passes + 1)), tuple(tokens), tuple(rows), batch.inputs.shape[1])


def fed_tokens_text(task, batch: Batch, fed: torch.Tensor, row: int = 0, replaced: torch.Tensor | None = None) -> str:
    """Gold input and fed input of one sequence, one character per position, with markers.

    Marker line: ``^`` where a model token was fed and differs from the gold one, ``.`` where a
    model token was fed and happens to be right (needs ``replaced``, the draws' ``use_model``).
    """
    if not isinstance(batch, Batch):
        raise TypeError(f"batch must be a Batch, got {type(batch).__name__}")
    if fed.shape != batch.inputs.shape:
        raise ValueError(f"fed must have the shape of batch.inputs {tuple(batch.inputs.shape)}, got {tuple(fed.shape)}")
    if not 0 <= row < fed.shape[0]:
        raise ValueError(f"row must be in [0, {fed.shape[0]}), got {row}")
    tok = task.tokenizer
    length = int(batch.prompt_lens[row] + batch.loss_mask[row].sum()) - 1  # real (unpadded) inputs
    gold_ids = batch.inputs[row, :length].tolist()
    fed_ids = fed[row, :length].tolist()
    marks = []
    for t, (g, f) in enumerate(zip(gold_ids, fed_ids)):
        if g != f:
            marks.append("^")
        elif replaced is not None and bool(replaced[row, t]):
            marks.append(".")
        else:
            marks.append(" ")
    gold = "".join(tok.itos[i] for i in gold_ids)
    got = "".join(tok.itos[i] for i in fed_ids)
    return f"gold input: {gold}\nfed input:  {got}\n            {''.join(marks).rstrip()}"


@dataclass(frozen=True)
class InjectionContrast:
    """One gold chain with the same injected slip, continued by several models."""

    prompt: str
    injected_prefix: str  # the gold answer up to the slip, with the wrong digit in place
    true_answer: int
    outputs: dict[str, str]  # model name -> its whole answer (the injected prefix included)
    correct: dict[str, bool]  # model name -> final answer still right


def contrast_injections(models: Mapping[str, torch.nn.Module], task: AdditionChainTask, n: int,
                        position: int = 7, seed: int = 777) -> list[InjectionContrast]:
    """Inject the same slips into ``n`` gold chains and let every model of ``models`` continue.

    All models see identical corrupted prefixes (the corruption depends only on the examples and
    ``seed``), so their continuations can be read side by side.
    """
    if not models:
        raise ValueError("models must not be empty")
    with _one_thread():
        runs = {name: inject_error_and_continue(m, task, n, position, seed) for name, m in models.items()}
    first = next(iter(runs.values()))
    out = []
    for k, ex in enumerate(first.examples):
        rows = {name: run.examples[k] for name, run in runs.items()}
        assert all(r.injected_prefix == ex.injected_prefix and r.prompt == ex.prompt for r in rows.values())
        out.append(InjectionContrast(prompt=ex.prompt, injected_prefix=ex.injected_prefix, true_answer=ex.true_answer,
                                     outputs={name: r.output for name, r in rows.items()},
                                     correct={name: r.final_correct for name, r in rows.items()}))
    return out


# --------------------------------------------------------------------------------------------
# Figures (take data and an optional ax, return the Figure, never plt.show())


def _color(arm: str, i: int) -> str:
    return ARM_COLORS.get(arm, PALETTE[i % len(PALETTE)])


def _mean_curve(runs: Sequence[RunResult], attr: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ys = np.array([getattr(r, attr) for r in runs], dtype=float)  # (seeds, points)
    return ys.mean(axis=0), ys.min(axis=0), ys.max(axis=0)


def plot_training_curves(grid: Grid, *, arms: Sequence[str] | None = None, axes: np.ndarray | None = None) -> Figure:
    """Per task (rows): teacher-forced loss and free-running exact match (columns) during training.

    Lines are the mean over seeds, shaded bands the range from the worst to the best seed.
    """
    tasks = grid.setting.task_names
    arms = list(arms) if arms is not None else grid.arm_names
    if axes is None:
        fig, axes = plt.subplots(len(tasks), 2, figsize=(9.6, 3.3 * len(tasks)), squeeze=False, sharex=True)
    axes = np.asarray(axes).reshape(len(tasks), 2)
    for row, task in enumerate(tasks):
        for col, (attr, label) in enumerate((("eval_tf_loss", "teacher-forced loss"),
                                             ("eval_exact_match", "free-running exact match"))):
            ax = axes[row, col]
            for i, arm in enumerate(arms):
                runs = grid.select(task, arm)
                if not runs:
                    continue
                x = np.array(runs[0].eval_steps)
                mean, lo, hi = _mean_curve(runs, attr)
                ax.plot(x, mean, "o-", color=_color(arm, i), label=arm, markersize=3.5, linewidth=1.6)
                ax.fill_between(x, lo, hi, color=_color(arm, i), alpha=0.12, linewidth=0)
            if attr == "eval_tf_loss":
                ax.set_yscale("log")
            else:
                ax.set_ylim(-0.02, 1.02)
            ax.set_title(f"{task}: {label}", fontsize=11)
            if row == len(tasks) - 1:
                ax.set_xlabel("training step")
    axes[0, 1].legend(loc="upper left", fontsize=8.5)
    return axes[0, 0].figure


def plot_comparison(
    summary: Mapping[tuple[str, str], Mapping[str, Stat]],
    metrics: Sequence[str] = ("exact_match", "recovery", "tf_loss"),
    *,
    axes: Sequence[Axes] | None = None,
) -> Figure:
    """One panel per metric: every arm's mean ± s.d. (marker and line) and its seeds (small dots).

    Tasks sit side by side: filled markers for the first task, hollow ones for the second.
    """
    tasks, arms = _tasks_and_arms(summary)
    infos = [_check_metric(m) for m in metrics]
    if axes is None:
        fig, axes = plt.subplots(1, len(metrics), figsize=(2.7 * len(metrics) + 1.5, 0.36 * len(arms) * len(tasks) + 1.4),
                                 sharey=True, squeeze=False)
        axes = axes[0]
    markers = ("o", "s", "D", "^")
    offsets = np.linspace(-0.18, 0.18, len(tasks)) if len(tasks) > 1 else [0.0]
    y = np.arange(len(arms))[::-1]
    for ax, m, info in zip(axes, metrics, infos):
        for j, task in enumerate(tasks):
            for i, arm in enumerate(arms):
                if (task, arm) not in summary:
                    continue
                s = summary[(task, arm)][m]
                yy = y[i] + offsets[j]
                ax.errorbar(s.mean, yy, xerr=s.sd, fmt=markers[j % len(markers)], color=_color(arm, i),
                            markersize=6.5, capsize=0, elinewidth=1.6, label=task if i == 0 else None,
                            markerfacecolor=_color(arm, i) if j == 0 else "white", zorder=3)
                ax.plot(s.values, [yy] * s.n, "o", color=_color(arm, i), alpha=0.45, markersize=3.2,
                        markeredgewidth=0, zorder=2)
        ax.set_title(info.label + (" (higher is better)" if info.higher_is_better else " (lower is better)"),
                     fontsize=10)
    axes[0].set_yticks(y, arms)
    legend = axes[0].legend(loc="lower left", fontsize=8.5, bbox_to_anchor=(0.0, -0.02))
    for h in legend.legend_handles:
        h.set_color("#555555")
    return axes[0].figure


def plot_survival(grid: Grid, *, arms: Sequence[str] | None = None, axes: Sequence[Axes] | None = None) -> Figure:
    """Per task: the share of free-running answers still without a mistake after t characters.

    Mean over seeds. Every curve ends at the arm's exact match; a curve that falls early and keeps
    falling is compounding at work: one wrong character, and the rest of the answer cannot recover.
    """
    tasks = grid.setting.task_names
    arms = list(arms) if arms is not None else grid.arm_names
    if axes is None:
        fig, axes = plt.subplots(1, len(tasks), figsize=(4.9 * len(tasks), 3.6), squeeze=False, sharey=True)
        axes = axes[0]
    for ax, task in zip(axes, tasks):
        for i, arm in enumerate(arms):
            runs = grid.select(task, arm)
            if not runs:
                continue
            n = min(len(r.survival) for r in runs)
            curve = np.mean([r.survival[:n] for r in runs], axis=0)
            ax.plot(np.arange(n), curve, color=_color(arm, i), label=arm, linewidth=1.8)
        ax.set_xlabel("characters into the answer")
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(f"{task}", fontsize=11)
    axes[0].set_ylabel("answers still without a mistake")
    axes[-1].legend(fontsize=8.5, loc="upper right")
    return axes[0].figure


def plot_step_costs(ratios: Mapping[str, float], *, target: float | None = 1.5, ax: Axes | None = None) -> Figure:
    """Horizontal bars: cost of one training step relative to teacher forcing."""
    ax = new_axes(ax, figsize=(6.4, 0.45 * len(ratios) + 1.2))
    names = list(ratios)[::-1]
    values = [ratios[n] for n in names]
    colors = [COLORS["teacher_forcing"] if "teacher" in n else (COLORS["free_running"] if "sequential" in n
              else COLORS["accent"]) for n in names]
    ax.barh(names, values, color=colors, height=0.6)
    for k, v in enumerate(values):
        ax.text(v, k, f" {v:.2f}×", va="center", fontsize=10)
    ax.axvline(1.0, color=COLORS["neutral"], linewidth=1)
    if target is not None:
        ax.axvline(target, color=COLORS["prediction"], linestyle=":", linewidth=1.2, label=f"{target:g}× budget")
        ax.legend(loc="lower right", fontsize=9)
    ax.set_xlabel("time per training step ÷ teacher forcing")
    ax.set_xlim(0, max(values) * 1.18)
    ax.grid(axis="y", visible=False)
    return ax.figure


# ---- the decision flowchart ------------------------------------------------------------------

_FLOW_NODES = {
    # key: (x, y, kind) in axes units; kind "start" / "question" / "action" / "stop"
    "start": (0.5, 0.955, "start"),
    "measure": (0.5, 0.815, "action"),
    "gap": (0.5, 0.655, "question"),
    "done": (0.13, 0.655, "stop"),
    "robust": (0.5, 0.495, "question"),
    "budget": (0.85, 0.495, "stop"),
    "ss": (0.5, 0.3, "action"),
    "check": (0.5, 0.09, "question"),
    "keep": (0.13, 0.09, "stop"),
    "drop": (0.87, 0.09, "stop"),
}
_FLOW_EDGES = [
    ("start", "measure", ""),
    ("measure", "gap", ""),
    ("gap", "done", "no"),
    ("gap", "robust", "yes"),
    ("robust", "budget", "no"),
    ("robust", "ss", "yes"),
    ("ss", "check", ""),
    ("check", "keep", "yes"),
    ("check", "drop", "no"),
]
FLOW_TEXT: dict[str, str] = {
    "start": "Train with teacher forcing",
    "measure": "Measure what the loss hides:\nfree-running exact match and\nrecovery after an injected slip",
    "gap": "Does one slip\nruin the answer?",
    "done": "Keep teacher\nforcing",
    "robust": "Long answers, each step\nbuilt on the ones before?",
    "budget": "Spend the compute\non more steps or\na bigger model",
    "ss": "Parallel scheduled sampling:\none extra pass; p from 0,\nreaching 0.5 late in training;\nnever always-sample",
    "check": "Recovery up, exact\nmatch within seed noise\n(three seeds or more)?",
    "keep": "Keep it",
    "drop": "Back to\nteacher forcing",
}
"""The default texts of :func:`plot_decision_flowchart`; the chapter fills in measured numbers."""


def plot_decision_flowchart(text: Mapping[str, str] | None = None, *, ax: Axes | None = None) -> Figure:
    """The decision flowchart as a matplotlib figure (so the static book needs nothing from a network).

    ``text`` overrides the texts of :data:`FLOW_TEXT` by node key (``start``, ``measure``, ``gap``,
    ``done``, ``robust``, ``budget``, ``ss``, ``check``, ``keep``, ``drop``).
    """
    labels = dict(FLOW_TEXT)
    if text is not None:
        unknown = set(text) - set(labels)
        if unknown:
            raise ValueError(f"text has unknown nodes {sorted(unknown)}; known: {sorted(labels)}")
        labels.update(text)
    if ax is None:
        fig, ax = plt.subplots(figsize=(7.2, 7.6), layout="none")
        fig.subplots_adjust(0.01, 0.01, 0.99, 0.99)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.axis("off")
    style = {
        "start": dict(fc="#E8F1FA", ec=COLORS["teacher_forcing"], box="round,pad=0.5,rounding_size=0.8"),
        "action": dict(fc="#F3F3F3", ec="#555555", box="round,pad=0.5,rounding_size=0.2"),
        "question": dict(fc="#FFF6E0", ec=PALETTE[3], box="round,pad=0.6,rounding_size=1.2"),
        "stop": dict(fc="#E6F5EF", ec=COLORS["accent"], box="round,pad=0.5,rounding_size=0.8"),
    }
    boxes = {}
    renderer = ax.figure.canvas.get_renderer()
    for key, (x, y, kind) in _FLOW_NODES.items():
        s = style[kind]
        t = ax.text(x, y, labels[key], ha="center", va="center", fontsize=10, zorder=3, linespacing=1.3,
                    bbox=dict(boxstyle=s["box"], fc=s["fc"], ec=s["ec"], lw=1.4))
        boxes[key] = t
    ax.figure.canvas.draw()
    extents = {}
    inv = ax.transData.inverted()
    for key, t in boxes.items():
        bb = t.get_bbox_patch().get_window_extent(renderer)
        (x0, y0), (x1, y1) = inv.transform((bb.x0, bb.y0)), inv.transform((bb.x1, bb.y1))
        extents[key] = (x0, y0, x1, y1)

    def anchor(key, towards):
        x0, y0, x1, y1 = extents[key]
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        tx, ty = towards
        if abs(ty - cy) > abs(tx - cx) * 0.5 and abs(ty - cy) > 0.02:  # mostly vertical
            return cx, (y0 if ty < cy else y1)
        return (x0 if tx < cx else x1), cy

    for a, b, label in _FLOW_EDGES:
        ca = np.mean(np.array(extents[a]).reshape(2, 2), axis=0)
        cb = np.mean(np.array(extents[b]).reshape(2, 2), axis=0)
        start, end = anchor(a, cb), anchor(b, ca)
        ax.annotate("", xy=end, xytext=start, zorder=2,
                    arrowprops=dict(arrowstyle="-|>", color="#444444", lw=1.3, shrinkA=0, shrinkB=0))
        if label:
            mx, my = (start[0] + end[0]) / 2, (start[1] + end[1]) / 2
            vertical = abs(end[0] - start[0]) < abs(end[1] - start[1])
            ax.text(mx + (0.012 if vertical else 0.0), my + (0.0 if vertical else 0.01), label,
                    ha="left" if vertical else "center", va="center" if vertical else "bottom",
                    fontsize=9, color="#333333", fontweight="bold", zorder=4)
    return ax.figure
