"""Chapter 5's schedule explorer: sliders for the three families, their curves and token counts.

:func:`explorer_data` computes everything for one setting of the sliders (an :class:`ExplorerState`),
:func:`plot_explorer` draws it (the chapter's static figure), and
:func:`browser_data` computes every setting the sliders can reach, and :class:`ScheduleExplorer` draws
them in the browser (live in JupyterLab and on the static page alike).

Used by chapter 5 ("Explore the schedules": the default-state figure and the live widget).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import traitlets
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from handbook_utils import checks, runtime  # noqa: F401  (runtime: glued values for the lab)
from handbook_utils.plotting import (
    COLORS,
    FRACTION_LIMITS,
    MARK_EVERY,
    SCHEDULE_COLORS,
    SCHEDULE_MARKERS,
    SCHEDULE_TEXT_COLORS,
)
from handbook_utils.schedules import (
    KIND_LABELS,
    KINDS,
    Schedule,
    describe,
    epoch_reaching,
    make_schedule,
    schedule_curve,
)
from handbook_utils.web_widgets import BrowserWidget

from .ch05_figures import epoch_grid
from .ch05_tokens import model_tokens_per_epoch

__all__ = ["ExplorerState", "explorer_data", "plot_explorer", "SLIDER_GRIDS",
           "browser_data", "ScheduleExplorer"]


@dataclass(frozen=True)
class ExplorerState:
    """Everything the explorer draws for one setting of its sliders."""

    schedules: dict[str, Schedule]  # family → schedule object
    total_epochs: int
    seq_len: int
    epochs: np.ndarray  # (601,): fine grid of epochs for the curves
    curves: dict[str, np.ndarray]  # family → p on ``epochs``, (601,)
    tokens_per_epoch: dict[str, np.ndarray]  # family → expected model tokens per sequence, (total_epochs,)
    total_tokens: dict[str, float]  # family → expected model tokens per sequence, whole training
    reach_half: dict[str, float]  # family → first epoch with p ≥ 0.5 (inf if never)
    final_p: dict[str, float]  # family → p at the end of training

    def model_share(self, kind: str) -> float:
        """Fraction of all fed answer tokens that were the model's (the mean of p over training)."""
        return self.total_tokens[kind] / (self.seq_len * self.total_epochs)


def explorer_data(
    end_epoch: float = 80.0,
    k: float = 0.97,
    c: float = 50.0,
    b: float = 10.0,
    warmup_epochs: float = 0.0,
    total_epochs: int = 100,
    seq_len: int = 142,
    steps_per_epoch: int = 20,
    kinds: Sequence[str] = KINDS,
) -> ExplorerState:
    """Curves and model-token counts for the three schedules (or only ``kinds``), all with the same warmup."""
    total_epochs = checks.positive_int("total_epochs", total_epochs)
    params = {"linear": dict(end_epoch=end_epoch), "exponential": dict(k=k), "inverse_sigmoid": dict(c=c, b=b)}
    schedules = {kind: make_schedule(kind, warmup_epochs, **params[checks.one_of("kinds[i]", kind, KINDS)])
                 for kind in kinds}
    x = epoch_grid(total_epochs)  # (601,)
    curves = {kind: schedule_curve(s, x) for kind, s in schedules.items()}
    tokens = {kind: model_tokens_per_epoch(s, seq_len, total_epochs, steps_per_epoch)
              for kind, s in schedules.items()}
    return ExplorerState(
        schedules=schedules,
        total_epochs=total_epochs,
        seq_len=checks.positive_int("seq_len", seq_len),
        epochs=x,
        curves=curves,
        tokens_per_epoch=tokens,
        total_tokens={kind: float(t.sum()) for kind, t in tokens.items()},
        reach_half={kind: epoch_reaching(s, 0.5) for kind, s in schedules.items()},
        final_p={kind: s(float(total_epochs)) for kind, s in schedules.items()},
    )


def plot_explorer(state: ExplorerState, axes: Sequence[Axes] | None = None) -> Figure:
    """Left: p(epoch) for the three schedules. Right: expected model tokens per sequence, per epoch."""
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(9.6, 4.2))
    left, right = axes
    per_epoch = np.arange(state.total_epochs) + 0.5  # (total_epochs,): the middle of each epoch
    for kind in KINDS:
        style = dict(color=SCHEDULE_COLORS[kind], marker=SCHEDULE_MARKERS[kind], markevery=MARK_EVERY)
        left.plot(state.epochs, state.curves[kind], label=describe(state.schedules[kind]), **style)
        right.step(per_epoch, state.tokens_per_epoch[kind], where="mid",
                   label=f"{KIND_LABELS[kind]}: {state.total_tokens[kind]:,.0f} in all", **style)
    warmup = state.schedules["linear"].warmup_epochs
    for ax in (left, right):
        if warmup > 0:
            ax.axvspan(0, min(warmup, state.total_epochs), color=COLORS["neutral"], alpha=0.15, lw=0)
        ax.set_xlim(0, state.total_epochs)
        ax.set_xlabel("training time (epochs)")
    left.set_ylim(*FRACTION_LIMITS)
    left.set_ylabel("ρ = P(model's token)")
    left.set_title("Schedules")
    left.legend(loc="lower right", fontsize=9)
    right.axhline(state.seq_len, color=COLORS["neutral"], ls=":", lw=1)
    right.set_ylim(0, state.seq_len * 1.05)
    right.set_ylabel(f"model tokens in a {state.seq_len}-token answer")
    right.set_title("Expected model tokens per sequence")
    right.legend(loc="lower right", fontsize=9, title="per sequence, over training",
                 title_fontsize=9)
    return left.figure


_MARKER_NAMES = {"o": "circle", "s": "square", "^": "triangle"}  # matplotlib marker → web/base.js marker

SLIDER_GRIDS: dict[str, tuple[str, tuple[str, ...], np.ndarray, int]] = {
    # slider: (label, families it shapes, grid of values, decimals shown)
    "end_epoch": ("linear: <i>E</i>", ("linear",), np.arange(10.0, 301.0, 10.0), 0),
    "k": ("exponential: <i>k</i>", ("exponential",), np.round(np.arange(0.80, 0.9951, 0.005), 3), 3),
    "c": ("inverse sigmoid: <i>c</i>", ("inverse_sigmoid",), np.arange(0.0, 301.0, 10.0), 0),
    "b": ("inverse sigmoid: <i>b</i>", ("inverse_sigmoid",), np.array([2.5, 5.0, 10.0, 20.0, 40.0]), 1),
}
"""The explorer's sliders: what each moves, and the values it steps through (the start value is added)."""

_PARAMS = {"linear": ("end_epoch",), "exponential": ("k",), "inverse_sigmoid": ("c", "b")}


def browser_data(end_epoch: float = 80.0, k: float = 0.97, c: float = 50.0, b: float = 10.0,
                 warmup_epochs: float = 0.0, total_epochs: int = 100, seq_len: int = 142,
                 steps_per_epoch: int = 20, points: int = 61) -> dict[str, Any]:
    """Everything :class:`ScheduleExplorer` can show, computed here once: for every value on each
    slider's grid (:data:`SLIDER_GRIDS`, plus the start value), the curve of the family it shapes and
    that curve's numbers, from the same :func:`explorer_data` the static figure uses.

    Warmup, training length and answer length are fixed per explorer (arguments, not sliders):
    each would multiply the data by the length of its grid.
    """
    start = dict(end_epoch=end_epoch, k=k, c=c, b=b)
    explorer_data(**start, warmup_epochs=warmup_epochs, total_epochs=total_epochs, seq_len=seq_len,
                  steps_per_epoch=steps_per_epoch)  # validates every argument
    points = checks.integer("points", points, 11, 1001)
    epochs = np.linspace(0.0, float(total_epochs), points)  # (points,)
    grids = {name: sorted({float(v) for v in grid} | {float(start[name])})
             for name, (_, _, grid, _) in SLIDER_GRIDS.items()}
    families = {}
    for kind in KINDS:
        params = _PARAMS[kind]
        by_index = {}
        for indices in itertools.product(*(range(len(grids[name])) for name in params)):
            values = {**start, **{name: grids[name][i] for name, i in zip(params, indices)}}
            state = explorer_data(**values, warmup_epochs=warmup_epochs, total_epochs=total_epochs,
                                  seq_len=seq_len, steps_per_epoch=steps_per_epoch, kinds=(kind,))
            half = state.reach_half[kind]
            by_index[",".join(map(str, indices))] = {
                "curve": [round(float(v), 3) for v in schedule_curve(state.schedules[kind], epochs)],
                "reach_half": round(half, 2) if half <= total_epochs else None,
                "final": round(state.final_p[kind], 4), "tokens": round(state.total_tokens[kind], 1),
                "share": round(state.model_share(kind), 4),
            }
        families[kind] = {"label": KIND_LABELS[kind], "params": list(params), "by_index": by_index,
                          "color": SCHEDULE_COLORS[kind], "text_color": SCHEDULE_TEXT_COLORS[kind],
                          "marker": _MARKER_NAMES.get(SCHEDULE_MARKERS[kind], "circle")}
    return {
        "sliders": [{"name": name, "label": label, "values": grids[name], "decimals": decimals,
                     "index": grids[name].index(float(start[name]))}
                    for name, (label, _, _, decimals) in SLIDER_GRIDS.items()],
        "families": families, "order": list(KINDS), "epochs": [round(float(e), 3) for e in epochs],
        "total_epochs": total_epochs, "y_label": "ρ = P(model's token)",
        "columns": ["ρ = ½ at epoch", "ρ at end", "model tokens", "model share"],
        "note": (f"model tokens: expected number in one {seq_len}-token answer over all {total_epochs} epochs"
                 + (f" (the first {warmup_epochs:g} of them warmup)" if warmup_epochs else "")
                 + "; model share: their fraction of all answer inputs fed (the mean of ρ)."),
        "ink": COLORS["ink"], "guide": COLORS["neutral"],
    }


class ScheduleExplorer(BrowserWidget):
    """Sliders for E, k, c and b over the three schedule families, with their curves and a table,
    drawn in the browser (``web/schedule_explorer.js``) from :func:`browser_data`: they move on the
    static page too. ``ScheduleExplorer(warmup_epochs=10, total_epochs=200, seq_len=300)`` computes
    another explorer for other fixed settings."""

    _module = "schedule_explorer"
    placeholder = "Run this cell to explore the schedules with sliders."
    data = traitlets.Dict().tag(sync=True, static=True)

    def __init__(self, **settings: Any) -> None:
        super().__init__(data=browser_data(**settings))

    def start_numbers(self) -> dict[str, dict[str, Any]]:
        """Per family, the numbers the explorer shows before any slider moves (curve, reach_half, final,
        tokens, share)."""
        index = {s["name"]: s["index"] for s in self.data["sliders"]}
        return {kind: f["by_index"][",".join(str(index[name]) for name in f["params"])]
                for kind, f in self.data["families"].items()}
