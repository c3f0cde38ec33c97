"""Greedy decoding misses the most probable answer, drawn (chapter 2, section "Predicting the next book?").

The task is :class:`handbook_utils.tasks.TwoStepTask`, a two-token distribution known exactly, and
the decoders are :func:`handbook_utils.generation.greedy_decode` and
:func:`handbook_utils.generation.beam_search`. This module only draws the probability tree
(:func:`plot_greedy_tree`) and puts sliders on it (:func:`greedy_tree_explorer`).
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .. import checks
from ..plotting import COLORS, describe_axes_as, figure_html, new_axes
from ..runtime import placeholder
from ..tasks import TwoStepTask

__all__ = ["plot_greedy_tree", "greedy_tree_explorer"]


def _tree_layout(task: TwoStepTask) -> tuple[list[int], list[tuple[int, int]]]:
    """Indices of the first letters with P > 0, and the (first, second) leaves with P > 0."""
    L = task.letters
    firsts = [i for i in range(len(L)) if task.first[i] > 0]
    leaves = [(i, j) for i in firsts for j in range(len(L)) if task.second[i][j] > 0]
    return firsts, leaves


def plot_greedy_tree(task: TwoStepTask, ax: Axes | None = None) -> Figure:
    """The probability tree of a :class:`TwoStepTask`, with the greedy path and the most probable answer.

    Branches are labelled with conditional probabilities, leaves with joint probabilities. The
    text alternative lists the same numbers (:func:`~handbook_utils.plotting.describe_axes_as`).
    """
    checks.instance("task", task, TwoStepTask)
    ax = new_axes(ax, figsize=(7.0, 4.2))
    L = task.letters
    firsts, leaves = _tree_layout(task)
    greedy, p_greedy = task.greedy()
    best, p_best = task.best()
    joint = task.joint()
    n = len(leaves)
    leaf_y = {leaf: (n - 1 - k) for k, leaf in enumerate(leaves)}
    first_y = {i: float(np.mean([leaf_y[lf] for lf in leaves if lf[0] == i])) for i in firsts}
    root_y = float(np.mean(list(first_y.values())))
    G, B = COLORS["free_running"], COLORS["accent"]

    def edge(x0, y0, x1, y1, label, on_greedy, on_best):
        color = G if on_greedy else (B if on_best else COLORS["neutral"])
        ax.plot([x0, x1], [y0, y1], color=color, lw=3.0 if (on_greedy or on_best) else 1.2, zorder=1,
                ls="--" if (on_best and not on_greedy) else "-")
        ax.text((x0 + x1) / 2, (y0 + y1) / 2 + 0.12, label, ha="center", va="bottom", fontsize=9,
                color=COLORS["ink"], bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.85))

    def node(x, y, text):
        ax.text(x, y, text, ha="center", va="center", fontsize=12, family="monospace",
                bbox=dict(boxstyle="circle", fc="white", ec=COLORS["ink"]), zorder=3)

    for i in firsts:
        edge(0, root_y, 1, first_y[i], f"{task.first[i]:.2f}", L[i] == greedy[0], L[i] == best[0])
        node(1, first_y[i], L[i])
    for (i, j) in leaves:
        answer = L[i] + L[j]
        edge(1, first_y[i], 2, leaf_y[(i, j)], f"{task.second[i][j]:.2f}", answer == greedy, answer == best)
        tag = "  ← greedy" if answer == greedy else ("  ← most probable" if answer == best else "")
        weight = "bold" if tag else "normal"
        ax.text(2.08, leaf_y[(i, j)], f"{answer}   P = {joint[answer]:.3f}{tag}", va="center", fontsize=10,
                family="monospace", fontweight=weight,
                color=G if answer == greedy else (B if answer == best else COLORS["ink"]))
    node(0, root_y, "^")
    ax.set_xlim(-0.2, 3.6)
    ax.set_ylim(-0.7, n - 0.3)
    ax.axis("off")
    verdict = ("greedy finds the most probable answer" if greedy == best else
               f"greedy writes {greedy!r} (P = {p_greedy:.3f}), the best is {best!r} (P = {p_best:.3f})")
    ax.set_title(verdict, fontsize=11)
    tags = {greedy: " (greedy)", best: " (most probable)"} if greedy != best else {best: " (greedy, most probable)"}
    describe_axes_as(ax, f"Probability tree of the two-letter answers: {verdict}. First letter: "
                     + ", ".join(f"{L[i]} with P = {task.first[i]:.2f}" for i in firsts) + ". Whole answers: "
                     + ", ".join(f"{L[i] + L[j]} P = {joint[L[i] + L[j]]:.3f}{tags.get(L[i] + L[j], '')}"
                                 for i, j in leaves) + ".")
    return ax.figure


def greedy_tree_explorer(p_first: float = 0.55, top_after_first: float = 0.4, top_after_second: float = 0.9):
    """Sliders for :meth:`TwoStepTask.from_tops`, redrawing the tree (for JupyterLab; inert in the static book).

    The slider names are ``HTML`` widgets rather than slider descriptions: a description is passed to
    MathJax by the widget manager, which fails on a static page that also typesets math. Each slider
    carries its name as its ``tooltip`` too, which the book's ``widgets-a11y.js`` makes its accessible
    name; the tree is shown as an ``<img>`` with its text alternative (:func:`~handbook_utils.plotting.figure_html`).
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import HTML, display

    def draw(p_first, top_after_first, top_after_second):
        fig = plot_greedy_tree(TwoStepTask.from_tops(p_first, top_after_first, top_after_second))
        plt.close(fig)
        display(HTML(figure_html(fig)))

    names = {"p_first": "P(a first)", "top_after_first": "P(a | a)", "top_after_second": "P(a | b)"}
    spoken = {"p_first": "probability that a comes first", "top_after_first": "probability of a after a",
              "top_after_second": "probability of a after b"}
    values = {"p_first": p_first, "top_after_first": top_after_first, "top_after_second": top_after_second}
    sliders = {k: widgets.FloatSlider(value=v, min=0.0, max=1.0, step=0.01, continuous_update=False,
                                      tooltip=f"{names[k]}: {spoken[k]}", layout=widgets.Layout(width="320px"))
               for k, v in values.items()}
    rows = [widgets.HBox([widgets.HTML(f"<code>{names[k]}</code>", layout=widgets.Layout(width="90px")), sliders[k]])
            for k in values]
    out = widgets.interactive_output(draw, sliders)
    return placeholder(widgets.VBox([*rows, out]), "Run this cell to explore the tree with sliders "
                       "(they need a running kernel).")
