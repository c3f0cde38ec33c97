"""The proofs of chapter 1's game: every step offers its true word once, and leaps are rare."""

from __future__ import annotations

import pytest

from handbook_utils.chapters.ch01_proofs import PROOFS, TRIANGLE, Proof, Step, step

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


def test_step_rejects_bad_distractors() -> None:
    with pytest.raises(ValueError, match="true word"):
        step("a", "a", "b")
    with pytest.raises(ValueError, match="2 or 3"):
        step("a", "b")


def test_step_rejects_a_word_that_is_not_a_non_empty_string() -> None:
    with pytest.raises(ValueError, match="word"):
        step("", "b", "c")
    with pytest.raises(TypeError, match="word"):
        Step(3, ("b", "c"))  # type: ignore[arg-type]


def test_proof_needs_steps_and_exposes_its_words() -> None:
    with pytest.raises(ValueError, match="at least one step"):
        Proof("empty", ())
    assert TRIANGLE.text.split() == list(TRIANGLE.words)
    assert all(TRIANGLE.steps[i].leap for i in TRIANGLE.leaps)
