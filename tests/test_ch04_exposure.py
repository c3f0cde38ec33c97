"""Chapter 4, exposure bias measured: per-position curves, exact KL on a Markov chain, accumulated error."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from fixtures_addition import ChainOracle, MarkovOracle, tiny_gpt
from matplotlib.figure import Figure

from handbook_utils.chapters import ch04_exposure as xb
from handbook_utils.metrics import Evaluation, evaluate
from handbook_utils.tasks import AdditionChainTask, MarkovTask

ADD = AdditionChainTask(n_terms=4, max_value=9)
MK = MarkovTask(n_states=4, order=2, length=12)


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
    matplotlib.pyplot.close("all")


def test_position_curves_of_a_perfect_model():
    examples = ADD.sample(6, 0)
    ev = evaluate(ChainOracle(ADD, examples), ADD, 6, 0)
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
    matplotlib.pyplot.close("all")
    with pytest.raises(TypeError):
        xb.accumulated_error([0.1, 0.2])


def test_kl_curves_of_the_true_chain_are_zero_and_of_a_random_model_positive():
    oracle = xb.markov_kl_curves(MarkovOracle(MK), MK, 64, seed=0)
    assert oracle.teacher_forced.shape == (MK.length,) and np.abs(oracle.free_running).max() < 1e-5
    curves = xb.markov_kl_curves(tiny_gpt(MK), MK, 64, seed=0)
    assert (curves.teacher_forced > 0.01).all() and (curves.free_running > 0.01).all()
