"""The chain rule and the causal mask (chapter 2, sections "Many tokens" and "One pass, every position").

``log P(x_1..x_T) = Σ_t log P(x_t | x_<t)``, checked in code:

- :func:`enumerate_continuations` scores *every* continuation of a tiny length so their
  probabilities can be summed (they sum to 1; a model that peeks at the future breaks this).
- :func:`teacher_forced_nll` (one padded pass, the training computation) and
  :func:`one_token_at_a_time_nll` (one forward pass per prefix) compute the same number two ways;
  :func:`as_float64` makes the comparison exact to 1e-12.
- :func:`one_pass_vs_separate_passes` and :func:`future_change_check` show that one causal pass
  equals ``T`` passes over the growing prefixes; :func:`time_one_pass_vs_separate` measures what
  that saves (:func:`plot_pass_speedup`).
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .. import checks
from ..generation import check_model
from ..plotting import COLORS, new_axes
from ..runtime import eval_mode, time_in_turns
from ..tasks import Example, Task
from .ch02_loss import gold_log_probs

__all__ = [
    "as_float64",
    "enumerate_continuations",
    "teacher_forced_nll",
    "one_token_at_a_time_nll",
    "CausalCheck",
    "one_pass_vs_separate_passes",
    "future_change_check",
    "PassTiming",
    "time_one_pass_vs_separate",
    "plot_pass_speedup",
]


def as_float64(model):
    """A float64 copy of ``model`` in eval mode: comparisons at 1e-12 see math, not float32 rounding."""
    check_model(model)
    return copy.deepcopy(model).double().eval()


def _logits(model, ids: torch.Tensor) -> torch.Tensor:
    """(B, T, V) float64 logits of ``ids`` (B, T)."""
    return model(ids).double()


def _check_ids(model, ids) -> torch.Tensor:
    """``ids`` as a (B, T) long tensor of the model's token ids, on the model's device."""
    device = check_model(model)
    if not isinstance(ids, torch.Tensor) or ids.dim() != 2:
        raise TypeError("ids must be a (B, T) long tensor")
    return checks.token_ids("ids", ids, model.vocab_size).to(device)


# --------------------------------------------------------------------------------------------
# The chain rule


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
    Also used by :func:`handbook_utils.chapters.ch02_reinforce.exact_reward_gradient`.
    """
    device = check_model(model)
    V = model.vocab_size
    prompt = checks.token_id_list("prompt_ids", prompt_ids, V)
    checks.positive_int("length", length)
    checks.positive_int("batch_size", batch_size)
    peek = checks.non_negative("peek", peek)
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
            out.append(lp.sum(1))  # (b,)
    return seqs.cpu(), torch.cat(out).cpu()


def teacher_forced_nll(model, task: Task, examples: Sequence[Example]) -> torch.Tensor:
    """(B,) Σ_t -log P(target_t | prompt, target_<t), from ONE padded teacher-forced pass.

    This is exactly what training computes (``task.batch`` + cross-entropy on the loss mask), only
    summed per example instead of averaged over the batch. Returned in float64.
    """
    batch, _, gold = gold_log_probs(model, task, examples)  # gold: (B, T)
    return -(gold * batch.loss_mask).sum(1).cpu()


@torch.no_grad()
def one_token_at_a_time_nll(model, task: Task, examples: Sequence[Example]) -> tuple[torch.Tensor, int]:
    """(B,) -log P(target | prompt) the slow way, and the number of forward passes it took.

    Every target token gets its own forward pass over exactly its prefix (prompt + the gold tokens
    before it), as if the model were asked for one next token at a time. Passes over prefixes of the
    same length are batched together across examples; each row still sees its prefix and nothing
    else (no padding). The count returned is one pass per scored token, as an unbatched loop would do.
    """
    device = check_model(model, task)
    checks.instance("task", task, Task)
    examples = checks.non_empty_list("examples", examples, Example)
    groups: dict[int, list[tuple[int, list[int], int]]] = {}  # prefix length -> (example, prefix, next id)
    for b, ex in enumerate(examples):
        prompt, target = task.encode(ex)
        seq = prompt + target
        for t in range(len(prompt), len(seq)):  # predict seq[t] from seq[:t]
            groups.setdefault(t, []).append((b, seq[:t], seq[t]))
    total = torch.zeros(len(examples), dtype=torch.float64)  # (B,)
    passes = 0
    with eval_mode(model):
        for _, rows in sorted(groups.items()):
            ids = torch.tensor([prefix for _, prefix, _ in rows], device=device)  # (n, t)
            logp = F.log_softmax(_logits(model, ids)[:, -1], dim=-1)  # (n, V): only the last position is used
            nxt = torch.tensor([n for _, _, n in rows], device=device)  # (n,)
            lp = logp.gather(-1, nxt[:, None]).squeeze(-1).cpu()  # (n,)
            for (b, _, _), value in zip(rows, lp.tolist()):
                total[b] -= value
            passes += len(rows)
    return total, passes


# --------------------------------------------------------------------------------------------
# Causal masking: one pass is T passes


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
    ids = _check_ids(model, ids)
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
    ids = _check_ids(model, ids)  # (B, T)
    checks.integer("position", position, 1, ids.shape[1] - 1)
    g = torch.Generator().manual_seed(checks.seed("seed", seed))
    changed = ids.clone()
    noise = torch.randint(1, model.vocab_size, ids[:, position:].shape, generator=g).to(ids.device)
    changed[:, position:] = (ids[:, position:] + noise) % model.vocab_size  # every later token differs
    with eval_mode(model):
        diff = (_logits(model, ids) - _logits(model, changed)).abs()  # (B, T, V)
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

    The two are timed in turns (:func:`handbook_utils.runtime.time_in_turns`), ``repeats`` times
    each, and the fastest run of each is kept: load from other programs can only add time, so the
    minimum is the cleanest measurement.
    """
    device = check_model(model)
    lengths = [checks.integer("lengths", T, 1, getattr(model, "block_size", None) or 10**9) for T in lengths]
    if not lengths:
        raise ValueError("lengths must hold at least one sequence length")
    checks.positive_int("batch_size", batch_size)
    checks.positive_int("repeats", repeats)
    g = torch.Generator().manual_seed(checks.seed("seed", seed))
    one_s, sep_s = [], []
    with eval_mode(model):
        for T in lengths:
            ids = torch.randint(0, model.vocab_size, (batch_size, T), generator=g).to(device)  # (batch, T)

            def one(ids=ids):
                model(ids)

            def separate(ids=ids):
                for t in range(1, ids.shape[1] + 1):
                    model(ids[:, :t])

            one(), model(ids[:, :1])  # warm-up
            t = time_in_turns({"one": one, "separate": separate}, repeats, warmup=0, device=device)
            one_s.append(min(t["one"]))  # the least disturbed run: other work on the machine only adds time
            sep_s.append(min(t["separate"]))
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
