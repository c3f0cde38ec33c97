"""Chapter 5's schedule explorer: sliders for the three families, their curves and token counts.

:func:`explorer_data` computes everything for one setting of the sliders (an :class:`ExplorerState`),
:func:`plot_explorer` draws it, :func:`explorer_summary_html` tabulates it, and
:class:`ScheduleExplorer` is the ipywidgets view that recomputes on every slider release.

Used by chapter 5 ("Explore the schedules": the default-state figure and the live widget).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
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
    figure_html,
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

from .ch05_figures import epoch_grid
from .ch05_tokens import model_tokens_per_epoch

__all__ = ["ExplorerState", "explorer_data", "plot_explorer", "explorer_summary_html", "ScheduleExplorer"]

PLACEHOLDER = "Run this cell to explore the schedules with sliders (they need a running kernel)."
"""What a notebook shows in place of the explorer before its cell has run."""


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
) -> ExplorerState:
    """Curves and model-token counts for the three schedules, all with the same warmup."""
    total_epochs = checks.positive_int("total_epochs", total_epochs)
    schedules = {
        "linear": make_schedule("linear", warmup_epochs, end_epoch=end_epoch),
        "exponential": make_schedule("exponential", warmup_epochs, k=k),
        "inverse_sigmoid": make_schedule("inverse_sigmoid", warmup_epochs, c=c, b=b),
    }
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


def explorer_summary_html(state: ExplorerState) -> str:
    """The explorer's table: per schedule, when p reaches ½, p at the end, and the model's share."""
    cell = "style='text-align:right;padding:1px 12px;white-space:nowrap'"
    rows = []
    for kind in KINDS:
        half = state.reach_half[kind]
        half_text = f"{half:.1f}" if half <= state.total_epochs else "never"
        rows.append(
            f"<tr><td style='padding:1px 12px 1px 0;white-space:nowrap;color:{SCHEDULE_TEXT_COLORS[kind]}'>"
            f"<b>{html.escape(KIND_LABELS[kind])}</b></td>"
            f"<td {cell}>{half_text}</td>"
            f"<td {cell}>{state.final_p[kind]:.3f}</td>"
            f"<td {cell}>{state.total_tokens[kind]:,.0f}</td>"
            f"<td {cell}>{state.model_share(kind):.0%}</td></tr>"
        )
    head = "".join(f"<th {cell}>{h}</th>" for h in
                   ("ρ = ½ at epoch", "ρ at end", "model tokens", "model share"))
    return (f"<table style='border-collapse:collapse;font-size:0.95em;margin:0.4em 0'>"
            f"<tr><th></th>{head}</tr>" + "".join(rows) + "</table>"
            f"<div style='font-size:0.85em;color:{COLORS['note']}'>model tokens: expected number in one "
            f"{state.seq_len}-token answer over all {state.total_epochs} epochs; model share: "
            f"their fraction of all answer inputs fed (the mean of p).</div>")


class ScheduleExplorer:
    """Sliders for E, k, c, b, warmup, total epochs and answer length T; redraws on release.

    ``ScheduleExplorer()`` as the last line of a cell displays it. With ``draw_now=False`` the figure
    is drawn at the first slider move only (the table is always filled): a chapter that shows the
    default-state figure in a plain cell then does not show it twice. Labels are ``HTML`` widgets and
    the sliders have no ``description``: on the static book's MathJax 3 pages, widget labels that
    go through the MathJax 2 typesetting path raise errors. Each slider's ``tooltip`` is its label
    as plain text, which the book's ``widgets-a11y.js`` makes its accessible name; the figure is an
    ``<img>`` with its text alternative (:func:`~handbook_utils.plotting.figure_html`).
    """

    _SPECS: dict[str, tuple[str, str, dict[str, Any]]] = {
        # name: (widget class, label, slider settings)
        "end_epoch": ("FloatSlider", "linear: <i>E</i>", dict(min=1, max=300, step=1, readout_format=".0f")),
        "k": ("FloatSlider", "exponential: <i>k</i>",
              dict(min=0.8, max=0.999, step=0.001, readout_format=".3f")),
        "c": ("FloatSlider", "inverse sigmoid: <i>c</i>", dict(min=0, max=300, step=1, readout_format=".0f")),
        "b": ("FloatSlider", "inverse sigmoid: <i>b</i>", dict(min=0.5, max=60, step=0.5, readout_format=".1f")),
        "warmup_epochs": ("FloatSlider", "warmup epochs", dict(min=0, max=150, step=1, readout_format=".0f")),
        "total_epochs": ("IntSlider", "total epochs", dict(min=10, max=300, step=5)),
        "seq_len": ("IntSlider", "answer length <i>T</i>", dict(min=1, max=400, step=1)),
    }
    # the label without markup is each slider's `tooltip`: its accessible name (see widgets-a11y.js)

    def __init__(self, steps_per_epoch: int = 20, draw_now: bool = True, **values: float) -> None:
        import ipywidgets as widgets  # imported here: the rest of the module works without it
        from IPython.display import HTML, display

        defaults = dict(end_epoch=80.0, k=0.97, c=50.0, b=10.0, warmup_epochs=0.0,
                        total_epochs=100, seq_len=142)
        unknown = set(values) - set(defaults)
        if unknown:
            raise ValueError(f"{sorted(unknown)[0]} is not a slider; choose from {sorted(defaults)}")
        defaults.update(values)
        self.steps_per_epoch = checks.positive_int("steps_per_epoch", steps_per_epoch)
        explorer_data(**defaults, steps_per_epoch=self.steps_per_epoch)  # validate before drawing
        self.sliders: dict[str, Any] = {}
        rows = []
        for name, (cls, label, settings) in self._SPECS.items():
            slider = getattr(widgets, cls)(value=defaults[name], description="", continuous_update=False,
                                           tooltip=re.sub(r"<[^>]+>", "", label), **settings)
            slider.observe(lambda _change: self.update(), names="value")
            self.sliders[name] = slider
            rows.append(widgets.HBox([widgets.HTML(label, layout=widgets.Layout(width="11em")), slider]))
        self.summary = widgets.HTML()
        self.output = widgets.Output()
        self.ui = widgets.VBox([widgets.VBox(rows), self.summary, self.output])
        self.state: ExplorerState | None = None
        self.figures_drawn = 0
        self.update(draw=draw_now)
        if not draw_now:
            with self.output:
                display(HTML("<i>Move a slider: the figure for the new setting appears here.</i>"))

    def values(self) -> dict[str, float]:
        return {name: slider.value for name, slider in self.sliders.items()}

    def update(self, draw: bool = True) -> None:
        """Recompute from the sliders, refresh the table and (unless ``draw=False``) the figure."""
        self.state = explorer_data(**self.values(), steps_per_epoch=self.steps_per_epoch)
        self.summary.value = explorer_summary_html(self.state)
        if not draw:
            return
        with self.output:
            from IPython.display import HTML, clear_output, display

            clear_output(wait=True)
            fig = plot_explorer(self.state)
            plt.close(fig)
            display(HTML(figure_html(fig)))  # an <img> with its text alternative
        self.figures_drawn += 1

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        # the plain-text fallback is what a saved notebook shows before the cell runs in a kernel
        return {**self.ui._repr_mimebundle_(**kwargs), "text/plain": PLACEHOLDER}
