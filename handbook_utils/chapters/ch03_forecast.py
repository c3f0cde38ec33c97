"""The ``p ** T`` forecast of whole-answer success, and how it compares with a trained model (chapter 3).

- **Arithmetic** (section "The arithmetic of 'all right'"). :func:`sequence_success` (``p ** T``)
  and :func:`length_at_success` (the answer length at which success falls to 50 %), an
  interactive :class:`CompoundingExplorer` (drawn in the browser from :func:`explorer_grid`) and the
  static :func:`plot_success_curves` /
  :func:`plot_half_length`.
- **Forecast against measurement** (sections "A model that is 99% right" and "Exact match against
  the forecast"). :func:`checkpoint_points` and :func:`length_points` put measured exact match next
  to the forecast across training checkpoints and chain lengths (:func:`plot_exact_vs_prediction`,
  :func:`plot_training_curves`).

A fact the chapter leans on: with greedy decoding, the free-running answer equals the target if
and only if every teacher-forced argmax is right (before the first error the model's own prefix IS
the gold prefix). So exact match is exactly the fraction of examples with zero teacher-forced
errors, and ``p ** T`` is a forecast of that fraction.

:func:`plot_tf_vs_free` is the figure design chapters 3 and 4 share: a teacher-forced and a
free-running fraction, with a dotted guide.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import traitlets
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .. import checks
from ..metrics import Evaluation, evaluate
from ..plotting import COLORS, FRACTION_LIMITS, PALETTE, new_axes
from ..tasks import AdditionChainTask
from ..web_widgets import BrowserWidget

__all__ = [
    "sequence_success",
    "length_at_success",
    "plot_success_curves",
    "plot_half_length",
    "explorer_grid",
    "CompoundingExplorer",
    "CompoundingPoint",
    "checkpoint_points",
    "length_points",
    "plot_exact_vs_prediction",
    "plot_tf_vs_free",
    "plot_training_curves",
]


# ---------------------------------------------------------------------------------------------
# The arithmetic

_LINESTYLES = ("-", "--", "-.", ":")  # one per curve of plot_success_curves, with its colour


def sequence_success(p, T):
    """``p ** T``: the chance that all ``T`` tokens are right when each is right with probability
    ``p``, independently of the others. Works elementwise on arrays."""
    p_arr = checks.probabilities("p", p)
    T_arr = np.asarray(T, dtype=float)
    if not np.all(np.isfinite(T_arr)) or np.any(T_arr < 0):
        raise ValueError(f"T must be a length >= 0, got {T!r}")
    out = p_arr**T_arr
    return float(out) if out.ndim == 0 else out


def length_at_success(p, success: float = 0.5):
    """The answer length ``T`` at which ``p ** T`` falls to ``success``: ``ln(success) / ln(p)``.

    For ``success = 0.5`` and a small error rate ``e = 1 - p`` this is close to ``0.69 / e``: halve
    the error rate and you may write answers twice as long. ``p = 1`` gives ``inf``.
    """
    p_arr = checks.probabilities("p", p)
    success = checks.in_open_unit("success", success)
    if np.any(p_arr == 0):
        raise ValueError("p must be > 0")
    with np.errstate(divide="ignore"):
        out = np.where(p_arr < 1, math.log(success) / np.log(np.where(p_arr < 1, p_arr, 0.5)), np.inf)
    return float(out) if out.ndim == 0 else out


def plot_success_curves(
    ps: Sequence[float] = (0.9, 0.95, 0.99, 0.999),
    T_max: int = 500,
    marks: Sequence[tuple[float, int]] = (),
    ax: Axes | None = None,
) -> Figure:
    """``p ** T`` against ``T`` for a few ``p``, with optional ``(p, T)`` points marked. Each ``p``
    has its own colour and line style."""
    ax = new_axes(ax)
    T = np.arange(0, T_max + 1)  # (T_max + 1,)
    for i, p in enumerate(ps):
        ax.plot(T, sequence_success(p, T), _LINESTYLES[i % len(_LINESTYLES)], color=PALETTE[i % len(PALETTE)],
                label=f"p = {p:g}")
    for p, t in marks:
        y = sequence_success(p, t)
        ax.plot([t], [y], "o", color=COLORS["prediction"], zorder=5)
        ax.annotate(f"{p:g}$^{{{t}}}$ = {y:.2f}", (t, y), textcoords="offset points", xytext=(6, 6), fontsize=9)
    ax.axhline(0.5, color=COLORS["neutral"], lw=1, ls=":")
    ax.set_xlabel("answer length T (tokens)")
    ax.set_ylabel("P(every token right) = $p^T$")
    ax.set_ylim(*FRACTION_LIMITS)
    ax.set_xlim(0, T_max)
    ax.set_title("Per-token accuracy compounds")
    ax.legend(loc="upper right")
    return ax.figure


def plot_half_length(
    p_min: float = 0.9,
    p_max: float = 0.9999,
    marks: Sequence[tuple[float, str]] = (),
    ax: Axes | None = None,
) -> Figure:
    """The answer length at which success falls to 50 %, against the per-token error rate ``1 - p``.

    Both axes are logarithmic: the line has slope -1, so every factor of ten in error rate is a
    factor of ten in the longest answer you can trust half the time. ``marks`` are ``(p, label)``.
    """
    p_min, p_max = checks.in_open_unit("p_min", p_min), checks.in_open_unit("p_max", p_max)
    if p_min >= p_max:
        raise ValueError(f"p_min must be below p_max, got {p_min} and {p_max}")
    ax = new_axes(ax)
    err = np.geomspace(1 - p_max, 1 - p_min, 200)  # (200,)
    ax.loglog(err, length_at_success(1 - err), color=COLORS["prediction"])
    for i, (p, label) in enumerate(marks):
        t50 = length_at_success(p)
        ax.plot([1 - p], [t50], "o", color=PALETTE[(i + 1) % len(PALETTE)], zorder=5)
        ax.annotate(f"{label}: T = {t50:.0f}", (1 - p, t50), textcoords="offset points", xytext=(-10, 2),
                    ha="right", va="bottom", fontsize=9)
    ax.set_xlabel("per-token error rate 1 − p")
    ax.set_ylabel("length T where $p^T$ = 50%")
    ax.set_title("How long an answer you can trust half the time")
    ax.invert_xaxis()
    return ax.figure


def explorer_grid(p: float, T: int, T_max: int = 400, n_error_rates: int = 31) -> dict:
    """The data of :class:`CompoundingExplorer`: a grid of ``p`` (log-spaced error rates from 1e-4 to
    0.1, plus ``p`` itself), the curve ``p ** t`` for ``t = 0..T_max`` on each, and where each falls to 50 %."""
    p = checks.in_open_unit("p", p)
    T_max = checks.integer("T_max", T_max, 10, 2000)
    T = checks.integer("T", T, 1, T_max)
    grid = np.round(1 - np.geomspace(1e-4, 0.1, checks.integer("n_error_rates", n_error_rates, 2, 200)), 4)
    p_values = sorted({float(v) for v in grid} | {round(p, 4)})
    t = np.arange(T_max + 1)  # (T_max + 1,)
    return {
        "p_values": p_values, "p_index": p_values.index(round(p, 4)),
        "T_values": list(range(1, T_max + 1)), "T": T, "T_max": T_max,
        "curves": [[round(float(v), 5) for v in sequence_success(pv, t)] for pv in p_values],
        "half_lengths": [float(length_at_success(pv)) for pv in p_values],
        "title": "Per-token accuracy compounds", "x_label": "answer length T (tokens)",
        "y_label": "P(every token right) = p^T",
        "colors": {"curve": COLORS["teacher_forcing"], "mark": COLORS["prediction"], "guide": COLORS["neutral"],
                   "ink": COLORS["ink"]},
    }


class CompoundingExplorer(BrowserWidget):
    """Sliders for ``p`` and ``T`` with the curve ``p ** T`` and a readout, drawn in the browser
    (``web/power_explorer.js``) from :func:`explorer_grid`, so they move on the static page too."""

    _module = "power_explorer"
    placeholder = "Run this cell to explore p and T with sliders."
    data = traitlets.Dict().tag(sync=True, static=True)

    def __init__(self, p: float = 0.99, T: int = 142, T_max: int = 400) -> None:
        super().__init__(data=explorer_grid(p, T, T_max))


# ---------------------------------------------------------------------------------------------
# Exact match against the forecast, across checkpoints and chain lengths


@dataclass
class CompoundingPoint:
    """One evaluation: teacher-forced token accuracy, the forecast it implies, and the truth."""

    kind: str  # "checkpoint" or "length"
    value: int  # the training step or the number of terms
    token_accuracy: float
    mean_length: float
    predicted: float  # mean over examples of p ** T_i
    exact_match: float


def _point(kind: str, value: int, ev: Evaluation) -> CompoundingPoint:
    return CompoundingPoint(kind, int(value), ev.tf_token_accuracy, ev.mean_target_length,
                            ev.independence_estimate_per_example, ev.exact_match)


def checkpoint_points(history) -> list[CompoundingPoint]:
    """One point per evaluation stored in a training ``History`` (``eval_every``)."""
    if not getattr(history, "evals", None):
        raise ValueError("history holds no evaluations: train with eval_every set")
    return [_point("checkpoint", step, ev) for step, ev in history.evals]


def length_points(model, task: AdditionChainTask, n_terms: Sequence[int], n: int, seed: int) -> list[CompoundingPoint]:
    """Evaluate ``model``, trained on ``task``, on chains of exactly ``k`` terms for each ``k`` in
    ``n_terms``, drawn from ``task.held_out_task()``: held-out problems when ``task`` keeps a split."""
    checks.instance("task", task, AdditionChainTask)
    held_out = task.held_out_task()
    return [_point("length", k, evaluate(model, dataclasses.replace(held_out, n_terms=k), n, seed)) for k in n_terms]


def plot_exact_vs_prediction(
    checkpoints: Sequence[CompoundingPoint], lengths: Sequence[CompoundingPoint], ax: Axes | None = None
) -> Figure:
    """Measured exact match (y) against the independence forecast (x): one point per checkpoint
    (coloured by training step) and per chain length (labelled by number of terms)."""
    ax = new_axes(ax, figsize=(6.0, 5.0))
    ax.plot([0, 1], [0, 1], color=COLORS["neutral"], lw=1, ls="--", zorder=0, label="forecast = measured")
    if checkpoints:
        x = [c.predicted for c in checkpoints]
        y = [c.exact_match for c in checkpoints]
        ax.plot(x, y, "-", color=COLORS["teacher_forcing"], lw=1, alpha=0.5)
        ax.scatter(x, y, color=COLORS["teacher_forcing"], s=30, zorder=3, label="training checkpoints (final: ★)")
        ax.scatter(x[-1:], y[-1:], marker="*", s=180, color=COLORS["teacher_forcing"], zorder=4)
        ax.annotate(f"step {checkpoints[0].value}", (x[0], y[0]), textcoords="offset points", xytext=(6, -2),
                    fontsize=8, color=COLORS["teacher_forcing"])
    if lengths:
        x = [c.predicted for c in lengths]
        y = [c.exact_match for c in lengths]
        ax.scatter(x, y, marker="s", color=COLORS["free_running"], s=34, zorder=3,
                   label="final model, chains of k terms")
        for c in lengths:
            ax.annotate(f"k={c.value}", (c.predicted, c.exact_match), textcoords="offset points", xytext=(5, -10),
                        fontsize=8, color=COLORS["free_running"])
    ax.set_xlim(*FRACTION_LIMITS)
    ax.set_ylim(*FRACTION_LIMITS)
    ax.set_aspect("equal")
    ax.set_xlabel(r"independence forecast: mean of $p^{T_i}$")
    ax.set_ylabel("measured exact match (free running, greedy)")
    ax.set_title("Exact match vs. the $p^T$ forecast")
    ax.legend(loc="upper left")
    return ax.figure


def plot_tf_vs_free(x, teacher_forced, free_running, guide, labels: tuple[str, str, str], *, xlabel: str,
                    ylabel: str, title: str, legend_loc: str, markers: tuple[str, str] = ("-", "--"),
                    ax: Axes | None = None) -> Figure:
    """A teacher-forced and a free-running fraction against ``x``, with a dotted grey guide, on a 0-1 axis.

    The figure design shared by :func:`plot_training_curves` (chapter 3; the guide is the forecast)
    and :func:`handbook_utils.chapters.ch04_exposure.plot_position_accuracy` (chapter 4; the guide
    is the share of answers still on track). ``labels`` name the three lines in that order;
    ``markers`` are the format strings of the first two (solid and dashed by default, so that the two
    differ without colour too).
    """
    ax = new_axes(ax)
    tf_label, free_label, guide_label = labels
    ax.plot(x, teacher_forced, markers[0], color=COLORS["teacher_forcing"], label=tf_label)
    ax.plot(x, free_running, markers[1], color=COLORS["free_running"], label=free_label)
    ax.plot(x, guide, ":", color=COLORS["prediction"], label=guide_label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(*FRACTION_LIMITS)
    ax.set_title(title)
    ax.legend(loc=legend_loc)
    return ax.figure


def plot_training_curves(history, stage_ends: Sequence[int] = (), ax: Axes | None = None) -> Figure:
    """Teacher-forced token accuracy, exact match and the forecast at every stored evaluation;
    ``stage_ends`` marks the steps where one training stage hands over to the next."""
    ax = new_axes(ax)
    for step in stage_ends:
        ax.axvline(step, color=COLORS["neutral"], lw=1, ls="--")
        ax.text(step, 0.02, " next stage", color=COLORS["neutral"], fontsize=9, ha="left", va="bottom")
    points = checkpoint_points(history)
    return plot_tf_vs_free(
        [c.value for c in points], [c.token_accuracy for c in points], [c.exact_match for c in points],
        [c.predicted for c in points],
        ("teacher-forced token accuracy", "free-running exact match", r"forecast $p^{T}$"),
        xlabel="training step", ylabel="fraction", title="What the training log shows, and what it hides",
        legend_loc="lower right", markers=("o-", "s--"), ax=ax,
    )
