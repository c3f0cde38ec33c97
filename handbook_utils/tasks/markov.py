"""Text from a known Markov chain, so a model's KL to the true next-token distribution can be computed
exactly at every position (chapter 4's exposure-bias measurements).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from .. import checks
from .base import Example, Task, Tokenizer


@dataclass(frozen=True)
class MarkovTask(Task):
    """Strings from a known Markov chain over ``n_states`` letters, so exact KL is computable.

    Prompt ``^`` (the start symbol), target ``length`` letters. The next letter depends on the last
    ``order`` symbols, the start symbol padding the left; each row of the transition table is drawn
    from a Dirichlet(``concentration``) with ``seed`` (small concentration = peaked, learnable rows).
    """

    n_states: int = 8
    order: int = 1
    length: int = 32
    concentration: float = 0.3
    seed: int = 0
    tokenizer: Tokenizer = field(init=False, repr=False, compare=False)
    transition: torch.Tensor = field(init=False, repr=False, compare=False)

    START = "^"

    def __post_init__(self):
        checks.integer("n_states", self.n_states, 2, 26)
        checks.integer("order", self.order, 1, 3)
        checks.integer("length", self.length, 1, 10_000)
        checks.seed("seed", self.seed)
        c = checks.positive("concentration", self.concentration)
        alphabet = "".join(chr(ord("a") + i) for i in range(self.n_states))
        object.__setattr__(self, "tokenizer", Tokenizer(self.START + alphabet))
        rng = np.random.default_rng(self.seed)
        n_contexts = (self.n_states + 1) ** self.order  # context symbols: start + every state
        table = rng.dirichlet(np.full(self.n_states, float(c)), size=n_contexts)  # (C, S)
        object.__setattr__(self, "transition", torch.tensor(table, dtype=torch.float64))
        object.__setattr__(self, "_cumulative", np.cumsum(table, axis=1))  # for fast sampling

    # token ids: "^" is 2, state s is 3 + s; context codes: start is 0, state s is 1 + s
    def _context_index(self, codes: Sequence[int]) -> int:
        index = 0
        for c in codes:
            index = index * (self.n_states + 1) + c
        return index

    def _draw(self, rng: random.Random) -> Example:
        codes = [0] * self.order
        letters = []
        for _ in range(self.length):
            cum = self._cumulative[self._context_index(codes[-self.order :])]  # (S,)
            s = min(int(np.searchsorted(cum, rng.random() * cum[-1], side="right")), self.n_states - 1)
            codes.append(1 + s)
            letters.append(chr(ord("a") + s))
        return Example(self.START, "".join(letters))

    def _longest(self) -> Example:
        return Example(self.START, "a" * self.length)

    def true_next_token_probs(self, prefix_ids: Sequence[int]) -> torch.Tensor:
        """(V,) the true distribution of the token after ``prefix_ids`` (which start with ``^``)."""
        table = self.true_next_token_table(torch.as_tensor(list(prefix_ids), dtype=torch.long)[None])
        return table[0, -1]

    def true_next_token_table(self, ids: torch.Tensor) -> torch.Tensor:
        """(B, T, V) float64: the true distribution of the token after ``ids[:, :t+1]``, for every t.

        ``ids`` must be ``^`` followed by states (an ``inputs`` row of
        :meth:`~handbook_utils.tasks.base.Task.batch` qualifies). After ``length`` states the only
        possible token is ``<eos>``.
        """
        if not isinstance(ids, torch.Tensor) or ids.dim() != 2 or ids.dtype != torch.long:
            raise TypeError("ids must be a (B, T) long tensor")
        B, T = ids.shape
        V, S, k = self.tokenizer.vocab_size, self.n_states, self.order
        start_id = self.tokenizer.stoi[self.START]
        ids = ids.cpu()
        if T < 1 or not bool((ids[:, 0] == start_id).all()):
            raise ValueError("ids must start with the start symbol '^' in every row")
        states = ids[:, 1:] - (start_id + 1)  # (B, T-1)
        if self.length + 1 < T or bool(((states < 0) | (states >= S)).any()):
            raise ValueError(f"ids must be '^' followed by at most {self.length} states")
        codes = torch.cat([torch.zeros(B, k, dtype=torch.long), states + 1], dim=1)  # (B, k + T - 1)
        context = torch.zeros(B, T, dtype=torch.long)
        for j in range(k):  # context of position t = codes[t .. t+k-1]
            context = context * (S + 1) + codes[:, j : j + T]
        probs = torch.zeros(B, T, V, dtype=torch.float64)
        probs[:, :, start_id + 1 :] = self.transition[context]  # (B, T, S)
        if self.length + 1 == T:  # after `length` states the chain is over
            probs[:, -1] = 0.0
            probs[:, -1, self.tokenizer.eos_id] = 1.0
        return probs
