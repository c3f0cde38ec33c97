"""Free-running generation: the model reads its own output, as it must at test time.

This is the other side of teacher forcing. During training every position saw the gold prefix; here
each new token is chosen from the model's own distribution and fed back in. Batched prompts of
different lengths stay aligned by position (prompt tokens are fed as long as a row has them), so
every row sees exactly the positions it saw in training; the incremental ``model.step`` API (KV
cache or hidden state) makes each new token cost one position, not a whole new pass.

Also here, because they too turn a model into whole answers: greedy decoding vs beam search
(chapter 2) and :func:`sequence_log_prob`, the chain rule that scores a whole answer in one pass.
:func:`generate_ids` is used by every chapter that measures free-running answers (3, 4, 6).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from . import checks
from .runtime import eval_mode
from .tasks import Task


def _pick(logits: torch.Tensor, greedy: bool, temperature: float, top_k: int | None, generator) -> torch.Tensor:
    """Next token per row from ``logits`` (B, V)."""
    if greedy:
        return logits.argmax(dim=-1)  # (B,)
    logits = logits.float() / temperature
    if top_k is not None:
        kth = torch.topk(logits, min(top_k, logits.shape[-1]), dim=-1).values[:, -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)  # (B,)


def check_model(model, task=None) -> torch.device:
    """The model's device; a TypeError naming ``model`` if it is not a module with parameters and
    ``step``. With ``task`` (a Task) also a ValueError when the model was built for another vocabulary:
    every public function that takes a model and a task calls this first."""
    if not isinstance(model, torch.nn.Module) or not callable(getattr(model, "step", None)):
        raise TypeError("model must be a torch.nn.Module with a step() method (GPT, GRULM), "
                        f"got {type(model).__name__}")
    try:
        device = next(model.parameters()).device
    except StopIteration:
        raise TypeError("model must have at least one parameter") from None
    if task is not None:
        checks.instance("task", task, Task, "handbook_utils.tasks.Task")
        checks.same_vocabulary(model, task.tokenizer)
    return device


def _check_sampling(greedy, temperature, top_k, vocab_size) -> None:
    checks.boolean("greedy", greedy)
    checks.positive("temperature", temperature)
    if top_k is not None:
        checks.integer("top_k", top_k, 1, vocab_size)


def fit_to_context(model, prompts: Sequence[Sequence[int]], budgets: Sequence[int]) -> list[int]:
    """Cut each row's token budget so prompt + answer fit the model's context (``block_size``).

    An answer that runs past the gold target's length is wrong anyway; the cut only stops a long
    wrong answer from overflowing the context. Every row keeps at least one token.
    """
    block = getattr(model, "block_size", None)
    if block is None:
        return list(budgets)
    return [max(1, min(k, block - len(p) + 1)) for k, p in zip(budgets, prompts)]


@torch.no_grad()
def generate_ids(
    model,
    prompts: Sequence[Sequence[int]],
    max_new_tokens: int | Sequence[int],
    *,
    greedy: bool = True,
    temperature: float = 1.0,
    top_k: int | None = None,
    stop_sequences: Sequence[Sequence[int]] = (),
    allowed: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    use_cache: bool = True,
) -> list[list[int]]:
    """Token-level generation. Returns, per prompt, the new ids including a stop sequence if one ended it.

    ``max_new_tokens`` is one budget for every row or one per row. ``allowed`` (V,) bool restricts the
    choice to some tokens (used to sample valid Markov strings). ``use_cache=False`` recomputes the
    whole prefix every step: slower, same result; kept for the benchmark.
    """
    device = check_model(model)
    if isinstance(prompts, (str, bytes)) or not isinstance(prompts, Sequence) or len(prompts) == 0:
        raise TypeError("prompts must be a non-empty list of token-id lists")
    prompts = [checks.token_id_list(f"prompts[{b}]", p, model.vocab_size) for b, p in enumerate(prompts)]
    B = len(prompts)
    if isinstance(max_new_tokens, Sequence):
        budgets = list(max_new_tokens)
        if len(budgets) != B:
            raise ValueError(f"max_new_tokens must be an int or one int per prompt, got {len(budgets)} for {B} prompts")
    else:
        budgets = [max_new_tokens] * B
    budgets = [checks.positive_int("max_new_tokens", n) for n in budgets]
    _check_sampling(greedy, temperature, top_k, model.vocab_size)
    lens = [len(p) for p in prompts]
    P_min = min(lens)
    L = max(n + k for n, k in zip(lens, budgets))  # one past the last position any row can fill
    block_size = getattr(model, "block_size", None)
    if block_size is not None and block_size < L - 1:
        raise ValueError(
            f"max_new_tokens={max_new_tokens} with prompts of up to {max(lens)} tokens needs {L - 1} "
            f"positions, more than the model's block_size {block_size}"
        )
    seq = torch.zeros(B, L, dtype=torch.long, device=device)  # (B, L)
    for b, p in enumerate(prompts):
        seq[b, : len(p)] = torch.tensor(list(p), dtype=torch.long)
    prompt_lens = torch.tensor(lens, device=device)  # (B,)
    budget = torch.tensor(budgets, device=device)  # (B,)
    # The bookkeeping is tensor-wide (no Python loop over rows): each row's new tokens go to
    # written[b, :n_out[b]], and a row is done when a stop sequence ends it or its budget is spent.
    written = torch.zeros(B, max(budgets), dtype=torch.long, device=device)  # (B, max budget)
    n_out = torch.zeros(B, dtype=torch.long, device=device)  # (B,)
    done = torch.zeros(B, dtype=torch.bool, device=device)  # (B,)
    rows = torch.arange(B, device=device)
    stops = [torch.tensor(list(s), dtype=torch.long, device=device) for s in stop_sequences if len(s)]
    with eval_mode(model):
        # the shortest prompt in one call, (B, P_min, V), filling the cache; then one token per call
        logits, state = model.step(seq[:, :P_min], None) if use_cache else (model(seq[:, :P_min]), None)
        for t in range(P_min, L):
            next_logits = logits[:, -1]  # (B, V): the distribution of token t
            if allowed is not None:
                next_logits = next_logits.masked_fill(~allowed, float("-inf"))
            tok = _pick(next_logits, greedy, temperature, top_k, generator)  # (B,)
            in_prompt = t < prompt_lens  # (B,) rows still reading their prompt
            seq[:, t] = torch.where(in_prompt, seq[:, t], tok)
            active = ~done & ~in_prompt  # (B,) rows that write token t
            written[rows[active], n_out[active]] = tok[active]
            n_out = n_out + active.long()
            ended = torch.zeros_like(done)
            for stop in stops:  # does written end with this stop sequence?
                m = len(stop)
                where = (n_out[:, None] - m + torch.arange(m, device=device)).clamp(min=0)  # (B, m)
                ended |= (n_out >= m) & (written.gather(1, where) == stop).all(dim=1)
            done = done | (active & (ended | (n_out == budget)))
            if t + 1 == seq.shape[1] or bool(done.all()):  # one device sync per step
                break
            if use_cache:  # feed token t alone: the cache holds the keys and values of 0 … t-1
                logits, state = model.step(seq[:, t : t + 1], state)  # (B, 1, V)
            else:
                logits = model(seq[:, : t + 1])  # (B, t+1, V): the whole prefix again
    counts = n_out.tolist()
    return [row[:n] for row, n in zip(written.tolist(), counts)]


# --------------------------------------------------------------------------------------------
# Decoding a whole answer: greedy vs beam search (chapter 2's tree where greedy misses the best)


@torch.no_grad()
def greedy_decode(model, prompt_ids, length: int) -> tuple[list[int], float]:
    """Greedy continuation of ``length`` tokens (no stopping) and its log-probability under the model."""
    check_model(model)
    prompt = checks.token_id_list("prompt_ids", prompt_ids, model.vocab_size)
    checks.positive_int("length", length)
    out = generate_ids(model, [prompt], length, greedy=True)[0]
    with eval_mode(model):
        ids = torch.tensor([prompt + out], device=next(model.parameters()).device)
        return out, float(sequence_log_prob(model, ids, len(prompt))[0])


@torch.no_grad()
def beam_search(model, prompt_ids, length: int, width: int) -> tuple[list[int], float]:
    """Keep the ``width`` most probable prefixes at every step; return the best continuation and its log-prob.

    ``width=1`` is greedy decoding. A wider beam searches more of the tree, and with ``width >= V**(length-1)``
    it is exact. Unlike greedy it may pick a first token that is not the most probable one.
    """
    device = check_model(model)
    V = model.vocab_size
    prompt = checks.token_id_list("prompt_ids", prompt_ids, V)
    checks.positive_int("length", length)
    checks.positive_int("width", width)
    beams: list[tuple[list[int], float]] = [([], 0.0)]
    with eval_mode(model):
        for _ in range(length):
            ids = torch.tensor([prompt + seq for seq, _ in beams], device=device)  # (k, P + t)
            logp = F.log_softmax(model(ids)[:, -1].double(), dim=-1).cpu()  # (k, V)
            candidates = [(seq + [v], score + float(logp[i, v])) for i, (seq, score) in enumerate(beams)
                          for v in range(V)]
            candidates.sort(key=lambda c: -c[1])  # stable: ties keep the lower token id
            beams = candidates[:width]
    return beams[0]


# --------------------------------------------------------------------------------------------
# The chain rule: log P(answer | prompt) from one teacher-forced pass


def sequence_log_prob(model, ids: torch.Tensor, prompt_len, *, grad: bool = False) -> torch.Tensor:
    """log P(ids[prompt_len:] | ids[:prompt_len]) = Σ_t log P(ids[t] | ids[:t]), one value per row.

    ``ids`` is ``(B, T)`` (or ``(T,)``) without padding; ``prompt_len`` is an int or a ``(B,)`` tensor,
    at least 1 (the first token has no context to be predicted from). Returns ``(B,)`` (or a scalar).
    One parallel pass gives every term of the sum: the factorization is exact, not an approximation.
    The model's precision is kept (a float64 model gives float64 sums); ``grad=True`` keeps the graph
    so the result can be backpropagated (REINFORCE in chapter 2), otherwise no graph is built.
    Used by chapters 2 and 7 and by :func:`greedy_decode`.
    """
    check_model(model)
    if not isinstance(ids, torch.Tensor) or ids.dim() not in (1, 2):
        raise TypeError("ids must be a (B, T) or (T,) long tensor")
    checks.token_ids("ids", ids, model.vocab_size)
    squeeze = ids.dim() == 1
    ids = ids[None] if squeeze else ids
    B, T = ids.shape
    prompt_len = torch.as_tensor(prompt_len, device=ids.device).long().expand(B)  # (B,)
    if bool((prompt_len < 1).any()) or bool((prompt_len > T).any()):
        raise ValueError(f"prompt_len must be in [1, {T}] (the sequence length), got {prompt_len.tolist()}")
    mode = contextlib.nullcontext() if grad else eval_mode(model)
    with mode, torch.set_grad_enabled(grad and torch.is_grad_enabled()):
        logits = model(ids[:, :-1])  # (B, T-1, V): position t predicts token t+1
        if logits.dtype in (torch.float16, torch.bfloat16):
            logits = logits.float()
        logp = F.log_softmax(logits, dim=-1)
        token_logp = logp.gather(-1, ids[:, 1:, None]).squeeze(-1)  # (B, T-1)
        positions = torch.arange(1, T, device=ids.device)  # (T-1,) index of the predicted token
        scored = positions[None] >= prompt_len[:, None]  # (B, T-1)
        total = (token_logp * scored).sum(dim=1)  # (B,)
    return total[0] if squeeze else total
