"""Chapter 2, one token: cross-entropy, the geometric-mean reading of a mean loss, token scores."""

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from fixtures_addition import SMALL_ADDITION as TASK
from fixtures_addition import one_thread, tiny_gpt  # noqa: F401 (one_thread: autouse fixture)
from matplotlib.figure import Figure

from handbook_utils.chapters.ch02_loss import (
    geometric_mean_probability,
    plot_cross_entropy,
    plot_token_losses,
    read_loss,
    token_loss,
    token_scores,
)
from handbook_utils.generation import sequence_log_prob
from handbook_utils.strategies import masked_cross_entropy


def test_token_loss_and_geometric_mean():
    assert token_loss(1.0) == 0.0
    assert token_loss(0.5) == pytest.approx(math.log(2))
    assert np.allclose(token_loss([0.1, 0.01]), [math.log(10), math.log(100)])
    assert geometric_mean_probability(0.01) == pytest.approx(0.99005, abs=1e-5)
    assert geometric_mean_probability(0) == 1.0


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5, float("nan")])
def test_token_loss_rejects_non_probabilities(bad):
    with pytest.raises(ValueError, match="p must"):
        token_loss(bad)


@pytest.mark.parametrize("bad, err", [(-1.0, ValueError), (float("inf"), ValueError), ("0.1", TypeError)])
def test_geometric_mean_rejects_bad_losses(bad, err):
    with pytest.raises(err, match="mean_loss"):
        geometric_mean_probability(bad)


def test_token_scores_and_read_loss_agree_with_training_loss():
    model = tiny_gpt()
    examples = TASK.sample(12, 0)
    batch = TASK.batch(examples)
    with torch.no_grad():
        train_loss = float(masked_cross_entropy(model(batch.inputs), batch))
    reading = read_loss(model, TASK, examples)
    assert reading.mean_loss == pytest.approx(train_loss, rel=1e-5)
    assert reading.geometric_mean_prob == pytest.approx(math.exp(-train_loss), rel=1e-5)
    assert reading.n_tokens == int(batch.loss_mask.sum()) and reading.n_examples == 12
    assert reading.min_prob <= reading.geometric_mean_prob <= reading.arithmetic_mean_prob  # AM-GM
    scores = token_scores(model, TASK, examples[0])
    assert scores.tokens[-1] == "<eos>" and "".join(scores.tokens[:-1]) == examples[0].target
    assert len(scores.probs) == len(scores.losses) == len(scores.argmax_right) == len(examples[0].target) + 1
    ids = torch.tensor(TASK.tokenizer.encode(examples[0].prompt + examples[0].target) + [TASK.tokenizer.eos_id])
    assert scores.total_loss == pytest.approx(-float(sequence_log_prob(model, ids, len(examples[0].prompt))), abs=1e-4)


def test_reading_functions_reject_bad_inputs():
    model = tiny_gpt()
    with pytest.raises(TypeError, match="examples"):
        read_loss(model, TASK, [])
    with pytest.raises(TypeError, match="task"):
        read_loss(model, "task", TASK.sample(2, 0))
    with pytest.raises(TypeError, match="model"):
        token_scores("model", TASK, TASK.sample(1, 0)[0])


def test_plots_return_figures():
    assert isinstance(plot_cross_entropy([("right", 0.99), ("wrong", 0.001)], vocab_size=22), Figure)
    scores = token_scores(tiny_gpt(), TASK, TASK.sample(1, 0)[0])
    assert isinstance(plot_token_losses(scores), Figure)
    with pytest.raises(ValueError, match="vocab_size"):
        plot_cross_entropy(vocab_size=1)
    matplotlib.pyplot.close("all")
