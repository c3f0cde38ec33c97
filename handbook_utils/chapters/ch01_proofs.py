"""The four proofs of chapter 1's proof-writing game, one :class:`Step` per word.

A :class:`Step` holds the true word, the wrong words offered beside it, and whether it is a
*leap* (an idea a reader could miss) rather than bookkeeping. Most steps are bookkeeping, which
is what makes per-word accuracy look high while whole proofs fail.

Used by chapter 1 (the page prints :data:`TRIANGLE` and plays :data:`PROOFS`) and by the game
(:mod:`.ch01_game`), the simulated readers (:mod:`.ch01_simulation`) and the widget
(:mod:`.ch01_widgets`). Plain data: no randomness, no widgets.
"""

from __future__ import annotations

from dataclasses import dataclass

from handbook_utils import checks

__all__ = ["Step", "step", "Proof", "TRIANGLE", "SQRT2", "PRIMES", "ODD_SQUARES", "PROOFS"]


@dataclass(frozen=True)
class Step:
    """One word of a proof: the true word, the wrong words we offer beside it, and whether it is
    a *leap* (a genuine idea a reader could miss) rather than a mechanical continuation."""

    word: str
    distractors: tuple[str, ...]
    leap: bool = False

    def __post_init__(self) -> None:
        if not checks.instance("word", self.word, str):
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
