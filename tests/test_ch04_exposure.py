"""Chapter 4 logic: per-position curves, accumulated error, planted errors on both tasks."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
import torch.nn as nn
from matplotlib.figure import Figure

from handbook_utils.chapters import ch04_exposure as xb
from handbook_utils.metrics import Evaluation, InjectedExample, evaluate
from handbook_utils.models import GPTConfig, make_model
from handbook_utils.tasks import AdditionChainTask, MarkovTask

ADD = AdditionChainTask(n_terms=4, max_value=9)
MK = MarkovTask(n_states=4, order=2, length=12)


class Oracle(nn.Module):
    """A 'model' with the right answer built in. For the addition chain it writes the gold chain of
    the prompt whatever it was fed (so it always repairs a planted error); for a Markov task it
    outputs the true log-probabilities (so its KL is 0 on any prefix)."""

    def __init__(self, task, examples=()):
        super().__init__()
        self.task = task
        self.dummy = nn.Parameter(torch.zeros(1))
        self.vocab_size = task.tokenizer.vocab_size
        self.block_size = None
        tok = task.tokenizer
        self.full = {tuple(tok.encode(e.prompt)): tok.encode(e.prompt + e.target) + [tok.eos_id] for e in examples}

    def forward(self, idx):
        if isinstance(self.task, MarkovTask):
            return self.task.true_next_token_table(idx).clamp_min(1e-30).log().float()
        B, T = idx.shape
        out = torch.zeros(B, T, self.vocab_size)
        for b in range(B):
            row = idx[b].tolist()
            seq = next(s for p, s in self.full.items() if row[: len(p)] == list(p))
            for t in range(T):
                if t + 1 < len(seq):
                    out[b, t, seq[t + 1]] = 10.0
        return out

    def step(self, idx, state=None):
        state = idx if state is None else torch.cat([state, idx], 1)
        return self.forward(state)[:, -idx.shape[1]:], state


def _evaluation(first_errors, L=5):
    return Evaluation(n=len(first_errors), seed=0, tf_loss=0.1, tf_token_accuracy=0.9, exact_match=0.5,
                      per_position_tf_accuracy=[1.0] * L, per_position_free_accuracy=[1.0] * L,
                      first_error_positions=first_errors, mean_target_length=L, independence_estimate=0.5,
                      independence_estimate_per_example=0.5, mean_sequence_prob=0.5,
                      free_running_outputs=[""] * len(first_errors))


# ------------------------------------------------------------------------------ per position


def test_still_on_track_counts_answers_without_an_error_so_far():
    ev = _evaluation([None, 2, 0, None])
    on_track = xb.still_on_track(ev, [5, 5, 5, 3])
    # position 0: all 4 exist, none has failed *before* 0; position 1: #3 failed at 0
    assert on_track[0] == 1.0 and on_track[1] == 0.75
    # position 3: only the three long answers exist; #2 failed at 2, #3 at 0
    assert on_track[3] == pytest.approx(1 / 3)
    with pytest.raises(ValueError):
        xb.still_on_track(ev, [5])
    assert isinstance(xb.plot_position_accuracy(ev, [5, 5, 5, 3]), Figure)


def test_position_curves_of_a_perfect_model():
    examples = ADD.sample(6, 0)
    ev = evaluate(Oracle(ADD, examples), ADD, 6, 0)
    lengths = [len(e.target) + 1 for e in examples]
    assert (xb.still_on_track(ev, lengths)[: min(lengths)] == 1).all()


# ------------------------------------------------------------------- accumulated error


def test_accumulated_error_arithmetic():
    curves = xb.KLCurves(teacher_forced=np.full(4, 0.1), free_running=np.array([0.1, 0.2, 0.3, 0.4]), n=1)
    acc = xb.accumulated_error(curves)
    assert list(acc.l) == [1, 2, 3, 4]
    assert np.allclose(acc.l_eps, [0.1, 0.2, 0.3, 0.4]) and np.allclose(acc.acc_err, [0.1, 0.3, 0.6, 1.0])
    assert np.allclose(acc.l2_eps, [0.1, 0.4, 0.9, 1.6])
    assert np.allclose(acc.excess_pct, [0, 50, 100, 150]) and acc.final_excess_pct == pytest.approx(150)
    assert isinstance(xb.plot_accumulated_error(acc), Figure)
    assert isinstance(xb.plot_kl_curves(curves), Figure)
    with pytest.raises(TypeError):
        xb.accumulated_error([0.1, 0.2])


def test_kl_curves_of_the_true_chain_are_zero_and_of_a_random_model_positive():
    oracle = xb.markov_kl_curves(Oracle(MK), MK, 64, seed=0)
    assert oracle.teacher_forced.shape == (MK.length,) and np.abs(oracle.free_running).max() < 1e-5
    random = make_model(GPTConfig.for_task(MK, n_layer=1, n_head=2, n_embd=16), seed=0)
    curves = xb.markov_kl_curves(random, MK, 64, seed=0)
    assert (curves.teacher_forced > 0.01).all() and (curves.free_running > 0.01).all()


# ------------------------------------------------------------------- planted errors: Markov


def test_markov_injection_plants_the_least_likely_letter_and_the_truth_never_suffers():
    result = xb.markov_injection(Oracle(MK), MK, position=3, n=64, seed=0, window=4)
    assert result.injected_kl.shape == (4,) and result.clean_kl.shape == (4,)
    assert np.abs(result.injected_kl).max() < 1e-5 and np.abs(result.excess).max() < 1e-5
    # the least likely of n_states letters has probability at most 1/n_states
    assert 0 <= result.planted_prob < 1 / MK.n_states
    smallest = float(MK.transition.min(dim=1).values.min())
    assert result.planted_prob >= smallest


def test_markov_injection_on_a_model_and_its_checks():
    model = make_model(GPTConfig.for_task(MK, n_layer=1, n_head=2, n_embd=16), seed=0)
    runs = xb.markov_recovery(model, MK, [2, 5], n=32, seed=1, window=3)
    assert [r.position for r in runs] == [2, 5] and all(np.isfinite(r.excess).all() for r in runs)
    assert isinstance(xb.plot_markov_recovery({"random": runs}), Figure)
    with pytest.raises(ValueError):
        xb.markov_injection(model, MK, position=10, n=4, seed=0, window=5)  # runs past the string
    with pytest.raises(ValueError):
        xb.markov_injection(model, MK, position=0, n=4, seed=0)
    with pytest.raises(TypeError):
        xb.markov_injection(model, ADD, position=1, n=4, seed=0)


# ----------------------------------------------------------------- planted errors: addition


def test_addition_recovery_of_an_oracle_is_total():
    examples = ADD.sample(8, 2)
    oracle = Oracle(ADD, examples)
    curve = xb.addition_recovery(oracle, ADD, [7, 12, 20], examples, seed=0)
    assert curve.positions == [7, 12, 20] and len(curve.injections) == 3
    assert (curve.recovery == 1).all() and (curve.followed == 0).all()
    assert curve.overall() == (1.0, 0.0)
    assert xb.final_answer_accuracy(oracle, ADD, examples) == 1.0
    kinds = xb.recovery_by_kind(curve)
    assert set(kinds) <= {"copy", "sum", "carry"} and "copy" in kinds
    assert sum(n for n, _, _ in kinds.values()) == sum(curve.n)
    # the oracle repairs every line after a plant in the first line
    repair = xb.first_line_repair(curve)
    assert repair.n == 16 and repair.line_right == [1.0] * 3  # positions 7 and 12 are in the first line and repair.answer_right == 1.0
    assert isinstance(xb.plot_addition_recovery({"oracle": curve}), Figure)
    with pytest.raises(ValueError):
        xb.addition_recovery(oracle, ADD, [], examples, seed=0)
    with pytest.raises(TypeError):
        xb.addition_recovery(oracle, MK, [7], 4, seed=0)


def _planted(prompt, target, output, index, final_correct, followed):
    return InjectedExample(prompt=prompt, injected_prefix=output[: index + 1], output=output, injected_index=index,
                           true_answer=int(target.split("</think>")[1]), trusting_answer=-1,
                           final_correct=final_correct, followed_error=followed)


def test_first_line_repair_pick_and_html_on_hand_made_plants():
    ex = ADD.example([1, 2, 3, 4])  # <think>1+2+3+4=3+3+4=6+4=10</think>10
    i = ex.target.index("3+4=")  # the third term of the first line
    trusting = _planted(ex.prompt, ex.target, "<think>1+2+5+4=3+5+4=8+4=12</think>12", i, False, True)
    mixed = _planted(ex.prompt, ex.target, "<think>1+2+5+4=3+3+4=8+4=12</think>12", i, False, False)
    repaired = _planted(ex.prompt, ex.target, "<think>1+2+5+4=3+3+4=6+4=10</think>10", i, True, False)
    curve = xb.RecoveryCurve([i], [type("I", (), {"examples": [trusting, mixed, repaired], "position": i})()])
    repair = xb.first_line_repair(curve)
    assert repair.n == 3 and repair.line_right == pytest.approx([2 / 3, 1 / 3, 1 / 3])
    assert repair.answer_right == pytest.approx(1 / 3)
    assert xb.pick_planted(curve) == [mixed, repaired, trusting]  # neither, right, followed
    later = _planted(ex.prompt, ex.target, "<think>1+2+3+4=3+3+4=6+4=11</think>11", len(ex.target) - 11,
                     False, True)
    assert xb.first_line_repair(xb.RecoveryCurve([0], [type("I", (), {"examples": [later], "position": 0})()])).n == 0
    page = xb.planted_html(mixed, ex.target)
    assert "not what the planted line implies" in page and "&lt;think&gt;" in page and "background" in page
    assert "repaired" in xb.planted_html(repaired, ex.target)
    assert "planted line implies" in xb.planted_html(trusting, ex.target)
