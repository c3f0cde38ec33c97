"""The book's one plotting style and its colours: every hex colour of the package is defined here.

Every figure in the book goes through :func:`use_book_style` and the colours in :data:`COLORS`,
so "teacher forcing" is the same blue and "free running" the same vermilion in every chapter.
Used by every chapter (1-6); the figures themselves live with their chapter
(``handbook_utils.chapters.chNN_*``).

Conventions for plotting functions (in the chapter modules):

- take the data (a dataclass from another module) and an optional ``ax``;
- draw on ``ax`` if given, otherwise on a fresh figure from :func:`new_axes`;
- return the :class:`~matplotlib.figure.Figure`, and never call ``plt.show()``: the chapter
  decides when to show, and tests can inspect the figure.
"""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
from cycler import cycler
from matplotlib.axes import Axes

__all__ = [
    "COLORS",
    "PALETTE",
    "SCHEDULE_COLORS",
    "FIGSIZE",
    "FRACTION_LIMITS",
    "DPI",
    "BOOK_RC",
    "use_book_style",
    "new_axes",
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
    "ink": "#333333",  # text and rules drawn in a widget's HTML (chapter 1's blank to fill)
    "note": "#555555",  # small print under a widget's table (chapter 5's explorer)
}
"""Colours by *meaning*. Later chapters add roles here rather than picking colours locally."""

SCHEDULE_COLORS: dict[str, str] = {
    "linear": PALETTE[3],  # orange
    "exponential": PALETTE[4],  # reddish purple
    "inverse_sigmoid": PALETTE[2],  # bluish green
}
"""One colour per scheduled-sampling family (keys: :data:`handbook_utils.schedules.KINDS`).

Used by chapter 5's figures and explorer and by chapter 6's arms, so a family keeps its colour."""

FIGSIZE: tuple[float, float] = (6.4, 4.0)
FRACTION_LIMITS: tuple[float, float] = (-0.02, 1.02)
"""Axis limits for a share or a probability: 0 and 1 stay visible instead of sitting on the frame."""
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
