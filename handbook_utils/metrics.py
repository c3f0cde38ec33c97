"""Measuring a model two ways: on gold prefixes (teacher forced) and on its own (free running).

The gap between the two IS exposure bias, so :func:`evaluate` reports both side by side:

- teacher-forced loss and token accuracy: what a training curve shows;
- free-running greedy exact match, per-position accuracy and the position of the first error:
  what a user sees;
- the independence estimate ``p^T`` (token accuracy to the power of the target length): what you
  would predict if errors were independent. Errors cluster in hard examples, so treat it as a
  hypothesis to test, not a law.

Also here: :func:`~handbook_utils.generation.sequence_log_prob` (the chain rule, summed next-token
log-probs = log P(target | prompt)), exact per-position KL on
:class:`~handbook_utils.tasks.markov.MarkovTask`
(:func:`markov_kl_per_position`), and error injection on the addition chain
(:func:`inject_error_and_continue`): corrupt one digit and see whether the model recovers.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F

from . import checks
from .generation import check_model, fit_to_context, generate_ids
from .runtime import eval_mode
from .tasks import END_THINK, THINK, AdditionChainTask, Example, MarkovTask, Task

# --------------------------------------------------------------------------------------------
# Evaluation


@dataclass
class Evaluation:
    """Teacher-forced and free-running measurements of one model on ``n`` fresh examples."""

    n: int
    seed: int
    tf_loss: float  # mean cross-entropy per target token, gold prefixes
    tf_token_accuracy: float  # argmax = gold token, gold prefixes
    exact_match: float  # greedy free-running output = target (including stopping)
    per_position_tf_accuracy: list[float]  # by target position (position t needs examples of length > t)
    per_position_free_accuracy: list[float]  # same, with the model reading its own output
    first_error_positions: list[int | None]  # per example: first wrong free-running token, None if exact
    mean_target_length: float  # T: target characters + <eos>, averaged over examples
    independence_estimate: float  # p^T with p = tf_token_accuracy, T = mean_target_length
    independence_estimate_per_example: float  # mean over examples of p^{T_i}
    mean_sequence_prob: float  # mean P(target | prompt): the exact chance that *sampling* reproduces it
    free_running_outputs: list[str] = field(repr=False)  # the greedy outputs, to show failures

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        return (
            f"tf_loss {self.tf_loss:.4f} | tf_acc {self.tf_token_accuracy:.4f} | exact {self.exact_match:.3f} "
            f"| p^T {self.independence_estimate:.3f} (T={self.mean_target_length:.1f})"
        )


def _free_running(model, task: Task, batch, prompts, targets) -> list[list[int]]:
    """Greedy free-running target tokens per example (ending with <eos> if the model stopped)."""
    if task.teacherless:
        # a teacherless model never reads target tokens: its output is one pass over the dummies
        pred = model(batch.inputs).argmax(dim=-1)  # (B, T)
        rows = []
        for b in range(len(prompts)):
            row = pred[b][batch.loss_mask[b]].tolist()
            eos = task.tokenizer.eos_id
            rows.append(row[: row.index(eos) + 1] if eos in row else row)
        return rows
    budgets = [len(t) for t in targets]  # a longer output is wrong anyway
    return generate_ids(model, prompts, budgets, stop_sequences=[[task.tokenizer.eos_id]])


@torch.no_grad()
def evaluate(model, task: Task, n: int, seed: int, *, batch_size: int = 256) -> Evaluation:
    """Measure ``model`` on ``task.sample(n, seed)`` with gold prefixes and with its own."""
    checks.instance("task", task, Task)
    checks.positive_int("n", n)
    checks.non_negative_int("seed", seed)
    checks.positive_int("batch_size", batch_size)
    device = check_model(model, task)
    examples = task.sample(n, seed)
    total_loss, total_correct, total_tokens = 0.0, 0, 0
    tf_hits, free_hits, counts = [], [], []  # per target position
    first_errors, outputs, lengths, seq_probs = [], [], [], []

    def grow(lists, size):
        for lst in lists:
            lst.extend([0] * (size - len(lst)))

    with eval_mode(model):
        for start in range(0, n, batch_size):
            chunk = examples[start : start + batch_size]
            batch = task.batch(chunk, device=device)
            logits = model(batch.inputs).float()  # (B, T, V)
            mask = batch.loss_mask  # (B, T)
            nll = F.cross_entropy(logits.transpose(1, 2), batch.targets, reduction="none")  # (B, T)
            correct = (logits.argmax(-1) == batch.targets) & mask  # (B, T)
            total_loss += float(nll[mask].sum())
            total_correct += int(correct.sum())
            total_tokens += int(mask.sum())
            seq_probs += torch.exp(-(nll * mask).sum(1)).tolist()
            prompts, targets = zip(*(task.encode(e) for e in chunk))
            free = _free_running(model, task, batch, prompts, targets)
            for b, (target, gen) in enumerate(zip(targets, free)):
                T_b = len(target)
                grow((tf_hits, free_hits, counts), T_b)
                tf_row = correct[b][mask[b]].tolist()  # (T_b,)
                first = None
                for t in range(T_b):
                    counts[t] += 1
                    tf_hits[t] += tf_row[t]
                    ok = t < len(gen) and gen[t] == target[t]
                    free_hits[t] += ok
                    if not ok and first is None:
                        first = t
                if first is None and len(gen) != T_b:
                    first = T_b  # right answer, but it did not stop
                first_errors.append(first)
                outputs.append(task.tokenizer.decode(gen))
                lengths.append(T_b)
    p = total_correct / total_tokens
    T = sum(lengths) / len(lengths)
    return Evaluation(
        n=n,
        seed=seed,
        tf_loss=total_loss / total_tokens,
        tf_token_accuracy=p,
        exact_match=sum(e is None for e in first_errors) / n,
        per_position_tf_accuracy=[h / c for h, c in zip(tf_hits, counts)],
        per_position_free_accuracy=[h / c for h, c in zip(free_hits, counts)],
        first_error_positions=first_errors,
        mean_target_length=T,
        independence_estimate=p**T,
        independence_estimate_per_example=sum(p**L for L in lengths) / len(lengths),
        mean_sequence_prob=sum(seq_probs) / len(seq_probs),
        free_running_outputs=outputs,
    )


# --------------------------------------------------------------------------------------------
# Exact KL on a known Markov chain


@torch.no_grad()
def markov_kl_per_position(
    model, task: MarkovTask, n: int, seed: int, mode: str = "teacher_forced", *, batch_size: int = 256
) -> torch.Tensor:
    """(length,) mean ``KL(P_true(·|prefix) ‖ P_model(·|prefix))`` in nats at each position of the chain.

    ``mode="teacher_forced"``: prefixes drawn from the true chain (what training optimizes).
    ``mode="free_running"``: prefixes sampled from the model itself (what generation sees), restricted
    to the chain's letters so the true conditional is always defined; mass the model puts elsewhere
    still counts against it. The difference between the two curves is exposure bias (Arora et al., 2022).
    """
    if not isinstance(task, MarkovTask):
        raise TypeError(f"task must be a MarkovTask, got {type(task).__name__}")
    checks.positive_int("n", n)
    checks.non_negative_int("seed", seed)
    checks.positive_int("batch_size", batch_size)
    if mode not in ("teacher_forced", "free_running"):
        raise ValueError(f"mode must be 'teacher_forced' or 'free_running', got {mode!r}")
    device = check_model(model, task)
    tok = task.tokenizer
    start_id = tok.stoi[task.START]
    allowed = torch.zeros(tok.vocab_size, dtype=torch.bool, device=device)
    allowed[start_id + 1 :] = True  # the letters
    generator = torch.Generator(device=device).manual_seed(seed)
    total = torch.zeros(task.length, dtype=torch.float64)
    with eval_mode(model):
        for start in range(0, n, batch_size):
            b = min(batch_size, n - start)
            if mode == "teacher_forced":
                ids = task.batch(task.sample(b, seed + start), device=device).inputs  # (b, length + 1)
            else:
                rows = generate_ids(
                    model, [[start_id]] * b, task.length, greedy=False, allowed=allowed, generator=generator
                )
                ids = torch.tensor([[start_id] + r for r in rows], device=device)  # (b, length + 1)
            ids = ids[:, : task.length]  # prefixes of 0 .. length-1 letters: predict letters 1 .. length
            true = task.true_next_token_table(ids)  # (b, length, V) float64
            logq = F.log_softmax(model(ids).double(), dim=-1).cpu()  # (b, length, V)
            kl = torch.where(true > 0, true * (true.clamp_min(1e-300).log() - logq), torch.zeros_like(true))
            total += kl.sum(dim=-1).sum(dim=0)
    return total / n


# --------------------------------------------------------------------------------------------
# Error injection on the addition chain


@dataclass
class InjectedExample:
    """One example of :func:`inject_error_and_continue`: what the model was given, and what it wrote."""

    prompt: str
    injected_prefix: str  # the gold target up to the corrupted digit, with the wrong digit in place
    output: str  # injected prefix + the model's continuation
    injected_index: int  # index of the corrupted character in the target
    true_answer: int
    trusting_answer: int  # the answer you get if you believe the corrupted line
    final_correct: bool  # the model's answer after </think> is the true sum
    followed_error: bool  # the model's answer is the one the corrupted line implies


@dataclass
class Injection:
    """What :func:`inject_error_and_continue` measured at one position, over its examples."""

    position: int
    n: int  # examples where a digit could be corrupted at or after `position`
    recovery_rate: float  # fraction whose final answer is still right
    followed_error_rate: float  # fraction whose final answer trusts the corrupted line
    examples: list[InjectedExample] = field(repr=False)


@torch.no_grad()
def inject_error_and_continue(model, task: AdditionChainTask, examples, position: int, seed: int) -> Injection:
    """Corrupt one digit of the gold chain and let the model finish: does it recover?

    For each example the model is given ``prompt + target[:i] + wrong digit``, where ``i`` is the first
    digit of the reasoning at or after ``position`` (a target index), and continues greedily. The
    chain makes the outcome checkable: ``final_correct`` means the answer after ``</think>`` is still
    the true sum; ``followed_error`` means it is the sum of the corrupted line, i.e. the model trusted
    its (injected) notes. Examples with no digit at or after ``position`` are skipped.
    ``examples`` is a list of :class:`~handbook_utils.tasks.base.Example` or an int (that many are
    sampled with ``seed``).
    """
    if not isinstance(task, AdditionChainTask):
        raise TypeError("task must be an AdditionChainTask (its chain makes recovery checkable), "
                        f"got {type(task).__name__}")
    check_model(model, task)
    if isinstance(examples, int) and not isinstance(examples, bool):
        examples = task.sample(checks.positive_int("examples", examples), seed)
    if isinstance(examples, Example) or not isinstance(examples, (list, tuple)) or not examples:
        raise TypeError("examples must be a non-empty list of Example (or an int: how many to sample)")
    checks.non_negative_int("position", position)
    checks.non_negative_int("seed", seed)
    rng = random.Random(seed)
    tok = task.tokenizer
    prompts, meta = [], []
    for ex in examples:
        if not isinstance(ex, Example):
            raise TypeError(f"examples must hold Example objects, got {type(ex).__name__}")
        end = ex.target.find(END_THINK)
        index = next((i for i in range(max(position, len(THINK)), end) if ex.target[i].isdigit()), None)
        if index is None:
            continue
        prefix = ex.target[:index] + task.wrong_digit(ex.target, index, rng)  # well formed, but wrong
        prompts.append(tok.encode(ex.prompt + prefix))
        meta.append((ex, index, prefix))
    results = []
    if prompts:
        # room for the rest of the gold chain and some slack, within the model's context
        budgets = [task.generation_budget(len(ex.target) - len(prefix)) for ex, _, prefix in meta]
        budgets = fit_to_context(model, prompts, budgets)
        rows = generate_ids(model, prompts, budgets, stop_sequences=[[tok.eos_id]])
        for (ex, index, prefix), row in zip(meta, rows):
            output = prefix + tok.decode(row)
            true_answer = task.answer_of(ex.target)
            trusting = task.line_sum_at(output, index)
            got = task.answer_of(output)
            results.append(
                InjectedExample(
                    prompt=ex.prompt,
                    injected_prefix=prefix,
                    output=output,
                    injected_index=index,
                    true_answer=true_answer,
                    trusting_answer=trusting if trusting is not None else -1,
                    final_correct=got == true_answer,
                    followed_error=got is not None and got == trusting and got != true_answer,
                )
            )
    k = len(results)
    return Injection(
        position=position,
        n=k,
        recovery_rate=sum(r.final_correct for r in results) / k if k else float("nan"),
        followed_error_rate=sum(r.followed_error for r in results) / k if k else float("nan"),
        examples=results,
    )
