"""Chapter 10, *What to do about it*: the book's measurements read back, and the decision they support.

- :func:`glued_values` reads the numbers a chapter glued (myst-nb's ``glue``) from its executed
  reference notebook, ``chapters/NN_*.ipynb`` (:func:`chapter_notebook` finds it). Those notebooks
  are what nbval re-executes and compares, so the closing chapter quotes the book's checked numbers
  instead of typing them again. A name that is not glued fails with the notebook's name and the
  nearest names that are (:class:`GluedValues`).
- :func:`interval_text` and :func:`sd_text` write a number with its spread over seeds;
  :func:`mean_range`, :func:`difference_text`, :func:`verdicts_text` and :func:`on_tasks` write
  several arms' means and paired verdicts in a sentence.
- :func:`plot_what_to_try` draws the closing decision flowchart with chapter 6's drawer
  (:func:`handbook_utils.flowcharts.draw_flowchart`), and :func:`describe_what_to_try` says it in
  words: :data:`FLOW_NODES` and :data:`FLOW_EDGES` are its boxes and arrows, :data:`FLOW_TEXT` its
  words, with slots for the measured numbers.

Pure reading and drawing: nothing here trains, and chapters 7 to 9 are read from ``results/``
through their own chapter modules (chapters 6 to 9) or from their executed notebooks (chapters 1 to 6).
"""

from __future__ import annotations

import ast
import difflib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .. import checks
from ..cache import PACKAGE_ROOT
from ..flowcharts import describe_flowchart, draw_flowchart
from ..glue import glue_records
from ..results import Comparison, SeedInterval

CHAPTERS_DIR = PACKAGE_ROOT.parent / "chapters"
"""Where the chapters and their executed reference notebooks live (``NN_name.md`` and ``NN_name.ipynb``)."""

# --------------------------------------------------------------------------------------------
# Glued values of an executed notebook


class GluedValues(Mapping):
    """The values one notebook glued, by name (read-only). A missing name raises a KeyError that names
    the notebook and the closest glued names, instead of a bare ``KeyError: 'name'``."""

    def __init__(self, source: Path, values: Mapping[str, object]):
        self.source = Path(source)
        self._values = dict(values)

    def __getitem__(self, name: str) -> object:
        try:
            return self._values[name]
        except KeyError:
            close = difflib.get_close_matches(str(name), list(self._values), n=3)
            hint = f"; close names: {', '.join(close)}" if close else ""
            raise KeyError(f"{name!r} is not glued in {self.source.name}{hint}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"GluedValues({self.source.name}: {len(self)} names)"


def _plain_value(text: str) -> object:
    """A glued ``text/plain`` as a Python value, the way ``{glue:text}`` reads it (``ast.literal_eval``,
    so ``"0.25"`` is a float and ``"'a phrase'"`` a str); text that is no literal stays text."""
    try:
        return ast.literal_eval(text)
    except (SyntaxError, ValueError):
        return text


def glued_values(notebook_path: str | os.PathLike) -> GluedValues:
    """Every value glued in an executed notebook: ``{name: value}``.

    Each glued ``text/plain`` (:func:`handbook_utils.glue.glue_records`) is read back as
    :func:`ast.literal_eval` reads it. A name glued twice must carry the same value both
    times (otherwise the page would show one number and check another).
    """
    if not isinstance(notebook_path, (str, os.PathLike)):
        raise TypeError(f"notebook_path must be a path to an .ipynb file, got {type(notebook_path).__name__}")
    path = Path(notebook_path)
    if path.suffix != ".ipynb":
        raise ValueError(f"notebook_path must name an executed .ipynb notebook, got {str(path)!r}")
    if not path.is_file():
        raise FileNotFoundError(f"notebook_path {str(path)!r} does not exist (execute the chapter to write it)")
    try:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"notebook_path {str(path)!r} is not a Jupyter notebook ({err})") from None
    values: dict[str, object] = {}
    for name, text in glue_records({"cells": cells}):
        value = _plain_value(text)
        if name in values and values[name] != value:
            raise ValueError(f"{path.name} glues {name!r} twice, as {values[name]!r} and {value!r}")
        values[name] = value
    return GluedValues(path, values)


def chapter_notebook(number: int, chapters_dir: str | os.PathLike | None = None) -> Path:
    """The executed reference notebook of chapter ``number``: the one ``NN_*.ipynb`` in ``chapters_dir``
    (default :data:`CHAPTERS_DIR`, found from the package, so it works from any working directory)."""
    number = checks.integer("number", number, 0, 99)
    folder = Path(chapters_dir) if chapters_dir is not None else CHAPTERS_DIR
    found = sorted(folder.glob(f"{number:02d}_*.ipynb"))
    if len(found) != 1:
        raise FileNotFoundError(f"chapter {number} should have exactly one {number:02d}_*.ipynb in {folder}, "
                                f"found {[p.name for p in found]}")
    return found[0]


# --------------------------------------------------------------------------------------------
# A number and its spread, in words


def interval_text(iv: SeedInterval, digits: int = 2) -> str:
    """``"0.44 [0.41, 0.48]"``: the mean over seeds and its 95% interval."""
    checks.instance("iv", iv, SeedInterval)
    digits = checks.integer("digits", digits, 0, 6)
    return f"{iv.mean:.{digits}f} [{iv.low:.{digits}f}, {iv.high:.{digits}f}]"


def sd_text(mean: float, sd: float, digits: int = 2) -> str:
    """``"0.40 ± 0.08"``: a mean over seeds and one standard deviation (chapter 6's convention)."""
    mean, sd = checks.real_number("mean", mean), checks.non_negative("sd", sd)
    digits = checks.integer("digits", digits, 0, 6)
    return f"{mean:.{digits}f} ± {sd:.{digits}f}"


VERDICT_WORDS = ("better", "worse", "within noise")
"""The words of a paired verdict (:class:`~handbook_utils.results.Comparison`), in the order sentences list them."""

_ALL = {2: "both", 3: "all three", 4: "all four", 5: "all five", 6: "all six", 7: "all seven", 8: "all eight",
        9: "all nine"}


def _listing(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def mean_range(intervals: Sequence[SeedInterval], digits: int = 2) -> str:
    """``"0.37 to 0.44"``: the lowest and the highest mean of several arms (one number when both print
    alike)."""
    intervals = list(intervals)
    if not intervals:
        raise ValueError("intervals must hold at least one SeedInterval")
    for i, iv in enumerate(intervals):
        checks.instance(f"intervals[{i}]", iv, SeedInterval)
    digits = checks.integer("digits", digits, 0, 6)
    lo, hi = (f"{f(iv.mean for iv in intervals):.{digits}f}" for f in (min, max))
    return lo if lo == hi else f"{lo} to {hi}"


def difference_text(c: Comparison, digits: int = 2) -> str:
    """``"+0.30 [+0.18, +0.42], better"``: a paired difference, its 95% interval and its verdict word."""
    checks.instance("c", c, Comparison)
    digits = checks.integer("digits", digits, 0, 6)
    return f"{c.delta:+.{digits}f} [{c.low:+.{digits}f}, {c.high:+.{digits}f}], {c.word}"


def verdicts_text(comparisons: Mapping[str, Comparison]) -> str:
    """Several arms' verdicts against one reference, grouped by word (better, worse, within noise):
    ``"better: SS linear; within noise: SS exponential and SS inverse sigmoid"``, or ``"all three within
    noise"`` when every arm has the same word (``"within noise"`` alone for one arm)."""
    checks.instance("comparisons", comparisons, Mapping, "mapping of arm names to Comparison")
    if not comparisons:
        raise ValueError("comparisons must hold at least one arm")
    groups: dict[str, list[str]] = {word: [] for word in VERDICT_WORDS}
    for arm, c in comparisons.items():
        checks.instance(f"comparisons[{arm!r}]", c, Comparison)
        groups[checks.one_of("word", c.word, VERDICT_WORDS)].append(arm)
    used = {word: arms for word, arms in groups.items() if arms}
    if len(used) == 1:
        word = next(iter(used))
        return word if len(comparisons) == 1 else f"{_ALL.get(len(comparisons), f'all {len(comparisons)}')} {word}"
    return "; ".join(f"{word}: {_listing(arms)}" for word, arms in used.items())


def on_tasks(words: Mapping[str, str]) -> str:
    """One verdict word per task in a sentence: ``"worse on both tasks"`` when they agree, otherwise
    ``"within noise on the short chains, worse on the long chains"``."""
    checks.instance("words", words, Mapping, "mapping of task names to verdict words")
    if not words:
        raise ValueError("words must hold at least one task")
    for word in words.values():
        checks.one_of("word", word, VERDICT_WORDS)
    distinct = set(words.values())
    if len(words) > 1 and len(distinct) == 1:
        return f"{distinct.pop()} on {_ALL.get(len(words), f'all {len(words)}')} tasks"
    return ", ".join(f"{word} on the {task}" for task, word in words.items())


# --------------------------------------------------------------------------------------------
# The closing decision flowchart

FLOW_NODES: dict[str, tuple[float, float, str]] = {
    # key: (x, y, kind), the box centre in axes units
    "start": (0.5, 0.965, "start"),
    "measure": (0.5, 0.87, "action"),
    "gold": (0.5, 0.755, "question"),
    "objective": (0.17, 0.755, "stop"),
    "answers": (0.5, 0.625, "question"),
    "own": (0.83, 0.625, "stop"),
    "more": (0.5, 0.495, "action"),
    "slips": (0.5, 0.36, "question"),
    "enough": (0.17, 0.36, "stop"),
    "ss": (0.5, 0.215, "action"),
    "check": (0.5, 0.065, "question"),
    "keep": (0.17, 0.065, "stop"),
    "correct": (0.83, 0.065, "stop"),
}
"""The boxes of the closing flowchart: three columns, the main path down the middle."""

FLOW_EDGES: list[tuple[str, str, str]] = [
    ("start", "measure", ""),
    ("measure", "gold", ""),
    ("gold", "objective", "yes"),
    ("gold", "answers", "no"),
    ("answers", "own", "no"),
    ("answers", "more", "yes"),
    ("more", "slips", ""),
    ("slips", "enough", "no"),
    ("slips", "ss", "yes"),
    ("ss", "check", ""),
    ("check", "keep", "yes"),
    ("check", "correct", "no"),
]
"""The arrows, in the order the text alternative reads them."""

FLOW_TEXT: dict[str, str] = {
    "start": "Train with teacher forcing",
    "measure": ("Measure what the loss hides:\nexact match (against pᵀ: how far\nerrors are independent) [3];\n"
                "right answers after a planted slip [4b]"),
    "gold": "Wrong even with the\ngold prefix in view? [9a]",
    "objective": ("Change what is asked:\nreversed target {rev_exact:.2f}\nagainst {tf_path_exact:.2f} [9b];\n"
                  "multi-token heads no better,\nteacherless {tl_exact:.2f} [9c]"),
    "answers": "A gold answer for\nevery question?",
    "own": ("Only a checker or a teacher\nmodel: RL or on-policy\ndistillation, at a rate where\n"
            "they do not break down [7b, 7c]"),
    "more": ("More teacher forcing first:\nno arm of chapter 7 beat it;\nexact match {tf_more:.2f} against\n"
             "the start's {start_exact:.2f} [7a]"),
    "slips": ("Right answers after a planted\nslip far below those without?\n"
              "(here {slip_right:.0%} against {clean_right:.0%}) [4b]"),
    "enough": ("Keep teacher forcing:\nno slips to repair; no remedy\nraised exact match [6b], and\n"
               "a curriculum cost {curr_cost:.2f}\nof it on long chains [6c]"),
    "ss": ("Two-pass scheduled sampling:\nρ from 0 to ½\nat {half_at:.0%} of training,\nno gradient through "
           "the choice\n[5, 6a, 8a, 8b]"),
    "check": "Valid recovery up and exact\nmatch held, paired over\nseveral seeds? [6a, 6b, 8b]",
    "keep": "Keep it",
    "correct": ("Back to teacher forcing;\ncorrection data alone\ntaught the marker,\nnot its use, "
                "and cost\nexact match [7d]"),
}
"""The words in each box; ``{slot}`` s take measured numbers (:func:`flow_text`), ``[row]`` s name
the rows of the chapter's table of measurements that support a box."""


def flow_text(numbers: Mapping[str, float]) -> dict[str, str]:
    """:data:`FLOW_TEXT` with its slots filled from ``numbers`` (``rev_exact``, ``tf_path_exact``,
    ``tl_exact``, ``tf_more``, ``start_exact``, ``slip_right``, ``clean_right``, ``curr_cost``, ``half_at``); a
    missing number is a KeyError naming it."""
    checks.instance("numbers", numbers, Mapping, "mapping of slot names to numbers")
    out = {}
    for key, template in FLOW_TEXT.items():
        try:
            out[key] = template.format(**numbers)
        except KeyError as err:
            raise KeyError(f"numbers has no value for {err.args[0]!r}, needed by the box {key!r}") from None
    return out


FLOW_TITLE = "What to try, in order"


def plot_what_to_try(numbers: Mapping[str, float], *, ax: Axes | None = None) -> Figure:
    """The closing decision flowchart, its numbers filled from ``numbers`` (see :func:`flow_text`). The
    figure carries its text alternative, :func:`describe_what_to_try`, for :func:`~handbook_utils.plotting.show`."""
    return draw_flowchart(FLOW_NODES, FLOW_EDGES, flow_text(numbers), title=FLOW_TITLE, figsize=(9.6, 10.4),
                          fontsize=9.5, ax=ax)


def describe_what_to_try(numbers: Mapping[str, float]) -> str:
    """The flowchart of :func:`plot_what_to_try` in words, followed along its arrows: the same text the
    figure carries, for a caption."""
    return describe_flowchart(FLOW_EDGES, flow_text(numbers), title=FLOW_TITLE)
