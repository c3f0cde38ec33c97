"""Chapter 9's views: the path-star graph drawn, accuracy per path step, the arms compared over seeds.

Pure reading and drawing: every number comes from :mod:`.ch09_experiment` (live runs) or from the
results store (``results/ch09_full.json``), so editing this module leaves stored results valid.
Each figure has a ``describe_*`` twin that says in one sentence, from the same data, what the figure
shows: the chapter passes it to :func:`handbook_utils.plotting.show` as the summary of the image's
text alternative, and prints it as a caption.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from ..plotting import COLORS, PALETTE, describe_axes_as, new_axes, plot_seed_intervals
from ..results import SeedInterval, StoredResult, seed_interval, t95
from ..tables import Table
from ..tasks import Example, PathStarTask
from .ch09_experiment import ARMS

# colour, marker and line style per arm: colour is never the only signal
ARM_STYLES: dict[str, tuple[str, str, str]] = {
    "teacher forcing": (COLORS["teacher_forcing"], "o", "-"),
    "reversed": (PALETTE[2], "s", "--"),
    "teacherless": (PALETTE[4], "^", ":"),
    "multi-token": (PALETTE[3], "D", "-."),
}
METRICS = {  # what the arms table and figure report: table heading, figure label
    "exact_match": ("exact match", "exact match"),
    "first_tf": ("first (gold)", "first step\n(gold prefix)"),
    "later_tf": ("later (gold)", "later steps\n(gold prefix)"),
    "first_free": ("first (own)", "first step\n(own prefix)"),
    "valid_path": ("valid walk", "a valid walk\nto a leaf"),
}
UNIT = (0.0, 1.0)  # every metric above is a share


# --------------------------------------------------------------------------------------------
# One graph


def draw_graph(task: PathStarTask, example: Example, ax=None) -> Figure:
    """The graph of ``example`` with its answer path highlighted (thick, green, arrows) and the other
    arms thin and grey; the start is a square, the goal a star."""
    graph = task.parse(example)
    pos = task.layout(graph)
    ys = [y for _, y in pos.values()]
    flat = max(ys) - min(ys) < 1  # two arms: a line
    ax = new_axes(ax, figsize=(6.4, 1.9) if flat else (6.4, 5.0))
    on_path = set(zip(graph.path, graph.path[1:]))
    for u, v in graph.edges:
        (x0, y0), (x1, y1) = pos[u], pos[v]
        answer = (u, v) in on_path
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                    arrowprops=dict(arrowstyle="-|>", lw=2.5 if answer else 1.2, shrinkA=13, shrinkB=13,
                                    color=COLORS["accent"] if answer else COLORS["neutral"],
                                    linestyle="-" if answer else "--", mutation_scale=14))
    for node, (x, y) in pos.items():
        marker = "s" if node == graph.start else "*" if node == graph.goal else "o"
        size = 900 if node == graph.goal else 520
        ax.scatter([x], [y], s=size, marker=marker, zorder=3, facecolors="white",
                   edgecolors=COLORS["accent"] if node in graph.path else COLORS["neutral"], linewidths=2)
        ax.text(x, y, node, ha="center", va="center", zorder=4, color=COLORS["ink"], fontsize=11)
    ax.set_title(f"start {graph.start} (square) to goal {graph.goal} (star)")
    ax.set_aspect("equal")
    ax.axis("off")
    reach = max(abs(c) for xy in pos.values() for c in xy) + 0.5
    ax.set_xlim(-reach, reach)
    ax.set_ylim(-0.6, 0.6) if flat else ax.set_ylim(-reach, reach)
    describe_axes_as(ax, describe_graph(task, example))
    return ax.figure


def describe_graph(task: PathStarTask, example: Example) -> str:
    graph = task.parse(example)
    others = [a for a in graph.arms if a != graph.path]
    return (f"A star with {len(graph.arms)} arms of {task.path_length} nodes around the start node {graph.start}; "
            f"the answer path {' → '.join(graph.path)} is highlighted, the other arm"
            f"{'s' if len(others) > 1 else ''} ({'; '.join(' → '.join(a) for a in others)}) drawn dashed.")


def problem_count(task: PathStarTask) -> int:
    """How many distinct problems the task can pose (an edge set with its start and goal; the order
    the edges are listed in not counted): a start label, ``degree`` unordered arms of distinct labels,
    and a goal among the ``degree`` leaves."""
    arms = math.perm(task.n_nodes - 1, task.degree * (task.path_length - 1)) // math.factorial(task.degree)
    return task.n_nodes * arms * task.degree


def successors_along_path(task: PathStarTask, examples: Sequence[Example]) -> np.ndarray:
    """(n, path_length - 1): how many successors the edge list gives each node of the answer path
    before the goal. Where it is 1, "the node after the one I was just shown" is a lookup; only the
    start has ``degree`` of them. This is the shortcut teacher forcing hands the model."""
    rows = []
    for ex in examples:
        graph = task.parse(ex)
        rows.append([sum(u == node for u, _ in graph.edges) for node in graph.path[:-1]])
    return np.array(rows)


# --------------------------------------------------------------------------------------------
# Accuracy per path step


def step_intervals(cells: Sequence[Mapping], key: str) -> list[SeedInterval]:
    """Per path step, the interval over cells (seeds) of ``cell[key][step]``."""
    rows = np.array([c[key] for c in cells], dtype=float)  # (seeds, path_length)
    return [seed_interval(rows[:, k], UNIT) for k in range(rows.shape[1])]


def plot_steps(cells: Sequence[Mapping], degree: int, ax=None, title: str | None = None) -> Figure:
    """Accuracy at each node of the answer path, with gold prefixes (blue circles, solid) and with the
    model's own (vermilion squares, dashed); mean over ``cells`` with 95% intervals; chance 1/d dotted."""
    ax = new_axes(ax)
    tf, free = step_intervals(cells, "step_tf"), step_intervals(cells, "step_free")
    steps = np.arange(len(tf))
    for ivs, color, marker, style, label, dx in (
        (tf, COLORS["teacher_forcing"], "o", "-", "gold prefix (teacher forced)", -0.05),
        (free, COLORS["free_running"], "s", "--", "own prefix (free running)", 0.05),
    ):
        mean = np.array([i.mean for i in ivs])
        err = np.array([[i.mean - i.low for i in ivs], [i.high - i.mean for i in ivs]])
        ax.errorbar(steps + dx, mean, yerr=err, color=color, marker=marker, linestyle=style, capsize=3, label=label)
    ax.axhline(1 / degree, color=COLORS["neutral"], linestyle=":", label=f"chance among {degree} arms (1/d)")
    names = ["start"] + [f"n{k}" for k in range(1, len(tf) - 1)] + ["goal"]
    ax.set_xticks(steps, names)
    ax.set_xlabel("node of the answer path")
    ax.set_ylabel("accuracy")
    ax.set_ylim(-0.03, 1.05)
    n = len(cells)
    ax.set_title(title or f"accuracy per node, mean of {n} seed{'s' if n > 1 else ''}")
    ax.legend(loc="lower right")
    return ax.figure


def plot_steps_by_arm(stored: StoredResult, degree: int) -> Figure:
    """:func:`plot_steps` for every arm of ``stored``, one panel each."""
    arms = [a for a in ARMS if stored.select(arm=a)]
    cols = 2 if len(arms) > 1 else 1
    rows = (len(arms) + cols - 1) // cols
    figure, axes = plt.subplots(rows, cols, figsize=(9.6, 3.6 * rows), sharey=True, squeeze=False)
    for ax, arm in zip(axes.flat, arms):
        cells = stored.select(arm=arm)
        plot_steps(cells, degree, ax=ax, title=f"{arm} ({len(cells)} seeds)")
        if ax is not axes.flat[0]:
            ax.get_legend().remove()
    for ax in list(axes.flat)[len(arms):]:
        ax.axis("off")
    return figure


def describe_steps(cells: Sequence[Mapping]) -> str:
    tf, free = step_intervals(cells, "step_tf"), step_intervals(cells, "step_free")
    later = ", ".join(f"{i.mean:.2f}" for i in tf[2:])
    return (f"Accuracy per node of the answer path: with gold prefixes the first step after the start is right "
            f"{tf[1].mean:.2f} of the time and the later nodes {later}; with the model's own prefixes the first "
            f"step is {free[1].mean:.2f} and the goal {free[-1].mean:.2f}.")


# --------------------------------------------------------------------------------------------
# The arms compared


def summarize(stored: StoredResult, metrics: Sequence[str] = tuple(METRICS)) -> dict[str, dict[str, SeedInterval]]:
    """``{arm: {metric: SeedInterval}}`` over the seeds of each arm, in the book's arm order."""
    arms = [a for a in ARMS if stored.select(arm=a)]
    return {a: {m: seed_interval([c[m] for c in stored.select(arm=a)], UNIT) for m in metrics} for a in arms}


def format_table(summary: Mapping[str, Mapping[str, SeedInterval]], metrics: Sequence[str] = tuple(METRICS),
                 caption: str = "") -> Table:
    """One row per arm: ``mean [95% interval]`` per metric, and the number of seeds."""
    rows = [[arm, *(str(row[m]) for m in metrics), next(iter(row.values())).n] for arm, row in summary.items()]
    return Table.of(["arm", *(METRICS[m][0] for m in metrics), "seeds"], rows, caption)


def plot_arms(summary: Mapping[str, Mapping[str, SeedInterval]], degree: int,
              metrics: Sequence[str] = ("exact_match", "first_tf", "later_tf"), ax=None) -> Figure:
    """Each arm's mean and 95% interval per metric (one marker and colour per arm), every seed as a small
    dot beside it; chance 1/d dotted."""
    ax = plot_seed_intervals(new_axes(ax, figsize=(7.6, 4.2)), summary, metrics, ARM_STYLES)
    ax.axhline(1 / degree, color=COLORS["neutral"], linestyle=":", label="chance 1/d")
    ax.set_xticks(range(len(metrics)), [METRICS[m][1] for m in metrics])
    ax.set_ylabel("accuracy on held-out graphs")
    ax.set_ylim(-0.03, 1.05)
    ax.set_title("four ways of training, mean and 95% interval over seeds")
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5))
    return ax.figure


def describe_arms(summary: Mapping[str, Mapping[str, SeedInterval]]) -> str:
    parts = [f"{arm} {row['exact_match'].mean:.2f} (first step {row['first_tf'].mean:.2f})"
             for arm, row in summary.items()]
    return "Exact match on held-out graphs per arm: " + "; ".join(parts) + "."


def compare(a: SeedInterval, b: SeedInterval) -> tuple[float, float, float, str]:
    """``a - b`` with a 95% interval (Welch, with the smaller sample's degrees of freedom: conservative)
    and a verdict word: "higher", "lower" or "not distinguishable" (the interval contains 0)."""
    delta = a.mean - b.mean
    half = t95(max(1, min(a.n, b.n) - 1)) * float(np.sqrt(a.sd**2 / a.n + b.sd**2 / b.n))
    word = "higher" if delta - half > 0 else "lower" if delta + half < 0 else "not distinguishable"
    return delta, delta - half, delta + half, word


def against(iv: SeedInterval, value: float) -> str:
    """Where ``value`` lies relative to the interval: "above", "below" or "within"."""
    return "below" if iv.high < value else "above" if iv.low > value else "within"


def plot_loss_curves(stored: StoredResult, ax=None) -> Figure:
    """Training loss per arm (mean over seeds), against the fraction of training done."""
    ax = new_axes(ax)
    for arm in [a for a in ARMS if stored.select(arm=a)]:
        color, marker, style = ARM_STYLES[arm]
        curves = np.array([c["loss_curve"] for c in stored.select(arm=arm)])  # (seeds, points)
        x = (np.arange(curves.shape[1]) + 0.5) / curves.shape[1]
        label = f"{arm} (the heads' losses summed)" if arm == "multi-token" else arm
        ax.plot(x, curves.mean(0), color=color, linestyle=style, marker=marker, markevery=5, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("fraction of training")
    ax.set_ylabel("training loss (nats per answer token)")
    ax.legend()
    return ax.figure
