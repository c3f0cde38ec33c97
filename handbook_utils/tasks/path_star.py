"""Bachmann & Nagarajan's path-star graph (2024): a task where teacher forcing learns a "Clever Hans"
shortcut and never learns the first step. Kept for the chapter on where next-token training fails.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from .. import checks
from .base import Example, Task, Tokenizer

NODE_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class PathStarTask(Task):
    """Bachmann & Nagarajan (2024): find the arm of a star graph that leads from ``s`` to ``g``.

    A start node has ``degree`` arms of ``path_length`` nodes each (counting the start); node labels
    are distinct, drawn from ``n_nodes`` values (one character each), and the edge list is shuffled.
    Prompt ``u,v|u,v|…/s,g=``, target the path ``s,n1,…,g``. ``reverse=True`` writes the path from
    ``g`` back to ``s`` (which makes it easy); ``teacherless=True`` hides the target from the input
    behind the dummy ``$`` so the model must plan the whole path from the prompt.
    """

    degree: int = 2
    path_length: int = 5
    n_nodes: int = 50
    reverse: bool = False
    teacherless: bool = False
    tokenizer: Tokenizer = field(init=False, repr=False, compare=False)

    dummy = "$"

    def __post_init__(self):
        checks.integer("degree", self.degree, 1, len(NODE_CHARS))
        checks.integer("path_length", self.path_length, 2, len(NODE_CHARS))
        checks.integer("n_nodes", self.n_nodes, 2, len(NODE_CHARS))
        for name in ("reverse", "teacherless"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool, got {type(getattr(self, name)).__name__}")
        needed = 1 + self.degree * (self.path_length - 1)
        if needed > self.n_nodes:
            raise ValueError(
                f"n_nodes must be >= 1 + degree*(path_length-1) = {needed} to label every node, got {self.n_nodes}"
            )
        object.__setattr__(self, "tokenizer", Tokenizer(NODE_CHARS[: self.n_nodes] + ",|/=$"))

    def _draw(self, rng: random.Random) -> Example:
        d, l = self.degree, self.path_length
        labels = [NODE_CHARS[i] for i in rng.sample(range(self.n_nodes), 1 + d * (l - 1))]
        start, rest = labels[0], labels[1:]
        arms = [[start, *rest[a * (l - 1) : (a + 1) * (l - 1)]] for a in range(d)]  # d lists of l nodes
        edges = [(arm[i], arm[i + 1]) for arm in arms for i in range(l - 1)]
        rng.shuffle(edges)
        path = arms[rng.randrange(d)]
        goal = path[-1]
        prompt = "|".join(f"{u},{v}" for u, v in edges) + f"/{start},{goal}="
        target = ",".join(reversed(path) if self.reverse else path)
        return Example(prompt, target)

    def _longest(self) -> Example:
        return self._draw(random.Random(0))  # every example has the same length
