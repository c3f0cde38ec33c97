"""The proof-writing game of chapter 1 as a state machine: teacher forcing, then free running.

A reader completes short proofs one word at a time. In the *teacher-forcing* phase the proof
always continues with the true word, whatever the reader picked, exactly like a language model
that is trained on the correct prefix. In the *free-running* phase the reader's own picks become
the prefix and nobody says whether they were right until the proof is over, exactly like a
model that generates text. Comparing the two phases is the whole point of the chapter.

Used by chapter 1 through :class:`~.ch01_widgets.ProofGameWidget` (the game as data, played in the
browser, and scored again here from the reader's picks) and by the simulated readers
(:func:`play_simulated_game`). No widgets here, so the game can be tested without a browser.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from handbook_utils import checks
from handbook_utils.tables import Table

from .ch01_proofs import PROOFS, Proof
from .ch01_simulation import independence_prediction, right_word_odds

__all__ = ["Phase", "Pick", "ProofResult", "GameSummary", "ProofGame", "play_simulated_game", "score_table"]


def _ratio(numerator: float, denominator: float) -> float:
    """A fraction that is NaN (not a crash) when nothing has been counted yet."""
    return numerator / denominator if denominator else math.nan


class Phase(str, Enum):
    """Where the game is. ``str`` so that it prints and compares nicely in notebooks."""

    TEACHER_FORCING = "teacher_forcing"
    FREE_RUNNING = "free_running"
    DONE = "done"


@dataclass(frozen=True)
class Pick:
    """One decision of the reader, with the word the true proof had at that position."""

    phase: Phase
    proof_index: int
    step: int
    chosen: str
    true_word: str

    @property
    def correct(self) -> bool:
        return self.chosen == self.true_word


@dataclass(frozen=True)
class ProofResult:
    """How one proof went: the reader's words beside the true ones."""

    title: str
    phase: Phase
    chosen: tuple[str, ...]
    true_words: tuple[str, ...]

    @property
    def n_words(self) -> int:
        return len(self.true_words)

    @property
    def n_correct(self) -> int:
        return sum(c == t for c, t in zip(self.chosen, self.true_words, strict=True))

    @property
    def success(self) -> bool:
        """A proof counts only if every single word is right."""
        return self.n_correct == self.n_words


@dataclass(frozen=True)
class GameSummary:
    """The end-screen numbers: phase 1 per word, phase 2 per word and per proof, and the
    prediction that treats every word of phase 2 as an independent phase-1 guess."""

    tf_words: int
    tf_correct: int
    free_words: int
    free_correct: int
    free_results: tuple[ProofResult, ...] = field(default_factory=tuple)

    @property
    def n_words(self) -> int:
        return self.tf_words + self.free_words

    @property
    def tf_word_accuracy(self) -> float:
        return _ratio(self.tf_correct, self.tf_words)

    @property
    def free_word_accuracy(self) -> float:
        return _ratio(self.free_correct, self.free_words)

    @property
    def free_proofs(self) -> int:
        return len(self.free_results)

    @property
    def free_proofs_correct(self) -> int:
        return sum(r.success for r in self.free_results)

    @property
    def free_proof_success(self) -> float:
        return _ratio(self.free_proofs_correct, self.free_proofs)

    @property
    def predicted_proof_success(self) -> float:
        """Mean over the written proofs of ``p ** L``, with ``p`` the phase-1 accuracy.

        If every word were an independent coin that lands right with probability ``p``, a proof
        of ``L`` words would be right with probability ``p ** L``.
        """
        if not self.free_results or not self.tf_words:
            return math.nan
        return independence_prediction(self.tf_word_accuracy, [r.n_words for r in self.free_results])


class ProofGame:
    """State machine for the game: which proof, which word, whose prefix, and the score.

    Phase 1 (teacher forcing) plays ``teacher_forcing_proofs``: after each pick the true word
    is revealed and the prefix always continues with it. Phase 2 (free running) plays
    ``free_running_proofs``: the prefix is the reader's own words and nothing is revealed until
    the game is over. By default the first half of ``proofs`` trains and the second half is
    written, so phase 2 is not a memory test of phase 1.

    Options are shuffled once, at construction, from ``seed``: the same seed always shows the
    same buttons in the same order, which keeps the book's outputs reproducible.
    """

    def __init__(
        self,
        proofs: Sequence[Proof] = PROOFS,
        teacher_forcing_proofs: Sequence[int] | None = None,
        free_running_proofs: Sequence[int] | None = None,
        seed: int = 0,
    ) -> None:
        self.proofs = tuple(checks.instance("proofs", p, Proof, "sequence of Proof") for p in proofs)
        if not self.proofs:
            raise ValueError("proofs must hold at least one Proof")
        self.seed = checks.seed("seed", seed)
        half = (len(self.proofs) + 1) // 2
        if teacher_forcing_proofs is None:
            teacher_forcing_proofs = range(half)
        if free_running_proofs is None:
            free_running_proofs = range(half, len(self.proofs))
        tf = self._check_indices("teacher_forcing_proofs", teacher_forcing_proofs)
        free = self._check_indices("free_running_proofs", free_running_proofs)
        self.schedule: tuple[tuple[Phase, int], ...] = tuple(
            [(Phase.TEACHER_FORCING, i) for i in tf] + [(Phase.FREE_RUNNING, i) for i in free]
        )
        self._options = self._shuffle_options()
        self.reset()

    def _check_indices(self, name: str, indices: Sequence[int]) -> tuple[int, ...]:
        """A non-empty tuple of indices into ``self.proofs`` (each checked by :func:`checks.integer`)."""
        indices = tuple(checks.integer(name, i, 0, len(self.proofs) - 1) for i in indices)
        if not indices:
            raise ValueError(f"{name} must name at least one proof")
        return indices

    def _shuffle_options(self) -> dict[tuple[int, int], tuple[str, ...]]:
        """One independent, seeded shuffle per proof, so a proof's buttons do not depend on
        which phase it is played in."""
        options = {}
        for p_index, proof in enumerate(self.proofs):
            rng = np.random.default_rng([self.seed, p_index])
            for s_index, s in enumerate(proof.steps):
                order = rng.permutation(len(s.options))
                options[p_index, s_index] = tuple(s.options[k] for k in order)
        return options

    def reset(self) -> None:
        """Start again from the first proof of phase 1 (same seed, so same buttons)."""
        self._round = 0
        self._step = 0
        self._own: list[str] = []
        self._picks: list[Pick] = []

    # ---- where are we -----------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        return self._round >= len(self.schedule)

    @property
    def phase(self) -> Phase:
        return Phase.DONE if self.finished else self.schedule[self._round][0]

    @property
    def proof_index(self) -> int:
        self._require_playing()
        return self.schedule[self._round][1]

    @property
    def proof(self) -> Proof:
        return self.proofs[self.proof_index]

    @property
    def step(self) -> int:
        """How many words of the current proof are already written."""
        return self._step

    @property
    def proof_number(self) -> tuple[int, int]:
        """(1-based number of the current proof within its phase, proofs in this phase)."""
        self._require_playing()
        same = [k for k, (ph, _) in enumerate(self.schedule) if ph is self.phase]
        return same.index(self._round) + 1, len(same)

    @property
    def picks(self) -> tuple[Pick, ...]:
        return tuple(self._picks)

    @property
    def last_pick(self) -> Pick | None:
        return self._picks[-1] if self._picks else None

    def _require_playing(self) -> None:
        if self.finished:
            raise RuntimeError("the game is finished; call reset() to play again")

    # ---- playing ----------------------------------------------------------------------------

    def current_prefix(self) -> tuple[str, ...]:
        """What the reader sees before the blank.

        Teacher forcing: the true words, whatever was picked before.
        Free running: the reader's own picks, right or wrong.
        """
        self._require_playing()
        if self.phase is Phase.TEACHER_FORCING:
            return self.proof.words[: self._step]
        return tuple(self._own)

    def options_at(self, proof_index: int, step: int) -> tuple[str, ...]:
        """The shuffled choices shown for word ``step`` of proof ``proof_index`` (fixed by the seed)."""
        proof_index = checks.integer("proof_index", proof_index, 0, len(self.proofs) - 1)
        step = checks.integer("step", step, 0, len(self.proofs[proof_index]) - 1)
        return self._options[proof_index, step]

    def options(self) -> tuple[str, ...]:
        """The shuffled choices for the next word (the true word is always among them)."""
        self._require_playing()
        return self._options[self.proof_index, self._step]

    def choose(self, word: str) -> Pick:
        """Record the reader's pick for the next word and move on."""
        self._require_playing()
        checks.instance("word", word, str)
        checks.one_of("word", word, self.options())
        pick = Pick(self.phase, self.proof_index, self._step, word, self.proof.words[self._step])
        self._picks.append(pick)
        self._own.append(word)
        self._step += 1
        if self._step == len(self.proof):
            self._round += 1
            self._step = 0
            self._own = []
        return pick

    # ---- scoring ----------------------------------------------------------------------------

    def results(self, phase: Phase | None = None) -> tuple[ProofResult, ...]:
        """Completed proofs in play order, optionally only those of one phase."""
        done = []
        for ph, p_index in self.schedule[: self._round]:
            if phase is not None and ph is not phase:
                continue
            picks = [p for p in self._picks if p.proof_index == p_index and p.phase is ph]
            proof = self.proofs[p_index]
            done.append(ProofResult(proof.title, ph, tuple(p.chosen for p in picks), proof.words))
        return tuple(done)

    def summary(self) -> GameSummary:
        """Scores over every pick made so far (usually called once the game is finished)."""
        tf = [p for p in self._picks if p.phase is Phase.TEACHER_FORCING]
        free = [p for p in self._picks if p.phase is Phase.FREE_RUNNING]
        return GameSummary(
            tf_words=len(tf),
            tf_correct=sum(p.correct for p in tf),
            free_words=len(free),
            free_correct=sum(p.correct for p in free),
            free_results=self.results(Phase.FREE_RUNNING),
        )


def play_simulated_game(
    word_accuracy: float,
    confusion_after_error: float = 0.0,
    seed: int = 0,
    game: ProofGame | None = None,
) -> ProofGame:
    """Let a simulated reader play ``game`` (a fresh default game if None) to the end.

    The reader follows the model of :func:`.ch01_simulation.simulate_player`: right with probability
    ``word_accuracy`` while the prefix is correct, and ``word_accuracy * (1 -
    confusion_after_error)`` once its own prefix holds a mistake. A wrong pick is a uniformly
    random distractor. This is what the static book shows in place of the live widget.
    """
    p = checks.probability("word_accuracy", word_accuracy)
    c = checks.probability("confusion_after_error", confusion_after_error)
    seed = checks.seed("seed", seed)
    game = ProofGame(seed=seed) if game is None else checks.instance("game", game, ProofGame)
    rng = np.random.default_rng(seed)
    while not game.finished:
        clean = game.current_prefix() == game.proof.words[: game.step]
        derailed = game.phase is Phase.FREE_RUNNING and not clean
        right = rng.random() < right_word_odds(p, c, derailed)
        true_word = game.proof.words[game.step]
        wrong = [w for w in game.options() if w != true_word]
        game.choose(true_word if right else wrong[rng.integers(len(wrong))])
    return game


def score_table(summary: GameSummary, caption: str = "") -> Table:
    """The end screen's four numbers as a table: phase 1 per word, phase 2 per word and per proof,
    and the forecast ``p̂^L`` from phase 1."""
    lengths = [r.n_words for r in summary.free_results]
    length = f"{sum(lengths) / len(lengths):.0f}" if lengths else "–"

    def pct(x: float) -> str:
        return "–" if math.isnan(x) else f"{x:.0%}"

    return Table.of(["", "score"], [
        ["Phase 1 (teacher forcing): words right",
         f"{pct(summary.tf_word_accuracy)} ({summary.tf_correct}/{summary.tf_words})"],
        ["Phase 2 (free running): words right",
         f"{pct(summary.free_word_accuracy)} ({summary.free_correct}/{summary.free_words})"],
        ["Phase 2 (free running): whole proofs right",
         f"{pct(summary.free_proof_success)} ({summary.free_proofs_correct}/{summary.free_proofs})"],
        [f"Forecast from phase 1: p̂^L with L ≈ {length} words", pct(summary.predicted_proof_success)],
    ], caption)
