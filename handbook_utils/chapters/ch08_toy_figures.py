"""Chapter 8's small categorical, drawn: relaxed samples against the temperature, the bias and spread
of each gradient estimator, and how the error falls (or stops falling) with more draws; plus the
temperature slider (an ipywidgets view that redraws one figure, with a static default state).

Estimators keep one colour, marker and line style each everywhere (:data:`ESTIMATOR_STYLES`), so
they differ without colour too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from .. import checks
from ..plotting import COLORS, PALETTE, describe_axes_as, figure_html
from .ch08_mechanics import CategoricalToy, EstimatorStats, relaxed_samples

ESTIMATOR_STYLES: dict[str, dict[str, str]] = {
    "reinforce": dict(color=COLORS["free_running"], marker="v", linestyle=":"),
    "reinforce_baseline": dict(color=PALETTE[4], marker="D", linestyle="-."),
    "gumbel_softmax": dict(color=COLORS["accent"], marker="o", linestyle="-"),
    "straight_through": dict(color=PALETTE[3], marker="s", linestyle="--"),
}
"""REINFORCE dotted (vermilion triangles), with a baseline dash-dot (purple diamonds), Gumbel-softmax
solid (green circles), straight-through dashed (orange squares)."""

ESTIMATOR_LABELS = {"reinforce": "REINFORCE", "reinforce_baseline": "REINFORCE with a baseline",
                    "gumbel_softmax": "Gumbel-softmax", "straight_through": "straight-through"}


def _label(method: str, tau: float | None) -> str:
    return ESTIMATOR_LABELS[method] + ("" if tau is None else f", τ = {tau:g}")


def plot_relaxed_samples(toy: CategoricalToy, taus: Sequence[float], *, seed: int = 0) -> Figure:
    """One panel per temperature: the option probabilities softmax(θ) (plain grey bars), one relaxed
    sample with the same noise at every τ (hatched green bars) and the mean of many samples (black dots)."""
    samples = relaxed_samples(toy, taus, seed=seed)
    fig, axes = plt.subplots(1, len(taus), figsize=(2.4 * len(taus), 3.2), sharey=True)
    axes = np.atleast_1d(axes)
    x = np.arange(toy.k)
    p = toy.probs().numpy()
    names = [f"{v:g}" for v in toy.values]
    for ax, tau in zip(axes, samples):
        one, mean = (t.numpy() for t in samples[tau])
        ax.bar(x - 0.2, p, 0.4, color=COLORS["neutral"], label="softmax(θ)")
        ax.bar(x + 0.2, one, 0.4, color=COLORS["accent"], hatch="//", edgecolor="white", label="one relaxed sample")
        ax.plot(x + 0.2, mean, "o", color=COLORS["ink"], markersize=5, label="mean of relaxed samples")
        ax.set_xticks(x, names)
        ax.set_title(f"τ = {tau:g}")
        ax.set_xlabel("option (the number it stands for)")
        top = int(one.argmax())
        describe_axes_as(ax, f"τ = {tau:g}: the sample puts {one[top]:.2f} on option {names[top]} "
                             f"(probabilities {', '.join(f'{v:.2f}' for v in p)}; sample "
                             f"{', '.join(f'{v:.2f}' for v in one)}; mean of samples "
                             f"{', '.join(f'{v:.2f}' for v in mean)}).")
    axes[0].set_ylabel("weight")
    axes[0].set_ylim(0, 1.02)
    axes[-1].legend(loc="upper right", fontsize=8)
    fig.suptitle("A Gumbel-softmax sample: one-hot at small τ, flat at large τ (same noise in every panel)")
    return fig


def plot_bias_spread(stats: Mapping[str, Sequence[EstimatorStats]]) -> Figure:
    """Left: relative bias against τ; right: relative spread of one estimate against τ; REINFORCE (no τ)
    as a horizontal line. Log axes; each estimator in its own colour, marker and line style."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(9.6, 3.9))
    for method, rows in stats.items():
        style = ESTIMATOR_STYLES[method]
        if rows[0].tau is None:
            for ax, key in ((left, "bias"), (right, "std")):
                ax.axhline(max(getattr(rows[0], key), 1e-4), color=style["color"], linestyle=style["linestyle"],
                           label=ESTIMATOR_LABELS[method] + (" (unbiased: 0 up to sampling error)"
                                                              if key == "bias" else ""))
            continue
        taus = [r.tau for r in rows]
        left.errorbar(taus, [r.bias for r in rows], yerr=[2 * r.bias_se for r in rows], capsize=3,
                      label=ESTIMATOR_LABELS[method], **style)
        right.plot(taus, [r.std for r in rows], label=ESTIMATOR_LABELS[method], **style)
    left.set_title("Bias: how far the average estimate is off")
    left.set_ylabel("|E[ĝ] − ∇J| / |∇J|")
    right.set_title("Spread of a single estimate")
    right.set_ylabel("std of ĝ / |∇J|")
    for ax in (left, right):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("temperature τ")
        ax.legend(fontsize=8, loc="best")
    return fig


def plot_error_by_samples(curves: Mapping[tuple[str, float | None], Sequence[EstimatorStats]]) -> Figure:
    """Relative root-mean-square error of an estimate against the number of draws it averages (log-log):
    the relaxed estimators level off at their bias, REINFORCE keeps falling as 1/√n."""
    fig, ax = plt.subplots(figsize=(6.6, 4.2))
    for (method, tau), rows in curves.items():
        ax.plot([r.n for r in rows], [r.rmse for r in rows], label=_label(method, tau), **ESTIMATOR_STYLES[method])
    first = next(iter(curves.values()))
    n = np.array([r.n for r in first], dtype=float)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("draws averaged per estimate, n")
    ax.set_ylabel("RMS error / |∇J|")
    ax.set_title("More draws: REINFORCE keeps improving, relaxations level off")
    ax.set_xlim(n.min() * 0.8, n.max() * 1.25)
    ax.legend(fontsize=8)
    return fig


# --------------------------------------------------------------------------------------------
# The temperature slider


def tau_figure(toy: CategoricalToy, tau: float, *, seed: int = 0) -> Figure:
    """The slider's figure: :func:`plot_relaxed_samples` for one temperature."""
    return plot_relaxed_samples(toy, [checks.positive("tau", tau)], seed=seed)


class TauExplorer:
    """A temperature slider (logarithmic, 0.01 to 100) that redraws one relaxed sample on release.

    ``TauExplorer(toy)`` as the last line of a cell displays it. Like chapter 5's explorer: the label is
    an ``HTML`` widget, the slider has no ``description`` and its ``tooltip`` (plain text) becomes its
    accessible name in the static book; the figure is an ``<img>`` with its text alternative. With
    ``draw_now=False`` the figure appears at the first move only (the page shows the default state
    in a plain cell). In the static book the slider cannot recompute: open the chapter in JupyterLab.
    """

    LABEL = "temperature <i>τ</i>"
    TAU_RANGE = (0.01, 100.0)  # the slider's ends (it moves in steps of 10^0.05)

    def __init__(self, toy: CategoricalToy | None = None, tau: float = 1.0, *, seed: int = 0,
                 draw_now: bool = True) -> None:
        import ipywidgets as widgets  # imported here: the rest of the module works without it
        from IPython.display import HTML, display

        self.toy = toy if toy is not None else CategoricalToy()
        checks.instance("toy", self.toy, CategoricalToy)
        self.seed = checks.seed("seed", seed)
        lo, hi = self.TAU_RANGE
        tau = checks.number("tau", tau, lo, hi)
        self.slider = widgets.FloatLogSlider(value=tau, base=10, min=math.log10(lo), max=math.log10(hi), step=0.05,
                                             description="",
                                             continuous_update=False, readout_format=".2f",
                                             tooltip=re.sub(r"<[^>]+>", "", self.LABEL))
        self.slider.observe(lambda _change: self.update(), names="value")
        self.output = widgets.Output()
        label = widgets.HTML(self.LABEL, layout=widgets.Layout(width="9em"))
        self.ui = widgets.VBox([widgets.HBox([label, self.slider]), self.output])
        self.figures_drawn = 0
        if draw_now:
            self.update()
        else:
            with self.output:
                display(HTML("<i>Move the slider: the sample at the new temperature appears here.</i>"))

    @property
    def tau(self) -> float:
        return float(self.slider.value)

    def update(self) -> None:
        from IPython.display import HTML, clear_output, display

        with self.output:
            clear_output(wait=True)
            fig = tau_figure(self.toy, self.tau, seed=self.seed)
            plt.close(fig)
            display(HTML(figure_html(fig)))
        self.figures_drawn += 1

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.ui._repr_mimebundle_(**kwargs)
