"""Chapter 4, planted errors: recovery on the addition chain and on a Markov chain."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from fixtures_addition import ChainOracle, MarkovOracle, tiny_gpt
from matplotlib.figure import Figure

from handbook_utils.chapters import ch04_planted as pl
from handbook_utils.metrics import InjectedExample
from handbook_utils.tasks import AdditionChainTask, MarkovTask

ADD = AdditionChainTask(n_terms=4, max_value=9)
MK = MarkovTask(n_states=4, order=2, length=12)


# ------------------------------------------------------------------- planted errors: Markov


def test_markov_injection_plants_the_least_likely_letter_and_the_truth_never_suffers():
    result = pl.markov_injection(MarkovOracle(MK), MK, position=3, n=64, seed=0, window=4)
    assert result.injected_kl.shape == (4,) and result.clean_kl.shape == (4,)
    assert np.abs(result.injected_kl).max() < 1e-5 and np.abs(result.excess).max() < 1e-5
    # the least likely of n_states letters has probability at most 1/n_states
    assert 0 <= result.planted_prob < 1 / MK.n_states
    smallest = float(MK.transition.min(dim=1).values.min())
    assert result.planted_prob >= smallest


def test_markov_injection_on_a_model_and_its_checks():
    model = tiny_gpt(MK).train()
    runs = pl.markov_recovery(model, MK, [2, 5], n=32, seed=1, window=3)
    assert [r.position for r in runs] == [2, 5] and all(np.isfinite(r.excess).all() for r in runs)
    assert model.training  # the mode the model had is given back
    assert isinstance(pl.plot_markov_recovery({"random": runs}), Figure)
    matplotlib.pyplot.close("all")
    with pytest.raises(ValueError):
        pl.markov_injection(model, MK, position=10, n=4, seed=0, window=5)  # runs past the string
    with pytest.raises(ValueError):
        pl.markov_injection(model, MK, position=0, n=4, seed=0)
    with pytest.raises(TypeError):
        pl.markov_injection(model, ADD, position=1, n=4, seed=0)


# ----------------------------------------------------------------- planted errors: addition


def test_addition_recovery_of_an_oracle_is_total():
    examples = ADD.sample(8, 2)
    oracle = ChainOracle(ADD, examples)
    curve = pl.addition_recovery(oracle, ADD, [7, 12, 20], examples, seed=0)
    assert curve.positions == [7, 12, 20] and len(curve.injections) == 3
    assert (curve.recovery == 1).all() and (curve.followed == 0).all()
    assert curve.overall() == (1.0, 0.0)
    assert pl.final_answer_accuracy(oracle, ADD, examples) == 1.0
    kinds = pl.recovery_by_kind(curve)
    assert set(kinds) <= {"copy", "sum", "carry"} and "copy" in kinds
    assert sum(n for n, _, _ in kinds.values()) == sum(curve.n)
    # the oracle repairs every line after a plant in the first line (positions 7 and 12 are in it)
    repair = pl.first_line_repair(curve)
    assert repair.n == 16 and repair.line_right == [1.0] * 3 and repair.answer_right == 1.0
    correct = pl.final_answer_correct(oracle, ADD, examples)
    assert pl.conditional_recovery(curve, examples, correct) == 1.0
    assert (pl.conditional_recovery_by_position(curve, examples, correct) == 1.0).all()
    assert isinstance(pl.plot_addition_recovery({"oracle": curve}, {"oracle": (examples, correct)}), Figure)
    assert isinstance(pl.plot_addition_recovery({"oracle": curve}), Figure)
    matplotlib.pyplot.close("all")
    with pytest.raises(ValueError):
        pl.conditional_recovery(curve, examples, correct[:-1])
    with pytest.raises(ValueError):
        pl.addition_recovery(oracle, ADD, [], examples, seed=0)
    with pytest.raises(TypeError):
        pl.addition_recovery(oracle, MK, [7], 4, seed=0)


def test_addition_recovery_samples_held_out_problems():
    train = AdditionChainTask(n_terms=4, max_value=9, split="train")
    examples = train.held_out_task().sample(4, 0)  # what a count of 4 draws
    curve = pl.addition_recovery(ChainOracle(train, examples), train, [7], 4, seed=0)
    planted = curve.injections[0].examples
    assert [e.prompt for e in planted] == [e.prompt for e in examples]
    assert all(train.held_out(e) for e in planted) and curve.overall() == (1.0, 0.0)


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
    curve = pl.RecoveryCurve([i], [type("I", (), {"examples": [trusting, mixed, repaired], "position": i})()])
    repair = pl.first_line_repair(curve)
    assert repair.n == 3 and repair.line_right == pytest.approx([2 / 3, 1 / 3, 1 / 3])
    assert repair.answer_right == pytest.approx(1 / 3)
    assert pl.pick_planted(curve) == [mixed, repaired, trusting]  # neither, right, followed
    later = _planted(ex.prompt, ex.target, "<think>1+2+3+4=3+3+4=6+4=11</think>11", len(ex.target) - 11,
                     False, True)
    assert pl.first_line_repair(pl.RecoveryCurve([0], [type("I", (), {"examples": [later], "position": 0})()])).n == 0
    page = pl.planted_html(mixed, ex.target)
    assert "not what the planted line implies" in page and "&lt;think&gt;" in page and "background" in page
    assert "planted" in page and "correct" in page  # the two labelled lines
    assert "repaired" in pl.planted_html(repaired, ex.target)
    assert "planted line implies" in pl.planted_html(trusting, ex.target)
    assert pl.recovery_by_kind(curve) == {"copy": (3, pytest.approx(1 / 3), pytest.approx(1 / 3))}
