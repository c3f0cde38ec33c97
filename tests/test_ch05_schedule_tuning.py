"""Schedule tuning: solved schedules hit their targets, conventions map exactly, token counts match
what the training code actually feeds, and bad inputs fail loudly and by name."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from hypothesis import assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from handbook_utils import schedules as S  # noqa: E402
from handbook_utils.chapters import ch05_schedule_tuning as T  # noqa: E402

targets = st.floats(0.01, 0.99)
at_epochs = st.floats(1.0, 1000.0)
warmups = st.floats(0.0, 1.0)  # as a fraction of at_epoch, so the target is after the warmup


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# ---- solvers ---------------------------------------------------------------------------------


@settings(deadline=None)
@given(p=targets, at=at_epochs, w=warmups)
def test_solved_linear_and_exponential_hit_the_target(p, at, w):
    warmup = 0.9 * w * at
    for solve in (T.solve_linear, T.solve_exponential):
        schedule = solve(p, at, warmup_epochs=warmup)
        assert schedule(at) == pytest.approx(p, abs=1e-9)
        assert T.epoch_reaching(schedule, p) == pytest.approx(at, rel=1e-9)
        assert schedule.warmup_epochs == warmup


@settings(deadline=None)
@given(p=targets, at=at_epochs, w=warmups, b=st.floats(0.1, 200.0))
def test_solved_inverse_sigmoid_with_given_width(p, at, w, b):
    warmup = 0.9 * w * at
    schedule = T.solve_inverse_sigmoid(p, at, b=b, warmup_epochs=warmup)
    assert schedule.b == b
    assert schedule(at) == pytest.approx(p, abs=1e-9)


@settings(deadline=None)
@given(p=st.floats(0.02, 0.99), at=at_epochs, w=warmups, ratio=st.floats(0.001, 0.9))
def test_solved_inverse_sigmoid_with_given_start(p, at, w, ratio):
    warmup = 0.9 * w * at
    start = ratio * p
    schedule = T.solve_inverse_sigmoid(p, at, start_p=start, warmup_epochs=warmup)
    assert schedule(warmup) == pytest.approx(start, rel=1e-7)
    assert schedule(at) == pytest.approx(p, abs=1e-9)
    assert T.epoch_reaching(schedule, p) == pytest.approx(at, rel=1e-7)


def test_half_at_sixty_percent_of_training():
    for kind, extra in (("linear", {}), ("exponential", {}), ("inverse_sigmoid", {"b": 10.0}),
                        ("inverse_sigmoid", {"start_p": 0.01})):
        schedule = T.solve_schedule(kind, p=0.5, at_fraction=0.6, total_epochs=100, **extra)
        assert schedule(60.0) == pytest.approx(0.5, abs=1e-12)
    assert T.solve_schedule("linear").end_epoch == pytest.approx(120.0)
    assert T.solve_schedule("exponential").k == pytest.approx(0.5 ** (1 / 60))
    assert T.solve_schedule("inverse_sigmoid", b=10).c == pytest.approx(60.0)
    # warmup counts as training time: the target stays at epoch 60
    assert T.solve_schedule("exponential", warmup_epochs=20)(60.0) == pytest.approx(0.5)


def test_seed_004_parameters_reached_by_the_solver():
    """Solving for the worked example's epoch-50 values gives back its parameters."""
    assert T.solve_linear(0.625, 50).end_epoch == pytest.approx(80.0)
    assert T.solve_exponential(1 - 0.97**50, 50).k == pytest.approx(0.97)
    assert T.solve_inverse_sigmoid(0.5, 50, b=10).c == pytest.approx(50.0)


# ---- epoch_reaching and max_slope ------------------------------------------------------------


@settings(deadline=None)
@given(p=st.floats(0.001, 0.999), c=st.floats(-50, 200), b=st.floats(0.5, 50), w=st.floats(0, 30))
def test_epoch_reaching_is_the_first_crossing(p, c, b, w):
    for schedule in (S.LinearSchedule(80, w), S.ExponentialSchedule(0.97, w), S.InverseSigmoidSchedule(c, b, w)):
        e = T.epoch_reaching(schedule, p)
        assert schedule(e) >= p - 1e-9
        if e > 1e-6:
            assert schedule(e * (1 - 1e-6)) < p + 1e-9


def test_epoch_reaching_edges():
    assert T.epoch_reaching(S.LinearSchedule(80), 1.0) == 80.0
    assert T.epoch_reaching(S.ExponentialSchedule(0.97), 1.0) == math.inf
    assert T.epoch_reaching(S.InverseSigmoidSchedule(50, 10), 1.0) == math.inf
    # below the sigmoid's starting value: reached as soon as the warmup ends
    assert T.epoch_reaching(S.InverseSigmoidSchedule(50, 10, warmup_epochs=5), 0.001) == 5.0
    assert T.epoch_reaching(S.InverseSigmoidSchedule(50, 10), 0.5) == 50.0


@pytest.mark.parametrize("schedule", [S.LinearSchedule(80), S.ExponentialSchedule(0.97),
                                      S.InverseSigmoidSchedule(50, 10), S.InverseSigmoidSchedule(-5, 10),
                                      S.InverseSigmoidSchedule(30, 4, warmup_epochs=10)])
def test_max_slope_matches_numerical_derivative(schedule):
    slope, where = T.max_slope(schedule)
    x = np.linspace(schedule.warmup_epochs + 1e-4, 150, 150_001)
    numeric = np.diff(T.schedule_curve(schedule, x)) / np.diff(x)
    assert slope == pytest.approx(numeric.max(), rel=1e-3)
    assert schedule(where) <= 1.0
    assert T.max_slope(S.LinearSchedule(80)) == (1 / 80, 0.0)
    assert T.max_slope(S.InverseSigmoidSchedule(50, 10)) == (pytest.approx(1 / 40), 50.0)


# ---- Bengio et al.'s convention --------------------------------------------------------------


@settings(deadline=None)
@given(i=st.floats(0, 1e5), steps=st.floats(1, 1000), k_exp=st.floats(0.9, 0.99999),
       k_sig=st.floats(1, 5000), c_lin=st.floats(1e-6, 0.1))
def test_from_bengio_is_one_minus_epsilon_on_the_epoch_clock(i, steps, k_exp, k_sig, c_lin):
    epoch = i / steps
    assume(k_exp**steps > 0)
    assert T.from_bengio("exponential", k=k_exp, steps_per_epoch=steps)(epoch) == pytest.approx(
        1 - S.bengio_exponential_epsilon(i, k_exp), abs=1e-9)
    assert T.from_bengio("inverse_sigmoid", k=k_sig, steps_per_epoch=steps)(epoch) == pytest.approx(
        1 - S.bengio_inverse_sigmoid_epsilon(i, k_sig), abs=1e-9)
    assert T.from_bengio("linear", k=1.0, c=c_lin, steps_per_epoch=steps)(epoch) == pytest.approx(
        1 - S.bengio_linear_epsilon(i, k=1.0, c=c_lin), abs=1e-9)


@settings(deadline=None)
@given(midpoint=st.floats(0, 1e6))
def test_bengio_k_for_midpoint(midpoint):
    k = T.bengio_k_for_midpoint(midpoint)
    assert k >= 1
    assert k * math.log(k) == pytest.approx(midpoint, rel=1e-9, abs=1e-9)
    assert T.from_bengio("inverse_sigmoid", k=k).c == pytest.approx(midpoint, rel=1e-9, abs=1e-9)
    if midpoint > 0:
        assert S.bengio_inverse_sigmoid_epsilon(midpoint, k) == pytest.approx(0.5)


# ---- counting model tokens -------------------------------------------------------------------


def test_counts_match_the_training_code():
    """One coin per answer token: the core's Draws replaces p·T tokens on average, and leaves a
    sequence untouched with probability (1 − p)^T."""
    from handbook_utils.strategies import Draws
    from handbook_utils.tasks import AdditionChainTask

    task = AdditionChainTask(n_terms=3, max_value=9)
    example = task.example([4, 5, 6])
    seq_len = len(example.target)
    batch = task.batch([example] * 20_000)
    p = 0.05
    draws = Draws.sample(batch, task.tokenizer.vocab_size, p, "argmax", torch.Generator().manual_seed(0))
    always = Draws.sample(batch, task.tokenizer.vocab_size, 1.0, "argmax")
    assert int(always.use_model[0].sum()) == seq_len  # every answer character can be replaced
    per_row = draws.use_model.sum(dim=1).double()
    assert per_row.mean().item() == pytest.approx(T.expected_model_tokens(p, seq_len), rel=0.03)
    assert (per_row == 0).double().mean().item() == pytest.approx(T.all_gold_probability(p, seq_len), abs=0.02)


def test_expected_tokens_and_all_gold_probability():
    assert T.expected_model_tokens(0.25, 40) == 10.0
    assert T.all_gold_probability(0.0, 7) == 1.0 and T.all_gold_probability(1.0, 7) == 0.0
    np.testing.assert_allclose(T.expected_model_tokens(np.array([0.0, 0.5]), 10), [0.0, 5.0])
    np.testing.assert_allclose(T.all_gold_probability(np.array([0.5]), 3), [0.125])


def test_model_tokens_per_epoch_averages_the_steps_of_each_epoch():
    const = T.model_tokens_per_epoch(S.ConstantSchedule(0.3), 50, 4, steps_per_epoch=7)
    np.testing.assert_allclose(const, 15.0)
    E, steps = 40.0, 10
    linear = T.model_tokens_per_epoch(S.LinearSchedule(E), 1, 20, steps_per_epoch=steps)
    expected = [(e + (steps - 1) / (2 * steps)) / E for e in range(20)]
    np.testing.assert_allclose(linear, expected)


def test_explorer_data_default_state():
    state = T.explorer_data()
    assert state.final_p["linear"] == 1.0
    assert state.reach_half == pytest.approx(
        {"linear": 40.0, "exponential": math.log(0.5) / math.log(0.97), "inverse_sigmoid": 50.0})
    for kind in T.KINDS:
        assert state.tokens_per_epoch[kind].shape == (100,)
        assert 0 < state.model_share(kind) < 1
    assert state.curves["linear"][0] == 0.0
    warm = T.explorer_data(warmup_epochs=10)
    assert all(warm.total_tokens[k] < state.total_tokens[k] for k in T.KINDS)


# ---- bad inputs ------------------------------------------------------------------------------

INVALID = [
    (T.solve_linear, dict(p=0.0, at_epoch=10), "p"),
    (T.solve_linear, dict(p=1.5, at_epoch=10), "p"),
    (T.solve_linear, dict(p=0.5, at_epoch=10, warmup_epochs=10), "at_epoch"),
    (T.solve_linear, dict(p=0.5, at_epoch=10, warmup_epochs=-1), "warmup_epochs"),
    (T.solve_exponential, dict(p=1.0, at_epoch=10), "p"),
    (T.solve_exponential, dict(p=0.5, at_epoch=float("nan")), "at_epoch"),
    (T.solve_inverse_sigmoid, dict(p=0.5, at_epoch=10), "b or start_p"),
    (T.solve_inverse_sigmoid, dict(p=0.5, at_epoch=10, b=1, start_p=0.1), "b or start_p"),
    (T.solve_inverse_sigmoid, dict(p=0.5, at_epoch=10, b=0), "b"),
    (T.solve_inverse_sigmoid, dict(p=0.5, at_epoch=10, start_p=0.6), "start_p"),
    (T.solve_inverse_sigmoid, dict(p=0.5, at_epoch=10, start_p=0.0), "start_p"),
    (T.solve_schedule, dict(kind="cosine"), "kind"),
    (T.solve_schedule, dict(kind="linear", at_fraction=0), "at_fraction"),
    (T.solve_schedule, dict(kind="linear", total_epochs=-3), "total_epochs"),
    (T.solve_schedule, dict(kind="linear", b=3), "b"),
    (T.epoch_reaching, dict(schedule=S.LinearSchedule(5), p=0), "p"),
    (T.from_bengio, dict(kind="linear", k=0.9, c=0.01), "k"),
    (T.from_bengio, dict(kind="linear", k=1.0, c=0.01, epsilon_min=0.1), "epsilon_min"),
    (T.from_bengio, dict(kind="linear", k=1.0), "c"),
    (T.from_bengio, dict(kind="exponential", k=1.0), "k"),
    (T.from_bengio, dict(kind="inverse_sigmoid", k=0.5), "k"),
    (T.from_bengio, dict(kind="exponential", k=0.9, steps_per_epoch=0), "steps_per_epoch"),
    (T.bengio_k_for_midpoint, dict(midpoint=-1), "midpoint"),
    (T.expected_model_tokens, dict(p=1.2, seq_len=5), "p"),
    (T.expected_model_tokens, dict(p=0.2, seq_len=0), "seq_len"),
    (T.all_gold_probability, dict(p=np.array([0.1, -0.1]), seq_len=5), "p"),
    (T.model_tokens_per_epoch, dict(schedule=S.LinearSchedule(5), seq_len=5, total_epochs=0), "total_epochs"),
    (T.model_tokens_per_epoch, dict(schedule=S.LinearSchedule(5), seq_len=5, total_epochs=3,
                                    steps_per_epoch=0), "steps_per_epoch"),
    (T.make_schedule, dict(kind="linear", end_epoch=0), "end_epoch"),
    (T.make_schedule, dict(kind="exponential", k=1.1), "k"),
    (T.explorer_data, dict(b=-1), "b"),
    (T.explorer_data, dict(total_epochs=0), "total_epochs"),
]


@pytest.mark.parametrize("fn, kwargs, name", INVALID, ids=lambda v: getattr(v, "__name__", None))
def test_bad_values_raise_value_error_naming_the_parameter(fn, kwargs, name):
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        fn(**kwargs)


def test_wrong_types_raise_type_error():
    with pytest.raises(TypeError, match="p must"):
        T.solve_linear("0.5", 10)
    with pytest.raises(TypeError, match="seq_len"):
        T.expected_model_tokens(0.5, 3.0)
    with pytest.raises(TypeError, match="schedule"):
        T.epoch_reaching(lambda e: 0.5, 0.5)
    # numpy scalars are numbers too (the core schedules reject np.int64 epochs; we convert)
    assert T.solve_linear(np.float32(0.5), np.int64(60)).end_epoch == pytest.approx(120)
    assert T.schedule_curve(S.LinearSchedule(10), np.arange(3)).tolist() == [0.0, 0.1, 0.2]


# ---- plots and the widget --------------------------------------------------------------------


def test_plot_schedule_curves():
    schedules = {"lin": S.LinearSchedule(80), "exp": S.ExponentialSchedule(0.97)}
    fig = T.plot_schedule_curves(schedules, 100, mark_epoch=50)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts] == ["0.625", "0.782"]
    solid = [line for line in ax.lines if line.get_linestyle() == "-" and len(line.get_xdata()) > 2]
    assert len(solid) == 2
    fig2 = T.plot_schedule_curves(schedules, 100, warmup_epochs=10, target=(60, 0.5))
    dashed = [line for line in fig2.axes[0].lines if line.get_linestyle() == "--" and len(line.get_xdata()) > 2]
    assert len(dashed) == 2
    assert T.plot_schedule_curves([S.LinearSchedule(80)], 100).axes[0].get_legend() is not None
    with pytest.raises(ValueError, match="schedules"):
        T.plot_schedule_curves({}, 100)


def test_plot_conventions_and_explorer_figure():
    schedules = {"exponential": S.ExponentialSchedule(0.97)}
    fig = T.plot_conventions(schedules, 100, bengio={"k^i": ("exponential", lambda e: 0.97**e)})
    left, right = fig.axes
    np.testing.assert_allclose(left.lines[0].get_ydata() + right.lines[0].get_ydata(), 1.0)
    fig = T.plot_explorer(T.explorer_data())
    assert len(fig.axes) == 2 and len(fig.axes[1].lines) >= 3


def test_schedule_explorer_widget_follows_its_sliders():
    pytest.importorskip("ipywidgets")
    w = T.ScheduleExplorer()
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
        T.ScheduleExplorer(speed=3)


def test_schedule_explorer_can_wait_for_the_first_move():
    pytest.importorskip("ipywidgets")
    w = T.ScheduleExplorer(draw_now=False, seq_len=50)
    assert w.figures_drawn == 0
    assert "50-token answer" in w.summary.value
    w.sliders["k"].value = 0.9
    assert w.state.schedules["exponential"].k == pytest.approx(0.9)
    assert w.figures_drawn == 1
    assert plt.get_fignums() == []
