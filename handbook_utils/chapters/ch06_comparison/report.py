"""Chapter 6's full comparison, read from the results store: the stored grid, the questions the
chapter asks of it (each a family of paired comparisons, Bonferroni within the family), the slip
outcomes, the cost per arm, and the words the prose is built from.

Pure reading and drawing: editing this module leaves stored results valid.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from ... import checks
from ...plotting import COLORS, PALETTE, describe_axes_as
from ...results import Comparison, SeedInterval, StoredResult, load, result_path, seed_interval
from ...tables import Table
from .grid import Grid
from .runs import RunResult
from .settings import get_setting
from .stats import METRICS, REFERENCE, by_seed, compare, tasks_and_arms


def stored_grid(setting: str = "full", directory: str | Path | None = None) -> tuple[Grid, StoredResult]:
    """The stored comparison ``results/ch06_<setting>.json`` as a :class:`Grid`, with the stored file
    (its provenance)."""
    stored = load(result_path("ch06", setting, directory))
    results = [RunResult.from_dict(cell) for cell in stored.cells]
    return Grid(setting=get_setting(setting), results=results), stored


@dataclass(frozen=True)
class Question:
    """One question the chapter asks of the grid: ``arm`` against ``reference`` on each task and metric.
    Its comparisons form one family (Bonferroni over ``len(tasks) × len(metrics)`` of them)."""

    name: str
    arm: str
    reference: str
    metrics: tuple[str, ...]


def ask(results: Sequence[RunResult], question: Question, tasks: Sequence[str] | None = None
        ) -> dict[tuple[str, str], Comparison]:
    """``{(task, metric): Comparison}`` of one question, judged as one family."""
    checks.instance("question", question, Question)
    tasks = list(tasks) if tasks is not None else tasks_and_arms(results)[0]
    family = len(tasks) * len(question.metrics)
    return {(t, m): compare(results, t, question.arm, m, reference=question.reference, family=family)
            for t in tasks for m in question.metrics}


def against_reference(results: Sequence[RunResult], task: str, metric: str, *, reference: str = REFERENCE
                      ) -> dict[str, Comparison]:
    """Every arm against ``reference`` on one task and metric: one family (one table of the chapter)."""
    _, arms = tasks_and_arms(results)
    others = [a for a in arms if a != reference]
    return {a: compare(results, task, a, metric, reference=reference, family=len(others)) for a in others}


def format_against(table: Mapping[str, Mapping[str, Comparison]], caption: str = "") -> Table:
    """``{metric: {arm: Comparison}}`` as one table: an arm per row, a metric per column."""
    metrics = list(table)
    arms = list(next(iter(table.values())))
    rows = [[arm, *(f"{table[m][arm].delta:+.3f} [{table[m][arm].low:+.2f}, {table[m][arm].high:+.2f}] "
                    f"{table[m][arm].word}" for m in metrics)] for arm in arms]
    return Table.of(["arm", *(f"{METRICS[m].label}: arm − {REFERENCE}" for m in metrics)], rows, caption)


def words(table: Mapping[str, Comparison], word: str) -> list[str]:
    """The arms of one family whose verdict is ``word``."""
    checks.one_of("word", word, ("better", "worse", "within noise"))
    return [arm for arm, c in table.items() if c.word == word]


def listing(names: Sequence[str], empty: str = "none") -> str:
    """``a``, ``a and b``, ``a, b and c`` (``empty`` for none): names in a sentence. Names that hold a
    comma themselves are separated by semicolons (``a, b; c and d``), so the list stays readable."""
    names = list(names)
    if not names:
        return empty
    sep = "; " if any("," in n for n in names) else ", "
    return names[0] if len(names) == 1 else sep.join(names[:-1]) + " and " + names[-1]


# ---- slips ------------------------------------------------------------------------------------

OUTCOMES = (("valid_recovery", "valid recovery", PALETTE[2], ""),
            ("right_invalid_notes", "right answer, invalid notes", PALETTE[3], "///"),
            ("followed_error", "follows the slip", COLORS["free_running"], "..."),
            ("other", "other wrong answer", COLORS["neutral"], "xx"))
"""How an answer after a planted slip ends: key, label, colour and hatch (so colour is not the only signal)."""


def slip_shares(results: Sequence[RunResult], task: str, arm: str) -> dict[str, float]:
    """Mean over seeds of each outcome of :data:`OUTCOMES` (they add up to 1)."""
    shares = {key: float(np.mean(list(by_seed(results, task, arm, key).values())))
              for key, *_ in OUTCOMES if key != "other"}
    shares["other"] = max(0.0, 1.0 - sum(shares.values()))
    return shares


def plot_slip_outcomes(results: Sequence[RunResult], arms: Sequence[str] | None = None) -> Figure:
    """Per task, a horizontal stacked bar per arm: how its answers ended after a planted slip."""
    tasks, all_arms = tasks_and_arms(results)
    arms = list(arms) if arms is not None else all_arms
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.2 * len(tasks), 0.42 * len(arms) + 1.6), sharey=True,
                             squeeze=False)
    y = np.arange(len(arms))[::-1]
    for ax, task in zip(axes[0], tasks):
        left = np.zeros(len(arms))
        shares = [slip_shares(results, task, a) for a in arms]
        for key, label, color, hatch in OUTCOMES:
            values = np.array([s[key] for s in shares])
            ax.barh(y, values, left=left, color=color, hatch=hatch, edgecolor="white", label=label, height=0.7)
            left += values
        ax.set_xlim(0, 1)
        ax.set_title(task, fontsize=11)
        ax.set_xlabel("share of answers after one planted slip")
        describe_axes_as(ax, f"{task}, answers after a planted slip, mean over seeds: " + "; ".join(
            f"{a}: " + ", ".join(f"{label} {s[key]:.2f}" for key, label, *_ in OUTCOMES)
            for a, s in zip(arms, shares)) + ".")
    axes[0][0].set_yticks(y, arms)
    axes[0][-1].legend(loc="lower right", fontsize=8, framealpha=0.95)
    return fig


# ---- cost -------------------------------------------------------------------------------------


def cost_ratios(results: Sequence[RunResult], task: str, *, reference: str = REFERENCE) -> dict[str, SeedInterval]:
    """Per arm: its training time (with the same evaluations every arm runs) over the reference's, seed
    by seed, as a mean with its 95% interval."""
    _, arms = tasks_and_arms(results)
    ref = by_seed(results, task, reference, "wall_time_s")
    out = {}
    for arm in arms:
        mine = by_seed(results, task, arm, "wall_time_s")
        out[arm] = seed_interval([mine[s] / ref[s] for s in sorted(set(mine) & set(ref))], (0.0, float("inf")))
    return out


def final_curve_slope(results: Sequence[RunResult], task: str, arm: str, metric: str = "eval_exact_match",
                      last: int = 3) -> float:
    """Mean over seeds of the change of ``metric`` over the last ``last`` evaluations, per evaluation:
    is the curve still climbing when training stops?"""
    runs = [r for r in results if (r.task, r.arm) == (task, arm)]
    if not runs:
        raise ValueError(f"no runs of arm {arm!r} on task {task!r}")
    last = checks.integer("last", last, 2)
    slopes = [(getattr(r, metric)[-1] - getattr(r, metric)[-last]) / (last - 1) for r in runs]
    return float(np.mean(slopes))


# ---- the questions, as one table ---------------------------------------------------------------

QUESTIONS: tuple[Question, ...] = (
    Question("Does the schedule's shape matter?", "SS linear", "SS inverse sigmoid", ("exact_match", "valid_recovery")),
    Question("Does the schedule's shape matter?", "SS exponential", "SS inverse sigmoid",
             ("exact_match", "valid_recovery")),
    Question("When should ρ reach ½?", "SS inverse sigmoid, ½ at 30%", "SS inverse sigmoid",
             ("exact_match", "valid_recovery")),
    Question("When should ρ reach ½?", "SS inverse sigmoid, ½ at 90%", "SS inverse sigmoid",
             ("exact_match", "valid_recovery")),
    Question("Is it the model's own tokens?", "SS inverse sigmoid", "uniform noise", ("exact_match", "valid_recovery")),
    Question("Free running or one pass?", "free running", "one-pass guesses", ("exact_match", "valid_recovery")),
)
"""The questions the grid was built to answer beyond "does it beat teacher forcing". Each line is one
family of comparisons (two tasks × two metrics), judged at a family-wise 95% level."""


def answer_questions(results: Sequence[RunResult], questions: Sequence[Question] = QUESTIONS
                     ) -> list[tuple[Question, dict[tuple[str, str], Comparison]]]:
    """Every question with its comparisons (:func:`ask`)."""
    return [(q, ask(results, q)) for q in questions]


def format_questions(answers: Sequence[tuple[Question, Mapping[tuple[str, str], Comparison]]],
                     caption: str = "") -> Table:
    """One row per question and task: the paired difference per metric, its interval and verdict."""
    metrics = list(dict.fromkeys(m for _, table in answers for _, m in table))
    rows = []
    for q, table in answers:
        for task in dict.fromkeys(t for t, _ in table):
            cells = [f"{c.delta:+.3f} [{c.low:+.2f}, {c.high:+.2f}] {c.word}" if (c := table.get((task, m))) else "–"
                     for m in metrics]
            rows.append([f"{q.arm} − {q.reference}", task, *cells])
    return Table.of(["comparison", "task", *(METRICS[m].label for m in metrics)], rows, caption)


def format_costs(results: Sequence[RunResult], caption: str = "") -> Table:
    """Per arm and task: training time over teacher forcing's, seed by seed, with its 95% interval."""
    tasks, arms = tasks_and_arms(results)
    ratios = {t: cost_ratios(results, t) for t in tasks}
    rows = [[arm, *(ratios[t][arm].text(2) for t in tasks)] for arm in arms]
    return Table.of(["arm", *(f"{t}: × {REFERENCE}" for t in tasks)], rows, caption)
