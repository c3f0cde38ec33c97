"""Arms of the comparison (chapter 6): one way of training each. (How each is drawn lives in
:mod:`.figures`, so that the code the stored results depend on holds no plotting.)"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ... import checks
from ...recipes import Recipe
from ...schedules import solve_schedule
from ...strategies import AlwaysSampling, Draws, ScheduledSampling, Strategy, TeacherForcing, check_batch
from ...tasks import Batch, CurriculumTask


@dataclass(frozen=True)
class Arm:
    """One way of training: a ``strategy``, on a curriculum when ``curriculum_full_at`` is set."""

    name: str
    strategy: Strategy
    curriculum_full_at: float | None = None  # epoch from which the curriculum shows the full task

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise TypeError("name must be a non-empty str")
        checks.instance("strategy", self.strategy, Strategy, "handbook_utils.strategies.Strategy instance")

    def recipe(self, base: Recipe, seed: int) -> Recipe:
        """``base`` trained this arm's way, with ``seed`` for both the weights and the data."""
        if not isinstance(base, Recipe):
            raise TypeError(f"base must be a Recipe, got {type(base).__name__}")
        task = base.task
        if self.curriculum_full_at is not None:
            task = CurriculumTask.wrap(task, self.curriculum_full_at)
        return base.replace(strategy=self.strategy, task=task, model_seed=seed, seed=seed)


@dataclass(frozen=True)
class UniformNoise(ScheduledSampling):
    """Bengio et al.'s control: scheduled sampling's coins, but random tokens instead of the model's.

    Where a coin says "feed the model's token", this feeds a token drawn uniformly from those that
    occur as targets in the batch (digits, ``+``, ``=``, the markup): in range, but uninformed by
    the model. If scheduled sampling helps only as noise on the inputs, this arm helps as much; a
    gain over it is a gain from the model's own tokens. One pass with gradient, no prediction pass.
    """

    mode: str = "parallel"

    def forward(self, model, batch: Batch, epoch: float = 0.0, generator: torch.Generator | None = None):
        """``(logits (B, T, V), fed inputs (B, T))`` on the noised input."""
        check_batch(model, batch)
        draws = Draws.sample(batch, model.vocab_size, self.probability(epoch), "argmax", generator)
        gold = batch.inputs  # (B, T)
        in_range = batch.targets[batch.loss_mask].unique()  # (K,) token ids the answers use
        device = gold.device if generator is None else generator.device
        pick = torch.randint(len(in_range), gold.shape, generator=generator, device=device).to(gold.device)
        noise = in_range[pick]  # (B, T)
        x = torch.where(draws.use_model, noise, gold)  # replaceable inputs only (Draws.sample)
        return model(x), x


ARM_NAMES: tuple[str, ...] = (
    "teacher forcing", "SS linear", "SS exponential", "SS inverse sigmoid", "SS inverse sigmoid, ½ at 30%",
    "SS inverse sigmoid, ½ at 90%", "free running", "one-pass guesses", "uniform noise", "curriculum",
)
"""Every arm the comparison knows, in table order."""

QUICK_ARMS: tuple[str, ...] = ("teacher forcing", "SS linear", "SS inverse sigmoid", "one-pass guesses",
                               "uniform noise", "curriculum")
"""The arms of the live quick grid (free running steps through every token, too slow for a page)."""


def make_arm(name: str, *, total_epochs: float = 100.0, p: float = 0.5, at_fraction: float = 0.6,
             width_fraction: float = 0.1) -> Arm:
    """The arm called ``name`` (one of :data:`ARM_NAMES`).

    - ``teacher forcing``: gold inputs everywhere.
    - ``SS linear`` / ``SS exponential`` / ``SS inverse sigmoid``: two-pass scheduled sampling (one
      gradient-free pass makes the model's guesses, the second pass trains on the mixed input), each
      family solved to reach ``p`` at ``at_fraction`` of training (the inverse sigmoid with width
      ``width_fraction`` of training); ``SS inverse sigmoid, ½ at 30%`` and ``… at 90%`` move that
      point (the midpoint sweep).
    - ``free running``: Bengio et al.'s always sampling, done exactly: step by step, every input
      after the prompt is the model's own sampled token given its own earlier tokens.
    - ``one-pass guesses``: every input after the prompt is the model's sampled guess *given the gold
      prefix* (one gradient-free pass with p = 1): not free running, since no guess sees another guess.
    - ``uniform noise``: the inverse-sigmoid arm's coins with random in-range tokens (:class:`UniformNoise`).
    - ``curriculum``: teacher forcing on chains that grow until ``at_fraction`` of training.
    """
    checks.one_of("name", name, ARM_NAMES)

    def ss(kind, at=at_fraction, **kw):
        schedule = solve_schedule(kind, p, at, total_epochs, **kw)
        return ScheduledSampling(schedule, mode="parallel", passes=1, mix="sample")

    b = width_fraction * total_epochs
    strategies = {
        "teacher forcing": lambda: TeacherForcing(),
        "SS linear": lambda: ss("linear"),
        "SS exponential": lambda: ss("exponential"),
        "SS inverse sigmoid": lambda: ss("inverse_sigmoid", b=b),
        "SS inverse sigmoid, ½ at 30%": lambda: ss("inverse_sigmoid", 0.3, b=b),
        "SS inverse sigmoid, ½ at 90%": lambda: ss("inverse_sigmoid", 0.9, b=b),
        "free running": lambda: AlwaysSampling(mode="sequential", mix="sample"),
        "one-pass guesses": lambda: AlwaysSampling(mode="parallel", passes=1, mix="sample"),
        "uniform noise": lambda: UniformNoise(solve_schedule("inverse_sigmoid", p, at_fraction, total_epochs, b=b)),
        "curriculum": lambda: TeacherForcing(),
    }
    full_at = at_fraction * total_epochs if name == "curriculum" else None
    return Arm(name, strategies[name](), curriculum_full_at=full_at)


def default_arms(names: Sequence[str] = QUICK_ARMS, *, total_epochs: float = 100.0, **kw) -> list[Arm]:
    """The arms called ``names`` (default: the quick grid's), built by :func:`make_arm`."""
    return [make_arm(n, total_epochs=total_epochs, **kw) for n in names]
