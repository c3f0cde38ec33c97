"""Generate, then compare: sampling has no gradient, REINFORCE estimates one (chapter 2, section
"The honest alternative: generate, then compare").

- :func:`exact_reward_gradient` (by enumeration) and :func:`reinforce_gradient` (by sampling)
  give the gradient of an expected sequence-level reward (:func:`match_fraction_reward` by
  default); :func:`reinforce_error_curve` shows how noisy the estimate is (:func:`plot_reinforce_error`).
- :func:`exact_match_signal` shows that on an untrained model an exact-match reward gives no
  signal at all, where teacher forcing gives a full gradient.
- :func:`time_updates` times a teacher-forced update against a generate-then-compare update.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .. import checks
from ..generation import check_model, generate_ids, sequence_log_prob
from ..plotting import COLORS, new_axes
from ..runtime import eval_mode, time_in_turns
from ..strategies import masked_cross_entropy
from ..tasks import Example, Task
from .ch02_chain_rule import enumerate_continuations

__all__ = [
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


def _sample_continuations(model, prompt: list[int], length: int, n: int, generator: torch.Generator) -> torch.Tensor:
    """(n, length) continuations sampled token by token from the model (temperature 1, no stopping)."""
    return torch.tensor(generate_ids(model, [prompt] * n, length, greedy=False, generator=generator))


def _sequence_log_probs(model, prompt: list[int], seqs: torch.Tensor) -> torch.Tensor:
    """(n,) log P(continuation | prompt) for each row of ``seqs`` (n, L), keeping the graph."""
    device = next(model.parameters()).device
    seqs = seqs.to(device)
    ids = torch.cat([torch.tensor(prompt, device=device).expand(len(seqs), len(prompt)), seqs], 1)  # (n, P + L)
    return sequence_log_prob(model, ids, len(prompt), grad=True)


def _gradient(model, objective: Callable[[], torch.Tensor]) -> tuple[float, torch.Tensor]:
    """``(value, flat float64 gradient)`` of the scalar ``objective()`` at the model's weights.

    Computed in eval mode; the model's ``.grad`` fields are cleared before and after.
    """
    with eval_mode(model):
        model.zero_grad(set_to_none=True)
        value = objective()
        value.backward()
        grad = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).flatten().double()
                          for p in model.parameters()])  # (number of parameters,)
        model.zero_grad(set_to_none=True)
    return float(value.detach()), grad


def sequence_log_probs(model, prompt_ids, seqs: torch.Tensor) -> torch.Tensor:
    """Differentiable log P(continuation | prompt) for each row of ``seqs`` (n, L): one teacher-forced pass.

    :func:`handbook_utils.generation.sequence_log_prob` with ``grad=True``, for one prompt and many
    continuations, so it can be backpropagated.
    """
    check_model(model)
    prompt = checks.token_id_list("prompt_ids", prompt_ids, model.vocab_size)
    checks.token_ids("seqs", seqs, model.vocab_size)
    if seqs.dim() != 2 or seqs.shape[0] == 0:
        raise TypeError(f"seqs must be a non-empty (n, L) long tensor, got shape {tuple(seqs.shape)}")
    return _sequence_log_probs(model, prompt, seqs)


def match_fraction_reward(seqs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(n,) fraction of positions where each row of ``seqs`` (n, L) equals ``target`` (L,): partial credit."""
    if seqs.dim() != 2 or target.dim() != 1 or seqs.shape[1] != target.shape[0]:
        raise ValueError(f"seqs must be (n, L) and target (L,), got {tuple(seqs.shape)} and {tuple(target.shape)}")
    return (seqs == target.to(seqs.device)[None]).double().mean(1)


def exact_reward_gradient(model, prompt_ids, target_ids, reward: Callable = match_fraction_reward
                          ) -> tuple[float, torch.Tensor]:
    """Expected reward ``E_{y~model}[R(y)]`` over continuations of ``len(target_ids)`` tokens, and its exact gradient.

    Exact because every continuation is listed (so only for tiny vocabularies and lengths):
    ``J = Σ_y R(y) P(y)`` is differentiated by autograd. Returns ``(J, flat gradient)``.
    """
    check_model(model)
    prompt = checks.token_id_list("prompt_ids", prompt_ids, model.vocab_size)
    target = torch.tensor(checks.token_id_list("target_ids", target_ids, model.vocab_size))  # (L,)
    seqs, _ = enumerate_continuations(model, prompt, len(target))  # (V**L, L)

    def expected_reward():
        logp = _sequence_log_probs(model, prompt, seqs).double()  # (V**L,)
        return (reward(seqs, target).to(logp.device) * logp.exp()).sum()

    return _gradient(model, expected_reward)


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
    target = torch.tensor(checks.token_id_list("target_ids", target_ids, model.vocab_size))  # (L,)
    n = checks.integer("n_samples", n_samples, 2 if baseline else 1)
    checks.instance("generator", generator, torch.Generator)
    seqs = _sample_continuations(model, prompt, len(target), n, generator)  # (n, L): no graph behind them
    R = reward(seqs, target)  # (n,)
    if baseline:
        R = R - (R.sum() - R) / (n - 1)  # leave-one-out mean

    def surrogate():
        logp = _sequence_log_probs(model, prompt, seqs).double()  # (n,)
        return (R.to(logp.device) * logp).mean()

    return _gradient(model, surrogate)[1]


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
    device = check_model(model)
    ns = [checks.integer("n_samples", n, 2) for n in n_samples]
    if not ns:
        raise ValueError("n_samples must hold at least one sample count")
    checks.positive_int("repeats", repeats)
    generator = torch.Generator(device=device).manual_seed(checks.seed("seed", seed))
    J, exact = exact_reward_gradient(model, prompt_ids, target_ids)
    norm = float(exact.norm())
    if norm == 0:
        raise ValueError("the exact gradient is zero here; pick another target")
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
    device = check_model(model, task)
    checks.instance("task", task, Task)
    checks.instance("example", example, Example)
    n = checks.positive_int("n_samples", n_samples)
    prompt, target = task.encode(example)
    generator = torch.Generator(device=device).manual_seed(checks.seed("seed", seed))
    seqs = _sample_continuations(model, prompt, len(target), n, generator)  # (n, L), L = target + <eos>
    tgt = torch.tensor(target)  # (L,)
    R = (seqs == tgt[None]).all(1).double().to(device)  # (n,) exact match, <eos> included
    _, g_rl = _gradient(model, lambda: (R * _sequence_log_probs(model, prompt, seqs).double()).mean())
    neg_logp, g_tf = _gradient(model, lambda: -_sequence_log_probs(model, prompt, tgt[None])[0])
    return ExactMatchSignal(n, int(R.sum()), -neg_logp / math.log(10), float(g_rl.norm()), float(g_tf.norm()),
                            len(target))


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
    pass, backward the REINFORCE surrogate. Forward passes are counted with a hook on the embedding;
    the two are timed in turns (:func:`handbook_utils.runtime.time_in_turns`).
    """
    device = check_model(model, task)
    checks.instance("task", task, Task)
    checks.positive_int("batch_size", batch_size)
    checks.positive_int("repeats", repeats)
    seed = checks.seed("seed", seed)
    examples = task.sample(batch_size, seed)
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
        rewards = torch.tensor([float(r == list(t)) for r, t in zip(rows, targets)], device=device)  # (B,)
        sampled = [Example(e.prompt, task.tokenizer.decode(r)) for e, r in zip(examples, rows)]
        sb = task.batch(sampled, device=device)  # score the samples: one teacher-forced pass over them
        logits = model(sb.inputs)  # (B, T, V)
        lp = -F.cross_entropy(logits.transpose(1, 2), sb.targets, reduction="none")  # (B, T)
        (-(rewards[:, None] * lp * sb.loss_mask).sum(1).mean()).backward()

    def count(fn):
        calls[0] = 0
        fn()
        return calls[0]

    try:
        with eval_mode(model):
            passes_tf, passes_gc = count(tf_update), count(gc_update)
            t = time_in_turns({"tf": tf_update, "gc": gc_update}, repeats, warmup=0, device=device)
            model.zero_grad(set_to_none=True)
    finally:
        if hook is not None:
            hook.remove()
    return UpdateTiming(batch_size, min(t["tf"]), min(t["gc"]), passes_tf, passes_gc)
