"""What the loss of one token measures (chapter 2, section "One token: cross-entropy").

- :func:`token_loss` is ``-log p``, the cross-entropy of one token that got probability ``p``;
  :func:`plot_cross_entropy` draws it, with the cost of confident mistakes marked.
- :func:`token_scores` gives the probability a model puts on each gold token of one example
  (:func:`plot_token_losses` draws where the loss of that answer lives).
- :func:`read_loss` turns a mean loss into the geometric-mean probability ``exp(-loss)``
  (:func:`geometric_mean_probability`) and sets it next to accuracy.

:func:`gold_log_probs` is the one teacher-forced pass the readings share; chapter 2's chain-rule
check (:func:`handbook_utils.chapters.ch02_chain_rule.teacher_forced_nll`) sums the same numbers.
Plot functions take the data and an optional ``ax`` and return the Figure (never ``plt.show()``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .. import checks
from ..generation import check_model
from ..plotting import COLORS, PALETTE, new_axes
from ..runtime import eval_mode
from ..tasks import Batch, Example, Task

__all__ = [
    "token_loss",
    "geometric_mean_probability",
    "gold_log_probs",
    "TokenScores",
    "token_scores",
    "LossReading",
    "read_loss",
    "plot_cross_entropy",
    "plot_token_losses",
]


def token_loss(p):
    """Cross-entropy of one token: ``-log p``, where ``p`` is the probability put on the right token.

    Works on a float or an array; ``p`` must lie in (0, 1].
    """
    arr = checks.probabilities("p", p, allow_zero=False)
    out = -np.log(arr) + 0.0  # + 0.0 turns -0.0 (for p = 1) into 0.0
    return float(out) if out.ndim == 0 else out


def geometric_mean_probability(mean_loss: float) -> float:
    """``exp(-mean_loss)``: the geometric mean of the probabilities put on the right tokens.

    A mean cross-entropy ``L = -(1/N) Σ log p_i`` is the log of ``(Π p_i)^(-1/N)``, so ``exp(-L)`` is
    the "typical" probability of a right token, in the geometric sense. ``L = 0.01`` gives ``0.990``.
    """
    return math.exp(-checks.non_negative("mean_loss", mean_loss))


@torch.no_grad()
def gold_log_probs(model, task: Task, examples: Sequence[Example]) -> tuple[Batch, torch.Tensor, torch.Tensor]:
    """One teacher-forced pass over ``examples``, in float64: ``(batch, log_probs, gold)``.

    ``log_probs`` is ``(B, T, V)``, the model's log-distribution at every position given the gold
    prefix; ``gold`` is ``(B, T)``, the log-probability of the gold next token (read it where
    ``batch.loss_mask`` is True). This is what training computes, before it is averaged.
    """
    device = check_model(model, task)
    checks.instance("task", task, Task)
    batch = task.batch(checks.non_empty_list("examples", examples, Example), device=device)
    with eval_mode(model):
        log_probs = F.log_softmax(model(batch.inputs).double(), dim=-1)  # (B, T, V)
    gold = log_probs.gather(-1, batch.targets[..., None]).squeeze(-1)  # (B, T)
    return batch, log_probs, gold


@dataclass
class TokenScores:
    """Teacher-forced scores of one example: one entry per target token (the last is ``<eos>``)."""

    prompt: str
    tokens: list[str]  # the gold target tokens, "<eos>" last
    probs: list[float]  # probability the model put on each of them (gold prefix)
    losses: list[float]  # -log probs
    argmax_right: list[bool]  # was the gold token the model's first choice?

    @property
    def total_loss(self) -> float:
        return float(sum(self.losses))


def token_scores(model, task: Task, example: Example) -> TokenScores:
    """Probability and loss of every gold target token of ``example``, read off one teacher-forced pass."""
    checks.instance("example", example, Example)
    batch, log_probs, gold = gold_log_probs(model, task, [example])
    mask = batch.loss_mask[0]  # (T,)
    lp = gold[0][mask]  # (T_target,)
    ids = batch.targets[0][mask]  # (T_target,)
    right = log_probs[0][mask].argmax(-1) == ids  # (T_target,)
    itos = task.tokenizer.itos
    return TokenScores(
        prompt=example.prompt,
        tokens=[itos[i] for i in ids.tolist()],
        probs=lp.exp().tolist(),
        losses=(-lp).tolist(),
        argmax_right=right.tolist(),
    )


@dataclass
class LossReading:
    """One mean loss read four ways, on ``n_examples`` examples (``n_tokens`` scored tokens)."""

    n_examples: int
    n_tokens: int
    mean_loss: float  # mean cross-entropy per target token: the number a training curve shows
    geometric_mean_prob: float  # exp(-mean_loss)
    arithmetic_mean_prob: float  # plain mean of the probabilities of the right tokens
    token_accuracy: float  # the right token was the model's first choice
    min_prob: float  # the least probability any right token got
    mean_target_tokens: float  # T: tokens per answer, <eos> included
    mean_answer_prob: float  # mean over examples of P(whole target | prompt) = exp(-sum of losses)


def read_loss(model, task: Task, examples: Sequence[Example]) -> LossReading:
    """Teacher-forced loss of ``model`` on ``examples``, with what it means as a probability."""
    batch, log_probs, gold = gold_log_probs(model, task, examples)
    mask = batch.loss_mask  # (B, T)
    right = (log_probs.argmax(-1) == batch.targets) & mask  # (B, T)
    scored = gold[mask]  # (N,) every scored token
    per_example = (gold * mask).sum(1)  # (B,) log P(target | prompt)
    return LossReading(
        n_examples=len(batch.inputs),
        n_tokens=int(mask.sum()),
        mean_loss=float(-scored.mean()),
        geometric_mean_prob=float(scored.mean().exp()),
        arithmetic_mean_prob=float(scored.exp().mean()),
        token_accuracy=float(right.sum() / mask.sum()),
        min_prob=float(scored.exp().min()),
        mean_target_tokens=float(mask.sum(1).double().mean()),
        mean_answer_prob=float(per_example.exp().mean()),
    )


def plot_cross_entropy(marks: Sequence[tuple[str, float]] = (), vocab_size: int | None = None,
                       ax: Axes | None = None) -> Figure:
    """The curve ``-log p`` against the probability ``p`` put on the right token, with labelled points.

    ``marks`` is a list of ``(label, p)``; ``vocab_size`` adds the loss of a uniform guess.
    """
    ax = new_axes(ax)
    p = np.logspace(-4, 0, 400)
    ax.plot(p, -np.log(p), color=COLORS["teacher_forcing"], label=r"loss $= -\log q_t$")
    if vocab_size is not None:
        checks.integer("vocab_size", vocab_size, 2)
        ax.axvline(1 / vocab_size, color=COLORS["neutral"], ls=":", lw=1.2)
        ax.text(1 / vocab_size * 1.15, 8.6, f"uniform guess\nover {vocab_size} tokens", fontsize=9,
                color=COLORS["note"], va="top")
    high = 0  # labels of marks on the flat right end go below the curve, with a line to their point
    for i, (label, value) in enumerate(sorted(marks, key=lambda m: -m[1])):
        loss = token_loss(value)
        color = PALETTE[(i + 1) % len(PALETTE)]
        ax.plot([value], [loss], "o", color=color, zorder=3)
        text = f"{label}\np = {value:g}, loss {loss:.2f}"
        if value >= 0.1:
            high += 1
            ax.annotate(text, (value, loss), xytext=(value * 0.12**high, 0.3 + 1.2 * high), ha="right", va="top",
                        fontsize=9, color=color, arrowprops=dict(arrowstyle="-", color=color, lw=0.8))
        else:
            ax.annotate(text, (value, loss), textcoords="offset points", xytext=(10, 4), ha="left",
                        fontsize=9, color=color)
    ax.set_xscale("log")
    ax.set_ylim(-0.3, 9.5)
    ax.set_xlabel("$q_t$ = probability the model puts on the right token (log scale)")
    ax.set_ylabel("cross-entropy of that token (nats)")
    ax.set_title("Confident mistakes cost the most")
    ax.legend(loc="upper right")
    return ax.figure


def plot_token_losses(scores: TokenScores, ax: Axes | None = None) -> Figure:
    """One bar per target token: its teacher-forced loss (log scale), labelled with the token. Tokens
    whose argmax is wrong are vermilion *and* hatched, so they stand out without colour too."""
    ax = new_axes(ax, figsize=(9.0, 3.6))
    losses = np.maximum(np.asarray(scores.losses), 1e-12)  # (T_target,) a loss of 0 has no log
    x = np.arange(len(losses))
    right = np.asarray(scores.argmax_right, dtype=bool)  # (T_target,)
    ax.bar(x[right], losses[right], color=COLORS["teacher_forcing"], width=0.8, label="argmax right")
    if not right.all():
        ax.bar(x[~right], losses[~right], color=COLORS["free_running"], width=0.8, hatch="///",
               edgecolor="white", label="argmax wrong")
    ax.legend(loc="upper right", fontsize=9)
    ax.set_yscale("log")
    ax.set_xticks(x)
    ax.set_xticklabels(["⏎" if t == "<eos>" else t for t in scores.tokens], fontsize=8, family="monospace")
    ax.set_xlim(-0.8, len(losses) - 0.2)
    ax.set_xlabel(f"target tokens after the prompt {scores.prompt!r} (⏎ = <eos>)")
    ax.set_ylabel("loss of the token (log scale)")
    ax.set_title(f"Where the loss of one answer lives (sum {scores.total_loss:.4f})")
    ax.grid(axis="x", visible=False)
    return ax.figure
