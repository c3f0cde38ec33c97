"""Two small decoder-only language models with the same interface.

``GPT`` (a nanoGPT-style transformer) and ``GRULM`` (a recurrent network) both

- map ``(B, T)`` token ids to ``(B, T, V)`` next-token logits in ONE call (``model(idx)``): this is
  what teacher forcing uses, every position trained in parallel;
- offer ``model.step(idx, state) -> (logits, state)``: feed the next chunk of tokens and carry a state
  (a KV cache for GPT, a hidden state for the GRU). Generation and sequential scheduled sampling
  need it, because there the next input is only known after the previous prediction.

Both give the same logits either way (up to float rounding); the tests check it. Both also read
embeddings instead of ids, ``model.forward_embeddings(tok_emb)`` with ``tok_emb`` (B, T, C): for
inputs that are no token, such as the soft embeddings of chapter 8's differentiable scheduled
sampling; ``forward_embeddings(model.wte(idx))`` is ``model(idx)``.

``GPTConfig(token_shift=k)`` also feeds each position the embeddings of the ``k`` tokens before it
(a short causal convolution over the embeddings), so a position knows its neighbours without first
learning an attention head that looks back: a small model then learns to look things up in an edge
list much sooner (chapter 9). ``GPTConfig(n_future=k)`` adds multi-token prediction (Gloeckle et
al., 2024): ``k - 1`` extra heads that predict tokens t+2 … t+k from the same trunk, read by
``model.heads(idx)`` and trained by :class:`~handbook_utils.strategies.MultiTokenPrediction`
(chapter 9); ``model(idx)`` and ``model.step`` always use the next-token head, so generation is
unchanged. With the defaults (``token_shift=0``, ``n_future=1``) the model is exactly the plain GPT:
same parameters, bit-identical outputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import checks


def _check_dropout(value) -> None:
    checks.number("dropout", value, 0.0, 1.0, hi_open=True)


def _check_idx(idx) -> None:
    if not isinstance(idx, torch.Tensor):
        raise TypeError(f"idx must be a torch.Tensor, got {type(idx).__name__}")
    if idx.dim() != 2 or idx.dtype != torch.long:
        raise ValueError(f"idx must be a (B, T) long tensor, got shape {tuple(idx.shape)} dtype {idx.dtype}")
    if idx.shape[1] == 0:
        raise ValueError("idx must hold at least one position (T >= 1)")


def _check_embeddings(tok_emb, n_embd: int) -> None:
    if not isinstance(tok_emb, torch.Tensor):
        raise TypeError(f"tok_emb must be a torch.Tensor, got {type(tok_emb).__name__}")
    if tok_emb.dim() != 3 or tok_emb.shape[2] != n_embd or tok_emb.shape[1] == 0 or not tok_emb.is_floating_point():
        raise ValueError(f"tok_emb must be a floating (B, T, {n_embd}) tensor with T >= 1, "
                         f"got shape {tuple(tok_emb.shape)} dtype {tok_emb.dtype}")


# --------------------------------------------------------------------------------------------
# GPT


@dataclass
class GPTConfig:
    """The size and options of a :class:`GPT`; ``vocab_size`` and ``block_size`` come from the task
    (:meth:`for_task`)."""

    vocab_size: int
    block_size: int = 64  # longest sequence the learned position table covers
    # Small on purpose: with these defaults a 5-term addition chain trains to loss <= 0.02 in
    # well under a minute on a 2-core CPU (see recipes.five_term_recipe and benchmarks/run.py).
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 64
    dropout: float = 0.0
    bias: bool = True
    tie_weights: bool = True  # share the token embedding with the output layer (Press & Wolf)
    n_future: int = 1  # tokens predicted at each position: 1 = next-token only; k > 1 adds k-1 heads
    token_shift: int = 0  # also add (linear maps of) the embeddings of the k previous tokens

    def __post_init__(self):
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd", "n_future"):
            checks.positive_int(name, getattr(self, name))
        checks.non_negative_int("token_shift", self.token_shift)
        if self.n_embd % self.n_head != 0:
            raise ValueError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        _check_dropout(self.dropout)
        for name in ("bias", "tie_weights"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool, got {type(getattr(self, name)).__name__}")

    @classmethod
    def for_task(cls, task, **overrides) -> GPTConfig:
        """A config sized for ``task``: its vocabulary, and a context that fits its longest example."""
        settings = dict(vocab_size=task.tokenizer.vocab_size, block_size=task.max_len)
        settings.update(overrides)
        return cls(**settings)


@dataclass
class KVCache:
    """Keys and values of every layer for the positions seen so far: each (B, n_head, S, head_size)."""

    layers: list[tuple[torch.Tensor, torch.Tensor]]
    recent: torch.Tensor | None = None  # (B, token_shift) the last ids, for a model with a token shift

    @property
    def length(self) -> int:
        return 0 if not self.layers else self.layers[0][0].shape[2]


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.n_head, self.n_embd = config.n_head, config.n_embd
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)  # q, k, v at once
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.dropout = config.dropout

    def forward(self, x, past=None):
        B, T, C = x.size()  # (B, T, C)
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)  # each (B, T, C)
        # split C into nh heads of hs = C // nh numbers each; every head attends on its own
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        if past is not None:
            k = torch.cat([past[0], k], dim=2)  # (B, nh, S, hs), S = cached + T
            v = torch.cat([past[1], v], dim=2)
        dropout = self.dropout if self.training else 0.0
        S = k.shape[2]
        # y = softmax(q kᵀ / √hs, with -inf where a position would read a later one) @ v: (B, nh, T, hs).
        # The fused kernel does not hand back the (B, nh, T, S) weights themselves.
        if S == T:  # no cache: the usual lower-triangular mask
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout, is_causal=True)
        elif T == 1:  # one new token may look at everything before it
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout)
        else:  # a chunk after a cache: the mask is aligned to the bottom right
            mask = torch.ones(T, S, dtype=torch.bool, device=x.device).tril(diagonal=S - T)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # (B, T, C): heads side by side
        return self.resid_dropout(self.c_proj(y)), (k, v)


class MLP(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(F.gelu(self.c_fc(x))))


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x, past=None):
        a, present = self.attn(self.ln_1(x), past)
        x = x + a
        return x + self.mlp(self.ln_2(x)), present


class GPT(nn.Module):
    """A decoder-only transformer: token + learned position embeddings, causal blocks, a linear head."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        if not isinstance(config, GPTConfig):
            raise TypeError(f"config must be a GPTConfig, got {type(config).__name__}")
        self.config = config
        self.block_size = config.block_size
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.block_size, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.h = nn.ModuleList([Block(config) for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        if config.tie_weights:
            self.lm_head.weight = self.wte.weight
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # GPT-2: scale residual projections by depth
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))
        # Options are built after the plain model is initialised, so its weights are the same as the
        # plain model's from the same seed (the token shift first, then the extra heads).
        if config.token_shift:
            # Orthogonal, not small: each previous token arrives as strongly as the current one (in a
            # direction of its own), so attention can match on it from the first step. Small random
            # maps made the lookups of chapter 9 form several times later, or not within budget.
            self.shift = nn.ModuleList([nn.Linear(config.n_embd, config.n_embd, bias=False)
                                        for _ in range(config.token_shift)])
            for lin in self.shift:
                nn.init.orthogonal_(lin.weight)
        if config.n_future > 1:
            # Each extra head is one block on the trunk's output, then the shared final norm and
            # output layer (Gloeckle et al., 2024).
            self.future_heads = nn.ModuleList([Block(config) for _ in range(config.n_future - 1)])
            self.future_heads.apply(self._init_weights)
            for name, p in self.future_heads.named_parameters():
                if name.endswith("c_proj.weight"):
                    nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module):
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    @property
    def vocab_size(self) -> int:
        return self.config.vocab_size

    def _run(self, idx, cache: KVCache | None, tok_emb: torch.Tensor | None = None):
        if tok_emb is None:
            _check_idx(idx)
            T = idx.shape[1]
        else:  # token embeddings given (forward_embeddings): no ids, no cache
            T = tok_emb.shape[1]
        start = 0 if cache is None else cache.length
        if start + T > self.block_size:
            raise ValueError(
                f"{'idx' if tok_emb is None else 'tok_emb'}: sequence length {start + T} exceeds block_size "
                f"{self.block_size}; "
                "build the model with a larger block_size"
            )
        device = idx.device if tok_emb is None else tok_emb.device
        pos = torch.arange(start, start + T, dtype=torch.long, device=device)  # (T,)
        x = (self.wte(idx) if tok_emb is None else tok_emb) + self.wpe(pos)  # (B, T, C)
        if self.config.token_shift:
            if tok_emb is None:
                x = x + self._shifted(idx, None if cache is None else cache.recent)
            else:
                x = x + self._shift_embeddings(tok_emb, 0)
        x = self.drop(x)
        presents = []
        for i, block in enumerate(self.h):
            x, present = block(x, None if cache is None else cache.layers[i])
            presents.append(present)
        return x, presents  # (B, T, C): the trunk's output

    def _shifted(self, idx, recent):
        """Σ_k shift_k(embedding of the token k before each position), zero before the first token."""
        T = idx.shape[1]
        full = idx if recent is None else torch.cat([recent, idx], dim=1)  # (B, r + T)
        return self._shift_embeddings(self.wte(full), full.shape[1] - T)  # e: (B, r + T, C)

    def _shift_embeddings(self, e, r: int):
        """Σ_k shift_k(e shifted down by k) for the last ``T = len - r`` rows of ``e`` (B, r + T, C)."""
        T = e.shape[1] - r
        out = 0
        for k, lin in enumerate(self.shift, start=1):
            out = out + lin(F.pad(e, (0, 0, k, 0))[:, r : r + T])  # (B, T, C): row t holds token t - k
        return out

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """(B, T) ids → (B, T, V) next-token logits; position t sees ids[:, :t+1] only."""
        x, _ = self._run(idx, None)
        return self.lm_head(self.ln_f(x))  # (B, T, V)

    def forward_embeddings(self, tok_emb: torch.Tensor) -> torch.Tensor:
        """(B, T, C) token embeddings → (B, T, V) logits: ``model(idx)`` with ``wte(idx)`` replaced.

        For inputs that are no token: the soft embeddings of
        :class:`~handbook_utils.strategies.SoftScheduledSampling` (chapter 8), which must stay
        differentiable. ``forward_embeddings(model.wte(idx))`` equals ``model(idx)``.
        """
        _check_embeddings(tok_emb, self.config.n_embd)
        x, _ = self._run(None, None, tok_emb)
        return self.lm_head(self.ln_f(x))  # (B, T, V)

    def heads(self, idx: torch.Tensor) -> list[torch.Tensor]:
        """(B, T) ids → ``n_future`` logits (B, T, V): entry j at position t predicts token t+1+j.

        Entry 0 is ``model(idx)``; the others come from the extra heads of multi-token prediction.
        """
        x, _ = self._run(idx, None)  # (B, T, C)
        out = [self.lm_head(self.ln_f(x))]
        for head in getattr(self, "future_heads", []):
            y, _ = head(x)  # (B, T, C)
            out.append(self.lm_head(self.ln_f(y)))
        return out

    def step(self, idx: torch.Tensor, state: KVCache | None = None) -> tuple[torch.Tensor, KVCache]:
        """Feed the next ``(B, t)`` tokens after ``state``; returns their logits ``(B, t, V)`` and the new cache."""
        if state is not None and not isinstance(state, KVCache):
            raise TypeError(f"state must be a KVCache or None, got {type(state).__name__}")
        if state is not None and state.length == 0:
            state = None
        x, presents = self._run(idx, state)
        recent = None
        if self.config.token_shift:
            before = idx if state is None or state.recent is None else torch.cat([state.recent, idx], dim=1)
            recent = before[:, -self.config.token_shift :]
        return self.lm_head(self.ln_f(x)), KVCache(presents, recent)  # (B, t, V)


# --------------------------------------------------------------------------------------------
# GRU


@dataclass
class GRUConfig:
    """The size of a :class:`GRULM`; ``vocab_size`` comes from the task (:meth:`for_task`)."""

    vocab_size: int
    n_embd: int = 64
    n_hidden: int = 256
    n_layer: int = 1
    dropout: float = 0.0
    block_size: int | None = None  # a GRU has no context limit; set one to get the same checks as GPT

    def __post_init__(self):
        for name in ("vocab_size", "n_embd", "n_hidden", "n_layer"):
            checks.positive_int(name, getattr(self, name))
        if self.block_size is not None:
            checks.positive_int("block_size", self.block_size)
        _check_dropout(self.dropout)

    @classmethod
    def for_task(cls, task, **overrides) -> GRUConfig:
        """A config sized for ``task``: its vocabulary (a GRU has no context limit to fit)."""
        settings = dict(vocab_size=task.tokenizer.vocab_size)
        settings.update(overrides)
        return cls(**settings)


class GRULM(nn.Module):
    """A recurrent decoder-only LM: embedding → multi-layer GRU → linear head.

    The recurrence is the reason the sequential picture of the book is not just a metaphor: the
    hidden state after position t is all the model knows about the prefix.
    """

    def __init__(self, config: GRUConfig):
        super().__init__()
        if not isinstance(config, GRUConfig):
            raise TypeError(f"config must be a GRUConfig, got {type(config).__name__}")
        self.config = config
        self.block_size = config.block_size
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.gru = nn.GRU(
            config.n_embd,
            config.n_hidden,
            num_layers=config.n_layer,
            batch_first=True,
            dropout=config.dropout if config.n_layer > 1 else 0.0,
        )
        self.drop = nn.Dropout(config.dropout)
        self.lm_head = nn.Linear(config.n_hidden, config.vocab_size)

    @property
    def vocab_size(self) -> int:
        return self.config.vocab_size

    def step(self, idx: torch.Tensor, state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Feed ``(B, t)`` tokens after hidden state ``state`` ``(n_layer, B, H)``; returns ``(B, t, V)`` logits."""
        _check_idx(idx)
        if state is not None and not isinstance(state, torch.Tensor):
            raise TypeError(f"state must be a tensor or None, got {type(state).__name__}")
        out, h = self.gru(self.drop(self.wte(idx)), state)  # (B, t, H), (n_layer, B, H)
        return self.lm_head(self.drop(out)), h  # (B, t, V)

    def forward_embeddings(self, tok_emb: torch.Tensor) -> torch.Tensor:
        """(B, T, n_embd) token embeddings → (B, T, V) logits: ``model(idx)`` with ``wte(idx)`` replaced."""
        _check_embeddings(tok_emb, self.config.n_embd)
        out, _ = self.gru(self.drop(tok_emb))  # (B, T, H)
        return self.lm_head(self.drop(out))

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """(B, T) ids → (B, T, V) logits."""
        if self.block_size is not None and idx.dim() == 2 and idx.shape[1] > self.block_size:
            raise ValueError(f"idx: sequence length {idx.shape[1]} exceeds block_size {self.block_size}")
        logits, _ = self.step(idx, None)
        return logits


def make_model(config: GPTConfig | GRUConfig, seed: int = 0) -> GPT | GRULM:
    """Build the model for ``config`` with weights drawn from ``seed``, so chapters get the same model."""
    from .device import seed_everything

    if not isinstance(config, (GPTConfig, GRUConfig)):
        raise TypeError(f"config must be a GPTConfig or GRUConfig, got {type(config).__name__}")
    seed_everything(seed)
    return GPT(config) if isinstance(config, GPTConfig) else GRULM(config)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
