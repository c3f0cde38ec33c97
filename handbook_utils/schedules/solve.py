"""Solving for a schedule's parameters from a plain-language goal, and reading a schedule back.

- **Solve.** "Reach p = 0.5 at 60% of training" → ``E`` (linear), ``k`` (exponential) or ``c``
  (inverse sigmoid, for a chosen width ``b`` or a chosen starting value ``start_p``):
  :func:`solve_linear`, :func:`solve_exponential`, :func:`solve_inverse_sigmoid`, or
  :func:`solve_schedule` with the target as a fraction of training.
- **Read back.** :func:`epoch_reaching` is the inverse (when does a schedule first reach ``p``?)
  and :func:`max_slope` says how abrupt it is.

Used by chapter 5 (its solved schedules and the numbers in its text) and chapter 6 (the arms'
schedules are ``solve_schedule(kind, 0.5, ...)``, and the text reports ``epoch_reaching``).
Bad values raise ``ValueError`` naming the parameter; non-numbers raise ``TypeError``.
"""

from __future__ import annotations

import math

from handbook_utils import checks

from .curves import (
    KINDS,
    ExponentialSchedule,
    InverseSigmoidSchedule,
    LinearSchedule,
    Schedule,
    check_family,
    sigmoid,
)

__all__ = [
    "solve_linear",
    "solve_exponential",
    "solve_inverse_sigmoid",
    "solve_schedule",
    "epoch_reaching",
    "max_slope",
]


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def _ramp(at_epoch, warmup_epochs) -> tuple[float, float]:
    """(epochs of ramp before the target, warmup): the target must lie after the warmup."""
    at_epoch = checks.real_number("at_epoch", at_epoch)
    warmup_epochs = checks.non_negative("warmup_epochs", warmup_epochs)
    if at_epoch <= warmup_epochs:
        raise ValueError(f"at_epoch must be greater than warmup_epochs ({warmup_epochs}), got {at_epoch}")
    return at_epoch - warmup_epochs, warmup_epochs


def solve_linear(p: float, at_epoch: float, warmup_epochs: float = 0.0) -> LinearSchedule:
    """The linear schedule with ``p(at_epoch) = p``: ``E = (at_epoch − warmup) / p``."""
    p = checks.in_open_unit("p", p, allow_one=True)
    ramp, warmup = _ramp(at_epoch, warmup_epochs)
    return LinearSchedule(end_epoch=ramp / p, warmup_epochs=warmup)


def solve_exponential(p: float, at_epoch: float, warmup_epochs: float = 0.0) -> ExponentialSchedule:
    """The exponential schedule with ``p(at_epoch) = p``: ``k = (1 − p)^(1 / (at_epoch − warmup))``."""
    p = checks.in_open_unit("p", p)
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
    p = checks.in_open_unit("p", p)
    ramp, warmup = _ramp(at_epoch, warmup_epochs)
    if (b is None) == (start_p is None):
        raise ValueError("b or start_p: give exactly one of them (the width, or the value at the start)")
    if b is not None:
        b = checks.positive("b", b)
        c = ramp - b * _logit(p)
    else:
        start_p = checks.in_open_unit("start_p", start_p)
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
    kind = checks.one_of("kind", kind, KINDS)
    at_fraction = checks.in_open_unit("at_fraction", at_fraction, allow_one=True)
    total_epochs = checks.positive("total_epochs", total_epochs)
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
    check_family(schedule)
    p = checks.in_open_unit("p", p, allow_one=True)
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
    check_family(schedule)
    w = float(schedule.warmup_epochs)
    if isinstance(schedule, LinearSchedule):
        return 1.0 / schedule.end_epoch, w
    if isinstance(schedule, ExponentialSchedule):
        return -math.log(schedule.k), w
    c, b = schedule.c, schedule.b
    at = max(c, 0.0)
    s = sigmoid((at - c) / b)
    return s * (1.0 - s) / b, w + at
