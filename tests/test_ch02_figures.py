"""Chapter 2's two pictures: the measured influence of inputs on outputs, and the data-flow diagram."""

import numpy as np
import pytest

from handbook_utils.chapters import ch02_figures as figs
from handbook_utils.models import GPTConfig, make_model
from handbook_utils.plotting import describe_figure


def _model():
    return make_model(GPTConfig(vocab_size=12, block_size=16, n_layer=1, n_head=2, n_embd=16), seed=0).double()


def test_a_causal_model_has_no_influence_from_later_inputs():
    ids = [2, 5, 7, 3, 9, 4]
    grid = figs.influence(_model(), ids, seed=1)
    assert grid.shape == (6, 6)
    assert (grid[np.triu_indices(6, k=1)] == 0).all()  # the future never moves the past
    assert (np.diag(grid) > 0).all() and (grid[np.tril_indices(6)] > 0).mean() > 0.9
    assert (figs.influence(_model(), ids, seed=1) == grid).all()  # seeded


def test_the_pictures_describe_what_they_draw():
    grid = figs.influence(_model(), [2, 5, 7, 3], seed=0)
    fig = figs.plot_influence(grid, list("abcd"))
    text = describe_figure(fig)
    assert "4 by 4" in text and "6 cells" in text and "exactly zero" in text
    flow = describe_figure(figs.plot_data_flow("1+2=3", "1+3=4"))
    assert "'1+2=3'" in flow and "'1+3=4'" in flow and "next input" in flow


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="ids"):
        figs.influence(_model(), [2], seed=0)
    with pytest.raises(ValueError, match="matrix"):
        figs.plot_influence(np.zeros((3, 3)), list("ab"))
    with pytest.raises(ValueError, match="same length"):
        figs.plot_data_flow("1+2=3", "1+2")
