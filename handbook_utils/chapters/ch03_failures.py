"""Anatomy of a failure: where a free-running answer first goes wrong, and what follows (chapter 3).

- :func:`first_error_index` finds the first wrong character; :func:`failed_generations_html` shows
  real failures (chosen by :func:`pick_failures`) with it highlighted (:func:`first_error_html`).
- :func:`first_error_kinds` says which kind of character the first error falls on
  (:meth:`handbook_utils.tasks.AdditionChainTask.position_kinds`).
- :func:`after_first_error` measures what happens next: does the model keep computing correctly
  from its own wrong line?

:func:`marked_answer_html` and :func:`answer_block_html` draw one answer against the correct one;
chapter 4 shows its planted errors with them too.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..plotting import COLORS, spoken_html
from ..tasks import KINDS, THINK, AdditionChainTask, Example

__all__ = [
    "first_error_index",
    "marked_answer_html",
    "answer_block_html",
    "first_error_html",
    "pick_failures",
    "failed_generations_html",
    "first_error_kinds",
    "AfterError",
    "after_first_error",
]


def first_error_index(target: str, output: str) -> int | None:
    """Index of the first character where ``output`` differs from ``target`` (``None`` if equal)."""
    for i, (a, b) in enumerate(zip(target, output)):
        if a != b:
            return i
    return None if len(target) == len(output) else min(len(target), len(output))


# ---------------------------------------------------------------------------------------------
# Showing an answer


def marked_answer_html(output: str, index: int | None, mark: str, what: str = "first wrong character") -> str:
    """``output`` in the teacher-forcing colour up to ``index``, the character at ``index`` in white
    on ``mark`` (``⏎`` when the answer stopped there), the rest in the free-running colour.
    ``index=None`` shows the whole answer in the teacher-forcing colour. Chapters 3 and 4.

    ``mark`` is a ``*_text`` colour of :data:`~handbook_utils.plotting.COLORS` (white on it is
    readable); the marked character is a ``<mark>`` and a screen reader hears ``what`` before it."""
    esc = html.escape
    tf, fr = COLORS["teacher_forcing_text"], COLORS["free_running_text"]
    if index is None:
        return f'<span style="color:{tf}">{esc(output)}</span>'
    char = output[index] if index < len(output) else "⏎"  # the answer stopped here
    said = f" ({what}: end of answer) " if char == "⏎" else f" ({what}:) "
    return (
        f'<span style="color:{tf}">{esc(output[:index])}</span>{spoken_html(said)}'
        f'<mark style="background:{mark};color:white;font-weight:bold;padding:0 1px">{esc(char)}</mark>'
        f'<span style="color:{fr}">{esc(output[index + 1:])}</span>'
    )


def answer_block_html(label: str, prompt: str, wrote: str, target: str, verdict: str) -> str:
    """Aligned monospace lines: ``label``, the prompt and ``wrote`` (HTML, e.g. from
    :func:`marked_answer_html`); the correct answer under it; then the verdict. Chapters 3 and 4.

    Long chains scroll sideways, so the block takes keyboard focus (``tabindex="0"``) and is a named
    group: a keyboard user can scroll it with the arrow keys."""
    esc = html.escape
    pad = esc(" " * len(prompt))
    grey = f'<span style="color:{COLORS["note"]}">'
    name = esc(f"{label} answer to {prompt.strip()}, with the correct one (scrolls sideways)", quote=True)
    return (
        f'<div tabindex="0" role="group" aria-label="{name}" '
        'style="font-family:monospace;font-size:0.78em;white-space:pre;overflow-x:auto;'
        'margin:0.4em 0 0.9em 0;line-height:1.5">'
        f"{grey}{esc(label):<7}</span> {esc(prompt)}{wrote}\n"
        f"{grey}correct</span> {pad}{grey}{esc(target)}</span>\n"
        f"{grey}        {pad}→ {esc(verdict)}</span>"
        "</div>"
    )


def first_error_html(prompt: str, target: str, output: str) -> str:
    """What the model wrote (first wrong character highlighted, the rest of its answer in the
    free-running colour), the correct answer, and a verdict on the final answer."""
    wrote = marked_answer_html(output, first_error_index(target, output), COLORS["free_running_text"])
    got, want = AdditionChainTask.answer_of(output), AdditionChainTask.answer_of(target)
    if got is None:
        verdict = "no final answer"
    elif got == want:
        verdict = f"final answer {got}: right despite the wrong step"
    else:
        verdict = f"final answer {got}: wrong (should be {want})"
    return answer_block_html("model", prompt, wrote, target, verdict)


def pick_failures(examples: Sequence[Example], outputs: Sequence[str], k: int = 3) -> list[tuple[Example, str]]:
    """Up to ``k`` failed generations worth showing, deterministically: the earliest first error
    whose final answer is wrong, the earliest whose final answer is still right, then the latest
    first errors."""
    failed = [(first_error_index(e.target, o), j, e, o)
              for j, (e, o) in enumerate(zip(examples, outputs)) if o != e.target]
    failed.sort(key=lambda t: (t[0], t[1]))
    right = [AdditionChainTask.answer_of(o) == AdditionChainTask.answer_of(e.target) for _, _, e, o in failed]
    picks: list[tuple[int, int, Example, str]] = []
    for group in ([f for f, r in zip(failed, right) if not r], [f for f, r in zip(failed, right) if r]):
        if group and len(picks) < k:
            picks.append(group[0])
    for f in reversed(failed):
        if len(picks) >= k:
            break
        if all(f[1] != p[1] for p in picks):
            picks.append(f)
    picks.sort(key=lambda t: (t[0], t[1]))
    return [(e, o) for _, _, e, o in picks]


def failed_generations_html(examples: Sequence[Example], outputs: Sequence[str], k: int = 3) -> str:
    """HTML for the failures chosen by :func:`pick_failures`."""
    picks = pick_failures(examples, outputs, k)
    if not picks:
        return "<p>No failed generations.</p>"
    return "".join(first_error_html(e.prompt, e.target, o) for e, o in picks)


# ---------------------------------------------------------------------------------------------
# Where the first error falls, and what follows it


def first_error_kinds(examples: Sequence[Example], outputs: Sequence[str]) -> dict[str, float]:
    """Where free-running answers first go wrong: ``kind -> share of the failed answers``."""
    counts = {k: 0 for k in KINDS}
    n = 0
    for e, o in zip(examples, outputs):
        i = first_error_index(e.target, o)
        if i is None:
            continue
        n += 1
        counts[AdditionChainTask.position_kinds(e.target)[min(i, len(e.target))]] += 1
    return {k: c / n if n else float("nan") for k, c in counts.items()}


@dataclass
class AfterError:
    """What free-running generations do after their first mistake."""

    n_failed: int
    later_wrong: float  # mean fraction of the characters after the first error that differ from the target
    later_sums_wrong: float  # the same, over the digits of later sums only (the characters that depend on it)
    answer_wrong: float  # fraction of failed generations whose final answer is wrong
    well_formed: float  # fraction that still parse as a chain "<think>a+b=...</think>n"
    consistent_after_error: float  # of the well-formed: every step after the first error is valid arithmetic
    answer_follows_own_chain: float  # of the well-formed: the answer equals the model's own last line


def _share_wrong(output: str, target: str, indices: Sequence[int]) -> float:
    """Fraction of ``indices`` where ``output`` differs from ``target`` (a missing character is wrong)."""
    return float(np.mean([j >= len(output) or output[j] != target[j] for j in indices]))


def after_first_error(examples: Sequence[Example], outputs: Sequence[str]) -> AfterError:
    """Measure, on the failed generations, how the rest of the answer goes after the first error.

    ``consistent_after_error`` asks whether the model keeps computing correctly *from its own wrong
    line*: each later line is the previous one with its first two numbers added
    (:attr:`handbook_utils.tasks.ChainCheck.lines_valid`). That is the signature of a model that
    takes its own output as given.
    """
    later, later_sums, wrong_answer, formed, consistent, follows = [], [], [], 0, 0, 0
    for e, o in zip(examples, outputs):
        if o == e.target:
            continue
        i = first_error_index(e.target, o)
        rest = range(i + 1, len(e.target))
        if len(rest):
            later.append(_share_wrong(o, e.target, rest))
        kinds = AdditionChainTask.position_kinds(e.target)
        sums = [j for j in rest if kinds[j] == "sum"]
        if sums:
            later_sums.append(_share_wrong(o, e.target, sums))
        check = AdditionChainTask.check_chain(e.prompt, o)
        wrong_answer.append(not check.answer_correct)
        if not check.well_formed:
            continue
        formed += 1
        follows += bool(check.answer_follows_chain)  # None (no result line) counts as not following
        err_line = max(0, o[len(THINK) : i].count("="))  # the line holding the first error
        consistent += all(check.lines_valid[err_line + 1 :])  # every later line follows from the one before
    n_failed = len(wrong_answer)
    if n_failed == 0:
        return AfterError(0, *[float("nan")] * 6)
    return AfterError(
        n_failed=n_failed,
        later_wrong=float(np.mean(later)) if later else float("nan"),
        later_sums_wrong=float(np.mean(later_sums)) if later_sums else float("nan"),
        answer_wrong=float(np.mean(wrong_answer)),
        well_formed=formed / n_failed,
        consistent_after_error=consistent / formed if formed else float("nan"),
        answer_follows_own_chain=follows / formed if formed else float("nan"),
    )
