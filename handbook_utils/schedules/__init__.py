"""How often scheduled sampling feeds the model its own prediction, as a function of training time.

Two conventions exist and the book uses both, so this package states them once:

- **This book**: ``p(epoch)`` is the probability of feeding the MODEL's prediction. It starts at
  0 (pure teacher forcing) and rises. The schedule objects are in :mod:`.curves`.
- **Bengio et al. (2015)**: ``ε_i`` is the probability of feeding the TRUE token at mini-batch
  ``i``. It starts at 1 and decays. Their curves and the map ``p = 1 − ε`` are in :mod:`.bengio`.

:mod:`.solve` turns a goal ("p = 0.5 at 60% of training") into parameters and reads a schedule
back (when does it reach p, how steep is it). Everything is importable from
``handbook_utils.schedules`` directly.

Used by :mod:`handbook_utils.strategies` and :mod:`handbook_utils.training` (any callable epoch → p
is a schedule), and by chapters 5 and 6.
"""

from .bengio import (
    bengio_exponential_epsilon,
    bengio_inverse_sigmoid_epsilon,
    bengio_k_for_midpoint,
    bengio_linear_epsilon,
    from_bengio,
)
from .curves import (
    KIND_LABELS,
    KINDS,
    ConstantSchedule,
    ExponentialSchedule,
    InverseSigmoidSchedule,
    LinearSchedule,
    Schedule,
    check_family,
    describe,
    kind_of,
    make_schedule,
    schedule_curve,
)
from .solve import (
    epoch_reaching,
    max_slope,
    solve_exponential,
    solve_inverse_sigmoid,
    solve_linear,
    solve_schedule,
)

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
    "bengio_linear_epsilon",
    "bengio_exponential_epsilon",
    "bengio_inverse_sigmoid_epsilon",
    "from_bengio",
    "bengio_k_for_midpoint",
    "solve_linear",
    "solve_exponential",
    "solve_inverse_sigmoid",
    "solve_schedule",
    "epoch_reaching",
    "max_slope",
]
