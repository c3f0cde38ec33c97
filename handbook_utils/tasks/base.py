"""What every task shares: examples, the character tokenizer, the ONE teacher-forcing shift, and
the :class:`Task` interface.

Every task turns examples ``(prompt, target)`` into training tensors through
:func:`teacher_forcing_shift`, so the book has a single place that shows what teacher forcing is:
the model reads the gold sequence and, at every position, is asked for the next gold token.
Chapter 2 puts that function on the page; every chapter that trains calls it through
:meth:`Task.batch`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .. import checks

PAD = "<pad>"
EOS = "<eos>"
SPLITS = ("all", "train", "test")
"""A task's ``split``: every problem, or one side of a fixed held-out split (never shared)."""


# --------------------------------------------------------------------------------------------
# Examples and the tokenizer


@dataclass(frozen=True)
class Example:
    """One task instance: the model is given ``prompt`` and must write ``target``.

    ``unscored``: indices of target characters the loss skips (a planted slip in correction data is
    shown to the model but not taught).
    """

    prompt: str
    target: str
    unscored: tuple[int, ...] = ()

    def __post_init__(self):
        for j in self.unscored:
            checks.integer("unscored", j, 0, max(len(self.target) - 1, 0))


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
            i = checks.integer("ids", i)
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

    def to(self, device) -> Batch:
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
    checks.integer("pad_id", pad_id, 0)
    if dummy_id is not None:
        checks.integer("dummy_id", dummy_id, 0)
    for p, t in zip(prompts, targets):
        if len(p) < 1:
            raise ValueError("prompts must be non-empty: the first token has nothing to be predicted from")
        if len(t) < 1:
            raise ValueError("targets must be non-empty")
    B = len(prompts)
    T = max(len(p) + len(t) for p, t in zip(prompts, targets)) - 1
    inputs = torch.full((B, T), pad_id, dtype=torch.long)  # (B, T): what the model reads
    shifted = torch.full((B, T), pad_id, dtype=torch.long)  # (B, T): what it must predict there
    loss_mask = torch.zeros((B, T), dtype=torch.bool)  # (B, T): which predictions are scored
    for b, (p, t) in enumerate(zip(prompts, targets)):
        seq = torch.tensor(list(p) + list(t), dtype=torch.long)  # (L,): prompt + target + <eos>
        L, P = len(seq), len(p)
        inputs[b, : L - 1] = seq[:-1]  # every token but the last
        shifted[b, : L - 1] = seq[1:]  # every token but the first: the shift by one
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
        checks.integer("n", n, 1)
        checks.integer("seed", seed, 0)
        rng = random.Random(seed)
        return [self._draw(rng) for _ in range(n)]

    def held_out_task(self) -> Task:
        """Where to measure a model trained on this task: itself, unless the task keeps a held-out
        split (:class:`~handbook_utils.tasks.addition.AdditionChainTask` with ``split="train"``
        answers with its test split)."""
        return self

    def sample_at(self, n: int, seed: int, epoch: float) -> list[Example]:
        """Training examples at training time ``epoch``; the same as :meth:`sample` unless a
        curriculum (:class:`~handbook_utils.tasks.addition.CurriculumTask`) makes them depend on progress."""
        return self.sample(n, seed)

    def encode(self, example: Example) -> tuple[list[int], list[int]]:
        """Prompt ids and target ids (the target ends with ``<eos>`` so the model learns to stop)."""
        if not isinstance(example, Example):
            raise TypeError(f"examples must hold Example objects, got {type(example).__name__}")
        tok = self.tokenizer
        return tok.encode(example.prompt), tok.encode(example.target) + [tok.eos_id]

    def batch(self, examples: Sequence[Example], device=None) -> Batch:
        """The :class:`Batch` of ``examples``: :func:`teacher_forcing_shift` of their ids (target inputs
        hidden behind the dummy in a teacherless task), their ``unscored`` characters left out of the
        loss mask, on ``device`` if given."""
        if isinstance(examples, Example) or not isinstance(examples, Sequence):
            raise TypeError(f"examples must be a list of Example, got {type(examples).__name__}")
        if len(examples) == 0:
            raise ValueError("examples must hold at least one Example")
        prompts, targets = zip(*(self.encode(e) for e in examples))
        dummy_id = self.tokenizer.stoi[self.dummy] if self.teacherless else None
        batch = teacher_forcing_shift(prompts, targets, pad_id=self.tokenizer.pad_id, dummy_id=dummy_id)
        for b, example in enumerate(examples):
            for j in example.unscored:  # target character j is predicted at position len(prompt) - 1 + j
                batch.loss_mask[b, len(prompts[b]) - 1 + j] = False
        return batch.to(device) if device is not None else batch

    @property
    def max_len(self) -> int:
        """The longest ``inputs`` row this task can produce: use it as a model's ``block_size``."""
        e = self._longest()
        return len(e.prompt) + len(e.target)  # prompt + target + <eos>, minus the one shift
