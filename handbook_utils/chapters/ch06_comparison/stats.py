"""Summaries of the comparison (chapter 6): means with 95% t intervals over seeds, paired comparisons
with teacher forcing under a stated multiple-comparison rule, and the tables that show them.

Every arm of a task trains from scratch with the seed's own weights and data, and seed ``s`` of every
arm starts from the same initial weights, so arms are compared seed by seed
(:func:`~handbook_utils.results.paired_comparison`). The verdicts of one table are judged as one
family (Bonferroni): with ``family`` comparisons read together, the chance that any verdict word is
wrong stays under 5%. "Within noise" says the seeds do not separate two arms, not that they are equal.
Pure reading: editing this module leaves stored results valid.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ... import checks
from ...results import Comparison, MetricInfo, SeedInterval, paired_comparison, seed_interval
from ...tables import Table
from .runs import RunResult

REFERENCE = "teacher forcing"
"""The arm every other arm is compared with."""

LOSS = (0.0, float("inf"))
METRICS: dict[str, MetricInfo] = {
    "tf_loss": MetricInfo("teacher-forced loss", False, LOSS, 4),
    "tf_token_accuracy": MetricInfo("teacher-forced token accuracy", True),
    "exact_match": MetricInfo("exact match", True),
    "chain_valid": MetricInfo("valid chain", True),
    "answer_correct": MetricInfo("right answer", True),
    "free_token_accuracy": MetricInfo("free-running token accuracy", True),
    "recovery": MetricInfo("right after a slip", True),
    "valid_recovery": MetricInfo("valid recovery", True),
    "right_invalid_notes": MetricInfo("right, invalid notes", False),
    "followed_error": MetricInfo("follows the slip", False),
    "answer_follows_chain": MetricInfo("answer = own chain", True),
    "wall_time_s": MetricInfo("train + evaluate time (s)", False, LOSS, 1),
}
"""The numbers each run reports, how they are labelled, and which direction is good."""

TABLE_METRICS = ("tf_loss", "exact_match", "chain_valid", "recovery", "valid_recovery", "right_invalid_notes")
"""The columns of the main table."""

PRIMARY = ("exact_match", "valid_recovery")
"""The comparisons the chapter's verdicts rest on: whole answers right, and slips recovered from
through valid notes. Their number (arms × tasks × these) is the Bonferroni family."""


def _check_metric(name: str) -> MetricInfo:
    return METRICS[checks.one_of("metric", name, tuple(METRICS))]


def _check_results(results: Sequence[RunResult]) -> list[RunResult]:
    results = list(results)
    if not results:
        raise ValueError("results must not be empty")
    for r in results:
        if not isinstance(r, RunResult):
            raise TypeError(f"results must hold RunResult, got {type(r).__name__}")
    return results


def tasks_and_arms(results: Sequence[RunResult]) -> tuple[list[str], list[str]]:
    """The tasks and the arms present, in first-seen order."""
    tasks, arms = [], []
    for r in _check_results(results):
        if r.task not in tasks:
            tasks.append(r.task)
        if r.arm not in arms:
            arms.append(r.arm)
    return tasks, arms


def by_seed(results: Sequence[RunResult], task: str, arm: str, metric: str) -> dict[int, float]:
    """``{seed: value}`` of ``metric`` for one task and arm (a ``nan``, a share with nothing to count,
    is refused with the seed named)."""
    _check_metric(metric)
    out = {r.seed: getattr(r, metric) for r in _check_results(results) if (r.task, r.arm) == (task, arm)}
    if not out:
        raise ValueError(f"no runs of arm {arm!r} on task {task!r}")
    undefined = [seed for seed, v in out.items() if v != v]
    if undefined:
        raise ValueError(f"{metric} of arm {arm!r} on task {task!r} is undefined (nan) for seeds {undefined}: "
                         "no answer it could be counted on")
    return out


def summarize(results: Sequence[RunResult],
              metrics: Sequence[str] = tuple(METRICS)) -> dict[tuple[str, str], dict[str, SeedInterval]]:
    """``{(task, arm): {metric: SeedInterval}}``: mean and 95% t interval over the seeds of each."""
    tasks, arms = tasks_and_arms(results)
    for m in metrics:
        _check_metric(m)
    return {(t, a): {m: seed_interval(list(by_seed(results, t, a, m).values()), METRICS[m].bounds)
                     for m in metrics}
            for t in tasks for a in arms if any((r.task, r.arm) == (t, a) for r in results)}


def compare(results: Sequence[RunResult], task: str, arm: str, metric: str, *, reference: str = REFERENCE,
            family: int = 1) -> Comparison:
    """``arm − reference`` on ``task``, paired by seed, judged in a family of ``family`` comparisons."""
    return paired_comparison(by_seed(results, task, arm, metric), by_seed(results, task, reference, metric),
                             arm=arm, reference=reference, metric=metric,
                             higher_is_better=METRICS[metric].higher_is_better, family=family)


def comparisons(results: Sequence[RunResult], metrics: Sequence[str] = PRIMARY, *, reference: str = REFERENCE,
                family: int | None = None) -> dict[tuple[str, str], dict[str, Comparison]]:
    """Every arm but ``reference`` against it, on every task and metric. ``family`` defaults to the
    number of comparisons made here (Bonferroni over the whole table)."""
    tasks, arms = tasks_and_arms(results)
    if reference not in arms:
        raise ValueError(f"reference {reference!r} is not one of the arms {arms}")
    others = [a for a in arms if a != reference]
    family = len(tasks) * len(others) * len(metrics) if family is None else family
    return {(t, a): {m: compare(results, t, a, m, reference=reference, family=family) for m in metrics}
            for t in tasks for a in others}


def format_table(summary: Mapping[tuple[str, str], Mapping[str, SeedInterval]], task: str,
                 metrics: Sequence[str] = TABLE_METRICS, caption: str = "") -> Table:
    """One task: a row per arm, ``mean [95% interval]`` per metric, and the number of seeds."""
    rows = [[arm, *(values[m].text(METRICS[m].digits) for m in metrics), next(iter(values.values())).n]
            for (t, arm), values in summary.items() if t == task]
    if not rows:
        raise ValueError(f"no task {task!r} in the summary")
    return Table.of(["arm", *(METRICS[m].label for m in metrics), "seeds"], rows, caption)


def format_comparisons(table: Mapping[tuple[str, str], Mapping[str, Comparison]], caption: str = "") -> Table:
    """Per task, arm and metric: the paired difference with its 95% interval and the verdict word."""
    metrics = list(next(iter(table.values())))
    rows = [[task, arm, *(f"{c.delta:+.3f} [{c.low:+.2f}, {c.high:+.2f}] {c.word}" for c in row.values())]
            for (task, arm), row in table.items()]
    return Table.of(["task", "arm", *(f"{METRICS[m].label} − {REFERENCE}" for m in metrics)], rows, caption)


def verdict_words(table: Mapping[tuple[str, str], Mapping[str, Comparison]], task: str, metric: str
                  ) -> dict[str, list[str]]:
    """``{"better": [arms], "worse": [arms], "within noise": [arms]}`` for one task and metric."""
    out: dict[str, list[str]] = {"better": [], "worse": [], "within noise": []}
    for (t, arm), row in table.items():
        if t == task:
            out[row[metric].word].append(arm)
    return out


def best_arm(summary: Mapping[tuple[str, str], Mapping[str, SeedInterval]], task: str, metric: str) -> str:
    """The arm with the best mean on ``metric`` (lowest when lower is better)."""
    info = _check_metric(metric)
    rows = {arm: values[metric].mean for (t, arm), values in summary.items() if t == task}
    if not rows:
        raise ValueError(f"no task {task!r} in the summary")
    return (max if info.higher_is_better else min)(rows, key=rows.get)
