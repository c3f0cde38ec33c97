"""Chapter 5's schedule explorer: its data for one slider setting, its figure, and the widget."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from handbook_utils.chapters.ch05_explorer import (  # noqa: E402
    ScheduleExplorer,
    browser_data,
    explorer_data,
    plot_explorer,
)
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


def test_explorer_figure():
    state = explorer_data()
    fig = plot_explorer(state)
    assert len(fig.axes) == 2 and len(fig.axes[1].lines) >= 3


def test_browser_data_holds_the_numbers_of_every_slider_position():
    data = browser_data(seq_len=50)
    sliders = {s["name"]: s for s in data["sliders"]}
    assert set(sliders) == {"end_epoch", "k", "c", "b"}
    linear = data["families"]["linear"]["by_index"]
    for j, end in enumerate(sliders["end_epoch"]["values"]):
        half = linear[str(j)]["reach_half"]  # linear: half way to E, or never within the 100 epochs
        assert half == pytest.approx(end / 2, abs=0.01) if end / 2 <= 100 else half is None
    sig = data["families"]["inverse_sigmoid"]
    assert sig["params"] == ["c", "b"]
    assert len(sig["by_index"]) == len(sliders["c"]["values"]) * len(sliders["b"]["values"])
    some = explorer_data(c=120, b=5, seq_len=50)
    key = f"{sliders['c']['values'].index(120.0)},{sliders['b']['values'].index(5.0)}"
    assert sig["by_index"][key]["tokens"] == pytest.approx(some.total_tokens["inverse_sigmoid"], abs=0.1)
    assert "50-token answer" in data["note"]


def test_schedule_explorer_starts_on_the_chapter_numbers_even_off_the_grid():
    w = ScheduleExplorer(k=0.9713, end_epoch=77)  # values between grid points are added to the grid
    state = explorer_data(k=0.9713, end_epoch=77)
    shown = w.start_numbers()
    assert {kind: shown[kind]["tokens"] for kind in KINDS} == pytest.approx(state.total_tokens, abs=0.1)
    assert shown["linear"]["reach_half"] == 38.5
    data, _ = w._repr_mimebundle_()
    assert data["text/plain"].startswith("Run this cell") and "schedule_explorer" not in data["text/plain"]
    assert '<script type="module">' in data["text/html"]
    with pytest.raises(TypeError, match="speed"):
        ScheduleExplorer(speed=3)
    with pytest.raises(ValueError, match="^total_epochs"):
        ScheduleExplorer(total_epochs=0)
