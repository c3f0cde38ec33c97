"""Planted errors: does a model recover from a mistake it did not make? (chapter 4, section "Planting mistakes").

- **On the addition chain.** :func:`addition_recovery` corrupts one digit of a gold reasoning chain
  at several positions and lets the model finish (recovery = final answer still right), measured
  against what there was to lose (:func:`final_answer_correct`, :func:`conditional_recovery`), by
  the kind of the corrupted character (:func:`recovery_by_kind`) and line by line after a plant
  in the first line (:func:`first_line_repair`). :func:`planted_html` shows single cases, chosen
  by :func:`pick_planted`; :func:`plot_addition_recovery` draws one or more models.
- **On the Markov chain** (section "The same experiment on the Markov chain").
  :func:`markov_injection` plants an improbable letter in a Markov string and follows the exact
  KL of the model's next predictions (recovery = back to the KL of an unplanted string);
  :func:`plot_markov_recovery` draws one or more models, e.g. the same recipe trained for
  different numbers of steps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .. import checks
from ..generation import check_model, fit_to_context, generate_ids
from ..metrics import InjectedExample, Injection, inject_error_and_continue
from ..plotting import COLORS, FRACTION_LIMITS, PALETTE, new_axes
from ..runtime import eval_mode
from ..tasks import AdditionChainTask, Example, MarkovTask
from .ch03_failures import answer_block_html, marked_answer_html

__all__ = [
    "RecoveryCurve",
    "addition_recovery",
    "recovery_by_kind",
    "final_answer_accuracy",
    "final_answer_correct",
    "conditional_recovery",
    "conditional_recovery_by_position",
    "planted_html",
    "pick_planted",
    "FirstLineRepair",
    "first_line_repair",
    "plot_addition_recovery",
    "MarkovInjection",
    "markov_injection",
    "markov_recovery",
    "plot_markov_recovery",
]

_MODEL_MARKERS = ("o", "^", "D", "v")  # one per model in the recovery figures, with its colour


# ---------------------------------------------------------------------------------------------
# Planted errors on the addition chain


@dataclass
class RecoveryCurve:
    """Error injection at several positions of the same examples."""

    positions: list[int]
    injections: list[Injection] = field(repr=False)

    @property
    def recovery(self) -> np.ndarray:
        """(positions,) fraction whose final answer is still right."""
        return np.array([i.recovery_rate for i in self.injections])

    @property
    def followed(self) -> np.ndarray:
        """(positions,) fraction whose final answer is the one the planted line implies."""
        return np.array([i.followed_error_rate for i in self.injections])

    @property
    def n(self) -> list[int]:
        return [i.n for i in self.injections]

    def overall(self) -> tuple[float, float]:
        """(recovery rate, followed-error rate) pooled over every injection."""
        ex = [e for i in self.injections for e in i.examples]
        if not ex:
            return float("nan"), float("nan")
        return float(np.mean([e.final_correct for e in ex])), float(np.mean([e.followed_error for e in ex]))


def addition_recovery(model, task: AdditionChainTask, positions: Sequence[int], examples, seed: int) -> RecoveryCurve:
    """:func:`~handbook_utils.metrics.inject_error_and_continue` at every position in ``positions``
    (target indices), on the same examples each time (``examples``: a list, or how many to sample
    from ``task.held_out_task()``, held-out problems when ``task`` keeps a split)."""
    checks.instance("task", task, AdditionChainTask)
    if isinstance(examples, int) and not isinstance(examples, bool):
        examples = task.held_out_task().sample(examples, seed)
    positions = [checks.non_negative_int("positions", p) for p in positions]
    if not positions:
        raise ValueError("positions must hold at least one position")
    return RecoveryCurve(positions, [inject_error_and_continue(model, task, examples, p, seed) for p in positions])


def _planted_kind(e: InjectedExample) -> str:
    """Kind of the corrupted character (:meth:`AdditionChainTask.position_kinds` of the gold chain)."""
    gold = AdditionChainTask.gold_target(e.prompt)
    return AdditionChainTask.position_kinds(gold)[e.injected_index]


def recovery_by_kind(curve: RecoveryCurve) -> dict[str, tuple[int, float, float]]:
    """``kind -> (injections, recovery rate, followed-error rate)`` by the kind of the corrupted
    character (``copy``, ``sum`` or ``carry``, see :meth:`handbook_utils.tasks.AdditionChainTask.position_kinds`)."""
    groups: dict[str, list[InjectedExample]] = {}
    for inj in curve.injections:
        for e in inj.examples:
            groups.setdefault(_planted_kind(e), []).append(e)
    return {
        k: (len(v), float(np.mean([e.final_correct for e in v])), float(np.mean([e.followed_error for e in v])))
        for k, v in sorted(groups.items())
    }


@torch.no_grad()
def final_answer_correct(model, task: AdditionChainTask, examples: Sequence[Example]) -> np.ndarray:
    """(n,) bool: whether the model's own greedy answer to each example ends with the right number."""
    checks.instance("task", task, AdditionChainTask)
    check_model(model, task)
    tok = task.tokenizer
    prompts = [tok.encode(e.prompt) for e in examples]
    budgets = fit_to_context(model, prompts, [task.generation_budget(len(e.target)) for e in examples])
    rows = generate_ids(model, prompts, budgets, stop_sequences=[[tok.eos_id]])
    return np.array([task.answer_of(tok.decode(r)) == task.answer_of(e.target) for r, e in zip(rows, examples)],
                    dtype=bool)


def final_answer_accuracy(model, task: AdditionChainTask, examples: Sequence[Example]) -> float:
    """The baseline for recovery: how often the model's own free-running answer (no planted
    error) ends with the right number after ``</think>``."""
    return float(np.mean(final_answer_correct(model, task, examples)))


def _right_prompts(examples: Sequence[Example], correct: Sequence[bool]) -> set[str]:
    if len(examples) != len(correct):
        raise ValueError(f"examples and correct must have the same length, got {len(examples)} and {len(correct)}")
    return {e.prompt for e, ok in zip(examples, correct) if ok}


def _kept_rate(injections: Sequence[Injection], right: set[str]) -> float:
    """Among the planted examples whose prompt is in ``right``, the fraction still answered right."""
    kept = [x.final_correct for inj in injections for x in inj.examples if x.prompt in right]
    return float(np.mean(kept)) if kept else float("nan")


def conditional_recovery(curve: RecoveryCurve, examples: Sequence[Example], correct: Sequence[bool]) -> float:
    """Among the planted examples the model answers correctly on its own, the fraction whose answer
    is still right with the planted digit: recovery measured against what there was to lose."""
    return _kept_rate(curve.injections, _right_prompts(examples, correct))


def conditional_recovery_by_position(curve: RecoveryCurve, examples: Sequence[Example],
                                     correct: Sequence[bool]) -> np.ndarray:
    """(positions,) :func:`conditional_recovery` at each planting position of ``curve``."""
    right = _right_prompts(examples, correct)
    return np.array([_kept_rate([inj], right) for inj in curve.injections])


def planted_html(e: InjectedExample, target: str) -> str:
    """One planted error as aligned monospace lines: the gold prefix, the planted digit
    (highlighted), what the model wrote after it, the correct chain, and a verdict."""
    got = AdditionChainTask.answer_of(e.output)
    if e.final_correct:
        verdict = f"answer {got}: right, the planted error was repaired"
    elif e.followed_error:
        verdict = f"answer {got}: what the planted line implies (true answer {e.true_answer})"
    else:
        verdict = f"answer {got}: wrong, and not what the planted line implies either (true answer {e.true_answer})"
    wrote = marked_answer_html(e.output, e.injected_index, COLORS["accent_text"], what="planted digit")
    return answer_block_html("planted", e.prompt, wrote, target, verdict)


def _outcome(e: InjectedExample) -> str:
    return "right" if e.final_correct else ("followed" if e.followed_error else "neither")


def pick_planted(curve: RecoveryCurve) -> list[InjectedExample]:
    """One planted error of each outcome when there is one, spread along the chain: a case that was
    neither repaired nor followed from early in the chain, a repaired one from the middle, and a
    followed one from late in the chain."""
    picks = []
    lo, hi = min(curve.positions), max(curve.positions)
    for outcome, where in (("neither", 0.0), ("right", 0.5), ("followed", 1.0)):
        target = lo + where * (hi - lo)
        candidates = [(abs(inj.position - target), k, e) for inj in curve.injections
                      for k, e in enumerate(inj.examples) if _outcome(e) == outcome]
        if candidates:
            picks.append(min(candidates, key=lambda c: (c[0], c[1]))[2])
    return picks


@dataclass
class FirstLineRepair:
    """What follows a plant in the first line of the chain (the copy of the prompt)."""

    n: int
    line_right: list[float]  # [k] fraction whose line k+2 equals the gold line k+2
    answer_right: float


def first_line_repair(curve: RecoveryCurve) -> FirstLineRepair:
    """For plants in the first line: how often each later line, and the answer, is still right."""
    rows, answers = [], []
    for inj in curve.injections:
        for e in inj.examples:
            if e.injected_index >= e.output.find("="):
                continue  # not in the first line
            gold = ["+".join(map(str, line)) for line in AdditionChainTask.gold_lines(e.prompt)]
            out = AdditionChainTask.line_texts(e.output)
            rows.append([k < len(out) and out[k] == gold[k] for k in range(1, len(gold))])
            answers.append(e.final_correct)
    if not rows:
        return FirstLineRepair(0, [], float("nan"))
    depth = min(len(r) for r in rows)
    return FirstLineRepair(len(rows), [float(np.mean([r[k] for r in rows])) for k in range(depth)],
                           float(np.mean(answers)))


def plot_addition_recovery(curves: Mapping[str, RecoveryCurve], baselines: Mapping[str, tuple] | None = None,
                           ax: Axes | None = None) -> Figure:
    """Recovery (solid) and followed-error rate (dashed) against the corrupted position, one colour
    and one marker per model. With ``baselines`` (label -> ``(examples, correct)``), the solid line
    is the conditional recovery: among the answers the model gets right on its own."""
    ax = new_axes(ax)
    for i, (label, curve) in enumerate(curves.items()):
        color, marker = PALETTE[i % len(PALETTE)], _MODEL_MARKERS[i % len(_MODEL_MARKERS)]
        if baselines is not None and label in baselines:
            rec = conditional_recovery_by_position(curve, *baselines[label])
            rec_label = f"{label}: right answers that stay right"
        else:
            rec, rec_label = curve.recovery, f"{label}: answer still right"
        ax.plot(curve.positions, rec, "-", marker=marker, color=color, label=rec_label)
        ax.plot(curve.positions, curve.followed, "--", marker=marker, mfc="none", color=color, alpha=0.7,
                label=f"{label}: answer follows the planted line")
    ax.set_xlabel("position of the planted digit in the target")
    ax.set_ylabel("fraction of answers")
    ax.set_ylim(*FRACTION_LIMITS)
    ax.set_title("One wrong digit planted in a correct chain")
    ax.legend(loc="upper right", fontsize=9)
    return ax.figure


# ---------------------------------------------------------------------------------------------
# Planted errors on the Markov chain


@dataclass
class MarkovInjection:
    """Exact KL of the model's next ``window`` predictions after an improbable letter at ``position``."""

    position: int  # index of the planted letter in the string (1 = first letter)
    injected_kl: np.ndarray  # (window,) mean KL at offsets 1..window after the planted letter
    clean_kl: np.ndarray  # (window,) the same strings without the plant
    planted_prob: float  # mean true probability of the planted letter in its context

    @property
    def excess(self) -> np.ndarray:
        """(window,) extra KL caused by the plant."""
        return self.injected_kl - self.clean_kl


@torch.no_grad()
def markov_injection(model, task: MarkovTask, position: int, n: int, seed: int, window: int = 8) -> MarkovInjection:
    """Plant the least likely letter at ``position`` of ``n`` true strings, let the model sample on,
    and measure the exact KL of its next ``window`` predictions (and on the unplanted strings, with
    the same sampling noise). The true chain conditions on the planted letter too, so the ideal
    model takes it at face value; what is measured is how well the model predicts *after* it."""
    checks.instance("task", task, MarkovTask)
    device = check_model(model, task)
    position, n = checks.positive_int("position", position), checks.positive_int("n", n)
    seed, window = checks.seed("seed", seed), checks.positive_int("window", window)
    if position + window > task.length:
        raise ValueError(f"position + window must be <= the string length {task.length}, got {position + window}")
    tok = task.tokenizer
    start_id = tok.stoi[task.START]
    ids = task.batch(task.sample(n, seed)).inputs[:, : position + 1].clone()  # (n, position + 1): '^' + letters
    true_here = task.true_next_token_table(ids[:, :position])[:, -1]  # (n, V): distribution of letter `position`
    letters = true_here[:, start_id + 1 :]  # (n, letters)
    worst = letters.argmin(dim=1) + start_id + 1  # (n,) least likely letter
    planted = ids.clone()
    planted[:, position] = worst
    allowed = torch.zeros(tok.vocab_size, dtype=torch.bool, device=device)  # (V,)
    allowed[start_id + 1 :] = True

    def kl_after(prefix: torch.Tensor) -> np.ndarray:
        gen = torch.Generator(device=device).manual_seed(seed)
        rows = generate_ids(model, prefix.tolist(), window, greedy=False, allowed=allowed, generator=gen)
        full = torch.cat([prefix, torch.tensor(rows, dtype=torch.long)], dim=1)[:, : position + window]  # (n, p+w)
        true = task.true_next_token_table(full)  # (n, p+w, V)
        with eval_mode(model):
            logq = F.log_softmax(model(full.to(device)).double(), dim=-1).cpu()  # (n, p+w, V)
        kl = torch.where(true > 0, true * (true.clamp_min(1e-300).log() - logq), torch.zeros_like(true)).sum(-1)
        return kl[:, position:].mean(0).numpy()  # (window,) predictions of letters position+1 .. position+window

    return MarkovInjection(
        position=position,
        injected_kl=kl_after(planted),
        clean_kl=kl_after(ids),
        planted_prob=float(letters.min(dim=1).values.mean()),
    )


def markov_recovery(model, task: MarkovTask, positions: Sequence[int], n: int, seed: int,
                    window: int = 8) -> list[MarkovInjection]:
    """:func:`markov_injection` at each of ``positions``."""
    return [markov_injection(model, task, p, n, seed, window) for p in positions]


def plot_markov_recovery(results: Mapping[str, Sequence[MarkovInjection]], ax: Axes | None = None) -> Figure:
    """KL of the next predictions after a planted letter (solid) and without it (dashed), averaged
    over the planting positions, one colour and one marker per model; log scale, so small models and
    well-trained ones fit on one plot."""
    ax = new_axes(ax)
    for i, (label, injections) in enumerate(results.items()):
        color, marker = PALETTE[i % len(PALETTE)], _MODEL_MARKERS[i % len(_MODEL_MARKERS)]
        planted = np.mean([inj.injected_kl for inj in injections], axis=0)  # (window,)
        clean = np.mean([inj.clean_kl for inj in injections], axis=0)  # (window,)
        offsets = np.arange(1, len(planted) + 1)
        ax.plot(offsets, planted, "-", marker=marker, color=color, label=f"{label}: after a planted letter")
        ax.plot(offsets, clean, "--", marker=marker, mfc="none", color=color, alpha=0.7,
                label=f"{label}: no planted letter")
    ax.set_yscale("log")
    ax.set_xlabel("letters after the planted one")
    ax.set_ylabel("KL(true ‖ model) of the prediction (nats)")
    ax.set_title("After an improbable letter")
    ax.legend(loc="center right", fontsize=9)
    return ax.figure
