"""Chapter 7, *Learning from your own answers*: seven ways to train chapter 3's model further, arms ×
seeds, every arm from the same start and at the same budget, measured on held-out problems.

The start of a seed is chapter 3's recipe (two stages of teacher forcing) trained on the training
split of the addition problems (``split="train"``), with the seed's own weights and data. From it:

- ``teacher forcing``: more of the same (the control: is any gain just more training?);
- ``scheduled sampling``: chapter 6's two-pass scheduled sampling, the linear schedule reaching
  ``p = 0.5`` at 60% of the fine-tuning;
- ``correction data``: teacher forcing on chains of which a share carries a planted slip followed by
  the retraction marker and the right line (:meth:`~handbook_utils.tasks.AdditionChainTask.with_correction`);
- ``REINFORCE``: one sampled answer per slot, exact-match reward, running-mean baseline;
- ``group, exact`` and ``group, chain``: group-relative advantages over ``group_size`` answers per
  question, rewarded by exact match or by the chain check's partial credit;
- ``DAgger``: the model's own answers, labelled at every position by the consistent expert
  (:meth:`~handbook_utils.tasks.AdditionChainTask.oracle_next`).

Equal budget: every arm takes ``steps`` optimizer steps on ``questions × group_size`` answers per step
(teacher-forcing arms: that many gold chains; sampling arms: that many of the model's own answers),
with the same optimizer at a constant learning rate, and every arm runs at each of the setting's
``lrs`` (a policy gradient is noisy, and Adam scales a noisy gradient up to full-size steps, so the
learning rate that suits teacher forcing need not suit the others). The cost per step differs, and
every cell records its wall time.

Every module this one imports, and this module, decide the numbers of ``results/ch07_<setting>.json``
(:mod:`handbook_utils.experiments` declares them); the figures and tables live in :mod:`.ch07_figures`.
"""

from __future__ import annotations

import copy
import dataclasses
import random
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .. import checks
from ..generation import fit_to_context, generate_ids
from ..metrics import evaluate, inject_error_and_continue
from ..recipes import Recipe, addition_recipe
from ..rl import finetune
from ..runtime import cpu_threads, eval_mode
from ..schedules import solve_schedule
from ..strategies import ScheduledSampling, Strategy, TeacherForcing
from ..tasks import AdditionChainTask, Example
from ..training import train

ARMS = ("teacher forcing", "scheduled sampling", "correction data", "REINFORCE", "group, exact", "group, chain",
        "DAgger")
FINETUNE = {"REINFORCE": ("reinforce", "exact"), "group, exact": ("group", "exact"),
            "group, chain": ("group", "chain"), "DAgger": ("dagger", "exact")}
"""Arms trained by :func:`handbook_utils.rl.finetune`: ``(method, reward)``."""


@dataclass(frozen=True)
class CorrectionData(AdditionChainTask):
    """Addition chains of which a share ``rate`` carries a planted slip and its correction.

    Slips are planted only where the corrected chain still fits the context of a model sized for the
    plain task (:attr:`max_len` is the plain task's), so the model of chapter 3 can train on it as is.
    """

    rate: float = 0.5

    def __post_init__(self):
        super().__post_init__()
        checks.probability("rate", self.rate)

    def _draw(self, rng: random.Random) -> Example:
        example = super()._draw(rng)
        if rng.random() < self.rate:
            return self.with_correction(example, rng, max_length=self.max_len)
        return example


@dataclass(frozen=True)
class OwnAnswersSetting:
    """Everything that sizes chapter 7's comparison: the start, the arms' budget, the measurements."""

    name: str
    seeds: tuple[int, ...]
    steps: int = 300
    questions: int = 8  # questions per step ...
    group_size: int = 4  # ... times answers per question = answers trained on per step, every arm
    lrs: tuple[float, ...] = (1e-5, 1e-4)
    temperature: float = 1.0
    correction_rate: float = 0.5
    test_share: float = 0.25
    start_size: str = "quick"  # chapter 3's recipe at this size ...
    start_steps: tuple[int, int] | None = None  # ... with its two stages' steps, unless given here (tests)
    eval_n: int = 512
    eval_seed: int = 2024
    long_terms: int = 6  # "long chains": the task's longest, measured on their own
    injection_n: int = 256
    injection_position: int = 12  # the first digit at or after this character of the answer
    injection_seed: int = 777
    diversity_n: int = 64  # questions whose answers are sampled ``diversity_samples`` times
    diversity_samples: int = 8
    arms: tuple[str, ...] = ARMS

    def __post_init__(self):
        checks.grid(self.seeds, self.arms, ARMS)
        for name in ("steps", "questions", "eval_n", "injection_n", "diversity_n"):
            checks.positive_int(name, getattr(self, name))
        checks.integer("group_size", self.group_size, 2, 64)
        checks.integer("diversity_samples", self.diversity_samples, 2, 64)
        if not self.lrs or len(set(self.lrs)) != len(self.lrs):
            raise ValueError(f"lrs must hold at least one learning rate, none twice, got {self.lrs!r}")
        for lr in self.lrs:
            checks.number("lrs[i]", lr, 0.0, 1.0, lo_open=True)
        checks.positive("temperature", self.temperature)
        checks.probability("correction_rate", self.correction_rate)
        if self.start_steps is not None:
            if len(self.start_steps) != 2:
                raise ValueError(f"start_steps must be (stage 1 steps, stage 2 steps), got {self.start_steps!r}")
            for n in self.start_steps:
                checks.positive_int("start_steps[i]", n)
        self.start(self.seeds[0])  # the size and the task checked there
        checks.integer("long_terms", self.long_terms, *self.task().n_terms)

    # ---------------------------------------------------------------- the start and the tasks

    def task(self, split: str = "train") -> AdditionChainTask:
        base = addition_recipe(self.start_size).task
        return dataclasses.replace(base, split=split, test_share=self.test_share)

    def start(self, seed: int) -> Recipe:
        """Chapter 3's recipe on the training split, with ``seed``'s weights and data (seed 0: its seeds)."""
        checks.seed("seed", seed)
        base = addition_recipe(self.start_size)
        task = self.task()
        steps = self.start_steps or (base.init.steps, base.steps)
        first = base.init.replace(task=task, model_seed=seed, seed=2 * seed, steps=steps[0])
        return base.replace(name=f"ch07-start-{self.start_size}", task=task, init=first, model_seed=seed,
                            seed=2 * seed + 1, steps=steps[1])

    @property
    def answers_per_step(self) -> int:
        return self.questions * self.group_size

    def strategy(self) -> Strategy:
        schedule = solve_schedule("linear", 0.5, 0.6, 100.0)
        return ScheduledSampling(schedule, mode="parallel", passes=1, mix="sample")


@dataclass(frozen=True)
class Cell:
    """One arm, learning rate and seed of a setting: the unit the grid runner hands to a worker."""

    setting: OwnAnswersSetting
    arm: str
    lr: float
    seed: int

    def label(self) -> dict:
        return {"arm": self.arm, "lr": self.lr, "seed": self.seed}

    @property
    def cost(self) -> float:
        """Relative cost: sampling arms generate their answers token by token first (about 2.5 steps)."""
        return self.setting.steps * (2.5 if self.arm in FINETUNE else 1.0)


def cells(setting: OwnAnswersSetting) -> list[Cell]:
    """Every arm × learning rate × seed of ``setting``."""
    return [Cell(setting, arm, lr, seed) for seed in setting.seeds for arm in setting.arms for lr in setting.lrs]


# --------------------------------------------------------------------------------------------
# Training one arm


def train_arm(model, setting: OwnAnswersSetting, arm: str, lr: float, seed: int, *, progress: bool = False) -> float:
    """Train ``model`` (a copy of the start) in place the ``arm`` way at ``lr``; returns the training wall time (s)."""
    checks.one_of("arm", arm, ARMS)
    checks.number("lr", lr, 0.0, 1.0, lo_open=True)
    s, task = setting, setting.task()
    if arm in FINETUNE:
        method, reward = FINETUNE[arm]
        group = 1 if method == "reinforce" else s.group_size
        history = finetune(model, task, method=method, steps=s.steps, seed=seed, reward=reward, lr=lr,
                           batch_size=s.answers_per_step // group, group_size=group, temperature=s.temperature,
                           progress=progress)
        return history.wall_time_s
    if arm == "correction data":
        task = CorrectionData(n_terms=task.n_terms, max_value=task.max_value, split="train",
                              test_share=s.test_share, rate=s.correction_rate)
    strategy = s.strategy() if arm == "scheduled sampling" else TeacherForcing()
    history = train(model, task, strategy, steps=s.steps, batch_size=s.answers_per_step, lr=lr,
                    seed=1000 + seed, lr_schedule="constant", steps_per_epoch=s.steps / 100, cache=False,
                    progress=progress)
    return history.wall_time_s


# --------------------------------------------------------------------------------------------
# Measuring one model


@torch.no_grad()
def written_answers(model, task: AdditionChainTask, examples, *, greedy: bool = True, temperature: float = 1.0,
                    generator: torch.Generator | None = None) -> list[str]:
    """The model's answers with room past the gold length (a correction needs it): the chain check's input."""
    tok = task.tokenizer
    prompts = [tok.encode(e.prompt) for e in examples]
    budgets = fit_to_context(model, prompts, [task.generation_budget(len(e.target)) for e in examples])
    rows = generate_ids(model, prompts, budgets, greedy=greedy, temperature=temperature,
                        stop_sequences=[[tok.eos_id]], generator=generator)
    return [tok.decode(r) for r in rows]


@torch.no_grad()
def diversity(model, start, task: AdditionChainTask, n: int, samples: int, seed: int) -> dict:
    """Sampled answers (temperature 1) to ``n`` questions, ``samples`` each: how many distinct answers per
    question, the policy's mean entropy per answer token, and its mean KL to the start model there."""
    questions = task.sample(n, seed)
    examples = [e for e in questions for _ in range(samples)]
    outputs = written_answers(model, task, examples, greedy=False, generator=torch.Generator().manual_seed(seed))
    tok = task.tokenizer
    seqs = [tok.encode(e.prompt) + tok.encode(o) for e, o in zip(examples, outputs)]
    L = max(map(len, seqs))
    ids = torch.full((len(seqs), L), tok.pad_id, dtype=torch.long)
    mask = torch.zeros(len(seqs), L - 1, dtype=torch.bool)  # (N, L-1): position t reads the answer so far
    for i, (e, s) in enumerate(zip(examples, seqs)):
        ids[i, : len(s)] = torch.tensor(s)
        mask[i, len(e.prompt) - 1 : len(s) - 1] = True
    with eval_mode(model), eval_mode(start):
        logp = F.log_softmax(model(ids[:, :-1]).float(), -1)  # (N, L-1, V)
        ref = F.log_softmax(start(ids[:, :-1]).float(), -1)
    p = logp.exp()
    entropy = -(p * logp).sum(-1)  # (N, L-1)
    kl = (p * (logp - ref)).sum(-1)
    distinct = [len(set(outputs[i * samples : (i + 1) * samples])) for i in range(n)]
    return {"distinct_answers": sum(distinct) / (n * samples),
            "entropy": float(entropy[mask].mean()), "kl_to_start": float(kl[mask].mean())}


def measure(model, start, setting: OwnAnswersSetting) -> dict:
    """Every number of the chapter's table, on held-out problems (the test split).

    ``exact_match`` and ``tf_loss`` as :func:`~handbook_utils.metrics.evaluate` reports them (greedy,
    gold length); with room for a correction, ``answer_correct``, ``chain_valid`` (every kept line
    follows from the one before) and ``false_alarms`` (answers that withdrew a right line);
    ``long_failure``: answers not exactly right on ``long_terms``-term chains. After one injected
    wrong digit: ``noticed`` (the slip withdrawn), ``valid_recovery`` (right answer through a valid
    kept chain, which needs the slip withdrawn), ``right_invalid_notes`` (right answer, invalid chain)
    and ``followed_error`` (the slip's answer). Then :func:`diversity`.
    """
    s = setting
    test = s.task("test")
    ev = evaluate(model, test, s.eval_n, s.eval_seed)
    examples = test.sample(s.eval_n, s.eval_seed)
    checked = [test.check_chain(e.prompt, o) for e, o in zip(examples, written_answers(model, test, examples))]
    long = dataclasses.replace(test, n_terms=(s.long_terms, s.long_terms))
    long_ev = evaluate(model, long, s.eval_n, s.eval_seed)
    inj = inject_error_and_continue(model, test, s.injection_n, s.injection_position, s.injection_seed)
    after = [test.check_chain(x.prompt, x.output) for x in inj.examples]
    k = max(len(after), 1)
    return {
        "exact_match": ev.exact_match,
        "tf_loss": ev.tf_loss,
        "answer_correct": sum(c.answer_correct for c in checked) / len(checked),
        "chain_valid": sum(c.chain_valid for c in checked) / len(checked),
        "false_alarms": sum(c.retractions > c.slips_retracted for c in checked) / len(checked),
        "long_failure": 1.0 - long_ev.exact_match,
        "recovery": inj.recovery_rate,
        "noticed": sum(c.slips_retracted > 0 for c in after) / k,
        "valid_recovery": sum(c.answer_correct and c.chain_valid for c in after) / k,
        "right_invalid_notes": sum(c.answer_correct and not c.chain_valid for c in after) / k,
        "followed_error": inj.followed_error_rate,
        "held_out": all(test.held_out(e) for e in examples),
        **diversity(model, start, test, s.diversity_n, s.diversity_samples, s.eval_seed + 1),
    }


# --------------------------------------------------------------------------------------------
# One cell

_STARTS: dict = {}  # per worker process: the last start used, and its measurements


def start_model(setting: OwnAnswersSetting, seed: int, *, cache: bool = True):
    """The trained start of ``seed`` and its measurements. The start comes from the model cache when
    this code trained it before (the cache key covers the package's code, so a cached start is the one
    a fresh run would train); a worker also keeps the last one in memory."""
    recipe = setting.start(seed)
    key = repr((recipe, setting, cache))
    if key not in _STARTS:
        _STARTS.clear()
        trained = recipe.run(cache=cache, progress=False, threads=1)
        _STARTS[key] = (trained, measure(trained.model, trained.model, setting))
    return _STARTS[key]


def run_cell(cell: Cell) -> dict:
    """Train the start of the cell's seed (or reuse it), then the arm, and measure both."""
    checks.instance("cell", cell, Cell)
    begin = time.perf_counter()
    s = cell.setting
    with cpu_threads(1):
        start, before = start_model(s, cell.seed)
        model = copy.deepcopy(start.model)
        train_time = train_arm(model, s, cell.arm, cell.lr, cell.seed)
        out = measure(model, start.model, s)
    out["start"] = dict(before)
    out["start_train_loss"] = float(sum(start.history.losses[-20:]) / len(start.history.losses[-20:]))
    out["train_time_s"] = train_time
    out["step_time_s"] = train_time / s.steps
    out["wall_time_s"] = time.perf_counter() - begin
    return out


# --------------------------------------------------------------------------------------------
# Settings

SETTINGS: dict[str, OwnAnswersSetting] = {
    # full: what results/ch07_full.json holds (python -m handbook_utils.experiments run ch07).
    "full": OwnAnswersSetting(name="full", seeds=(0, 1, 2, 3, 4)),
    # smoke: seconds, for the tests.
    "smoke": OwnAnswersSetting(name="smoke", seeds=(0,), steps=2, questions=2, group_size=2, lrs=(1e-4,), eval_n=8,
                               injection_n=8, diversity_n=2, diversity_samples=2, start_steps=(3, 3),
                               arms=("teacher forcing", "group, chain")),
}
