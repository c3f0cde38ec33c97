"""Chapter 3, the p^T forecast: its arithmetic, its plots, and the points that compare it with a model."""

import dataclasses
import math
from types import SimpleNamespace

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


def test_static_plots():
    assert isinstance(fc.plot_success_curves(marks=[(0.99, 142)]), Figure)
    assert isinstance(fc.plot_half_length(marks=[(0.99, "x")]), Figure)


def test_explorer_grid_holds_p_to_the_t_for_every_slider_position():
    grid = fc.explorer_grid(p=0.95, T=100, T_max=300)
    p_values, curves = grid["p_values"], grid["curves"]
    assert p_values[grid["p_index"]] == 0.95 and grid["T"] == 100 and len(grid["T_values"]) == 300
    assert p_values == sorted(p_values) and p_values[0] == 0.9 and p_values[-1] == 0.9999
    assert curves[grid["p_index"]][100] == pytest.approx(0.95**100, abs=1e-5)
    i99 = p_values.index(0.99)
    assert curves[i99][142] == pytest.approx(0.2400, abs=1e-4) and len(curves[i99]) == 301
    assert grid["half_lengths"][i99] == pytest.approx(fc.length_at_success(0.99))
    with pytest.raises(ValueError, match="^T must"):
        fc.explorer_grid(p=0.99, T=500, T_max=400)
    widget = fc.CompoundingExplorer(p=0.99, T=142)
    assert widget.data["p_index"] == i99 or widget.data["p_values"][widget.data["p_index"]] == 0.99


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


def test_length_points_measure_held_out_problems(monkeypatch):
    measured = []

    def fake_evaluate(model, task, n, seed):
        measured.append(task)
        return SimpleNamespace(tf_token_accuracy=1.0, mean_target_length=10.0,
                               independence_estimate_per_example=1.0, exact_match=1.0)

    monkeypatch.setattr(fc, "evaluate", fake_evaluate)
    train_task = dataclasses.replace(TASK, split="train")
    for given in (train_task, train_task.held_out_task()):  # a train task answers with its test split
        measured.clear()
        points = fc.length_points("model", given, [2, 3], n=8, seed=0)
        assert [p.value for p in points] == [2, 3]
        assert [(t.split, t.n_terms, t.max_value) for t in measured] == [("test", (2, 2), 4), ("test", (3, 3), 4)]
        assert all(train_task.held_out(e) for t in measured for e in t.sample(8, 0))
