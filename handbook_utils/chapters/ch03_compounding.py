"""Chapter 3: how a small per-token error rate compounds over a long answer, measured.

Three layers, each with its plots:

- **Arithmetic.** :func:`sequence_success` (``p ** T``) and :func:`length_at_success` (the answer
  length at which success falls to 50 %), an interactive :func:`compounding_explorer` and the
  static :func:`plot_success_curves` / :func:`plot_half_length`.
- **A trained model.** :func:`teacher_forced_errors` scores every target token of many examples on
  gold prefixes; :func:`checkpoint_points` and :func:`length_points` put measured exact match next
  to the independence prediction across training checkpoints and chain lengths
  (:func:`plot_exact_vs_prediction`); :func:`failed_generations_html` shows real failures with the
  first wrong character highlighted; :func:`after_first_error` measures what happens next.
- **The independence assumption, tested.** :func:`independence_check` compares the distribution
  of per-example error counts with the binomial that independence implies
  (:func:`plot_error_distribution`), and :func:`error_rates_by_kind` shows *where* errors sit.

A fact the chapter leans on: with greedy decoding, the free-running answer equals the target if
and only if every teacher-forced argmax is right (before the first error the model's own prefix IS
the gold prefix). So exact match is exactly the fraction of examples with zero teacher-forced
errors, and ``p ** T`` is a forecast of that fraction.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..generation import check_model
from ..metrics import Evaluation, evaluate
from ..plotting import COLORS, PALETTE, new_axes
from ..runtime import eval_mode
from ..tasks import KINDS, AdditionChainTask, Example, Task

__all__ = [
    "sequence_success",
    "length_at_success",
    "plot_success_curves",
    "plot_half_length",
    "compounding_explorer",
    "TokenErrors",
    "teacher_forced_errors",
    "IndependenceCheck",
    "independence_check",
    "plot_error_distribution",
    "CompoundingPoint",
    "checkpoint_points",
    "length_points",
    "plot_exact_vs_prediction",
    "plot_training_curves",
    "position_kinds",
    "error_rates_by_kind",
    "forecast_by_kind",
    "first_error_index",
    "first_error_html",
    "failed_generations_html",
    "pick_failures",
    "first_error_kinds",
    "AfterError",
    "after_first_error",
]


# ---------------------------------------------------------------------------------------------
# The arithmetic


def _check_p(p) -> np.ndarray:
    arr = np.asarray(p, dtype=float)
    if not np.all(np.isfinite(arr)) or np.any(arr < 0) or np.any(arr > 1):
        raise ValueError(f"p must be a probability in [0, 1], got {p!r}")
    return arr


def sequence_success(p, T):
    """``p ** T``: the chance that all ``T`` tokens are right when each is right with probability
    ``p``, independently of the others. Works elementwise on arrays."""
    p_arr = _check_p(p)
    T_arr = np.asarray(T, dtype=float)
    if not np.all(np.isfinite(T_arr)) or np.any(T_arr < 0):
        raise ValueError(f"T must be a length >= 0, got {T!r}")
    out = p_arr**T_arr
    return float(out) if out.ndim == 0 else out


def length_at_success(p, success: float = 0.5):
    """The answer length ``T`` at which ``p ** T`` falls to ``success``: ``ln(success) / ln(p)``.

    For ``success = 0.5`` and a small error rate ``e = 1 - p`` this is close to ``0.69 / e``: halve
    the error rate and you may write answers twice as long. ``p = 1`` gives ``inf``.
    """
    p_arr = _check_p(p)
    if isinstance(success, bool) or not isinstance(success, (int, float)) or not 0 < success < 1:
        raise ValueError(f"success must be a number in (0, 1), got {success!r}")
    if np.any(p_arr == 0):
        raise ValueError("p must be > 0")
    with np.errstate(divide="ignore"):
        out = np.where(p_arr < 1, math.log(success) / np.log(np.where(p_arr < 1, p_arr, 0.5)), np.inf)
    return float(out) if out.ndim == 0 else out


def plot_success_curves(
    ps: Sequence[float] = (0.9, 0.95, 0.99, 0.999),
    T_max: int = 500,
    marks: Sequence[tuple[float, int]] = (),
    ax: Axes | None = None,
) -> Figure:
    """``p ** T`` against ``T`` for a few ``p``, with optional ``(p, T)`` points marked."""
    ax = new_axes(ax)
    T = np.arange(0, T_max + 1)
    for i, p in enumerate(ps):
        ax.plot(T, sequence_success(p, T), color=PALETTE[i % len(PALETTE)], label=f"p = {p:g}")
    for p, t in marks:
        y = sequence_success(p, t)
        ax.plot([t], [y], "o", color=COLORS["prediction"], zorder=5)
        ax.annotate(f"{p:g}$^{{{t}}}$ = {y:.2f}", (t, y), textcoords="offset points", xytext=(6, 6), fontsize=9)
    ax.axhline(0.5, color=COLORS["neutral"], lw=1, ls=":")
    ax.set_xlabel("answer length T (tokens)")
    ax.set_ylabel("P(every token right) = $p^T$")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(0, T_max)
    ax.set_title("Per-token accuracy compounds")
    ax.legend(loc="upper right")
    return ax.figure


def plot_half_length(
    p_min: float = 0.9,
    p_max: float = 0.9999,
    marks: Sequence[tuple[float, str]] = (),
    ax: Axes | None = None,
) -> Figure:
    """The answer length at which success falls to 50 %, against the per-token error rate ``1 - p``.

    Both axes are logarithmic: the line has slope -1, so every factor of ten in error rate is a
    factor of ten in the longest answer you can trust half the time. ``marks`` are ``(p, label)``.
    """
    if not 0 < p_min < p_max < 1:
        raise ValueError(f"need 0 < p_min < p_max < 1, got {p_min}, {p_max}")
    ax = new_axes(ax)
    err = np.geomspace(1 - p_max, 1 - p_min, 200)
    ax.loglog(err, length_at_success(1 - err), color=COLORS["prediction"])
    for i, (p, label) in enumerate(marks):
        t50 = length_at_success(p)
        ax.plot([1 - p], [t50], "o", color=PALETTE[(i + 1) % len(PALETTE)], zorder=5)
        ax.annotate(f"{label}: T = {t50:.0f}", (1 - p, t50), textcoords="offset points", xytext=(-10, 2),
                    ha="right", va="bottom", fontsize=9)
    ax.set_xlabel("per-token error rate 1 − p")
    ax.set_ylabel("length T where $p^T$ = 50%")
    ax.set_title("How long an answer you can trust half the time")
    ax.invert_xaxis()
    return ax.figure


def compounding_explorer(p: float = 0.99, T: int = 142):
    """Sliders for ``p`` and ``T`` with a live curve and readout (JupyterLab; inert on a static page)."""
    import ipywidgets as widgets
    from IPython.display import display

    # no slider `description`: the static page's widget manager would hand it to MathJax 2's
    # typesetter, which the book (MathJax 3) does not have; an HTML label beside it is safe
    p_slider = widgets.FloatSlider(value=p, min=0.9, max=0.9999, step=0.0001, readout_format=".4f",
                                   continuous_update=False, layout=widgets.Layout(width="380px"))
    T_slider = widgets.IntSlider(value=T, min=1, max=1000, step=1, continuous_update=False,
                                 layout=widgets.Layout(width="380px"))
    readout = widgets.HTML()
    out = widgets.Output()

    def redraw(*_):
        pv, Tv = p_slider.value, T_slider.value
        success = sequence_success(pv, Tv)
        readout.value = (
            f"<b>p<sup>T</sup></b> = {pv:.4f}<sup>{Tv}</sup> = <b>{success:.1%}</b> of answers fully right; "
            f"success falls to 50% at T = {length_at_success(pv):.0f} tokens."
        )
        with out:
            out.clear_output(wait=True)
            fig, ax = plt.subplots(figsize=(6.4, 3.4))
            plot_success_curves(ps=(pv,), T_max=max(200, 2 * Tv), marks=[(pv, Tv)], ax=ax)
            display(fig)
            plt.close(fig)

    p_slider.observe(redraw, names="value")
    T_slider.observe(redraw, names="value")
    redraw()
    def row(name, slider):
        return widgets.HBox([widgets.HTML(f"<b>{name}</b>", layout=widgets.Layout(width="2.5em")), slider])

    return widgets.VBox([row("p", p_slider), row("T", T_slider), readout, out])


# ---------------------------------------------------------------------------------------------
# Teacher-forced errors, example by example


@dataclass
class TokenErrors:
    """Which target tokens a model gets wrong on gold prefixes, example by example.

    ``correct[i]`` is a bool array over the target characters of example ``i`` plus ``<eos>``.
    """

    examples: list[Example]
    correct: list[np.ndarray] = field(repr=False)

    @property
    def n(self) -> int:
        return len(self.examples)

    @property
    def lengths(self) -> np.ndarray:
        return np.array([len(c) for c in self.correct])

    @property
    def n_errors(self) -> np.ndarray:
        return np.array([int((~c).sum()) for c in self.correct])

    @property
    def token_accuracy(self) -> float:
        """Pooled over all target tokens: the number a training log reports."""
        return float(sum(int(c.sum()) for c in self.correct) / self.lengths.sum())

    @property
    def zero_error_rate(self) -> float:
        """Fraction of examples with every token right: equal to greedy exact match."""
        return float(np.mean(self.n_errors == 0))


@torch.no_grad()
def teacher_forced_errors(model, task: Task, n: int, seed: int, *, batch_size: int = 256) -> TokenErrors:
    """Score every target token of ``task.sample(n, seed)`` on gold prefixes (one pass per batch)."""
    device = check_model(model)
    if not isinstance(task, Task):
        raise TypeError(f"task must be a handbook_utils.tasks.Task, got {type(task).__name__}")
    examples = task.sample(n, seed)
    correct = []
    with eval_mode(model):
        for start in range(0, n, batch_size):
            chunk = examples[start : start + batch_size]
            batch = task.batch(chunk, device=device)
            hits = (model(batch.inputs).argmax(-1) == batch.targets).cpu()  # (B, T)
            mask = batch.loss_mask.cpu()
            correct += [hits[b][mask[b]].numpy().astype(bool) for b in range(len(chunk))]
    return TokenErrors(examples, correct)


def _binomial_pmf(n: int, q: float, k_max: int) -> np.ndarray:
    """P(K = k) for k = 0..k_max-1 and P(K >= k_max) in the last slot, K ~ Binomial(n, q)."""
    k = np.arange(k_max)
    logc = np.array([math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) if i <= n else -np.inf for i in k])
    with np.errstate(divide="ignore"):
        logp = logc + k * math.log(q) + np.maximum(n - k, 0) * math.log1p(-q) if 0 < q < 1 else None
    if logp is None:
        pmf = np.zeros(k_max)
        if q == 0:
            pmf[0] = 1.0
        elif n < k_max:
            pmf[n] = 1.0
    else:
        pmf = np.where(k <= n, np.exp(logp), 0.0)
    return np.append(pmf, max(0.0, 1.0 - pmf.sum()))


@dataclass
class IndependenceCheck:
    """The independence forecast of exact match, and the data that test it."""

    n: int
    token_accuracy: float  # p, pooled over every target token
    mean_length: float  # mean T (target characters + <eos>)
    exact_match: float  # fraction of examples with zero teacher-forced errors
    estimate_mean_length: float  # p ** mean(T): the back-of-the-envelope forecast
    estimate_per_example: float  # mean_i p ** T_i: the same p, each example's own length
    estimate_per_position: float  # mean_i prod_t p_t: accuracy by position, still independent
    k_max: int  # the last count bin holds ">= k_max errors"
    observed: np.ndarray = field(repr=False)  # (k_max + 1,) fraction of examples with k errors
    expected: np.ndarray = field(repr=False)  # (k_max + 1,) the same under independence
    mean_errors: float  # errors per example
    variance_ratio: float  # var(errors) / binomial variance: 1 if independent, > 1 if clustered
    worst_decile_share: float  # share of all errors made on the worst 10 % of examples

    @property
    def direction(self) -> str:
        """'under' if the forecast p**T_i is below the measured exact match, else 'over'."""
        return "under" if self.estimate_per_example < self.exact_match else "over"


def independence_check(errors: TokenErrors, k_max: int = 5) -> IndependenceCheck:
    """Compare the per-example error counts with what independent errors would give."""
    if not isinstance(errors, TokenErrors):
        raise TypeError(f"errors must be a TokenErrors, got {type(errors).__name__}")
    if isinstance(k_max, bool) or not isinstance(k_max, int) or k_max < 1:
        raise ValueError(f"k_max must be an int >= 1, got {k_max!r}")
    p = errors.token_accuracy
    lengths, counts = errors.lengths, errors.n_errors
    # accuracy by target position, pooled over the examples long enough to have that position
    L = int(lengths.max())
    hits, seen = np.zeros(L), np.zeros(L)
    for c in errors.correct:
        hits[: len(c)] += c
        seen[: len(c)] += 1
    p_t = hits / np.maximum(seen, 1)
    per_position = float(np.mean([np.prod(p_t[:T]) for T in lengths]))
    observed = np.bincount(np.minimum(counts, k_max), minlength=k_max + 1) / errors.n
    expected = np.mean([_binomial_pmf(int(T), 1 - p, k_max) for T in lengths], axis=0)
    binom_var = float(np.mean(lengths * p * (1 - p)))
    order = np.sort(counts)[::-1]
    worst = order[: max(1, int(round(0.1 * errors.n)))]
    return IndependenceCheck(
        n=errors.n,
        token_accuracy=p,
        mean_length=float(lengths.mean()),
        exact_match=errors.zero_error_rate,
        estimate_mean_length=float(p ** lengths.mean()),
        estimate_per_example=float(np.mean(p**lengths)),
        estimate_per_position=per_position,
        k_max=k_max,
        observed=observed,
        expected=expected,
        mean_errors=float(counts.mean()),
        variance_ratio=float(counts.var() / binom_var) if binom_var > 0 else float("nan"),
        worst_decile_share=float(worst.sum() / counts.sum()) if counts.sum() else 0.0,
    )


def plot_error_distribution(check: IndependenceCheck, ax: Axes | None = None) -> Figure:
    """Bars: fraction of examples with 0, 1, 2, … teacher-forced errors, measured vs independent."""
    ax = new_axes(ax)
    k = np.arange(check.k_max + 1)
    w = 0.38
    ax.bar(k - w / 2, check.observed, w, color=COLORS["teacher_forcing"], label="measured")
    ax.bar(k + w / 2, check.expected, w, color=COLORS["neutral"], label="if errors were independent")
    ax.set_xticks(k, [str(i) for i in k[:-1]] + [f"≥{check.k_max}"])
    ax.set_xlabel("teacher-forced errors in one answer")
    ax.set_ylabel("fraction of answers")
    ax.set_title("Errors cluster in a few answers")
    for x, y in ((0 - w / 2, check.observed[0]), (0 + w / 2, check.expected[0])):
        ax.annotate(f"{y:.2f}", (x, y), ha="center", va="bottom", fontsize=9, textcoords="offset points",
                    xytext=(0, 2))
    ax.legend(loc="upper right")
    return ax.figure


# ---------------------------------------------------------------------------------------------
# Exact match against the forecast, across checkpoints and chain lengths


@dataclass
class CompoundingPoint:
    """One evaluation: teacher-forced token accuracy, the forecast it implies, and the truth."""

    kind: str  # "checkpoint" or "length"
    value: int  # the training step or the number of terms
    token_accuracy: float
    mean_length: float
    predicted: float  # mean over examples of p ** T_i
    exact_match: float


def _point(kind: str, value: int, ev: Evaluation) -> CompoundingPoint:
    return CompoundingPoint(kind, int(value), ev.tf_token_accuracy, ev.mean_target_length,
                            ev.independence_estimate_per_example, ev.exact_match)


def checkpoint_points(history) -> list[CompoundingPoint]:
    """One point per evaluation stored in a training ``History`` (``eval_every``)."""
    if not getattr(history, "evals", None):
        raise ValueError("history holds no evaluations: train with eval_every set")
    return [_point("checkpoint", step, ev) for step, ev in history.evals]


def length_points(model, task: AdditionChainTask, n_terms: Sequence[int], n: int, seed: int) -> list[CompoundingPoint]:
    """Evaluate ``model`` on chains of exactly ``k`` terms for each ``k`` in ``n_terms``."""
    if not isinstance(task, AdditionChainTask):
        raise TypeError(f"task must be an AdditionChainTask, got {type(task).__name__}")
    points = []
    for k in n_terms:
        sub = AdditionChainTask(n_terms=k, max_value=task.max_value)
        points.append(_point("length", k, evaluate(model, sub, n, seed)))
    return points


def plot_exact_vs_prediction(
    checkpoints: Sequence[CompoundingPoint], lengths: Sequence[CompoundingPoint], ax: Axes | None = None
) -> Figure:
    """Measured exact match (y) against the independence forecast (x): one point per checkpoint
    (coloured by training step) and per chain length (labelled by number of terms)."""
    ax = new_axes(ax, figsize=(6.0, 5.0))
    ax.plot([0, 1], [0, 1], color=COLORS["neutral"], lw=1, ls="--", zorder=0, label="forecast = measured")
    if checkpoints:
        x = [c.predicted for c in checkpoints]
        y = [c.exact_match for c in checkpoints]
        ax.plot(x, y, "-", color=COLORS["teacher_forcing"], lw=1, alpha=0.5)
        ax.scatter(x, y, color=COLORS["teacher_forcing"], s=30, zorder=3, label="training checkpoints (final: ★)")
        ax.scatter(x[-1:], y[-1:], marker="*", s=180, color=COLORS["teacher_forcing"], zorder=4)
        ax.annotate(f"step {checkpoints[0].value}", (x[0], y[0]), textcoords="offset points", xytext=(6, -2),
                    fontsize=8, color=COLORS["teacher_forcing"])
    if lengths:
        x = [c.predicted for c in lengths]
        y = [c.exact_match for c in lengths]
        ax.scatter(x, y, marker="s", color=COLORS["free_running"], s=34, zorder=3,
                   label="final model, chains of k terms")
        for c in lengths:
            ax.annotate(f"k={c.value}", (c.predicted, c.exact_match), textcoords="offset points", xytext=(5, -10),
                        fontsize=8, color=COLORS["free_running"])
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_aspect("equal")
    ax.set_xlabel(r"independence forecast: mean of $p^{T_i}$")
    ax.set_ylabel("measured exact match (free running, greedy)")
    ax.set_title("Exact match vs. the $p^T$ forecast")
    ax.legend(loc="upper left")
    return ax.figure


def plot_training_curves(history, stage_ends: Sequence[int] = (), ax: Axes | None = None) -> Figure:
    """Teacher-forced token accuracy, exact match and the forecast at every stored evaluation;
    ``stage_ends`` marks the steps where one training stage hands over to the next."""
    ax = new_axes(ax)
    for i, step in enumerate(stage_ends):
        ax.axvline(step, color=COLORS["neutral"], lw=1, ls="--")
        ax.text(step, 0.02, " next stage", color=COLORS["neutral"], fontsize=9, ha="left", va="bottom")
    points = checkpoint_points(history)
    steps = [c.value for c in points]
    ax.plot(steps, [c.token_accuracy for c in points], "o-", color=COLORS["teacher_forcing"],
            label="teacher-forced token accuracy")
    ax.plot(steps, [c.exact_match for c in points], "s-", color=COLORS["free_running"],
            label="free-running exact match")
    ax.plot(steps, [c.predicted for c in points], ":", color=COLORS["prediction"], label=r"forecast $p^{T}$")
    ax.set_xlabel("training step")
    ax.set_ylabel("fraction")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("What the training log shows, and what it hides")
    ax.legend(loc="lower right")
    return ax.figure


# ---------------------------------------------------------------------------------------------
# Where the errors are, and what the first one does


position_kinds = AdditionChainTask.position_kinds


def error_rates_by_kind(errors: TokenErrors) -> dict[str, tuple[int, int, float]]:
    """``kind -> (tokens, errors, error rate)`` over every scored token (see :func:`position_kinds`)."""
    totals = {k: [0, 0] for k in KINDS}
    for ex, c in zip(errors.examples, errors.correct):
        for kind, ok in zip(position_kinds(ex.target), c):
            totals[kind][0] += 1
            totals[kind][1] += int(not ok)
    return {k: (t, e, e / t if t else float("nan")) for k, (t, e) in totals.items()}


def forecast_by_kind(errors: TokenErrors) -> float:
    """Independence forecast with one error rate per kind of token (see :func:`position_kinds`):
    the mean over examples of the product over kinds of ``(1 - rate_kind) ** count_kind``."""
    rates = {k: r for k, (_, _, r) in error_rates_by_kind(errors).items()}
    total = 0.0
    for ex in errors.examples:
        kinds = position_kinds(ex.target)
        total += math.prod((1 - rates[k]) for k in kinds)
    return total / errors.n


def first_error_index(target: str, output: str) -> int | None:
    """Index of the first character where ``output`` differs from ``target`` (``None`` if equal)."""
    for i, (a, b) in enumerate(zip(target, output)):
        if a != b:
            return i
    return None if len(target) == len(output) else min(len(target), len(output))


def first_error_html(prompt: str, target: str, output: str) -> str:
    """Aligned monospace lines: what the model wrote (first wrong character highlighted, the rest
    of its answer in the free-running colour), the correct answer, and a verdict on the final answer."""
    i = first_error_index(target, output)
    esc = html.escape
    fr, tf = COLORS["free_running"], COLORS["teacher_forcing"]
    if i is None:
        wrote = f'<span style="color:{tf}">{esc(output)}</span>'
    else:
        bad = output[i] if i < len(output) else "⏎"  # stopped early
        wrote = (
            f'<span style="color:{tf}">{esc(output[:i])}</span>'
            f'<span style="background:{fr};color:white;font-weight:bold;padding:0 1px">{esc(bad)}</span>'
            f'<span style="color:{fr}">{esc(output[i + 1:])}</span>'
        )
    got, want = AdditionChainTask.answer_of(output), AdditionChainTask.answer_of(target)
    if got is None:
        verdict = "no final answer"
    elif got == want:
        verdict = f"final answer {got}: right despite the wrong step"
    else:
        verdict = f"final answer {got}: wrong (should be {want})"
    pad = esc(" " * len(prompt))
    grey = '<span style="color:#555">'
    return (
        '<div style="font-family:monospace;font-size:0.78em;white-space:pre;overflow-x:auto;'
        'margin:0.4em 0 0.9em 0;line-height:1.5">'
        f"{grey}model  </span> {esc(prompt)}{wrote}\n"
        f"{grey}correct</span> {pad}{grey}{esc(target)}</span>\n"
        f"{grey}        {pad}→ {esc(verdict)}</span>"
        "</div>"
    )


def pick_failures(examples: Sequence[Example], outputs: Sequence[str], k: int = 3) -> list[tuple[Example, str]]:
    """Up to ``k`` failed generations worth showing, deterministically: the earliest first error
    whose final answer is wrong, the earliest whose final answer is still right, then the latest
    first errors."""
    failed = [(first_error_index(e.target, o), j, e, o)
              for j, (e, o) in enumerate(zip(examples, outputs)) if o != e.target]
    failed.sort(key=lambda t: (t[0], t[1]))
    picks: list[tuple[int, int, Example, str]] = []
    wrong_answer = [f for f in failed if AdditionChainTask.answer_of(f[3]) != AdditionChainTask.answer_of(f[2].target)]
    right_answer = [f for f in failed if AdditionChainTask.answer_of(f[3]) == AdditionChainTask.answer_of(f[2].target)]
    for group in (wrong_answer, right_answer):
        if group and len(picks) < k:
            picks.append(group[0])
    for f in reversed(failed):
        if len(picks) >= k:
            break
        if all(f[1] != p[1] for p in picks):
            picks.append(f)
    picks.sort(key=lambda t: (t[0], t[1]))
    return [(e, o) for _, _, e, o in picks]


def failed_generations_html(examples: Sequence[Example], outputs: Sequence[str], k: int = 3) -> str:
    """HTML for the failures chosen by :func:`pick_failures`."""
    picks = pick_failures(examples, outputs, k)
    if not picks:
        return "<p>No failed generations.</p>"
    return "".join(first_error_html(e.prompt, e.target, o) for e, o in picks)


def first_error_kinds(examples: Sequence[Example], outputs: Sequence[str]) -> dict[str, float]:
    """Where free-running answers first go wrong: ``kind -> share of the failed answers``."""
    counts = {k: 0 for k in KINDS}
    n = 0
    for e, o in zip(examples, outputs):
        i = first_error_index(e.target, o)
        if i is None:
            continue
        n += 1
        counts[position_kinds(e.target)[min(i, len(e.target))]] += 1
    return {k: c / n if n else float("nan") for k, c in counts.items()}


@dataclass
class AfterError:
    """What free-running generations do after their first mistake."""

    n_failed: int
    later_wrong: float  # mean fraction of the characters after the first error that differ from the target
    later_sums_wrong: float  # the same, over the digits of later sums only (the characters that depend on it)
    answer_wrong: float  # fraction of failed generations whose final answer is wrong
    well_formed: float  # fraction that still parse as a chain "<think>a+b=...</think>n"
    consistent_after_error: float  # of the well-formed: every step after the first error is valid arithmetic
    answer_follows_own_chain: float  # of the well-formed: the answer equals the model's own last line


def after_first_error(examples: Sequence[Example], outputs: Sequence[str]) -> AfterError:
    """Measure, on the failed generations, how the rest of the answer goes after the first error.

    ``consistent_after_error`` asks whether the model keeps computing correctly *from its own wrong
    line*: each later line is the previous one with its first two numbers added. That is the
    signature of a model that takes its own output as given.
    """
    later, later_sums, wrong_answer, formed, consistent, follows = [], [], [], 0, 0, 0
    n_failed = 0
    for e, o in zip(examples, outputs):
        if o == e.target:
            continue
        n_failed += 1
        i = first_error_index(e.target, o)
        rest = range(i + 1, len(e.target))
        if len(rest):
            later.append(np.mean([j >= len(o) or o[j] != e.target[j] for j in rest]))
        kinds = position_kinds(e.target)
        sums = [j for j in rest if kinds[j] == "sum"]
        if sums:
            later_sums.append(np.mean([j >= len(o) or o[j] != e.target[j] for j in sums]))
        check = AdditionChainTask.check_chain(e.prompt, o)
        wrong_answer.append(not check.answer_correct)
        lines = AdditionChainTask.chain_lines(o)
        if not check.well_formed:
            continue
        formed += 1
        follows += check.answer_follows_chain
        # the line holding the first error, counted in '=' signs before it
        err_line = max(0, o[len("<think>") : i].count("="))
        ok = all(
            len(lines[j]) >= 2 and lines[j + 1] == [lines[j][0] + lines[j][1], *lines[j][2:]]
            for j in range(err_line, len(lines) - 1)
        )
        consistent += ok
    if n_failed == 0:
        return AfterError(0, *[float("nan")] * 6)
    return AfterError(
        n_failed=n_failed,
        later_wrong=float(np.mean(later)) if later else float("nan"),
        later_sums_wrong=float(np.mean(later_sums)) if later_sums else float("nan"),
        answer_wrong=float(np.mean(wrong_answer)),
        well_formed=formed / n_failed,
        consistent_after_error=consistent / formed if formed else float("nan"),
        answer_follows_own_chain=follows / formed if formed else float("nan"),
    )
