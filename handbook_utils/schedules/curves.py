"""How often scheduled sampling feeds the model its own prediction, as a function of training time.

Two conventions exist and the book uses both, so this module states them once:

- **This book (seed 004)**: ``p(epoch)`` is the probability of feeding the MODEL's prediction.
  It starts at 0 (pure teacher forcing) and rises:

  ``linear_schedule``          p = min(1, e / E)
  ``exponential_schedule``     p = 1 − k^e                 (0 < k < 1)
  ``inverse_sigmoid_schedule`` p = 1 / (1 + exp((c − e)/b))  (b > 0; p = ½ at e = c)

  each optionally delayed by ``warmup_epochs``: p = 0 before it, then the curve at e − warmup.

- **Bengio et al. (2015)**: ``ε_i`` is the probability of feeding the TRUE token at minibatch i.
  It starts at 1 and decays: linear max(ε_min, k − c·i), exponential k^i, inverse sigmoid
  k / (k + exp(i/k)) with k ≥ 1.

The map between them is ``p = 1 − ε`` with the same clock (e ↔ i):

- exponential: the same ``k`` on both sides;
- linear: Bengio's (k=1, c=1/E, ε_min=0) is ``linear_schedule(end_epoch=E)``;
- inverse sigmoid: Bengio's ``k`` is ``inverse_sigmoid_schedule(c=k·ln k, b=k)``, because
  k/(k + exp(i/k)) = 1/(1 + exp((i − k·ln k)/k)).

``epoch`` may be fractional (``step / steps_per_epoch``). Invalid parameters raise ``ValueError``
naming the parameter and its allowed range, so a typo fails here and not silently in training.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from handbook_utils import checks

_number = checks.real_number
_non_negative = checks.non_negative


def _sigmoid(x: float) -> float:
    """1 / (1 + exp(-x)) without overflow for large |x|."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def _after_warmup(epoch, warmup_epochs) -> float | None:
    """Epochs since the warm-up ended, or None while still warming up (p = 0)."""
    epoch = _non_negative("epoch", epoch)
    warmup_epochs = _non_negative("warmup_epochs", warmup_epochs)
    return None if epoch < warmup_epochs else epoch - warmup_epochs


# --------------------------------------------------------------------------------------------
# This book's convention: p = probability of feeding the model's own prediction


def linear_schedule(epoch: float, end_epoch: float, warmup_epochs: float = 0) -> float:
    """p = min(1, e / E): reaches pure free-running at ``end_epoch`` (E=80 gives 0.625 at epoch 50)."""
    end_epoch = _number("end_epoch", end_epoch)
    if end_epoch <= 0:
        raise ValueError(f"end_epoch must be in (0, inf), got {end_epoch}")
    e = _after_warmup(epoch, warmup_epochs)
    return 0.0 if e is None else min(1.0, e / end_epoch)


def exponential_schedule(epoch: float, k: float, warmup_epochs: float = 0) -> float:
    """p = 1 − k^e: fast at first, then slower (k=0.97 gives 0.782 at epoch 50)."""
    k = _number("k", k)
    if not 0.0 < k < 1.0:
        raise ValueError(f"k must be in (0, 1), got {k}")
    e = _after_warmup(epoch, warmup_epochs)
    return 0.0 if e is None else 1.0 - k**e


def inverse_sigmoid_schedule(epoch: float, c: float, b: float, warmup_epochs: float = 0) -> float:
    """p = 1 / (1 + exp((c − e)/b)): an S-curve centred at epoch ``c`` with width ``b`` (0.5 at e = c)."""
    c = _number("c", c)
    b = _number("b", b)
    if b <= 0:
        raise ValueError(f"b must be in (0, inf), got {b}")
    e = _after_warmup(epoch, warmup_epochs)
    return 0.0 if e is None else _sigmoid((e - c) / b)


# --------------------------------------------------------------------------------------------
# Bengio et al. (2015): ε = probability of feeding the TRUE token


def bengio_linear_epsilon(i: float, k: float = 1.0, c: float = 0.01, epsilon_min: float = 0.0) -> float:
    """ε_i = max(ε_min, k − c·i)."""
    i = _non_negative("i", i)
    k, c = _number("k", k), _number("c", c)
    epsilon_min = _number("epsilon_min", epsilon_min)
    if not 0.0 <= epsilon_min <= 1.0:
        raise ValueError(f"epsilon_min must be in [0, 1], got {epsilon_min}")
    if not 0.0 < k <= 1.0:
        raise ValueError(f"k must be in (0, 1], got {k}")
    if c <= 0:
        raise ValueError(f"c must be in (0, inf), got {c}")
    return max(epsilon_min, k - c * i)


def bengio_exponential_epsilon(i: float, k: float) -> float:
    """ε_i = k^i with 0 < k < 1."""
    i = _non_negative("i", i)
    k = _number("k", k)
    if not 0.0 < k < 1.0:
        raise ValueError(f"k must be in (0, 1), got {k}")
    return k**i


def bengio_inverse_sigmoid_epsilon(i: float, k: float) -> float:
    """ε_i = k / (k + exp(i/k)) with k ≥ 1; ε is ½ near i = k·ln k."""
    i = _non_negative("i", i)
    k = _number("k", k)
    if k < 1:
        raise ValueError(f"k must be in [1, inf), got {k}")
    return 1.0 - _sigmoid((i - k * math.log(k)) / k)


def model_prob_from_epsilon(epsilon: float) -> float:
    """Bengio's ε (true token) → this book's p (model token): p = 1 − ε."""
    epsilon = _number("epsilon", epsilon)
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon must be in [0, 1], got {epsilon}")
    return 1.0 - epsilon


def epsilon_from_model_prob(p: float) -> float:
    """This book's p (model token) → Bengio's ε (true token): ε = 1 − p."""
    p = _number("p", p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in [0, 1], got {p}")
    return 1.0 - p


def inverse_sigmoid_params_from_bengio(k: float) -> dict[str, float]:
    """``c`` and ``b`` of :func:`inverse_sigmoid_schedule` equal to 1 − Bengio's inverse sigmoid with ``k``."""
    k = _number("k", k)
    if k < 1:
        raise ValueError(f"k must be in [1, inf), got {k}")
    return {"c": k * math.log(k), "b": k}


# --------------------------------------------------------------------------------------------
# Schedules as small frozen objects: callable with an epoch, printable, and hashable by the cache


@dataclass(frozen=True)
class LinearSchedule:
    end_epoch: float
    warmup_epochs: float = 0

    def __post_init__(self):
        self(0.0)  # validate now, not at step 1000

    def __call__(self, epoch: float) -> float:
        return linear_schedule(epoch, self.end_epoch, self.warmup_epochs)


@dataclass(frozen=True)
class ExponentialSchedule:
    k: float
    warmup_epochs: float = 0

    def __post_init__(self):
        self(0.0)

    def __call__(self, epoch: float) -> float:
        return exponential_schedule(epoch, self.k, self.warmup_epochs)


@dataclass(frozen=True)
class InverseSigmoidSchedule:
    c: float
    b: float
    warmup_epochs: float = 0

    def __post_init__(self):
        self(0.0)

    def __call__(self, epoch: float) -> float:
        return inverse_sigmoid_schedule(epoch, self.c, self.b, self.warmup_epochs)


@dataclass(frozen=True)
class ConstantSchedule:
    """The same p at every epoch: 0 is teacher forcing, 1 is always sampling."""

    p: float

    def __post_init__(self):
        p = _number("p", self.p)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p must be in [0, 1], got {p}")

    def __call__(self, epoch: float) -> float:
        _non_negative("epoch", epoch)
        return float(self.p)
