"""Chapter 2, generate then compare: exact and REINFORCE gradients, the exact-match signal, update timing."""

import matplotlib

matplotlib.use("Agg")

import pytest
import torch
from fixtures_addition import SMALL_ADDITION as TASK
from fixtures_addition import one_thread, sharpen, tiny_gpt  # noqa: F401 (one_thread: autouse fixture)
from matplotlib.figure import Figure

from handbook_utils.chapters.ch02_chain_rule import as_float64
from handbook_utils.chapters.ch02_reinforce import (
    exact_match_signal,
    exact_reward_gradient,
    match_fraction_reward,
    plot_reinforce_error,
    reinforce_error_curve,
    reinforce_gradient,
    sequence_log_probs,
    time_updates,
)
from handbook_utils.generation import sequence_log_prob
from handbook_utils.tasks import AdditionChainTask, TwoStepTask

TOY = TwoStepTask()


def test_sequence_log_probs_is_differentiable_and_matches_metrics():
    model = tiny_gpt(TOY, n_embd=8)
    seqs = torch.tensor([[3, 4, 1], [4, 3, 1]])
    lp = sequence_log_probs(model, [2], seqs)
    assert lp.requires_grad
    ref = sequence_log_prob(model, torch.cat([torch.full((2, 1), 2), seqs], 1), 1)
    assert torch.allclose(lp.detach(), ref, atol=1e-5)
    with pytest.raises(TypeError, match="seqs"):
        sequence_log_probs(model, [2], [[3, 4]])


def test_match_fraction_reward():
    seqs = torch.tensor([[1, 2, 3], [1, 0, 0], [0, 0, 0]])
    assert match_fraction_reward(seqs, torch.tensor([1, 2, 3])).tolist() == pytest.approx([1.0, 1 / 3, 0.0])
    with pytest.raises(ValueError, match="seqs"):
        match_fraction_reward(seqs, torch.tensor([1, 2]))


def test_exact_reward_gradient_matches_finite_differences():
    model = as_float64(sharpen(tiny_gpt(TOY, n_embd=8, seed=1), 10.0))
    target = [3, 4, 1]
    J, grad = exact_reward_gradient(model, [2], target)
    assert 0 < J < 1 and grad.dtype == torch.float64
    param = model.lm_head.weight
    offset = sum(p.numel() for p in list(model.parameters())[: [id(p) for p in model.parameters()].index(id(param))])
    eps = 1e-6
    for k in (0, 7, 20):
        with torch.no_grad():
            param.view(-1)[k] += eps
        J_plus, _ = exact_reward_gradient(model, [2], target)
        with torch.no_grad():
            param.view(-1)[k] -= 2 * eps
        J_minus, _ = exact_reward_gradient(model, [2], target)
        with torch.no_grad():
            param.view(-1)[k] += eps
        assert float(grad[offset + k]) == pytest.approx((J_plus - J_minus) / (2 * eps), abs=1e-6)


def test_reinforce_is_unbiased_and_a_baseline_reduces_noise():
    model = as_float64(sharpen(tiny_gpt(TOY, n_embd=8, seed=1), 10.0))
    target = [3, 4, 1]
    _, exact = exact_reward_gradient(model, [2], target)
    g = torch.Generator().manual_seed(0)
    mean = torch.stack([reinforce_gradient(model, [2], target, 2000, generator=g) for _ in range(5)]).mean(0)
    assert float((mean - exact).norm() / exact.norm()) < 0.15
    curve = reinforce_error_curve(model, [2], target, [8, 512], repeats=4, seed=0)
    assert curve.rel_error[1] < curve.rel_error[0]
    assert curve.rel_error_baseline[0] < curve.rel_error[0]
    assert curve.tokens_generated == [24, 1536] and curve.length == 3
    assert isinstance(plot_reinforce_error(curve), Figure)
    matplotlib.pyplot.close("all")
    with pytest.raises(TypeError, match="generator"):
        reinforce_gradient(model, [2], target, 4, generator=0)
    with pytest.raises(ValueError, match="n_samples"):
        reinforce_gradient(model, [2], target, 1, generator=g, baseline=True)


def test_exact_match_gives_no_signal_to_an_untrained_model():
    task = AdditionChainTask(n_terms=3, max_value=9)
    model = tiny_gpt(task)
    example = task.sample(1, 0)[0]
    sig = exact_match_signal(model, task, example, n_samples=64, seed=0)
    assert sig.hits == 0 and sig.reinforce_grad_norm == 0.0 and sig.teacher_forced_grad_norm > 0
    assert sig.log10_target_prob < -10 and sig.target_tokens == len(example.target) + 1
    assert all(p.grad is None for p in model.parameters())  # gradients are cleaned up


def test_time_updates_counts_passes():
    model = tiny_gpt()
    upd = time_updates(model, TASK, batch_size=4, repeats=1, seed=0)
    examples = TASK.sample(4, 0)
    longest = max(len(e.target) + 1 for e in examples)
    span = max(len(e.prompt) + len(e.target) + 1 for e in examples) - min(len(e.prompt) for e in examples)
    assert upd.teacher_forcing_passes == 1
    # one call per generated position (KV cache; rows aligned by position), then one to score
    assert longest + 1 <= upd.generate_compare_passes <= span + 1
    assert upd.ratio > 0
    assert all(p.grad is None for p in model.parameters())
