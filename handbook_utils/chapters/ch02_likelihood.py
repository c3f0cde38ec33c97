"""What the training loss measures (chapter 2): cross-entropy, the chain rule, causal masking, sampling.

Four questions, one section each, every answer a function the chapter calls and the tests check:

- **Cross-entropy per token.** :func:`token_loss` is ``-log p``; :func:`token_scores` gives the
  probability a model puts on each gold token of one example; :func:`read_loss` turns a mean loss
  into the geometric-mean probability ``exp(-loss)`` and sets it next to accuracy.
- **The chain rule.** ``log P(x_1..x_T) = Σ_t log P(x_t | x_<t)``. :func:`enumerate_continuations`
  scores *every* continuation of a tiny length so their probabilities can be summed (they sum to 1);
  :func:`teacher_forced_nll` (one padded pass, the training computation) and
  :func:`one_token_at_a_time_nll` (one forward pass per prefix) compute the same number two ways.
  :class:`TwoStepTask` is a known two-token distribution on which greedy decoding misses the most
  probable sequence, exactly and checkably (:meth:`TwoStepTask.greedy`, :meth:`TwoStepTask.best`,
  :func:`greedy_decode`, :func:`beam_search`).
- **Causal masking.** :func:`one_pass_vs_separate_passes` shows that one pass equals ``T`` passes over
  the growing prefixes; :func:`time_one_pass_vs_separate` measures what that saves.
- **Generate, then compare.** :func:`exact_reward_gradient` (by enumeration) and
  :func:`reinforce_gradient` (by sampling) estimate the gradient of an expected sequence-level reward;
  :func:`reinforce_error_curve` shows how noisy the estimate is; :func:`exact_match_signal` shows that
  on an untrained model an exact-match reward gives no signal at all; :func:`time_updates` times a
  teacher-forced update against a generate-then-compare update.

Plot functions take the data and an optional ``ax`` and return the Figure (never ``plt.show()``).
"""

from __future__ import annotations

import copy
import itertools
import math
import statistics
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .. import checks
from ..generation import (
    beam_search,
    check_model,
    generate_ids,
    greedy_decode,
    sequence_log_prob,
)
from ..plotting import COLORS, PALETTE, new_axes
from ..runtime import eval_mode, time_in_turns
from ..strategies import masked_cross_entropy
from ..tasks import Example, Task, TwoStepTask

__all__ = [
    "token_loss",
    "geometric_mean_probability",
    "TokenScores",
    "token_scores",
    "LossReading",
    "read_loss",
    "plot_cross_entropy",
    "plot_token_losses",
    "as_float64",
    "enumerate_continuations",
    "teacher_forced_nll",
    "one_token_at_a_time_nll",
    "TwoStepTask",
    "greedy_decode",
    "beam_search",
    "plot_greedy_tree",
    "greedy_tree_explorer",
    "CausalCheck",
    "one_pass_vs_separate_passes",
    "future_change_check",
    "PassTiming",
    "time_one_pass_vs_separate",
    "plot_pass_speedup",
    "sequence_log_probs",
    "match_fraction_reward",
    "exact_reward_gradient",
    "reinforce_gradient",
    "ReinforceCurve",
    "reinforce_error_curve",
    "plot_reinforce_error",
    "ExactMatchSignal",
    "exact_match_signal",
    "UpdateTiming",
    "time_updates",
]


# --------------------------------------------------------------------------------------------
# Argument checks (a bad input fails early, naming the parameter)


def _check_examples(examples) -> list[Example]:
    if isinstance(examples, Example) or not isinstance(examples, (list, tuple)) or not examples:
        raise TypeError("examples must be a non-empty list of Example")
    for e in examples:
        checks.instance("examples[i]", e, Example)
    return list(examples)


# --------------------------------------------------------------------------------------------
# 1. Cross-entropy per token


def token_loss(p):
    """Cross-entropy of one token: ``-log p``, where ``p`` is the probability put on the right token.

    Works on a float or an array; ``p`` must lie in (0, 1].
    """
    arr = np.asarray(p, dtype=float)
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0) or np.any(arr > 1):
        raise ValueError(f"p must lie in (0, 1], got {p!r}")
    out = -np.log(arr) + 0.0  # + 0.0 turns -0.0 (for p = 1) into 0.0
    return float(out) if out.ndim == 0 else out


def geometric_mean_probability(mean_loss: float) -> float:
    """``exp(-mean_loss)``: the geometric mean of the probabilities put on the right tokens.

    A mean cross-entropy ``L = -(1/N) Σ log p_i`` is the log of ``(Π p_i)^(-1/N)``, so ``exp(-L)`` is
    the "typical" probability of a right token, in the geometric sense. ``L = 0.01`` gives ``0.990``.
    """
    if isinstance(mean_loss, bool) or not isinstance(mean_loss, (int, float, np.floating)):
        raise TypeError(f"mean_loss must be a number, got {type(mean_loss).__name__}")
    if not math.isfinite(mean_loss) or mean_loss < 0:
        raise ValueError(f"mean_loss must be a finite number >= 0, got {mean_loss}")
    return math.exp(-float(mean_loss))


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


@torch.no_grad()
def token_scores(model, task: Task, example: Example) -> TokenScores:
    """Probability and loss of every gold target token of ``example``, read off one teacher-forced pass."""
    check_model(model)
    checks.instance("task", task, Task)
    (example,) = _check_examples([example])
    device = next(model.parameters()).device
    batch = task.batch([example], device=device)
    with eval_mode(model):
        logp = F.log_softmax(model(batch.inputs).double(), dim=-1)[0]  # (T, V)
    mask = batch.loss_mask[0]
    gold = batch.targets[0][mask]  # (T_target,)
    lp = logp[mask].gather(-1, gold[:, None]).squeeze(-1)  # (T_target,)
    right = logp[mask].argmax(-1) == gold
    itos = task.tokenizer.itos
    return TokenScores(
        prompt=example.prompt,
        tokens=[itos[i] for i in gold.tolist()],
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


@torch.no_grad()
def read_loss(model, task: Task, examples: Sequence[Example]) -> LossReading:
    """Teacher-forced loss of ``model`` on ``examples``, with what it means as a probability."""
    check_model(model)
    checks.instance("task", task, Task)
    examples = _check_examples(examples)
    device = next(model.parameters()).device
    batch = task.batch(examples, device=device)
    with eval_mode(model):
        logp = F.log_softmax(model(batch.inputs).double(), dim=-1)  # (B, T, V)
    mask = batch.loss_mask
    lp = logp.gather(-1, batch.targets[..., None]).squeeze(-1)  # (B, T)
    right = (logp.argmax(-1) == batch.targets) & mask
    scored = lp[mask]
    per_example = (lp * mask).sum(1)  # (B,) log P(target | prompt)
    return LossReading(
        n_examples=len(examples),
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
    ax.plot(p, -np.log(p), color=COLORS["teacher_forcing"], label=r"loss $= -\log p$")
    if vocab_size is not None:
        checks.integer("vocab_size", vocab_size, 2)
        ax.axvline(1 / vocab_size, color=COLORS["neutral"], ls=":", lw=1.2)
        ax.text(1 / vocab_size * 1.15, 8.6, f"uniform guess\nover {vocab_size} tokens", fontsize=9,
                color="#555555", va="top")
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
    ax.set_xlabel("p = probability the model puts on the right token (log scale)")
    ax.set_ylabel("cross-entropy of that token (nats)")
    ax.set_title("Confident mistakes cost the most")
    ax.legend(loc="upper right")
    return ax.figure


def plot_token_losses(scores: TokenScores, ax: Axes | None = None) -> Figure:
    """One bar per target token: its teacher-forced loss (log scale), labelled with the token."""
    ax = new_axes(ax, figsize=(9.0, 3.6))
    losses = np.maximum(np.asarray(scores.losses), 1e-12)
    x = np.arange(len(losses))
    colors = [COLORS["teacher_forcing"] if ok else COLORS["free_running"] for ok in scores.argmax_right]
    ax.bar(x, losses, color=colors, width=0.8)
    ax.set_yscale("log")
    ax.set_xticks(x)
    ax.set_xticklabels(["⏎" if t == "<eos>" else t for t in scores.tokens], fontsize=8, family="monospace")
    ax.set_xlim(-0.8, len(losses) - 0.2)
    ax.set_xlabel(f"target tokens after the prompt {scores.prompt!r} (⏎ = <eos>)")
    ax.set_ylabel("loss of the token (log scale)")
    ax.set_title(f"Where the loss of one answer lives (sum {scores.total_loss:.4f})")
    ax.grid(axis="x", visible=False)
    return ax.figure


# --------------------------------------------------------------------------------------------
# 2. The chain rule


def as_float64(model):
    """A float64 copy of ``model`` in eval mode: comparisons at 1e-12 see math, not float32 rounding."""
    check_model(model)
    return copy.deepcopy(model).double().eval()


def _logits(model, ids: torch.Tensor) -> torch.Tensor:
    return model(ids).double()


@torch.no_grad()
def enumerate_continuations(model, prompt_ids, length: int, *, batch_size: int = 8192,
                            peek: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Every continuation of ``length`` tokens after ``prompt_ids``, and its log-probability.

    Returns ``(seqs, log_probs)``: ``seqs`` is ``(V**length, length)``, one row per possible
    continuation over the model's WHOLE vocabulary, and ``log_probs`` (float64) holds
    ``Σ_t log P(x_t | prompt, x_<t)``. By the chain rule ``log_probs.exp().sum()`` is 1.

    ``peek > 0`` gives the model a glimpse of the future: the logit of the token that actually comes
    next is raised by ``peek`` at every position, as a model without a causal mask could do. The
    "probabilities" of such a model no longer sum to 1 (they are not a distribution over sequences).
    """
    device = check_model(model)
    V = model.vocab_size
    prompt = checks.token_id_list("prompt_ids", prompt_ids, V)
    checks.positive_int("length", length)
    checks.positive_int("batch_size", batch_size)
    if isinstance(peek, bool) or not isinstance(peek, (int, float)) or not math.isfinite(peek) or peek < 0:
        raise ValueError(f"peek must be a finite number >= 0, got {peek!r}")
    if V**length > 2_000_000:
        raise ValueError(f"length={length} gives {V}**{length} = {V**length} continuations; keep it under 2e6")
    seqs = torch.tensor(list(itertools.product(range(V), repeat=length)), dtype=torch.long, device=device)
    P = len(prompt)
    out = []
    with eval_mode(model):
        for start in range(0, len(seqs), batch_size):
            cont = seqs[start : start + batch_size]  # (b, length)
            ids = torch.cat([torch.tensor(prompt, device=device).expand(len(cont), P), cont], 1)  # (b, P+length)
            logits = _logits(model, ids[:, :-1])[:, P - 1 :]  # (b, length, V): predictions of the continuation
            if peek:
                logits = logits + peek * F.one_hot(cont, V).double()  # look at the answer before predicting it
            lp = F.log_softmax(logits, dim=-1).gather(-1, cont[..., None]).squeeze(-1)  # (b, length)
            out.append(lp.sum(1))
    return seqs.cpu(), torch.cat(out).cpu()


@torch.no_grad()
def teacher_forced_nll(model, task: Task, examples: Sequence[Example]) -> torch.Tensor:
    """(B,) Σ_t -log P(target_t | prompt, target_<t), from ONE padded teacher-forced pass.

    This is exactly what training computes (``task.batch`` + cross-entropy on the loss mask), only
    summed per example instead of averaged over the batch. Returned in float64.
    """
    check_model(model)
    checks.instance("task", task, Task)
    examples = _check_examples(examples)
    device = next(model.parameters()).device
    batch = task.batch(examples, device=device)
    with eval_mode(model):
        logits = _logits(model, batch.inputs)  # (B, T, V)
    nll = F.cross_entropy(logits.transpose(1, 2), batch.targets, reduction="none")  # (B, T)
    return (nll * batch.loss_mask).sum(1).cpu()


@torch.no_grad()
def one_token_at_a_time_nll(model, task: Task, examples: Sequence[Example]) -> tuple[torch.Tensor, int]:
    """(B,) -log P(target | prompt) the slow way, and the number of forward passes it took.

    Every target token gets its own forward pass over exactly its prefix (prompt + the gold tokens
    before it), as if the model were asked for one next token at a time. Passes over prefixes of the
    same length are batched together across examples; each row still sees its prefix and nothing
    else (no padding). The count returned is one pass per scored token, as an unbatched loop would do.
    """
    check_model(model)
    checks.instance("task", task, Task)
    examples = _check_examples(examples)
    device = next(model.parameters()).device
    groups: dict[int, list[tuple[int, list[int], int]]] = {}
    for b, ex in enumerate(examples):
        prompt, target = task.encode(ex)
        seq = prompt + target
        for t in range(len(prompt), len(seq)):  # predict seq[t] from seq[:t]
            groups.setdefault(t, []).append((b, seq[:t], seq[t]))
    total = torch.zeros(len(examples), dtype=torch.float64)
    passes = 0
    with eval_mode(model):
        for t, rows in sorted(groups.items()):
            ids = torch.tensor([prefix for _, prefix, _ in rows], device=device)  # (n, t)
            logp = F.log_softmax(_logits(model, ids)[:, -1], dim=-1)  # (n, V): only the last position is used
            nxt = torch.tensor([n for _, _, n in rows], device=device)
            lp = logp.gather(-1, nxt[:, None]).squeeze(-1).cpu()
            for (b, _, _), value in zip(rows, lp.tolist()):
                total[b] -= value
            passes += len(rows)
    return total, passes


# --------------------------------------------------------------------------------------------
# A known two-token distribution where greedy decoding misses the most probable sequence


def _tree_layout(task: TwoStepTask):
    L = task.letters
    firsts = [i for i in range(len(L)) if task.first[i] > 0]
    leaves = [(i, j) for i in firsts for j in range(len(L)) if task.second[i][j] > 0]
    return firsts, leaves


def plot_greedy_tree(task: TwoStepTask, ax: Axes | None = None) -> Figure:
    """The probability tree of a :class:`TwoStepTask`, with the greedy path and the most probable answer.

    Branches are labelled with conditional probabilities, leaves with joint probabilities.
    """
    if not isinstance(task, TwoStepTask):
        raise TypeError(f"task must be a TwoStepTask, got {type(task).__name__}")
    ax = new_axes(ax, figsize=(7.0, 4.2))
    L = task.letters
    firsts, leaves = _tree_layout(task)
    greedy, p_greedy = task.greedy()
    best, p_best = task.best()
    joint = task.joint()
    n = len(leaves)
    leaf_y = {leaf: (n - 1 - k) for k, leaf in enumerate(leaves)}
    first_y = {i: float(np.mean([leaf_y[lf] for lf in leaves if lf[0] == i])) for i in firsts}
    root_y = float(np.mean(list(first_y.values())))
    G, B = COLORS["free_running"], COLORS["accent"]

    def edge(x0, y0, x1, y1, label, on_greedy, on_best):
        color = G if on_greedy else (B if on_best else "#bbbbbb")
        ax.plot([x0, x1], [y0, y1], color=color, lw=3.0 if (on_greedy or on_best) else 1.2, zorder=1,
                ls="--" if (on_best and not on_greedy) else "-")
        ax.text((x0 + x1) / 2, (y0 + y1) / 2 + 0.12, label, ha="center", va="bottom", fontsize=9,
                color="#333333", bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.85))

    for i in firsts:
        edge(0, root_y, 1, first_y[i], f"{task.first[i]:.2f}", L[i] == greedy[0], L[i] == best[0])
        ax.text(1, first_y[i], L[i], ha="center", va="center", fontsize=12, family="monospace",
                bbox=dict(boxstyle="circle", fc="white", ec="#555555"), zorder=3)
    for (i, j) in leaves:
        answer = L[i] + L[j]
        edge(1, first_y[i], 2, leaf_y[(i, j)], f"{task.second[i][j]:.2f}", answer == greedy, answer == best)
        tag = "  ← greedy" if answer == greedy else ("  ← most probable" if answer == best else "")
        weight = "bold" if tag else "normal"
        ax.text(2.08, leaf_y[(i, j)], f"{answer}   P = {joint[answer]:.3f}{tag}", va="center", fontsize=10,
                family="monospace", fontweight=weight,
                color=G if answer == greedy else (B if answer == best else "#333333"))
    ax.text(0, root_y, "^", ha="center", va="center", fontsize=12, family="monospace",
            bbox=dict(boxstyle="circle", fc="white", ec="#555555"), zorder=3)
    ax.set_xlim(-0.2, 3.6)
    ax.set_ylim(-0.7, n - 0.3)
    ax.axis("off")
    verdict = ("greedy finds the most probable answer" if greedy == best else
               f"greedy writes {greedy!r} (P = {p_greedy:.3f}), the best is {best!r} (P = {p_best:.3f})")
    ax.set_title(verdict, fontsize=11)
    return ax.figure


def greedy_tree_explorer(p_first: float = 0.55, top_after_first: float = 0.4, top_after_second: float = 0.9):
    """Sliders for :meth:`TwoStepTask.from_tops`, redrawing the tree (for JupyterLab; inert in the static book).

    The slider names are ``HTML`` widgets rather than slider descriptions: a description is passed to
    MathJax by the widget manager, which fails on a static page that also typesets math.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    def draw(p_first, top_after_first, top_after_second):
        plot_greedy_tree(TwoStepTask.from_tops(p_first, top_after_first, top_after_second))
        plt.show()

    names = {"p_first": "P(a first)", "top_after_first": "P(a | a)", "top_after_second": "P(a | b)"}
    values = {"p_first": p_first, "top_after_first": top_after_first, "top_after_second": top_after_second}
    sliders = {k: widgets.FloatSlider(value=v, min=0.0, max=1.0, step=0.01, continuous_update=False,
                                      layout=widgets.Layout(width="320px")) for k, v in values.items()}
    rows = [widgets.HBox([widgets.HTML(f"<code>{names[k]}</code>", layout=widgets.Layout(width="90px")), sliders[k]])
            for k in values]
    out = widgets.interactive_output(draw, sliders)
    return widgets.VBox([*rows, out])


# --------------------------------------------------------------------------------------------
# 3. Causal masking: one pass is T passes


@dataclass
class CausalCheck:
    n_sequences: int
    length: int  # T: positions per sequence
    max_abs_diff: float  # between the one-pass logits and the T-pass logits
    max_abs_logit: float  # scale of the logits, for reference
    passes_one: int  # forward passes for the whole batch
    passes_separate: int


@torch.no_grad()
def one_pass_vs_separate_passes(model, ids: torch.Tensor) -> CausalCheck:
    """Logits of one causal pass over ``ids`` (B, T) against T passes over ``ids[:, :t+1]`` (last position kept)."""
    device = check_model(model)
    if not isinstance(ids, torch.Tensor) or ids.dim() != 2 or ids.dtype != torch.long:
        raise TypeError("ids must be a (B, T) long tensor")
    ids = ids.to(device)
    B, T = ids.shape
    with eval_mode(model):
        one = _logits(model, ids)  # (B, T, V)
        separate = torch.stack([_logits(model, ids[:, : t + 1])[:, -1] for t in range(T)], dim=1)  # (B, T, V)
    return CausalCheck(B, T, float((one - separate).abs().max()), float(one.abs().max()), 1, T)


@torch.no_grad()
def future_change_check(model, ids: torch.Tensor, position: int, seed: int = 0) -> tuple[float, float]:
    """Change every token from ``position`` on; return (max change of logits before it, max change from it on).

    With a causal mask the first number is 0: nothing a position predicts depends on later tokens.
    """
    device = check_model(model)
    if not isinstance(ids, torch.Tensor) or ids.dim() != 2 or ids.dtype != torch.long:
        raise TypeError("ids must be a (B, T) long tensor")
    ids = ids.to(device)
    checks.integer("position", position, 1, ids.shape[1] - 1)
    g = torch.Generator().manual_seed(checks.non_negative_int("seed", seed))
    changed = ids.clone()
    noise = torch.randint(1, model.vocab_size, ids[:, position:].shape, generator=g).to(ids.device)
    changed[:, position:] = (ids[:, position:] + noise) % model.vocab_size  # every later token differs
    with eval_mode(model):
        a, b = _logits(model, ids), _logits(model, changed)
    diff = (a - b).abs()
    return float(diff[:, :position].max()), float(diff[:, position:].max())


@dataclass
class PassTiming:
    lengths: list[int]
    one_pass_s: list[float]  # best of `repeats` seconds for one pass over (batch, T)
    separate_s: list[float]  # best of `repeats` seconds for T passes over the growing prefixes
    batch_size: int
    repeats: int

    @property
    def speedups(self) -> list[float]:
        return [s / o for o, s in zip(self.one_pass_s, self.separate_s)]


@torch.no_grad()
def time_one_pass_vs_separate(model, lengths: Sequence[int], *, batch_size: int = 8, repeats: int = 3,
                              seed: int = 0) -> PassTiming:
    """Wall-clock seconds of one causal pass vs T separate passes, for each T in ``lengths``.

    The two are timed alternately, ``repeats`` times each, and the fastest run of each is kept: load
    from other programs can only add time, so the minimum is the cleanest measurement.
    """
    device = check_model(model)
    lengths = [checks.integer("lengths", T, 1, getattr(model, "block_size", None) or 10**9) for T in lengths]
    if not lengths:
        raise ValueError("lengths must hold at least one sequence length")
    checks.positive_int("batch_size", batch_size)
    checks.positive_int("repeats", repeats)
    g = torch.Generator().manual_seed(checks.non_negative_int("seed", seed))
    one_s, sep_s = [], []
    with eval_mode(model):
        for T in lengths:
            ids = torch.randint(0, model.vocab_size, (batch_size, T), generator=g).to(device)

            def one():
                model(ids)

            def separate():
                for t in range(1, T + 1):
                    model(ids[:, :t])

            one(), model(ids[:, :1])  # warm-up
            t = time_in_turns({"one": one, "separate": separate}, repeats, warmup=0, device=device)
            a, b = t["one"], t["separate"]
            one_s.append(min(a))  # the least disturbed run: other work on the machine only adds time
            sep_s.append(min(b))
    return PassTiming(lengths, one_s, sep_s, batch_size, repeats)


def plot_pass_speedup(timing: PassTiming, ax: Axes | None = None) -> Figure:
    """Measured speedup of one pass over T passes against T, with the ratio of positions computed."""
    ax = new_axes(ax)
    T = np.asarray(timing.lengths, dtype=float)
    ax.plot(T, timing.speedups, "o-", color=COLORS["teacher_forcing"], label="measured: T passes / one pass")
    ax.plot(T, (T + 1) / 2, ":", color=COLORS["prediction"], label="positions computed: T(T+1)/2 vs T")
    ax.plot(T, T, "--", color=COLORS["neutral"], lw=1.2, label="number of passes: T vs 1")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("sequence length T")
    ax.set_ylabel("speedup of the single causal pass")
    ax.set_title(f"One causal pass vs T passes (batch {timing.batch_size})")
    ax.legend(loc="upper left")
    return ax.figure


# --------------------------------------------------------------------------------------------
# 4. Generate, then compare: sampling has no gradient; REINFORCE estimates one


@torch.no_grad()
def _sample_continuations(model, prompt: list[int], length: int, n: int, generator: torch.Generator) -> torch.Tensor:
    """(n, length) continuations sampled token by token from the model (temperature 1, no stopping)."""
    device = next(model.parameters()).device
    ids = torch.tensor(prompt, device=device).expand(n, len(prompt))
    out = []
    with eval_mode(model):
        logits, state = model.step(ids, None)
        for t in range(length):
            probs = torch.softmax(logits[:, -1].float(), dim=-1)  # (n, V)
            tok = torch.multinomial(probs, 1, generator=generator)  # (n, 1): a discrete choice, no gradient
            out.append(tok)
            if t + 1 < length:
                logits, state = model.step(tok, state)
    return torch.cat(out, 1).cpu()


def _sequence_log_probs(model, prompt: list[int], seqs: torch.Tensor) -> torch.Tensor:
    """(n,) log P(continuation | prompt) for each row of ``seqs`` (n, L), keeping the graph."""
    device = next(model.parameters()).device
    seqs = seqs.to(device)
    ids = torch.cat([torch.tensor(prompt, device=device).expand(len(seqs), len(prompt)), seqs], 1)  # (n, P + L)
    return sequence_log_prob(model, ids, len(prompt), grad=True)


def sequence_log_probs(model, prompt_ids, seqs: torch.Tensor) -> torch.Tensor:
    """Differentiable log P(continuation | prompt) for each row of ``seqs`` (n, L): one teacher-forced pass.

    Unlike :func:`handbook_utils.metrics.sequence_log_prob` this keeps the graph, so it can be backpropagated.
    """
    check_model(model)
    prompt = checks.token_id_list("prompt_ids", prompt_ids, model.vocab_size)
    if not isinstance(seqs, torch.Tensor) or seqs.dim() != 2 or seqs.dtype != torch.long or seqs.shape[0] == 0:
        raise TypeError("seqs must be a non-empty (n, L) long tensor")
    return _sequence_log_probs(model, prompt, seqs)


def match_fraction_reward(seqs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(n,) fraction of positions where each row of ``seqs`` (n, L) equals ``target`` (L,): partial credit."""
    if seqs.dim() != 2 or target.dim() != 1 or seqs.shape[1] != target.shape[0]:
        raise ValueError(f"seqs must be (n, L) and target (L,), got {tuple(seqs.shape)} and {tuple(target.shape)}")
    return (seqs == target.to(seqs.device)[None]).double().mean(1)


def _flat_grad(model) -> torch.Tensor:
    return torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).flatten().double()
                      for p in model.parameters()])


def exact_reward_gradient(model, prompt_ids, target_ids, reward: Callable = match_fraction_reward
                          ) -> tuple[float, torch.Tensor]:
    """Expected reward ``E_{y~model}[R(y)]`` over continuations of ``len(target_ids)`` tokens, and its exact gradient.

    Exact because every continuation is listed (so only for tiny vocabularies and lengths):
    ``J = Σ_y R(y) P(y)`` is differentiated by autograd. Returns ``(J, flat gradient)``.
    """
    check_model(model)
    prompt = checks.token_id_list("prompt_ids", prompt_ids, model.vocab_size)
    target = torch.tensor(checks.token_id_list("target_ids", target_ids, model.vocab_size))
    seqs, _ = enumerate_continuations(model, prompt, len(target))
    with eval_mode(model):
        model.zero_grad(set_to_none=True)
        logp = _sequence_log_probs(model, prompt, seqs).double()  # (N,)
        J = (reward(seqs, target).to(logp.device) * logp.exp()).sum()
        J.backward()
        grad = _flat_grad(model)
        model.zero_grad(set_to_none=True)
    return float(J.detach()), grad


def reinforce_gradient(model, prompt_ids, target_ids, n_samples: int, *, generator: torch.Generator,
                       baseline: bool = False, reward: Callable = match_fraction_reward) -> torch.Tensor:
    """The score-function (REINFORCE) estimate of ``∇ E[R]`` from ``n_samples`` sampled continuations.

    Sample ``y_i`` (no gradient flows through the choice), score ``log P(y_i)`` with one teacher-forced
    pass (that part is differentiable), and backpropagate ``mean_i (R(y_i) - b_i) log P(y_i)``.
    ``baseline=True`` uses ``b_i`` = mean reward of the OTHER samples (unbiased, less noisy);
    otherwise ``b_i = 0``. Returns the flat gradient estimate.
    """
    check_model(model)
    prompt = checks.token_id_list("prompt_ids", prompt_ids, model.vocab_size)
    target = torch.tensor(checks.token_id_list("target_ids", target_ids, model.vocab_size))
    n = checks.integer("n_samples", n_samples, 2 if baseline else 1)
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    seqs = _sample_continuations(model, prompt, len(target), n, generator)  # (n, L): no graph behind them
    R = reward(seqs, target)  # (n,)
    if baseline:
        R = R - (R.sum() - R) / (n - 1)  # leave-one-out mean
    with eval_mode(model):
        model.zero_grad(set_to_none=True)
        logp = _sequence_log_probs(model, prompt, seqs).double()
        surrogate = (R.to(logp.device) * logp).mean()
        surrogate.backward()
        grad = _flat_grad(model)
        model.zero_grad(set_to_none=True)
    return grad


@dataclass
class ReinforceCurve:
    n_samples: list[int]
    rel_error: list[float]  # median over repeats of |ĝ - g| / |g|, plain REINFORCE
    rel_error_baseline: list[float]  # the same with a leave-one-out baseline
    cosine: list[float]  # median cosine similarity of ĝ and g, plain
    cosine_baseline: list[float]
    tokens_generated: list[int]  # n * L tokens sampled one position at a time, per estimate
    length: int  # L
    repeats: int
    expected_reward: float  # J at the current weights
    exact_grad_norm: float


def reinforce_error_curve(model, prompt_ids, target_ids, n_samples: Sequence[int], *, repeats: int = 10,
                          seed: int = 0) -> ReinforceCurve:
    """How far the REINFORCE estimate is from the exact gradient, for each sample count in ``n_samples``."""
    check_model(model)
    ns = [checks.integer("n_samples", n, 2) for n in n_samples]
    if not ns:
        raise ValueError("n_samples must hold at least one sample count")
    checks.positive_int("repeats", repeats)
    g_seed = checks.non_negative_int("seed", seed)
    J, exact = exact_reward_gradient(model, prompt_ids, target_ids)
    norm = float(exact.norm())
    if norm == 0:
        raise ValueError("the exact gradient is zero here; pick another target")
    generator = torch.Generator(device=next(model.parameters()).device).manual_seed(g_seed)
    out = {k: [] for k in ("rel", "rel_b", "cos", "cos_b")}
    for n in ns:
        errs = {k: [] for k in out}
        for _ in range(repeats):
            for base, (ke, kc) in ((False, ("rel", "cos")), (True, ("rel_b", "cos_b"))):
                est = reinforce_gradient(model, prompt_ids, target_ids, n, generator=generator, baseline=base)
                errs[ke].append(float((est - exact).norm()) / norm)
                errs[kc].append(float(F.cosine_similarity(est, exact, dim=0)))
        for k in out:
            out[k].append(statistics.median(errs[k]))
    L = len(target_ids)
    return ReinforceCurve(ns, out["rel"], out["rel_b"], out["cos"], out["cos_b"], [n * L for n in ns], L,
                          repeats, J, norm)


def plot_reinforce_error(curve: ReinforceCurve, ax: Axes | None = None) -> Figure:
    """Relative error of the REINFORCE gradient against the number of sampled answers, with a 1/√n guide."""
    ax = new_axes(ax)
    n = np.asarray(curve.n_samples, dtype=float)
    ax.plot(n, curve.rel_error, "o-", color=COLORS["free_running"], label="REINFORCE")
    ax.plot(n, curve.rel_error_baseline, "s-", color=COLORS["accent"], label="REINFORCE with a baseline")
    ax.plot(n, curve.rel_error[0] * np.sqrt(n[0] / n), ":", color=COLORS["prediction"], label=r"$\propto 1/\sqrt{n}$")
    ax.axhline(0, color=COLORS["teacher_forcing"], lw=2.5, label="teacher forcing: exact, one pass")
    ax.set_xscale("log")
    ax.set_xlabel("sampled answers per gradient estimate, n")
    ax.set_ylabel(r"relative error $\|\hat g - g\| / \|g\|$")
    ax.set_title(f"Sampling gives a noisy gradient (median of {curve.repeats})")
    ax.legend(loc="upper right")
    return ax.figure


@dataclass
class ExactMatchSignal:
    n_samples: int
    hits: int  # sampled answers equal to the target
    log10_target_prob: float  # log10 P(target | prompt) under the model
    reinforce_grad_norm: float  # norm of the exact-match REINFORCE estimate
    teacher_forced_grad_norm: float  # norm of ∇ -log P(target | prompt), one pass
    target_tokens: int


def exact_match_signal(model, task: Task, example: Example, n_samples: int, seed: int = 0) -> ExactMatchSignal:
    """Sample ``n_samples`` answers, reward 1 for an exact match: how much gradient does that give?

    Compared with the teacher-forced gradient of ``-log P(target | prompt)`` for the same example.
    """
    check_model(model)
    checks.instance("task", task, Task)
    (example,) = _check_examples([example])
    n = checks.positive_int("n_samples", n_samples)
    prompt, target = task.encode(example)
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(checks.non_negative_int("seed", seed))
    seqs = _sample_continuations(model, prompt, len(target), n, generator)  # (n, L), L = target + <eos>
    tgt = torch.tensor(target)
    R = (seqs == tgt[None]).all(1).double()  # (n,) exact match, <eos> included
    with eval_mode(model):
        model.zero_grad(set_to_none=True)
        (R.to(device) * _sequence_log_probs(model, prompt, seqs).double()).mean().backward()
        g_rl = float(_flat_grad(model).norm())
        model.zero_grad(set_to_none=True)
        logp = _sequence_log_probs(model, prompt, tgt[None])[0]
        (-logp).backward()
        logp = logp.detach()
        g_tf = float(_flat_grad(model).norm())
        model.zero_grad(set_to_none=True)
    return ExactMatchSignal(n, int(R.sum()), float(logp) / math.log(10), g_rl, g_tf, len(target))


@dataclass
class UpdateTiming:
    batch_size: int
    teacher_forcing_s: float  # best-of-repeats seconds of one teacher-forced update (loss + backward)
    generate_compare_s: float  # best-of-repeats seconds of one generate-then-compare update
    teacher_forcing_passes: int  # forward passes through the network per update
    generate_compare_passes: int

    @property
    def ratio(self) -> float:
        return self.generate_compare_s / self.teacher_forcing_s


def time_updates(model, task: Task, *, batch_size: int = 32, repeats: int = 5, seed: int = 0) -> UpdateTiming:
    """Time one gradient computation of each kind on the same batch (no optimizer step, weights unchanged).

    Teacher forcing: one pass over the gold batch, cross-entropy, backward. Generate-then-compare:
    sample every answer token by token (KV cache), reward by exact match, score the samples with one
    pass, backward the REINFORCE surrogate. Forward passes are counted with a hook on the embedding.
    """
    device = check_model(model)
    checks.instance("task", task, Task)
    checks.positive_int("batch_size", batch_size)
    checks.positive_int("repeats", repeats)
    examples = task.sample(batch_size, checks.non_negative_int("seed", seed))
    batch = task.batch(examples, device=device)
    prompts, targets = zip(*(task.encode(e) for e in examples))
    budgets = [len(t) for t in targets]
    generator = torch.Generator(device=device).manual_seed(seed)
    embed = getattr(model, "wte", None)
    calls = [0]
    hook = embed.register_forward_hook(lambda *a: calls.__setitem__(0, calls[0] + 1)) if embed is not None else None

    def tf_update():
        model.zero_grad(set_to_none=True)
        masked_cross_entropy(model(batch.inputs), batch).backward()

    def gc_update():
        model.zero_grad(set_to_none=True)
        rows = generate_ids(model, list(prompts), budgets, greedy=False, generator=generator,
                            stop_sequences=[[task.tokenizer.eos_id]])
        rewards = torch.tensor([float(r == list(t)) for r, t in zip(rows, targets)], device=device)
        sampled = [Example(e.prompt, task.tokenizer.decode(r)) for e, r in zip(examples, rows)]
        sb = task.batch(sampled, device=device)  # score the samples: one teacher-forced pass over them
        logits = model(sb.inputs)
        lp = -F.cross_entropy(logits.transpose(1, 2), sb.targets, reduction="none")
        (-(rewards[:, None] * lp * sb.loss_mask).sum(1).mean()).backward()

    def count(fn):
        calls[0] = 0
        fn()
        return calls[0]

    try:
        with eval_mode(model):
            passes_tf, passes_gc = count(tf_update), count(gc_update)
            t = time_in_turns({"tf": tf_update, "gc": gc_update}, repeats, warmup=0, device=device)
            a, b = t["tf"], t["gc"]
            model.zero_grad(set_to_none=True)
    finally:
        if hook is not None:
            hook.remove()
    return UpdateTiming(batch_size, min(a), min(b), passes_tf, passes_gc)
