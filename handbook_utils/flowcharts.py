"""Flowcharts drawn with matplotlib, with their text alternative: boxes, arrows, and the words for both.

A flowchart is data: boxes ``{key: (x, y, kind)}`` placed in axes units, arrows ``(from, to, label)``,
and the words in each box. :func:`draw_flowchart` draws it (so the static book needs no network to
show it) and :func:`describe_flowchart` says it, following the arrows from the start, which is the
figure's text alternative. Used by chapter 6 (its decision flowchart) and chapter 10 (the book's).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .plotting import COLORS, PALETTE, describe_axes_as

__all__ = ["FLOW_KINDS", "draw_flowchart", "describe_flowchart"]


FLOW_KINDS = ("start", "question", "action", "stop")
"""The kinds of box a flowchart draws: where you begin, a decision, something to do, where you end."""


def draw_flowchart(nodes: Mapping[str, tuple[float, float, str]], edges: Sequence[tuple[str, str, str]],
                   text: Mapping[str, str], *, start: str = "start", title: str = "Decision flowchart",
                   figsize: tuple[float, float] = (7.2, 7.6), fontsize: float = 10,
                   ax: Axes | None = None) -> Figure:
    """Draw a flowchart from its boxes and arrows; the text alternative follows the arrows from ``start``.

    ``nodes``: ``{key: (x, y, kind)}``, the centre of each box in axes units (0 to 1) and its kind, one of
    :data:`FLOW_KINDS`; ``edges``: ``(from, to, label)`` per arrow, in the order the text alternative
    reads them (``label`` "" for a plain arrow, "yes" / "no" after a question); ``text``: the words in
    each box (``\\n`` breaks a line). Chapter 6 draws its decision with it
    (``chapters.ch06_comparison.figures.plot_decision_flowchart``), chapter 10 the book's
    (``chapters.ch10_summary``).
    """
    missing = [key for key in nodes if key not in text]
    if missing:
        raise ValueError(f"text has no words for the nodes {missing}")
    kinds = {key: kind for key, (_, _, kind) in nodes.items()}
    bad = {key: kind for key, kind in kinds.items() if kind not in FLOW_KINDS}
    if bad:
        raise ValueError(f"nodes have unknown kinds {bad}; known: {FLOW_KINDS}")
    stray = [(a, b) for a, b, _ in edges if a not in nodes or b not in nodes]
    if stray or start not in nodes:
        raise ValueError(f"edges {stray} or start {start!r} name nodes that are not in nodes {sorted(nodes)}")
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, layout="none")
        fig.subplots_adjust(0.01, 0.01, 0.99, 0.99)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.axis("off")
    style = {
        "start": dict(fc=COLORS["flow_start"], ec=COLORS["teacher_forcing"], box="round,pad=0.5,rounding_size=0.8"),
        "action": dict(fc=COLORS["flow_action"], ec=COLORS["prediction"], box="round,pad=0.5,rounding_size=0.2"),
        "question": dict(fc=COLORS["flow_question"], ec=PALETTE[3], box="round,pad=0.6,rounding_size=1.2"),
        "stop": dict(fc=COLORS["flow_stop"], ec=COLORS["accent"], box="round,pad=0.5,rounding_size=0.8"),
    }
    boxes = {}
    renderer = ax.figure.canvas.get_renderer()
    for key, (x, y, kind) in nodes.items():
        s = style[kind]
        t = ax.text(x, y, text[key], ha="center", va="center", fontsize=fontsize, zorder=3, linespacing=1.3,
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

    for a, b, label in edges:
        ca = np.mean(np.array(extents[a]).reshape(2, 2), axis=0)
        cb = np.mean(np.array(extents[b]).reshape(2, 2), axis=0)
        start_xy, end = anchor(a, cb), anchor(b, ca)
        ax.annotate("", xy=end, xytext=start_xy, zorder=2,
                    arrowprops=dict(arrowstyle="-|>", color=COLORS["ink"], lw=1.3, shrinkA=0, shrinkB=0))
        if label:
            mx, my = (start_xy[0] + end[0]) / 2, (start_xy[1] + end[1]) / 2
            vertical = abs(end[0] - start_xy[0]) < abs(end[1] - start_xy[1])
            ax.text(mx + (0.012 if vertical else 0.0), my + (0.0 if vertical else 0.01), label,
                    ha="left" if vertical else "center", va="center" if vertical else "bottom",
                    fontsize=fontsize - 1, color=COLORS["ink"], fontweight="bold", zorder=4)
    describe_axes_as(ax, describe_flowchart(edges, text, start=start, title=title))
    return ax.figure


def describe_flowchart(edges: Sequence[tuple[str, str, str]], text: Mapping[str, str], *, start: str = "start",
                       title: str = "Decision flowchart") -> str:
    """A flowchart in words, followed from ``start`` along the arrows (its text alternative):
    ``A → B`` for a plain arrow, ``if yes: …; if no: …`` after a question. A box reached a second
    time is named and not followed again, so arrows that join or loop are said once."""
    said = {key: " ".join(words.split()) for key, words in text.items()}
    seen: set[str] = set()

    def walk(key: str) -> str:
        if key in seen:
            return f"{said[key]} (as above)"
        seen.add(key)
        out = [(b, label) for a, b, label in edges if a == key]
        if len(out) == 1 and not out[0][1]:
            return f"{said[key]} → {walk(out[0][0])}"
        branches = "; ".join(f"if {label}: {walk(b)}" if label else f"and: {walk(b)}" for b, label in out)
        return f"{said[key]} {branches}".strip()

    return f"{title}: {walk(start)}."
