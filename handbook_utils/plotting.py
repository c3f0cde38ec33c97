"""The book's one plotting style and its colours: every hex colour of the package is defined here.

Every figure in the book goes through :func:`use_book_style` and the colours in :data:`COLORS`,
so "teacher forcing" is the same blue and "free running" the same vermilion in every chapter.
Used by every chapter (1-6); the figures themselves live with their chapter
(``handbook_utils.chapters.chNN_*``).

Conventions for plotting functions (in the chapter modules):

- take the data (a dataclass from another module) and an optional ``ax``;
- draw on ``ax`` if given, otherwise on a fresh figure from :func:`new_axes`;
- return the :class:`~matplotlib.figure.Figure`, and never call ``plt.show()``: the chapter
  decides when to show (with :func:`show`), and tests can inspect the figure.

Accessibility (WCAG 2.1 AA), for every figure and every widget's HTML:

- colour is never the only carrier of meaning: lines differ by style or marker as well
  (:data:`SCHEDULE_MARKERS`, ...), bars by hatching;
- text drawn in a colour uses a ``*_text`` role of :data:`COLORS` (or :data:`SCHEDULE_TEXT_COLORS`),
  the same hue darkened by :func:`readable_on_white` to a contrast of at least 4.5:1 on white;
- a figure is shown with :func:`show` (or, inside a widget, as :func:`figure_html`), which attaches
  a text alternative, :func:`describe_figure`, read from the drawn figure itself, so that it says
  what the figure shows and stays true when the numbers change.
"""

from __future__ import annotations

import base64
import io
import math
import re
import weakref

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from cycler import cycler
from matplotlib.axes import Axes
from matplotlib.collections import Collection
from matplotlib.colors import to_rgb
from matplotlib.container import BarContainer
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

__all__ = [
    "COLORS",
    "PALETTE",
    "SCHEDULE_COLORS",
    "SCHEDULE_TEXT_COLORS",
    "SCHEDULE_MARKERS",
    "MARK_EVERY",
    "TEXT_CONTRAST",
    "TEXT_ROLES",
    "spoken_html",
    "contrast_ratio",
    "readable_on_white",
    "FIGSIZE",
    "FRACTION_LIMITS",
    "DPI",
    "BOOK_RC",
    "use_book_style",
    "new_axes",
    "describe_figure",
    "describe_axes_as",
    "show",
    "figure_html",
]

TEXT_CONTRAST = 4.5
"""WCAG 2.1 AA's minimum contrast for normal-size text (success criterion 1.4.3)."""


def _luminance(color: str) -> float:
    """Relative luminance of an sRGB colour, as WCAG 2.1 defines it."""
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in to_rgb(color)]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(foreground: str, background: str = "white") -> float:
    """WCAG contrast ratio of two colours, from 1 (the same) to 21 (black on white)."""
    lighter, darker = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def readable_on_white(color: str, ratio: float = TEXT_CONTRAST) -> str:
    """``color`` darkened (same hue, RGB scaled towards black) just enough that text in it reaches
    ``ratio`` against white; returned unchanged when it already does. The ``*_text`` colour roles."""
    rgb = np.array(to_rgb(color))
    for k in range(101):
        candidate = "#{:02X}{:02X}{:02X}".format(*np.round(rgb * (1 - k / 100) * 255).astype(int))
        if contrast_ratio(candidate) >= ratio:
            return candidate
    raise AssertionError("unreachable: black has contrast 21 on white")  # pragma: no cover

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
    # fills of the boxes of chapter 6's decision flowchart (dark text on them), by kind of box
    "flow_start": "#E8F1FA",  # where you begin: a light teacher-forcing blue
    "flow_action": "#F3F3F3",  # something to do
    "flow_question": "#FFF6E0",  # a decision
    "flow_stop": "#E6F5EF",  # where you end: a light accent green
}
"""Colours by *meaning*. Later chapters add roles here rather than picking colours locally."""

TEXT_ROLES: tuple[str, ...] = ("teacher_forcing", "free_running", "accent", "neutral", "prediction")
"""The roles that also colour text (in a widget's or a chapter's HTML): each has a ``<role>_text`` twin."""

COLORS.update({f"{role}_text": readable_on_white(COLORS[role]) for role in TEXT_ROLES})
# e.g. COLORS["free_running_text"]: the free-running vermilion, darkened to >= 4.5:1 on white for
# text (the true words and the model's own words of chapters 1 and 3, a planted digit of chapter 4)

SCHEDULE_COLORS: dict[str, str] = {
    "linear": PALETTE[3],  # orange
    "exponential": PALETTE[4],  # reddish purple
    "inverse_sigmoid": PALETTE[2],  # bluish green
}
"""One colour per scheduled-sampling family (keys: :data:`handbook_utils.schedules.KINDS`).

Used by chapter 5's figures and explorer and by chapter 6's arms, so a family keeps its colour."""

SCHEDULE_TEXT_COLORS: dict[str, str] = {kind: readable_on_white(c) for kind, c in SCHEDULE_COLORS.items()}
""":data:`SCHEDULE_COLORS` for text (chapter 5's explorer table): the same hues at >= 4.5:1 on white."""

SCHEDULE_MARKERS: dict[str, str] = {"linear": "o", "exponential": "s", "inverse_sigmoid": "^"}
"""One marker per family, so that the families differ without colour too (chapter 5); line styles
stay free for other meanings (dashed: the same schedule after a warmup). Spaced by :data:`MARK_EVERY`."""

MARK_EVERY = 0.1
"""``markevery`` for markers that label a dense line: one every tenth of the axes' diagonal."""

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


def plot_seed_intervals(ax: Axes, summary, metrics, styles, *, markersize: float = 8) -> Axes:
    """Groups side by side at each metric: every group's mean with its 95% interval, and each seed as a
    small dot beside it, so the spread is seen and not only summarized.

    ``summary``: ``{group: {metric: interval}}``, intervals with ``mean``, ``low``, ``high`` and ``values``
    (:class:`handbook_utils.results.SeedInterval`); ``styles``: ``{group: (colour, marker, ...)}`` (the
    marker keeps colour from being the only signal). The x axis is ``0 … len(metrics) - 1``; label it.
    """
    groups = list(summary)
    width = 0.8 / len(groups)
    for g, group in enumerate(groups):
        color, marker = styles[group][:2]
        for m, metric in enumerate(metrics):
            iv = summary[group][metric]
            x = m + (g - (len(groups) - 1) / 2) * width
            ax.errorbar([x], [iv.mean], yerr=[[iv.mean - iv.low], [iv.high - iv.mean]], color=color, marker=marker,
                        markersize=markersize, capsize=markersize / 2, linestyle="none",
                        label=group if m == 0 else None)
            ax.scatter(np.full(len(iv.values), x + width * 0.3), iv.values, s=markersize + 2, color=color,
                       marker=marker, alpha=0.6)
    return ax


_SCREEN_READER_ONLY = ("position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);"
                       "white-space:nowrap;")


def spoken_html(text: str) -> str:
    """``text`` (escaped) as HTML that screen readers read and the eye does not see: says in words
    what the eye gets from a colour, a highlight or a strike-through (chapters 1, 3 and 4)."""
    import html

    return f'<span style="{_SCREEN_READER_ONLY}">{html.escape(text)}</span>'


# ---------------------------------------------------------------------------------------------
# Text alternatives: a figure described from what is drawn on it


_TEX = {r"\hat{p}": "p̂", r"\hat{g}": "ĝ", r"\|": "‖", r"\varepsilon": "ε", r"\cdot": "·", r"\propto": "∝",
        r"\sqrt": "√", r"\times": "×", r"\leq": "≤", r"\geq": "≥", r"\approx": "≈"}


def _plain(text: str) -> str:
    """A label without mathtext markup: ``r"forecast $\\hat{p}^{L}$"`` -> ``"forecast p̂^L"``."""
    for tex, plain in _TEX.items():
        text = text.replace(tex, plain)
    text = re.sub(r"\\(mathrm|text|mathit)\{([^}]*)\}", r"\2", text)
    text = re.sub(r"\\([A-Za-z]+)", r"\1", text)
    return " ".join(text.replace("$", "").replace("{", "").replace("}", "").split())


def _num(value: float) -> str:
    """A number as a reader would say it: three significant digits, no exponent when avoidable."""
    if not math.isfinite(value):
        return "infinity" if value > 0 else ("minus infinity" if value < 0 else "undefined")
    value = float(value) + 0.0  # no "-0"
    if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
        return f"{value:.2g}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _describe_line(label: str, line: Line2D) -> str:
    xy = np.asarray(line.get_xydata(), dtype=float)
    xy = xy[np.all(np.isfinite(xy), axis=1)] if xy.ndim == 2 else xy
    if len(xy) == 0:
        return label
    x, y = xy[:, 0], xy[:, 1]
    if np.ptp(y) == 0:
        return f"{label}: level at {_num(y[0])}"
    if np.ptp(x) == 0:
        return f"{label}: at {_num(x[0])}"
    text = f"{label}: from {_num(y[0])} at {_num(x[0])} to {_num(y[-1])} at {_num(x[-1])}"
    close = 0.01 * np.ptp(y)  # an extreme within 1% of the range of an end point says nothing new
    for name, k in (("highest", int(np.argmax(y))), ("lowest", int(np.argmin(y)))):
        if min(abs(y[k] - y[0]), abs(y[k] - y[-1])) > close:
            text += f", {name} {_num(y[k])} at {_num(x[k])}"
    return text


def _describe_values(label: str, values: np.ndarray, what: str, names: list[str] | None = None) -> str:
    """``what`` is "bars" or "points"; ``names`` (one per value) name the values, e.g. tick labels."""
    keep = np.isfinite(values)
    values = values[keep]
    if len(values) == 0:
        return label
    if names is not None and len(names) == len(keep):
        named = [n for n, k in zip(names, keep) if k]
        return f"{label}: " + ", ".join(f"{n} = {_num(v)}" for n, v in zip(named, values))
    if len(values) <= 8:
        return f"{label}: {what} at {', '.join(_num(v) for v in values)}"
    return f"{label}: {len(values)} {what} from {_num(values.min())} to {_num(values.max())}"


def _bar_values(bars: BarContainer) -> tuple[np.ndarray, list[str] | None]:
    """Bar lengths, and the category names on the axis the bars stand on (when it has text labels)."""
    horizontal = getattr(bars, "orientation", "vertical") == "horizontal"
    values = np.array([b.get_width() if horizontal else b.get_height() for b in bars.patches], dtype=float)
    ax = bars.patches[0].axes if bars.patches else None
    if ax is None:
        return values, None
    ticks, labels = (ax.get_yticks(), ax.get_yticklabels()) if horizontal else (ax.get_xticks(), ax.get_xticklabels())
    by_position = {round(float(t), 6): _plain(lab.get_text()) for t, lab in zip(ticks, labels)}
    centres = [b.get_y() + b.get_height() / 2 if horizontal else b.get_x() + b.get_width() / 2 for b in bars.patches]
    names = [by_position.get(round(float(c), 6), "") for c in centres]
    return values, names if all(names) and any(not n.replace(".", "").isdigit() for n in names) else None


def _describe_series(label: str, handle) -> str:
    label = _plain(label)
    if isinstance(handle, Line2D):
        return _describe_line(label, handle)
    if isinstance(handle, BarContainer):
        values, names = _bar_values(handle)
        return _describe_values(label, values, "bars", names)
    if isinstance(handle, Collection) and len(handle.get_offsets()):
        return _describe_values(label, np.asarray(handle.get_offsets(), dtype=float)[:, 1], "points")
    return label


_AXES_DESCRIPTIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def describe_axes_as(ax: Axes, text: str) -> Axes:
    """Give ``ax`` its own words for :func:`describe_figure`, for a drawing that its artists do not
    describe well (a tree, a flowchart); the plotting function computes them from the same data it
    draws. Returns ``ax``."""
    _AXES_DESCRIPTIONS[ax] = " ".join(str(text).split())
    return ax


def _describe_axes(ax: Axes) -> str:
    if ax in _AXES_DESCRIPTIONS:
        return _AXES_DESCRIPTIONS[ax]
    title = _plain(ax.get_title())
    if not ax.axison:  # a diagram drawn with text and lines: its title says what it shows
        return f"Diagram: {title}." if title else ""
    parts = [title + "." if title else ""]
    xlabel, ylabel = _plain(ax.get_xlabel()), _plain(ax.get_ylabel())
    scale = " (logarithmic axes)" if ax.get_xscale() == ax.get_yscale() == "log" else ""
    if xlabel and ylabel:
        parts.append(f"{ylabel} against {xlabel}{scale}.")
    elif xlabel or ylabel:
        parts.append(f"{'x' if xlabel else 'y'} axis: {xlabel or ylabel}{scale}.")
    handles, labels = ax.get_legend_handles_labels()
    series = [_describe_series(lab, h) for h, lab in zip(handles, labels)]
    for bars in ax.containers:  # bars without a legend entry: by their category names
        if isinstance(bars, BarContainer) and bars not in handles:
            values, names = _bar_values(bars)
            series.append(_describe_values("bars", values, "bars", names))
    if not series:  # no legend: describe the unlabelled lines
        series = [_describe_line("a line", line) for line in ax.lines if len(line.get_xdata()) > 2]
    if series:
        parts.append("; ".join(series) + ".")
    notes = [_plain(t.get_text()) for t in ax.texts if t.get_text().strip()]
    if notes and len(notes) <= 6:
        parts.append("Marked: " + "; ".join(n.replace("\n", " ") for n in notes) + ".")
    return " ".join(p for p in parts if p)


def describe_figure(fig: Figure, summary: str = "") -> str:
    """A text alternative for ``fig``, read from what is drawn on it: per panel its title, what is
    plotted against what, each legend entry with its first, last, highest and lowest values (bars
    and points: their values), and the annotations; or the panel's own words where its plotting
    function gave some (:func:`describe_axes_as`). ``summary`` (a sentence) goes first.

    Generated from the artists, so it stays true when the data change; chapters show figures with
    :func:`show`, which attaches it as the image's ``alt`` text.
    """
    panels = [text for ax in fig.axes if ax.get_visible() and (text := _describe_axes(ax))]
    suptitle = _plain(fig._suptitle.get_text()) if fig._suptitle is not None else ""
    return " ".join(p for p in (summary, suptitle + "." if suptitle else "", *panels) if p)


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=fig.dpi)
    return buffer.getvalue()


def show(fig: Figure, summary: str = "") -> None:
    """Display ``fig`` as a PNG output with its text alternative (:func:`describe_figure`), then close
    it. The alternative travels in the output's metadata (``{"image/png": {"alt": ...}}``, where
    Jupyter keeps an image's alt text); the book's Sphinx extension puts it on the page's ``<img>``.
    Use instead of ``plt.show()``, which would show the figure without one."""
    from IPython.display import display

    display(fig, metadata={"image/png": {"alt": describe_figure(fig, summary)}})
    plt.close(fig)


def figure_html(fig: Figure, summary: str = "") -> str:
    """``fig`` as an HTML ``<img>`` (PNG inline) with :func:`describe_figure` as its ``alt``: for
    figures inside a widget's ``Output``, whose image outputs the widget manager draws without one."""
    import html

    data = base64.b64encode(_png(fig)).decode("ascii")
    alt = html.escape(describe_figure(fig, summary), quote=True)
    return f'<img src="data:image/png;base64,{data}" alt="{alt}" style="max-width:100%">'
