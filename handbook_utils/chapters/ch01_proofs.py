"""The proof-writing game of chapter 1: teacher forcing versus free running, played by hand.

A reader completes short proofs one word at a time. In the *teacher-forcing* phase the proof
always continues with the true word, whatever the reader picked, exactly like a language model
that is trained on the correct prefix. In the *free-running* phase the reader's own picks become
the prefix and nobody says whether they were right until the proof is over, exactly like a
model that generates text. Comparing the two phases is the whole point of the chapter.

This module is pure Python plus NumPy: no widgets, no plotting. The widget in
:mod:`handbook_utils.chapters.ch01_widgets` is a thin view over :class:`ProofGame`, so everything here can be
tested and simulated without a browser.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

__all__ = [
    "Step",
    "step",
    "Proof",
    "PROOFS",
    "Phase",
    "Pick",
    "ProofResult",
    "GameSummary",
    "ProofGame",
    "play_simulated_game",
    "SimulationResult",
    "simulate_player",
    "independence_prediction",
    "expected_free_word_accuracy",
    "ContrastCurve",
    "contrast_curve",
]


# --------------------------------------------------------------------------------------------
# Argument checks. They fail early and name the parameter, so a reader who mistypes an
# argument in a notebook sees what went wrong instead of a NumPy error ten frames deeper.
# --------------------------------------------------------------------------------------------


def _check_probability(name: str, value: object) -> float:
    """Return ``value`` as a float in [0, 1], or raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number in [0, 1], got {type(value).__name__}")
    value = float(value)
    if not 0.0 <= value <= 1.0:  # also rejects NaN
        raise ValueError(f"{name} must be in [0, 1], got {value}")
    return value


def _check_int(name: str, value: object, minimum: int) -> int:
    """Return ``value`` as an int >= ``minimum``, or raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def _ratio(numerator: float, denominator: float) -> float:
    """A fraction that is NaN (not a crash) when nothing has been counted yet."""
    return numerator / denominator if denominator else math.nan


# --------------------------------------------------------------------------------------------
# Proofs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One word of a proof: the true word, the wrong words we offer beside it, and whether it is
    a *leap* (a genuine idea a reader could miss) rather than a mechanical continuation."""

    word: str
    distractors: tuple[str, ...]
    leap: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.word, str) or not self.word:
            raise ValueError("word must be a non-empty string")
        if not 2 <= len(self.distractors) <= 3:
            raise ValueError(f"distractors for {self.word!r} must hold 2 or 3 words")
        if len(set(self.distractors)) != len(self.distractors):
            raise ValueError(f"distractors for {self.word!r} must be distinct")
        if self.word in self.distractors:
            raise ValueError(f"distractors for {self.word!r} must not contain the true word")

    @property
    def options(self) -> tuple[str, ...]:
        """The true word followed by its distractors, unshuffled."""
        return (self.word, *self.distractors)


def step(word: str, *distractors: str, leap: bool = False) -> Step:
    """Shorthand used to write the proofs below as readable one-liners."""
    return Step(word, tuple(distractors), leap)


@dataclass(frozen=True)
class Proof:
    """A statement and its proof, one :class:`Step` per word of the proof."""

    title: str
    steps: tuple[Step, ...]

    def __post_init__(self) -> None:
        if not self.steps:
            raise ValueError(f"proof {self.title!r} needs at least one step")

    def __len__(self) -> int:
        return len(self.steps)

    @property
    def words(self) -> tuple[str, ...]:
        """The true proof, word by word."""
        return tuple(s.word for s in self.steps)

    @property
    def text(self) -> str:
        return " ".join(self.words)

    @property
    def leaps(self) -> tuple[int, ...]:
        """Positions of the steps that need an idea rather than bookkeeping."""
        return tuple(i for i, s in enumerate(self.steps) if s.leap)


# Most steps are mechanical: grammar or the previous line decides them. A few are leaps: the
# construction, the trick, the conclusion. That mix is what makes per-word accuracy look high.
TRIANGLE = Proof(
    "The angles of a triangle add up to 180°.",
    (
        step("Draw", "Measure", "Bisect", "Extend"),
        step("the", "every", "no"),
        step("line", "circle", "angle"),
        step("through", "inside", "below"),
        step("the", "each", "no"),
        step("apex", "base", "centre"),
        step("parallel", "perpendicular", "equal", "opposite", leap=True),
        step("to", "by", "at"),
        step("the", "every", "some"),
        step("base.", "apex.", "hypotenuse."),
        step("Alternate", "Opposite", "Adjacent", "Exterior", leap=True),
        step("angles", "sides", "lines"),
        step("equal", "exceed", "double"),
        step("the", "no", "half"),
        step("base", "apex", "outer"),
        step("angles,", "sides,", "lengths,"),
        step("so", "but", "unless"),
        step("the", "no", "four"),
        step("three", "two", "four"),
        step("angles", "sides", "vertices"),
        step("make", "break", "bisect"),
        step("a", "no", "every"),
        step("straight", "right", "full", "reflex", leap=True),
        step("angle.", "triangle.", "circle."),
    ),
)

SQRT2 = Proof(
    "√2 is irrational.",
    (
        step("Suppose", "Compute", "Square", "Note", leap=True),
        step("√2", "2", "q", "π"),
        step("=", "<", "≠"),
        step("p/q", "1.41", "p+q", "2/√2"),
        step("in", "as", "by"),
        step("lowest", "highest", "simple", "plain"),
        step("terms.", "form.", "order."),
        step("Then", "Unless", "Otherwise"),
        step("p²", "p", "2p", "q", leap=True),
        step("=", "<", ">"),
        step("2q²,", "q²,", "2q,", "√q,"),
        step("so", "but", "unless"),
        step("p", "q", "√2"),
        step("is", "has", "gets"),
        step("even,", "odd,", "prime,", "zero,"),
        step("hence", "although", "unless", "whereas"),
        step("q", "p", "√2", leap=True),
        step("is", "has", "gets"),
        step("even", "odd", "prime", "zero", leap=True),
        step("too:", "twice:", "first:"),
        step("a", "no", "one"),
        step("contradiction.", "coincidence.", "theorem."),
    ),
)

PRIMES = Proof(
    "There are infinitely many primes.",
    (
        step("Suppose", "Compute", "Note", "Since", leap=True),
        step("only", "all", "no", "infinitely"),
        step("finitely", "infinitely", "two", "even"),
        step("many", "few", "large"),
        step("primes", "numbers", "squares"),
        step("exist.", "divide.", "vanish."),
        step("Multiply", "Add", "Divide", "Square", leap=True),
        step("them", "it", "none"),
        step("all", "twice", "apart"),
        step("and", "or", "nor"),
        step("add", "square", "halve", "double", leap=True),
        step("one.", "two.", "them."),
        step("No", "Every", "Some", "Each", leap=True),
        step("listed", "even", "larger"),
        step("prime", "number", "square"),
        step("divides", "multiplies", "exceeds"),
        step("this", "every", "each"),
        step("number,", "list,", "prime,"),
        step("so", "but", "unless"),
        step("the", "no", "each"),
        step("list", "number", "proof"),
        step("is", "seems", "becomes"),
        step("incomplete.", "complete.", "infinite.", "empty.", leap=True),
    ),
)

ODD_SQUARES = Proof(
    "1 + 3 + 5 + … + (2n − 1) = n².",
    (
        step("For", "Unless", "Because"),
        step("n", "n²", "2n"),
        step("=", ">", "≠"),
        step("1", "2", "−1"),
        step("both", "neither", "some"),
        step("sides", "numbers", "terms"),
        step("equal", "differ", "vanish"),
        step("1.", "2.", "n."),
        step("If", "Unless", "Although"),
        step("the", "no", "some"),
        step("first", "last", "only"),
        step("n", "2n", "n²"),
        step("odd", "even", "prime"),
        step("numbers", "squares", "primes"),
        step("sum", "multiply", "reduce"),
        step("to", "with", "from"),
        step("n²,", "2n,", "n,", "(n+1)²,"),
        step("adding", "subtracting", "squaring", "doubling"),
        step("2n+1", "2n−1", "n+1", "2n", leap=True),
        step("gives", "loses", "needs"),
        step("(n+1)².", "n²+1.", "2n².", "(2n)².", leap=True),
    ),
)

PROOFS: tuple[Proof, ...] = (TRIANGLE, SQRT2, PRIMES, ODD_SQUARES)
"""The four proofs of the game, in play order. The first two train, the last two are written."""


# --------------------------------------------------------------------------------------------
# The game
# --------------------------------------------------------------------------------------------


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
        return sum(c == t for c, t in zip(self.chosen, self.true_words))

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
        if not self.free_results:
            return math.nan
        p = self.tf_word_accuracy
        return float(np.mean([p**r.n_words for r in self.free_results]))


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
        self.proofs = tuple(proofs)
        if not self.proofs or not all(isinstance(p, Proof) for p in self.proofs):
            raise TypeError("proofs must be a non-empty sequence of Proof")
        self.seed = _check_int("seed", seed, 0)
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
        indices = tuple(indices)
        if not indices:
            raise ValueError(f"{name} must name at least one proof")
        for i in indices:
            _check_int(name, i, 0)
            if i >= len(self.proofs):
                top = len(self.proofs) - 1
                raise ValueError(f"{name} must hold indices in [0, {top}], got {i}")
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

    def options(self) -> tuple[str, ...]:
        """The shuffled choices for the next word (the true word is always among them)."""
        self._require_playing()
        return self._options[self.proof_index, self._step]

    def choose(self, word: str) -> Pick:
        """Record the reader's pick for the next word and move on."""
        self._require_playing()
        allowed = self.options()
        if not isinstance(word, str):
            raise TypeError(f"word must be a str, one of {allowed}, got {type(word).__name__}")
        if word not in allowed:
            raise ValueError(f"word must be one of {allowed}, got {word!r}")
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

    The reader follows the model of :func:`simulate_player`: right with probability
    ``word_accuracy`` while the prefix is correct, and ``word_accuracy * (1 -
    confusion_after_error)`` once its own prefix holds a mistake. A wrong pick is a uniformly
    random distractor. This is what the static book shows in place of the live widget.
    """
    p = _check_probability("word_accuracy", word_accuracy)
    c = _check_probability("confusion_after_error", confusion_after_error)
    seed = _check_int("seed", seed, 0)
    game = ProofGame(seed=seed) if game is None else game
    rng = np.random.default_rng(seed)
    while not game.finished:
        clean = game.current_prefix() == game.proof.words[: game.step]
        derailed = game.phase is Phase.FREE_RUNNING and not clean
        right = rng.random() < (p * (1 - c) if derailed else p)
        true_word = game.proof.words[game.step]
        wrong = [w for w in game.options() if w != true_word]
        game.choose(true_word if right else wrong[rng.integers(len(wrong))])
    return game


# --------------------------------------------------------------------------------------------
# Simulation: many simulated readers at once, for the chapter's figure
# --------------------------------------------------------------------------------------------


def _check_lengths(proof_lengths: Sequence[int] | None) -> tuple[int, ...]:
    if proof_lengths is None:
        return tuple(len(p) for p in PROOFS)
    lengths = tuple(proof_lengths)
    if not lengths:
        raise ValueError("proof_lengths must hold at least one length")
    return tuple(_check_int("proof_lengths", n, 1) for n in lengths)


def independence_prediction(
    word_accuracy: float, proof_lengths: Sequence[int] | None = None
) -> float:
    """Mean of ``p ** L`` over the proofs: whole-proof success if words were independent."""
    p = _check_probability("word_accuracy", word_accuracy)
    return float(np.mean([p**n for n in _check_lengths(proof_lengths)]))


def expected_free_word_accuracy(
    word_accuracy: float,
    confusion_after_error: float,
    proof_lengths: Sequence[int] | None = None,
) -> float:
    """Exact per-word accuracy of the simulated free-running reader.

    Word ``k`` (0-based) sees a clean prefix with probability ``p**k``; then it is right with
    probability ``p``, otherwise with ``p * (1 - c)``. Averaged over every word of every proof.
    """
    p = _check_probability("word_accuracy", word_accuracy)
    c = _check_probability("confusion_after_error", confusion_after_error)
    lengths = _check_lengths(proof_lengths)
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


def _free_run(
    rng: np.random.Generator, n_games: int, length: int, p: float, c: float
) -> np.ndarray:
    """Correctness (n_games, length) of free-running readers; vectorised over games, sequential
    over words because each word's odds depend on whether an earlier word went wrong."""
    correct = np.empty((n_games, length), dtype=bool)
    derailed = np.zeros(n_games, dtype=bool)
    for k in range(length):
        odds = np.where(derailed, p * (1 - c), p)
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
    p = _check_probability("word_accuracy", word_accuracy)
    c = _check_probability("confusion_after_error", confusion_after_error)
    n_games = _check_int("n_games", n_games, 1)
    seed = _check_int("seed", seed, 0)
    lengths = _check_lengths(proof_lengths)

    rng = np.random.default_rng(seed)
    tf_correct = rng.random((n_games, sum(lengths))) < p
    free = [_free_run(rng, n_games, n, p, c) for n in lengths]

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
        predicted_proof_success=float(np.mean([tf_acc**n for n in lengths])),
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
    ps = [_check_probability("word_accuracies", p) for p in word_accuracies]
    if not ps:
        raise ValueError("word_accuracies must hold at least one value")
    seed = _check_int("seed", seed, 0)
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
