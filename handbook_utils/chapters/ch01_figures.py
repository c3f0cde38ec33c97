"""Chapter 1's figure: per-word accuracy against whole-proof success, as the reader's ``p`` varies.

Used by chapter 1 only, with the data of :func:`~.ch01_simulation.contrast_curve`. Follows the
conventions of :mod:`handbook_utils.plotting` (optional ``ax``, returns the Figure, never shows).
"""

from __future__ import annotations

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from handbook_utils import checks
from handbook_utils.plotting import COLORS, FRACTION_LIMITS, new_axes

from .ch01_simulation import ContrastCurve

__all__ = ["plot_proof_contrast"]


def plot_proof_contrast(curve: ContrastCurve, ax: Axes | None = None) -> Figure:
    """Four lines against ``p``: teacher-forced per-word accuracy, free-running per-word accuracy,
    free-running whole-proof success, and the ``p̂ ** L`` forecast made from the teacher-forced
    accuracy."""
    checks.instance("curve", curve, ContrastCurve)
    ax = new_axes(ax)
    x = curve.word_accuracy  # (n_points,), like every array of the curve
    ax.plot(x, curve.tf_word_accuracy, "o-", color=COLORS["teacher_forcing"],
            label="teacher forcing: words right")
    ax.plot(x, curve.free_word_accuracy, "s--", color=COLORS["free_running"],
            label="free running: words right")
    ax.plot(x, curve.free_proof_success, "D-", color=COLORS["free_running"],
            label="free running: whole proofs right")
    ax.plot(x, curve.predicted_proof_success, ":", color=COLORS["prediction"],
            label=r"forecast $\hat{p}^{L}$ from teacher forcing")
    ax.set_xlabel("p = chance of the right word after a correct prefix")
    ax.set_ylabel("fraction")
    ax.set_ylim(*FRACTION_LIMITS)
    ax.set_title(f"Same reader, two jobs (confusion after an error = "
                 f"{curve.confusion_after_error:.0%})")
    # the lower left is empty: whole-proof success is ~0 there, and per-word rates sit higher
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 0.08))
    return ax.figure
