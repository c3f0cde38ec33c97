"""Chapter 9, *When next-token training fails to learn*: the path-star experiment (Bachmann &
Nagarajan, 2024), arms × seeds, trained on one split of graphs and measured on the other.

Four arms train the same small GPT on the same graphs and differ only in what they are asked to write
or read:

- ``teacher forcing``: the path from start to goal, next-token loss on gold prefixes;
- ``reversed``: the same path written from the goal back to the start;
- ``teacherless``: the forward path, with every answer token of the input replaced by a dummy;
- ``multi-token``: the forward path, with ``n_future - 1`` extra heads scored on the tokens 2 … k
  ahead (Gloeckle et al., 2024); answers are decoded with the next-token head alone.

Every module this one imports, and this module itself, decide the numbers of
``results/ch09_<setting>.json``: the experiment declares them (``handbook_utils.experiments``), so
the chapter's figures and tables live apart, in :mod:`.ch09_figures`, where editing them leaves the
stored numbers valid.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .. import checks
from ..metrics import evaluate
from ..recipes import Recipe
from ..strategies import MultiTokenPrediction, TeacherForcing
from ..tasks import PathStarTask

ARMS = ("teacher forcing", "reversed", "teacherless", "multi-token")
LOSS_POINTS = 40  # the training-loss curve is stored as this many means of consecutive steps


@dataclass(frozen=True)
class PathStarSetting:
    """Everything that sizes chapter 9's experiment: the graphs, the model, the training budget, the seeds.

    Each seed draws its own initial weights and its own training stream; every arm of a seed starts
    from the same initial trunk. Measurements use ``eval_n`` held-out graphs (``split="test"``).
    """

    name: str
    seeds: tuple[int, ...]
    steps: int
    batch_size: int
    lr: float
    model: Mapping[str, Any]
    degree: int = 2
    path_length: int = 5
    n_nodes: int = 50
    # The multi-token arm predicts tokens t+1 … t+n_future. With commas between nodes, 3 is the least
    # that asks for a node the cheat cannot copy: from the comma after the start, the node after n1.
    n_future: int = 3
    warmup_steps: int = 0
    weight_decay: float = 0.0
    eval_n: int = 1000
    eval_seed: int = 2024
    arms: tuple[str, ...] = ARMS

    def __post_init__(self):
        checks.grid(self.seeds, self.arms, ARMS)
        checks.integer("n_future", self.n_future, 2)
        object.__setattr__(self, "model", dict(self.model))
        self.task(self.arms[0])  # degree, path_length, n_nodes checked by the task

    def task(self, arm: str, split: str = "train") -> PathStarTask:
        checks.one_of("arm", arm, ARMS)
        return PathStarTask(degree=self.degree, path_length=self.path_length, n_nodes=self.n_nodes,
                            reverse=arm == "reversed", teacherless=arm == "teacherless", split=split)

    def recipe(self, arm: str, seed: int) -> Recipe:
        """The training run of ``arm`` and ``seed``: a Recipe, so it trains like every model of the book."""
        model = dict(self.model, n_future=self.n_future) if arm == "multi-token" else dict(self.model)
        train = dict(steps=self.steps, batch_size=self.batch_size, lr=self.lr, seed=seed,
                     warmup_steps=self.warmup_steps, weight_decay=self.weight_decay)
        strategy = MultiTokenPrediction() if arm == "multi-token" else TeacherForcing()
        return Recipe(name=f"ch09-{self.name}-{arm}", task=self.task(arm), model=model, train=train,
                      strategy=strategy, model_seed=seed)


@dataclass(frozen=True)
class Cell:
    """One arm and one seed of a setting: the unit the grid runner hands to a worker."""

    setting: PathStarSetting
    arm: str
    seed: int

    def label(self) -> dict:
        return {"arm": self.arm, "seed": self.seed}

    @property
    def cost(self) -> float:
        """Relative cost: an extra head costs about a third of a trunk pass more per step."""
        heads = self.setting.n_future if self.arm == "multi-token" else 1
        return self.setting.steps * (1 + (heads - 1) / 3)


def cells(setting: PathStarSetting) -> list[Cell]:
    """Every arm × seed of ``setting``, arm by arm."""
    return [Cell(setting, arm, seed) for arm in setting.arms for seed in setting.seeds]


# --------------------------------------------------------------------------------------------
# Measuring one trained model


def measure(model, task: PathStarTask, n: int, seed: int) -> dict:
    """Accuracy of ``model`` on ``n`` held-out graphs of ``task`` (its ``split="test"`` twin).

    Per path step (0 = start, 1 = the first decision, ``path_length - 1`` = goal), in path order
    whatever the direction the arm writes in: ``step_tf`` with gold prefixes, ``step_free`` with the
    model's own. ``first_*`` is step 1; ``later_*`` the mean over the steps strictly between the first
    decision and the goal (the ones the shortcut can copy). ``valid_path`` is the share of free-running
    answers that follow edges of the graph from start to a leaf, right or wrong.
    """
    test = dataclasses.replace(task, split="test")
    ev = evaluate(model, test, n, seed)
    length = task.path_length
    step_tf = [ev.per_position_tf_accuracy[task.node_index(k)] for k in range(length)]
    step_free = [ev.per_position_free_accuracy[task.node_index(k)] for k in range(length)]
    later = list(range(2, length - 1)) or [length - 1]
    return {
        "exact_match": ev.exact_match,
        "first_tf": step_tf[1],
        "first_free": step_free[1],
        "later_tf": float(np.mean([step_tf[k] for k in later])),
        "later_free": float(np.mean([step_free[k] for k in later])),
        "valid_path": valid_path_share(task, test.sample(n, seed), ev.free_running_outputs),
        "tf_loss": ev.tf_loss,
        "step_tf": step_tf,
        "step_free": step_free,
    }


def training_problems(recipe: Recipe) -> list:
    """Every training example ``recipe`` draws, in order: the stream ``training.train`` samples from
    (one ``torch.Generator(seed)`` picks each step's data seed), rebuilt without training. Chapter 9
    counts how many held-out problems it contains; a test checks it against a real training run."""
    rng = torch.Generator().manual_seed(recipe.train["seed"])
    steps, batch = recipe.train["steps"], recipe.train["batch_size"]
    out = []
    for _ in range(steps):
        out += recipe.task.sample(batch, int(torch.randint(0, 2**31 - 1, (1,), generator=rng)))
    return out


def valid_path_share(task: PathStarTask, examples, outputs) -> float:
    """Share of ``outputs`` (answers as written, in ``task``'s direction) that run along an arm of their
    example's graph from the start to a leaf: a well-formed walk, whether or not it reaches the goal."""
    if len(examples) != len(outputs) or not examples:
        raise ValueError("examples and outputs must be non-empty and of the same length")
    valid = 0
    for example, output in zip(examples, outputs):
        nodes = output.split(",")[::-1] if task.reverse else output.split(",")
        valid += tuple(nodes) in task.parse(example).arms
    return valid / len(examples)


def loss_curve(losses, points: int = LOSS_POINTS) -> list[float]:
    """``points`` means of consecutive chunks of the per-step training loss."""
    chunks = np.array_split(np.asarray(losses, dtype=float), min(points, len(losses)))
    return [float(c.mean()) for c in chunks]


def run_cell(cell: Cell) -> dict:
    """Train one arm and seed (no cache: a spot check must really train) and measure it."""
    checks.instance("cell", cell, Cell)
    start = time.perf_counter()
    trained = cell.setting.recipe(cell.arm, cell.seed).run(cache=False, progress=False, threads=1)
    s = cell.setting
    out = measure(trained.model, trained.task, s.eval_n, s.eval_seed)
    out["loss_curve"] = loss_curve(trained.history.losses)
    out["train_time_s"] = trained.history.wall_time_s
    out["wall_time_s"] = time.perf_counter() - start
    return out


# --------------------------------------------------------------------------------------------
# Settings

# A 3-layer, 64-wide GPT with a token shift of 3: each position also reads the three tokens before
# it, enough to look up "the node after X" in an edge list "…X,Y…" with one attention layer. In our
# pilots the plain model of this size had not learned such lookups within several times this budget.
# With the shift, when the lookups form varies by seed (from about 500 steps to past 1000: two of
# five reversed runs were still half-way at 1000 steps), so every arm gets 2000.
_MODEL = dict(n_layer=3, n_head=4, n_embd=64, token_shift=3)
_TRAIN = dict(steps=2000, batch_size=32, lr=3e-3, warmup_steps=100)

SETTINGS: dict[str, PathStarSetting] = {
    # full: what results/ch09_full.json holds (python -m handbook_utils.experiments run ch09).
    "full": PathStarSetting(name="full", seeds=(0, 1, 2, 3, 4), model=_MODEL, **_TRAIN),
    # smoke: seconds, for the tests of the results store.
    "smoke": PathStarSetting(name="smoke", seeds=(0, 1), steps=6, batch_size=4, lr=1e-3, eval_n=16,
                             model=dict(n_layer=1, n_head=1, n_embd=8), arms=("teacher forcing", "reversed")),
}
