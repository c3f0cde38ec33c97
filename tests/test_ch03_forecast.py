"""Chapter 3, the p^T forecast: its arithmetic, its plots, and the points that compare it with a model."""

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from fixtures_addition import HALF_TRAINED_TASK as TASK
from fixtures_addition import half_trained
from matplotlib.figure import Figure

from handbook_utils.chapters import ch03_forecast as fc

# ----------------------------------------------------------------------------------- arithmetic


def test_the_seed_numbers():
    assert fc.sequence_success(0.99, 142) == pytest.approx(0.2399, abs=1e-4)
    assert fc.sequence_success(0.95, 100) == pytest.approx(0.00592, abs=1e-5)
    assert fc.length_at_success(0.99) == pytest.approx(68.97, abs=0.01)
    assert fc.sequence_success(0.99, fc.length_at_success(0.99)) == pytest.approx(0.5)


def test_arithmetic_is_vectorized_and_has_edges():
    T = np.arange(5)
    assert np.allclose(fc.sequence_success(0.5, T), 0.5**T)
    assert fc.length_at_success(1.0) == math.inf
    assert np.allclose(fc.length_at_success(np.array([0.9, 0.99]), success=0.25),
                       np.log(0.25) / np.log([0.9, 0.99]))
    # halving the error rate roughly doubles the trustworthy length
    assert fc.length_at_success(0.995) / fc.length_at_success(0.99) == pytest.approx(2, rel=0.01)


@pytest.mark.parametrize("call", [
    lambda: fc.sequence_success(1.5, 3),
    lambda: fc.sequence_success(0.5, -1),
    lambda: fc.sequence_success(float("nan"), 3),
    lambda: fc.length_at_success(0.0),
    lambda: fc.length_at_success(0.9, success=1.0),
    lambda: fc.plot_half_length(p_min=0.99, p_max=0.9),
])
def test_bad_arguments_raise(call):
    with pytest.raises(ValueError):
        call()


def test_a_bool_is_not_a_success_rate():
    with pytest.raises(TypeError):  # handbook_utils.checks: a bool is never a number
        fc.length_at_success(0.9, success=True)


def test_static_plots_and_explorer():
    assert isinstance(fc.plot_success_curves(marks=[(0.99, 142)]), Figure)
    assert isinstance(fc.plot_half_length(marks=[(0.99, "x")]), Figure)
    box = fc.compounding_explorer(p=0.95, T=100)
    html = box.children[2].value
    assert "0.9500" in html and "0.6%" in html  # 0.95^100 = 0.59%
    p_slider = box.children[0].children[1]
    p_slider.value = 0.99
    assert "36.6%" in box.children[2].value  # 0.99^100


# ------------------------------------------------------------------ forecast against a model


def test_checkpoint_and_length_points():
    model, history = half_trained()
    points = fc.checkpoint_points(history)
    assert [p.value for p in points] == [60, 120] and all(p.kind == "checkpoint" for p in points)
    lengths = fc.length_points(model, TASK, [2, 3], n=32, seed=0)
    assert [p.value for p in lengths] == [2, 3] and lengths[0].mean_length < lengths[1].mean_length
    for p in points + lengths:
        assert 0 <= p.predicted <= 1 and 0 <= p.exact_match <= 1
    assert isinstance(fc.plot_exact_vs_prediction(points, lengths), Figure)
    assert isinstance(fc.plot_training_curves(history, stage_ends=[60]), Figure)
    with pytest.raises(ValueError):
        fc.checkpoint_points(type("H", (), {"evals": []})())
    matplotlib.pyplot.close("all")
