"""Chapter 5's token counts match what the training code actually feeds; bad inputs fail by name."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from handbook_utils import schedules as S
from handbook_utils.chapters.ch05_tokens import (
    all_gold_probability,
    expected_model_tokens,
    model_tokens_per_epoch,
)


def test_counts_match_the_training_code():
    """One coin per answer token: the core's Draws replaces p·T tokens on average, and leaves a
    sequence untouched with probability (1 − p)^T."""
    from handbook_utils.strategies import Draws
    from handbook_utils.tasks import AdditionChainTask

    task = AdditionChainTask(n_terms=3, max_value=9)
    example = task.example([4, 5, 6])
    seq_len = len(example.target)
    batch = task.batch([example] * 20_000)
    p = 0.05
    draws = Draws.sample(batch, task.tokenizer.vocab_size, p, "argmax", torch.Generator().manual_seed(0))
    always = Draws.sample(batch, task.tokenizer.vocab_size, 1.0, "argmax")
    assert int(always.use_model[0].sum()) == seq_len  # every answer character can be replaced
    per_row = draws.use_model.sum(dim=1).double()  # (20_000,): model tokens per sequence
    assert per_row.mean().item() == pytest.approx(expected_model_tokens(p, seq_len), rel=0.03)
    assert (per_row == 0).double().mean().item() == pytest.approx(all_gold_probability(p, seq_len), abs=0.02)


def test_expected_tokens_and_all_gold_probability():
    assert expected_model_tokens(0.25, 40) == 10.0
    assert all_gold_probability(0.0, 7) == 1.0 and all_gold_probability(1.0, 7) == 0.0
    np.testing.assert_allclose(expected_model_tokens(np.array([0.0, 0.5]), 10), [0.0, 5.0])
    np.testing.assert_allclose(all_gold_probability(np.array([0.5]), 3), [0.125])


def test_model_tokens_per_epoch_averages_the_steps_of_each_epoch():
    const = model_tokens_per_epoch(S.ConstantSchedule(0.3), 50, 4, steps_per_epoch=7)
    np.testing.assert_allclose(const, 15.0)
    E, steps = 40.0, 10
    linear = model_tokens_per_epoch(S.LinearSchedule(E), 1, 20, steps_per_epoch=steps)
    assert linear.shape == (20,)
    expected = [(e + (steps - 1) / (2 * steps)) / E for e in range(20)]
    np.testing.assert_allclose(linear, expected)


INVALID = [
    (expected_model_tokens, dict(p=1.2, seq_len=5), "p"),
    (expected_model_tokens, dict(p=0.2, seq_len=0), "seq_len"),
    (all_gold_probability, dict(p=np.array([0.1, -0.1]), seq_len=5), "p"),
    (all_gold_probability, dict(p=np.array([0.1, np.nan]), seq_len=5), "p"),
    (model_tokens_per_epoch, dict(schedule=S.LinearSchedule(5), seq_len=5, total_epochs=0), "total_epochs"),
    (model_tokens_per_epoch, dict(schedule=S.LinearSchedule(5), seq_len=5, total_epochs=3,
                                  steps_per_epoch=0), "steps_per_epoch"),
]


@pytest.mark.parametrize("fn, kwargs, name", INVALID, ids=lambda v: getattr(v, "__name__", None))
def test_bad_values_raise_value_error_naming_the_parameter(fn, kwargs, name):
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        fn(**kwargs)


def test_wrong_types_raise_type_error():
    with pytest.raises(TypeError, match="seq_len"):
        expected_model_tokens(0.5, 3.0)
    with pytest.raises(TypeError, match="p must"):
        all_gold_probability(np.array([True, False]), 3)
    with pytest.raises(TypeError, match="schedule"):
        model_tokens_per_epoch(0.5, 3, 2)
