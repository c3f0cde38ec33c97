"""A two-token answer drawn from a known distribution, small enough to list every answer: the task
on which chapter 2 shows greedy decoding missing the most probable sequence (and beam search, in
:mod:`handbook_utils.generation`, finding it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .. import checks
from .base import Example, Task, Tokenizer


def _check_distribution(name: str, probs, k: int) -> tuple[float, ...]:
    if isinstance(probs, (str, bytes)) or not isinstance(probs, Sequence) or len(probs) != k:
        raise ValueError(f"{name} must be a sequence of {k} probabilities, got {probs!r}")
    values = []
    for i, p in enumerate(probs):
        values.append(checks.non_negative(f"{name}[{i}]", p))
    if abs(sum(values) - 1.0) > 1e-9:
        raise ValueError(f"{name} must sum to 1, got {sum(values)}")
    return tuple(values)


@dataclass(frozen=True)
class TwoStepTask(Task):
    """Two-letter answers drawn from a known distribution: ``P(x1)`` then ``P(x2 | x1)``.

    Prompt ``^``, target two letters from ``letters`` (then ``<eos>``). ``first`` is ``P(x1)`` over
    the letters; ``second[i]`` is ``P(x2 | x1 = letters[i])``. Small enough to list every answer, so
    the greedy answer and the most probable answer can be computed exactly and compared.
    """

    first: tuple[float, ...] = (0.55, 0.45, 0.0)
    second: tuple[tuple[float, ...], ...] = ((0.4, 0.3, 0.3), (0.9, 0.05, 0.05), (1 / 3, 1 / 3, 1 / 3))
    letters: str = "abc"
    tokenizer: Tokenizer = field(init=False, repr=False, compare=False)

    START = "^"

    def __post_init__(self):
        if not isinstance(self.letters, str) or len(self.letters) < 2 or len(set(self.letters)) != len(self.letters):
            raise ValueError(f"letters must be a str of at least 2 distinct characters, got {self.letters!r}")
        if self.START in self.letters:
            raise ValueError(f"letters must not contain the start symbol {self.START!r}")
        k = len(self.letters)
        object.__setattr__(self, "first", _check_distribution("first", self.first, k))
        if isinstance(self.second, (str, bytes)) or not isinstance(self.second, Sequence) or len(self.second) != k:
            raise ValueError(f"second must hold {k} rows, one per first letter")
        rows = tuple(_check_distribution(f"second[{i}]", row, k) for i, row in enumerate(self.second))
        object.__setattr__(self, "second", rows)
        object.__setattr__(self, "tokenizer", Tokenizer(self.START + self.letters))

    @classmethod
    def from_tops(cls, p_first: float, top_after_first: float, top_after_second: float) -> TwoStepTask:
        """The three-letter tree of the chapter's slider: ``P(a) = p_first``, ``P(b) = 1 - p_first``;
        after ``a`` the letter ``a`` has ``top_after_first`` and the two others split the rest; after ``b``
        the letter ``a`` has ``top_after_second``, the rest split likewise."""
        for name, v in (("p_first", p_first), ("top_after_first", top_after_first),
                        ("top_after_second", top_after_second)):
            checks.probability(name, v)
        rest_a, rest_b = (1 - top_after_first) / 2, (1 - top_after_second) / 2
        return cls(first=(p_first, 1 - p_first, 0.0),
                   second=((top_after_first, rest_a, rest_a), (top_after_second, rest_b, rest_b),
                           (1 / 3, 1 / 3, 1 / 3)))

    # the Task interface
    def _draw(self, rng) -> Example:
        x1 = rng.choices(range(len(self.letters)), weights=self.first)[0]
        x2 = rng.choices(range(len(self.letters)), weights=self.second[x1])[0]
        return Example(self.START, self.letters[x1] + self.letters[x2])

    def _longest(self) -> Example:
        return Example(self.START, self.letters[0] * 2)

    # the exact answers
    def joint(self) -> dict[str, float]:
        """P(x1 x2) for every two-letter answer, by the chain rule."""
        L = self.letters
        return {L[i] + L[j]: self.first[i] * self.second[i][j] for i in range(len(L)) for j in range(len(L))}

    def greedy(self) -> tuple[str, float]:
        """The answer greedy decoding writes (the likelier letter, then the likelier letter), and its probability."""
        i = int(np.argmax(self.first))
        j = int(np.argmax(self.second[i]))
        answer = self.letters[i] + self.letters[j]
        return answer, self.joint()[answer]

    def best(self) -> tuple[str, float]:
        """The most probable answer (by listing them all), and its probability."""
        joint = self.joint()
        answer = max(joint, key=lambda a: (joint[a], -list(joint).index(a)))
        return answer, joint[answer]
