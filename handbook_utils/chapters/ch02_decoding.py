"""Greedy decoding misses the most probable answer, drawn (chapter 2, section "Predicting the next book?").

The task is :class:`handbook_utils.tasks.TwoStepTask`, a two-token distribution known exactly, and
the decoders are :func:`handbook_utils.generation.greedy_decode` and
:func:`handbook_utils.generation.beam_search`. This module only draws the probability tree
(:func:`tree_data`, :func:`plot_greedy_tree`) and puts sliders on it (:class:`TreeExplorer`, drawn in the
browser from :func:`explorer_trees`).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import traitlets
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .. import checks
from ..plotting import COLORS, describe_axes_as, new_axes
from ..tasks import TwoStepTask
from ..web_widgets import BrowserWidget

__all__ = ["tree_data", "plot_greedy_tree", "SLIDERS", "explorer_trees", "TreeExplorer"]


def _tree_layout(task: TwoStepTask) -> tuple[list[int], list[tuple[int, int]]]:
    """Indices of the first letters with P > 0, and the (first, second) leaves with P > 0."""
    L = task.letters
    firsts = [i for i in range(len(L)) if task.first[i] > 0]
    leaves = [(i, j) for i in firsts for j in range(len(L)) if task.second[i][j] > 0]
    return firsts, leaves


def tree_data(task: TwoStepTask) -> dict:
    """The tree of a :class:`TwoStepTask` as data: the first letters and the two-letter answers with P > 0,
    each branch's probability, each answer's joint probability, which branches greedy decoding follows
    and which lead to the most probable answer, a one-line verdict and the tree said in words.

    :func:`plot_greedy_tree` draws it with matplotlib, :class:`TreeExplorer` in the browser."""
    checks.instance("task", task, TwoStepTask)
    L = task.letters
    firsts, leaves = _tree_layout(task)
    greedy, p_greedy = task.greedy()
    best, p_best = task.best()
    joint = task.joint()
    verdict = ("greedy finds the most probable answer" if greedy == best else
               f"greedy writes {greedy!r} (P = {p_greedy:.3f}), the best is {best!r} (P = {p_best:.3f})")
    tags = {greedy: " (greedy)", best: " (most probable)"} if greedy != best else {best: " (greedy, most probable)"}
    description = (f"Probability tree of the two-letter answers: {verdict}. First letter: "
                   + ", ".join(f"{L[i]} with P = {task.first[i]:.2f}" for i in firsts) + ". Whole answers: "
                   + ", ".join(f"{L[i] + L[j]} P = {joint[L[i] + L[j]]:.3f}{tags.get(L[i] + L[j], '')}"
                               for i, j in leaves) + ".")
    return {
        "verdict": verdict, "description": description,
        "firsts": [{"index": i, "letter": L[i], "p": float(task.first[i]), "greedy": L[i] == greedy[0],
                    "best": L[i] == best[0]} for i in firsts],
        "leaves": [{"first": i, "answer": L[i] + L[j], "p": float(task.second[i][j]),
                    "joint": float(joint[L[i] + L[j]]), "greedy": L[i] + L[j] == greedy,
                    "best": L[i] + L[j] == best} for i, j in leaves],
    }


def plot_greedy_tree(task: TwoStepTask, ax: Axes | None = None) -> Figure:
    """The probability tree of a :class:`TwoStepTask`, with the greedy path and the most probable answer.

    Branches are labelled with conditional probabilities, leaves with joint probabilities. The
    text alternative lists the same numbers (:func:`~handbook_utils.plotting.describe_axes_as`).
    """
    tree = tree_data(task)
    ax = new_axes(ax, figsize=(7.0, 4.2))
    leaves = [(lf["first"], lf) for lf in tree["leaves"]]
    n = len(leaves)
    leaf_y = [n - 1 - k for k in range(n)]
    first_y = {f["index"]: float(np.mean([y for (i, _), y in zip(leaves, leaf_y) if i == f["index"]]))
               for f in tree["firsts"]}
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

    for f in tree["firsts"]:
        edge(0, root_y, 1, first_y[f["index"]], f"{f['p']:.2f}", f["greedy"], f["best"])
        node(1, first_y[f["index"]], f["letter"])
    for (i, lf), y in zip(leaves, leaf_y):
        edge(1, first_y[i], 2, y, f"{lf['p']:.2f}", lf["greedy"], lf["best"])
        tag = "  ← greedy" if lf["greedy"] else ("  ← most probable" if lf["best"] else "")
        ax.text(2.08, y, f"{lf['answer']}   P = {lf['joint']:.3f}{tag}", va="center", fontsize=10,
                family="monospace", fontweight="bold" if tag else "normal",
                color=G if lf["greedy"] else (B if lf["best"] else COLORS["ink"]))
    node(0, root_y, "^")
    ax.set_xlim(-0.2, 3.6)
    ax.set_ylim(-0.7, n - 0.3)
    ax.axis("off")
    ax.set_title(tree["verdict"], fontsize=11)
    describe_axes_as(ax, tree["description"])
    return ax.figure


SLIDERS = (("p_first", "<code>P(a first)</code>"), ("top_after_first", "<code>P(a | a)</code>"),
           ("top_after_second", "<code>P(a | b)</code>"))
"""The explorer's sliders: the three arguments of :meth:`TwoStepTask.from_tops`, and their labels."""


def explorer_trees(p_first: float = 0.55, top_after_first: float = 0.4, top_after_second: float = 0.9,
                   grid: Sequence[float] = tuple(np.round(np.arange(0.1, 0.91, 0.1), 2))) -> dict:
    """The data of :class:`TreeExplorer`: :func:`tree_data` for every point of the sliders' grid (each
    slider steps through ``grid`` plus its start value, all strictly between 0 and 1).

    Inside (0, 1) every tree has the same branches (first letters ``a`` and ``b``, three answers after
    each), so they are listed once, and each tree is stored as its numbers alone, keyed by the sliders'
    indices ``"i,j,k"``: the two first-letter probabilities, the six branch probabilities, the six
    answers' joint probabilities, then the index of the answer greedy decoding writes and of the most
    probable one. The browser only draws them and says them in words.
    """
    start = {"p_first": p_first, "top_after_first": top_after_first, "top_after_second": top_after_second}
    grids = {name: sorted({round(float(checks.in_open_unit("grid[i]", g)), 4) for g in grid}
                          | {round(checks.in_open_unit(name, value), 4)})
             for name, value in start.items()}
    names = [name for name, _ in SLIDERS]
    layout, trees = None, {}
    for index in itertools.product(*(range(len(grids[n])) for n in names)):
        tree = tree_data(TwoStepTask.from_tops(**{n: grids[n][i] for n, i in zip(names, index)}))
        shape = ([f["letter"] for f in tree["firsts"]], [(lf["first"], lf["answer"]) for lf in tree["leaves"]])
        if layout is None:
            layout = shape
        assert shape == layout, (shape, layout)  # inside (0, 1) the branches never change
        leaves = tree["leaves"]
        trees[",".join(map(str, index))] = (
            [round(f["p"], 4) for f in tree["firsts"]] + [round(lf["p"], 4) for lf in leaves]
            + [round(lf["joint"], 4) for lf in leaves]
            + [[lf["greedy"] for lf in leaves].index(True), [lf["best"] for lf in leaves].index(True)])
    colors = {"greedy": COLORS["free_running"], "best": COLORS["accent"], "neutral": COLORS["neutral"],
              "ink": COLORS["ink"], "greedy_text": COLORS["free_running_text"], "best_text": COLORS["accent_text"]}
    return {"sliders": [{"name": n, "label": label, "values": grids[n], "index": grids[n].index(round(start[n], 4))}
                        for n, label in SLIDERS],
            "firsts": layout[0], "leaves": [{"first": i, "answer": answer} for i, answer in layout[1]],
            "trees": trees, "colors": colors}


class TreeExplorer(BrowserWidget):
    """Sliders for :meth:`TwoStepTask.from_tops`, redrawing the tree in the browser
    (``web/tree_explorer.js``) from :func:`explorer_trees`, so they move on the static page too."""

    _module = "tree_explorer"
    placeholder = "Run this cell to explore the tree with sliders."
    data = traitlets.Dict().tag(sync=True, static=True)

    def __init__(self, p_first: float = 0.55, top_after_first: float = 0.4, top_after_second: float = 0.9) -> None:
        super().__init__(data=explorer_trees(p_first, top_after_first, top_after_second))
