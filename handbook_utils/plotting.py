"""The book's one plotting style, and the plots the chapters share.

Every figure in the book goes through :func:`use_book_style` and the colours in :data:`COLORS`,
so "teacher forcing" is the same blue and "free running" the same vermilion in every chapter.

Conventions for plotting functions added here later:

- take the data (a dataclass from another module) and an optional ``ax``;
- draw on ``ax`` if given, otherwise on a fresh figure from :func:`new_axes`;
- return the :class:`~matplotlib.figure.Figure`, and never call ``plt.show()``: the chapter
  decides when to show, and tests can inspect the figure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib as mpl
import matplotlib.pyplot as plt
from cycler import cycler
from matplotlib.axes import Axes
from matplotlib.figure import Figure

if TYPE_CHECKING:  # only for type hints: plotting must not force the game module to load
    from handbook_utils.chapters.ch01_proofs import ContrastCurve

__all__ = [
    "COLORS",
    "PALETTE",
    "FIGSIZE",
    "DPI",
    "BOOK_RC",
    "use_book_style",
    "new_axes",
    "plot_proof_contrast",
]

# Okabe–Ito colours: distinguishable with the common colour-vision deficiencies and in greyscale.
PALETTE: tuple[str, ...] = (
    "#0072B2",  # blue
    "#D55E00",  # vermilion
    "#009E73",  # bluish green
    "#E69F00",  # orange
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
)

COLORS: dict[str, str] = {
    "teacher_forcing": PALETTE[0],
    "free_running": PALETTE[1],
    "prediction": "#555555",
    "accent": PALETTE[2],
    "neutral": "#999999",
}
"""Colours by *meaning*. Later chapters add roles here rather than picking colours locally."""

FIGSIZE: tuple[float, float] = (6.4, 4.0)
DPI: int = 110

BOOK_RC: dict[str, object] = {
    "figure.figsize": FIGSIZE,
    "figure.dpi": DPI,
    "savefig.dpi": 200,
    "savefig.bbox": "tight",
    "figure.constrained_layout.use": True,
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.labelsize": 11,
    "axes.prop_cycle": cycler(color=list(PALETTE)),
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.8,
    "legend.frameon": False,
    "legend.fontsize": 10,
    "lines.linewidth": 2.0,
    "lines.markersize": 5,
}


def use_book_style() -> None:
    """Apply the book's rcParams. Idempotent: every chapter calls it in its first cell."""
    mpl.rcParams.update(BOOK_RC)


def new_axes(ax: Axes | None = None, figsize: tuple[float, float] | None = None) -> Axes:
    """Return ``ax`` unchanged, or the axes of a new figure when ``ax`` is None."""
    if ax is not None:
        return ax
    _, new_ax = plt.subplots(figsize=figsize)
    return new_ax


def plot_proof_contrast(curve: ContrastCurve, ax: Axes | None = None) -> Figure:
    """Chapter 1's figure: per-word accuracy against whole-proof success, as ``p`` varies.

    Four lines: teacher-forced per-word accuracy, free-running per-word accuracy, free-running
    whole-proof success, and the ``p̂ ** L`` forecast made from the teacher-forced accuracy.
    """
    ax = new_axes(ax)
    x = curve.word_accuracy
    ax.plot(x, curve.tf_word_accuracy, "o-", color=COLORS["teacher_forcing"],
            label="teacher forcing: words right")
    ax.plot(x, curve.free_word_accuracy, "s--", color=COLORS["free_running"],
            label="free running: words right")
    ax.plot(x, curve.free_proof_success, "D-", color=COLORS["free_running"],
            label="free running: whole proofs right")
    ax.plot(x, curve.predicted_proof_success, ":", color=COLORS["prediction"],
            label=r"forecast $\hat{p}^{L}$ from teacher forcing")
    ax.set_xlabel("p = chance of the right word after a correct prefix")
    ax.set_ylabel("fraction")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"Same reader, two jobs (confusion after an error = "
                 f"{curve.confusion_after_error:.0%})")
    # the lower left is empty: whole-proof success is ~0 there, and per-word rates sit higher
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 0.08))
    return ax.figure
