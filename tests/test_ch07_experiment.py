"""Chapter 7's experiment and its reading: the start, equal budgets, correction data, measurements on
held-out problems, one cell trained twice, and the verdicts computed from cells."""

import copy
import dataclasses
import random

import pytest

from handbook_utils.chapters import ch07_experiment as xp
from handbook_utils.chapters import ch07_figures as views
from handbook_utils.recipes import addition_recipe
from handbook_utils.strategies import ScheduledSampling
from handbook_utils.tasks import AdditionChainTask

SMOKE = xp.SETTINGS["smoke"]


def test_the_start_is_chapter_3s_recipe_on_the_training_split():
    full = xp.SETTINGS["full"]
    chapter3 = addition_recipe("quick")
    start = full.start(0)
    assert start.task == dataclasses.replace(chapter3.task, split="train", test_share=full.test_share)
    assert start.config() == chapter3.config() and start.total_steps == chapter3.total_steps
    assert (start.init.train["seed"], start.train["seed"]) == (chapter3.init.train["seed"], chapter3.train["seed"])
    other = full.start(3)
    assert other.model_seed == 3 and other.init.model_seed == 3 and other.train["seed"] != start.train["seed"]
    assert full.task("test").other() == full.task("train")
    assert isinstance(full.strategy(), ScheduledSampling)
    assert full.strategy().probability(60.0) == pytest.approx(0.5)  # p = 1/2 at 60% of the fine-tuning


def test_cells_cover_every_arm_and_seed_and_sampling_costs_more():
    s = xp.SETTINGS["full"]
    cells = xp.cells(s)
    assert len(cells) == len(xp.ARMS) * len(s.lrs) * 5
    assert len({tuple(c.label().values()) for c in cells}) == len(cells)
    assert xp.Cell(s, "DAgger", 1e-5, 0).cost > xp.Cell(s, "teacher forcing", 1e-5, 0).cost


def test_correction_data_fits_the_start_models_context():
    task = xp.CorrectionData(n_terms=(2, 6), max_value=9, split="train", rate=1.0)
    plain = AdditionChainTask(n_terms=(2, 6), max_value=9)
    examples = task.sample(400, 0)
    assert task.max_len == plain.max_len
    assert max(len(e.prompt) + len(e.target) for e in examples) <= plain.max_len  # the model's block size
    corrected = [e for e in examples if e.unscored]
    assert len(corrected) > 300  # only the longest chains have no slip that fits
    assert all(task.check_chain(e.prompt, e.target).slips_retracted == 1 for e in corrected)
    none = xp.CorrectionData(n_terms=(2, 6), max_value=9, rate=0.0).sample(50, 0)
    assert not any(e.unscored for e in none) and all(plain.check_chain(e.prompt, e.target).chain_valid for e in none)


@pytest.mark.parametrize("changes, name", [
    (dict(seeds=()), "seeds"), (dict(arms=("teacher forcing", "PPO")), "arms"), (dict(group_size=1), "group_size"),
    (dict(lrs=(0.0,)), "lrs"), (dict(lrs=()), "lrs"), (dict(correction_rate=2.0), "correction_rate"),
    (dict(start_steps=(1,)), "start_steps"),
    (dict(long_terms=9), "long_terms"), (dict(start_size="huge"), "size"),
])
def test_bad_settings_fail_early(changes, name):
    with pytest.raises(ValueError, match=name):
        dataclasses.replace(SMOKE, **changes)


def test_measure_is_on_held_out_problems_and_its_shares_are_consistent():
    start, before = xp.start_model(SMOKE, 0)
    assert before["held_out"] is True and before["kl_to_start"] == pytest.approx(0.0, abs=1e-6)
    for key in ("exact_match", "chain_valid", "answer_correct", "noticed", "valid_recovery", "right_invalid_notes",
                "followed_error", "long_failure", "false_alarms", "distinct_answers"):
        assert 0 <= before[key] <= 1, key
    assert before["valid_recovery"] + before["right_invalid_notes"] == pytest.approx(before["recovery"])


@pytest.mark.parametrize("arm", ["correction data", "DAgger"])
def test_every_arm_trains_from_a_copy_of_the_start(arm):
    start, _ = xp.start_model(SMOKE, 0)
    model = copy.deepcopy(start.model)
    s = dataclasses.replace(SMOKE, arms=(arm,))
    assert xp.train_arm(model, s, arm, 1e-4, 0) > 0
    assert any((a != b).any() for a, b in zip(model.parameters(), start.model.parameters()))


def test_a_cell_is_repeatable():
    cell = xp.cells(SMOKE)[1]
    a, b = xp.run_cell(cell), xp.run_cell(cell)
    assert {k: v for k, v in a.items() if not k.endswith("time_s")} == {k: v for k, v in b.items()
                                                                       if not k.endswith("time_s")}


# ---------------------------------------------------------------------------- reading cells


def _cells(gain: float = 0.1) -> list[dict]:
    rng = random.Random(0)
    out = []
    for seed in range(5):
        start = {m: 0.5 for m in views.METRICS}
        for arm in ("teacher forcing", "DAgger"):
            for lr in (1e-5, 1e-4):
                row = {m: 0.5 + rng.uniform(-0.01, 0.01) for m in views.METRICS}
                if arm == "DAgger":
                    row["exact_match"] += gain
                out.append({"arm": arm, "lr": lr, "seed": seed, "start": start,
                            "step_time_s": 0.1 * (1 + (arm == "DAgger")), **row})
    return out


def test_summary_starts_with_the_start_and_verdicts_follow_the_data():
    cells = _cells()
    summary = views.summarize(cells)
    assert list(summary) == [views.START, "teacher forcing, lr 1e-05", "teacher forcing, lr 0.0001",
                             "DAgger, lr 1e-05", "DAgger, lr 0.0001"]
    assert summary[views.START]["exact_match"].mean == 0.5
    assert list(views.summarize(cells, lr=1e-4)) == [views.START, "teacher forcing, lr 0.0001", "DAgger, lr 0.0001"]
    ref = ("teacher forcing", 1e-4)
    table = views.comparisons(cells, ref)
    assert table["DAgger, lr 0.0001"]["exact_match"].word == "better"
    assert table["DAgger, lr 0.0001"]["exact_match"].family == 3 * len(views.PRIMARY)
    assert views.comparisons(_cells(-0.1), ref)["DAgger, lr 0.0001"]["exact_match"].word == "worse"
    assert views.comparisons(_cells(0.0), ref)["DAgger, lr 0.0001"]["exact_match"].word == "within noise"
    assert views.compare(cells, ("DAgger", 1e-5), views.START, "exact_match").word == "better"
    cost = views.step_cost(cells)
    assert cost["DAgger, lr 1e-05"].mean == pytest.approx(2.0) and cost["teacher forcing, lr 0.0001"].mean == 1.0
    assert "DAgger" in str(views.format_table(summary, ["exact_match"])) and views.sampling_arms(cells) == ["DAgger"]
    fig = views.plot_arms(cells)
    assert len(fig.axes) == 2 and "DAgger" in views.describe_arms(cells, 1e-4)
    with pytest.raises(ValueError, match="metric"):
        views.by_seed(cells, ("DAgger", 1e-4), "accuracy")
    with pytest.raises(ValueError, match="no cells"):
        views.by_seed(cells, ("REINFORCE", 1e-4), "exact_match")
    with pytest.raises(ValueError, match="cells"):
        views.summarize([{"arm": "DAgger"}])


def test_verdicts_over_rows_are_tallied_in_words():
    cells = _cells()
    counts = views.verdict_counts(cells, ["DAgger"], "teacher forcing", "exact_match", family=4)
    assert counts["better"] == ["DAgger, lr 1e-05", "DAgger, lr 0.0001"] and not counts["worse"]
    assert views.tally(counts) == "better in 2 (DAgger, lr 1e-05; DAgger, lr 0.0001)"
    against_start = views.verdict_counts(_cells(-0.2), ["DAgger"], views.START, "exact_match", family=4)
    assert len(against_start["worse"]) == 2
    noise = views.verdict_counts(_cells(0.0), ["DAgger"], "teacher forcing", "exact_match", family=4)
    assert views.tally(noise) == "within noise in 2"
    cost = views.format_cost(views.step_cost(cells))
    assert "2.00×" in str(cost)
    at_lo = views.verdict_counts(cells, ["DAgger"], "teacher forcing", "exact_match", family=4, lr=1e-5)
    assert at_lo["better"] == ["DAgger"]  # named by arm at one rate


def test_the_facts_behind_the_sentences_come_from_the_cells():
    cells = _cells(0.1)
    assert views.mean(cells, views.START, "exact_match") == pytest.approx(0.5)
    arm, value = views.best_at(cells, 1e-4)
    assert arm == "DAgger" and value == pytest.approx(views.mean(cells, ("DAgger", 1e-4), "exact_match"))
    assert views.broken_at(cells, 1e-4) == [] and views.broken_at(_cells(-0.3), 1e-4)[0][0] == "DAgger"
    assert set(views.better_than(cells, "teacher forcing", family=4)) == {"DAgger, lr 1e-05", "DAgger, lr 0.0001"}
    assert views.better_than(_cells(0.0), "teacher forcing", family=4) == []


def test_the_mechanism_views_show_what_the_page_says():
    task = AdditionChainTask(n_terms=(2, 4), max_value=9)
    prompt = "2+2+3="
    written = "<think>2+2+3=5+3="  # a slip in line 1, then the line finished
    table = str(views.targets_after_a_slip(task, prompt, written, written.index("5")))
    last = table.splitlines()[-1]
    assert "8" in last and "differ" in last  # gold says 7 (from 4+3), the expert 8 (from 5+3)
    group = str(views.group_table(["a", "b"], "a", {"exact": [1.0, 0.0]}, [1.0, -1.0]))
    assert "(gold)" in group and "+1.00" in group and "-1.00" in group
    live = str(views.format_live({views.START: {"exact_match": 0.5}, "x": {"exact_match": 0.75}}, ["exact_match"]))
    assert "0.750" in live and views.START in live


def test_the_claims_table_reads_the_stored_result():
    from handbook_utils.results import load, result_path

    cells = load(result_path("ch07", "full")).cells
    table = views.claims_table(cells, family=48)
    assert [row[1] for row in table.rows] == ["000", "000", "000", "000", "001", "002"]
    assert "not orders of magnitude" in str(table) and "× here" in str(table)
