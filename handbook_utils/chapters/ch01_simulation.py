"""Many simulated readers of chapter 1's game at once: the numbers behind the chapter's figure.

The model of a reader has two knobs. On a correct prefix the reader picks the true word with
probability ``word_accuracy`` (= p); once their own prefix holds a mistake (free running only),
with ``p * (1 - confusion_after_error)``. :func:`simulate_player` plays every proof in both
phases for ``n_games`` readers at once; :func:`contrast_curve` repeats that for a range of ``p``;
:func:`independence_prediction` and :func:`expected_free_word_accuracy` are the exact values the
simulation should agree with.

Used by chapter 1 (``contrast_curve`` feeds :func:`~.ch01_figures.plot_proof_contrast`;
``simulate_player`` and ``independence_prediction`` fill the text and the exercises).
Pure NumPy: no widgets, no plotting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from handbook_utils import checks

from .ch01_proofs import PROOFS

__all__ = [
    "right_word_odds",
    "SimulationResult",
    "simulate_player",
    "independence_prediction",
    "expected_free_word_accuracy",
    "ContrastCurve",
    "contrast_curve",
]


def _proof_lengths(proof_lengths: Sequence[int] | None) -> tuple[int, ...]:
    """The lengths of :data:`PROOFS` if None, else a non-empty tuple of positive ints."""
    if proof_lengths is None:
        return tuple(len(p) for p in PROOFS)
    lengths = tuple(proof_lengths)
    if not lengths:
        raise ValueError("proof_lengths must hold at least one length")
    return tuple(checks.positive_int("proof_lengths", n) for n in lengths)


def independence_prediction(
    word_accuracy: float, proof_lengths: Sequence[int] | None = None
) -> float:
    """Mean of ``p ** L`` over the proofs: whole-proof success if words were independent."""
    p = checks.probability("word_accuracy", word_accuracy)
    return float(np.mean([p**n for n in _proof_lengths(proof_lengths)]))


def expected_free_word_accuracy(
    word_accuracy: float,
    confusion_after_error: float,
    proof_lengths: Sequence[int] | None = None,
) -> float:
    """Exact per-word accuracy of the simulated free-running reader.

    Word ``k`` (0-based) sees a clean prefix with probability ``p**k``; then it is right with
    probability ``p``, otherwise with ``p * (1 - c)``. Averaged over every word of every proof.
    """
    p = checks.probability("word_accuracy", word_accuracy)
    c = checks.probability("confusion_after_error", confusion_after_error)
    lengths = _proof_lengths(proof_lengths)
    total = sum(p**k * p + (1 - p**k) * p * (1 - c) for n in lengths for k in range(n))
    return total / sum(lengths)


@dataclass(frozen=True)
class SimulationResult:
    """What ``n_games`` simulated readers did, pooled over all games and proofs."""

    word_accuracy: float
    confusion_after_error: float
    n_games: int
    seed: int
    proof_lengths: tuple[int, ...]
    tf_word_accuracy: float
    free_word_accuracy: float
    free_proof_success: float
    predicted_proof_success: float
    """``tf_word_accuracy ** L`` averaged over proofs: the reader's own forecast from phase 1."""


def right_word_odds(p: float, c: float, derailed):
    """The reader model: chance of the right word, ``p`` on a clean prefix and ``p * (1 - c)`` once
    the reader's own prefix holds a mistake. ``derailed`` is a bool or a bool array (any shape)."""
    return np.where(derailed, p * (1 - c), p)


def _free_run(
    rng: np.random.Generator, n_games: int, length: int, p: float, c: float
) -> np.ndarray:
    """Correctness (n_games, length) of free-running readers; vectorised over games, sequential
    over words because each word's odds depend on whether an earlier word went wrong."""
    correct = np.empty((n_games, length), dtype=bool)  # (n_games, length)
    derailed = np.zeros(n_games, dtype=bool)  # (n_games,): an earlier word of this proof was wrong
    for k in range(length):
        odds = right_word_odds(p, c, derailed)  # (n_games,)
        correct[:, k] = rng.random(n_games) < odds
        derailed |= ~correct[:, k]
    return correct


def simulate_player(
    word_accuracy: float,
    confusion_after_error: float = 0.0,
    n_games: int = 1000,
    seed: int = 0,
    proof_lengths: Sequence[int] | None = None,
) -> SimulationResult:
    """Simulate readers who play every proof in both phases.

    The model: on a correct prefix the reader picks the true word with probability
    ``word_accuracy`` (= p). Teacher forcing always shows a correct prefix, so phase 1 is p per
    word. In free running, once the reader's own prefix holds a mistake their accuracy drops to
    ``p * (1 - confusion_after_error)`` for the rest of that proof. Whole-proof success needs
    every word right, so it is ``p ** L`` whatever the confusion; the confusion shows up in the
    per-word accuracy of phase 2.

    ``proof_lengths`` defaults to the lengths of :data:`PROOFS`. Same seed, same numbers.
    """
    p = checks.probability("word_accuracy", word_accuracy)
    c = checks.probability("confusion_after_error", confusion_after_error)
    n_games = checks.positive_int("n_games", n_games)
    seed = checks.seed("seed", seed)
    lengths = _proof_lengths(proof_lengths)

    rng = np.random.default_rng(seed)
    tf_correct = rng.random((n_games, sum(lengths))) < p  # (n_games, total words): one coin per word
    free = [_free_run(rng, n_games, n, p, c) for n in lengths]  # one (n_games, L) per proof

    tf_acc = float(tf_correct.mean())
    return SimulationResult(
        word_accuracy=p,
        confusion_after_error=c,
        n_games=n_games,
        seed=seed,
        proof_lengths=lengths,
        tf_word_accuracy=tf_acc,
        free_word_accuracy=float(sum(f.sum() for f in free) / (n_games * sum(lengths))),
        free_proof_success=float(np.mean([f.all(axis=1).mean() for f in free])),
        predicted_proof_success=independence_prediction(tf_acc, lengths),
    )


@dataclass(frozen=True, eq=False)
class ContrastCurve:
    """Simulated rates against the per-word accuracy ``p``, one array entry per ``p``."""

    word_accuracy: np.ndarray
    tf_word_accuracy: np.ndarray
    free_word_accuracy: np.ndarray
    free_proof_success: np.ndarray
    predicted_proof_success: np.ndarray
    confusion_after_error: float
    proof_lengths: tuple[int, ...]


def contrast_curve(
    word_accuracies: Sequence[float] | None = None,
    confusion_after_error: float = 0.5,
    n_games: int = 2000,
    seed: int = 0,
    proof_lengths: Sequence[int] | None = None,
) -> ContrastCurve:
    """Run :func:`simulate_player` for each per-word accuracy (default 0.700, 0.725, ..., 1.000).

    Each point gets its own seed (``seed + i``) so points are independent yet reproducible.
    """
    if word_accuracies is None:
        word_accuracies = np.linspace(0.7, 1.0, 13)
    ps = [checks.probability("word_accuracies", p) for p in word_accuracies]
    if not ps:
        raise ValueError("word_accuracies must hold at least one value")
    seed = checks.seed("seed", seed)
    runs = [
        simulate_player(p, confusion_after_error, n_games, seed + i, proof_lengths)
        for i, p in enumerate(ps)
    ]
    return ContrastCurve(
        word_accuracy=np.array(ps),
        tf_word_accuracy=np.array([r.tf_word_accuracy for r in runs]),
        free_word_accuracy=np.array([r.free_word_accuracy for r in runs]),
        free_proof_success=np.array([r.free_proof_success for r in runs]),
        predicted_proof_success=np.array([r.predicted_proof_success for r in runs]),
        confusion_after_error=runs[0].confusion_after_error,
        proof_lengths=runs[0].proof_lengths,
    )
