"""What a schedule means for one training sequence, counted in tokens (chapter 5).

With one coin per answer token (as :class:`handbook_utils.strategies.Draws` flips them), a sequence
whose answer has ``T`` tokens gets ``p·T`` model tokens on average (:func:`expected_model_tokens`)
and none at all with probability ``(1 − p)^T`` (:func:`all_gold_probability`);
:func:`model_tokens_per_epoch` averages ``p`` over the steps of each epoch, as the training loop
reads it (``epoch = step / steps_per_epoch``).

Used by chapter 5 ("One coin per token" and the explorer of :mod:`.ch05_explorer`).
Bad values raise ``ValueError`` naming the parameter; non-numbers raise ``TypeError``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from handbook_utils import checks
from handbook_utils.schedules import schedule_curve

__all__ = ["expected_model_tokens", "all_gold_probability", "model_tokens_per_epoch"]


def _probabilities(p):
    """``p`` as a float in [0, 1], or as a float array with every entry in [0, 1]."""
    if isinstance(p, np.ndarray):
        if not np.issubdtype(p.dtype, np.number) or p.dtype == np.bool_:
            raise TypeError(f"p must be real numbers, got an array of {p.dtype}")
        if not (np.all(np.isfinite(p)) and np.all((p >= 0) & (p <= 1))):
            raise ValueError("p must be in [0, 1] everywhere")
        return p.astype(float)
    return checks.probability("p", p)


def expected_model_tokens(p, seq_len):
    """Expected number of the ``seq_len`` answer inputs replaced by the model's token: ``p·T``.

    :mod:`handbook_utils.strategies` flips one coin per answer token that is fed back as an input;
    for an answer of ``T`` characters (plus ``<eos>``, which is never an input) that is ``T`` coins.
    ``p`` may be a number or an array (the result has its shape).
    """
    seq_len = checks.positive_int("seq_len", seq_len)
    return _probabilities(p) * seq_len


def all_gold_probability(p, seq_len):
    """The chance that a sequence gets no model token at all, i.e. is plain teacher forcing: ``(1 − p)^T``."""
    seq_len = checks.positive_int("seq_len", seq_len)
    return (1.0 - _probabilities(p)) ** seq_len


def model_tokens_per_epoch(
    schedule: Callable[[float], float], seq_len: int, total_epochs: int, steps_per_epoch: int = 100
) -> np.ndarray:
    """Expected model tokens in one sequence of ``seq_len`` answer tokens trained during each epoch.

    Entry ``e`` is ``T ×`` the mean of ``p(step / steps_per_epoch)`` over the steps of epoch ``e``,
    which is how the training loop reads a schedule. Shape ``(total_epochs,)``.
    """
    seq_len = checks.positive_int("seq_len", seq_len)
    total_epochs = checks.positive_int("total_epochs", total_epochs)
    steps_per_epoch = checks.positive_int("steps_per_epoch", steps_per_epoch)
    steps = np.arange(total_epochs * steps_per_epoch) / steps_per_epoch  # (total_epochs * steps_per_epoch,)
    p = schedule_curve(schedule, steps).reshape(total_epochs, steps_per_epoch)  # (total_epochs, steps_per_epoch)
    return seq_len * p.mean(axis=1)
