"""Summaries of the comparison (chapter 6): mean ± spread over seeds, text tables, and verdicts on
which arm beat teacher forcing."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .runs import RunResult


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


def summarize(results: Sequence[RunResult],
              metrics: Sequence[str] = tuple(METRICS)) -> dict[tuple[str, str], dict[str, Stat]]:
    """``{(task, arm): {metric: Stat}}`` over the seeds of each (task, arm), in first-seen order."""
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


