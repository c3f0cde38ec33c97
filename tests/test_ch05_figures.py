"""Chapter 5's figures: schedules on one axes (with warmup, marks, target) and both conventions."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from handbook_utils import schedules as S  # noqa: E402
from handbook_utils.chapters.ch05_figures import epoch_grid, plot_conventions, plot_schedule_curves  # noqa: E402
from handbook_utils.plotting import SCHEDULE_COLORS  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_plot_schedule_curves():
    schedules = {"lin": S.LinearSchedule(80), "exp": S.ExponentialSchedule(0.97)}
    fig = plot_schedule_curves(schedules, 100, mark_epoch=50)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts] == ["0.625", "0.782"]
    solid = [line for line in ax.lines if line.get_linestyle() == "-" and len(line.get_xdata()) > 2]
    assert len(solid) == 2
    assert [line.get_color() for line in solid] == [SCHEDULE_COLORS["linear"], SCHEDULE_COLORS["exponential"]]
    fig2 = plot_schedule_curves(schedules, 100, warmup_epochs=10, target=(60, 0.5))
    dashed = [line for line in fig2.axes[0].lines if line.get_linestyle() == "--" and len(line.get_xdata()) > 2]
    assert len(dashed) == 2
    assert plot_schedule_curves([S.LinearSchedule(80)], 100).axes[0].get_legend() is not None
    with pytest.raises(ValueError, match="schedules"):
        plot_schedule_curves({}, 100)


def test_a_second_curve_of_a_family_gets_another_colour():
    fig = plot_schedule_curves([S.LinearSchedule(80), S.LinearSchedule(40)], 100)
    first, second = (line.get_color() for line in fig.axes[0].lines)
    assert first == SCHEDULE_COLORS["linear"] and second != first


def test_plot_conventions():
    schedules = {"exponential": S.ExponentialSchedule(0.97)}
    fig = plot_conventions(schedules, 100, bengio={"k^i": ("exponential", lambda e: 0.97**e)})
    left, right = fig.axes
    np.testing.assert_allclose(left.lines[0].get_ydata() + right.lines[0].get_ydata(), 1.0)
    assert right.lines[1].get_color() == SCHEDULE_COLORS["exponential"]
    with pytest.raises(ValueError, match="kind"):
        plot_conventions(schedules, 100, bengio={"?": ("cosine", lambda e: 0.5)})


def test_epoch_grid():
    grid = epoch_grid(50)
    assert grid.shape == (601,) and grid[0] == 0.0 and grid[-1] == 50.0
    with pytest.raises(ValueError, match="total_epochs"):
        epoch_grid(0)
