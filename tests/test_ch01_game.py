"""The proof-writing game of chapter 1 as a state machine: prefixes, options, scores, the end."""

from __future__ import annotations

import math

import pytest

from handbook_utils.chapters.ch01_game import Phase, ProofGame, play_simulated_game
from handbook_utils.chapters.ch01_proofs import PROOFS
from handbook_utils.chapters.ch01_simulation import independence_prediction


def test_shuffled_options_keep_true_word_exactly_once() -> None:
    for seed in range(5):
        game = ProofGame(seed=seed, teacher_forcing_proofs=range(4), free_running_proofs=[0])
        while game.phase is Phase.TEACHER_FORCING:
            true = game.proof.words[game.step]
            assert game.options().count(true) == 1
            game.choose(true)


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


def test_game_rejects_proofs_that_are_not_proofs() -> None:
    with pytest.raises(TypeError, match="proofs"):
        ProofGame(["not a proof"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="proofs"):
        ProofGame([])


# ---- a simulated reader playing the real game ---------------------------------------------------


def test_simulated_game_is_deterministic() -> None:
    a = play_simulated_game(0.8, 0.5, seed=4).summary()
    b = play_simulated_game(0.8, 0.5, seed=4).summary()
    assert a == b


def test_simulated_game_forecast_is_the_independence_prediction() -> None:
    s = play_simulated_game(0.8, 0.5, seed=4).summary()
    lengths = [r.n_words for r in s.free_results]
    assert s.predicted_proof_success == independence_prediction(s.tf_word_accuracy, lengths)


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        ({"word_accuracy": 1.5}, ValueError, "word_accuracy"),
        ({"word_accuracy": 0.9, "confusion_after_error": -0.1}, ValueError, "confusion_after_error"),
        ({"word_accuracy": 0.9, "seed": -1}, ValueError, "seed"),
        ({"word_accuracy": 0.9, "game": "game"}, TypeError, "game"),
    ],
)
def test_simulated_game_rejects_bad_arguments(kwargs: dict, error: type, name: str) -> None:
    with pytest.raises(error, match=name):
        play_simulated_game(**kwargs)
