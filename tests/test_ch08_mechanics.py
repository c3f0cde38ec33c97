"""Chapter 8's small categorical: the exact gradient is right, REINFORCE is unbiased, the relaxations are
biased by an amount that shrinks as the temperature falls while their spread grows."""

import math

import pytest
import torch

from handbook_utils.chapters import ch08_mechanics as mech
from handbook_utils.relaxed import straight_through

TOY = mech.CategoricalToy()


def test_exact_gradient_matches_the_formula():
    p, f = TOY.probs(), TOY.scores()
    assert torch.allclose(TOY.exact_gradient(), p * (f - p @ f))  # ∂/∂θ_k Σ p f = p_k (f_k - J)
    assert TOY.objective() == pytest.approx(float(p @ f))


@pytest.mark.parametrize("method", ["reinforce", "reinforce_baseline"])
def test_reinforce_is_unbiased(method):
    est = mech.estimates(TOY, method, 4, 20_000, seed=1)
    se = est.std(0) / math.sqrt(len(est))
    assert bool(((est.mean(0) - TOY.exact_gradient()).abs() < 4 * se).all())


def test_relaxed_bias_shrinks_and_spread_grows_as_tau_falls():
    stats = mech.bias_variance(TOY, [0.1, 1.0, 5.0], draws=40_000)
    for method in mech.RELAXED:
        small, one, large = stats[method]
        assert one.bias > 10 * one.bias_se  # resolved: not sampling error
        assert small.bias < one.bias < large.bias
        assert small.std > one.std > large.std
    assert stats["reinforce"][0].bias < 4 * stats["reinforce"][0].bias_se


def test_straight_through_forward_is_the_hard_score():
    """Its estimate at n draws equals the gradient of a surrogate whose value is f(hard sample)."""
    g = torch.zeros(3, TOY.k, dtype=torch.float64)
    theta = TOY.theta().expand(3, TOY.k).clone().requires_grad_()
    y = torch.softmax(theta + g, -1)
    hard = straight_through(y, theta.detach().argmax(-1))
    assert torch.equal(TOY.score(hard), TOY.scores()[theta.detach().argmax(-1)])


def test_error_by_samples_levels_off_for_relaxed_only():
    curves = mech.error_by_samples(TOY, [2, 64], [("reinforce", None), ("gumbel_softmax", 1.0)], repeats=500)
    rf, gs = curves[("reinforce", None)], curves[("gumbel_softmax", 1.0)]
    assert rf[1].rmse < rf[0].rmse / 3  # 1/sqrt(32) of the way
    assert gs[1].rmse > 0.8 * gs[1].bias and gs[1].rmse > rf[1].rmse


def test_relaxed_samples_sharpen_and_flatten():
    s = mech.relaxed_samples(TOY, [0.01, 100.0], average_of=2000)
    sharp, _ = s[0.01]
    flat, _ = s[100.0]
    assert float(sharp.max()) > 0.99
    assert torch.allclose(flat, torch.full((TOY.k,), 1 / TOY.k, dtype=flat.dtype), atol=0.01)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="method"):
        mech.estimates(TOY, "score", 2, 2)
    with pytest.raises(ValueError, match="tau"):
        mech.estimates(TOY, "gumbel_softmax", 2, 2, tau=0.0)
    with pytest.raises(ValueError, match="n must be in"):
        mech.estimates(TOY, "reinforce_baseline", 1, 2)
    with pytest.raises(ValueError, match="same length"):
        mech.CategoricalToy(logits=(1.0, 2.0), values=(1.0,))
    with pytest.raises(ValueError, match="logits"):
        mech.CategoricalToy(logits=(1.0, float("nan")), values=(0.0, 1.0))
    with pytest.raises(ValueError, match="taus"):
        mech.bias_variance(TOY, [])
