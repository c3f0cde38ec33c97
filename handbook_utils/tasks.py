"""Toy sequence tasks small enough to train live, each with a known right answer.

Every task turns examples ``(prompt, target)`` into training tensors through ONE helper,
:func:`teacher_forcing_shift`, so the book has a single place that shows what teacher forcing is:
the model reads the gold sequence and, at every position, is asked for the next gold token.

Three tasks, three questions:

- :class:`AdditionChainTask`: a reasoning chain ``1+2+3=<think>1+2+3=3+3=6</think>6`` where every
  step depends on the previous one, so one early mistake ruins the answer (exposure bias in its
  purest form). ``AdditionChainTask(n_terms=10, max_value=10).example(list(range(1, 11)))`` is the
  142-character target of the blog post the book starts from; random draws with ``n_terms=10`` average
  ≈134 characters at ``max_value=9``, ≈138 at ``max_value=10`` and ≈142 at ``max_value=11``.
- :class:`PathStarTask`: Bachmann & Nagarajan's path-star graph, where teacher forcing learns a
  "Clever Hans" shortcut and never learns the first step.
- :class:`MarkovTask`: text from a known Markov chain, so a model's KL to the true next-token
  distribution can be computed exactly at every position.

All tasks are character level: one token per character, plus ``<pad>`` and ``<eos>``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

PAD = "<pad>"
EOS = "<eos>"


def _check_int(name: str, value, lo: int | None = None, hi: int | None = None) -> int:
    """Raise a TypeError/ValueError naming ``name`` unless ``value`` is an int in [lo, hi]."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    value = int(value)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        bounds = f"[{lo if lo is not None else '-inf'}, {hi if hi is not None else 'inf'}]"
        raise ValueError(f"{name} must be in {bounds}, got {value}")
    return value


# --------------------------------------------------------------------------------------------
# Examples and the tokenizer


@dataclass(frozen=True)
class Example:
    """One task instance: the model is given ``prompt`` and must write ``target``."""

    prompt: str
    target: str


class Tokenizer:
    """Character-level tokenizer: id 0 is ``<pad>``, id 1 is ``<eos>``, then one id per character.

    Characters keep the book honest: a "token" is exactly one visible symbol, so the 142-token chain
    of the blog post is 142 characters and a reader can count them.
    """

    pad_id = 0
    eos_id = 1

    def __init__(self, alphabet: str):
        if not isinstance(alphabet, str):
            raise TypeError(f"alphabet must be a str, got {type(alphabet).__name__}")
        if not alphabet:
            raise ValueError("alphabet must contain at least one character")
        if len(set(alphabet)) != len(alphabet):
            raise ValueError(f"alphabet must not repeat characters, got {alphabet!r}")
        self.alphabet = alphabet
        self.itos = [PAD, EOS, *alphabet]
        self.stoi = {ch: i for i, ch in enumerate(alphabet, start=2)}

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> list[int]:
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        try:
            return [self.stoi[ch] for ch in text]
        except KeyError as err:
            raise ValueError(
                f"text contains the character {err.args[0]!r}, which is not in the alphabet "
                f"{self.alphabet!r}"
            ) from None

    def decode(self, ids) -> str:
        """Characters of ``ids`` up to the first ``<eos>``; ``<pad>`` is skipped."""
        if isinstance(ids, torch.Tensor):
            if ids.dim() != 1:
                raise ValueError(f"ids must be 1-D, got shape {tuple(ids.shape)}")
            ids = ids.tolist()
        out = []
        for i in ids:
            if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
                raise TypeError(f"ids must hold ints, got {type(i).__name__}")
            if not 0 <= i < self.vocab_size:
                raise ValueError(f"ids holds {i}, outside the vocabulary [0, {self.vocab_size})")
            if i == self.eos_id:
                break
            if i != self.pad_id:
                out.append(self.itos[i])
        return "".join(out)

    def __repr__(self) -> str:
        return f"Tokenizer({self.alphabet!r})"


# --------------------------------------------------------------------------------------------
# The one teacher-forcing shift


@dataclass
class Batch:
    """Padded training tensors for a list of examples. Position i of ``inputs`` predicts ``targets[i]``."""

    inputs: torch.Tensor  # (B, T) long: prompt + target without its last token, then padding
    targets: torch.Tensor  # (B, T) long: the same sequence shifted left by one
    loss_mask: torch.Tensor  # (B, T) bool: True where targets[i] is a target token (or <eos>)
    prompt_lens: torch.Tensor  # (B,) long: number of prompt tokens of each example

    @property
    def target_lens(self) -> torch.Tensor:
        """(B,) number of scored tokens per example: target characters + <eos>."""
        return self.loss_mask.sum(dim=1)

    def to(self, device) -> "Batch":
        return Batch(*(t.to(device) for t in (self.inputs, self.targets, self.loss_mask, self.prompt_lens)))


def teacher_forcing_shift(
    prompts: Sequence[Sequence[int]],
    targets: Sequence[Sequence[int]],
    *,
    pad_id: int,
    dummy_id: int | None = None,
    device=None,
) -> Batch:
    """Build ``inputs``, ``targets`` and ``loss_mask`` from token ids: THE teacher-forcing step.

    The full sequence is ``s = prompt + target`` (``target`` already ends with ``<eos>``). The model
    reads ``s[:-1]`` and is scored on ``s[1:]``: at every position it sees the *gold* prefix, never
    its own output. That is all teacher forcing is, and why one parallel pass trains every position.
    Only target tokens are scored; the prompt is given, not learned.

    ``dummy_id`` gives the "teacherless" variant of Bachmann & Nagarajan: target tokens in the
    *input* are replaced by a dummy, so the model must produce the whole answer from the prompt alone.
    """
    if len(prompts) != len(targets):
        raise ValueError(f"prompts and targets must have the same length, got {len(prompts)} and {len(targets)}")
    if len(prompts) == 0:
        raise ValueError("prompts must hold at least one example")
    _check_int("pad_id", pad_id, 0)
    if dummy_id is not None:
        _check_int("dummy_id", dummy_id, 0)
    for p, t in zip(prompts, targets):
        if len(p) < 1:
            raise ValueError("prompts must be non-empty: the first token has nothing to be predicted from")
        if len(t) < 1:
            raise ValueError("targets must be non-empty")
    B = len(prompts)
    T = max(len(p) + len(t) for p, t in zip(prompts, targets)) - 1
    inputs = torch.full((B, T), pad_id, dtype=torch.long)
    shifted = torch.full((B, T), pad_id, dtype=torch.long)
    loss_mask = torch.zeros((B, T), dtype=torch.bool)
    for b, (p, t) in enumerate(zip(prompts, targets)):
        seq = torch.tensor(list(p) + list(t), dtype=torch.long)  # (L,)
        L, P = len(seq), len(p)
        inputs[b, : L - 1] = seq[:-1]
        shifted[b, : L - 1] = seq[1:]
        loss_mask[b, P - 1 : L - 1] = True  # positions whose next token is a target token
        if dummy_id is not None:
            inputs[b, P : L - 1] = dummy_id  # target tokens never reach the input
    prompt_lens = torch.tensor([len(p) for p in prompts], dtype=torch.long)
    batch = Batch(inputs, shifted, loss_mask, prompt_lens)
    return batch.to(device) if device is not None else batch


# --------------------------------------------------------------------------------------------
# Tasks


class Task:
    """What every task offers: ``tokenizer``, ``sample(n, seed)``, ``batch(examples)`` and ``max_len``.

    Subclasses implement ``_draw(rng)`` (one random :class:`Example`) and ``_longest()`` (an example
    of maximal length, used to size a model's context). A task whose data should change with training
    progress (a curriculum) may also define ``sample_at(n, seed, epoch)``; ``training.train`` prefers it.
    """

    tokenizer: Tokenizer
    teacherless: bool = False
    dummy: str | None = None

    def _draw(self, rng: random.Random) -> Example:  # pragma: no cover - abstract
        raise NotImplementedError

    def _longest(self) -> Example:  # pragma: no cover - abstract
        raise NotImplementedError

    def sample(self, n: int, seed: int) -> list[Example]:
        """``n`` fresh examples; the same ``seed`` always gives the same examples."""
        _check_int("n", n, 1)
        _check_int("seed", seed, 0)
        rng = random.Random(seed)
        return [self._draw(rng) for _ in range(n)]

    def encode(self, example: Example) -> tuple[list[int], list[int]]:
        """Prompt ids and target ids (the target ends with ``<eos>`` so the model learns to stop)."""
        if not isinstance(example, Example):
            raise TypeError(f"examples must hold Example objects, got {type(example).__name__}")
        tok = self.tokenizer
        return tok.encode(example.prompt), tok.encode(example.target) + [tok.eos_id]

    def batch(self, examples: Sequence[Example], device=None) -> Batch:
        if isinstance(examples, Example) or not isinstance(examples, Sequence):
            raise TypeError(f"examples must be a list of Example, got {type(examples).__name__}")
        if len(examples) == 0:
            raise ValueError("examples must hold at least one Example")
        prompts, targets = zip(*(self.encode(e) for e in examples))
        dummy_id = self.tokenizer.stoi[self.dummy] if self.teacherless else None
        return teacher_forcing_shift(prompts, targets, pad_id=self.tokenizer.pad_id, dummy_id=dummy_id, device=device)

    @property
    def max_len(self) -> int:
        """The longest ``inputs`` row this task can produce: use it as a model's ``block_size``."""
        e = self._longest()
        return len(e.prompt) + len(e.target)  # prompt + target + <eos>, minus the one shift


def _normalize_n_terms(n_terms) -> tuple[int, int]:
    if isinstance(n_terms, range):
        if n_terms.step != 1 or len(n_terms) == 0:
            raise ValueError(f"n_terms as a range must be non-empty with step 1, got {n_terms}")
        lo, hi = n_terms.start, n_terms.stop - 1
    elif isinstance(n_terms, (tuple, list)):
        if len(n_terms) != 2:
            raise ValueError(f"n_terms as a pair must be (low, high), got {n_terms!r}")
        lo, hi = n_terms
    else:
        lo = hi = n_terms
    lo, hi = _check_int("n_terms", lo, 2, 64), _check_int("n_terms", hi, 2, 64)
    if lo > hi:
        raise ValueError(f"n_terms must have low <= high, got ({lo}, {hi})")
    return lo, hi


def addition_chain(terms: Sequence[int]) -> list[list[int]]:
    """The reasoning chain: repeatedly replace the first two terms by their sum.

    ``[1, 2, 3] -> [[1, 2, 3], [3, 3], [6]]``. Each line depends on the one before it, which is what
    makes one wrong digit fatal and recovery checkable.
    """
    lines = [list(terms)]
    while len(lines[-1]) > 1:
        a, b, *rest = lines[-1]
        lines.append([a + b, *rest])
    return lines


@dataclass(frozen=True)
class AdditionChainTask(Task):
    """``1+2+3=`` → ``<think>1+2+3=3+3=6</think>6`` (seed 000 of the book).

    ``n_terms`` is an int or an inclusive range ``(low, high)`` (a Python ``range`` works too);
    terms are drawn uniformly from ``[0, max_value]``.
    """

    n_terms: int | tuple[int, int] = (2, 5)
    max_value: int = 9
    tokenizer: Tokenizer = field(init=False, repr=False, compare=False)

    ALPHABET = "0123456789+=</>hiknt"  # digits, operators and the letters of <think></think>

    def __post_init__(self):
        object.__setattr__(self, "n_terms", _normalize_n_terms(self.n_terms))
        _check_int("max_value", self.max_value, 1, 10**6)
        object.__setattr__(self, "tokenizer", Tokenizer(self.ALPHABET))

    def example(self, terms: Sequence[int]) -> Example:
        if isinstance(terms, (str, bytes)) or not isinstance(terms, Sequence):
            raise TypeError(f"terms must be a list of ints, got {type(terms).__name__}")
        if len(terms) < 2:
            raise ValueError(f"terms must hold at least 2 numbers, got {len(terms)}")
        for t in terms:
            _check_int("terms", t, 0)
        lines = addition_chain([int(t) for t in terms])
        steps = "=".join("+".join(map(str, line)) for line in lines)
        answer = lines[-1][0]
        return Example(prompt="+".join(map(str, terms)) + "=", target=f"<think>{steps}</think>{answer}")

    def _draw(self, rng: random.Random) -> Example:
        lo, hi = self.n_terms
        k = rng.randint(lo, hi)
        return self.example([rng.randint(0, self.max_value) for _ in range(k)])

    def _longest(self) -> Example:
        # every number is longest when every term is max_value
        return self.example([self.max_value] * self.n_terms[1])


NODE_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class PathStarTask(Task):
    """Bachmann & Nagarajan (2024): find the arm of a star graph that leads from ``s`` to ``g``.

    A start node has ``degree`` arms of ``path_length`` nodes each (counting the start); node labels
    are distinct, drawn from ``n_nodes`` values (one character each), and the edge list is shuffled.
    Prompt ``u,v|u,v|…/s,g=``, target the path ``s,n1,…,g``. ``reverse=True`` writes the path from
    ``g`` back to ``s`` (which makes it easy); ``teacherless=True`` hides the target from the input
    behind the dummy ``$`` so the model must plan the whole path from the prompt.
    """

    degree: int = 2
    path_length: int = 5
    n_nodes: int = 50
    reverse: bool = False
    teacherless: bool = False
    tokenizer: Tokenizer = field(init=False, repr=False, compare=False)

    dummy = "$"

    def __post_init__(self):
        _check_int("degree", self.degree, 1, len(NODE_CHARS))
        _check_int("path_length", self.path_length, 2, len(NODE_CHARS))
        _check_int("n_nodes", self.n_nodes, 2, len(NODE_CHARS))
        for name in ("reverse", "teacherless"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool, got {type(getattr(self, name)).__name__}")
        needed = 1 + self.degree * (self.path_length - 1)
        if needed > self.n_nodes:
            raise ValueError(
                f"n_nodes must be >= 1 + degree*(path_length-1) = {needed} to label every node, got {self.n_nodes}"
            )
        object.__setattr__(self, "tokenizer", Tokenizer(NODE_CHARS[: self.n_nodes] + ",|/=$"))

    def _draw(self, rng: random.Random) -> Example:
        d, l = self.degree, self.path_length
        labels = [NODE_CHARS[i] for i in rng.sample(range(self.n_nodes), 1 + d * (l - 1))]
        start, rest = labels[0], labels[1:]
        arms = [[start, *rest[a * (l - 1) : (a + 1) * (l - 1)]] for a in range(d)]  # d lists of l nodes
        edges = [(arm[i], arm[i + 1]) for arm in arms for i in range(l - 1)]
        rng.shuffle(edges)
        path = arms[rng.randrange(d)]
        goal = path[-1]
        prompt = "|".join(f"{u},{v}" for u, v in edges) + f"/{start},{goal}="
        target = ",".join(reversed(path) if self.reverse else path)
        return Example(prompt, target)

    def _longest(self) -> Example:
        return self._draw(random.Random(0))  # every example has the same length


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
        _check_int("n_states", self.n_states, 2, 26)
        _check_int("order", self.order, 1, 3)
        _check_int("length", self.length, 1, 10_000)
        _check_int("seed", self.seed, 0, 2**32 - 1)
        c = self.concentration
        if isinstance(c, bool) or not isinstance(c, (int, float)) or not np.isfinite(c) or c <= 0:
            raise ValueError(f"concentration must be a finite number > 0, got {c!r}")
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

        ``ids`` must be ``^`` followed by states (an ``inputs`` row of :meth:`batch` qualifies). After
        ``length`` states the only possible token is ``<eos>``.
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
        if T > self.length + 1 or bool(((states < 0) | (states >= S)).any()):
            raise ValueError(f"ids must be '^' followed by at most {self.length} states")
        codes = torch.cat([torch.zeros(B, k, dtype=torch.long), states + 1], dim=1)  # (B, k + T - 1)
        context = torch.zeros(B, T, dtype=torch.long)
        for j in range(k):  # context of position t = codes[t .. t+k-1]
            context = context * (S + 1) + codes[:, j : j + T]
        probs = torch.zeros(B, T, V, dtype=torch.float64)
        probs[:, :, start_id + 1 :] = self.transition[context]  # (B, T, S)
        if T == self.length + 1:  # after `length` states the chain is over
            probs[:, -1] = 0.0
            probs[:, -1, self.tokenizer.eos_id] = 1.0
        return probs
