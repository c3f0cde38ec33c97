"""Relaxed sampling: the Gumbel-softmax is a distribution that sharpens to the Gumbel-max token as the
temperature falls, the straight-through value is exactly one-hot while its gradient is the soft one,
and bad inputs fail early with the parameter's name."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from handbook_utils.relaxed import (
    RELAX_MODES,
    gumbel_max,
    gumbel_noise,
    gumbel_softmax,
    mix_embeddings,
    relax,
    straight_through,
)

LOGITS = st.lists(st.floats(-8, 8, allow_nan=False, width=32), min_size=2, max_size=12)
SEEDS = st.integers(0, 2**31 - 1)


def _noise(shape, seed):
    return gumbel_noise(shape, generator=torch.Generator().manual_seed(seed))


@settings(max_examples=60, deadline=None)
@given(LOGITS, SEEDS, st.floats(0.05, 50.0))
def test_gumbel_softmax_is_a_distribution(values, seed, tau):
    logits = torch.tensor([values, values[::-1]])  # (2, V)
    y = gumbel_softmax(logits, tau, _noise(logits.shape, seed))
    assert bool((y >= 0).all())
    assert torch.allclose(y.sum(-1), torch.ones(2), atol=1e-5)


@settings(max_examples=60, deadline=None)
@given(LOGITS, SEEDS)
def test_gumbel_softmax_tends_to_the_gumbel_max_token(values, seed):
    logits = torch.tensor(values, dtype=torch.float64)  # (V,)
    g = _noise(logits.shape, seed).double()
    token = int(gumbel_max(logits, g))
    top2 = torch.topk(logits + g, 2).values
    weights = [float(gumbel_softmax(logits, tau, g)[token]) for tau in (10.0, 1.0, 0.3, 0.1, 0.01, 1e-4)]
    # the weight on the sampled token never falls as tau falls ...
    assert all(b >= a - 1e-12 for a, b in zip(weights, weights[1:])), weights
    # ... and reaches one as tau -> 0, unless the two best perturbed logits (nearly) tie
    if float(top2[0] - top2[1]) > 0.01:
        assert weights[-1] > 1 - 1e-6, (weights, top2)


def test_large_tau_tends_to_uniform():
    logits = torch.tensor([3.0, 0.0, -2.0, 1.0])
    y = gumbel_softmax(logits, 1e6, _noise(logits.shape, 0))
    assert torch.allclose(y, torch.full((4,), 0.25), atol=1e-4)


def test_gumbel_max_samples_the_softmax():
    logits = torch.tensor([1.0, 0.0, -1.0])
    n = 40_000
    ids = gumbel_max(logits.expand(n, 3), generator=torch.Generator().manual_seed(0))
    freq = torch.bincount(ids, minlength=3).double() / n
    p = torch.softmax(logits.double(), 0)
    assert torch.allclose(freq, p, atol=4 * math.sqrt(0.25 / n))  # four standard errors at most


@settings(max_examples=40, deadline=None)
@given(LOGITS, SEEDS, st.floats(0.05, 10.0))
def test_straight_through_value_is_exactly_one_hot_and_gradient_is_soft(values, seed, tau):
    logits = torch.tensor(values, requires_grad=True)
    g = _noise(logits.shape, seed)
    hard = relax(logits, "straight_through", tau, g)
    token = int(gumbel_max(logits, g))
    expected = torch.zeros(len(values))
    expected[token] = 1.0
    assert torch.equal(hard, expected)  # exactly, not approximately
    w = torch.linspace(-1, 1, len(values))
    (g_hard,) = torch.autograd.grad((hard * w).sum(), logits)
    (g_soft,) = torch.autograd.grad((gumbel_softmax(logits, tau, g) * w).sum(), logits)
    assert torch.allclose(g_hard, g_soft, atol=1e-6)  # the backward pass sees only the soft sample


def test_straight_through_default_index_is_the_argmax():
    soft = torch.tensor([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3]])
    assert torch.equal(straight_through(soft), torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]))


def test_expected_mode_is_the_tempered_softmax_and_ignores_noise():
    logits = torch.tensor([[2.0, 1.0, 0.0]])
    assert torch.allclose(relax(logits, "expected", 0.5), torch.softmax(logits / 0.5, -1))
    assert torch.equal(relax(logits, "expected", 1.0, _noise(logits.shape, 3)), relax(logits, "expected", 1.0))


def test_mix_embeddings_of_a_one_hot_row_is_that_embedding():
    table = torch.randn(5, 3, generator=torch.Generator().manual_seed(0))
    one_hot = torch.nn.functional.one_hot(torch.tensor([[4, 0]]), 5).float()  # (1, 2, 5)
    assert torch.equal(mix_embeddings(one_hot, table), table[[4, 0]][None])
    uniform = torch.full((5,), 0.2)
    assert torch.allclose(mix_embeddings(uniform, table), table.mean(0), atol=1e-6)


@pytest.mark.parametrize("tau", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_tau_is_named(tau):
    with pytest.raises(ValueError, match="tau"):
        gumbel_softmax(torch.zeros(3), tau)
    with pytest.raises(ValueError, match="tau"):
        relax(torch.zeros(3), "expected", tau)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="logits must be finite"):
        gumbel_softmax(torch.tensor([0.0, float("nan")]), 1.0)
    with pytest.raises(ValueError, match="mode must be one of"):
        relax(torch.zeros(3), "softmax")
    with pytest.raises(ValueError, match="logits must be a floating-point"):
        relax(torch.zeros(3, dtype=torch.long), "gumbel")
    with pytest.raises(ValueError, match="gumbel must have the shape"):
        gumbel_softmax(torch.zeros(3), 1.0, torch.zeros(4))
    with pytest.raises(ValueError, match="agree on V"):
        mix_embeddings(torch.zeros(2, 3), torch.zeros(4, 2))
    with pytest.raises(TypeError, match="logits"):
        gumbel_max([0.0, 1.0])
    assert RELAX_MODES == ("expected", "gumbel", "straight_through")
