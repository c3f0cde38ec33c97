"""Chapter 5's static figures: schedules on one axes, and the same schedules in both conventions.

Follows the conventions of :mod:`handbook_utils.plotting` (data in, optional axes, returns the
Figure, never shows). Each family keeps its colour from :data:`handbook_utils.plotting.SCHEDULE_COLORS`
and its marker from :data:`~handbook_utils.plotting.SCHEDULE_MARKERS`, so it is told apart without colour too.

Used by chapter 5 (``plot_schedule_curves`` for the three shapes, the warmup and the solved
schedules; ``plot_conventions`` for p beside Bengio et al.'s ε). :func:`epoch_grid` is shared with
the explorer of :mod:`.ch05_explorer`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from handbook_utils import checks
from handbook_utils.plotting import (
    COLORS,
    FRACTION_LIMITS,
    MARK_EVERY,
    PALETTE,
    SCHEDULE_COLORS,
    SCHEDULE_MARKERS,
    new_axes,
)
from handbook_utils.schedules import KINDS, Schedule, describe, kind_of, schedule_curve

__all__ = ["epoch_grid", "plot_schedule_curves", "plot_conventions"]

_ALTERNATES = (PALETTE[5], PALETTE[7], PALETTE[0])  # sky blue, black, blue: a second curve of a family
_ALTERNATE_MARKERS = ("D", "v", "P")  # ... with its own marker too


def epoch_grid(total_epochs: float, n: int = 601) -> np.ndarray:
    """``n`` evenly spaced epochs from 0 to ``total_epochs``: the x of every curve, shape ``(n,)``."""
    return np.linspace(0.0, checks.positive("total_epochs", total_epochs), n)


def plot_schedule_curves(
    schedules: Mapping[str, Schedule] | Sequence[Schedule],
    total_epochs: float,
    *,
    warmup_epochs: float = 0.0,
    mark_epoch: float | None = None,
    target: tuple[float, float] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """ρ(epoch) for several schedules on one axes.

    ``schedules``: a mapping label → schedule, or a list (labelled by family and parameters).
    ``warmup_epochs > 0`` adds each curve again, dashed, delayed by that warmup, and shades it.
    ``mark_epoch`` draws a vertical line with each curve's value there; ``target=(epoch, p)`` a star.
    """
    if not isinstance(schedules, Mapping):
        schedules = {describe(s): s for s in schedules}
    if not schedules:
        raise ValueError("schedules must hold at least one schedule")
    warmup_epochs = checks.non_negative("warmup_epochs", warmup_epochs)
    ax = new_axes(ax)
    x = epoch_grid(total_epochs)  # (601,)
    used: dict[str | None, int] = {}
    for label, schedule in schedules.items():
        kind = kind_of(schedule)
        # two curves of the same family (e.g. solved variants) get different colours
        first = SCHEDULE_COLORS.get(kind, COLORS["prediction"])
        color = first if kind not in used else _ALTERNATES[(used[kind] - 1) % 3]
        marker = SCHEDULE_MARKERS.get(kind, "x") if kind not in used else _ALTERNATE_MARKERS[(used[kind] - 1) % 3]
        used[kind] = used.get(kind, 0) + 1
        ax.plot(x, schedule_curve(schedule, x), color=color, marker=marker, markevery=MARK_EVERY, label=label)
        if warmup_epochs > 0:
            delayed = replace(schedule, warmup_epochs=schedule.warmup_epochs + warmup_epochs)
            ax.plot(x, schedule_curve(delayed, x), "--", color=color, lw=1.5, marker=marker, mfc="none",
                    markevery=MARK_EVERY)
        if mark_epoch is not None:
            value = schedule(checks.non_negative("mark_epoch", mark_epoch))
            ax.plot([mark_epoch], [value], "o", color=color)
            ax.annotate(f"{value:.3f}", (mark_epoch, value), xytext=(6, -4),
                        textcoords="offset points", fontsize=9, color=color)
    if warmup_epochs > 0:
        ax.axvspan(0, warmup_epochs, color=COLORS["neutral"], alpha=0.15, lw=0)
        ax.plot([], [], "--", color=COLORS["prediction"], lw=1.5,
                label=f"dashed: after {warmup_epochs:g} warmup epochs")
    if mark_epoch is not None:
        ax.axvline(mark_epoch, color=COLORS["neutral"], ls=":", lw=1)
    if target is not None:
        ax.plot([target[0]], [target[1]], "*", ms=14, color=COLORS["prediction"], zorder=5,
                label=f"target: ρ = {target[1]:g} at epoch {target[0]:g}")
    ax.set_xlim(0, x[-1])
    ax.set_ylim(*FRACTION_LIMITS)
    ax.set_xlabel("training time (epochs)")
    ax.set_ylabel("ρ = P(feed the model's token)")
    ax.legend(loc="lower right")
    return ax.figure


def plot_conventions(
    schedules: Mapping[str, Schedule],
    total_epochs: float,
    *,
    bengio: Mapping[str, tuple[str, Callable[[float], float]]] | None = None,
    axes: Sequence[Axes] | None = None,
) -> Figure:
    """The same schedules in both conventions, side by side.

    Left: ``ρ`` (model token, rising). Right: ``λ = 1 − ρ`` (true token, falling), with the curves of
    ``bengio`` (label → ``(family, function epoch → ε)`` in Bengio et al.'s own parametrization)
    drawn on top as open markers in the family's colour.
    """
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(9.6, 4.2), sharex=True)
    left, right = axes
    x = epoch_grid(total_epochs)  # (601,)
    for label, schedule in schedules.items():
        kind = kind_of(schedule)
        style = dict(color=SCHEDULE_COLORS.get(kind, COLORS["prediction"]), marker=SCHEDULE_MARKERS.get(kind, "x"),
                     markevery=MARK_EVERY, label=label)
        p = schedule_curve(schedule, x)  # (601,)
        left.plot(x, p, **style)
        right.plot(x, 1.0 - p, **style)
    dots = np.linspace(0.0, x[-1], 21)  # (21,): one marker every 5% of training
    for label, (kind, eps) in (bengio or {}).items():
        kind = checks.one_of("kind", kind, KINDS)
        right.plot(dots, [eps(float(e)) for e in dots], SCHEDULE_MARKERS[kind], ls="none", ms=9, mew=1.2,
                   color=SCHEDULE_COLORS[kind], mfc="none", label=label)
    left.set_title("ρ: chance of the MODEL's token")
    right.set_title("λ = 1 − ρ: chance of the TRUE token")
    for ax in (left, right):
        ax.set_xlim(0, x[-1])
        ax.set_ylim(*FRACTION_LIMITS)
        ax.set_xlabel("training time (epochs)")
    left.legend(loc="lower right")
    right.legend(loc="upper right", fontsize=9)
    return left.figure
