"""Bengio et al. (2015)'s convention, and the map onto this book's schedules.

Bengio et al. write ``ε_i``, the probability of feeding the TRUE token at mini-batch ``i``. It
starts at 1 and decays: linear ``max(ε_min, k − c·i)``, exponential ``k^i``, inverse sigmoid
``k / (k + exp(i/k))`` with ``k ≥ 1``. This book writes ``p = 1 − ε`` (probability of the MODEL's
token) on the epoch clock, ``epoch = i / steps_per_epoch``. With one step per epoch:

- exponential: the same ``k`` on both sides;
- linear: Bengio's (k=1, c=1/E, ε_min=0) is ``LinearSchedule(end_epoch=E)``;
- inverse sigmoid: Bengio's ``k`` is ``InverseSigmoidSchedule(c=k·ln k, b=k)``, because
  k/(k + exp(i/k)) = 1/(1 + exp((i − k·ln k)/k)).

:func:`from_bengio` does that translation for any ``steps_per_epoch``;
:func:`bengio_k_for_midpoint` finds the inverse-sigmoid ``k`` for a given midpoint.

Used by chapter 5 (its figure of both conventions, its translation section and exercise 2).
"""

from __future__ import annotations

import math

from handbook_utils import checks

from .curves import KINDS, ExponentialSchedule, InverseSigmoidSchedule, LinearSchedule, Schedule, sigmoid

__all__ = [
    "bengio_linear_epsilon",
    "bengio_exponential_epsilon",
    "bengio_inverse_sigmoid_epsilon",
    "from_bengio",
    "bengio_k_for_midpoint",
]


def bengio_linear_epsilon(i: float, k: float = 1.0, c: float = 0.01, epsilon_min: float = 0.0) -> float:
    """ε_i = max(ε_min, k − c·i)."""
    i = checks.non_negative("i", i)
    k = checks.in_open_unit("k", k, allow_one=True)
    c = checks.positive("c", c)
    epsilon_min = checks.probability("epsilon_min", epsilon_min)
    return max(epsilon_min, k - c * i)


def bengio_exponential_epsilon(i: float, k: float) -> float:
    """ε_i = k^i with 0 < k < 1."""
    i = checks.non_negative("i", i)
    return checks.in_open_unit("k", k) ** i


def bengio_inverse_sigmoid_epsilon(i: float, k: float) -> float:
    """ε_i = k / (k + exp(i/k)) with k ≥ 1; ε is ½ near i = k·ln k."""
    i = checks.non_negative("i", i)
    k = checks.number("k", k, 1.0)
    return 1.0 - sigmoid((i - k * math.log(k)) / k)


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
    kind = checks.one_of("kind", kind, KINDS)
    k = checks.real_number("k", k)
    steps = checks.positive("steps_per_epoch", steps_per_epoch)
    if kind == "linear":
        if c is None:
            raise ValueError("c must be given for the linear decay (its slope per mini-batch)")
        c = checks.positive("c", c)
        epsilon_min = checks.probability("epsilon_min", epsilon_min)
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
        k_epoch = checks.in_open_unit("k", k) ** steps
        if not 0.0 < k_epoch < 1.0:
            raise ValueError(f"k gives k_epoch = {k_epoch} after {steps} steps, outside (0, 1)")
        return ExponentialSchedule(k=k_epoch)
    k = checks.number("k", k, 1.0)
    return InverseSigmoidSchedule(c=k * math.log(k) / steps, b=k / steps)


def bengio_k_for_midpoint(midpoint: float) -> float:
    """Bengio et al.'s inverse-sigmoid ``k`` whose ε crosses ½ at ``midpoint``: solves ``k·ln k = midpoint``.

    Their curve has one parameter, so choosing the midpoint also fixes the width (``b = k``).
    """
    midpoint = checks.non_negative("midpoint", midpoint)
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
