"""Choosing a scheduled-sampling schedule: solve for its parameters, count what it feeds, plot it.

The formulas live in :mod:`handbook_utils.schedules` (``p`` = probability of feeding the MODEL's
token, rising from 0). This module answers the questions you have once you want to *use* one:

- **Solve.** "Reach p = 0.5 at 60% of training" → ``E`` (linear), ``k`` (exponential) or ``c``
  (inverse sigmoid, for a chosen width ``b`` or a chosen starting value ``start_p``):
  :func:`solve_linear`, :func:`solve_exponential`, :func:`solve_inverse_sigmoid`, or
  :func:`solve_schedule` with the target as a fraction of training. :func:`epoch_reaching` is the
  inverse (when does a schedule first reach ``p``?) and :func:`max_slope` says how abrupt it is.
- **Translate.** :func:`from_bengio` turns Bengio et al.'s (2015) decays of ε (probability of the
  TRUE token, counted in mini-batches) into this book's schedules on the epoch clock;
  :func:`bengio_k_for_midpoint` finds their inverse-sigmoid ``k`` for a given midpoint.
- **Count.** With one coin per answer token, a sequence whose answer has ``T`` tokens gets
  ``p·T`` model tokens on average (:func:`expected_model_tokens`) and none at all with probability
  ``(1 − p)^T`` (:func:`all_gold_probability`); :func:`model_tokens_per_epoch` averages ``p`` over
  the steps of each epoch, as the training loop reads it (``epoch = step / steps_per_epoch``).
- **Plot and explore.** :func:`plot_schedule_curves`, :func:`plot_conventions`,
  :func:`plot_explorer` (data from :func:`explorer_data`), and the ipywidgets
  :class:`ScheduleExplorer`.

Bad values raise ``ValueError`` naming the parameter; non-numbers raise ``TypeError``.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from handbook_utils import checks
from handbook_utils.plotting import COLORS, PALETTE, new_axes
from handbook_utils.schedules import (
    ExponentialSchedule,
    InverseSigmoidSchedule,
    LinearSchedule,
)

__all__ = [
    "KINDS",
    "SCHEDULE_COLORS",
    "Schedule",
    "ExplorerState",
    "ScheduleExplorer",
    "all_gold_probability",
    "bengio_k_for_midpoint",
    "epoch_reaching",
    "expected_model_tokens",
    "explorer_data",
    "from_bengio",
    "make_schedule",
    "max_slope",
    "model_tokens_per_epoch",
    "plot_conventions",
    "plot_explorer",
    "plot_schedule_curves",
    "schedule_curve",
    "solve_exponential",
    "solve_inverse_sigmoid",
    "solve_linear",
    "solve_schedule",
]

KINDS: tuple[str, ...] = ("linear", "exponential", "inverse_sigmoid")

Schedule = LinearSchedule | ExponentialSchedule | InverseSigmoidSchedule

SCHEDULE_COLORS: dict[str, str] = {
    "linear": PALETTE[3],  # orange
    "exponential": PALETTE[4],  # reddish purple
    "inverse_sigmoid": PALETTE[2],  # bluish green
}
"""One colour per schedule family, used by every figure of the schedule chapter."""


# --------------------------------------------------------------------------------------------
# Argument checks (numpy scalars accepted, returned as Python floats)


_number = checks.real_number
_in_open_unit = checks.in_open_unit
_probability = checks.probability
_positive = checks.positive
_non_negative = checks.non_negative
_positive_int = checks.positive_int


def _kind(kind) -> str:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
    return kind


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def _check_schedule(schedule) -> None:
    if not isinstance(schedule, (LinearSchedule, ExponentialSchedule, InverseSigmoidSchedule)):
        raise TypeError(
            "schedule must be a LinearSchedule, ExponentialSchedule or InverseSigmoidSchedule, "
            f"got {type(schedule).__name__}"
        )


def make_schedule(kind: str, warmup_epochs: float = 0.0, **params) -> Schedule:
    """``make_schedule("exponential", k=0.97)``: the schedule object of :mod:`handbook_utils.schedules`."""
    cls = {"linear": LinearSchedule, "exponential": ExponentialSchedule,
           "inverse_sigmoid": InverseSigmoidSchedule}[_kind(kind)]
    params = {name: _number(name, v) for name, v in params.items()}
    return cls(**params, warmup_epochs=_non_negative("warmup_epochs", warmup_epochs))


# --------------------------------------------------------------------------------------------
# Solving for parameters


def _ramp(at_epoch, warmup_epochs) -> tuple[float, float]:
    """(epochs of ramp before the target, warmup) — the target must lie after the warmup."""
    at_epoch = _number("at_epoch", at_epoch)
    warmup_epochs = _non_negative("warmup_epochs", warmup_epochs)
    if at_epoch <= warmup_epochs:
        raise ValueError(
            f"at_epoch must be greater than warmup_epochs ({warmup_epochs}), got {at_epoch}"
        )
    return at_epoch - warmup_epochs, warmup_epochs


def solve_linear(p: float, at_epoch: float, warmup_epochs: float = 0.0) -> LinearSchedule:
    """The linear schedule with ``p(at_epoch) = p``: ``E = (at_epoch − warmup) / p``."""
    p = _in_open_unit("p", p, allow_one=True)
    ramp, warmup = _ramp(at_epoch, warmup_epochs)
    return LinearSchedule(end_epoch=ramp / p, warmup_epochs=warmup)


def solve_exponential(p: float, at_epoch: float, warmup_epochs: float = 0.0) -> ExponentialSchedule:
    """The exponential schedule with ``p(at_epoch) = p``: ``k = (1 − p)^(1 / (at_epoch − warmup))``."""
    p = _in_open_unit("p", p)
    ramp, warmup = _ramp(at_epoch, warmup_epochs)
    k = math.exp(math.log1p(-p) / ramp)
    if not 0.0 < k < 1.0:  # only for absurd ramps (k rounds to 0 or 1 in floating point)
        raise ValueError(f"at_epoch gives k = {k}, outside (0, 1): choose a less extreme target")
    return ExponentialSchedule(k=k, warmup_epochs=warmup)


def solve_inverse_sigmoid(
    p: float,
    at_epoch: float,
    *,
    b: float | None = None,
    start_p: float | None = None,
    warmup_epochs: float = 0.0,
) -> InverseSigmoidSchedule:
    """The inverse sigmoid with ``p(at_epoch) = p``. It has two parameters, so fix one more thing:

    - ``b``: the width you want; then ``c = (at_epoch − warmup) − b·logit(p)``
      (so ``c = at_epoch − warmup`` for ``p = 0.5``, whatever ``b``);
    - ``start_p``: the value just after the warmup (the curve never starts at exactly 0, and a
      warmup makes it jump from 0 to ``start_p``); then ``b = ramp / (logit(p) − logit(start_p))``
      and ``c = −b·logit(start_p)``.
    """
    p = _in_open_unit("p", p)
    ramp, warmup = _ramp(at_epoch, warmup_epochs)
    if (b is None) == (start_p is None):
        raise ValueError("b or start_p: give exactly one of them (the width, or the value at the start)")
    if b is not None:
        b = _positive("b", b)
        c = ramp - b * _logit(p)
    else:
        start_p = _in_open_unit("start_p", start_p)
        if start_p >= p:
            raise ValueError(f"start_p must be smaller than p ({p}), got {start_p}")
        b = ramp / (_logit(p) - _logit(start_p))
        c = -b * _logit(start_p)
    return InverseSigmoidSchedule(c=c, b=b, warmup_epochs=warmup)


def solve_schedule(
    kind: str,
    p: float = 0.5,
    at_fraction: float = 0.6,
    total_epochs: float = 100.0,
    warmup_epochs: float = 0.0,
    *,
    b: float | None = None,
    start_p: float | None = None,
) -> Schedule:
    """"Reach ``p`` at ``at_fraction`` of ``total_epochs``" for one schedule family.

    The fraction counts from epoch 0, warmup included. ``b`` / ``start_p`` are for the inverse
    sigmoid only (see :func:`solve_inverse_sigmoid`).
    """
    kind = _kind(kind)
    at_fraction = _in_open_unit("at_fraction", at_fraction, allow_one=True)
    total_epochs = _positive("total_epochs", total_epochs)
    at_epoch = at_fraction * total_epochs
    if kind != "inverse_sigmoid":
        for name, value in (("b", b), ("start_p", start_p)):
            if value is not None:
                raise ValueError(f"{name} applies to the inverse sigmoid only, not to kind={kind!r}")
    if kind == "linear":
        return solve_linear(p, at_epoch, warmup_epochs)
    if kind == "exponential":
        return solve_exponential(p, at_epoch, warmup_epochs)
    return solve_inverse_sigmoid(p, at_epoch, b=b, start_p=start_p, warmup_epochs=warmup_epochs)


def epoch_reaching(schedule: Schedule, p: float) -> float:
    """The first epoch at which ``schedule`` is at least ``p`` (``inf`` if it never gets there).

    The inverse of the solvers: ``epoch_reaching(solve_linear(0.5, 60), 0.5) == 60``.
    """
    _check_schedule(schedule)
    p = _in_open_unit("p", p, allow_one=True)
    w = float(schedule.warmup_epochs)
    if isinstance(schedule, LinearSchedule):
        return w + p * schedule.end_epoch
    if p == 1.0:
        return math.inf  # both smooth curves only approach 1
    if isinstance(schedule, ExponentialSchedule):
        return w + math.log1p(-p) / math.log(schedule.k)
    after = schedule.c + schedule.b * _logit(p)
    return w + max(0.0, after)  # below its starting value the sigmoid is there at once


def max_slope(schedule: Schedule) -> tuple[float, float]:
    """``(steepest rise of p per epoch, the epoch where it happens)``, ignoring the warmup jump.

    Linear: ``1/E`` throughout the ramp. Exponential: ``−ln k`` right after the warmup.
    Inverse sigmoid: ``1/(4b)`` at its midpoint (at the start of the ramp if the midpoint is earlier).
    """
    _check_schedule(schedule)
    w = float(schedule.warmup_epochs)
    if isinstance(schedule, LinearSchedule):
        return 1.0 / schedule.end_epoch, w
    if isinstance(schedule, ExponentialSchedule):
        return -math.log(schedule.k), w
    c, b = schedule.c, schedule.b
    at = max(c, 0.0)
    s = 1.0 / (1.0 + math.exp(-(at - c) / b))
    return s * (1.0 - s) / b, w + at


# --------------------------------------------------------------------------------------------
# Bengio et al. (2015): ε = probability of the TRUE token, clock = mini-batches


def from_bengio(
    kind: str,
    *,
    k: float,
    c: float | None = None,
    epsilon_min: float = 0.0,
    steps_per_epoch: float = 1.0,
) -> Schedule:
    """Bengio et al.'s decay of ε over mini-batches ``i`` → this book's ``p = 1 − ε`` over epochs.

    With ``epoch = i / steps_per_epoch``:

    - ``"linear"``, ε = max(ε_min, k − c·i): only ``k = 1`` and ``epsilon_min = 0`` fit the book's
      linear schedule (which starts at p = 0 and ends at p = 1); then ``E = 1 / (c·steps_per_epoch)``.
    - ``"exponential"``, ε = k^i: the same curve with ``k_epoch = k^steps_per_epoch``.
    - ``"inverse_sigmoid"``, ε = k / (k + exp(i/k)), k ≥ 1: ``c = k·ln k / steps_per_epoch`` and
      ``b = k / steps_per_epoch``.
    """
    kind = _kind(kind)
    k = _number("k", k)
    steps = _positive("steps_per_epoch", steps_per_epoch)
    if kind == "linear":
        if c is None:
            raise ValueError("c must be given for the linear decay (its slope per mini-batch)")
        c = _positive("c", c)
        epsilon_min = _probability("epsilon_min", epsilon_min)
        if k != 1.0:
            raise ValueError(f"k must be 1 for the linear decay to map onto p = min(1, e/E), got {k}")
        if epsilon_min != 0.0:
            raise ValueError(
                f"epsilon_min must be 0 to map onto p = min(1, e/E) (p would stop at 1 − ε_min), "
                f"got {epsilon_min}"
            )
        return LinearSchedule(end_epoch=1.0 / (c * steps))
    for name, value in (("c", c), ("epsilon_min", epsilon_min or None)):
        if value is not None:
            raise ValueError(f"{name} applies to the linear decay only, not to kind={kind!r}")
    if kind == "exponential":
        if not 0.0 < k < 1.0:
            raise ValueError(f"k must be in (0, 1), got {k}")
        k_epoch = k**steps
        if not 0.0 < k_epoch < 1.0:
            raise ValueError(f"k gives k_epoch = {k_epoch} after {steps} steps, outside (0, 1)")
        return ExponentialSchedule(k=k_epoch)
    if k < 1.0:
        raise ValueError(f"k must be in [1, inf), got {k}")
    return InverseSigmoidSchedule(c=k * math.log(k) / steps, b=k / steps)


def bengio_k_for_midpoint(midpoint: float) -> float:
    """Bengio et al.'s inverse-sigmoid ``k`` whose ε crosses ½ at ``midpoint``: solves ``k·ln k = midpoint``.

    Their curve has one parameter, so choosing the midpoint also fixes the width (``b = k``).
    """
    midpoint = _non_negative("midpoint", midpoint)
    lo, hi = 1.0, midpoint + 1.0  # k ln k is increasing on [1, inf), 0 at 1 and ≥ midpoint at midpoint + 1
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid * math.log(mid) < midpoint:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-13 * hi:
            break
    return 0.5 * (lo + hi)


# --------------------------------------------------------------------------------------------
# Counting model tokens


def expected_model_tokens(p, seq_len):
    """Expected number of the ``seq_len`` answer inputs replaced by the model's token: ``p·T``.

    :mod:`handbook_utils.strategies` flips one coin per answer token that is fed back as an input;
    for an answer of ``T`` characters (plus ``<eos>``, which is never an input) that is ``T`` coins.
    ``p`` may be a number or an array.
    """
    seq_len = _positive_int("seq_len", seq_len)
    p = _probabilities(p)
    return p * seq_len


def all_gold_probability(p, seq_len):
    """The chance that a sequence gets no model token at all, i.e. is plain teacher forcing: ``(1 − p)^T``."""
    seq_len = _positive_int("seq_len", seq_len)
    p = _probabilities(p)
    return (1.0 - p) ** seq_len


def _probabilities(p):
    if isinstance(p, np.ndarray):
        if not np.issubdtype(p.dtype, np.number) or p.dtype == np.bool_:
            raise TypeError(f"p must be real numbers, got an array of {p.dtype}")
        if not (np.all(np.isfinite(p)) and np.all((p >= 0) & (p <= 1))):
            raise ValueError("p must be in [0, 1] everywhere")
        return p.astype(float)
    return _probability("p", p)


def schedule_curve(schedule: Callable[[float], float], epochs: Sequence[float] | np.ndarray) -> np.ndarray:
    """``schedule`` evaluated at every epoch of ``epochs`` (a NumPy array of p)."""
    if not callable(schedule):
        raise TypeError(f"schedule must be callable, got {type(schedule).__name__}")
    return np.array([schedule(_non_negative("epochs", e)) for e in np.asarray(epochs, dtype=float)])


def model_tokens_per_epoch(
    schedule: Callable[[float], float], seq_len: int, total_epochs: int, steps_per_epoch: int = 100
) -> np.ndarray:
    """Expected model tokens in one sequence of ``seq_len`` answer tokens trained during each epoch.

    Entry ``e`` is ``T ×`` the mean of ``p(step / steps_per_epoch)`` over the steps of epoch ``e``,
    which is how the training loop reads a schedule. Shape ``(total_epochs,)``.
    """
    seq_len = _positive_int("seq_len", seq_len)
    total_epochs = _positive_int("total_epochs", total_epochs)
    steps_per_epoch = _positive_int("steps_per_epoch", steps_per_epoch)
    steps = np.arange(total_epochs * steps_per_epoch) / steps_per_epoch
    p = schedule_curve(schedule, steps).reshape(total_epochs, steps_per_epoch)
    return seq_len * p.mean(axis=1)


# --------------------------------------------------------------------------------------------
# Plots (take data and an optional ax, return the Figure, never plt.show())

_LABELS = {"linear": "linear", "exponential": "exponential", "inverse_sigmoid": "inverse sigmoid"}


def _kind_of(schedule) -> str:
    return {LinearSchedule: "linear", ExponentialSchedule: "exponential",
            InverseSigmoidSchedule: "inverse_sigmoid"}.get(type(schedule), "linear")


def _describe(schedule) -> str:
    if isinstance(schedule, LinearSchedule):
        text = f"linear, E={schedule.end_epoch:g}"
    elif isinstance(schedule, ExponentialSchedule):
        text = f"exponential, k={schedule.k:.4g}"
    elif isinstance(schedule, InverseSigmoidSchedule):
        text = f"inverse sigmoid, c={schedule.c:.3g}, b={schedule.b:.3g}"
    else:
        return repr(schedule)
    return text + (f", warmup {schedule.warmup_epochs:g}" if schedule.warmup_epochs else "")


_ALTERNATES = (PALETTE[5], PALETTE[7], PALETTE[0])  # sky blue, black, blue: a second curve of a family


def _grid(total_epochs: float, n: int = 601) -> np.ndarray:
    return np.linspace(0.0, _positive("total_epochs", total_epochs), n)


def plot_schedule_curves(
    schedules: Mapping[str, Schedule] | Sequence[Schedule],
    total_epochs: float,
    *,
    warmup_epochs: float = 0.0,
    mark_epoch: float | None = None,
    target: tuple[float, float] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """p(epoch) for several schedules on one axes.

    ``schedules``: a mapping label → schedule, or a list (labelled by family and parameters).
    ``warmup_epochs > 0`` adds each curve again, dashed, delayed by that warmup, and shades it.
    ``mark_epoch`` draws a vertical line with each curve's value there; ``target=(epoch, p)`` a star.
    """
    if not isinstance(schedules, Mapping):
        schedules = {_describe(s): s for s in schedules}
    if not schedules:
        raise ValueError("schedules must hold at least one schedule")
    warmup_epochs = _non_negative("warmup_epochs", warmup_epochs)
    ax = new_axes(ax)
    x = _grid(total_epochs)
    used: dict[str, int] = {}
    for label, schedule in schedules.items():
        kind = _kind_of(schedule)
        # two curves of the same family (e.g. solved variants) get different shades of dash
        color = SCHEDULE_COLORS[kind] if kind not in used else _ALTERNATES[(used[kind] - 1) % 3]
        used[kind] = used.get(kind, 0) + 1
        ax.plot(x, schedule_curve(schedule, x), color=color, label=label)
        if warmup_epochs > 0:
            delayed = replace(schedule, warmup_epochs=schedule.warmup_epochs + warmup_epochs)
            ax.plot(x, schedule_curve(delayed, x), "--", color=color, lw=1.5)
        if mark_epoch is not None:
            value = schedule(_non_negative("mark_epoch", mark_epoch))
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
                label=f"target: p = {target[1]:g} at epoch {target[0]:g}")
    ax.set_xlim(0, x[-1])
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("training time (epochs)")
    ax.set_ylabel("p = P(feed the model's token)")
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

    Left: ``p`` (model token, rising). Right: ``ε = 1 − p`` (true token, falling), with the curves of
    ``bengio`` (label → ``(family, function epoch → ε)`` in Bengio et al.'s own parametrization)
    drawn on top as open markers in the family's colour.
    """
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(9.6, 4.2), sharex=True)
    left, right = axes
    x = _grid(total_epochs)
    for label, schedule in schedules.items():
        color = SCHEDULE_COLORS[_kind_of(schedule)]
        p = schedule_curve(schedule, x)
        left.plot(x, p, color=color, label=label)
        right.plot(x, 1.0 - p, color=color, label=label)
    dots = np.linspace(0.0, x[-1], 21)
    for (label, (kind, eps)), marker in zip((bengio or {}).items(), "osD^v"):
        right.plot(dots, [eps(float(e)) for e in dots], marker, ls="none", ms=6, mew=1.5,
                   color=SCHEDULE_COLORS[_kind(kind)], mfc="none", label=label)
    left.set_title("p: chance of the MODEL's token")
    right.set_title("ε = 1 − p: chance of the TRUE token")
    for ax in (left, right):
        ax.set_xlim(0, x[-1])
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("training time (epochs)")
    left.legend(loc="lower right")
    right.legend(loc="upper right", fontsize=9)
    return left.figure


# --------------------------------------------------------------------------------------------
# The explorer: data, figure, widget


@dataclass(frozen=True)
class ExplorerState:
    """Everything the explorer draws for one setting of its sliders."""

    schedules: dict[str, Schedule]  # family → schedule object
    total_epochs: int
    seq_len: int
    epochs: np.ndarray  # fine grid for the curves
    curves: dict[str, np.ndarray]  # family → p on ``epochs``
    tokens_per_epoch: dict[str, np.ndarray]  # family → expected model tokens per sequence, per epoch
    total_tokens: dict[str, float]  # family → expected model tokens per sequence, whole training
    reach_half: dict[str, float]  # family → first epoch with p ≥ 0.5 (inf if never)
    final_p: dict[str, float]  # family → p at the end of training

    def model_share(self, kind: str) -> float:
        """Fraction of all fed answer tokens that were the model's (the mean of p over training)."""
        return self.total_tokens[kind] / (self.seq_len * self.total_epochs)


def explorer_data(
    end_epoch: float = 80.0,
    k: float = 0.97,
    c: float = 50.0,
    b: float = 10.0,
    warmup_epochs: float = 0.0,
    total_epochs: int = 100,
    seq_len: int = 142,
    steps_per_epoch: int = 20,
) -> ExplorerState:
    """Curves and model-token counts for the three schedules, all with the same warmup."""
    total_epochs = _positive_int("total_epochs", total_epochs)
    schedules = {
        "linear": make_schedule("linear", warmup_epochs, end_epoch=end_epoch),
        "exponential": make_schedule("exponential", warmup_epochs, k=k),
        "inverse_sigmoid": make_schedule("inverse_sigmoid", warmup_epochs, c=c, b=b),
    }
    x = _grid(total_epochs)
    curves = {kind: schedule_curve(s, x) for kind, s in schedules.items()}
    tokens = {kind: model_tokens_per_epoch(s, seq_len, total_epochs, steps_per_epoch)
              for kind, s in schedules.items()}
    return ExplorerState(
        schedules=schedules,
        total_epochs=total_epochs,
        seq_len=_positive_int("seq_len", seq_len),
        epochs=x,
        curves=curves,
        tokens_per_epoch=tokens,
        total_tokens={kind: float(t.sum()) for kind, t in tokens.items()},
        reach_half={kind: epoch_reaching(s, 0.5) for kind, s in schedules.items()},
        final_p={kind: s(float(total_epochs)) for kind, s in schedules.items()},
    )


def plot_explorer(state: ExplorerState, axes: Sequence[Axes] | None = None) -> Figure:
    """Left: p(epoch) for the three schedules. Right: expected model tokens per sequence, per epoch."""
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(9.6, 4.2))
    left, right = axes
    per_epoch = np.arange(state.total_epochs) + 0.5
    for kind in KINDS:
        color = SCHEDULE_COLORS[kind]
        left.plot(state.epochs, state.curves[kind], color=color, label=_describe(state.schedules[kind]))
        right.step(per_epoch, state.tokens_per_epoch[kind], where="mid", color=color,
                   label=f"{_LABELS[kind]}: {state.total_tokens[kind]:,.0f} in all")
    warmup = state.schedules["linear"].warmup_epochs
    for ax in (left, right):
        if warmup > 0:
            ax.axvspan(0, min(warmup, state.total_epochs), color=COLORS["neutral"], alpha=0.15, lw=0)
        ax.set_xlim(0, state.total_epochs)
        ax.set_xlabel("training time (epochs)")
    left.set_ylim(-0.02, 1.02)
    left.set_ylabel("p = P(model's token)")
    left.set_title("Schedules")
    left.legend(loc="lower right", fontsize=9)
    right.axhline(state.seq_len, color=COLORS["neutral"], ls=":", lw=1)
    right.set_ylim(0, state.seq_len * 1.05)
    right.set_ylabel(f"model tokens in a {state.seq_len}-token answer")
    right.set_title("Expected model tokens per sequence")
    right.legend(loc="lower right", fontsize=9, title="per sequence, over training",
                 title_fontsize=9)
    return left.figure


def explorer_summary_html(state: ExplorerState) -> str:
    """The explorer's table: per schedule, when p reaches ½, p at the end, and the model's share."""
    cell = "style='text-align:right;padding:1px 12px;white-space:nowrap'"
    rows = []
    for kind in KINDS:
        half = state.reach_half[kind]
        half_text = f"{half:.1f}" if half <= state.total_epochs else "never"
        rows.append(
            f"<tr><td style='padding:1px 12px 1px 0;white-space:nowrap;color:{SCHEDULE_COLORS[kind]}'>"
            f"<b>{html.escape(_LABELS[kind])}</b></td>"
            f"<td {cell}>{half_text}</td>"
            f"<td {cell}>{state.final_p[kind]:.3f}</td>"
            f"<td {cell}>{state.total_tokens[kind]:,.0f}</td>"
            f"<td {cell}>{state.model_share(kind):.0%}</td></tr>"
        )
    head = "".join(f"<th {cell}>{h}</th>" for h in
                   ("p = ½ at epoch", "p at end", "model tokens", "model share"))
    return (f"<table style='border-collapse:collapse;font-size:0.95em;margin:0.4em 0'>"
            f"<tr><th></th>{head}</tr>" + "".join(rows) + "</table>"
            f"<div style='font-size:0.85em;color:#555'>model tokens: expected number in one "
            f"{state.seq_len}-token answer over all {state.total_epochs} epochs; model share: "
            f"their fraction of all answer inputs fed (the mean of p).</div>")


class ScheduleExplorer:
    """Sliders for E, k, c, b, warmup, total epochs and answer length T; redraws on release.

    ``ScheduleExplorer()`` as the last line of a cell displays it. With ``draw_now=False`` the figure
    is drawn at the first slider move only (the table is always filled): a chapter that shows the
    default-state figure in a plain cell then does not show it twice. Labels are ``HTML`` widgets and
    the sliders have no ``description``: on the static book's MathJax 3 pages, widget labels that
    go through the MathJax 2 typesetting path raise errors.
    """

    _SPECS: dict[str, tuple[str, str, dict[str, Any]]] = {
        # name: (widget class, label, slider settings)
        "end_epoch": ("FloatSlider", "linear: <i>E</i>", dict(min=1, max=300, step=1)),
        "k": ("FloatSlider", "exponential: <i>k</i>",
              dict(min=0.8, max=0.999, step=0.001, readout_format=".3f")),
        "c": ("FloatSlider", "inverse sigmoid: <i>c</i>", dict(min=0, max=300, step=1)),
        "b": ("FloatSlider", "inverse sigmoid: <i>b</i>", dict(min=0.5, max=60, step=0.5)),
        "warmup_epochs": ("FloatSlider", "warmup epochs", dict(min=0, max=150, step=1)),
        "total_epochs": ("IntSlider", "total epochs", dict(min=10, max=300, step=5)),
        "seq_len": ("IntSlider", "answer length <i>T</i>", dict(min=1, max=400, step=1)),
    }

    def __init__(self, steps_per_epoch: int = 20, draw_now: bool = True, **values: float) -> None:
        import ipywidgets as widgets  # imported here: the rest of the module works without it
        from IPython.display import HTML, display

        defaults = dict(end_epoch=80.0, k=0.97, c=50.0, b=10.0, warmup_epochs=0.0,
                        total_epochs=100, seq_len=142)
        unknown = set(values) - set(defaults)
        if unknown:
            raise ValueError(f"{sorted(unknown)[0]} is not a slider; choose from {sorted(defaults)}")
        defaults.update(values)
        self.steps_per_epoch = _positive_int("steps_per_epoch", steps_per_epoch)
        explorer_data(**defaults, steps_per_epoch=self.steps_per_epoch)  # validate before drawing
        self.sliders: dict[str, Any] = {}
        rows = []
        for name, (cls, label, settings) in self._SPECS.items():
            slider = getattr(widgets, cls)(value=defaults[name], description="",
                                           continuous_update=False, **settings)
            slider.observe(lambda _change: self.update(), names="value")
            self.sliders[name] = slider
            rows.append(widgets.HBox([widgets.HTML(label, layout=widgets.Layout(width="11em")), slider]))
        self.summary = widgets.HTML()
        self.output = widgets.Output()
        self.ui = widgets.VBox([widgets.VBox(rows), self.summary, self.output])
        self.state: ExplorerState | None = None
        self.figures_drawn = 0
        self.update(draw=draw_now)
        if not draw_now:
            with self.output:
                display(HTML("<i>Move a slider: the figure for the new setting appears here.</i>"))

    def values(self) -> dict[str, float]:
        return {name: slider.value for name, slider in self.sliders.items()}

    def update(self, draw: bool = True) -> None:
        """Recompute from the sliders, refresh the table and (unless ``draw=False``) the figure."""
        self.state = explorer_data(**self.values(), steps_per_epoch=self.steps_per_epoch)
        self.summary.value = explorer_summary_html(self.state)
        if not draw:
            return
        with self.output:
            from IPython.display import clear_output, display

            clear_output(wait=True)
            fig = plot_explorer(self.state)
            display(fig)
            plt.close(fig)
        self.figures_drawn += 1

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.ui._repr_mimebundle_(**kwargs)
