"""Chapter 7's comparison, read: means and 95% intervals over seeds, paired comparisons with the
start and with more teacher forcing, verdict words computed from the data, the table, the figure,
the cost per step and the claims table.

Cells are the dicts of a stored result (``StoredResult.cells``) or of live runs of
:func:`.ch07_experiment.run_cell`: ``{"arm", "seed", <metric>: value, ..., "start": {<metric>: value}}``.
Every arm of a seed starts from the same trained model, so arms are compared seed by seed (the interval
of the mean *paired* difference). Pure reading and drawing: editing this module leaves stored results valid.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from .. import checks
from ..plotting import COLORS, PALETTE, plot_seed_intervals
from ..results import Comparison, MetricInfo, SeedInterval, paired_comparison, seed_interval
from ..tables import Table
from .ch07_experiment import ARMS, FINETUNE

START = "start (chapter 3)"
"""The row of the model every arm starts from."""

METRICS: dict[str, MetricInfo] = {
    "exact_match": MetricInfo("exact match", True),
    "chain_valid": MetricInfo("valid chain", True),
    "answer_correct": MetricInfo("right answer", True),
    "long_failure": MetricInfo("fails, longest", False),
    "recovery": MetricInfo("right after slip", True),
    "noticed": MetricInfo("slip withdrawn", True),
    "valid_recovery": MetricInfo("valid recovery", True),
    "right_invalid_notes": MetricInfo("right, invalid notes", False),
    "followed_error": MetricInfo("followed slip", False),
    "false_alarms": MetricInfo("false alarms", False),
    "tf_loss": MetricInfo("gold loss", False, (0.0, float("inf")), 4),
    "entropy": MetricInfo("entropy", True, (0.0, float("inf"))),
    "distinct_answers": MetricInfo("distinct answers", True),
    "kl_to_start": MetricInfo("KL to start", False, (0.0, float("inf")), 4),
}
"""What each cell reports that the chapter compares, and which direction is good (entropy and distinct
answers: higher is "more diverse", which is only good up to a point; the chapter says so)."""

PRIMARY = ("exact_match", "chain_valid", "valid_recovery", "long_failure")
"""The comparisons the chapter's verdicts rest on; their family size sets the Bonferroni level."""

ARM_STYLES: dict[str, tuple[str, str, str]] = {
    START: (COLORS["neutral"], "x", ":"),
    "teacher forcing": (COLORS["teacher_forcing"], "D", "-"),
    "scheduled sampling": (COLORS["free_running"], "v", "--"),
    "correction data": (PALETTE[2], "P", "-"),
    "REINFORCE": (PALETTE[3], "^", "-."),
    "group, exact": (PALETTE[4], "o", "-"),
    "group, chain": (PALETTE[5], "s", "-"),
    "DAgger": (COLORS["accent"], "*", "--"),
}
"""Colour, marker and line style per arm: colour is never the only signal."""


Row = str | tuple[str, float]
"""A row of the comparison: :data:`START`, or ``(arm, lr)``."""


def _check_cells(cells: Sequence[Mapping]) -> list[Mapping]:
    cells = list(cells)
    if not cells or not all(isinstance(c, Mapping) and {"arm", "lr", "seed", "start"} <= set(c) for c in cells):
        raise ValueError("cells must be a non-empty list of dicts with arm, lr, seed and start")
    return cells


def rows_of(cells: Sequence[Mapping]) -> list[tuple[str, float]]:
    """The ``(arm, lr)`` pairs present, in the book's arm order, smaller learning rate first."""
    present = {(c["arm"], c["lr"]) for c in _check_cells(cells)}
    return sorted(present, key=lambda row: (ARMS.index(row[0]), row[1]))


def row_name(row: Row) -> str:
    return row if isinstance(row, str) else f"{row[0]}, lr {row[1]:g}"


def by_seed(cells: Sequence[Mapping], row: Row, metric: str) -> dict[int, float]:
    """``{seed: value}`` of ``metric`` in ``row`` (:data:`START`: the start model of each seed)."""
    checks.one_of("metric", metric, tuple(METRICS))
    cells = _check_cells(cells)
    if row == START:
        return {c["seed"]: c["start"][metric] for c in cells}
    out = {c["seed"]: c[metric] for c in cells if (c["arm"], c["lr"]) == tuple(row)}
    if not out:
        raise ValueError(f"no cells for {row_name(row)!r}; rows: {[row_name(r) for r in rows_of(cells)]}")
    return out


def summarize(cells: Sequence[Mapping], metrics: Sequence[str] = tuple(METRICS), lr: float | None = None
              ) -> dict[str, dict[str, SeedInterval]]:
    """``{row name: {metric: SeedInterval}}``: the start, then every arm (at ``lr`` only, when given)."""
    rows = [START, *(r for r in rows_of(cells) if lr is None or r[1] == lr)]
    return {row_name(row): {m: seed_interval(list(by_seed(cells, row, m).values()), METRICS[m].bounds)
                            for m in metrics}
            for row in rows}


def mean(cells: Sequence[Mapping], row: Row, metric: str) -> float:
    """The mean over seeds of ``metric`` in ``row``."""
    values = list(by_seed(cells, row, metric).values())
    return sum(values) / len(values)


def _at_rate(cells: Sequence[Mapping], metrics: Sequence[str], lr: float) -> dict[str, dict[str, SeedInterval]]:
    """:func:`summarize` at one learning rate, keyed by arm (and :data:`START`)."""
    rows = [START, *(r for r in rows_of(cells) if r[1] == lr)]
    return {row if row == START else row[0]: {m: seed_interval(list(by_seed(cells, row, m).values()),
                                                               METRICS[m].bounds) for m in metrics}
            for row in rows}


def compare(cells: Sequence[Mapping], row: Row, reference: Row, metric: str, family: int = 1) -> Comparison:
    """``row − reference`` paired by seed (:func:`~handbook_utils.results.paired_comparison`)."""
    return paired_comparison(by_seed(cells, row, metric), by_seed(cells, reference, metric), arm=row_name(row),
                             reference=row_name(reference), metric=metric,
                             higher_is_better=METRICS[metric].higher_is_better, family=family)


def comparisons(cells: Sequence[Mapping], reference: Row, metrics: Sequence[str] = PRIMARY,
                rows: Sequence[Row] | None = None, family: int | None = None) -> dict[str, dict[str, Comparison]]:
    """Each of ``rows`` (default: every arm at every learning rate, but ``reference``) against
    ``reference``; verdicts at a family-wise 95% level over ``family`` comparisons read together
    (Bonferroni; default: these rows × metrics)."""
    rows = [r for r in (rows_of(cells) if rows is None else rows) if r != reference]
    family = len(rows) * len(metrics) if family is None else family
    return {row_name(r): {m: compare(cells, r, reference, m, family) for m in metrics} for r in rows}


def format_table(summary: Mapping[str, Mapping[str, SeedInterval]], metrics: Sequence[str],
                 caption: str = "") -> Table:
    """One row per arm: ``mean [95% interval]`` per metric, and the number of seeds."""
    rows = [[row, *(values[m].text(METRICS[m].digits) for m in metrics), next(iter(values.values())).n]
            for row, values in summary.items()]
    return Table.of(["arm", *(METRICS[m].label for m in metrics), "seeds"], rows, caption)


def format_live(rows: Mapping[str, Mapping[str, float]], metrics: Sequence[str], caption: str = "") -> Table:
    """One seed's measurements per row (no interval): the quick setting's live run."""
    return Table.of(["", *(METRICS[m].label for m in metrics)],
                    [[name, *(f"{row[m]:.{METRICS[m].digits}f}" for m in metrics)] for name, row in rows.items()],
                    caption)


def format_comparisons(table: Mapping[str, Mapping[str, Comparison]], caption: str = "") -> Table:
    """Per arm and metric: the paired difference with its 95% interval and the verdict word."""
    metrics = list(next(iter(table.values())))
    rows = [[arm, *(f"{c.delta:+.3f} [{c.low:+.2f}, {c.high:+.2f}] {c.word}" for c in row.values())]
            for arm, row in table.items()]
    return Table.of(["arm", *(METRICS[m].label for m in metrics)], rows, caption)


def plot_arms(cells: Sequence[Mapping], metrics: Sequence[str] = ("exact_match", "chain_valid", "noticed",
                                                                 "valid_recovery", "long_failure")) -> Figure:
    """One panel per learning rate: the start's and each arm's mean and 95% interval per metric (one
    marker and colour per arm), every seed a dot."""
    lrs = sorted({r[1] for r in rows_of(cells)})
    fig, axes = plt.subplots(len(lrs), 1, figsize=(8.6, 3.6 * len(lrs)), sharex=True, squeeze=False,
                             layout="constrained")
    for ax, lr in zip(axes[:, 0], lrs):
        plot_seed_intervals(ax, _at_rate(cells, metrics, lr), metrics, ARM_STYLES, markersize=6)
        ax.set_ylabel("share of held-out\nproblems")
        ax.set_ylim(-0.03, 1.05)
        ax.set_title(f"learning rate {lr:g}")
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    axes[-1, 0].set_xticks(range(len(metrics)), [METRICS[m].label.replace(", ", ",\n") for m in metrics])
    fig.suptitle("from the same start, the same budget: mean and 95% interval over seeds", fontsize=11)
    return fig


def describe_arms(cells: Sequence[Mapping], lr: float) -> str:
    summary = _at_rate(cells, ("exact_match", "chain_valid", "noticed"), lr)
    parts = [f"{arm} exact {v['exact_match'].mean:.2f}, valid chain {v['chain_valid'].mean:.2f}, "
             f"slip withdrawn {v['noticed'].mean:.2f}" for arm, v in summary.items()]
    return f"At learning rate {lr:g}, means over seeds on held-out problems: " + "; ".join(parts) + "."


# --------------------------------------------------------------------------------------------
# Cost


def step_cost(cells: Sequence[Mapping], reference: str = "teacher forcing") -> dict[str, SeedInterval]:
    """Wall time per training step of each row over ``reference``'s at the same learning rate, seed by
    seed (the same machine, the same run)."""
    cells = _check_cells(cells)
    ref = {(c["lr"], c["seed"]): c["step_time_s"] for c in cells if c["arm"] == reference}
    out = {}
    for arm, lr in rows_of(cells):
        ratios = [c["step_time_s"] / ref[(lr, c["seed"])] for c in cells
                  if (c["arm"], c["lr"]) == (arm, lr) and (lr, c["seed"]) in ref]
        out[row_name((arm, lr))] = seed_interval(ratios, (0.0, float("inf")))
    return out


def format_cost(cost: Mapping[str, SeedInterval], caption: str = "") -> Table:
    rows = [[name, f"{iv.mean:.2f}× [{iv.low:.2f}, {iv.high:.2f}]"] for name, iv in cost.items()]
    return Table.of(["arm", "time per step ÷ teacher forcing's"], rows, caption)


def sampling_arms(cells: Sequence[Mapping]) -> list[str]:
    """The arms that train on the model's own sampled answers (RL and DAgger)."""
    return [a for a in dict.fromkeys(arm for arm, _ in rows_of(cells)) if a in FINETUNE]


# --------------------------------------------------------------------------------------------
# The mechanisms, on the page


def group_table(outputs: Sequence[str], gold: str, rewards: Mapping[str, Sequence[float]],
                advantages: Sequence[float], caption: str = "") -> Table:
    """The answers sampled for one question, what each reward gave them, and the advantage they train with."""
    rows = [[o + ("  (gold)" if o == gold else ""), *(f"{r[i]:.2f}" for r in rewards.values()), f"{advantages[i]:+.2f}"]
            for i, o in enumerate(outputs)]
    return Table.of(["sampled answer", *(f"reward: {name}" for name in rewards), "advantage"], rows, caption)


def targets_after_a_slip(task, prompt: str, written: str, slip: int, caption: str = "") -> Table:
    """From the slipped character on: what the model has read, the target scheduled sampling trains it
    on (the gold answer's next character) and the expert's (``task.oracle_next``)."""
    gold = task.gold_target(prompt)
    rows = []
    for i in range(slip + 1, len(written) + 1):
        expert = task.oracle_next(prompt, written[:i])
        gold_next = gold[i] if i < len(gold) else "<eos>"
        rows.append([written[:i], gold_next, expert, "" if gold_next == expert else "differ"])
    return Table.of(["the model has written", "scheduled sampling's target", "the expert's target", ""], rows,
                    caption)


# --------------------------------------------------------------------------------------------
# The seeds' claims, held against the measurements

RL_ARMS = ("REINFORCE", "group, exact", "group, chain")


def verdict_counts(cells: Sequence[Mapping], arms: Sequence[str], against: str, metric: str, family: int,
                   lr: float | None = None) -> dict[str, list[str]]:
    """``{"better": [...], "worse": [...], "within noise": [...]}``: the rows of ``arms`` (at ``lr``, or at
    every learning rate) against ``against``: :data:`START`, or an arm name, taken at each row's own rate.
    Rows are named by arm when ``lr`` is given, else by arm and rate."""
    out: dict[str, list[str]] = {"better": [], "worse": [], "within noise": []}
    for arm, row_lr in rows_of(cells):
        if arm in arms and lr in (None, row_lr):
            reference = START if against == START else (against, row_lr)
            word = compare(cells, (arm, row_lr), reference, metric, family).word
            out[word].append(arm if lr is not None else row_name((arm, row_lr)))
    return out


def tally(counts: Mapping[str, Sequence[str]]) -> str:
    """``"better in 2 (…), worse in 1 (…), within noise in 3"``: a verdict over several rows, in words."""
    parts = [f"{word} in {len(rows)} ({'; '.join(rows)})" if word != "within noise" and rows else
             f"{word} in {len(rows)}" for word, rows in counts.items() if rows]
    return ", ".join(parts)


def best_at(cells: Sequence[Mapping], lr: float) -> tuple[str, float]:
    """The arm with the highest mean exact match at ``lr``, and that mean."""
    arm, rate = max((r for r in rows_of(cells) if r[1] == lr), key=lambda r: mean(cells, r, "exact_match"))
    return arm, mean(cells, (arm, rate), "exact_match")


def broken_at(cells: Sequence[Mapping], lr: float) -> list[tuple[str, float]]:
    """Arms at ``lr`` whose mean exact match fell below half the start's: ``[(arm, mean)]``, best first."""
    floor = mean(cells, START, "exact_match") / 2
    rows = sorted((r for r in rows_of(cells) if r[1] == lr), key=lambda r: -mean(cells, r, "exact_match"))
    return [(arm, mean(cells, (arm, rate), "exact_match")) for arm, rate in rows
            if mean(cells, (arm, rate), "exact_match") < floor]


def better_than(cells: Sequence[Mapping], reference: str, family: int) -> list[str]:
    """Rows better than ``reference`` (same rate) on at least one :data:`PRIMARY` measurement."""
    return [name for lr in sorted({r[1] for r in rows_of(cells)})
            for name, row in comparisons(cells, (reference, lr), rows=[r for r in rows_of(cells) if r[1] == lr],
                                         family=family).items()
            if any(c.word == "better" for c in row.values())]


def claims_table(cells: Sequence[Mapping], family: int) -> Table:
    """The sources' claims about training on a model's own answers, each with what was measured and a
    verdict computed from ``cells`` (at a family-wise level over ``family`` comparisons)."""
    rl_rows = [r for r in rows_of(cells) if r[0] in RL_ARMS]
    rl_cost = [step_cost(cells)[row_name(r)].mean for r in rl_rows]
    start_fail, start_err = mean(cells, START, "long_failure"), 1 - mean(cells, START, "exact_match")
    best_fail = min(mean(cells, r, "long_failure") for r in rl_rows)
    best_err = min(1 - mean(cells, r, "exact_match") for r in rl_rows)
    noticed = {r: mean(cells, r, "noticed") for r in rows_of(cells)}
    shown = max(v for r, v in noticed.items() if r[0] == "correction data")
    others = max(v for r, v in noticed.items() if r[0] != "correction data")

    def against(reference: str, metric: str) -> str:
        return tally(verdict_counts(cells, RL_ARMS, reference, metric, family))

    rows = [
        ("“we should expect RL-trained reasoning models to get better at this with training”", "000",
         "exact match and failures on long questions, RL arms against the start",
         f"exact match: {against(START, 'exact_match')}; long-question failures: {against(START, 'long_failure')}",
         "whether RL at scale, with far more steps and richer rewards, keeps improving"),
        ("RL training “is slower”", "000", "wall time per step against a teacher-forcing step",
         f"slower per step: {min(rl_cost):.1f}–{max(rl_cost):.1f}× here" if min(rl_cost) > 1 else
         f"not slower per step here ({min(rl_cost):.1f}–{max(rl_cost):.1f}×)",
         "steps to a given quality at scale; sampling long answers dominates there"),
        ("RL “seems to make models less smart”", "000", "loss on gold held-out answers, RL arms against the start",
         against(START, "tf_loss") + " (better = lower loss)",
         "capabilities the reward never asks for; a toy has one skill"),
        ("“reasoning models sometimes notice their mistakes”", "000", "slips withdrawn after an injected wrong digit",
         f"only a model shown corrections withdrew slips: up to {shown:.0%} with correction data, at most "
         f"{others:.0%} for every other arm" if shown > others else
         f"correction data did not teach it: {shown:.0%} against {others:.0%}",
         "whether noticing arises from RL alone when the model can already write a correction"),
        ("“Raw LLMs go haywire roughly 1 in 10 times […] RL'd LLMs are reliable on the order of 1 in 10000 errors”",
         "001", "error rates: 1 − exact match, and failures on long questions",
         f"errors: start {start_err:.0%}, best reward-driven arm {best_err:.0%}; long questions: start "
         f"{start_fail:.0%}, best {best_fail:.0%}. A factor of {start_fail / max(best_fail, 1e-9):.1f}, "
         "not orders of magnitude",
         "error rates of real models on real tasks; ours are set by a 0.1 M-parameter model"),
        ("RLHF “partially addresses exposure bias”", "002", "after an injected slip: the right final answer, "
         "RL arms against more teacher forcing; and a valid recovery",
         "right final answer: " + against("teacher forcing", "recovery")
         + ("; a valid recovery: in no arm" if max(c["valid_recovery"] for c in cells) == 0 else ""),
         "human-preference rewards; ours check arithmetic"),
    ]
    return Table.of(["claim", "seed", "what we measured", "verdict from the data", "what the toy cannot say"],
                    [list(r) for r in rows], caption="The sources' claims about training on a model's own answers")
