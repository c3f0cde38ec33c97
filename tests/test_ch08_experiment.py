"""Chapter 8's experiment: held-out splits, arms as strategies, cells, and one cell trained and measured."""

import dataclasses
import json

import pytest
import torch

from handbook_utils import experiments
from handbook_utils.chapters import ch08_experiment as xp
from handbook_utils.models import GPTConfig, make_model
from handbook_utils.strategies import ScheduledSampling, SoftScheduledSampling, TeacherForcing

SMOKE = xp.SETTINGS["smoke"]


def test_tasks_and_sizes():
    quick, full = xp.SETTINGS["quick"], xp.SETTINGS["full"]
    (short, short_terms, _), (long, long_terms, _) = full.tasks
    assert (short, long) == ("short chains", "long chains") and short_terms[1] <= long_terms[1]
    assert quick.tasks == (full.tasks[1],)  # the live demo: the long chains only
    assert full.model == quick.model and len(full.seeds) >= 5 and full.steps > quick.steps


def test_each_arm_is_the_strategy_it_names():
    s = xp.SETTINGS["full"]
    strategies = {arm: s.strategy(arm) for arm in xp.ARMS}
    assert isinstance(strategies["teacher forcing"], TeacherForcing)
    hard = strategies["hard tokens"]
    assert isinstance(hard, ScheduledSampling) and (hard.mode, hard.passes, hard.mix) == ("parallel", 1, "sample")
    expected = {"expected, stopped": ("expected", False), "expected, through": ("expected", True),
                "Gumbel, through": ("gumbel", True), "straight-through, through": ("straight_through", True)}
    for arm, (relax, through) in expected.items():
        st = strategies[arm]
        assert isinstance(st, SoftScheduledSampling)
        assert (st.relax, st.grad_through_first_pass, st.tau) == (relax, through, s.tau)
    p = hard.probability(s.at_fraction * s.total_epochs)
    assert p == pytest.approx(s.p) and strategies["expected, through"].schedule == hard.schedule
    recipes = [s.recipe("long chains", arm, 3) for arm in xp.ARMS]
    assert all(r.task.split == "train" and r.model_seed == 3 and r.train["seed"] == 3 for r in recipes)


def test_cells_cover_tasks_arms_and_seeds_with_costs():
    cells = xp.cells(xp.SETTINGS["full"])
    assert len(cells) == 2 * len(xp.ARMS) * 5
    assert len({tuple(c.label().values()) for c in cells}) == len(cells)
    s = xp.SETTINGS["full"]
    assert xp.Cell(s, "long chains", "expected, through", 0).cost > xp.Cell(s, "long chains", "hard tokens", 0).cost
    assert xp.Cell(s, "long chains", "hard tokens", 0).cost > xp.Cell(s, "long chains", "teacher forcing", 0).cost


@pytest.mark.parametrize("changes, name", [
    (dict(seeds=()), "seeds"), (dict(arms=("teacher forcing", "soft")), "arms"), (dict(tau=0.0), "tau"),
    (dict(p=1.5), "p"), (dict(test_share=1.0), "test_share"), (dict(tasks=()), "tasks"),
])
def test_bad_settings_fail_early(changes, name):
    with pytest.raises(ValueError, match=name):
        dataclasses.replace(SMOKE, **changes)
    with pytest.raises(ValueError, match="task must be one of"):
        SMOKE.task("medium chains")


def test_measure_is_on_held_out_problems():
    task = SMOKE.task("short chains")
    model = make_model(GPTConfig.for_task(task, n_layer=1, n_head=1, n_embd=8), seed=0)
    out = xp.measure(model, task, SMOKE)
    assert out["held_out"] is True
    for key in ("exact_match", "chain_valid", "tf_token_accuracy", "recovery", "valid_recovery"):
        assert 0 <= out[key] <= 1
    assert out["valid_recovery"] <= out["recovery"]


def test_a_trained_cell_reports_its_numbers_and_is_repeatable():
    cell = xp.cells(SMOKE)[1]
    a, b = xp.run_cell(cell), xp.run_cell(cell)
    assert {k: v for k, v in a.items() if not k.endswith("time_s")} == {k: v for k, v in b.items()
                                                                       if not k.endswith("time_s")}
    assert a["step_time_s"] > 0 and json.dumps(a)


def test_run_cells_reads_the_cache_the_second_time(tmp_path, monkeypatch):
    monkeypatch.setenv("HANDBOOK_CACHE_DIR", str(tmp_path))
    first = xp.run_cells(SMOKE, workers=1)
    assert [{k: r[k] for k in ("task", "arm", "seed")} for r in first] == [c.label() for c in xp.cells(SMOKE)]
    second = xp.run_cells(SMOKE, workers=1)
    assert second == first  # the very numbers, timings included: nothing was trained again


def test_registered_with_every_import_declared():
    exp = experiments.get("ch08")
    assert exp.load() is xp and experiments.undeclared_imports("ch08") == []
    assert set(exp.load().SETTINGS) >= {"quick", "full"}
    assert torch.__version__  # the cell cache is keyed by it


def test_gradient_alignment_probe():
    task = SMOKE.task("short chains")
    model = make_model(GPTConfig.for_task(task, n_layer=1, n_head=1, n_embd=8), seed=0)
    out = xp.gradient_alignment(model, task, SMOKE, n=16)
    assert -1 <= out["alignment"] <= 1 and 0 <= out["raises_gold"] <= 1
    with torch.no_grad():  # the probe needs autograd even where the caller has turned it off
        assert xp.gradient_alignment(model, task, SMOKE, n=16) == out
