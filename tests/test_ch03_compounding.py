"""Chapter 3 logic: the p^T arithmetic, the exact-match identity, the independence test, failures."""

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from handbook_utils.chapters import ch03_compounding as cmp
from handbook_utils.metrics import evaluate
from handbook_utils.models import GPTConfig, make_model
from handbook_utils.tasks import AdditionChainTask, Example
from handbook_utils.training import train

TASK = AdditionChainTask(n_terms=(2, 3), max_value=4)


@pytest.fixture(scope="module")
def half_trained():
    """A model trained just long enough that some answers are right and some are wrong."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model: one thread is as fast, and immune to a busy machine
    try:
        model = make_model(GPTConfig.for_task(TASK, n_layer=1, n_head=2, n_embd=32), seed=0)
        history = train(model, TASK, steps=120, batch_size=32, lr=5e-3, seed=0, progress=False, cache=False,
                        device="cpu", eval_every=60, eval_n=64)
    finally:
        torch.set_num_threads(threads)
    return model.eval(), history


# ----------------------------------------------------------------------------------- arithmetic


def test_the_seed_numbers():
    assert cmp.sequence_success(0.99, 142) == pytest.approx(0.2399, abs=1e-4)
    assert cmp.sequence_success(0.95, 100) == pytest.approx(0.00592, abs=1e-5)
    assert cmp.length_at_success(0.99) == pytest.approx(68.97, abs=0.01)
    assert cmp.sequence_success(0.99, cmp.length_at_success(0.99)) == pytest.approx(0.5)


def test_arithmetic_is_vectorized_and_has_edges():
    T = np.arange(5)
    assert np.allclose(cmp.sequence_success(0.5, T), 0.5**T)
    assert cmp.length_at_success(1.0) == math.inf
    assert np.allclose(cmp.length_at_success(np.array([0.9, 0.99]), success=0.25),
                       np.log(0.25) / np.log([0.9, 0.99]))
    # halving the error rate roughly doubles the trustworthy length
    assert cmp.length_at_success(0.995) / cmp.length_at_success(0.99) == pytest.approx(2, rel=0.01)


@pytest.mark.parametrize("call", [
    lambda: cmp.sequence_success(1.5, 3),
    lambda: cmp.sequence_success(0.5, -1),
    lambda: cmp.sequence_success(float("nan"), 3),
    lambda: cmp.length_at_success(0.0),
    lambda: cmp.length_at_success(0.9, success=1.0),
    lambda: cmp.length_at_success(0.9, success=True),
    lambda: cmp.plot_half_length(p_min=0.99, p_max=0.9),
])
def test_bad_arguments_raise(call):
    with pytest.raises(ValueError):
        call()


def test_static_plots_and_explorer():
    assert isinstance(cmp.plot_success_curves(marks=[(0.99, 142)]), Figure)
    assert isinstance(cmp.plot_half_length(marks=[(0.99, "x")]), Figure)
    box = cmp.compounding_explorer(p=0.95, T=100)
    html = box.children[2].value
    assert "0.9500" in html and "0.6%" in html  # 0.95^100 = 0.59%
    p_slider = box.children[0].children[1]
    p_slider.value = 0.99
    assert "36.6%" in box.children[2].value  # 0.99^100


# ------------------------------------------------------------------ the exact-match identity


def test_exact_match_is_the_fraction_without_teacher_forced_errors(half_trained):
    model, _ = half_trained
    ev = evaluate(model, TASK, 200, 5)
    errors = cmp.teacher_forced_errors(model, TASK, 200, 5, batch_size=64)
    assert 0.05 < ev.exact_match < 0.95, ev.summary()  # the test needs a mixed model
    assert errors.zero_error_rate == ev.exact_match
    assert errors.token_accuracy == pytest.approx(ev.tf_token_accuracy)
    assert list(errors.lengths) == [len(e.target) + 1 for e in TASK.sample(200, 5)]


def test_checkpoint_and_length_points(half_trained):
    model, history = half_trained
    points = cmp.checkpoint_points(history)
    assert [p.value for p in points] == [60, 120] and all(p.kind == "checkpoint" for p in points)
    lengths = cmp.length_points(model, TASK, [2, 3], n=32, seed=0)
    assert [p.value for p in lengths] == [2, 3] and lengths[0].mean_length < lengths[1].mean_length
    for p in points + lengths:
        assert 0 <= p.predicted <= 1 and 0 <= p.exact_match <= 1
    assert isinstance(cmp.plot_exact_vs_prediction(points, lengths), Figure)
    assert isinstance(cmp.plot_training_curves(history, stage_ends=[60]), Figure)
    with pytest.raises(ValueError):
        cmp.checkpoint_points(type("H", (), {"evals": []})())


# ----------------------------------------------------------------------- independence check


def _errors(rows):
    examples = [Example("1+1=", "x" * (len(r) - 1)) for r in rows]
    return cmp.TokenErrors(examples, [np.array(r, dtype=bool) for r in rows])


def test_binomial_pmf_sums_to_one():
    for n, q in [(10, 0.1), (3, 0.5), (40, 0.0), (5, 1.0)]:
        pmf = cmp._binomial_pmf(n, q, 4)
        assert pmf.sum() == pytest.approx(1.0) and (pmf >= 0).all()
    assert cmp._binomial_pmf(10, 0.1, 3)[0] == pytest.approx(0.9**10)


def test_independent_errors_match_the_forecast():
    rng = np.random.default_rng(0)
    rows = [rng.random(30) > 0.02 for _ in range(4000)]
    check = cmp.independence_check(_errors(rows))
    assert check.variance_ratio == pytest.approx(1.0, abs=0.1)
    assert check.exact_match == pytest.approx(check.estimate_per_example, abs=0.03)
    assert np.allclose(check.observed, check.expected, atol=0.03)


def test_clustered_errors_make_the_forecast_pessimistic():
    # 90% of examples are perfect, 10% have 3 errors each: same mean, very different spread
    rows = [[True] * 30 for _ in range(90)] + [[False] * 3 + [True] * 27 for _ in range(10)]
    check = cmp.independence_check(_errors(rows), k_max=4)
    assert check.exact_match == 0.9 and check.estimate_per_example < 0.9
    assert check.direction == "under" and check.variance_ratio > 2
    assert check.worst_decile_share == 1.0 and check.observed[3] == pytest.approx(0.1)


def test_a_shared_hard_position_makes_the_forecast_optimistic():
    # every example has the same hard position 0, right half the time; everything else perfect
    rows = [[i % 2 == 0] + [True] * 19 for i in range(100)]
    check = cmp.independence_check(_errors(rows))
    assert check.exact_match == 0.5
    assert check.estimate_per_example > 0.5 and check.direction == "over"
    assert check.estimate_per_position == pytest.approx(0.5)  # position-aware is exact here
    assert isinstance(cmp.plot_error_distribution(check), Figure)


def test_independence_check_rejects_bad_input():
    with pytest.raises(TypeError):
        cmp.independence_check([[True]])
    with pytest.raises(ValueError):
        cmp.independence_check(_errors([[True]]), k_max=0)


# -------------------------------------------------------------------------- failures


def test_position_kinds_label_every_character():
    ex = AdditionChainTask(n_terms=3).example([1, 2, 13])
    kinds = cmp.position_kinds(ex.target)
    assert len(kinds) == len(ex.target) + 1  # + <eos>
    labelled = {i: k for i, k in enumerate(kinds[:-1])}
    target = ex.target  # <think>1+2+13=3+13=16</think>16
    assert [labelled[i] for i in range(len("<think>"), len("<think>1+2+13"))] == ["copy", "markup", "copy",
                                                                                  "markup", "copy", "copy"]
    s = target.index("=") + 1
    assert kinds[s] == "sum" and kinds[s + 1] == "markup" and kinds[s + 2] == kinds[s + 3] == "carry"
    last = target.index("</think>")
    assert kinds[last - 2 : last] == ["sum", "sum"] and kinds[last] == "markup"
    assert kinds[-3:] == ["answer", "answer", "markup"]
    with pytest.raises(ValueError):
        cmp.position_kinds("1+2=3")


def test_first_error_and_html():
    assert cmp.first_error_index("abc", "abc") is None
    assert cmp.first_error_index("abc", "abx") == 2
    assert cmp.first_error_index("abc", "ab") == 2
    ex = AdditionChainTask(n_terms=3).example([1, 2, 3])
    wrong = "<think>1+2+3=4+3=7</think>7"
    page = cmp.first_error_html(ex.prompt, ex.target, wrong)
    assert "background" in page and "&lt;think&gt;" in page and "wrong (should be 6)" in page
    assert "right despite" in cmp.first_error_html(ex.prompt, ex.target, "<think>1+2+3=4+3=6</think>6")


def test_after_first_error_and_picks():
    task = AdditionChainTask(n_terms=3)
    a, b, c = task.example([1, 2, 3]), task.example([2, 2, 2]), task.example([5, 1, 1])
    examples = [a, b, c]
    outputs = [
        "<think>1+2+3=4+3=7</think>7",  # slip, then trusts it to the end
        "<think>2+2+2=5+2=6</think>6",  # slip, then back on track
        c.target,  # right
    ]
    after = cmp.after_first_error(examples, outputs)
    assert after.n_failed == 2 and after.answer_wrong == 0.5
    assert after.well_formed == 1.0 and after.answer_follows_own_chain == 1.0
    assert after.consistent_after_error == 0.5  # only the first kept computing from its own line
    assert after.later_sums_wrong == pytest.approx(0.5)  # 7 vs 6 wrong; 6 vs 6 right
    kinds = cmp.first_error_kinds(examples, outputs)
    assert kinds["sum"] == 1.0
    picks = cmp.pick_failures(examples, outputs, k=3)
    assert len(picks) == 2 and {o for _, o in picks} == set(outputs[:2])
    assert cmp.failed_generations_html([c], [c.target]) == "<p>No failed generations.</p>"
    assert cmp.after_first_error([c], [c.target]).n_failed == 0


def test_error_rates_and_forecast_by_kind(half_trained):
    model, _ = half_trained
    errors = cmp.teacher_forced_errors(model, TASK, 100, 1)
    rates = cmp.error_rates_by_kind(errors)
    assert sum(t for t, _, _ in rates.values()) == errors.lengths.sum()
    assert sum(e for _, e, _ in rates.values()) == errors.n_errors.sum()
    assert 0 < cmp.forecast_by_kind(errors) <= 1
