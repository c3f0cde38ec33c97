"""Chapter 1's figure: four lines in the book's colours, on the given axes or a new figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from handbook_utils.chapters.ch01_figures import plot_proof_contrast  # noqa: E402
from handbook_utils.chapters.ch01_simulation import contrast_curve  # noqa: E402
from handbook_utils.plotting import COLORS  # noqa: E402


@pytest.fixture(scope="module")
def curve():
    return contrast_curve([0.8, 0.9, 1.0], n_games=200, seed=0)


def test_plot_proof_contrast_returns_figure_with_four_lines(curve) -> None:
    fig = plot_proof_contrast(curve)
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert len(ax.get_lines()) == 4
    assert ax.get_legend() is not None
    colors = {line.get_color() for line in ax.get_lines()}
    assert {COLORS["teacher_forcing"], COLORS["free_running"], COLORS["prediction"]} <= colors
    plt.close(fig)


def test_plot_proof_contrast_draws_on_given_axes(curve) -> None:
    fig, (left, right) = plt.subplots(1, 2)
    assert plot_proof_contrast(curve, ax=right) is fig
    assert len(right.get_lines()) == 4 and len(left.get_lines()) == 0
    plt.close(fig)


def test_plot_proof_contrast_rejects_other_data() -> None:
    with pytest.raises(TypeError, match="curve"):
        plot_proof_contrast([0.9, 0.8])
