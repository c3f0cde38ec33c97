"""Chapter 4: exposure bias measured, on gold prefixes against the model's own.

- **Per position.** :func:`plot_position_accuracy` draws the teacher-forced and free-running
  accuracy of an :class:`~handbook_utils.metrics.Evaluation` position by position, with the share
  of answers still on track. On :class:`~handbook_utils.tasks.MarkovTask` the truth is known, so
  :func:`markov_kl_curves` measures the exact KL to the true next-token distribution at every
  position, on true prefixes and on prefixes the model sampled itself (:func:`plot_kl_curves`).
- **Accumulated error** (Arora et al., 2022). :func:`accumulated_error` turns the two KL curves
  into the accumulated error on the model's own prefixes, ``AccErr(l)``, against ``l·ε(l)``, the
  same number of steps at the teacher-forced per-step error, and the excess
  ``%ExAccErr = (AccErr − l·ε) / (l·ε) · 100`` (:func:`plot_accumulated_error`).
- **Planted errors.** :func:`addition_recovery` corrupts one digit of a gold reasoning chain at
  several positions and lets the model finish (recovery = final answer still right);
  :func:`markov_injection` plants an improbable letter in a Markov string and follows the exact
  KL of the model's next predictions (recovery = back to the KL of an unplanted string).
  :func:`plot_addition_recovery` and :func:`plot_markov_recovery` draw them for one or more
  models, e.g. the same recipe trained for different numbers of steps.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..generation import check_model, fit_to_context, generate_ids
from ..metrics import (
    Evaluation,
    InjectedExample,
    Injection,
    inject_error_and_continue,
    markov_kl_per_position,
)
from ..plotting import COLORS, PALETTE, new_axes
from ..tasks import AdditionChainTask, Example, MarkovTask

__all__ = [
    "plot_position_accuracy",
    "still_on_track",
    "KLCurves",
    "markov_kl_curves",
    "plot_kl_curves",
    "AccumulatedError",
    "accumulated_error",
    "plot_accumulated_error",
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


# ---------------------------------------------------------------------------------------------
# Per position, on the addition chain


def still_on_track(ev: Evaluation, lengths: Sequence[int]) -> np.ndarray:
    """(T,) among the answers that have a position t, the fraction whose free-running output has no
    error before t. ``lengths`` are the examples' target lengths (characters + ``<eos>``)."""
    if len(lengths) != len(ev.first_error_positions):
        raise ValueError(f"lengths must hold one length per example ({len(ev.first_error_positions)}), got {len(lengths)}")
    L = len(ev.per_position_tf_accuracy)
    alive, seen = np.zeros(L), np.zeros(L)
    for first, T in zip(ev.first_error_positions, lengths):
        T = min(int(T), L)
        seen[:T] += 1
        alive[: T if first is None else min(first + 1, T)] += 1
    return alive / np.maximum(seen, 1)


def plot_position_accuracy(ev: Evaluation, lengths: Sequence[int], ax: Axes | None = None) -> Figure:
    """Teacher-forced vs free-running accuracy at each target position, and the share on track."""
    ax = new_axes(ax)
    t = np.arange(len(ev.per_position_tf_accuracy))
    ax.plot(t, ev.per_position_tf_accuracy, color=COLORS["teacher_forcing"], label="gold prefixes (teacher forcing)")
    ax.plot(t, ev.per_position_free_accuracy, color=COLORS["free_running"], label="own prefixes (free running)")
    ax.plot(t, still_on_track(ev, lengths), ":", color=COLORS["prediction"], label="answers with no error yet")
    ax.set_xlabel("position in the target (characters)")
    ax.set_ylabel("fraction right")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("Same model, two kinds of prefix")
    ax.legend(loc="lower left")
    return ax.figure


# ---------------------------------------------------------------------------------------------
# Exact KL on a known Markov chain, and Arora et al.'s accumulated error


@dataclass
class KLCurves:
    """Mean exact KL(true ‖ model) in nats at each position, on true and on model prefixes."""

    teacher_forced: np.ndarray  # (length,) prefixes drawn from the true chain
    free_running: np.ndarray  # (length,) prefixes sampled from the model itself
    n: int


def markov_kl_curves(model, task: MarkovTask, n: int, seed: int) -> KLCurves:
    """Both curves of :func:`~handbook_utils.metrics.markov_kl_per_position` for ``n`` strings."""
    tf = markov_kl_per_position(model, task, n, seed, "teacher_forced").numpy()
    fr = markov_kl_per_position(model, task, n, seed, "free_running").numpy()
    return KLCurves(tf, fr, n)


def plot_kl_curves(curves: KLCurves, ax: Axes | None = None) -> Figure:
    ax = new_axes(ax)
    t = np.arange(1, len(curves.teacher_forced) + 1)
    ax.plot(t, curves.teacher_forced, color=COLORS["teacher_forcing"], label="true prefixes (teacher forcing)")
    ax.plot(t, curves.free_running, color=COLORS["free_running"], label="own prefixes (sampled)")
    ax.set_xlabel("position t")
    ax.set_ylabel("KL(true ‖ model) at t (nats)")
    ax.set_ylim(bottom=0)
    ax.set_title("Per-step error on a known Markov chain")
    ax.legend(loc="lower right")
    return ax.figure


@dataclass
class AccumulatedError:
    """Arora et al. (2022): error summed over the first ``l`` steps, on the model's own prefixes,
    against ``l`` times the mean per-step error on true prefixes."""

    l: np.ndarray  # (L,) 1..L
    acc_err: np.ndarray  # (L,) sum of the free-running KL over the first l steps
    l_eps: np.ndarray  # (L,) l · ε(l): sum of the teacher-forced KL over the first l steps
    l2_eps: np.ndarray  # (L,) l² · ε(l): the worst case of the compounding bound
    excess_pct: np.ndarray  # (L,) %ExAccErr(l) = (acc_err - l_eps) / l_eps · 100

    @property
    def final_excess_pct(self) -> float:
        return float(self.excess_pct[-1])


def accumulated_error(curves: KLCurves) -> AccumulatedError:
    """AccErr(l), l·ε(l), l²·ε(l) and %ExAccErr(l) from the two KL curves."""
    if not isinstance(curves, KLCurves):
        raise TypeError(f"curves must be a KLCurves, got {type(curves).__name__}")
    l = np.arange(1, len(curves.teacher_forced) + 1)
    acc = np.cumsum(curves.free_running)
    l_eps = np.cumsum(curves.teacher_forced)
    with np.errstate(divide="ignore", invalid="ignore"):
        excess = np.where(l_eps > 0, (acc - l_eps) / l_eps * 100, np.nan)
    return AccumulatedError(l, acc, l_eps, l * l_eps, excess)


def plot_accumulated_error(acc: AccumulatedError, ax: Axes | None = None) -> Figure:
    """AccErr(l) against l·ε(l) (left axis) and %ExAccErr(l) (right axis)."""
    ax = new_axes(ax)
    ax.plot(acc.l, acc.l_eps, color=COLORS["teacher_forcing"], label=r"$l\cdot\varepsilon$ (no compounding)")
    ax.plot(acc.l, acc.acc_err, color=COLORS["free_running"], label="AccErr on own prefixes")
    ax.set_xlabel("generated length l")
    ax.set_ylabel("accumulated KL (nats)")
    ax.set_ylim(bottom=0)
    right = ax.twinx()
    right.plot(acc.l, acc.excess_pct, ":", color=COLORS["prediction"], label="%ExAccErr (right axis)")
    right.set_ylabel("excess accumulated error (%)")
    right.grid(False)
    right.spines["right"].set_visible(True)
    lo = min(0.0, float(np.nanmin(acc.excess_pct)))
    hi = max(10.0, float(np.nanmax(acc.excess_pct)) * 1.3)
    right.set_ylim(lo, hi)
    lines = ax.get_lines() + right.get_lines()
    ax.legend(lines, [x.get_label() for x in lines], loc="upper left")
    ax.set_title("Accumulated error (Arora et al., 2022)")
    return ax.figure


# ---------------------------------------------------------------------------------------------
# Planted errors on the addition chain


@dataclass
class RecoveryCurve:
    """Error injection at several positions of the same examples."""

    positions: list[int]
    injections: list[Injection] = field(repr=False)

    @property
    def recovery(self) -> np.ndarray:
        return np.array([i.recovery_rate for i in self.injections])

    @property
    def followed(self) -> np.ndarray:
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
    (target indices), on the same examples each time."""
    if not isinstance(task, AdditionChainTask):
        raise TypeError(f"task must be an AdditionChainTask, got {type(task).__name__}")
    if isinstance(examples, int) and not isinstance(examples, bool):
        examples = task.sample(examples, seed)
    positions = [int(p) for p in positions]
    if not positions:
        raise ValueError("positions must hold at least one position")
    return RecoveryCurve(positions, [inject_error_and_continue(model, task, examples, p, seed) for p in positions])


def recovery_by_kind(curve: RecoveryCurve) -> dict[str, tuple[int, float, float]]:
    """``kind -> (injections, recovery rate, followed-error rate)`` by the kind of the corrupted
    character (``copy``, ``sum`` or ``carry``, see :func:`~handbook_utils.chapters.ch03_compounding.position_kinds`)."""
    groups: dict[str, list] = {}
    for inj in curve.injections:
        for e in inj.examples:
            groups.setdefault(_kind_at(e), []).append(e)
    return {
        k: (len(v), float(np.mean([e.final_correct for e in v])), float(np.mean([e.followed_error for e in v])))
        for k, v in sorted(groups.items())
    }


def _kind_at(e) -> str:
    """Kind of the corrupted character, read off the gold chain rebuilt from the prompt."""
    terms = AdditionChainTask.terms_of(e.prompt)
    target = AdditionChainTask(n_terms=len(terms), max_value=max(1, max(terms))).example(terms).target
    return AdditionChainTask.position_kinds(target)[e.injected_index]


def final_answer_accuracy(model, task: AdditionChainTask, examples: Sequence[Example]) -> float:
    """The baseline for recovery: how often the model's own free-running answer (no planted
    error) ends with the right number after ``</think>``."""
    return float(np.mean(final_answer_correct(model, task, examples)))


@torch.no_grad()
def final_answer_correct(model, task: AdditionChainTask, examples: Sequence[Example]) -> np.ndarray:
    """(n,) bool: whether the model's own greedy answer to each example ends with the right number."""
    check_model(model)
    tok = task.tokenizer
    prompts = [tok.encode(e.prompt) for e in examples]
    budgets = fit_to_context(model, prompts, [task.generation_budget(len(e.target)) for e in examples])
    rows = generate_ids(model, prompts, budgets, stop_sequences=[[tok.eos_id]])
    return np.array([AdditionChainTask.answer_of(tok.decode(r)) == AdditionChainTask.answer_of(e.target) for r, e in zip(rows, examples)], dtype=bool)


def _right_prompts(examples: Sequence[Example], correct: Sequence[bool]) -> set[str]:
    if len(examples) != len(correct):
        raise ValueError(f"examples and correct must have the same length, got {len(examples)} and {len(correct)}")
    return {e.prompt for e, ok in zip(examples, correct) if ok}


def conditional_recovery(curve: RecoveryCurve, examples: Sequence[Example], correct: Sequence[bool]) -> float:
    """Among the planted examples the model answers correctly on its own, the fraction whose answer
    is still right with the planted digit: recovery measured against what there was to lose."""
    right = _right_prompts(examples, correct)
    kept = [x.final_correct for inj in curve.injections for x in inj.examples if x.prompt in right]
    return float(np.mean(kept)) if kept else float("nan")


def conditional_recovery_by_position(curve: RecoveryCurve, examples: Sequence[Example],
                                     correct: Sequence[bool]) -> np.ndarray:
    """:func:`conditional_recovery` at each planting position of ``curve``."""
    right = _right_prompts(examples, correct)
    out = []
    for inj in curve.injections:
        kept = [x.final_correct for x in inj.examples if x.prompt in right]
        out.append(float(np.mean(kept)) if kept else float("nan"))
    return np.array(out)


def planted_html(e: InjectedExample, target: str) -> str:
    """One planted error as aligned monospace lines: the gold prefix, the planted digit
    (highlighted), what the model wrote after it, the correct chain, and a verdict."""
    esc = html.escape
    tf, fr = COLORS["teacher_forcing"], COLORS["free_running"]
    i = e.injected_index
    wrote = (
        f'<span style="color:{tf}">{esc(e.output[:i])}</span>'
        f'<span style="background:{COLORS["accent"]};color:white;font-weight:bold;padding:0 1px">'
        f"{esc(e.output[i])}</span>"
        f'<span style="color:{fr}">{esc(e.output[i + 1:])}</span>'
    )
    got = AdditionChainTask.answer_of(e.output)
    if e.final_correct:
        verdict = f"answer {got}: right, the planted error was repaired"
    elif e.followed_error:
        verdict = f"answer {got}: what the planted line implies (true answer {e.true_answer})"
    else:
        verdict = f"answer {got}: wrong, and not what the planted line implies either (true answer {e.true_answer})"
    pad = esc(" " * len(e.prompt))
    grey = '<span style="color:#555">'
    return (
        '<div style="font-family:monospace;font-size:0.78em;white-space:pre;overflow-x:auto;'
        'margin:0.4em 0 0.9em 0;line-height:1.5">'
        f"{grey}planted</span> {esc(e.prompt)}{wrote}\n"
        f"{grey}correct</span> {pad}{grey}{esc(target)}</span>\n"
        f"{grey}        {pad}→ {esc(verdict)}</span>"
        "</div>"
    )


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
    per model. With ``baselines`` (label -> ``(examples, correct)``), the solid line is the
    conditional recovery: among the answers the model gets right on its own."""
    ax = new_axes(ax)
    for i, (label, curve) in enumerate(curves.items()):
        color = PALETTE[i % len(PALETTE)]
        if baselines is not None and label in baselines:
            rec = conditional_recovery_by_position(curve, *baselines[label])
            rec_label = f"{label}: right answers that stay right"
        else:
            rec, rec_label = curve.recovery, f"{label}: answer still right"
        ax.plot(curve.positions, rec, "o-", color=color, label=rec_label)
        ax.plot(curve.positions, curve.followed, "s--", color=color, alpha=0.7,
                label=f"{label}: answer follows the planted line")
    ax.set_xlabel("position of the planted digit in the target")
    ax.set_ylabel("fraction of answers")
    ax.set_ylim(-0.02, 1.02)
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
        return self.injected_kl - self.clean_kl


@torch.no_grad()
def markov_injection(model, task: MarkovTask, position: int, n: int, seed: int, window: int = 8) -> MarkovInjection:
    """Plant the least likely letter at ``position`` of ``n`` true strings, let the model sample on,
    and measure the exact KL of its next ``window`` predictions (and on the unplanted strings, with
    the same sampling noise). The true chain conditions on the planted letter too, so the ideal
    model takes it at face value; what is measured is how well the model predicts *after* it."""
    device = check_model(model)
    if not isinstance(task, MarkovTask):
        raise TypeError(f"task must be a MarkovTask, got {type(task).__name__}")
    for name, value, lo in (("position", position, 1), ("n", n, 1), ("seed", seed, 0), ("window", window, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < lo:
            raise ValueError(f"{name} must be an int >= {lo}, got {value!r}")
    if position + window > task.length:
        raise ValueError(f"position + window must be <= the string length {task.length}, got {position + window}")
    tok = task.tokenizer
    start_id = tok.stoi[task.START]
    ids = task.batch(task.sample(n, seed)).inputs[:, : position + 1].clone()  # (n, position + 1): '^' + letters
    true_here = task.true_next_token_table(ids[:, :position])[:, -1]  # (n, V): distribution of letter `position`
    letters = true_here[:, start_id + 1 :]
    worst = letters.argmin(dim=1) + start_id + 1  # (n,) least likely letter
    planted = ids.clone()
    planted[:, position] = worst
    allowed = torch.zeros(tok.vocab_size, dtype=torch.bool, device=device)
    allowed[start_id + 1 :] = True

    def kl_after(prefix: torch.Tensor) -> np.ndarray:
        gen = torch.Generator(device=device).manual_seed(seed)
        rows = generate_ids(model, prefix.tolist(), window, greedy=False, allowed=allowed, generator=gen)
        full = torch.cat([prefix, torch.tensor(rows, dtype=torch.long)], dim=1)[:, : position + window]  # (n, p+w)
        true = task.true_next_token_table(full)  # (n, p+w, V)
        was = model.training
        model.eval()
        try:
            logq = F.log_softmax(model(full.to(device)).double(), dim=-1).cpu()
        finally:
            model.train(was)
        kl = torch.where(true > 0, true * (true.clamp_min(1e-300).log() - logq), torch.zeros_like(true)).sum(-1)
        return kl[:, position:].mean(0).numpy()  # predictions of letters position+1 .. position+window

    return MarkovInjection(
        position=position,
        injected_kl=kl_after(planted),
        clean_kl=kl_after(ids),
        planted_prob=float(letters.min(dim=1).values.mean()),
    )


def markov_recovery(model, task: MarkovTask, positions: Sequence[int], n: int, seed: int,
                    window: int = 8) -> list[MarkovInjection]:
    return [markov_injection(model, task, p, n, seed, window) for p in positions]


def plot_markov_recovery(results: Mapping[str, Sequence[MarkovInjection]], ax: Axes | None = None) -> Figure:
    """KL of the next predictions after a planted letter (solid) and without it (dashed), averaged
    over the planting positions, one colour per model; log scale, so small models and well-trained
    ones fit on one plot."""
    ax = new_axes(ax)
    for i, (label, injections) in enumerate(results.items()):
        color = PALETTE[i % len(PALETTE)]
        planted = np.mean([inj.injected_kl for inj in injections], axis=0)
        clean = np.mean([inj.clean_kl for inj in injections], axis=0)
        offsets = np.arange(1, len(planted) + 1)
        ax.plot(offsets, planted, "o-", color=color, label=f"{label}: after a planted letter")
        ax.plot(offsets, clean, "--", color=color, alpha=0.7, label=f"{label}: no planted letter")
    ax.set_yscale("log")
    ax.set_xlabel("letters after the planted one")
    ax.set_ylabel("KL(true ‖ model) of the prediction (nats)")
    ax.set_title("After an improbable letter")
    ax.legend(loc="center right", fontsize=9)
    return ax.figure
