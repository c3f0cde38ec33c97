"""Chapter 3, teacher-forced errors: the exact-match identity, the independence test, errors by kind."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from fixtures_addition import HALF_TRAINED_TASK as TASK
from fixtures_addition import half_trained
from matplotlib.figure import Figure

from handbook_utils.chapters import ch03_token_errors as te
from handbook_utils.metrics import evaluate
from handbook_utils.tasks import Example

# ------------------------------------------------------------------ the exact-match identity


def test_exact_match_is_the_fraction_without_teacher_forced_errors():
    model, _ = half_trained()
    ev = evaluate(model, TASK, 200, 5)
    errors = te.teacher_forced_errors(model, TASK, 200, 5, batch_size=64)
    assert 0.05 < ev.exact_match < 0.95, ev.summary()  # the test needs a mixed model
    assert errors.zero_error_rate == ev.exact_match
    assert errors.token_accuracy == pytest.approx(ev.tf_token_accuracy)
    assert list(errors.lengths) == [len(e.target) + 1 for e in TASK.sample(200, 5)]


# ----------------------------------------------------------------------- independence check


def _errors(rows):
    examples = [Example("1+1=", "x" * (len(r) - 1)) for r in rows]
    return te.TokenErrors(examples, [np.array(r, dtype=bool) for r in rows])


def test_binomial_pmf_sums_to_one():
    for n, q in [(10, 0.1), (3, 0.5), (40, 0.0), (5, 1.0)]:
        pmf = te._binomial_pmf(n, q, 4)
        assert pmf.sum() == pytest.approx(1.0) and (pmf >= 0).all()
    assert te._binomial_pmf(10, 0.1, 3)[0] == pytest.approx(0.9**10)


def test_independent_errors_match_the_forecast():
    rng = np.random.default_rng(0)
    rows = [rng.random(30) > 0.02 for _ in range(4000)]
    check = te.independence_check(_errors(rows))
    assert check.variance_ratio == pytest.approx(1.0, abs=0.1)
    assert check.exact_match == pytest.approx(check.estimate_per_example, abs=0.03)
    assert np.allclose(check.observed, check.expected, atol=0.03)


def test_clustered_errors_make_the_forecast_pessimistic():
    # 90% of examples are perfect, 10% have 3 errors each: same mean, very different spread
    rows = [[True] * 30 for _ in range(90)] + [[False] * 3 + [True] * 27 for _ in range(10)]
    check = te.independence_check(_errors(rows), k_max=4)
    assert check.exact_match == 0.9 and check.estimate_per_example < 0.9
    assert check.direction == "under" and check.variance_ratio > 2
    assert check.worst_decile_share == 1.0 and check.observed[3] == pytest.approx(0.1)


def test_a_shared_hard_position_makes_the_forecast_optimistic():
    # every example has the same hard position 0, right half the time; everything else perfect
    rows = [[i % 2 == 0] + [True] * 19 for i in range(100)]
    check = te.independence_check(_errors(rows))
    assert check.exact_match == 0.5
    assert check.estimate_per_example > 0.5 and check.direction == "over"
    assert check.estimate_per_position == pytest.approx(0.5)  # position-aware is exact here
    assert isinstance(te.plot_error_distribution(check), Figure)
    matplotlib.pyplot.close("all")


def test_independence_check_rejects_bad_input():
    with pytest.raises(TypeError):
        te.independence_check([[True]])
    with pytest.raises(ValueError):
        te.independence_check(_errors([[True]]), k_max=0)


# -------------------------------------------------------------------------- errors by kind


def test_error_rates_and_forecast_by_kind():
    model, _ = half_trained()
    errors = te.teacher_forced_errors(model, TASK, 100, 1)
    rates = te.error_rates_by_kind(errors)
    assert sum(t for t, _, _ in rates.values()) == errors.lengths.sum()
    assert sum(e for _, e, _ in rates.values()) == errors.n_errors.sum()
    assert 0 < te.forecast_by_kind(errors) <= 1
