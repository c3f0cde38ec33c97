"""Training on the model's own answers: ``finetune(model, task, method=...) -> History``.

Teacher forcing scores every token with the gold answer so far in view. The methods here put the
model's *own* answers in the training loop instead (chapter 7):

- ``"reinforce"``: sample answers, score each whole answer with a reward, and raise the
  log-probability of answers that scored above a running baseline (Williams, 1992);
- ``"group"``: the group-relative variant: ``group_size`` answers per question, each answer's
  advantage is its reward minus the group's mean, divided by the group's spread (GRPO, Shao et al.,
  2024), so no baseline has to be learnt;
- ``"dagger"``: on-policy imitation (Ross et al., 2011): roll the model out, and at every position
  of its own answer train it on what an expert would write next *from that prefix*
  (:meth:`~handbook_utils.tasks.addition.AdditionChainTask.oracle_next`).

One reward per answer becomes a loss per token in :func:`policy_gradient_loss`: every token of an
answer carries the answer's advantage, ``loss = -Σ_i A_i Σ_t log π(y_it | prefix) / tokens``. That is
the whole trick, and why an answer-level reward can train a next-token model at all. An optional
KL penalty to the starting model keeps the policy from drifting far from what teacher forcing
taught (``kl_coef``).

Rewards are small named callables ``reward(task, example, output) -> float`` (``REWARDS``).
Sampling uses :func:`handbook_utils.generation.generate_ids` (batched, KV-cached); the log-probabilities
with gradient come from one teacher-forced pass over the sampled answers.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from . import checks
from .cache import describe
from .device import get_device, seed_everything
from .generation import check_model, fit_to_context, generate_ids
from .metrics import evaluate
from .runtime import eval_mode, progress_enabled
from .tasks import AdditionChainTask, Example, Task
from .tasks.addition import GENERATION_SLACK
from .training import History, configure_optimizer

METHODS = ("reinforce", "group", "dagger")

# --------------------------------------------------------------------------------------------
# Rewards: one number per whole answer


def exact_match_reward(task: Task, example: Example, output: str) -> float:
    """1 when the written answer is exactly the target (chain and answer), else 0."""
    return float(output == example.target)


def answer_reward(task: Task, example: Example, output: str) -> float:
    """1 when the final answer is right, whatever the chain says (what seed 000's grader would check)."""
    if not isinstance(task, AdditionChainTask):
        return exact_match_reward(task, example, output)
    return float(task.answer_of(output) == sum(task.terms_of(example.prompt)))


def chain_credit_reward(task: Task, example: Example, output: str) -> float:
    """Partial credit from the chain check: the share of the gold chain's lines written validly before
    the first invalid one, with the right answer counted as one line more. 1 only for a valid chain
    with the right answer; a slip late in the chain still earns the lines before it."""
    if not isinstance(task, AdditionChainTask):
        raise TypeError(f"the 'chain' reward needs an AdditionChainTask, got {type(task).__name__}")
    check = task.check_chain(example.prompt, output)
    gold_lines = len(task.gold_lines(example.prompt))
    first_bad = check.first_invalid_line
    valid_prefix = len(check.lines_valid) if first_bad is None else first_bad
    return (min(valid_prefix, gold_lines) + check.answer_correct) / (gold_lines + 1)


REWARDS: dict[str, Callable[[Task, Example, str], float]] = {
    "exact": exact_match_reward,
    "answer": answer_reward,
    "chain": chain_credit_reward,
}


def score(reward: Callable, task: Task, examples: Sequence[Example], outputs: Sequence[str]) -> torch.Tensor:
    """(N,) rewards of ``outputs``; a clear error for a reward that is not a finite number."""
    values = []
    for example, output in zip(examples, outputs):
        r = reward(task, example, output)
        if isinstance(r, bool) or not isinstance(r, (int, float)) or not math.isfinite(r):
            name = getattr(reward, "__name__", repr(reward))
            raise ValueError(f"reward {name} returned {r!r} for output {output!r}; a reward must be a finite number")
        values.append(float(r))
    return torch.tensor(values, dtype=torch.float32)


# --------------------------------------------------------------------------------------------
# Advantages and the per-token loss


def group_advantages(rewards: torch.Tensor, group_size: int, eps: float = 1e-6) -> torch.Tensor:
    """(N,) rewards in consecutive groups of ``group_size`` answers to one question → (N,) advantages
    ``(r - group mean) / (group s.d. + eps)``; a group whose answers all scored alike gets zeros."""
    checks.integer("group_size", group_size, 2)
    if rewards.dim() != 1 or rewards.numel() % group_size:
        raise ValueError(f"rewards must be 1-D with a multiple of group_size={group_size} entries, "
                         f"got shape {tuple(rewards.shape)}")
    g = rewards.view(-1, group_size)  # (questions, G)
    centred = g - g.mean(dim=1, keepdim=True)
    return (centred / (g.std(dim=1, unbiased=False, keepdim=True) + eps)).view(-1)


def token_log_probs(model, seqs: torch.Tensor) -> torch.Tensor:
    """(N, L) token ids → (N, L-1) log π(seqs[:, t+1] | seqs[:, :t+1]), with gradient (one parallel pass)."""
    logits = model(seqs[:, :-1]).float()  # (N, L-1, V)
    return F.log_softmax(logits, dim=-1).gather(-1, seqs[:, 1:, None]).squeeze(-1)  # (N, L-1)


def policy_gradient_loss(token_logp: torch.Tensor, answer_mask: torch.Tensor,
                         advantages: torch.Tensor) -> torch.Tensor:
    """The surrogate whose gradient is the policy gradient: every answer token carries its answer's advantage.

    ``token_logp`` (N, L) log-probabilities of the sampled tokens, ``answer_mask`` (N, L) True on the
    answer's tokens (not the prompt, not padding), ``advantages`` (N,) one number per answer.
    ``-Σ_i A_i Σ_t log π(y_it) / (number of answer tokens)``.
    """
    per_token = advantages[:, None] * token_logp * answer_mask  # (N, L)
    return -per_token.sum() / answer_mask.sum().clamp(min=1)


def kl_to_reference(logits: torch.Tensor, ref_logits: torch.Tensor, answer_mask: torch.Tensor) -> torch.Tensor:
    """Mean over answer positions of the exact KL(π ‖ π_ref) between the two next-token distributions."""
    logp, ref = F.log_softmax(logits.float(), -1), F.log_softmax(ref_logits.float(), -1)  # (N, L, V)
    kl = (logp.exp() * (logp - ref)).sum(-1)  # (N, L)
    return (kl * answer_mask).sum() / answer_mask.sum().clamp(min=1)


# --------------------------------------------------------------------------------------------
# Rollouts


@dataclass
class Rollouts:
    """Sampled answers, as one padded tensor ready for a teacher-forced pass."""

    examples: list[Example]  # the question of each row (repeated group_size times)
    outputs: list[str]  # decoded answers
    seqs: torch.Tensor  # (N, L) prompt + answer ids (+ <eos> if it stopped), padded
    answer_mask: torch.Tensor  # (N, L-1) True where position t+1 is an answer token


def roll_out(model, task: Task, examples: Sequence[Example], *, temperature: float, generator: torch.Generator,
             greedy: bool = False) -> Rollouts:
    """Sample one answer per example (batched, KV-cached) and pack prompt + answer into tensors."""
    device = check_model(model, task)
    prompts = [task.tokenizer.encode(e.prompt) for e in examples]
    # the gold length, with room to wander (the addition task's own rule; the same slack for others)
    budget = getattr(task, "generation_budget", lambda n: n + 1 + GENERATION_SLACK)
    budgets = fit_to_context(model, prompts, [budget(len(e.target)) for e in examples])
    answers = generate_ids(model, prompts, budgets, greedy=greedy, temperature=temperature,
                           stop_sequences=[[task.tokenizer.eos_id]], generator=generator)
    L = max(len(p) + len(a) for p, a in zip(prompts, answers))
    seqs = torch.full((len(examples), L), task.tokenizer.pad_id, dtype=torch.long)
    mask = torch.zeros(len(examples), L - 1, dtype=torch.bool)
    for i, (p, a) in enumerate(zip(prompts, answers)):
        seqs[i, : len(p) + len(a)] = torch.tensor(p + a)
        mask[i, len(p) - 1 : len(p) + len(a) - 1] = True  # positions whose next token is an answer token
    outputs = [task.tokenizer.decode(a) for a in answers]
    return Rollouts(list(examples), outputs, seqs.to(device), mask.to(device))


def _require_expert(task: Task) -> None:
    if not callable(getattr(task, "oracle_targets", None)):
        raise TypeError(f"method 'dagger' needs a task with an expert (oracle_targets); {type(task).__name__} has none")


def oracle_batch(task: Task, rollouts: Rollouts) -> torch.Tensor:
    """(N, L-1) the expert's next token at every position where the model read its own answer
    (``pad`` elsewhere): the DAgger targets."""
    _require_expert(task)
    tok = task.tokenizer
    targets = torch.full(rollouts.answer_mask.shape, tok.pad_id, dtype=torch.long)
    for i, (example, output) in enumerate(zip(rollouts.examples, rollouts.outputs)):
        start = len(example.prompt) - 1
        n = int(rollouts.answer_mask[i].sum())  # answer tokens read: the output (+ <eos> if it stopped)
        expert = task.oracle_targets(example.prompt, output)[:n]
        targets[i, start : start + len(expert)] = torch.tensor(
            [tok.eos_id if ch == "<eos>" else tok.stoi[ch] for ch in expert])
    return targets.to(rollouts.seqs.device)


# --------------------------------------------------------------------------------------------
# The loop


@dataclass(frozen=True)
class FinetuneConfig:
    """Every setting of :func:`finetune`, validated once."""

    method: str
    steps: int
    seed: int
    reward: str | Callable = "exact"  # a name of REWARDS, or reward(task, example, output) -> float ("dagger": unused)
    batch_size: int = 16  # questions per step
    group_size: int = 8  # answers sampled per question ("dagger": rollouts per question)
    lr: float = 1e-4
    temperature: float = 1.0
    kl_coef: float = 0.0  # weight of KL(π ‖ starting model) per answer token
    baseline_decay: float = 0.9  # "reinforce": running mean of the reward
    grad_clip: float | None = 1.0
    eval_every: int | None = None
    eval_n: int = 256
    eval_seed: int = 12345

    def __post_init__(self):
        checks.one_of("method", self.method, METHODS)
        checks.positive_int("steps", self.steps)
        checks.seed("seed", self.seed)
        if not callable(self.reward):
            checks.one_of("reward", self.reward, tuple(REWARDS))
        checks.positive_int("batch_size", self.batch_size)
        checks.integer("group_size", self.group_size, 2 if self.method == "group" else 1, 1024)
        checks.number("lr", self.lr, 0.0, 10.0, lo_open=True)
        checks.positive("temperature", self.temperature)
        checks.non_negative("kl_coef", self.kl_coef)
        checks.probability("baseline_decay", self.baseline_decay)
        if self.grad_clip is not None:
            checks.positive("grad_clip", self.grad_clip)
        if self.eval_every is not None:
            checks.positive_int("eval_every", self.eval_every)
        checks.positive_int("eval_n", self.eval_n)
        checks.non_negative_int("eval_seed", self.eval_seed)


def update(model, optimizer, task: Task, questions: Sequence[Example], c: FinetuneConfig, *, reward: Callable,
           generator: torch.Generator, reference=None, baseline: float | None = None) -> tuple[float, float | None]:
    """One step of :func:`finetune` on ``questions``: roll out ``group_size`` answers each, turn them into
    a loss (rewards → advantages → per-token loss, or the expert's targets for "dagger"), and step.
    Returns the loss and the running baseline ("reinforce"). The benchmark times exactly this."""
    examples = [e for e in questions for _ in range(c.group_size)]  # (B·G,) each question G times
    with eval_mode(model):
        rollouts = roll_out(model, task, examples, temperature=c.temperature, generator=generator)
    model.train()
    logits = model(rollouts.seqs[:, :-1]).float()  # (N, L-1, V)
    if c.method == "dagger":
        targets = oracle_batch(task, rollouts)  # (N, L-1)
        nll = F.cross_entropy(logits.transpose(1, 2), targets, reduction="none")  # (N, L-1)
        loss = (nll * rollouts.answer_mask).sum() / rollouts.answer_mask.sum().clamp(min=1)
    else:
        rewards = score(reward, task, examples, rollouts.outputs)  # (N,)
        if c.method == "group":
            advantages = group_advantages(rewards, c.group_size)
        else:
            mean = float(rewards.mean())
            baseline = mean if baseline is None else c.baseline_decay * baseline + (1 - c.baseline_decay) * mean
            advantages = rewards - baseline
        logp = F.log_softmax(logits, -1).gather(-1, rollouts.seqs[:, 1:, None]).squeeze(-1)  # (N, L-1)
        loss = policy_gradient_loss(logp, rollouts.answer_mask, advantages.to(rollouts.seqs.device))
    if reference is not None:
        with torch.no_grad():
            ref_logits = reference(rollouts.seqs[:, :-1])
        loss = loss + c.kl_coef * kl_to_reference(logits, ref_logits, rollouts.answer_mask)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if c.grad_clip is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), c.grad_clip)
    optimizer.step()
    return loss.item(), baseline


def finetune(model, task: Task, method: str = "group", steps: int = 100, seed: int = 0, *,
             eval_task: Task | None = None, progress: bool = True, device=None, **options) -> History:
    """Train ``model`` further, in place, on its own answers to ``task``; returns a
    :class:`~handbook_utils.training.History` with the same fields as
    :func:`~handbook_utils.training.train`'s (``losses`` are the surrogate losses).

    ``options`` are the other fields of :class:`FinetuneConfig` (``reward``, ``batch_size``,
    ``group_size``, ``lr``, ``temperature``, ``kl_coef``, ``eval_every``, ...). ``eval_task``: where the
    evaluations are measured (default ``task``; give the held-out split of a ``split="train"`` task).
    Repeatable: the same ``seed`` gives the same History on the CPU.
    """
    unknown = set(options) - {f.name for f in dataclasses.fields(FinetuneConfig)}
    if unknown:
        raise TypeError(f"finetune() got unknown options {sorted(unknown)}")
    c = FinetuneConfig(method=method, steps=steps, seed=seed, **options)
    check_model(model, task)
    eval_task = task if eval_task is None else checks.instance("eval_task", eval_task, Task)
    if c.method == "dagger":
        _require_expert(task)  # before any training, not at the first step
    device = get_device(device)
    model.to(device)
    reference = copy.deepcopy(model).eval() if c.kl_coef > 0 else None
    seed_everything(c.seed)
    data_rng = torch.Generator().manual_seed(c.seed)
    sample_rng = torch.Generator(device=device).manual_seed(c.seed + 1)
    optimizer = configure_optimizer(model, c.lr, weight_decay=0.0)
    reward = c.reward if callable(c.reward) else REWARDS[c.reward]
    settings = {f.name: getattr(c, f.name) for f in dataclasses.fields(c)}
    settings["reward"] = c.reward if isinstance(c.reward, str) else getattr(reward, "__qualname__", repr(reward))
    history = History(steps=[], losses=[], evals=[], wall_time_s=0.0, config=describe({"finetune": settings}))
    baseline = None
    start = time.perf_counter()
    for step in tqdm(range(c.steps), disable=not (progress and progress_enabled()), desc=f"finetune {c.method}",
                     leave=False):
        questions = task.sample(c.batch_size, int(torch.randint(0, 2**31 - 1, (1,), generator=data_rng)))
        loss, baseline = update(model, optimizer, task, questions, c, reward=reward, generator=sample_rng,
                                reference=reference, baseline=baseline)
        history.steps.append(step + 1)
        history.losses.append(loss)
        history.lrs.append(c.lr)
        if c.eval_every and ((step + 1) % c.eval_every == 0 or step + 1 == c.steps):
            history.evals.append((step + 1, evaluate(model, eval_task, c.eval_n, c.eval_seed)))
            model.train()
    history.wall_time_s = time.perf_counter() - start
    model.eval()
    return history
