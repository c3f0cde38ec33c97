"""Bachmann & Nagarajan's path-star graph (2024): a task where teacher forcing learns a "Clever Hans"
shortcut and never learns the first step. Used by chapter 9 (where next-token training fails to learn).

Besides the task itself, this module holds the pure pieces chapter 9 draws and measures with:
:meth:`PathStarTask.parse` (an example back into a graph), :meth:`PathStarTask.layout` (where to draw
each node), the index of the one hard token in the target (:meth:`PathStarTask.first_step_index`),
and a held-out split of graphs by hash (``split="train"``/``"test"``), so no test graph can ever
appear in the training stream.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass, field

from .. import checks
from .base import SPLITS, Example, Task, Tokenizer

NODE_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class PathStarGraph:
    """One parsed problem: the edges as listed, the query, and the answer path from start to goal."""

    edges: tuple[tuple[str, str], ...]  # in the (shuffled) order of the prompt
    start: str
    goal: str
    path: tuple[str, ...]  # start, n1, ..., goal: always in the forward direction

    @property
    def arms(self) -> list[tuple[str, ...]]:
        """Every arm from the start node to its leaf (the answer path is one of them)."""
        succ = dict((u, v) for u, v in self.edges if u != self.start)
        arms = []
        for u, v in self.edges:
            if u == self.start:
                arm = [u, v]
                while arm[-1] in succ:
                    arm.append(succ[arm[-1]])
                arms.append(tuple(arm))
        return sorted(arms, key=lambda a: a != self.path)  # the answer first


def graph_bucket(edges, start: str, goal: str) -> float:
    """A number in [0, 1) fixed by the problem (the edge *set*, start and goal), not by the order the
    edges are listed in: the held-out split compares it with ``test_share``."""
    canonical = f"{start}>{goal}:" + "|".join(sorted(f"{u},{v}" for u, v in edges))
    return int(hashlib.sha256(canonical.encode()).hexdigest()[:12], 16) / 16**12


@dataclass(frozen=True)
class PathStarTask(Task):
    """Bachmann & Nagarajan (2024): find the arm of a star graph that leads from ``s`` to ``g``.

    A start node has ``degree`` arms of ``path_length`` nodes each (counting the start); node labels
    are distinct, drawn from ``n_nodes`` values (one character each), and the edge list is shuffled.
    Prompt ``u,v|u,v|…/s,g=``, target the path ``s,n1,…,g``. ``reverse=True`` writes the path from
    ``g`` back to ``s`` (which makes it easy: every node has one predecessor); ``teacherless=True``
    hides the target from the input behind the dummy ``$`` so the model must plan the whole path from
    the prompt. ``split="train"`` or ``"test"`` keeps only the problems whose :func:`graph_bucket` is
    at or above / below ``test_share``: the two splits can never share a problem.
    """

    degree: int = 2
    path_length: int = 5
    n_nodes: int = 50
    reverse: bool = False
    teacherless: bool = False
    split: str = "all"
    test_share: float = 0.1
    tokenizer: Tokenizer = field(init=False, repr=False, compare=False)

    dummy = "$"

    def __post_init__(self):
        checks.integer("degree", self.degree, 2, len(NODE_CHARS))  # one arm has no decision to make
        checks.integer("path_length", self.path_length, 2, len(NODE_CHARS))
        checks.integer("n_nodes", self.n_nodes, 3, len(NODE_CHARS))
        checks.boolean("reverse", self.reverse)
        checks.boolean("teacherless", self.teacherless)
        checks.one_of("split", self.split, SPLITS)
        checks.number("test_share", self.test_share, 0.0, 1.0, lo_open=True, hi_open=True)
        needed = 1 + self.degree * (self.path_length - 1)
        if needed > self.n_nodes:
            raise ValueError(
                f"n_nodes must be >= 1 + degree*(path_length-1) = {needed} to label every node, got {self.n_nodes}"
            )
        object.__setattr__(self, "tokenizer", Tokenizer(NODE_CHARS[: self.n_nodes] + ",|/=$"))

    def _graph(self, rng: random.Random) -> PathStarGraph:
        d, k = self.degree, self.path_length - 1  # k edges per arm
        labels = [NODE_CHARS[i] for i in rng.sample(range(self.n_nodes), 1 + d * k)]
        start, rest = labels[0], labels[1:]
        arms = [[start, *rest[a * k : (a + 1) * k]] for a in range(d)]  # d lists of path_length nodes
        edges = [(arm[i], arm[i + 1]) for arm in arms for i in range(k)]
        rng.shuffle(edges)
        path = arms[rng.randrange(d)]
        return PathStarGraph(tuple(edges), start, path[-1], tuple(path))

    def in_split(self, graph: PathStarGraph) -> bool:
        if self.split == "all":
            return True
        held_out = graph_bucket(graph.edges, graph.start, graph.goal) < self.test_share
        return held_out == (self.split == "test")

    def _draw(self, rng: random.Random) -> Example:
        graph = self._graph(rng)
        while not self.in_split(graph):  # rejection: about 1 / share draws per kept problem
            graph = self._graph(rng)
        return self.example(graph)

    def example(self, graph: PathStarGraph) -> Example:
        """The prompt and target of ``graph`` in this task's format (forward or reversed path)."""
        prompt = "|".join(f"{u},{v}" for u, v in graph.edges) + f"/{graph.start},{graph.goal}="
        return Example(prompt, ",".join(reversed(graph.path) if self.reverse else graph.path))

    def _longest(self) -> Example:
        return self._draw(random.Random(0))  # every example has the same length

    # ---------------------------------------------------------------- reading examples back

    def parse(self, example: Example) -> PathStarGraph:
        """The graph, query and answer path of ``example`` (the inverse of :meth:`example`)."""
        checks.instance("example", example, Example)
        listing, query = example.prompt.rstrip("=").split("/")
        start, goal = query.split(",")
        edges = tuple(tuple(e.split(",")) for e in listing.split("|"))
        path = tuple(example.target.split(","))
        return PathStarGraph(edges, start, goal, path[::-1] if self.reverse else path)

    def node_index(self, step: int) -> int:
        """Target character index of path node ``step`` (0 = start, path_length-1 = goal)."""
        checks.integer("step", step, 0, self.path_length - 1)
        return 2 * (self.path_length - 1 - step if self.reverse else step)

    def first_step_index(self) -> int:
        """Target character index of ``n1``, the node after the start: the one decision of the task."""
        return self.node_index(1)

    def node_indices(self) -> list[int]:
        """Target character indices of the path nodes, in writing order (commas excluded)."""
        return list(range(0, 2 * self.path_length - 1, 2))

    def layout(self, graph: PathStarGraph) -> dict[str, tuple[float, float]]:
        """Where to draw each node: the start at the centre, arm ``a`` along the angle ``2πa/d``, the
        answer arm pointing right (x grows with the distance from the start)."""
        checks.instance("graph", graph, PathStarGraph)
        pos = {graph.start: (0.0, 0.0)}
        for a, arm in enumerate(graph.arms):
            angle = 2 * math.pi * a / len(graph.arms)
            for r, node in enumerate(arm[1:], start=1):
                pos[node] = (r * math.cos(angle), r * math.sin(angle))
        return pos

