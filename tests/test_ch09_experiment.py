"""Chapter 9's experiment: settings, arms as recipes, cells, and what one trained model is measured on."""

import dataclasses

import pytest
import torch

from handbook_utils.chapters import ch09_experiment as xp
from handbook_utils.models import GPTConfig, make_model
from handbook_utils.strategies import MultiTokenPrediction, TeacherForcing
from handbook_utils.tasks import PathStarTask

SMOKE = xp.SETTINGS["smoke"]
TINY = dataclasses.replace(SMOKE, arms=xp.ARMS, seeds=(3,))


def test_each_arm_is_a_recipe_that_differs_only_where_it_should():
    recipes = {arm: TINY.recipe(arm, 3) for arm in xp.ARMS}
    assert recipes["reversed"].task.reverse and not recipes["teacher forcing"].task.reverse
    assert recipes["teacherless"].task.teacherless
    assert recipes["multi-token"].config().n_future == TINY.n_future
    assert isinstance(recipes["multi-token"].strategy, MultiTokenPrediction)
    assert all(isinstance(recipes[a].strategy, TeacherForcing) for a in ("teacher forcing", "reversed", "teacherless"))
    assert all(r.task.split == "train" and r.train["seed"] == 3 and r.model_seed == 3 for r in recipes.values())
    plain = recipes["teacher forcing"].build_model().state_dict()
    for arm in xp.ARMS:  # every arm of a seed starts from the same trunk
        state = recipes[arm].build_model().state_dict()
        assert all(torch.equal(state[name], value) for name, value in plain.items())


def test_cells_cover_every_arm_and_seed_with_a_cost():
    cells = xp.cells(dataclasses.replace(SMOKE, seeds=(0, 1, 2)))
    assert [c.label() for c in cells] == [{"arm": a, "seed": s} for a in SMOKE.arms for s in (0, 1, 2)]
    mtp = xp.Cell(TINY, "multi-token", 0)
    assert mtp.cost > xp.Cell(TINY, "teacher forcing", 0).cost


@pytest.mark.parametrize("changes, error, name", [
    (dict(seeds=()), ValueError, "seeds"),
    (dict(arms=("teacher forcing", "sideways")), ValueError, "arms"),
    (dict(n_future=1), ValueError, "n_future"),
    (dict(degree=1), ValueError, "degree"),
    (dict(path_length=1), ValueError, "path_length"),
    (dict(n_nodes=5), ValueError, "n_nodes"),
])
def test_bad_settings_fail_early(changes, error, name):
    with pytest.raises(error, match=name):
        dataclasses.replace(SMOKE, **changes)


@pytest.mark.parametrize("arm", xp.ARMS)
def test_measure_reports_consistent_numbers(arm):
    task = TINY.task(arm)
    model = make_model(GPTConfig.for_task(task, n_layer=1, n_head=1, n_embd=8), seed=0)
    out = xp.measure(model, task, 12, 5)
    assert len(out["step_tf"]) == len(out["step_free"]) == task.path_length
    assert out["first_tf"] == out["step_tf"][1] and out["first_free"] == out["step_free"][1]
    assert all(0 <= out[k] <= 1 for k in ("exact_match", "first_tf", "later_tf", "valid_path"))
    if arm == "teacherless":  # one pass over the dummies: gold and own prefixes are the same inputs
        assert out["step_tf"] == out["step_free"]


def test_valid_path_share_accepts_any_arm_and_rejects_broken_walks():
    for reverse in (False, True):
        task = PathStarTask(degree=3, path_length=4, reverse=reverse)
        examples = task.sample(3, 1)
        graphs = [task.parse(e) for e in examples]
        wrong_arm = [",".join(g.arms[1][::-1] if reverse else g.arms[1]) for g in graphs]
        assert xp.valid_path_share(task, examples, [e.target for e in examples]) == 1.0
        assert xp.valid_path_share(task, examples, wrong_arm) == 1.0  # a valid walk to the wrong leaf
        broken = [e.target[:-2] for e in examples]  # stops one node short
        assert xp.valid_path_share(task, examples, broken) == 0.0
    with pytest.raises(ValueError, match="same length"):
        xp.valid_path_share(task, examples, [])


def test_loss_curve_is_chunk_means():
    assert xp.loss_curve([1.0, 3.0, 5.0, 7.0], points=2) == [2.0, 6.0]
    assert len(xp.loss_curve(list(range(100)))) == xp.LOSS_POINTS
    assert xp.loss_curve([2.0], points=5) == [2.0]


def test_run_cell_trains_without_the_cache_and_repeats_exactly():
    cell = xp.Cell(TINY, "multi-token", 3)
    a, b = xp.run_cell(cell), xp.run_cell(cell)
    timings = {k for k in a if k.endswith("time_s")}
    assert timings == {"train_time_s", "wall_time_s"}
    assert {k: v for k, v in a.items() if k not in timings} == {k: v for k, v in b.items() if k not in timings}
    assert len(a["loss_curve"]) == TINY.steps


def test_training_problems_are_the_examples_training_draws(monkeypatch):
    recipe = dataclasses.replace(SMOKE, steps=3).recipe("teacher forcing", 1)
    seen = []
    original = PathStarTask.sample

    def recording(self, n, seed):
        examples = original(self, n, seed)
        seen.extend(examples)
        return examples

    monkeypatch.setattr(PathStarTask, "sample", recording)
    recipe.run(cache=False, progress=False)
    monkeypatch.setattr(PathStarTask, "sample", original)
    assert xp.training_problems(recipe) == seen and len(seen) == 3 * SMOKE.batch_size
