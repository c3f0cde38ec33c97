"""One run of the comparison: train (or load) a model, then measure it (chapter 6).

:func:`run_one` turns a trained model into a :class:`RunResult`: the last evaluation's
teacher-forced and free-running numbers, the survival curve of free-running answers, and recovery
after an injected slip, with the chain check of :meth:`~handbook_utils.tasks.AdditionChainTask.check_chain`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields

from ... import checks
from ...metrics import InjectedExample, inject_error_and_continue
from ...recipes import Recipe, Trained
from ...runtime import cpu_threads
from ...tasks import AdditionChainTask, CurriculumTask
from .arms import Arm
from .settings import ComparisonSetting, get_setting

RESULT_FORMAT = 3  # bump when RunResult changes meaning: stored results are then recomputed


@dataclass
class RunResult:
    """The measurements of one trained model (one arm, one task, one seed)."""

    task: str
    arm: str
    seed: int
    tf_loss: float  # teacher-forced loss per target token
    tf_token_accuracy: float
    exact_match: float  # greedy free-running answer entirely right
    free_token_accuracy: float  # free-running tokens right at their position, over all target tokens
    per_position_free_accuracy: list[float]
    survival: list[float]  # share of free-running answers with no wrong character among the first t + 1
    recovery: float  # final answer right after one injected wrong digit
    followed_error: float  # final answer is the one the injected digit implies
    answer_follows_chain: float  # after the injected slip: final answer = last number of its own chain
    wall_time_s: float  # training time (from the run that trained it)
    eval_steps: list[int] = field(default_factory=list)
    eval_tf_loss: list[float] = field(default_factory=list)
    eval_exact_match: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list, repr=False)  # training loss per step

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping) -> RunResult:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def _token_weights(task, n: int, seed: int) -> list[int]:
    """How many evaluation examples have a target token at each position."""
    lengths = [len(task.encode(e)[1]) for e in task.sample(n, seed)]
    return [sum(t < L for L in lengths) for t in range(max(lengths))]


def survival_curve(first_errors: Sequence[int | None], length: int) -> list[float]:
    """``[S(0), …, S(length − 1)]``: the share of answers whose first wrong character comes after position t.

    ``first_errors`` holds, per answer, the position of its first wrong free-running character
    (``None`` when it is entirely right), as in :class:`~handbook_utils.metrics.Evaluation`. The curve
    falls from the share of answers with a right first character to exact match; where it drops
    is where answers go wrong for good.
    """
    if not first_errors:
        raise ValueError("first_errors must not be empty")
    n = len(first_errors)
    return [sum(e is None or e > t for e in first_errors) / n for t in range(length)]


def chain_agreement(examples: Sequence[InjectedExample]) -> float:
    """Share of injected answers whose final answer repeats the last line of their own chain, among
    those that end in ``…=<number></think><number>`` (nan if none does): a model that uses its notes
    writes what its chain arrived at."""
    checked = (AdditionChainTask.check_chain(e.prompt, e.output) for e in examples)
    verdicts = [c.answer_follows_chain for c in checked if c.answer_follows_chain is not None]
    return sum(verdicts) / len(verdicts) if verdicts else float("nan")


def run_one(
    recipe: Recipe,
    *,
    task_name: str = "",
    arm_name: str = "",
    injection_n: int = 128,
    injection_position: int = 7,
    injection_seed: int = 777,
    cache: bool = True,
) -> RunResult:
    """Train ``recipe`` (or load it from the model cache) and measure it.

    The recipe must evaluate during training (``eval_every``): its last evaluation gives the
    teacher-forced and free-running numbers. Recovery comes from
    :func:`~handbook_utils.metrics.inject_error_and_continue` on ``injection_n`` gold chains.
    """
    checks.instance("recipe", recipe, Recipe)
    if recipe.train.get("eval_every") is None:
        raise ValueError("recipe must evaluate during training: set eval_every")
    with cpu_threads(1):
        trained = recipe.run(cache=cache, progress=False)
        history, model = trained.history, trained.model
        ev = history.final_eval
        task = recipe.task.base if isinstance(recipe.task, CurriculumTask) else recipe.task
        injection = inject_error_and_continue(model, task, injection_n, injection_position, injection_seed)
    weights = _token_weights(task, ev.n, ev.seed)
    free = sum(a * w for a, w in zip(ev.per_position_free_accuracy, weights)) / sum(weights)
    return RunResult(
        task=task_name,
        arm=arm_name,
        seed=int(recipe.train["seed"]),
        tf_loss=ev.tf_loss,
        tf_token_accuracy=ev.tf_token_accuracy,
        exact_match=ev.exact_match,
        free_token_accuracy=free,
        per_position_free_accuracy=list(ev.per_position_free_accuracy),
        survival=survival_curve(ev.first_error_positions, len(ev.per_position_free_accuracy)),
        recovery=injection.recovery_rate,
        followed_error=injection.followed_error_rate,
        answer_follows_chain=chain_agreement(injection.examples),
        wall_time_s=history.wall_time_s,
        eval_steps=[s for s, _ in history.evals],
        eval_tf_loss=[e.tf_loss for _, e in history.evals],
        eval_exact_match=[e.exact_match for _, e in history.evals],
        losses=list(history.losses),
    )


def train_arm(setting: str | ComparisonSetting, task: str, arm: Arm, seed: int) -> Trained:
    """Train (or load) one model of the grid exactly as :func:`run_grid` does; returns ``Trained``."""
    setting = get_setting(setting)
    checks.instance("arm", arm, Arm)
    with cpu_threads(1):
        return arm.recipe(setting.base_recipe(task), seed).run(progress=False)
