"""Arms of the comparison (chapter 6): one way of training each, and the colour, marker and line
style each is drawn in (so that the arms differ without colour too)."""

from __future__ import annotations

from dataclasses import dataclass

from ... import checks
from ...plotting import COLORS, PALETTE, SCHEDULE_COLORS, SCHEDULE_MARKERS
from ...recipes import Recipe
from ...schedules import solve_schedule
from ...strategies import AlwaysSampling, ScheduledSampling, Strategy, TeacherForcing
from ...tasks import CurriculumTask


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


def default_arms(
    *,
    total_epochs: float = 100.0,
    p: float = 0.5,
    at_fraction: float = 0.6,
    width_fraction: float = 0.1,
    passes: int = 1,
    mix: str = "sample",
) -> list[Arm]:
    """The six arms of the chapter.

    Teacher forcing; scheduled sampling with each schedule family solved to reach ``p`` at
    ``at_fraction`` of training (the inverse sigmoid with width ``width_fraction`` of training);
    always sampling from the first step; and teacher forcing on a curriculum that shows the full
    task from ``at_fraction`` of training on. Scheduled sampling is the parallel version with
    ``passes`` gradient-free passes.
    """
    def ss(kind, **kw):
        schedule = solve_schedule(kind, p, at_fraction, total_epochs, **kw)
        return ScheduledSampling(schedule, mode="parallel", passes=passes, mix=mix)

    return [
        Arm("teacher forcing", TeacherForcing()),
        Arm("SS linear", ss("linear")),
        Arm("SS exponential", ss("exponential")),
        Arm("SS inverse sigmoid", ss("inverse_sigmoid", b=width_fraction * total_epochs)),
        Arm("always sampling", AlwaysSampling(mode="parallel", passes=passes, mix=mix)),
        Arm("curriculum", TeacherForcing(), curriculum_full_at=at_fraction * total_epochs),
    ]


ARM_COLORS: dict[str, str] = {
    "teacher forcing": COLORS["teacher_forcing"],
    "SS linear": SCHEDULE_COLORS["linear"],
    "SS exponential": SCHEDULE_COLORS["exponential"],
    "SS inverse sigmoid": SCHEDULE_COLORS["inverse_sigmoid"],
    "always sampling": COLORS["free_running"],
    "curriculum": PALETTE[5],
}
"""One colour per arm; the schedules keep the colours of the schedule chapter."""

ARM_STYLES: dict[str, dict[str, str]] = {
    "teacher forcing": dict(marker="D", linestyle="-"),
    "SS linear": dict(marker=SCHEDULE_MARKERS["linear"], linestyle="--"),
    "SS exponential": dict(marker=SCHEDULE_MARKERS["exponential"], linestyle="--"),
    "SS inverse sigmoid": dict(marker=SCHEDULE_MARKERS["inverse_sigmoid"], linestyle="--"),
    "always sampling": dict(marker="v", linestyle=":"),
    "curriculum": dict(marker="P", linestyle="-."),
}
"""One marker and line style per arm, beside its colour: solid for teacher forcing, dashed for the
scheduled-sampling arms (with their family's marker from the schedule chapter), dotted for always
sampling, dash-dot for the curriculum."""


