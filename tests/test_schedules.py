"""Schedules: bounded, non-decreasing, the seed-004 numbers, the map between conventions, solvers
that hit their targets, and bad inputs that fail loudly and by name."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from handbook_utils import schedules as S

epochs = st.floats(0, 1e4, allow_nan=False)
targets = st.floats(0.01, 0.99)
at_epochs = st.floats(1.0, 1000.0)
warmups = st.floats(0.0, 1.0)  # as a fraction of at_epoch, so the target is after the warmup

CURVES = [
    lambda w: S.LinearSchedule(end_epoch=80, warmup_epochs=w),
    lambda w: S.ExponentialSchedule(k=0.97, warmup_epochs=w),
    lambda w: S.InverseSigmoidSchedule(c=50, b=10, warmup_epochs=w),
]

# ---- the curves ------------------------------------------------------------------------------


@pytest.mark.parametrize("curve", range(len(CURVES)))
@settings(deadline=None)
@given(a=epochs, b=epochs, warmup=st.floats(0, 100))
def test_bounded_and_non_decreasing(curve, a, b, warmup):
    f = CURVES[curve](warmup)
    lo, hi = sorted((a, b))
    assert 0.0 <= f(lo) <= f(hi) <= 1.0


def test_seed_004_values_at_epoch_50():
    assert S.LinearSchedule(80)(50) == pytest.approx(0.625)
    assert S.ExponentialSchedule(0.97)(50) == pytest.approx(0.782, abs=5e-4)
    assert S.InverseSigmoidSchedule(c=50, b=5)(50) == pytest.approx(0.5)
    assert S.ConstantSchedule(0.3)(50) == 0.3


def test_warmup_delays_the_curve():
    assert S.LinearSchedule(10, warmup_epochs=10)(9.9) == 0.0
    assert S.LinearSchedule(10, warmup_epochs=10)(15) == pytest.approx(0.5)
    assert S.ExponentialSchedule(0.5, warmup_epochs=5)(5) == 0.0
    assert S.InverseSigmoidSchedule(c=20, b=1, warmup_epochs=10)(30) == pytest.approx(0.5)


def test_extreme_epochs_do_not_overflow():
    assert S.InverseSigmoidSchedule(c=0, b=1e-3)(1e9) == 1.0
    assert S.InverseSigmoidSchedule(c=1e9, b=1e-3)(0) == 0.0


def test_schedule_objects_are_values():
    """Frozen and equal by parameters: what the cache and ``dataclasses.replace`` rely on."""
    assert S.LinearSchedule(80) == S.LinearSchedule(80) and hash(S.LinearSchedule(80)) == hash(S.LinearSchedule(80))
    with pytest.raises(AttributeError):
        S.LinearSchedule(80).end_epoch = 5  # type: ignore[misc]


def test_families_by_name():
    assert S.make_schedule("exponential", k=0.97) == S.ExponentialSchedule(0.97)
    assert S.make_schedule("inverse_sigmoid", 5, c=np.float32(50), b=10) == S.InverseSigmoidSchedule(50, 10, 5)
    for kind in S.KINDS:
        schedule = S.solve_schedule(kind, b=10) if kind == "inverse_sigmoid" else S.solve_schedule(kind)
        assert S.kind_of(schedule) == kind
        assert S.describe(schedule).startswith(S.KIND_LABELS[kind])
    assert S.kind_of(S.ConstantSchedule(0.5)) is None
    assert S.describe(S.LinearSchedule(80, warmup_epochs=10)) == "linear, E=80, warmup 10"
    assert S.check_family(S.LinearSchedule(80)) == S.LinearSchedule(80)


def test_schedule_curve_evaluates_every_epoch():
    assert S.schedule_curve(S.LinearSchedule(10), np.arange(3)).tolist() == [0.0, 0.1, 0.2]
    assert S.schedule_curve(S.ConstantSchedule(0.25), [0.0, 7.5]).shape == (2,)


# ---- Bengio et al.'s convention --------------------------------------------------------------


@settings(deadline=None)
@given(i=st.floats(0, 1e4), k=st.floats(1, 500))
def test_bengio_inverse_sigmoid_is_its_closed_form(i, k):
    eps = S.bengio_inverse_sigmoid_epsilon(i, k)
    assert eps == pytest.approx(k / (k + math.exp(min(i / k, 700))), abs=1e-12)


@settings(deadline=None)
@given(i=st.floats(0, 1e5), steps=st.floats(1, 1000), k_exp=st.floats(0.9, 0.99999),
       k_sig=st.floats(1, 5000), c_lin=st.floats(1e-6, 0.1))
def test_from_bengio_is_one_minus_epsilon_on_the_epoch_clock(i, steps, k_exp, k_sig, c_lin):
    epoch = i / steps
    assume(k_exp**steps > 0)
    assert S.from_bengio("exponential", k=k_exp, steps_per_epoch=steps)(epoch) == pytest.approx(
        1 - S.bengio_exponential_epsilon(i, k_exp), abs=1e-9)
    assert S.from_bengio("inverse_sigmoid", k=k_sig, steps_per_epoch=steps)(epoch) == pytest.approx(
        1 - S.bengio_inverse_sigmoid_epsilon(i, k_sig), abs=1e-9)
    assert S.from_bengio("linear", k=1.0, c=c_lin, steps_per_epoch=steps)(epoch) == pytest.approx(
        1 - S.bengio_linear_epsilon(i, k=1.0, c=c_lin), abs=1e-9)


def test_from_bengio_with_one_step_per_epoch_keeps_the_parameters():
    """The map stated in the docs: same k (exponential), c = k ln k and b = k (inverse sigmoid)."""
    assert S.from_bengio("exponential", k=0.97) == S.ExponentialSchedule(0.97)
    assert S.from_bengio("linear", k=1.0, c=1 / 80) == S.LinearSchedule(80)
    sig = S.from_bengio("inverse_sigmoid", k=20.0)
    assert (sig.c, sig.b) == (pytest.approx(20 * math.log(20)), 20.0)


@settings(deadline=None)
@given(midpoint=st.floats(0, 1e6))
def test_bengio_k_for_midpoint(midpoint):
    k = S.bengio_k_for_midpoint(midpoint)
    assert k >= 1
    assert k * math.log(k) == pytest.approx(midpoint, rel=1e-9, abs=1e-9)
    assert S.from_bengio("inverse_sigmoid", k=k).c == pytest.approx(midpoint, rel=1e-9, abs=1e-9)
    if midpoint > 0:
        assert S.bengio_inverse_sigmoid_epsilon(midpoint, k) == pytest.approx(0.5)


# ---- solvers ---------------------------------------------------------------------------------


@settings(deadline=None)
@given(p=targets, at=at_epochs, w=warmups)
def test_solved_linear_and_exponential_hit_the_target(p, at, w):
    warmup = 0.9 * w * at
    for solve in (S.solve_linear, S.solve_exponential):
        schedule = solve(p, at, warmup_epochs=warmup)
        assert schedule(at) == pytest.approx(p, abs=1e-9)
        assert S.epoch_reaching(schedule, p) == pytest.approx(at, rel=1e-9)
        assert schedule.warmup_epochs == warmup


@settings(deadline=None)
@given(p=targets, at=at_epochs, w=warmups, b=st.floats(0.1, 200.0))
def test_solved_inverse_sigmoid_with_given_width(p, at, w, b):
    warmup = 0.9 * w * at
    schedule = S.solve_inverse_sigmoid(p, at, b=b, warmup_epochs=warmup)
    assert schedule.b == b
    assert schedule(at) == pytest.approx(p, abs=1e-9)


@settings(deadline=None)
@given(p=st.floats(0.02, 0.99), at=at_epochs, w=warmups, ratio=st.floats(0.001, 0.9))
def test_solved_inverse_sigmoid_with_given_start(p, at, w, ratio):
    warmup = 0.9 * w * at
    start = ratio * p
    schedule = S.solve_inverse_sigmoid(p, at, start_p=start, warmup_epochs=warmup)
    assert schedule(warmup) == pytest.approx(start, rel=1e-7)
    assert schedule(at) == pytest.approx(p, abs=1e-9)
    assert S.epoch_reaching(schedule, p) == pytest.approx(at, rel=1e-7)


def test_half_at_sixty_percent_of_training():
    for kind, extra in (("linear", {}), ("exponential", {}), ("inverse_sigmoid", {"b": 10.0}),
                        ("inverse_sigmoid", {"start_p": 0.01})):
        schedule = S.solve_schedule(kind, p=0.5, at_fraction=0.6, total_epochs=100, **extra)
        assert schedule(60.0) == pytest.approx(0.5, abs=1e-12)
    assert S.solve_schedule("linear").end_epoch == pytest.approx(120.0)
    assert S.solve_schedule("exponential").k == pytest.approx(0.5 ** (1 / 60))
    assert S.solve_schedule("inverse_sigmoid", b=10).c == pytest.approx(60.0)
    # warmup counts as training time: the target stays at epoch 60
    assert S.solve_schedule("exponential", warmup_epochs=20)(60.0) == pytest.approx(0.5)


def test_seed_004_parameters_reached_by_the_solver():
    """Solving for the worked example's epoch-50 values gives back its parameters."""
    assert S.solve_linear(0.625, 50).end_epoch == pytest.approx(80.0)
    assert S.solve_exponential(1 - 0.97**50, 50).k == pytest.approx(0.97)
    assert S.solve_inverse_sigmoid(0.5, 50, b=10).c == pytest.approx(50.0)


# ---- epoch_reaching and max_slope ------------------------------------------------------------


@settings(deadline=None)
@given(p=st.floats(0.001, 0.999), c=st.floats(-50, 200), b=st.floats(0.5, 50), w=st.floats(0, 30))
def test_epoch_reaching_is_the_first_crossing(p, c, b, w):
    for schedule in (S.LinearSchedule(80, w), S.ExponentialSchedule(0.97, w), S.InverseSigmoidSchedule(c, b, w)):
        e = S.epoch_reaching(schedule, p)
        assert schedule(e) >= p - 1e-9
        if e > 1e-6:
            assert schedule(e * (1 - 1e-6)) < p + 1e-9


def test_epoch_reaching_edges():
    assert S.epoch_reaching(S.LinearSchedule(80), 1.0) == 80.0
    assert S.epoch_reaching(S.ExponentialSchedule(0.97), 1.0) == math.inf
    assert S.epoch_reaching(S.InverseSigmoidSchedule(50, 10), 1.0) == math.inf
    # below the sigmoid's starting value: reached as soon as the warmup ends
    assert S.epoch_reaching(S.InverseSigmoidSchedule(50, 10, warmup_epochs=5), 0.001) == 5.0
    assert S.epoch_reaching(S.InverseSigmoidSchedule(50, 10), 0.5) == 50.0


@pytest.mark.parametrize("schedule", [S.LinearSchedule(80), S.ExponentialSchedule(0.97),
                                      S.InverseSigmoidSchedule(50, 10), S.InverseSigmoidSchedule(-5, 10),
                                      S.InverseSigmoidSchedule(30, 4, warmup_epochs=10)])
def test_max_slope_matches_numerical_derivative(schedule):
    slope, where = S.max_slope(schedule)
    x = np.linspace(schedule.warmup_epochs + 1e-4, 150, 150_001)
    numeric = np.diff(S.schedule_curve(schedule, x)) / np.diff(x)
    assert slope == pytest.approx(numeric.max(), rel=1e-3)
    assert schedule(where) <= 1.0
    assert S.max_slope(S.LinearSchedule(80)) == (1 / 80, 0.0)
    assert S.max_slope(S.InverseSigmoidSchedule(50, 10)) == (pytest.approx(1 / 40), 50.0)


# ---- bad inputs ------------------------------------------------------------------------------

INVALID = [
    (S.LinearSchedule, dict(end_epoch=0), "end_epoch"),
    (S.LinearSchedule, dict(end_epoch=-5), "end_epoch"),
    (S.LinearSchedule, dict(end_epoch=5, warmup_epochs=-1), "warmup_epochs"),
    (S.LinearSchedule, dict(end_epoch=float("inf")), "end_epoch"),
    (S.ExponentialSchedule, dict(k=1.0), "k"),
    (S.ExponentialSchedule, dict(k=0.0), "k"),
    (S.ExponentialSchedule, dict(k=1.5), "k"),
    (S.ExponentialSchedule, dict(k=0.9, warmup_epochs=float("inf")), "warmup_epochs"),
    (S.InverseSigmoidSchedule, dict(c=5, b=0), "b"),
    (S.InverseSigmoidSchedule, dict(c=5, b=-2), "b"),
    (S.InverseSigmoidSchedule, dict(c=float("nan"), b=1), "c"),
    (S.ConstantSchedule, dict(p=1.5), "p"),
    (S.make_schedule, dict(kind="linear", end_epoch=0), "end_epoch"),
    (S.make_schedule, dict(kind="exponential", k=1.1), "k"),
    (S.make_schedule, dict(kind="cosine"), "kind"),
    (S.bengio_inverse_sigmoid_epsilon, dict(i=1, k=0.5), "k"),
    (S.bengio_exponential_epsilon, dict(i=1, k=1.2), "k"),
    (S.bengio_linear_epsilon, dict(i=1, k=1.0, c=0.0), "c"),
    (S.bengio_linear_epsilon, dict(i=1, epsilon_min=2.0), "epsilon_min"),
    (S.bengio_linear_epsilon, dict(i=-1), "i"),
    (S.from_bengio, dict(kind="linear", k=0.9, c=0.01), "k"),
    (S.from_bengio, dict(kind="linear", k=1.0, c=0.01, epsilon_min=0.1), "epsilon_min"),
    (S.from_bengio, dict(kind="linear", k=1.0), "c"),
    (S.from_bengio, dict(kind="exponential", k=0.9, c=0.01), "c"),
    (S.from_bengio, dict(kind="exponential", k=1.0), "k"),
    (S.from_bengio, dict(kind="inverse_sigmoid", k=0.5), "k"),
    (S.from_bengio, dict(kind="exponential", k=0.9, steps_per_epoch=0), "steps_per_epoch"),
    (S.bengio_k_for_midpoint, dict(midpoint=-1), "midpoint"),
    (S.solve_linear, dict(p=0.0, at_epoch=10), "p"),
    (S.solve_linear, dict(p=1.5, at_epoch=10), "p"),
    (S.solve_linear, dict(p=0.5, at_epoch=10, warmup_epochs=10), "at_epoch"),
    (S.solve_linear, dict(p=0.5, at_epoch=10, warmup_epochs=-1), "warmup_epochs"),
    (S.solve_exponential, dict(p=1.0, at_epoch=10), "p"),
    (S.solve_exponential, dict(p=0.5, at_epoch=float("nan")), "at_epoch"),
    (S.solve_inverse_sigmoid, dict(p=0.5, at_epoch=10), "b or start_p"),
    (S.solve_inverse_sigmoid, dict(p=0.5, at_epoch=10, b=1, start_p=0.1), "b or start_p"),
    (S.solve_inverse_sigmoid, dict(p=0.5, at_epoch=10, b=0), "b"),
    (S.solve_inverse_sigmoid, dict(p=0.5, at_epoch=10, start_p=0.6), "start_p"),
    (S.solve_inverse_sigmoid, dict(p=0.5, at_epoch=10, start_p=0.0), "start_p"),
    (S.solve_schedule, dict(kind="cosine"), "kind"),
    (S.solve_schedule, dict(kind="linear", at_fraction=0), "at_fraction"),
    (S.solve_schedule, dict(kind="linear", total_epochs=-3), "total_epochs"),
    (S.solve_schedule, dict(kind="linear", b=3), "b"),
    (S.epoch_reaching, dict(schedule=S.LinearSchedule(5), p=0), "p"),
]


@pytest.mark.parametrize("fn, kwargs, name", INVALID, ids=lambda v: getattr(v, "__name__", None))
def test_invalid_parameters_raise_value_error_naming_them(fn, kwargs, name):
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        fn(**kwargs)


@pytest.mark.parametrize("epoch", [-1, float("nan")])
def test_invalid_epochs_raise_when_the_schedule_is_read(epoch):
    for schedule in (S.LinearSchedule(5), S.ExponentialSchedule(0.9), S.InverseSigmoidSchedule(5, 1),
                     S.ConstantSchedule(0.5)):
        with pytest.raises(ValueError, match="^epoch"):
            schedule(epoch)


def test_non_numbers_raise_type_error():
    with pytest.raises(TypeError, match="end_epoch"):
        S.LinearSchedule(end_epoch="80")
    with pytest.raises(TypeError, match="epoch"):
        S.ExponentialSchedule(k=0.5)(True)
    with pytest.raises(TypeError, match="p must"):
        S.solve_linear("0.5", 10)
    with pytest.raises(TypeError, match="schedule"):
        S.epoch_reaching(lambda e: 0.5, 0.5)
    with pytest.raises(TypeError, match="schedule"):
        S.max_slope(S.ConstantSchedule(0.5))
    with pytest.raises(TypeError, match="schedule"):
        S.schedule_curve(0.5, [1.0])
    # numpy scalars are numbers too
    assert S.solve_linear(np.float32(0.5), np.int64(60)).end_epoch == pytest.approx(120)
