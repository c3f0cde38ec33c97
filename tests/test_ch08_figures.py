"""Chapter 8's views: paired comparisons give the verdict the numbers imply, tables and figures carry
every arm, and the figures describe themselves in words."""

import matplotlib.pyplot as plt
import pytest

from handbook_utils.chapters import ch08_figures as views
from handbook_utils.chapters import ch08_toy_figures as toy_views
from handbook_utils.chapters.ch08_mechanics import CategoricalToy, bias_variance, error_by_samples
from handbook_utils.plotting import describe_figure


def _cells(shift=0.1, noise=(0.0, 0.01, -0.01, 0.02, -0.02)):
    """Two arms, five seeds: "hard tokens" is the reference, "expected, through" ``shift`` higher."""
    out = []
    for seed, e in enumerate(noise):
        for arm, base in (("hard tokens", 0.5), ("expected, through", 0.5 + shift)):
            out.append({"task": "long chains", "arm": arm, "seed": seed, "exact_match": base + e,
                        "chain_valid": base, "recovery": 0.3 + e, "valid_recovery": 0.2,
                        "tf_loss": 0.1 - (base - 0.5) / 10, "step_time_s": 0.01})
    return out


def test_paired_comparison_sees_a_shift_that_seeds_share():
    c = views.compare(_cells(0.1), "long chains", "expected, through", "hard tokens", "exact_match")
    assert c.word == "better" and c.delta == pytest.approx(0.1) and c.low > 0 and c.n == 5
    assert views.compare(_cells(-0.1), "long chains", "expected, through", "hard tokens", "exact_match").word == "worse"
    loss = views.compare(_cells(0.1), "long chains", "expected, through", "hard tokens", "tf_loss")
    assert loss.word == "better" and loss.delta < 0  # lower loss is better
    same = views.compare(_cells(0.0), "long chains", "expected, through", "hard tokens", "recovery")
    assert same.word == "within noise" and same.low <= 0 <= same.high


def test_noisy_differences_are_within_noise():
    cells = _cells(0.0)
    for c in cells:  # differences of both signs across seeds
        if c["arm"] == "expected, through":
            c["exact_match"] += 0.05 if c["seed"] % 2 else -0.05
    assert views.compare(cells, "long chains", "expected, through", "hard tokens", "exact_match").word == "within noise"


def test_summaries_tables_and_figure_cover_every_arm():
    cells = _cells()
    summary = views.summarize(cells, "long chains")
    assert list(summary) == ["hard tokens", "expected, through"]  # the book's order
    text = views.format_table(summary, ["exact_match", "tf_loss"])
    assert "hard tokens" in text and "expected, through" in text and "[" in text
    table = views.comparisons(cells, "long chains", "hard tokens")
    assert "better +0.100" in views.format_comparisons(table)
    fig = views.plot_arms(cells)
    alt = describe_figure(fig)
    assert "expected, through" in alt and "95% interval" in alt
    plt.close(fig)


def test_bad_inputs():
    with pytest.raises(ValueError, match="metric"):
        views.compare(_cells(), "long chains", "expected, through", "hard tokens", "accuracy")
    with pytest.raises(ValueError, match="at least 2"):
        views.compare(_cells()[:2], "long chains", "expected, through", "hard tokens", "exact_match")
    with pytest.raises(ValueError, match="no cells for task"):
        views.summarize(_cells(), "short chains")
    with pytest.raises(ValueError, match="cells must be"):
        views.summarize([], "long chains")


def test_toy_figures_describe_what_they_draw():
    toy = CategoricalToy()
    fig = toy_views.plot_relaxed_samples(toy, [0.1, 10.0])
    alt = describe_figure(fig)
    assert "τ = 0.1" in alt and "τ = 10" in alt
    plt.close(fig)
    fig = toy_views.plot_bias_spread(bias_variance(toy, [0.5, 2.0], draws=2000))
    assert "Gumbel-softmax" in describe_figure(fig) and "REINFORCE" in describe_figure(fig)
    plt.close(fig)
    fig = toy_views.plot_error_by_samples(error_by_samples(toy, [2, 8], [("reinforce", None)], repeats=50))
    assert "REINFORCE" in describe_figure(fig)
    plt.close(fig)


def test_tau_explorer_redraws_on_a_move():
    pytest.importorskip("ipywidgets")
    explorer = toy_views.TauExplorer(tau=1.0, draw_now=False)
    assert explorer.figures_drawn == 0 and explorer.slider.tooltip == "temperature τ"
    explorer.slider.value = 0.1
    assert explorer.figures_drawn == 1 and explorer.tau == pytest.approx(0.1)
    with pytest.raises(ValueError, match="tau"):
        toy_views.TauExplorer(tau=1000.0)


def test_gradient_effect_and_overall_words():
    cells = _cells(0.1)
    assert views.gradient_effect(cells, "long chains") == {}  # no pair that differs only in the gradient
    for c in list(cells):
        if c["arm"] == "expected, through":
            cells.append({**c, "arm": "expected, stopped", "exact_match": c["exact_match"] - 0.1})
    effect = views.gradient_effect(cells, "long chains")
    assert list(effect) == [("expected, through", "expected, stopped")]
    assert effect[("expected, through", "expected, stopped")]["exact_match"].word == "better"
    assert views.overall(["better", "within noise"]) == "helped"
    assert views.overall(["worse", "within noise"]) == "hurt"
    assert views.overall(["worse", "better"]) == "mixed"
    assert views.overall(["within noise"]) == "no difference the seeds resolve"
    with pytest.raises(ValueError, match="words"):
        views.overall(["good"])


def test_describe_gradient_effect_says_every_pair():
    cells = _cells(0.1)
    for c in list(cells):
        if c["arm"] == "expected, through":
            cells.append({**c, "arm": "expected, stopped", "exact_match": c["exact_match"] - 0.1})
    text = views.describe_gradient_effect(cells)
    assert text.startswith("On the long chains, expected, through against expected, stopped: exact match better")
    assert set(views.CONCLUSIONS) == {"hurt", "no difference the seeds resolve", "helped", "mixed"}
    with pytest.raises(ValueError, match="no pair"):
        views.describe_gradient_effect(_cells())
