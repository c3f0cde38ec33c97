"""Chapter 2, the chain rule and the causal mask: enumerated probabilities sum to 1, one pass = T passes."""

import matplotlib

matplotlib.use("Agg")

import pytest
import torch
from fixtures_addition import SMALL_ADDITION as TASK
from fixtures_addition import one_thread, sharpen, tiny_gpt, tiny_gru  # noqa: F401 (one_thread: autouse fixture)
from matplotlib.figure import Figure

from handbook_utils.chapters.ch02_chain_rule import (
    as_float64,
    enumerate_continuations,
    future_change_check,
    one_pass_vs_separate_passes,
    one_token_at_a_time_nll,
    plot_pass_speedup,
    teacher_forced_nll,
    time_one_pass_vs_separate,
)
from handbook_utils.generation import sequence_log_prob
from handbook_utils.tasks import TwoStepTask

TOY = TwoStepTask()


# ----------------------------------------------------------------------------- the chain rule


@pytest.mark.parametrize("make", [lambda: sharpen(tiny_gpt(TOY, n_embd=8)), lambda: tiny_gru(TOY)])
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
    model = tiny_gpt(TOY, n_embd=8)
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


@pytest.mark.parametrize("make", [tiny_gpt, tiny_gru])
def test_teacher_forced_sum_equals_one_token_at_a_time(make):
    model = as_float64(make())
    examples = TASK.sample(10, 3)
    fast = teacher_forced_nll(model, TASK, examples)
    slow, passes = one_token_at_a_time_nll(model, TASK, examples)
    assert passes == sum(len(e.target) + 1 for e in examples)
    assert float((fast - slow).abs().max()) < 1e-10
    for e, value in zip(examples, fast):
        ids = torch.tensor(TASK.tokenizer.encode(e.prompt + e.target) + [TASK.tokenizer.eos_id])
        assert float(-sequence_log_prob(model, ids, len(e.prompt))) == pytest.approx(float(value), abs=1e-4)


def test_float32_chain_rule_gap_is_rounding():
    model = tiny_gpt()
    examples = TASK.sample(8, 1)
    gap = (teacher_forced_nll(model, TASK, examples) - one_token_at_a_time_nll(model, TASK, examples)[0]).abs()
    assert float(gap.max()) < 1e-4


def test_as_float64_copies():
    model = tiny_gpt()
    model64 = as_float64(model)
    assert next(model64.parameters()).dtype == torch.float64
    assert next(model.parameters()).dtype == torch.float32


# ----------------------------------------------------------------------------- causal masking


@pytest.mark.parametrize("make", [tiny_gpt, tiny_gru])
def test_one_pass_equals_separate_passes(make):
    model = as_float64(make())
    ids = TASK.batch(TASK.sample(4, 0)).inputs
    check = one_pass_vs_separate_passes(model, ids)
    assert check.max_abs_diff < 1e-10 and check.length == ids.shape[1] and check.passes_separate == ids.shape[1]
    before, after = future_change_check(model, ids, position=3)
    assert before == 0.0 and after > 0


def test_causal_checks_reject_bad_inputs():
    model = tiny_gpt()
    with pytest.raises(TypeError, match="ids"):
        one_pass_vs_separate_passes(model, [[1, 2]])
    with pytest.raises(ValueError, match="position"):
        future_change_check(model, torch.ones(1, 4, dtype=torch.long), position=4)


def test_timing_runs_and_plots():
    model = tiny_gpt()
    timing = time_one_pass_vs_separate(model, [2, 4], batch_size=2, repeats=1)
    assert timing.lengths == [2, 4] and all(t > 0 for t in timing.one_pass_s + timing.separate_s)
    assert len(timing.speedups) == 2
    assert isinstance(plot_pass_speedup(timing), Figure)
    with pytest.raises(ValueError, match="lengths"):
        time_one_pass_vs_separate(model, [model.block_size + 1])
    with pytest.raises(ValueError, match="lengths"):
        time_one_pass_vs_separate(model, [])
    matplotlib.pyplot.close("all")
