"""Chapter 2's module: cross-entropy readings, the chain rule, greedy vs best, causal passes, REINFORCE."""

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
import torch.nn as nn
from matplotlib.figure import Figure

from handbook_utils import cache as cache_lib
from handbook_utils.chapters.ch02_likelihood import (
    TwoStepTask,
    as_float64,
    beam_search,
    enumerate_continuations,
    exact_match_signal,
    exact_reward_gradient,
    future_change_check,
    geometric_mean_probability,
    greedy_decode,
    greedy_tree_explorer,
    match_fraction_reward,
    one_pass_vs_separate_passes,
    one_token_at_a_time_nll,
    plot_cross_entropy,
    plot_greedy_tree,
    plot_pass_speedup,
    plot_reinforce_error,
    plot_token_losses,
    read_loss,
    reinforce_error_curve,
    reinforce_gradient,
    sequence_log_probs,
    teacher_forced_nll,
    time_one_pass_vs_separate,
    time_updates,
    token_loss,
    token_scores,
)
from handbook_utils.metrics import sequence_log_prob
from handbook_utils.models import GPTConfig, GRUConfig, make_model
from handbook_utils.strategies import masked_cross_entropy
from handbook_utils.tasks import AdditionChainTask

TASK = AdditionChainTask(n_terms=(2, 3), max_value=5)
TOY = TwoStepTask()


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """These models are tiny: one thread is as fast and immune to other work on the CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def gpt(task=TASK, seed=0, **kw):
    settings = dict(n_layer=1, n_head=2, n_embd=16)
    settings.update(kw)
    return make_model(GPTConfig.for_task(task, **settings), seed=seed).eval()


def gru(task=TASK, seed=0):
    return make_model(GRUConfig.for_task(task, n_embd=8, n_hidden=16), seed=seed).eval()


def sharpen(model, factor=30.0):
    """Scale the output layer so a random model's distributions are far from uniform."""
    with torch.no_grad():
        head = model.lm_head.weight
        head.mul_(factor)
    return model


class TableLM(nn.Module):
    """A 'model' whose next-token distributions are exactly those of a TwoStepTask."""

    def __init__(self, task: TwoStepTask):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))
        self.task = task
        self.vocab_size = task.tokenizer.vocab_size
        self.block_size = None
        tok = task.tokenizer
        self.letter_ids = [tok.stoi[ch] for ch in task.letters]

    def _row(self, prefix):
        V = self.vocab_size
        probs = torch.full((V,), 1.0 / V, dtype=torch.float64)
        tok = self.task.tokenizer
        if prefix and prefix[0] == tok.stoi["^"]:
            letters = [self.letter_ids.index(i) if i in self.letter_ids else None for i in prefix[1:]]
            if None not in letters:
                probs = torch.zeros(V, dtype=torch.float64)
                if len(letters) == 0:
                    dist = self.task.first
                elif len(letters) == 1:
                    dist = self.task.second[letters[0]]
                else:
                    dist = None
                if dist is None:
                    probs[tok.eos_id] = 1.0
                else:
                    for i, p in zip(self.letter_ids, dist):
                        probs[i] = p
        return probs.log()

    def forward(self, idx):
        B, T = idx.shape
        out = torch.stack([torch.stack([self._row(idx[b, : t + 1].tolist()) for t in range(T)]) for b in range(B)])
        return out.float() + 0 * self.dummy

    def step(self, idx, state=None):
        full = idx if state is None else torch.cat([state, idx], 1)
        return self.forward(full)[:, -idx.shape[1] :], full


# ----------------------------------------------------------------------------- cross-entropy


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
    model = gpt()
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
    model = gpt()
    with pytest.raises(TypeError, match="examples"):
        read_loss(model, TASK, [])
    with pytest.raises(TypeError, match="task"):
        read_loss(model, "task", TASK.sample(2, 0))
    with pytest.raises(TypeError, match="model"):
        token_scores("model", TASK, TASK.sample(1, 0)[0])


# ----------------------------------------------------------------------------- the chain rule


@pytest.mark.parametrize("make", [lambda: sharpen(gpt(TOY, n_embd=8)), lambda: gru(TOY)])
def test_enumerated_probabilities_sum_to_one(make):
    model = make()
    seqs, lp = enumerate_continuations(model, TOY.tokenizer.encode("^"), 3)
    V = TOY.tokenizer.vocab_size
    assert seqs.shape == (V**3, 3) and lp.dtype == torch.float64
    assert float(lp.exp().sum()) == pytest.approx(1.0, abs=1e-9)
    # each row is scored independently: the same numbers come from sequence_log_prob
    prompt = torch.tensor(TOY.tokenizer.encode("^")).expand(len(seqs), 1)
    ref = sequence_log_prob(model, torch.cat([prompt, seqs], 1), 1).double()
    assert torch.allclose(lp, ref, atol=1e-4)
    # a model that peeks at the next token is no longer a distribution over sequences
    _, peek = enumerate_continuations(model, TOY.tokenizer.encode("^"), 3, peek=2.0)
    assert float(peek.exp().sum()) > 1.5


def test_enumerate_continuations_rejects_bad_inputs():
    model = gpt(TOY, n_embd=8)
    with pytest.raises(ValueError, match="keep it under"):
        enumerate_continuations(model, [2], 12)
    with pytest.raises(ValueError, match="prompt_ids"):
        enumerate_continuations(model, [99], 2)
    with pytest.raises(TypeError, match="prompt_ids"):
        enumerate_continuations(model, [], 2)
    with pytest.raises(ValueError, match="peek"):
        enumerate_continuations(model, [2], 2, peek=-1.0)
    with pytest.raises(ValueError, match="length"):
        enumerate_continuations(model, [2], 0)


@pytest.mark.parametrize("make", [gpt, gru])
def test_teacher_forced_sum_equals_one_token_at_a_time(make):
    model = as_float64(make())
    examples = TASK.sample(10, 3)
    fast = teacher_forced_nll(model, TASK, examples)
    slow, passes = one_token_at_a_time_nll(model, TASK, examples)
    assert passes == sum(len(e.target) + 1 for e in examples)
    assert float((fast - slow).abs().max()) < 1e-10
    for e, value in zip(examples, fast):
        ids = torch.tensor(TASK.tokenizer.encode(e.prompt + e.target) + [TASK.tokenizer.eos_id])
        # metrics.sequence_log_prob computes its softmax in float32, hence the looser tolerance
        assert float(-sequence_log_prob(model, ids, len(e.prompt))) == pytest.approx(float(value), abs=1e-4)


def test_float32_chain_rule_gap_is_rounding():
    model = gpt()
    examples = TASK.sample(8, 1)
    gap = (teacher_forced_nll(model, TASK, examples) - one_token_at_a_time_nll(model, TASK, examples)[0]).abs()
    assert float(gap.max()) < 1e-4


def test_as_float64_copies():
    model = gpt()
    model64 = as_float64(model)
    assert next(model64.parameters()).dtype == torch.float64
    assert next(model.parameters()).dtype == torch.float32


# ----------------------------------------------------------------------------- greedy vs best


def test_two_step_task_exact_answers():
    joint = TOY.joint()
    assert sum(joint.values()) == pytest.approx(1.0)
    assert TOY.greedy() == ("aa", pytest.approx(0.22))
    assert TOY.best() == ("ba", pytest.approx(0.405))
    tops = TwoStepTask.from_tops(0.55, 0.4, 0.9)
    assert tops.joint() == pytest.approx(joint)
    same = TwoStepTask.from_tops(0.9, 0.9, 0.9)
    assert same.greedy()[0] == same.best()[0] == "aa"


def test_two_step_task_samples_and_caches():
    examples = TOY.sample(20000, 0)
    freq = sum(e.target == "ba" for e in examples) / len(examples)
    assert freq == pytest.approx(0.405, abs=0.02)
    assert all(e.prompt == "^" and len(e.target) == 2 for e in examples[:50])
    batch = TOY.batch(examples[:4])
    assert batch.inputs.shape == (4, TOY.max_len)
    assert cache_lib.describe(TOY)["class"].endswith("TwoStepTask")  # the training cache can key it


@pytest.mark.parametrize("kwargs, match", [
    (dict(first=(0.5, 0.6, 0.0)), "sum to 1"),
    (dict(first=(0.5, 0.5)), "3 probabilities"),
    (dict(first=(1.5, -0.5, 0.0)), "probabilities >= 0"),
    (dict(second=((1, 0, 0),)), "3 rows"),
    (dict(letters="a"), "letters"),
    (dict(letters="a^c"), "start symbol"),
])
def test_two_step_task_rejects_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TwoStepTask(**kwargs)


def test_two_step_from_tops_rejects_bad_probabilities():
    with pytest.raises(ValueError, match="p_first"):
        TwoStepTask.from_tops(1.2, 0.5, 0.5)


def test_greedy_misses_the_best_answer_of_an_exact_model():
    model = TableLM(TOY)
    tok = TOY.tokenizer
    start = tok.encode("^")
    seqs, lp = enumerate_continuations(model, start, 3)
    assert float(lp.exp().sum()) == pytest.approx(1.0, abs=1e-6)
    best = tok.decode(seqs[lp.argmax()])
    ids, glp = greedy_decode(model, start, 3)
    assert tok.decode(ids) == "aa" and math.exp(glp) == pytest.approx(0.22, abs=1e-6)
    assert best == "ba" and math.exp(float(lp.max())) == pytest.approx(0.405, abs=1e-6)
    assert tok.decode(beam_search(model, start, 3, width=1)[0]) == "aa"
    b2, b2_lp = beam_search(model, start, 3, width=2)
    assert tok.decode(b2) == "ba" and math.exp(b2_lp) == pytest.approx(0.405, abs=1e-6)


def test_wide_beam_search_is_exact():
    model = sharpen(gpt(TOY, n_embd=8, seed=3))
    start = TOY.tokenizer.encode("^")
    seqs, lp = enumerate_continuations(model, start, 3)
    V = TOY.tokenizer.vocab_size
    ids, best_lp = beam_search(model, start, 3, width=V**2)
    assert ids == seqs[lp.argmax()].tolist()
    assert best_lp == pytest.approx(float(lp.max()), abs=1e-5)
    with pytest.raises(ValueError, match="width"):
        beam_search(model, start, 3, width=0)


def test_tree_plot_and_explorer():
    fig = plot_greedy_tree(TOY)
    assert isinstance(fig, Figure)
    title = fig.axes[0].get_title()
    assert "'aa'" in title and "'ba'" in title
    fig2 = plot_greedy_tree(TwoStepTask.from_tops(0.9, 0.9, 0.9))
    assert "finds the most probable" in fig2.axes[0].get_title()
    widget = greedy_tree_explorer()
    assert len(widget.children) == 4  # three sliders and the output
    with pytest.raises(TypeError, match="TwoStepTask"):
        plot_greedy_tree(TASK)
    matplotlib.pyplot.close("all")


# ----------------------------------------------------------------------------- causal masking


@pytest.mark.parametrize("make", [gpt, gru])
def test_one_pass_equals_separate_passes(make):
    model = as_float64(make())
    ids = TASK.batch(TASK.sample(4, 0)).inputs
    check = one_pass_vs_separate_passes(model, ids)
    assert check.max_abs_diff < 1e-10 and check.length == ids.shape[1] and check.passes_separate == ids.shape[1]
    before, after = future_change_check(model, ids, position=3)
    assert before == 0.0 and after > 0


def test_causal_checks_reject_bad_inputs():
    model = gpt()
    with pytest.raises(TypeError, match="ids"):
        one_pass_vs_separate_passes(model, [[1, 2]])
    with pytest.raises(ValueError, match="position"):
        future_change_check(model, torch.ones(1, 4, dtype=torch.long), position=4)


def test_timing_runs_and_plots():
    model = gpt()
    timing = time_one_pass_vs_separate(model, [2, 4], batch_size=2, repeats=1)
    assert timing.lengths == [2, 4] and all(t > 0 for t in timing.one_pass_s + timing.separate_s)
    assert len(timing.speedups) == 2
    assert isinstance(plot_pass_speedup(timing), Figure)
    with pytest.raises(ValueError, match="lengths"):
        time_one_pass_vs_separate(model, [model.block_size + 1])
    with pytest.raises(ValueError, match="lengths"):
        time_one_pass_vs_separate(model, [])
    matplotlib.pyplot.close("all")


# ----------------------------------------------------------------------------- generate, then compare


def test_sequence_log_probs_is_differentiable_and_matches_metrics():
    model = gpt(TOY, n_embd=8)
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
    model = as_float64(sharpen(gpt(TOY, n_embd=8, seed=1), 10.0))
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
    model = as_float64(sharpen(gpt(TOY, n_embd=8, seed=1), 10.0))
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
    model = gpt(task)
    example = task.sample(1, 0)[0]
    sig = exact_match_signal(model, task, example, n_samples=64, seed=0)
    assert sig.hits == 0 and sig.reinforce_grad_norm == 0.0 and sig.teacher_forced_grad_norm > 0
    assert sig.log10_target_prob < -10 and sig.target_tokens == len(example.target) + 1
    assert all(p.grad is None for p in model.parameters())  # gradients are cleaned up


def test_time_updates_counts_passes():
    model = gpt()
    upd = time_updates(model, TASK, batch_size=4, repeats=1, seed=0)
    examples = TASK.sample(4, 0)
    longest = max(len(e.target) + 1 for e in examples)
    span = max(len(e.prompt) + len(e.target) + 1 for e in examples) - min(len(e.prompt) for e in examples)
    assert upd.teacher_forcing_passes == 1
    # one call per generated position (KV cache; rows aligned by position), then one to score
    assert longest + 1 <= upd.generate_compare_passes <= span + 1
    assert upd.ratio > 0
    assert all(p.grad is None for p in model.parameters())


def test_plots_return_figures():
    assert isinstance(plot_cross_entropy([("right", 0.99), ("wrong", 0.001)], vocab_size=22), Figure)
    scores = token_scores(gpt(), TASK, TASK.sample(1, 0)[0])
    assert isinstance(plot_token_losses(scores), Figure)
    with pytest.raises(ValueError, match="vocab_size"):
        plot_cross_entropy(vocab_size=1)
    matplotlib.pyplot.close("all")
