"""Teacher-forced errors example by example, and whether they are independent (chapter 3).

- :func:`teacher_forced_errors` scores every target token of many examples on gold prefixes
  (section "A model that is 99% right"; chapter 4 reuses it).
- :func:`independence_check` compares the distribution of per-example error counts with the
  binomial that independence implies (:func:`plot_error_distribution`, section "Are the errors
  independent?"; chapter 4's exercises reuse it).
- :func:`error_rates_by_kind` shows *where* the errors sit, by the kind of character
  (:meth:`handbook_utils.tasks.AdditionChainTask.position_kinds`), and :func:`forecast_by_kind`
  makes the forecast with one error rate per kind (section "Anatomy of a failure").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .. import checks
from ..generation import check_model
from ..plotting import COLORS, new_axes
from ..runtime import eval_mode
from ..tasks import KINDS, AdditionChainTask, Example, Task

__all__ = [
    "TokenErrors",
    "teacher_forced_errors",
    "IndependenceCheck",
    "independence_check",
    "plot_error_distribution",
    "error_rates_by_kind",
    "forecast_by_kind",
]


@dataclass
class TokenErrors:
    """Which target tokens a model gets wrong on gold prefixes, example by example.

    ``correct[i]`` is a bool array over the target characters of example ``i`` plus ``<eos>``.
    """

    examples: list[Example]
    correct: list[np.ndarray] = field(repr=False)  # [i] (T_i,) bool

    @property
    def n(self) -> int:
        return len(self.examples)

    @property
    def lengths(self) -> np.ndarray:
        """(n,) T_i: target characters + <eos>."""
        return np.array([len(c) for c in self.correct])

    @property
    def n_errors(self) -> np.ndarray:
        """(n,) wrong tokens per example."""
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
    """Score every target token of ``task.sample(n, seed)`` on gold prefixes (one pass per batch):
    the problems :func:`~handbook_utils.metrics.evaluate` measures on the same ``task``, so pass
    ``task.held_out_task()`` to score problems the model never trained on."""
    device = check_model(model, task)
    checks.instance("task", task, Task)
    n, batch_size = checks.positive_int("n", n), checks.positive_int("batch_size", batch_size)
    examples = task.sample(n, seed)
    correct = []
    with eval_mode(model):
        for start in range(0, n, batch_size):
            chunk = examples[start : start + batch_size]
            batch = task.batch(chunk, device=device)
            hits = (model(batch.inputs).argmax(-1) == batch.targets).cpu()  # (B, T)
            mask = batch.loss_mask.cpu()  # (B, T)
            correct += [hits[b][mask[b]].numpy().astype(bool) for b in range(len(chunk))]
    return TokenErrors(examples, correct)


# ---------------------------------------------------------------------------------------------
# The independence assumption, tested


def _binomial_pmf(n: int, q: float, k_max: int) -> np.ndarray:
    """(k_max + 1,) P(K = k) for k = 0..k_max-1 and P(K >= k_max) in the last slot, K ~ Binomial(n, q)."""
    k = np.arange(k_max)
    logc = np.array([math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) if i <= n else -np.inf
                     for i in k])  # (k_max,) log binomial coefficients
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
    checks.instance("errors", errors, TokenErrors)
    k_max = checks.positive_int("k_max", k_max)
    p = errors.token_accuracy
    lengths, counts = errors.lengths, errors.n_errors  # (n,), (n,)
    # accuracy by target position, pooled over the examples long enough to have that position
    L = int(lengths.max())
    hits, seen = np.zeros(L), np.zeros(L)  # (L,), (L,)
    for c in errors.correct:
        hits[: len(c)] += c
        seen[: len(c)] += 1
    p_t = hits / np.maximum(seen, 1)  # (L,)
    per_position = float(np.mean([np.prod(p_t[:T]) for T in lengths]))
    observed = np.bincount(np.minimum(counts, k_max), minlength=k_max + 1) / errors.n  # (k_max + 1,)
    expected = np.mean([_binomial_pmf(int(T), 1 - p, k_max) for T in lengths], axis=0)  # (k_max + 1,)
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
    ax.bar(k + w / 2, check.expected, w, color=COLORS["neutral"], hatch="///", edgecolor="white",
           label="if errors were independent")
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
# Where the errors are


def error_rates_by_kind(errors: TokenErrors) -> dict[str, tuple[int, int, float]]:
    """``kind -> (tokens, errors, error rate)`` over every scored token of addition chains
    (see :meth:`handbook_utils.tasks.AdditionChainTask.position_kinds`)."""
    totals = {k: [0, 0] for k in KINDS}
    for ex, c in zip(errors.examples, errors.correct):
        for kind, ok in zip(AdditionChainTask.position_kinds(ex.target), c):
            totals[kind][0] += 1
            totals[kind][1] += int(not ok)
    return {k: (t, e, e / t if t else float("nan")) for k, (t, e) in totals.items()}


def forecast_by_kind(errors: TokenErrors) -> float:
    """Independence forecast with one error rate per kind of token: the mean over examples of the
    product over kinds of ``(1 - rate_kind) ** count_kind``."""
    rates = {k: r for k, (_, _, r) in error_rates_by_kind(errors).items()}
    total = sum(math.prod(1 - rates[k] for k in AdditionChainTask.position_kinds(ex.target))
                for ex in errors.examples)
    return total / errors.n
