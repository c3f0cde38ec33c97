"""Chapter 5's schedule explorer: its data for one slider setting, its figure, and the widget."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from handbook_utils.chapters.ch05_explorer import (  # noqa: E402
    ScheduleExplorer,
    explorer_data,
    explorer_summary_html,
    plot_explorer,
)
from handbook_utils.plotting import COLORS  # noqa: E402
from handbook_utils.schedules import KINDS  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_explorer_data_default_state():
    state = explorer_data()
    assert state.final_p["linear"] == 1.0
    assert state.reach_half == pytest.approx(
        {"linear": 40.0, "exponential": math.log(0.5) / math.log(0.97), "inverse_sigmoid": 50.0})
    for kind in KINDS:
        assert state.tokens_per_epoch[kind].shape == (100,)
        assert state.curves[kind].shape == state.epochs.shape
        assert 0 < state.model_share(kind) < 1
    assert state.curves["linear"][0] == 0.0
    warm = explorer_data(warmup_epochs=10)
    assert all(warm.total_tokens[k] < state.total_tokens[k] for k in KINDS)


@pytest.mark.parametrize("kwargs, name", [(dict(b=-1), "b"), (dict(total_epochs=0), "total_epochs"),
                                          (dict(k=1.0), "k"), (dict(seq_len=0), "seq_len")])
def test_explorer_data_rejects_bad_sliders(kwargs, name):
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        explorer_data(**kwargs)


def test_explorer_figure_and_table():
    state = explorer_data()
    fig = plot_explorer(state)
    assert len(fig.axes) == 2 and len(fig.axes[1].lines) >= 3
    table = explorer_summary_html(state)
    assert all(label in table for label in ("linear", "exponential", "inverse sigmoid"))
    assert COLORS["note"] in table and "142-token answer" in table


def test_schedule_explorer_widget_follows_its_sliders():
    pytest.importorskip("ipywidgets")
    w = ScheduleExplorer()
    assert w.state.reach_half["linear"] == 40.0
    assert "application/vnd.jupyter.widget-view+json" in w._repr_mimebundle_()
    assert all(s.description == "" for s in w.sliders.values())  # labels are HTML widgets
    w.sliders["end_epoch"].value = 20
    assert w.state.reach_half["linear"] == 10.0
    w.sliders["seq_len"].value = 10
    assert w.state.tokens_per_epoch["linear"][-1] == pytest.approx(10.0)
    assert "linear" in w.summary.value
    assert plt.get_fignums() == []  # the widget closes the figures it draws
    with pytest.raises(ValueError, match="^speed"):
        ScheduleExplorer(speed=3)


def test_schedule_explorer_can_wait_for_the_first_move():
    pytest.importorskip("ipywidgets")
    w = ScheduleExplorer(draw_now=False, seq_len=50)
    assert w.figures_drawn == 0
    assert "50-token answer" in w.summary.value
    w.sliders["k"].value = 0.9
    assert w.state.schedules["exponential"].k == pytest.approx(0.9)
    assert w.figures_drawn == 1
    assert plt.get_fignums() == []


def test_schedule_explorer_readouts_show_whole_epochs_and_a_run_hint():
    pytest.importorskip("ipywidgets")
    w = ScheduleExplorer(draw_now=False)
    formats = {name: s.readout_format for name, s in w.sliders.items()}
    assert formats["end_epoch"] == formats["c"] == formats["warmup_epochs"] == ".0f"  # "80", not "80.00"
    assert format(w.sliders["end_epoch"].value, formats["end_epoch"]) == "80"
    assert w._repr_mimebundle_()["text/plain"].startswith("Run this cell to explore")
