"""Chapter 8, *Gradients through the choice*: scheduled sampling with relaxed tokens, arms × tasks ×
seeds, trained on one split of the addition problems and measured on the other.

Six arms train the same small GPT with chapter 6's two-pass scheduled sampling and differ only in
what a replaced input is, and whether the loss may train the first pass through it:

- ``teacher forcing``: gold inputs everywhere (the reference);
- ``hard tokens``: chapter 6's two-pass scheduled sampling, a sampled token, no gradient through it;
- ``expected, stopped``: the expected embedding under the first pass's softmax, as a constant;
- ``expected, through``: the same, with the gradient flowing back into the first pass;
- ``Gumbel, through``: a Gumbel-softmax sample (soft in both passes), gradient flowing;
- ``straight-through, through``: the sampled token itself, with the Gumbel-softmax gradient.

Every scheduled arm uses the same linear schedule, solved as in chapter 6 to reach ``p`` at
``at_fraction`` of training. Measurements use held-out problems: the training task has
``split="train"`` (:class:`~handbook_utils.tasks.AdditionChainTask`), which puts every problem (a
prompt) in one split by a hash, so no test problem is ever trained on.

Every module this one imports, and this module, decide the numbers of ``results/ch08_<setting>.json``
(:mod:`handbook_utils.experiments` declares them); the figures and tables live in :mod:`.ch08_figures`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from .. import cache as cache_lib
from .. import checks
from ..grid import run_jobs
from ..metrics import evaluate, inject_error_and_continue
from ..recipes import Recipe
from ..schedules import solve_schedule
from ..strategies import ScheduledSampling, SoftScheduledSampling, Strategy, TeacherForcing, masked_cross_entropy
from ..tasks import AdditionChainTask

ARMS = ("teacher forcing", "hard tokens", "expected, stopped", "expected, through", "Gumbel, through",
        "straight-through, through")


@dataclass(frozen=True)
class SoftSetting:
    """Everything that sizes chapter 8's comparison: tasks, seeds, model, training budget, schedule.

    ``tasks`` are ``(label, n_terms, max_value)``: chapter 6's two tasks. Each seed draws its own
    weights and training stream, shared by every arm (so arms can be compared seed by seed).
    """

    name: str
    seeds: tuple[int, ...]
    steps: int
    batch_size: int
    lr: float
    model: Mapping[str, Any]
    tasks: tuple[tuple[str, tuple[int, int], int], ...] = (("short chains", (2, 4), 5), ("long chains", (4, 6), 2))
    total_epochs: float = 100.0
    p: float = 0.5  # the schedule reaches p ...
    at_fraction: float = 0.6  # ... at this fraction of training
    tau: float = 1.0  # temperature of every relaxation
    test_share: float = 0.25
    eval_n: int = 256
    eval_seed: int = 2024
    injection_n: int = 128
    injection_position: int = 7  # the first digit after "<think>": the model's copy of the first term
    injection_seed: int = 777
    arms: tuple[str, ...] = ARMS

    def __post_init__(self):
        checks.grid(self.seeds, self.arms, ARMS)
        checks.probability("p", self.p)
        checks.in_open_unit("at_fraction", self.at_fraction, allow_one=True)
        checks.positive("tau", self.tau)
        object.__setattr__(self, "model", dict(self.model))
        if not self.tasks or len(set(self.task_names)) != len(self.tasks):
            raise ValueError("tasks must hold at least one (label, n_terms, max_value), labels distinct")
        for label in self.task_names:
            self.task(label)  # n_terms, max_value, test_share checked by the task

    @property
    def task_names(self) -> tuple[str, ...]:
        return tuple(label for label, _, _ in self.tasks)

    def task(self, name: str, split: str = "train") -> AdditionChainTask:
        for label, n_terms, max_value in self.tasks:
            if label == name:
                return AdditionChainTask(n_terms=n_terms, max_value=max_value, split=split, test_share=self.test_share)
        raise ValueError(f"task must be one of {list(self.task_names)}, got {name!r}")

    def strategy(self, arm: str) -> Strategy:
        checks.one_of("arm", arm, ARMS)
        if arm == "teacher forcing":
            return TeacherForcing()
        schedule = solve_schedule("linear", self.p, self.at_fraction, self.total_epochs)
        if arm == "hard tokens":
            return ScheduledSampling(schedule, mode="parallel", passes=1, mix="sample")
        relax = {"expected": "expected", "Gumbel": "gumbel", "straight-through": "straight_through"}[arm.split(",")[0]]
        through = arm.endswith("through")
        return SoftScheduledSampling(schedule, relax=relax, tau=self.tau, grad_through_first_pass=through)

    def recipe(self, task: str, arm: str, seed: int) -> Recipe:
        """One training run: a Recipe, so it trains like every model of the book."""
        train = dict(steps=self.steps, batch_size=self.batch_size, lr=self.lr, seed=seed,
                     steps_per_epoch=self.steps / self.total_epochs)
        return Recipe(name=f"ch08-{self.name}", task=self.task(task), model=self.model, train=train,
                      strategy=self.strategy(arm), model_seed=seed)


@dataclass(frozen=True)
class Cell:
    """One task, arm and seed of a setting: the unit the grid runner hands to a worker."""

    setting: SoftSetting
    task: str
    arm: str
    seed: int

    def label(self) -> dict:
        return {"task": self.task, "arm": self.arm, "seed": self.seed}

    @property
    def cost(self) -> float:
        """Relative cost: a gradient-free first pass adds about a third of a step, one with gradient about one."""
        extra = {"teacher forcing": 0.0, "hard tokens": 0.4, "expected, stopped": 0.4}.get(self.arm, 1.0)
        return self.setting.steps * self.setting.task(self.task).max_len * (1 + extra)


def cells(setting: SoftSetting) -> list[Cell]:
    """Every task × arm × seed of ``setting``."""
    return [Cell(setting, task, arm, seed) for task in setting.task_names for arm in setting.arms
            for seed in setting.seeds]


# --------------------------------------------------------------------------------------------
# Measuring one trained model


def measure(model, task: AdditionChainTask, setting: SoftSetting) -> dict:
    """The numbers of chapter 6, on held-out problems (``task.other()`` of the training split).

    ``exact_match``, ``tf_loss`` and ``tf_token_accuracy`` as :func:`~handbook_utils.metrics.evaluate`
    reports them; ``chain_valid``: free-running answers whose every line follows from the one before
    (:meth:`~handbook_utils.tasks.AdditionChainTask.check_chain`); after one injected wrong digit,
    ``recovery`` (the final answer is still right), ``followed_error`` (it is the slip's answer) and
    ``valid_recovery`` (right, and equal to the last line of the model's own chain: recovered inside
    the chain, not by a final answer that contradicts the notes).
    """
    test = task.other() if task.split == "train" else task
    ev = evaluate(model, test, setting.eval_n, setting.eval_seed)
    examples = test.sample(setting.eval_n, setting.eval_seed)
    checked = [AdditionChainTask.check_chain(e.prompt, o) for e, o in zip(examples, ev.free_running_outputs)]
    inj = inject_error_and_continue(model, test, setting.injection_n, setting.injection_position,
                                    setting.injection_seed)
    after = [AdditionChainTask.check_chain(x.prompt, x.output) for x in inj.examples]
    valid = [x.final_correct and c.answer_follows_chain is True for x, c in zip(inj.examples, after)]
    return {
        "exact_match": ev.exact_match,
        "chain_valid": sum(c.chain_valid for c in checked) / len(checked),
        "tf_loss": ev.tf_loss,
        "tf_token_accuracy": ev.tf_token_accuracy,
        "recovery": inj.recovery_rate,
        "followed_error": inj.followed_error_rate,
        "valid_recovery": sum(valid) / len(valid) if valid else float("nan"),
        "held_out": all(test.held_out(e) for e in examples),
    }


def gradient_alignment(model, task: AdditionChainTask, setting: SoftSetting, n: int = 64, seed: int = 99) -> dict:
    """Where does the gradient through the choice push the first pass? A probe of a trained model.

    On ``n`` held-out chains, two-pass scheduled sampling with expected embeddings (``p`` and ``tau`` of
    the setting) and the gradient flowing: at each replaced input, compare the gradient that the second
    pass's loss sends back to the first pass's logits with the teacher-forced gradient of those logits
    (the one that raises the gold token). ``alignment``: their mean cosine; ``raises_gold``: the share
    of replaced positions where the gradient through the choice also raises the gold token's logit.
    """
    test = task.other() if task.split == "train" else task
    batch = test.batch(test.sample(n, seed))
    probe = SoftScheduledSampling(setting.p, relax="expected", tau=setting.tau, grad_through_first_pass=True)
    with torch.enable_grad():
        out = probe.forward(model, batch, generator=torch.Generator().manual_seed(seed))
        g_through = torch.autograd.grad(masked_cross_entropy(out.logits, batch), out.first_logits,
                                        retain_graph=True)[0]  # (B, T, V)
        g_tf = torch.autograd.grad(masked_cross_entropy(out.first_logits, batch), out.first_logits)[0]
    sel = out.use_model[:, 1:]  # (B, T-1): logits at i-1 chose input i
    a, b = g_through[:, :-1][sel], g_tf[:, :-1][sel]  # (N, V) each
    gold = batch.targets[:, :-1][sel]  # (N,) the token input i should have been
    if len(gold) == 0:
        return {"alignment": float("nan"), "raises_gold": float("nan")}
    return {"alignment": float(F.cosine_similarity(a, b, dim=-1).mean()),
            "raises_gold": float((a.gather(1, gold[:, None]) < 0).float().mean())}


def run_cell(cell: Cell) -> dict:
    """Train one task, arm and seed (no model cache: a spot check must really train) and measure it."""
    checks.instance("cell", cell, Cell)
    start = time.perf_counter()
    s = cell.setting
    trained = s.recipe(cell.task, cell.arm, cell.seed).run(cache=False, progress=False, threads=1)
    out = measure(trained.model, trained.task, s)
    out.update(gradient_alignment(trained.model, trained.task, s))
    out["final_train_loss"] = float(sum(trained.history.losses[-20:]) / len(trained.history.losses[-20:]))
    out["train_time_s"] = trained.history.wall_time_s
    out["step_time_s"] = trained.history.wall_time_s / s.steps
    out["wall_time_s"] = time.perf_counter() - start
    return out


def _cached(job: dict) -> dict:
    """One job in a worker: train and measure, keep the result in the cache, return it."""
    out = run_cell(job["cell"])
    if job["key"] is not None:
        cache_lib.save_result(job["key"], out, job["directory"], job["settings"])
    return out


def run_cells(setting: SoftSetting, *, workers: int | None = None, cache: bool = True) -> list[dict]:
    """Every cell of ``setting``, ``{**cell.label(), **measurements}``: from the result cache where it
    has them (keyed by the cell and the package's code), else trained on ``workers`` processes.

    What the chapter calls for its live quick demo; the full setting goes through
    ``python -m handbook_utils.experiments run ch08`` into the results store instead.
    """
    checks.instance("setting", setting, SoftSetting)
    checks.boolean("cache", cache)
    directory = cache_lib.cache_dir(None) if cache else None
    grid, out, pending = cells(setting), {}, []
    for i, cell in enumerate(grid):
        job = {"cell": cell, "key": None, "directory": directory, "settings": None}
        if cache:
            job["settings"] = cache_lib.describe({"kind": "ch08-cell", "cell": cell})
            job["key"] = cache_lib.make_key(job["settings"])
            stored = cache_lib.load_result(job["key"], directory, job["settings"])
            if stored is not None:
                out[i] = stored
                continue
        pending.append((i, job))
    if pending:
        done = run_jobs(_cached, [job for _, job in pending], workers=workers,
                        costs=[job["cell"].cost for _, job in pending])
        out.update({i: d for (i, _), d in zip(pending, done)})
    return [{**cell.label(), **out[i]} for i, cell in enumerate(grid)]


# --------------------------------------------------------------------------------------------
# Settings

_MODEL = dict(n_layer=1, n_head=2, n_embd=32)  # a one-layer GPT, about 16 k parameters

SETTINGS: dict[str, SoftSetting] = {
    # quick: the live demo of the page, within its time budget on a 2-core CPU: 300 steps of 8
    # chains at lr 2e-2 on the long chains only, three seeds, half the held-out
    # problems, and every arm but the Gumbel-softmax one (15 runs; about 40 s on two idle cores).
    "quick": SoftSetting(name="quick", seeds=(0, 1, 2), steps=300, batch_size=8, lr=2e-2, model=_MODEL,
                         tasks=(("long chains", (4, 6), 2),), eval_n=128, injection_n=64,
                         arms=tuple(a for a in ARMS if a != "Gumbel, through")),
    # full: both tasks and the same model, more than three times the steps at
    # twice the batch (1000 steps of 16 chains), five seeds, four times the held-out problems per
    # measurement: what results/ch08_full.json holds (about half an hour on two cores).
    "full": SoftSetting(name="full", seeds=(0, 1, 2, 3, 4), steps=1000, batch_size=16, lr=1e-2, model=_MODEL,
                        eval_n=512, injection_n=256),
    # smoke: seconds, for the tests.
    "smoke": SoftSetting(name="smoke", seeds=(0, 1), steps=4, batch_size=4, lr=1e-3, eval_n=8, injection_n=8,
                         model=dict(n_layer=1, n_head=1, n_embd=8), tasks=(("short chains", (2, 3), 3),),
                         arms=("teacher forcing", "expected, through")),
}
