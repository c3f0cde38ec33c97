"""Behaviour of the proof-writing game and its simulated reader (chapter 1)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from handbook_utils.chapters.ch01_proofs import (
    PROOFS,
    Phase,
    Proof,
    ProofGame,
    contrast_curve,
    expected_free_word_accuracy,
    independence_prediction,
    play_simulated_game,
    simulate_player,
    step,
)

# ---- the proofs ------------------------------------------------------------------------------


@pytest.mark.parametrize("proof", PROOFS, ids=lambda p: p.title)
def test_every_step_offers_true_word_exactly_once(proof: Proof) -> None:
    for s in proof.steps:
        assert s.options.count(s.word) == 1
        assert 3 <= len(s.options) <= 4
        assert len(set(s.options)) == len(s.options)


@pytest.mark.parametrize("proof", PROOFS, ids=lambda p: p.title)
def test_proofs_are_short_and_mostly_mechanical(proof: Proof) -> None:
    assert 12 <= len(proof) <= 25
    assert 1 <= len(proof.leaps) <= len(proof) // 3


def test_shuffled_options_keep_true_word_exactly_once() -> None:
    for seed in range(5):
        game = ProofGame(seed=seed, teacher_forcing_proofs=range(4), free_running_proofs=[0])
        while game.phase is Phase.TEACHER_FORCING:
            true = game.proof.words[game.step]
            assert game.options().count(true) == 1
            game.choose(true)


def test_step_rejects_bad_distractors() -> None:
    with pytest.raises(ValueError, match="true word"):
        step("a", "a", "b")
    with pytest.raises(ValueError, match="2 or 3"):
        step("a", "b")


# ---- the game state machine -------------------------------------------------------------------


def wrong_word(game: ProofGame) -> str:
    true = game.proof.words[game.step]
    return next(w for w in game.options() if w != true)


def test_default_schedule_trains_on_first_half_and_writes_second_half() -> None:
    game = ProofGame()
    assert game.schedule == (
        (Phase.TEACHER_FORCING, 0),
        (Phase.TEACHER_FORCING, 1),
        (Phase.FREE_RUNNING, 2),
        (Phase.FREE_RUNNING, 3),
    )
    assert game.phase is Phase.TEACHER_FORCING
    assert game.current_prefix() == ()


def test_teacher_forcing_restores_true_prefix_after_wrong_picks() -> None:
    game = ProofGame(seed=3)
    proof = game.proof
    for k in range(len(proof) - 1):
        pick = game.choose(wrong_word(game))
        assert not pick.correct and pick.true_word == proof.words[k]
        assert game.current_prefix() == proof.words[: k + 1]


def test_free_running_prefix_is_the_readers_own_words() -> None:
    game = ProofGame(seed=1)
    while game.phase is Phase.TEACHER_FORCING:
        game.choose(game.proof.words[game.step])
    own: list[str] = []
    for k in range(6):
        word = wrong_word(game) if k % 2 == 0 else game.proof.words[game.step]
        game.choose(word)
        own.append(word)
        assert game.current_prefix() == tuple(own)
    assert game.current_prefix() != game.proof.words[:6]


def test_options_are_deterministic_for_a_seed() -> None:
    def all_options(seed: int) -> list[tuple[str, ...]]:
        game, seen = ProofGame(seed=seed), []
        while not game.finished:
            seen.append(game.options())
            game.choose(game.options()[0])
        return seen

    assert all_options(7) == all_options(7)
    assert all_options(7) != all_options(8)


def test_summary_arithmetic() -> None:
    game = ProofGame(seed=0)
    wrong_at = {(Phase.TEACHER_FORCING, 0, 2), (Phase.TEACHER_FORCING, 1, 5),
                (Phase.FREE_RUNNING, 2, 0)}
    while not game.finished:
        key = (game.phase, game.proof_index, game.step)
        game.choose(wrong_word(game) if key in wrong_at else game.proof.words[game.step])
    s = game.summary()
    tf_words = len(PROOFS[0]) + len(PROOFS[1])
    free_words = len(PROOFS[2]) + len(PROOFS[3])
    assert (s.tf_words, s.tf_correct) == (tf_words, tf_words - 2)
    assert (s.free_words, s.free_correct) == (free_words, free_words - 1)
    assert s.n_words == tf_words + free_words
    assert s.tf_word_accuracy == pytest.approx((tf_words - 2) / tf_words)
    assert (s.free_proofs, s.free_proofs_correct) == (2, 1)
    assert s.free_proof_success == 0.5
    p = s.tf_word_accuracy
    forecast = (p ** len(PROOFS[2]) + p ** len(PROOFS[3])) / 2
    assert s.predicted_proof_success == pytest.approx(forecast)
    assert [r.success for r in s.free_results] == [False, True]


def test_game_end_and_reset() -> None:
    game = play_simulated_game(1.0, seed=0)
    assert game.finished and game.phase is Phase.DONE
    assert game.summary().free_proof_success == 1.0
    with pytest.raises(RuntimeError, match="finished"):
        game.options()
    game.reset()
    assert not game.finished and game.picks == () and game.phase is Phase.TEACHER_FORCING


def test_summary_of_unstarted_game_is_nan_not_crash() -> None:
    s = ProofGame().summary()
    assert s.n_words == 0 and math.isnan(s.tf_word_accuracy) and math.isnan(s.free_proof_success)


def test_choose_rejects_words_not_offered() -> None:
    game = ProofGame()
    with pytest.raises(ValueError, match="word must be one of"):
        game.choose("banana")
    with pytest.raises(TypeError, match="word"):
        game.choose(3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        ({"seed": -1}, ValueError, "seed"),
        ({"seed": 1.5}, TypeError, "seed"),
        ({"teacher_forcing_proofs": []}, ValueError, "teacher_forcing_proofs"),
        ({"free_running_proofs": [9]}, ValueError, "free_running_proofs"),
    ],
)
def test_game_rejects_bad_arguments(kwargs: dict, error: type, name: str) -> None:
    with pytest.raises(error, match=name):
        ProofGame(**kwargs)


# ---- simulated readers ------------------------------------------------------------------------


def test_simulated_game_is_deterministic() -> None:
    a = play_simulated_game(0.8, 0.5, seed=4).summary()
    b = play_simulated_game(0.8, 0.5, seed=4).summary()
    assert a == b


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
