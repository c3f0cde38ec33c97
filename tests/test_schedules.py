"""Schedules: bounded, non-decreasing, the seed-004 numbers, and the map between conventions."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handbook_utils import schedules as S

epochs = st.floats(0, 1e4, allow_nan=False)
CURVES = [
    lambda e, w: S.linear_schedule(e, end_epoch=80, warmup_epochs=w),
    lambda e, w: S.exponential_schedule(e, k=0.97, warmup_epochs=w),
    lambda e, w: S.inverse_sigmoid_schedule(e, c=50, b=10, warmup_epochs=w),
]


@pytest.mark.parametrize("curve", range(len(CURVES)))
@settings(deadline=None)
@given(a=epochs, b=epochs, warmup=st.floats(0, 100))
def test_bounded_and_non_decreasing(curve, a, b, warmup):
    f = CURVES[curve]
    lo, hi = sorted((a, b))
    assert 0.0 <= f(lo, warmup) <= f(hi, warmup) <= 1.0


def test_seed_004_values_at_epoch_50():
    assert S.linear_schedule(50, end_epoch=80) == pytest.approx(0.625)
    assert S.exponential_schedule(50, k=0.97) == pytest.approx(0.782, abs=5e-4)
    assert S.inverse_sigmoid_schedule(50, c=50, b=5) == pytest.approx(0.5)
    assert S.LinearSchedule(80)(50) == pytest.approx(0.625)


def test_warmup_delays_the_curve():
    assert S.linear_schedule(9.9, end_epoch=10, warmup_epochs=10) == 0.0
    assert S.linear_schedule(15, end_epoch=10, warmup_epochs=10) == pytest.approx(0.5)
    assert S.exponential_schedule(5, k=0.5, warmup_epochs=5) == 0.0
    assert S.inverse_sigmoid_schedule(30, c=20, b=1, warmup_epochs=10) == pytest.approx(0.5)


def test_extreme_epochs_do_not_overflow():
    assert S.inverse_sigmoid_schedule(1e9, c=0, b=1e-3) == 1.0
    assert S.inverse_sigmoid_schedule(0, c=1e9, b=1e-3) == 0.0


@settings(deadline=None)
@given(i=st.floats(0, 1e4), k=st.floats(1, 500))
def test_inverse_sigmoid_convention_mapping(i, k):
    params = S.inverse_sigmoid_params_from_bengio(k)
    eps = S.bengio_inverse_sigmoid_epsilon(i, k)
    assert eps == pytest.approx(k / (k + math.exp(min(i / k, 700))), abs=1e-12)
    assert S.model_prob_from_epsilon(eps) == pytest.approx(S.inverse_sigmoid_schedule(i, **params), abs=1e-12)


@settings(deadline=None)
@given(i=st.floats(0, 1e3), k=st.floats(0.01, 0.99))
def test_exponential_and_linear_convention_mapping(i, k):
    assert S.model_prob_from_epsilon(S.bengio_exponential_epsilon(i, k)) == pytest.approx(
        S.exponential_schedule(i, k), abs=1e-12
    )
    E = 80.0
    assert S.model_prob_from_epsilon(S.bengio_linear_epsilon(i, k=1.0, c=1 / E)) == pytest.approx(
        S.linear_schedule(i, end_epoch=E), abs=1e-12
    )
    assert S.epsilon_from_model_prob(S.model_prob_from_epsilon(0.3)) == pytest.approx(0.3)


INVALID = [
    (S.linear_schedule, dict(epoch=1, end_epoch=0), "end_epoch"),
    (S.linear_schedule, dict(epoch=1, end_epoch=-5), "end_epoch"),
    (S.linear_schedule, dict(epoch=-1, end_epoch=5), "epoch"),
    (S.linear_schedule, dict(epoch=1, end_epoch=5, warmup_epochs=-1), "warmup_epochs"),
    (S.linear_schedule, dict(epoch=float("nan"), end_epoch=5), "epoch"),
    (S.linear_schedule, dict(epoch=1, end_epoch=float("inf")), "end_epoch"),
    (S.exponential_schedule, dict(epoch=1, k=1.0), "k"),
    (S.exponential_schedule, dict(epoch=1, k=0.0), "k"),
    (S.exponential_schedule, dict(epoch=1, k=1.5), "k"),
    (S.exponential_schedule, dict(epoch=1, k=0.9, warmup_epochs=float("inf")), "warmup_epochs"),
    (S.inverse_sigmoid_schedule, dict(epoch=1, c=5, b=0), "b"),
    (S.inverse_sigmoid_schedule, dict(epoch=1, c=5, b=-2), "b"),
    (S.inverse_sigmoid_schedule, dict(epoch=1, c=float("nan"), b=1), "c"),
    (S.bengio_inverse_sigmoid_epsilon, dict(i=1, k=0.5), "k"),
    (S.bengio_exponential_epsilon, dict(i=1, k=1.2), "k"),
    (S.bengio_linear_epsilon, dict(i=1, k=1.0, c=0.0), "c"),
    (S.bengio_linear_epsilon, dict(i=1, epsilon_min=2.0), "epsilon_min"),
    (S.model_prob_from_epsilon, dict(epsilon=1.5), "epsilon"),
]


@pytest.mark.parametrize("fn, kwargs, name", INVALID)
def test_invalid_parameters_raise_naming_them(fn, kwargs, name):
    with pytest.raises(ValueError, match=rf"^{name} must"):
        fn(**kwargs)


def test_non_numbers_raise_type_error():
    with pytest.raises(TypeError, match="end_epoch"):
        S.linear_schedule(1, end_epoch="80")
    with pytest.raises(TypeError, match="epoch"):
        S.exponential_schedule(True, k=0.5)
    with pytest.raises(ValueError, match="k must"):
        S.ExponentialSchedule(k=2.0)
    with pytest.raises(ValueError, match="p must"):
        S.ConstantSchedule(1.5)
