"""The addition chain of seed 000: ``1+2+3=`` → ``<think>1+2+3=3+3=6</think>6``.

Every line of the chain depends on the one before it, so one early mistake ruins the answer
(exposure bias in its purest form), and every line can be checked. This module holds the task
*and* everything that reads its text: the answer after ``</think>``, the chain's lines, a label
for every target character (:meth:`AdditionChainTask.position_kinds`), and a line-by-line check
of a model's chain (:meth:`AdditionChainTask.check_chain`). Chapters 3, 4 and 6 and the
injection measurements of :mod:`handbook_utils.metrics` all parse answers through it.

``AdditionChainTask(n_terms=10, max_value=10).example(list(range(1, 11)))`` is the 142-character
target of the blog post the book starts from; random draws with ``n_terms=10`` average ≈134
characters at ``max_value=9``, ≈138 at ``max_value=10`` and ≈142 at ``max_value=11``.

:class:`CurriculumTask` (chapter 6) is the same task whose *training* chains start short and grow.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from .. import checks
from .base import EOS, SPLITS, Example, Task, Tokenizer

THINK, END_THINK = "<think>", "</think>"
GENERATION_SLACK = 16
"""Tokens a free-running answer may write past the gold target's length before it is cut off: enough
to see where a wrong answer goes, few enough to keep generation cheap."""

RETRACT = "=="
"""The correction marker, an empty chain line: ``…=4+3==3+3=…`` withdraws the line ``4+3`` and writes
``3+3`` in its place. Made of characters the task already has, so a model trained without corrections
shares the vocabulary of one trained with them (correction data, chapter 7)."""

_ANSWER = re.compile(r"</think>(\d+)$")
_LINE = re.compile(r"\d+(\+\d+)*")
KINDS = ("copy", "sum", "carry", "answer", "markup")
"""Labels of :meth:`AdditionChainTask.position_kinds`."""


@dataclass(frozen=True)
class ChainCheck:
    """A line-by-line verdict on one written chain (:meth:`AdditionChainTask.check_chain`).

    ``lines_valid[k]`` says whether line ``k`` is right *given the line before it*: line 0 must copy
    the question, each later line must be the one before with its first two numbers added. So a
    chain that slips and then reasons correctly from the slip has one invalid line, not all.

    A withdrawn line (followed by the :data:`RETRACT` marker) is not part of the chain: the lines are
    those the writer kept, and ``retractions`` / ``slips_retracted`` count what it withdrew. A slip
    that is noticed and corrected therefore leaves a valid chain.
    """

    well_formed: bool  # "<think>line=line=…</think>answer" with lines of "+"-separated numbers
    lines_valid: tuple[bool, ...]  # per written line (empty when not well formed)
    chain_valid: bool  # well formed, every line valid, and it ends on a single number
    answer_follows_chain: bool | None  # answer = the chain's last line (None: no answer, or no single-number last line)
    answer_correct: bool  # the number after </think> is the true sum
    retractions: int = 0  # correction markers (RETRACT): lines the writer withdrew
    slips_retracted: int = 0  # of those, lines that were invalid: slips the writer noticed

    @property
    def first_invalid_line(self) -> int | None:
        return next((k for k, ok in enumerate(self.lines_valid) if not ok), None)


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
    lo, hi = checks.integer("n_terms", lo, 2, 64), checks.integer("n_terms", hi, 2, 64)
    if lo > hi:
        raise ValueError(f"n_terms must have low <= high, got ({lo}, {hi})")
    return lo, hi


def _line_starts(body: str) -> list[int]:
    """Index in ``body`` where each ``=``-separated line starts."""
    return [0] + [i + 1 for i, ch in enumerate(body) if ch == "="]


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

    ``split``: ``"all"`` (every problem), or ``"train"`` / ``"test"``: a problem (its prompt) is held
    out when its SHA-256 :meth:`bucket` falls below ``test_share``, so the two splits never share a
    problem and a model trained on ``"train"`` is measured on problems it cannot have seen. Draws are
    rejected until they land in the split: each split keeps the task's distribution of lengths and
    terms, restricted to its problems.
    """

    n_terms: int | tuple[int, int] = (2, 5)
    max_value: int = 9
    split: str = "all"
    test_share: float = 0.25
    tokenizer: Tokenizer = field(init=False, repr=False, compare=False)

    ALPHABET = "0123456789+=</>hiknt"  # digits, operators and the letters of <think></think>
    KINDS = KINDS

    def __post_init__(self):
        object.__setattr__(self, "n_terms", _normalize_n_terms(self.n_terms))
        checks.integer("max_value", self.max_value, 1, 10**6)
        checks.one_of("split", self.split, SPLITS)
        checks.in_open_unit("test_share", self.test_share)
        object.__setattr__(self, "tokenizer", Tokenizer(self.ALPHABET))

    # ---------------------------------------------------------------- the held-out split

    @staticmethod
    def bucket(prompt: str) -> float:
        """A fixed number in [0, 1) per prompt (SHA-256), the same on every machine and Python."""
        return int.from_bytes(hashlib.sha256(prompt.encode()).digest()[:8], "big") / 2**64

    def held_out(self, example: Example) -> bool:
        """Whether ``example``'s problem belongs to the test split."""
        return self.bucket(example.prompt) < self.test_share

    def in_split(self, example: Example) -> bool:
        return self.split == "all" or self.held_out(example) == (self.split == "test")

    def other(self) -> AdditionChainTask:
        """The same task on the other split (``"train"`` ↔ ``"test"``)."""
        if self.split == "all":
            raise ValueError("split='all' has no other split; use split='train' or 'test'")
        return dataclasses.replace(self, split="test" if self.split == "train" else "train")

    def held_out_task(self) -> AdditionChainTask:
        """Where to measure a model trained on this task: the test split of a ``"train"`` task, else itself."""
        return self.other() if self.split == "train" else self

    def example(self, terms: Sequence[int]) -> Example:
        """The example for the question ``terms`` (two or more integers >= 0): prompt ``1+2+3=``, target
        the gold chain (:meth:`chain_text`)."""
        if isinstance(terms, (str, bytes)) or not isinstance(terms, Sequence):
            raise TypeError(f"terms must be a list of ints, got {type(terms).__name__}")
        if len(terms) < 2:
            raise ValueError(f"terms must hold at least 2 numbers, got {len(terms)}")
        for t in terms:
            checks.integer("terms", t, 0)
        terms = [int(t) for t in terms]
        return Example(prompt="+".join(map(str, terms)) + "=", target=self.chain_text(terms))

    @staticmethod
    def chain_text(terms: Sequence[int]) -> str:
        """The target for ``terms``: ``<think>`` + the chain's lines joined by ``=`` + ``</think>`` + sum."""
        lines = addition_chain(terms)
        steps = "=".join("+".join(map(str, line)) for line in lines)
        return f"{THINK}{steps}{END_THINK}{lines[-1][0]}"

    # ---------------------------------------------------------------- reading chains

    @staticmethod
    def terms_of(prompt: str) -> list[int]:
        """The question's numbers: ``"1+2+3=" -> [1, 2, 3]``."""
        if not isinstance(prompt, str) or not re.fullmatch(r"\d+(\+\d+)+=", prompt):
            raise ValueError(f"prompt is not an addition question like '1+2+3=': {prompt!r}")
        return [int(x) for x in prompt[:-1].split("+")]

    @classmethod
    def gold_lines(cls, prompt: str) -> list[list[int]]:
        """The correct chain for a question, line by line."""
        return addition_chain(cls.terms_of(prompt))

    @classmethod
    def gold_target(cls, prompt: str) -> str:
        """The correct answer text for a question (the target of :meth:`example`)."""
        return cls.chain_text(cls.terms_of(prompt))

    @staticmethod
    def answer_of(output: str) -> int | None:
        """The number after ``</think>`` at the end of ``output`` (None when there is none)."""
        m = _ANSWER.search(output)
        return int(m.group(1)) if m else None

    @staticmethod
    def chain_lines(output: str) -> list[list[int]] | None:
        """The lines between ``<think>`` and ``</think>`` as lists of numbers; None when malformed."""
        if not output.startswith(THINK) or END_THINK not in output:
            return None
        body = output[len(THINK) : output.index(END_THINK)]
        lines = body.split("=")
        if not all(_LINE.fullmatch(line) for line in lines):
            return None
        return [[int(x) for x in line.split("+")] for line in lines]

    @staticmethod
    def line_texts(output: str) -> list[str]:
        """The raw text of each chain line (no parsing, so a garbled line is still shown)."""
        return output[len(THINK) :].split(END_THINK)[0].split("=")

    @staticmethod
    def line_sum_at(output: str, index: int) -> int | None:
        """The sum of the chain line that holds ``output[index]``: the answer a model that trusts that
        line would reach (None when the line does not parse)."""
        think = output[len(THINK) :].split(END_THINK)[0]
        offset = index - len(THINK)
        start = think.rfind("=", 0, offset) + 1
        end = think.find("=", offset)
        line = think[start : end if end != -1 else len(think)]
        if not _LINE.fullmatch(line):
            return None
        return sum(int(x) for x in line.split("+"))

    @staticmethod
    def position_kinds(target: str) -> list[str]:
        """A label for every target character of a chain, and one for ``<eos>`` (see :data:`KINDS`).

        ``"copy"``: the first line, copied from the prompt; ``"sum"``: the first number of a later
        line, the result of an addition; ``"carry"``: the other numbers of a later line, copied from
        the line before; ``"answer"``: the number after ``</think>``; ``"markup"``: ``<think>``,
        ``</think>``, ``+``, ``=`` and ``<eos>``.
        """
        if not target.startswith(THINK) or END_THINK not in target:
            raise ValueError(f"target is not an addition chain: {target!r}")
        kinds = ["markup"] * len(THINK)
        body_end = target.index(END_THINK)
        body = target[len(THINK) : body_end]
        for line_no, line in enumerate(body.split("=")):
            for term_no, term in enumerate(line.split("+")):
                if term_no:
                    kinds.append("markup")  # the '+'
                kind = "copy" if line_no == 0 else ("sum" if term_no == 0 else "carry")
                kinds += [kind] * len(term)
            kinds.append("markup")  # the '=' (or, after the last line, the first char of </think>)
        kinds = kinds[:body_end] + ["markup"] * len(END_THINK)
        kinds += ["answer"] * (len(target) - len(kinds))
        return kinds + ["markup"]  # <eos>

    @classmethod
    def check_chain(cls, prompt: str, output: str) -> ChainCheck:
        """Check a written chain line by line against the question (see :class:`ChainCheck`).

        ``answer_follows_chain`` needs only the chain's *last* line to be a single number (the answer
        a model that trusts its notes would copy), so it is judged even when an earlier line is garbled.
        """
        terms = cls.terms_of(prompt)
        answer = cls.answer_of(output)
        correct = answer == sum(terms)
        texts = cls.line_texts(output) if output.startswith(THINK) and END_THINK in output else []
        follows = None
        if answer is not None and len(texts) >= 2 and texts[-1].isdigit():
            follows = int(texts[-1]) == answer
        if not texts or answer is None:
            return ChainCheck(False, (), False, follows, correct)
        kept, valid, retractions, noticed = [], [], 0, 0
        for text in texts:
            if text == "" and kept:  # the marker: withdraw the line before it
                retractions += 1
                noticed += not valid.pop()
                kept.pop()
                continue
            if not _LINE.fullmatch(text):
                return ChainCheck(False, (), False, follows, correct, retractions, noticed)
            line = [int(x) for x in text.split("+")]
            before = kept[-1] if kept else None
            valid.append(line == terms if before is None
                         else len(before) >= 2 and line == [before[0] + before[1], *before[2:]])
            kept.append(line)
        chain_valid = bool(kept) and all(valid) and len(kept[-1]) == 1
        return ChainCheck(True, tuple(valid), chain_valid, follows, correct, retractions, noticed)

    @staticmethod
    def kept_lines(texts: Sequence[str]) -> list[list[int]]:
        """The parsed lines a writer kept: withdrawn lines (before a :data:`RETRACT`) and lines that do
        not parse are dropped."""
        kept: list[list[int] | None] = []
        for text in texts:
            if text == "" and kept:
                kept.pop()
            elif text != "":
                kept.append([int(x) for x in text.split("+")] if _LINE.fullmatch(text) else None)
        return [line for line in kept if line is not None]

    # ---------------------------------------------------------------- slips and corrections

    @staticmethod
    def wrong_digit(text: str, index: int, rng: random.Random) -> str:
        """A digit other than ``text[index]`` (never a leading zero of a longer number): one slip."""
        leading = (index == 0 or not text[index - 1].isdigit()) and index + 1 < len(text) and text[index + 1].isdigit()
        digits = [d for d in "0123456789" if d != text[index] and not (leading and d == "0")]
        return rng.choice(digits)

    def with_correction(self, example: Example, rng: random.Random, max_length: int | None = None) -> Example:
        """``example`` with one planted slip and its correction, the way correction data is written.

        One digit of one chain line is replaced (:meth:`wrong_digit`), the line is finished as written,
        the :data:`RETRACT` marker follows, then the right line and the rest of the gold chain:
        ``<think>1+2+3=4+3==3+3=6</think>6``. The wrong digit is ``unscored`` (the model should learn
        to notice a slip and fix it, not to make one); everything after it is scored. ``max_length``
        caps ``len(prompt) + len(target)`` (a model's context): only slips whose correction fits are
        planted, and ``example`` is returned unchanged when none fits.
        """
        body_start, body_end = len(THINK), example.target.index(END_THINK)
        body = example.target[body_start:body_end]
        spots = []  # (digit index in body, end of its line in body)
        for start, text in zip(_line_starts(body), body.split("=")):
            extra = len(text) + len(RETRACT)  # the wrong line is kept, then the marker, then the right line
            if max_length is None or len(example.prompt) + len(example.target) + extra <= max_length:
                spots += [(start + i, start + len(text)) for i, ch in enumerate(text) if ch.isdigit()]
        if not spots:
            return example
        index, line_end = rng.choice(spots)
        wrong = body[:index] + self.wrong_digit(body, index, rng) + body[index + 1 : line_end]
        line_start = body.rfind("=", 0, index) + 1
        fixed = wrong + RETRACT + body[line_start:]
        target = THINK + fixed + example.target[body_end:]
        return Example(example.prompt, target, unscored=(body_start + index,))

    # ---------------------------------------------------------------- the expert (chapter 7)

    # ---------------------------------------------------------------- the expert (chapter 7)

    @classmethod
    def oracle_next(cls, prompt: str, written: str) -> str:
        """What an expert would write next after ``written`` (the answer so far, right or wrong): one
        character, or ``EOS`` when the answer is complete.

        On a gold prefix this is the gold next character. After a slip the expert does *not* pretend
        the slip away: it reasons validly from the model's own notes. The next line is the correct
        reduction of the last line written (a line that does not parse counts as not written, so the
        expert rewrites it properly), and the answer is the sum of the chain's last line. So "correct"
        after a slip means *consistent*: every line follows from the one before, and the answer
        follows the chain. Inside a line or a tag that has already gone wrong the expert keeps to its
        own text position by position (it cannot erase). Used by on-policy imitation (DAgger).
        """
        terms = cls.terms_of(prompt)
        if not isinstance(written, str):
            raise TypeError(f"written must be a str, got {type(written).__name__}")
        if len(written) < len(THINK):
            return THINK[len(written)]
        body = written[len(THINK):]
        if "<" in body:  # the closing tag has begun: finish it, then the answer the chain supports
            chain, tail = body[: body.index("<")], body[body.index("<"):]
            if len(tail) < len(END_THINK):
                return END_THINK[len(tail)]
            answer = str(sum(cls._last_kept_line(chain.split("="), terms)))
            answer_written = tail[len(END_THINK):]
            return answer[len(answer_written)] if len(answer_written) < len(answer) else EOS
        *complete, partial = body.split("=")
        if cls.kept_lines(complete):
            before = cls._last_kept_line(complete, terms)
            line = [before[0] + before[1], *before[2:]] if len(before) >= 2 else before
        else:
            line = terms  # the first line copies the question
        text = "+".join(map(str, line))
        if len(partial) < len(text):
            return text[len(partial)]
        return END_THINK[0] if len(line) == 1 else "="

    @classmethod
    def oracle_targets(cls, prompt: str, written: str) -> list[str]:
        """:meth:`oracle_next` after every prefix ``written[:i]``, ``i = 0 … len(written)``: the expert's
        target at every position a model reads its own answer (``len(written) + 1`` entries)."""
        return [cls.oracle_next(prompt, written[:i]) for i in range(len(written) + 1)]

    @classmethod
    def _last_kept_line(cls, lines: Sequence[str], terms: list[int]) -> list[int]:
        """The numbers of the last kept line of ``lines`` that parses (the question's terms if none does)."""
        kept = cls.kept_lines(lines)
        return kept[-1] if kept else list(terms)

    def generation_budget(self, target_length: int) -> int:
        """How many tokens to let a model write for a target of ``target_length`` characters:
        the target, its ``<eos>``, and :data:`GENERATION_SLACK` more."""
        return checks.non_negative_int("target_length", target_length) + 1 + GENERATION_SLACK

    def _draw(self, rng: random.Random) -> Example:
        lo, hi = self.n_terms
        while True:  # rejection into the split: about 1 / share draws per kept problem
            k = rng.randint(lo, hi)
            example = self.example([rng.randint(0, self.max_value) for _ in range(k)])
            if self.in_split(example):
                return example

    def _longest(self) -> Example:
        # every number is longest when every term is max_value
        return self.example([self.max_value] * self.n_terms[1])


@dataclass(frozen=True)
class CurriculumTask(AdditionChainTask):
    """Addition chains whose *training* data start short and grow: one stage per chain length.

    With ``n_terms=(lo, hi)`` the longest chain allowed at epoch ``e`` is
    ``lo + floor((hi − lo) · e / full_at_epoch)``, so training sees only ``lo``-term chains first,
    then ``lo`` to ``lo + 1`` terms, and so on; from ``full_at_epoch`` on it sees the whole task.
    Earlier lengths stay in the mix (each stage includes the previous ones), so nothing learnt
    early is dropped later.

    Only :meth:`sample_at` (which :func:`handbook_utils.training.train` calls while training)
    follows the curriculum. :meth:`~handbook_utils.tasks.base.Task.sample`, used for evaluation,
    draws from the full task, with the same examples as ``AdditionChainTask(n_terms, max_value)``:
    models trained with and without a curriculum are measured on the same questions. Used by
    chapter 6.
    """

    full_at_epoch: float = 60.0

    def __post_init__(self):
        super().__post_init__()
        checks.positive("full_at_epoch", self.full_at_epoch)

    @classmethod
    def wrap(cls, task: AdditionChainTask, full_at_epoch: float = 60.0) -> CurriculumTask:
        """The curriculum version of ``task`` (same chains, same evaluation set)."""
        checks.instance("task", task, AdditionChainTask)
        if isinstance(task, CurriculumTask):
            raise TypeError("task is already a CurriculumTask")
        return cls(n_terms=task.n_terms, max_value=task.max_value, split=task.split, test_share=task.test_share,
                   full_at_epoch=full_at_epoch)

    @property
    def base(self) -> AdditionChainTask:
        """The task without the curriculum."""
        return AdditionChainTask(n_terms=self.n_terms, max_value=self.max_value, split=self.split,
                                 test_share=self.test_share)

    def n_terms_at(self, epoch: float) -> tuple[int, int]:
        """``(shortest, longest)`` number of terms drawn at training time ``epoch``."""
        epoch = checks.non_negative("epoch", epoch)
        lo, hi = self.n_terms
        if epoch >= self.full_at_epoch:
            return lo, hi
        return lo, min(hi, lo + int((hi - lo) * epoch / self.full_at_epoch))

    def sample_at(self, n: int, seed: int, epoch: float) -> list[Example]:
        """``n`` training examples for time ``epoch``: chains of :meth:`n_terms_at` terms."""
        lo, hi = self.n_terms_at(epoch)
        if (lo, hi) == self.n_terms:
            return self.sample(n, seed)
        return dataclasses.replace(self.base, n_terms=(lo, hi)).sample(n, seed)
