"""The simulated readers of chapter 1: many games at once, against the exact predictions."""

from __future__ import annotations

import numpy as np
import pytest

from handbook_utils.chapters.ch01_proofs import PROOFS
from handbook_utils.chapters.ch01_simulation import (
    contrast_curve,
    expected_free_word_accuracy,
    independence_prediction,
    right_word_odds,
    simulate_player,
)

# ---- simulated readers ------------------------------------------------------------------------


def test_simulate_player_is_deterministic_for_a_seed() -> None:
    assert simulate_player(0.9, 0.3, 500, seed=2) == simulate_player(0.9, 0.3, 500, seed=2)
    assert simulate_player(0.9, 0.3, 500, seed=2) != simulate_player(0.9, 0.3, 500, seed=3)


@pytest.mark.parametrize("p", [0.85, 0.95])
def test_no_confusion_whole_proof_success_matches_p_to_the_L(p: float) -> None:
    # 20,000 games x 4 proofs: the standard error of the success rate is below 0.003.
    result = simulate_player(p, 0.0, n_games=20_000, seed=0)
    assert result.free_proof_success == pytest.approx(independence_prediction(p), abs=0.01)
    assert result.tf_word_accuracy == pytest.approx(p, abs=0.005)
    assert result.free_word_accuracy == pytest.approx(p, abs=0.005)


def test_confusion_lowers_free_words_but_not_whole_proof_success() -> None:
    result = simulate_player(0.9, 0.6, n_games=20_000, seed=1)
    assert result.free_word_accuracy == pytest.approx(
        expected_free_word_accuracy(0.9, 0.6), abs=0.005
    )
    assert result.free_word_accuracy < result.tf_word_accuracy - 0.2
    assert result.free_proof_success == pytest.approx(independence_prediction(0.9), abs=0.01)


def test_extremes_of_word_accuracy() -> None:
    perfect = simulate_player(1.0, 0.5, n_games=10, seed=0)
    assert perfect.free_proof_success == perfect.tf_word_accuracy == 1.0
    hopeless = simulate_player(0.0, 0.5, n_games=10, seed=0)
    assert hopeless.free_proof_success == hopeless.free_word_accuracy == 0.0


def test_custom_proof_lengths() -> None:
    result = simulate_player(0.5, 0.0, n_games=40_000, seed=0, proof_lengths=[2])
    assert result.proof_lengths == (2,)
    assert result.free_proof_success == pytest.approx(0.25, abs=0.01)


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        ({"word_accuracy": 1.5}, ValueError, "word_accuracy"),
        ({"word_accuracy": float("nan")}, ValueError, "word_accuracy"),
        ({"word_accuracy": "0.9"}, TypeError, "word_accuracy"),
        ({"confusion_after_error": -0.1}, ValueError, "confusion_after_error"),
        ({"n_games": 0}, ValueError, "n_games"),
        ({"n_games": 10.0}, TypeError, "n_games"),
        ({"seed": -3}, ValueError, "seed"),
        ({"proof_lengths": [0]}, ValueError, "proof_lengths"),
        ({"proof_lengths": []}, ValueError, "proof_lengths"),
    ],
)
def test_simulate_player_rejects_bad_arguments(kwargs: dict, error: type, name: str) -> None:
    args = {"word_accuracy": 0.9, "confusion_after_error": 0.0, "n_games": 10, "seed": 0}
    with pytest.raises(error, match=name):
        simulate_player(**{**args, **kwargs})


def test_contrast_curve_shapes_and_order() -> None:
    curve = contrast_curve([0.7, 0.9, 1.0], confusion_after_error=0.5, n_games=2000, seed=0)
    for arr in (curve.tf_word_accuracy, curve.free_word_accuracy, curve.free_proof_success,
                curve.predicted_proof_success):
        assert arr.shape == (3,)
    # whole proofs are much rarer than right words, and success rises with p
    assert np.all(curve.free_proof_success <= curve.tf_word_accuracy)
    assert np.all(np.diff(curve.free_proof_success) >= 0)
    assert curve.free_proof_success[-1] == 1.0
    again = contrast_curve([0.7, 0.9, 1.0], confusion_after_error=0.5, n_games=2000, seed=0)
    np.testing.assert_array_equal(curve.free_proof_success, again.free_proof_success)


def test_contrast_curve_rejects_bad_accuracies() -> None:
    with pytest.raises(ValueError, match="word_accuracies"):
        contrast_curve([0.5, 2.0])
    with pytest.raises(ValueError, match="word_accuracies"):
        contrast_curve([])


def test_independence_prediction_defaults_to_the_lengths_of_the_proofs() -> None:
    p = 0.9
    assert independence_prediction(p) == pytest.approx(np.mean([p ** len(proof) for proof in PROOFS]))
    assert independence_prediction(0.5, [1, 2]) == pytest.approx((0.5 + 0.25) / 2)


def test_right_word_odds_drop_only_after_an_error() -> None:
    assert right_word_odds(0.8, 0.5, False) == pytest.approx(0.8)
    assert right_word_odds(0.8, 0.5, True) == pytest.approx(0.4)
    np.testing.assert_allclose(right_word_odds(0.8, 0.25, np.array([False, True])), [0.8, 0.6])
