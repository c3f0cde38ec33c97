"""Free-running generation: the model reads its own output, as it must at test time.

This is the other side of teacher forcing. During training every position saw the gold prefix; here
each new token is chosen from the model's own distribution and fed back in. Batched prompts of
different lengths stay aligned by position (prompt tokens are fed as long as a row has them), so
every row sees exactly the positions it saw in training; the incremental ``model.step`` API (KV
cache or hidden state) makes each new token cost one position, not a whole new pass.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

from .tasks import EOS, Tokenizer


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


def check_model(model) -> torch.device:
    """The model's device; a TypeError naming ``model`` if it is not a module with parameters and ``step``."""
    if not isinstance(model, torch.nn.Module) or not callable(getattr(model, "step", None)):
        raise TypeError(f"model must be a torch.nn.Module with a step() method (GPT, GRULM), got {type(model).__name__}")
    try:
        return next(model.parameters()).device
    except StopIteration:
        raise TypeError("model must have at least one parameter") from None


def _check_max_new_tokens(max_new_tokens) -> None:
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int):
        raise TypeError(f"max_new_tokens must be an int, got {type(max_new_tokens).__name__}")
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")


def _check_sampling(greedy, temperature, top_k, vocab_size) -> None:
    if not isinstance(greedy, bool):
        raise TypeError(f"greedy must be a bool, got {type(greedy).__name__}")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        raise TypeError(f"temperature must be a number, got {type(temperature).__name__}")
    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature}")
    if top_k is not None:
        if isinstance(top_k, bool) or not isinstance(top_k, int):
            raise TypeError(f"top_k must be an int or None, got {type(top_k).__name__}")
        if not 1 <= top_k <= vocab_size:
            raise ValueError(f"top_k must be in [1, {vocab_size}] (the vocabulary size), got {top_k}")


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
    if len(prompts) == 0 or any(len(p) == 0 for p in prompts):
        raise ValueError("prompts must be a non-empty list of non-empty token lists")
    B = len(prompts)
    budgets = [max_new_tokens] * B if isinstance(max_new_tokens, int) else list(max_new_tokens)
    if len(budgets) != B:
        raise ValueError(f"max_new_tokens must be an int or one int per prompt, got {len(budgets)} for {B} prompts")
    for n in budgets:
        _check_max_new_tokens(n)
    _check_sampling(greedy, temperature, top_k, model.vocab_size)
    lens = [len(p) for p in prompts]
    P_min = min(lens)
    L = max(n + k for n, k in zip(lens, budgets))  # one past the last position any row can fill
    block_size = getattr(model, "block_size", None)
    if block_size is not None and L - 1 > block_size:
        raise ValueError(
            f"max_new_tokens={max_new_tokens} with prompts of up to {max(lens)} tokens needs {L - 1} "
            f"positions, more than the model's block_size {block_size}"
        )
    seq = torch.zeros(B, L, dtype=torch.long, device=device)  # (B, L)
    for b, p in enumerate(prompts):
        seq[b, : len(p)] = torch.tensor(list(p), dtype=torch.long)
    prompt_lens = torch.tensor(lens, device=device)  # (B,)
    out: list[list[int]] = [[] for _ in range(B)]
    done = [False] * B
    was_training = model.training
    model.eval()
    try:
        logits, state = model.step(seq[:, :P_min], None) if use_cache else (model(seq[:, :P_min]), None)
        for t in range(P_min, L):
            next_logits = logits[:, -1]  # (B, V): the distribution of token t
            if allowed is not None:
                next_logits = next_logits.masked_fill(~allowed, float("-inf"))
            tok = _pick(next_logits, greedy, temperature, top_k, generator)  # (B,)
            in_prompt = t < prompt_lens  # (B,) rows still reading their prompt
            seq[:, t] = torch.where(in_prompt, seq[:, t], tok)
            chosen = tok.tolist()  # one device sync per step, not one per row
            for b in range(B):
                if done[b] or t < lens[b]:
                    continue
                out[b].append(chosen[b])
                ended = any(len(s) and out[b][-len(s) :] == list(s) for s in stop_sequences)
                done[b] = ended or len(out[b]) == budgets[b]
            if all(done) or t + 1 == seq.shape[1]:
                break
            if use_cache:
                logits, state = model.step(seq[:, t : t + 1], state)  # (B, 1, V)
            else:
                logits = model(seq[:, : t + 1])  # (B, t+1, V): the whole prefix again
    finally:
        model.train(was_training)
    return out


def generate(
    model,
    tokenizer: Tokenizer,
    prompts: Sequence[str],
    max_new_tokens: int,
    greedy: bool = True,
    temperature: float = 1.0,
    top_k: int | None = None,
    stop: str | None = EOS,
    *,
    seed: int | None = None,
    use_cache: bool = True,
) -> list[str]:
    """Continue each prompt string; batched.

    ``stop``: ``"<eos>"`` (default) ends a row at the end-of-sequence token; another string also ends
    it once the output ends with that string, which is not included in the result (as in most APIs);
    ``None`` always generates ``max_new_tokens`` tokens. ``<eos>`` always ends a row unless ``stop`` is None.
    ``seed`` makes sampling (``greedy=False``) repeatable.
    """
    device = check_model(model)
    _check_max_new_tokens(max_new_tokens)
    if not isinstance(tokenizer, Tokenizer):
        raise TypeError(f"tokenizer must be a Tokenizer, got {type(tokenizer).__name__}")
    if isinstance(prompts, str) or not isinstance(prompts, Sequence):
        raise TypeError(f"prompts must be a list of str, got {type(prompts).__name__}")
    if len(prompts) == 0:
        raise ValueError("prompts must hold at least one prompt")
    for p in prompts:
        if not isinstance(p, str):
            raise TypeError(f"prompts must hold str, got {type(p).__name__}")
        if not p:
            raise ValueError("prompts must not contain an empty prompt: the first token needs a context")
    stop_sequences: list[list[int]] = []
    if stop is not None:
        if not isinstance(stop, str) or not stop:
            raise TypeError(f"stop must be a non-empty str or None, got {stop!r}")
        stop_sequences.append([tokenizer.eos_id])
        if stop != EOS:
            try:
                stop_sequences.append(tokenizer.encode(stop))
            except ValueError as err:
                raise ValueError(f"stop: {err}") from None
    generator = None
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be an int >= 0 or None, got {seed!r}")
        generator = torch.Generator(device=device).manual_seed(seed)
    ids = generate_ids(
        model,
        [tokenizer.encode(p) for p in prompts],
        max_new_tokens,
        greedy=greedy,
        temperature=temperature,
        top_k=top_k,
        stop_sequences=stop_sequences,
        generator=generator,
        use_cache=use_cache,
    )
    texts = []
    for row in ids:
        text = tokenizer.decode(row)  # stops at <eos>
        if stop is not None and stop != EOS and text.endswith(stop):
            text = text[: -len(stop)]
        texts.append(text)
    return texts
