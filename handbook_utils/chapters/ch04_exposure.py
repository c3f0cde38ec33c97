"""Chapter 4: exposure bias measured, on gold prefixes against the model's own.

- **Per position** (section "Position by position on the addition chain").
  :func:`plot_position_accuracy` draws the teacher-forced and free-running accuracy of an
  :class:`~handbook_utils.metrics.Evaluation` position by position, with the share of answers
  still on track (:func:`still_on_track`).
- **Exact KL on a known chain** (section "A chain whose truth is known"). On
  :class:`~handbook_utils.tasks.MarkovTask` the truth is known, so :func:`markov_kl_curves`
  measures the exact KL to the true next-token distribution at every position, on true prefixes
  and on prefixes the model sampled itself (:func:`plot_kl_curves`).
- **Accumulated error** (Arora et al., 2022). :func:`accumulated_error` turns the two KL curves
  into the accumulated error on the model's own prefixes, ``AccErr(l)``, against ``l·ε(l)``, the
  same number of steps at the teacher-forced per-step error, and the excess
  ``%ExAccErr = (AccErr − l·ε) / (l·ε) · 100`` (:func:`plot_accumulated_error`).

Planted errors, the chapter's second half, are in :mod:`handbook_utils.chapters.ch04_planted`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .. import checks
from ..metrics import Evaluation, markov_kl_per_position
from ..plotting import COLORS, new_axes
from ..tasks import MarkovTask
from .ch03_forecast import plot_tf_vs_free

__all__ = [
    "still_on_track",
    "plot_position_accuracy",
    "KLCurves",
    "markov_kl_curves",
    "plot_kl_curves",
    "AccumulatedError",
    "accumulated_error",
    "plot_accumulated_error",
]


# ---------------------------------------------------------------------------------------------
# Per position, on the addition chain


def still_on_track(ev: Evaluation, lengths: Sequence[int]) -> np.ndarray:
    """(T,) among the answers that have a position t, the fraction whose free-running output has no
    error before t. ``lengths`` are the examples' target lengths (characters + ``<eos>``)."""
    checks.instance("ev", ev, Evaluation)
    if len(lengths) != len(ev.first_error_positions):
        raise ValueError(f"lengths must hold one length per example ({len(ev.first_error_positions)}), "
                         f"got {len(lengths)}")
    L = len(ev.per_position_tf_accuracy)
    alive, seen = np.zeros(L), np.zeros(L)  # (L,), (L,)
    for first, T in zip(ev.first_error_positions, lengths):
        T = min(checks.positive_int("lengths", T), L)
        seen[:T] += 1
        alive[: T if first is None else min(first + 1, T)] += 1
    return alive / np.maximum(seen, 1)


def plot_position_accuracy(ev: Evaluation, lengths: Sequence[int], ax: Axes | None = None) -> Figure:
    """Teacher-forced vs free-running accuracy at each target position, and the share on track."""
    return plot_tf_vs_free(
        np.arange(len(ev.per_position_tf_accuracy)), ev.per_position_tf_accuracy, ev.per_position_free_accuracy,
        still_on_track(ev, lengths),
        ("gold prefixes (teacher forcing)", "own prefixes (free running)", "answers with no error yet"),
        xlabel="position in the target (characters)", ylabel="fraction right",
        title="Same model, two kinds of prefix", legend_loc="lower left", ax=ax,
    )


# ---------------------------------------------------------------------------------------------
# Exact KL on a known Markov chain, and Arora et al.'s accumulated error


@dataclass
class KLCurves:
    """Mean exact KL(true ‖ model) in nats at each position, on true and on model prefixes."""

    teacher_forced: np.ndarray  # (length,) prefixes drawn from the true chain
    free_running: np.ndarray  # (length,) prefixes sampled from the model itself
    n: int


def markov_kl_curves(model, task: MarkovTask, n: int, seed: int) -> KLCurves:
    """Both curves of :func:`~handbook_utils.metrics.markov_kl_per_position` for ``n`` strings."""
    tf = markov_kl_per_position(model, task, n, seed, "teacher_forced").numpy()  # (length,)
    fr = markov_kl_per_position(model, task, n, seed, "free_running").numpy()  # (length,)
    return KLCurves(tf, fr, n)


def plot_kl_curves(curves: KLCurves, ax: Axes | None = None) -> Figure:
    """The two curves of :func:`markov_kl_curves` against the position."""
    ax = new_axes(ax)
    t = np.arange(1, len(curves.teacher_forced) + 1)
    ax.plot(t, curves.teacher_forced, color=COLORS["teacher_forcing"], label="true prefixes (teacher forcing)")
    ax.plot(t, curves.free_running, "--", color=COLORS["free_running"], label="own prefixes (sampled)")
    ax.set_xlabel("position t")
    ax.set_ylabel("KL(true ‖ model) at t (nats)")
    ax.set_ylim(bottom=0)
    ax.set_title("Per-step error on a known Markov chain")
    ax.legend(loc="lower right")
    return ax.figure


@dataclass
class AccumulatedError:
    """Arora et al. (2022): error summed over the first ``l`` steps, on the model's own prefixes,
    against ``l`` times the mean per-step error on true prefixes."""

    l: np.ndarray  # noqa: E741 (the paper's name) (L,) 1..L
    acc_err: np.ndarray  # (L,) sum of the free-running KL over the first l steps
    l_eps: np.ndarray  # (L,) l · ε(l): sum of the teacher-forced KL over the first l steps
    l2_eps: np.ndarray  # (L,) l² · ε(l): the worst case of the compounding bound
    excess_pct: np.ndarray  # (L,) %ExAccErr(l) = (acc_err - l_eps) / l_eps · 100

    @property
    def final_excess_pct(self) -> float:
        return float(self.excess_pct[-1])


def accumulated_error(curves: KLCurves) -> AccumulatedError:
    """AccErr(l), l·ε(l), l²·ε(l) and %ExAccErr(l) from the two KL curves."""
    checks.instance("curves", curves, KLCurves)
    steps = np.arange(1, len(curves.teacher_forced) + 1)  # (L,)
    acc = np.cumsum(curves.free_running)  # (L,)
    l_eps = np.cumsum(curves.teacher_forced)  # (L,)
    with np.errstate(divide="ignore", invalid="ignore"):
        excess = np.where(l_eps > 0, (acc - l_eps) / l_eps * 100, np.nan)  # (L,)
    return AccumulatedError(steps, acc, l_eps, steps * l_eps, excess)


def plot_accumulated_error(acc: AccumulatedError, ax: Axes | None = None) -> Figure:
    """AccErr(l) against l·ε(l) (left axis) and %ExAccErr(l) (right axis)."""
    ax = new_axes(ax)
    ax.plot(acc.l, acc.l_eps, color=COLORS["teacher_forcing"], label=r"$l\cdot\varepsilon$ (no compounding)")
    ax.plot(acc.l, acc.acc_err, "--", color=COLORS["free_running"], label="AccErr on own prefixes")
    ax.set_xlabel("generated length l")
    ax.set_ylabel("accumulated KL (nats)")
    ax.set_ylim(bottom=0)
    right = ax.twinx()
    right.plot(acc.l, acc.excess_pct, ":", color=COLORS["prediction"], label="%ExAccErr (right axis)")
    right.set_ylabel("excess accumulated error (%)")
    right.grid(False)
    right.spines["right"].set_visible(True)
    lo = min(0.0, float(np.nanmin(acc.excess_pct)))
    hi = max(10.0, float(np.nanmax(acc.excess_pct)) * 1.3)
    right.set_ylim(lo, hi)
    lines = ax.get_lines() + right.get_lines()
    ax.legend(lines, [x.get_label() for x in lines], loc="upper left")
    ax.set_title("Accumulated error (Arora et al., 2022)")
    return ax.figure
