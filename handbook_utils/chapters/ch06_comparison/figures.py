"""Figures of chapter 6: training curves, the comparison, survival, step costs and the decision
flowchart (drawn with matplotlib, so the static book needs no network). Each takes data and an
optional ``ax`` and returns the Figure. Arms differ by marker and line style as well as colour
(:data:`ARM_STYLES`); the flowchart describes itself in words for its text alternative."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ...flowcharts import describe_flowchart, draw_flowchart
from ...plotting import (
    COLORS,
    FRACTION_LIMITS,
    MARK_EVERY,
    PALETTE,
    SCHEDULE_COLORS,
    SCHEDULE_MARKERS,
    describe_axes_as,
    new_axes,
)
from ...results import SeedInterval
from .grid import Grid
from .runs import RunResult
from .stats import _check_metric

_SWEEP = PALETTE[2]  # the inverse-sigmoid family keeps its colour; the sweep differs by marker and line
ARM_COLORS: dict[str, str] = {
    "teacher forcing": COLORS["teacher_forcing"],
    "SS linear": SCHEDULE_COLORS["linear"],
    "SS exponential": SCHEDULE_COLORS["exponential"],
    "SS inverse sigmoid": SCHEDULE_COLORS["inverse_sigmoid"],
    "SS inverse sigmoid, ½ at 30%": _SWEEP,
    "SS inverse sigmoid, ½ at 90%": _SWEEP,
    "free running": COLORS["free_running"],
    "one-pass guesses": PALETTE[5],
    "uniform noise": COLORS["neutral"],
    "curriculum": PALETTE[7],
}
"""One colour per arm; the schedules keep the colours of the schedule chapter."""

ARM_STYLES: dict[str, dict[str, str]] = {
    "teacher forcing": dict(marker="D", linestyle="-"),
    "SS linear": dict(marker=SCHEDULE_MARKERS["linear"], linestyle="--"),
    "SS exponential": dict(marker=SCHEDULE_MARKERS["exponential"], linestyle="--"),
    "SS inverse sigmoid": dict(marker=SCHEDULE_MARKERS["inverse_sigmoid"], linestyle="--"),
    "SS inverse sigmoid, ½ at 30%": dict(marker="<", linestyle=(0, (1, 1))),
    "SS inverse sigmoid, ½ at 90%": dict(marker=">", linestyle=(0, (5, 1, 1, 1))),
    "free running": dict(marker="v", linestyle=":"),
    "one-pass guesses": dict(marker="X", linestyle=":"),
    "uniform noise": dict(marker="*", linestyle=(0, (3, 1, 1, 1, 1, 1))),
    "curriculum": dict(marker="P", linestyle="-."),
}
"""One marker and line style per arm, beside its colour: solid for teacher forcing, dashed for the
scheduled-sampling arms (with their family's marker from the schedule chapter; the midpoint sweep
with its own markers), dotted for the two always-sampling arms, dash-dot for the curriculum."""

_SPARE_STYLES = ({"marker": "X", "linestyle": (0, (5, 1, 1, 1))}, {"marker": "*", "linestyle": (0, (1, 2))})


def _color(arm: str, i: int) -> str:
    return ARM_COLORS.get(arm, PALETTE[i % len(PALETTE)])


def _style(arm: str, i: int) -> dict:
    """Colour, marker and line style of an arm (arms outside :data:`ARM_STYLES` get spare ones)."""
    return {"color": _color(arm, i), **ARM_STYLES.get(arm, _SPARE_STYLES[i % len(_SPARE_STYLES)])}


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
                ax.plot(x, mean, label=arm, markersize=3.5, linewidth=1.6, **_style(arm, i))
                ax.fill_between(x, lo, hi, color=_color(arm, i), alpha=0.12, linewidth=0)
            if attr == "eval_tf_loss":
                ax.set_yscale("log")
            else:
                ax.set_ylim(*FRACTION_LIMITS)
            ax.set_title(f"{task}: {label}", fontsize=11)
            if row == len(tasks) - 1:
                ax.set_xlabel("training step")
    axes[0, 1].legend(loc="upper left", fontsize=8.5)
    return axes[0, 0].figure


def _tasks_and_arms(summary: Mapping[tuple[str, str], object]) -> tuple[list[str], list[str]]:
    tasks, arms = [], []
    for task, arm in summary:
        tasks += [task] if task not in tasks else []
        arms += [arm] if arm not in arms else []
    return tasks, arms


def plot_comparison(
    summary: Mapping[tuple[str, str], Mapping[str, SeedInterval]],
    metrics: Sequence[str] = ("exact_match", "valid_recovery", "tf_loss"),
    *,
    axes: Sequence[Axes] | None = None,
) -> Figure:
    """One panel per metric: every arm's mean with its 95% interval (marker and line) and its seeds
    (small dots).

    Tasks sit side by side: filled markers for the first task, hollow ones for the second.
    """
    tasks, arms = _tasks_and_arms(summary)
    infos = [_check_metric(m) for m in metrics]
    if axes is None:
        size = (2.7 * len(metrics) + 1.5, 0.36 * len(arms) * len(tasks) + 1.4)
        fig, axes = plt.subplots(1, len(metrics), figsize=size,
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
                ax.errorbar(s.mean, yy, xerr=[[s.mean - s.low], [s.high - s.mean]], fmt=markers[j % len(markers)],
                            color=_color(arm, i),
                            markersize=6.5, capsize=0, elinewidth=1.6, label=task if i == 0 else None,
                            markerfacecolor=_color(arm, i) if j == 0 else "white", zorder=3)
                ax.plot(s.values, [yy] * s.n, "o", color=_color(arm, i), alpha=0.45, markersize=3.2,
                        markeredgewidth=0, zorder=2)
        ax.set_title(info.label + (" (higher is better)" if info.higher_is_better else " (lower is better)"),
                     fontsize=10)
        describe_axes_as(ax, f"{ax.get_title()}, mean [95% interval] over seeds. " + " ".join(
            f"{task}: " + ", ".join(f"{arm} {summary[(task, arm)][m].text(info.digits)}"
                                    for arm in arms if (task, arm) in summary) + "."
            for task in tasks))
    axes[0].set_yticks(y, arms)
    legend = axes[0].legend(loc="lower left", fontsize=8.5, bbox_to_anchor=(0.0, -0.02))
    for h in legend.legend_handles:
        h.set_color(COLORS["prediction"])
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
            ax.plot(np.arange(n), curve, label=arm, linewidth=1.8, markevery=MARK_EVERY, markersize=4.5,
                    **_style(arm, i))
        ax.set_xlabel("characters into the answer")
        ax.set_ylim(*FRACTION_LIMITS)
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
    "measure": (0.5, 0.83, "action"),
    "gap": (0.5, 0.685, "question"),
    "done": (0.12, 0.685, "stop"),
    "order": (0.5, 0.53, "question"),
    "curriculum": (0.17, 0.36, "action"),
    "ss": (0.83, 0.36, "action"),
    "check": (0.5, 0.2, "question"),
    "keep": (0.13, 0.055, "stop"),
    "next": (0.87, 0.055, "stop"),
}
_FLOW_EDGES = [
    ("start", "measure", ""),
    ("measure", "gap", ""),
    ("gap", "done", "no"),
    ("gap", "order", "yes"),
    ("order", "curriculum", "yes"),
    ("order", "ss", "no"),
    ("curriculum", "check", ""),
    ("ss", "check", ""),
    ("check", "keep", "yes"),
    ("check", "next", "no"),
]
FLOW_TEXT: dict[str, str] = {
    "start": "Train with teacher forcing",
    "measure": "Measure on held-out problems:\nexact match, and the answer\nafter a planted slip",
    "gap": "Does one slip\nruin the answer?",
    "done": "Keep teacher\nforcing",
    "order": "Can the data run from\nshort answers to long?",
    "curriculum": "Try a curriculum:\nshort answers early,\nthe full task later",
    "ss": "Try two-pass scheduled\nsampling: ρ from 0,\nreaching 0.5 late",
    "check": "Valid recovery up,\nexact match not down\n(paired, 5+ seeds)?",
    "keep": "Keep it",
    "next": "Train on its own\nanswers (chapter 7)",
}
"""The default texts of :func:`plot_decision_flowchart`; the chapter fills in measured numbers."""


def plot_decision_flowchart(text: Mapping[str, str] | None = None, *, ax: Axes | None = None) -> Figure:
    """The decision flowchart as a matplotlib figure (so the static book needs nothing from a network).

    ``text`` overrides the texts of :data:`FLOW_TEXT` by node key (``start``, ``measure``, ``gap``,
    ``done``, ``order``, ``curriculum``, ``ss``, ``check``, ``keep``, ``next``). Drawn by
    :func:`handbook_utils.flowcharts.draw_flowchart`.
    """
    labels = dict(FLOW_TEXT)
    if text is not None:
        unknown = set(text) - set(labels)
        if unknown:
            raise ValueError(f"text has unknown nodes {sorted(unknown)}; known: {sorted(labels)}")
        labels.update(text)
    return draw_flowchart(_FLOW_NODES, _FLOW_EDGES, labels, ax=ax)


def flowchart_text(labels: Mapping[str, str]) -> str:
    """Chapter 6's flowchart in words (:func:`handbook_utils.flowcharts.describe_flowchart` of its arrows
    and ``labels``)."""
    return describe_flowchart(_FLOW_EDGES, labels)


def plot_two_pass(gold: str = "1+2=3", first_pass: str = "+3=3", coins: Sequence[bool] = (False, True, True, False),
                  *, ax: Axes | None = None) -> Figure:
    """The two-pass mixing of scheduled sampling, one column per input position.

    Row by row: the gold input; what the first pass (teacher-forced, no gradient) predicts for the *next*
    token at each position; the coin of each input; the mixed input, where a heads input is replaced by
    the prediction made one position earlier (arrows show the shift); the second pass, trained against
    the gold targets. ``first_pass[t]`` is the prediction made at position ``t``; ``coins[t]`` decides
    input ``t`` (the first input is always gold)."""
    n = len(gold) - 1  # inputs gold[:-1], targets gold[1:]
    if len(first_pass) != n or len(coins) != n:
        raise ValueError(f"first_pass and coins must have one entry per input position ({n}), "
                         f"got {len(first_pass)} and {len(coins)}")
    if coins[0]:
        raise ValueError("coins[0] must be False: the first input has no earlier prediction to take")
    ax = new_axes(ax, figsize=(8.4, 4.8))
    tf, free, ink = COLORS["teacher_forcing"], COLORS["free_running"], COLORS["ink"]
    rows = [("gold input", 4.0), ("pass 1 predicts\n(no gradient)", 3.0), ("coin", 2.15),
            ("mixed input", 1.3), ("pass 2, trained\nagainst gold", 0.3)]
    mixed = [first_pass[t - 1] if coins[t] else gold[t] for t in range(n)]

    def box(x, y, text, color, dashed=False, hatch=None):
        ax.add_patch(plt.Rectangle((x - 0.3, y - 0.28), 0.6, 0.56, facecolor="white", edgecolor=color, lw=1.6,
                                   linestyle="--" if dashed else "-", hatch=hatch))
        ax.text(x, y, text, ha="center", va="center", fontsize=11, color=ink)

    for label, y in rows:
        ax.text(-0.6, y, label, ha="right", va="center", fontsize=9, color=ink)
    for t in range(n):
        box(t, 4.0, gold[t], tf)
        box(t, 3.0, first_pass[t], free, dashed=True)
        ax.text(t, 2.15, "heads: model" if coins[t] else "tails: gold", ha="center", va="center", fontsize=8,
                color=free if coins[t] else tf)
        box(t, 1.3, mixed[t], free if coins[t] else tf, hatch="//" if coins[t] else None)
        ax.text(t, 0.3, f"→ {gold[t + 1]}", ha="center", va="center", fontsize=10, color=ink)
        if coins[t]:
            ax.annotate("", xy=(t - 0.05, 1.6), xytext=(t - 0.95, 2.7),
                        arrowprops=dict(arrowstyle="-|>", color=free, lw=1.2))
    ax.set_xlim(-2.4, n - 0.4)
    ax.set_ylim(-0.2, 4.5)
    ax.axis("off")
    ax.set_title("two passes: a heads input takes the prediction made one position earlier")
    describe_axes_as(ax, describe_two_pass(gold, first_pass, coins))
    return ax.figure


def describe_two_pass(gold: str = "1+2=3", first_pass: str = "+3=3",
                      coins: Sequence[bool] = (False, True, True, False)) -> str:
    n = len(gold) - 1
    mixed = "".join(first_pass[t - 1] if coins[t] else gold[t] for t in range(n))
    heads = [t for t in range(n) if coins[t]]
    return (f"Five rows, one column per input position. The gold input {gold[:-1]!r}; the first pass, without "
            f"gradient, predicts the next token at each position: {first_pass!r}; coins come up heads at "
            f"positions {', '.join(map(str, heads))}; there the input is replaced by the prediction made one "
            f"position earlier, giving the mixed input {mixed!r}; the second pass reads it, with gradient, and "
            f"is scored against the gold targets {gold[1:]!r}.")
