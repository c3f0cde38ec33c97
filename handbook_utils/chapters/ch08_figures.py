"""Chapter 8's comparison, read: means and 95% intervals over seeds, paired comparisons with verdict
words computed from the data, the table and the figure.

Cells are the dicts of :func:`.ch08_experiment.run_cells` or of a stored result
(``StoredResult.cells``): ``{"task", "arm", "seed", <metric>: value, ...}``. Every arm of a seed starts
from the same weights and reads the same training stream, so two arms are compared seed by seed: the
interval is that of the mean *paired* difference, which removes what the seeds share.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from .. import checks
from ..plotting import COLORS, PALETTE, describe_axes_as
from ..results import Comparison, MetricInfo, SeedInterval, paired_comparison, seed_interval
from .ch08_experiment import ARMS

METRICS: dict[str, MetricInfo] = {
    "exact_match": MetricInfo("exact match", True),
    "chain_valid": MetricInfo("valid chain", True),
    "recovery": MetricInfo("recovery", True),
    "valid_recovery": MetricInfo("valid recovery", True),
    "tf_loss": MetricInfo("tf loss", False, None),
    "step_time_s": MetricInfo("ms per step", False, None),
    "alignment": MetricInfo("grad cosine", True, (-1.0, 1.0)),
    "raises_gold": MetricInfo("raises gold", True),
}
"""What each cell reports that the chapter compares, and which direction is good."""

ARM_STYLES: dict[str, tuple[str, str, str]] = {
    "teacher forcing": (COLORS["teacher_forcing"], "D", "-"),
    "hard tokens": (COLORS["free_running"], "v", "--"),
    "expected, stopped": (PALETTE[5], "o", ":"),
    "expected, through": (COLORS["accent"], "o", "-"),
    "Gumbel, through": (PALETTE[4], "^", "-."),
    "straight-through, through": (PALETTE[3], "s", "-"),
}
"""Colour, marker and line style per arm: hollow-looking dotted for gradient stopped, solid for
gradient through; a relaxation keeps its marker (circles: expected embedding)."""


def _check_cells(cells: Sequence[Mapping]) -> list[Mapping]:
    cells = list(cells)
    if not cells or not all(isinstance(c, Mapping) and {"task", "arm", "seed"} <= set(c) for c in cells):
        raise ValueError("cells must be a non-empty list of dicts with task, arm and seed")
    return cells


def _metric(name: str) -> MetricInfo:
    checks.one_of("metric", name, tuple(METRICS))
    return METRICS[name]


def arms_of(cells: Sequence[Mapping]) -> list[str]:
    present = {c["arm"] for c in _check_cells(cells)}
    return [a for a in ARMS if a in present]


def tasks_of(cells: Sequence[Mapping]) -> list[str]:
    out = []
    for c in _check_cells(cells):
        if c["task"] not in out:
            out.append(c["task"])
    return out


def select(cells: Sequence[Mapping], **where) -> list[Mapping]:
    return [c for c in _check_cells(cells) if all(c[k] == v for k, v in where.items())]


def summarize(cells: Sequence[Mapping], task: str,
              metrics: Sequence[str] | None = None) -> dict[str, dict[str, SeedInterval]]:
    """``{arm: {metric: SeedInterval}}`` over the seeds of each arm on ``task``, in the book's arm order
    (``metrics``: default, every one of :data:`METRICS` that the cells report)."""
    rows = select(cells, task=task)
    if not rows:
        raise ValueError(f"no cells for task {task!r}; tasks: {tasks_of(cells)}")
    if metrics is None:
        metrics = [m for m in METRICS if m in rows[0]]
    return {arm: {m: seed_interval([c[m] for c in rows if c["arm"] == arm], _metric(m).bounds) for m in metrics}
            for arm in arms_of(rows)}


def compare(cells: Sequence[Mapping], task: str, arm: str, reference: str, metric: str) -> Comparison:
    """Paired comparison of ``arm`` with ``reference`` on ``task`` (:func:`~handbook_utils.results.paired_comparison`):
    per seed the difference, then its mean, 95% t interval and verdict word."""
    info = _metric(metric)
    a = {c["seed"]: c[metric] for c in select(cells, task=task, arm=arm)}
    r = {c["seed"]: c[metric] for c in select(cells, task=task, arm=reference)}
    try:
        return paired_comparison(a, r, arm=arm, reference=reference, metric=metric,
                                 higher_is_better=info.higher_is_better)
    except ValueError as err:
        raise ValueError(f"{err} on {task!r}") from None


def comparisons(cells: Sequence[Mapping], task: str, reference: str,
                metrics: Sequence[str] = ("exact_match", "chain_valid", "recovery", "valid_recovery", "tf_loss")
                ) -> dict[str, dict[str, Comparison]]:
    """Every other arm against ``reference`` on ``task``: ``{arm: {metric: Comparison}}``."""
    return {arm: {m: compare(cells, task, arm, reference, m) for m in metrics}
            for arm in arms_of(select(cells, task=task)) if arm != reference}


def format_table(summary: Mapping[str, Mapping[str, SeedInterval]], metrics: Sequence[str]) -> str:
    """One row per arm: ``mean [low, high]`` per metric (95% interval over seeds)."""
    width = 22
    name_w = max(len(a) for a in summary) + 2
    lines = [" " * name_w + "".join(f"{METRICS[m].label:>{width}}" for m in metrics)]
    for arm, row in summary.items():
        cells = []
        for m in metrics:
            ms = m == "step_time_s"  # shown in milliseconds
            iv, scale, fmt = row[m], (1e3 if ms else 1.0), ("{:.1f}" if ms else "{:.3f}")
            cells.append(f"{fmt.format(iv.mean * scale)} [{fmt.format(iv.low * scale)}, {fmt.format(iv.high * scale)}]")
        lines.append(f"{arm:<{name_w}}" + "".join(f"{c:>{width}}" for c in cells))
    return "\n".join(lines)


def format_comparisons(table: Mapping[str, Mapping[str, Comparison]]) -> str:
    """Per arm and metric: ``better +0.123`` / ``worse -0.045`` / ``within noise``."""
    metrics = list(next(iter(table.values())))
    width = 17
    name_w = max(len(a) for a in table) + 2
    lines = [" " * name_w + "".join(f"{METRICS[m].label:>{width}}" for m in metrics)]
    for arm, row in table.items():
        cells = [f"{c.word} {c.delta:+.3f}" if c.word != "within noise" else "within noise" for c in row.values()]
        lines.append(f"{arm:<{name_w}}" + "".join(f"{c:>{width}}" for c in cells))
    return "\n".join(lines)


def plot_arms(cells: Sequence[Mapping], metrics: Sequence[str] = ("exact_match", "chain_valid", "recovery",
                                                                     "valid_recovery")) -> Figure:
    """One panel per task: each arm's mean and 95% interval per metric (its own colour and marker),
    every seed as a small dot beside it."""
    tasks = tasks_of(cells)
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.2 * len(tasks) + 2.2, 4.2), sharey=True, squeeze=False)
    for ax, task in zip(axes[0], tasks):
        summary = summarize(cells, task, metrics)
        arms = list(summary)
        width = 0.8 / len(arms)
        for a, arm in enumerate(arms):
            color, marker, _ = ARM_STYLES[arm]
            for m, metric in enumerate(metrics):
                iv = summary[arm][metric]
                x = m + (a - (len(arms) - 1) / 2) * width
                ax.errorbar([x], [iv.mean], yerr=[[iv.mean - iv.low], [iv.high - iv.mean]], color=color,
                            marker=marker, markersize=7, capsize=3, linestyle="none",
                            label=arm if m == 0 else None)
                ax.scatter(np.full(iv.n, x + width * 0.3), iv.values, s=8, color=color, marker=marker, alpha=0.5)
        n = next(iter(summary.values()))[metrics[0]].n
        ax.set_xticks(range(len(metrics)), [METRICS[m].label for m in metrics])
        ax.set_title(f"{task} (held out), {n} seeds")
        ax.set_ylim(-0.03, 1.03)
        parts = [f"{arm}: " + ", ".join(f"{METRICS[m].label} {row[m].mean:.2f} [{row[m].low:.2f}, {row[m].high:.2f}]"
                                        for m in metrics) for arm, row in summary.items()]
        intro = f"{task}, held-out problems, mean and 95% interval over {n} seeds. "
        describe_axes_as(ax, intro + "; ".join(parts) + ".")
    axes[0][0].set_ylabel("share of held-out problems")
    axes[0][-1].legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=9)
    return fig


# --------------------------------------------------------------------------------------------
# The footnote's question: does the gradient through the choice help?

GRADIENT_PAIRS: tuple[tuple[str, str], ...] = (
    ("straight-through, through", "hard tokens"),  # the same tokens in the forward pass: only the gradient differs
    ("expected, through", "expected, stopped"),  # the same soft inputs: only the gradient differs
)
"""Pairs of arms that differ in nothing but whether the loss reaches the first pass through the choice."""


def gradient_effect(cells: Sequence[Mapping], task: str,
                    metrics: Sequence[str] = ("exact_match", "recovery", "tf_loss")) -> dict[tuple[str, str], dict]:
    """For each pair of :data:`GRADIENT_PAIRS` present on ``task``: ``{(arm, reference): {metric: Comparison}}``."""
    present = set(arms_of(select(cells, task=task)))
    return {(a, r): {m: compare(cells, task, a, r, m) for m in metrics}
            for a, r in GRADIENT_PAIRS if a in present and r in present}


def overall(words: Sequence[str]) -> str:
    """One phrase for a set of verdict words: "helped", "hurt", "mixed" or "no difference the seeds resolve"."""
    words = list(words)
    if not words or not all(w in ("better", "worse", "within noise") for w in words):
        raise ValueError(f"words must be a non-empty list of 'better', 'worse', 'within noise', got {words}")
    better, worse = "better" in words, "worse" in words
    if better and worse:
        return "mixed"
    return "helped" if better else "hurt" if worse else "no difference the seeds resolve"


def describe_gradient_effect(cells: Sequence[Mapping]) -> str:
    """The paired verdicts of :func:`gradient_effect` on every task, as sentences for the page."""
    parts = []
    for task in tasks_of(cells):
        for (arm, ref), row in gradient_effect(cells, task).items():
            said = ", ".join(f"{METRICS[m].label} {c.word} ({c.delta:+.3f})" for m, c in row.items())
            parts.append(f"on the {task}, {arm} against {ref}: {said}")
    if not parts:
        raise ValueError("cells hold no pair of arms that differ only in the gradient")
    text = "; ".join(parts) + "."
    return text[0].upper() + text[1:]


CONCLUSIONS = {
    "hurt": "works as mathematics and, on this task, fails as a remedy",
    "no difference the seeds resolve": "works as mathematics and, on this task, buys nothing the seeds can resolve",
    "helped": "works, and on this task it helps",
    "mixed": "works as mathematics, with mixed effects on this task",
}
"""What the footnote's suggestion comes to, for each :func:`overall` word."""
