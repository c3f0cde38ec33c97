"""The book's scheduled-sampling schedules: ``p(epoch)``, the probability of feeding the MODEL's token.

``p`` starts at 0 (pure teacher forcing) and rises:

- :class:`LinearSchedule`          p = min(1, e / E)
- :class:`ExponentialSchedule`     p = 1 − k^e                   (0 < k < 1)
- :class:`InverseSigmoidSchedule`  p = 1 / (1 + exp((c − e)/b))  (b > 0; p = ½ at e = c)
- :class:`ConstantSchedule`        the same p at every epoch (0 is teacher forcing)

each optionally delayed by ``warmup_epochs``: p = 0 before it, then the curve at e − warmup.
``epoch`` may be fractional (``step / steps_per_epoch``, as the training loop reads it). The
schedules are small frozen dataclasses: callable with an epoch, printable, and hashable by the
cache. Parameters are checked at construction, so a typo fails here and not at step 1000.

Also here, for the three families (:data:`KINDS`): :func:`make_schedule` (kind name → object),
:func:`kind_of` and :func:`describe` (object → family, label), and :func:`schedule_curve`.

Used by :mod:`handbook_utils.strategies` and :mod:`handbook_utils.training` (any schedule is a
callable epoch → p), by chapter 5 (the three families, side by side) and by chapter 6 (its arms).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from handbook_utils import checks

__all__ = [
    "KINDS",
    "KIND_LABELS",
    "Schedule",
    "LinearSchedule",
    "ExponentialSchedule",
    "InverseSigmoidSchedule",
    "ConstantSchedule",
    "make_schedule",
    "check_family",
    "kind_of",
    "describe",
    "schedule_curve",
]


def sigmoid(x: float) -> float:
    """1 / (1 + exp(-x)) without overflow for large |x| (shared by the curves, solvers and Bengio's ε)."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def _after_warmup(epoch, warmup_epochs: float) -> float | None:
    """Epochs since the warm-up ended, or None while still warming up (p = 0)."""
    epoch = checks.non_negative("epoch", epoch)
    return None if epoch < warmup_epochs else epoch - float(warmup_epochs)


@dataclass(frozen=True)
class LinearSchedule:
    """p = min(1, e / E): reaches pure free running at ``end_epoch`` (E=80 gives 0.625 at epoch 50)."""

    end_epoch: float
    warmup_epochs: float = 0

    def __post_init__(self):
        checks.positive("end_epoch", self.end_epoch)
        checks.non_negative("warmup_epochs", self.warmup_epochs)

    def __call__(self, epoch: float) -> float:
        e = _after_warmup(epoch, self.warmup_epochs)
        return 0.0 if e is None else min(1.0, e / float(self.end_epoch))


@dataclass(frozen=True)
class ExponentialSchedule:
    """p = 1 − k^e: fast at first, then slower (k=0.97 gives 0.782 at epoch 50)."""

    k: float
    warmup_epochs: float = 0

    def __post_init__(self):
        checks.in_open_unit("k", self.k)
        checks.non_negative("warmup_epochs", self.warmup_epochs)

    def __call__(self, epoch: float) -> float:
        e = _after_warmup(epoch, self.warmup_epochs)
        return 0.0 if e is None else 1.0 - float(self.k) ** e


@dataclass(frozen=True)
class InverseSigmoidSchedule:
    """p = 1 / (1 + exp((c − e)/b)): an S-curve centred at epoch ``c`` with width ``b`` (0.5 at e = c)."""

    c: float
    b: float
    warmup_epochs: float = 0

    def __post_init__(self):
        checks.real_number("c", self.c)
        checks.positive("b", self.b)
        checks.non_negative("warmup_epochs", self.warmup_epochs)

    def __call__(self, epoch: float) -> float:
        e = _after_warmup(epoch, self.warmup_epochs)
        return 0.0 if e is None else sigmoid((e - float(self.c)) / float(self.b))


@dataclass(frozen=True)
class ConstantSchedule:
    """The same p at every epoch: 0 is teacher forcing, 1 is always sampling.

    Used by :mod:`handbook_utils.strategies` (a plain number given as a schedule becomes one).
    """

    p: float

    def __post_init__(self):
        checks.probability("p", self.p)

    def __call__(self, epoch: float) -> float:
        checks.non_negative("epoch", epoch)
        return float(self.p)


# --------------------------------------------------------------------------------------------
# The three families by name

KINDS: tuple[str, ...] = ("linear", "exponential", "inverse_sigmoid")
"""The schedule families of chapter 5, in the order its figures and tables list them."""

KIND_LABELS: dict[str, str] = {"linear": "linear", "exponential": "exponential",
                               "inverse_sigmoid": "inverse sigmoid"}
"""How the figures and tables of chapters 5 and 6 name each family."""

Schedule = LinearSchedule | ExponentialSchedule | InverseSigmoidSchedule
"""A schedule of one of the three families (what the solvers take and return)."""

_CLASSES: dict[str, type] = {"linear": LinearSchedule, "exponential": ExponentialSchedule,
                             "inverse_sigmoid": InverseSigmoidSchedule}


def check_family(schedule) -> Schedule:
    """``schedule`` if it belongs to one of the three families, else a TypeError naming them."""
    return checks.instance("schedule", schedule, tuple(_CLASSES.values()))


def make_schedule(kind: str, warmup_epochs: float = 0.0, **params) -> Schedule:
    """``make_schedule("exponential", k=0.97)``: the schedule object of family ``kind``.

    Used by chapter 5's explorer (one schedule per family from its sliders).
    """
    cls = _CLASSES[checks.one_of("kind", kind, KINDS)]
    params = {name: checks.real_number(name, v) for name, v in params.items()}
    return cls(**params, warmup_epochs=checks.non_negative("warmup_epochs", warmup_epochs))


def kind_of(schedule) -> str | None:
    """The family of ``schedule`` (one of :data:`KINDS`), or None for any other callable."""
    return {cls: kind for kind, cls in _CLASSES.items()}.get(type(schedule))


def describe(schedule) -> str:
    """A legend label: family and parameters (``"exponential, k=0.97"``), ``repr`` for other callables."""
    if isinstance(schedule, LinearSchedule):
        text = f"linear, E={schedule.end_epoch:g}"
    elif isinstance(schedule, ExponentialSchedule):
        text = f"exponential, k={schedule.k:.4g}"
    elif isinstance(schedule, InverseSigmoidSchedule):
        text = f"inverse sigmoid, c={schedule.c:.3g}, b={schedule.b:.3g}"
    else:
        return repr(schedule)
    return text + (f", warmup {schedule.warmup_epochs:g}" if schedule.warmup_epochs else "")


def schedule_curve(schedule: Callable[[float], float], epochs: Sequence[float] | np.ndarray) -> np.ndarray:
    """``schedule`` evaluated at every epoch: p of shape ``(len(epochs),)``.

    Used by chapter 5's figures, explorer and token counts.
    """
    if not callable(schedule):
        raise TypeError(f"schedule must be callable, got {type(schedule).__name__}")
    epochs = np.asarray(epochs, dtype=float)  # (n,)
    return np.array([schedule(checks.non_negative("epochs", e)) for e in epochs])
