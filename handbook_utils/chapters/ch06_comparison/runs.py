"""One run of the comparison: train (or load) a model, then measure it (chapter 6).

:func:`run_one` turns a trained model into a :class:`RunResult`, every number on held-out problems:
the last evaluation's teacher-forced and free-running numbers with the chain check of its answers
(:meth:`~handbook_utils.tasks.AdditionChainTask.check_chain`), the survival curve of free-running
answers, and what the model does after an injected slip, split three ways by :func:`slip_outcome`:
a *valid recovery* (the right answer through lines that correctly continue the true chain), the
*right answer through invalid notes*, or the answer the slip implies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields

from ... import checks
from ...metrics import InjectedExample, inject_error_and_continue
from ...recipes import Recipe, Trained
from ...runtime import cpu_threads
from ...tasks import END_THINK, THINK, AdditionChainTask, CurriculumTask
from .arms import Arm
from .settings import ComparisonSetting, get_setting

RESULT_FORMAT = 4  # bump when RunResult changes meaning: stored results are then recomputed
LOSS_BLOCK = 20  # training losses are stored as means over blocks of this many steps (small files)


@dataclass
class RunResult:
    """The measurements of one trained model (one arm, one task, one seed)."""

    task: str
    arm: str
    seed: int
    tf_loss: float  # teacher-forced loss per target token
    tf_token_accuracy: float
    exact_match: float  # greedy free-running answer entirely right
    chain_valid: float  # free-running: every line of the chain follows from the one before
    answer_correct: float  # free-running: the number after </think> is the true sum
    free_token_accuracy: float  # free-running tokens right at their position, over all target tokens
    per_position_free_accuracy: list[float]
    survival: list[float]  # share of free-running answers with no wrong character among the first t + 1
    recovery: float  # final answer right after one injected wrong digit
    valid_recovery: float  # ... through lines that correctly continue the true chain (slip_outcome)
    right_invalid_notes: float  # ... through lines that do not
    followed_error: float  # final answer is the one the injected digit implies
    answer_follows_chain: float  # after the injected slip: final answer = last number of its own chain
    wall_time_s: float  # training time, with its evaluations (from the run that trained it)
    eval_steps: list[int] = field(default_factory=list)
    eval_tf_loss: list[float] = field(default_factory=list)
    eval_exact_match: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list, repr=False)  # training loss, mean per LOSS_BLOCK steps

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


def slip_outcome(task: AdditionChainTask, example: InjectedExample) -> str:
    """What the model made of one injected slip: ``"valid recovery"``, ``"invalid notes"``,
    ``"followed"`` or ``"wrong"``.

    The chain check judges each line against the line *written* before it, so after a slip even a
    model that silently writes the true next line is marked invalid there. Here the slipped line is
    put back to its gold text first: the answer is a *valid recovery* when it is right and the
    repaired chain is valid, i.e. every line after the slip correctly continues the true chain (the
    slip was ignored, and the notes carry the work). A right answer otherwise came through *invalid
    notes* (lines that follow from neither the slip nor the truth). ``"followed"``: the answer the
    slipped line implies; ``"wrong"``: anything else.
    """
    if example.final_correct:
        texts = task.line_texts(example.output)
        k = example.injected_prefix[len(THINK):].count("=")  # the line the slip sits in
        gold = task.line_texts(task.chain_text(task.terms_of(example.prompt)))
        if k < len(texts) and k < len(gold):
            texts[k] = gold[k]
        tail = example.output[example.output.index(END_THINK):] if END_THINK in example.output else ""
        repaired = THINK + "=".join(texts) + tail
        return "valid recovery" if task.check_chain(example.prompt, repaired).chain_valid else "invalid notes"
    return "followed" if example.followed_error else "wrong"


def _share(flags) -> float:
    flags = list(flags)
    return sum(flags) / len(flags) if flags else float("nan")


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
    teacher-forced and free-running numbers, on held-out problems (``task.held_out_task()``).
    Recovery comes from :func:`~handbook_utils.metrics.inject_error_and_continue` on ``injection_n``
    held-out gold chains, each outcome sorted by :func:`slip_outcome`.
    """
    checks.instance("recipe", recipe, Recipe)
    if recipe.train.get("eval_every") is None:
        raise ValueError("recipe must evaluate during training: set eval_every")
    with cpu_threads(1):
        trained = recipe.run(cache=cache, progress=False)
        history, model = trained.history, trained.model
        ev = history.final_eval
        task = recipe.task.base if isinstance(recipe.task, CurriculumTask) else recipe.task
        task = task.held_out_task()
        injection = inject_error_and_continue(model, task, injection_n, injection_position, injection_seed)
    weights = _token_weights(task, ev.n, ev.seed)
    free = sum(a * w for a, w in zip(ev.per_position_free_accuracy, weights)) / sum(weights)
    checked = [task.check_chain(e.prompt, o) for e, o in zip(task.sample(ev.n, ev.seed), ev.free_running_outputs)]
    outcomes = [slip_outcome(task, e) for e in injection.examples]
    losses = list(history.losses)
    blocks = [losses[i : i + LOSS_BLOCK] for i in range(0, len(losses), LOSS_BLOCK)]
    return RunResult(
        task=task_name,
        arm=arm_name,
        seed=int(recipe.train["seed"]),
        tf_loss=ev.tf_loss,
        tf_token_accuracy=ev.tf_token_accuracy,
        exact_match=ev.exact_match,
        chain_valid=_share(c.chain_valid for c in checked),
        answer_correct=_share(c.answer_correct for c in checked),
        free_token_accuracy=free,
        per_position_free_accuracy=list(ev.per_position_free_accuracy),
        survival=survival_curve(ev.first_error_positions, len(ev.per_position_free_accuracy)),
        recovery=injection.recovery_rate,
        valid_recovery=_share(o == "valid recovery" for o in outcomes),
        right_invalid_notes=_share(o == "invalid notes" for o in outcomes),
        followed_error=injection.followed_error_rate,
        answer_follows_chain=chain_agreement(injection.examples),
        wall_time_s=history.wall_time_s,
        eval_steps=[s for s, _ in history.evals],
        eval_tf_loss=[e.tf_loss for _, e in history.evals],
        eval_exact_match=[e.exact_match for _, e in history.evals],
        losses=[sum(b) / len(b) for b in blocks],
    )


def train_arm(setting: str | ComparisonSetting, task: str, arm: Arm, seed: int) -> Trained:
    """Train (or load) one model of the grid exactly as :func:`run_grid` does; returns ``Trained``."""
    setting = get_setting(setting)
    checks.instance("arm", arm, Arm)
    with cpu_threads(1):
        return arm.recipe(setting.base_recipe(task), seed).run(progress=False)
