"""Chapter 6's comparison: arms, settings, stored runs, summaries, costs, K passes and figures."""

from __future__ import annotations

import dataclasses
import json
import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from handbook_utils.chapters import ch06_comparison as C  # noqa: E402
from handbook_utils.metrics import InjectedExample  # noqa: E402
from handbook_utils.models import GPTConfig, GRUConfig, make_model  # noqa: E402
from handbook_utils.plotting import describe_figure  # noqa: E402
from handbook_utils.recipes import addition_recipe  # noqa: E402
from handbook_utils.strategies import AlwaysSampling, Draws, ScheduledSampling, TeacherForcing  # noqa: E402
from handbook_utils.tasks import AdditionChainTask, CurriculumTask  # noqa: E402

TINY_TASK = AdditionChainTask(n_terms=(2, 3), max_value=3, split="train")
TINY = C.ComparisonSetting(
    name="tiny",
    tasks=(("tiny", TINY_TASK),),
    seeds=(0, 1),
    model=dict(n_layer=1, n_head=2, n_embd=16),
    steps=6,
    batch_size=4,
    lr=1e-2,
    eval_every=3,
    eval_n=8,
    injection_n=4,
    arms=("teacher forcing", "SS linear"),
)


def same(a, b) -> bool:
    """Equal results, nan included (an untrained model may write no well-formed answer at all)."""
    return json.dumps([r.to_dict() for r in a]) == json.dumps([r.to_dict() for r in b])


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("HANDBOOK_CACHE_DIR", str(tmp_path / "cache"))
    yield
    plt.close("all")


# ---- arms and settings -----------------------------------------------------------------------


def test_every_arm_is_what_its_name_says():
    arms = {a.name: a for a in C.default_arms(C.ARM_NAMES, total_epochs=100, p=0.5, at_fraction=0.6)}
    assert list(arms) == list(C.ARM_NAMES)
    for name, at in (("SS linear", 60), ("SS exponential", 60), ("SS inverse sigmoid", 60),
                     ("SS inverse sigmoid, ½ at 30%", 30), ("SS inverse sigmoid, ½ at 90%", 90),
                     ("uniform noise", 60)):
        s = arms[name].strategy
        assert s.mode == "parallel" and s.passes == 1
        assert math.isclose(s.probability(at), 0.5, abs_tol=1e-9), name
        assert s.probability(0.0) < 0.05 < s.probability(at)  # from near 0 at the start
    # the control uses the very schedule of the arm it controls, with random tokens instead of the model's
    assert isinstance(arms["uniform noise"].strategy, C.UniformNoise)
    assert arms["uniform noise"].strategy.schedule == arms["SS inverse sigmoid"].strategy.schedule
    free, one_pass = arms["free running"].strategy, arms["one-pass guesses"].strategy
    assert isinstance(free, AlwaysSampling) and free.mode == "sequential" and free.probability(0.0) == 1.0
    assert isinstance(one_pass, AlwaysSampling) and one_pass.mode == "parallel" and one_pass.passes == 1
    assert arms["curriculum"].curriculum_full_at == 60.0 and isinstance(arms["curriculum"].strategy, TeacherForcing)
    assert isinstance(arms["teacher forcing"].strategy, TeacherForcing)
    with pytest.raises(ValueError, match="name"):
        C.make_arm("always sampling")


def test_uniform_noise_replaces_only_where_the_coins_say_with_in_range_tokens():
    model = tiny_model()
    batch = TINY_TASK.batch(TINY_TASK.sample(6, 3))
    in_range = set(batch.targets[batch.loss_mask].tolist())
    _, fed = C.UniformNoise(1.0).forward(model, batch, generator=torch.Generator().manual_seed(0))
    replaceable = torch.zeros_like(batch.loss_mask)
    replaceable[:, 1:] = batch.loss_mask[:, :-1] & batch.loss_mask[:, 1:]
    assert torch.equal(fed[~replaceable], batch.inputs[~replaceable])  # prompt and padding untouched
    assert set(fed[replaceable].tolist()) <= in_range
    assert not torch.equal(fed[replaceable], batch.inputs[replaceable])  # random, not the gold
    _, none = C.UniformNoise(0.0).forward(model, batch)
    assert torch.equal(none, batch.inputs)
    loss = C.UniformNoise(0.5).loss(model, batch, generator=torch.Generator().manual_seed(1))
    loss.backward()
    assert math.isfinite(loss.item()) and model.wte.weight.grad is not None


def test_arm_recipe_changes_strategy_task_and_seeds():
    base = TINY.base_recipe("tiny")
    curriculum = C.make_arm("curriculum", at_fraction=0.05).recipe(base, seed=3)
    assert isinstance(curriculum.task, CurriculumTask) and curriculum.task.base == TINY_TASK
    assert curriculum.train["seed"] == 3 and curriculum.model_seed == 3
    ss = C.make_arm("SS linear").recipe(base, seed=1)
    assert ss.task == TINY_TASK and isinstance(ss.strategy, ScheduledSampling)
    assert ss.config() == base.config()  # same model architecture for every arm
    with pytest.raises(TypeError, match="Recipe"):
        C.make_arm("teacher forcing").recipe("base", 0)


def test_the_tasks_differ_in_length_only_and_train_on_the_training_split():
    full, quick = C.get_setting("full"), C.get_setting("quick")
    short, long = full.task("short chains"), full.task("long chains")
    assert short.max_value == long.max_value == 9  # every digit a slip can write occurs in the task
    assert short.n_terms[1] < long.n_terms[0]
    assert short.split == long.split == "train" and short.test_share == long.test_share
    assert quick.tasks == (("short chains", short),) and set(quick.arms) <= set(full.arms)
    for setting in (quick, full):
        recipe = setting.base_recipe("short chains")
        assert recipe.train["steps_per_epoch"] * setting.total_epochs == setting.steps
    assert len(full.seeds) >= 5 and full.steps // full.eval_every >= 10 and full.arms == C.ARM_NAMES
    book = addition_recipe("quick").config()  # the book's model: same layers and width
    mine = full.base_recipe("short chains").config()
    assert (mine.n_layer, mine.n_head, mine.n_embd) == (book.n_layer, book.n_head, book.n_embd)
    with pytest.raises(ValueError, match="setting"):
        C.get_setting("medium")
    with pytest.raises(KeyError, match="no task"):
        full.task("medium chains")
    with pytest.raises(ValueError, match="split='train'"):
        dataclasses.replace(TINY, tasks=(("all", AdditionChainTask(n_terms=(2, 3), max_value=3)),))
    with pytest.raises(ValueError, match="arms"):
        dataclasses.replace(TINY, arms=("teacher forcing", "always sampling"))


# ---- runs and the grid -----------------------------------------------------------------------


def injected(prompt, output, *, correct, followed=False, index=7):
    return InjectedExample(prompt=prompt, injected_prefix=output[: index + 1], output=output, injected_index=index,
                           true_answer=0, trusting_answer=0, final_correct=correct, followed_error=followed)


def test_slip_outcome_tells_a_valid_recovery_from_right_answers_through_invalid_notes():
    task = AdditionChainTask(n_terms=(3, 3), max_value=9)
    q = "1+2+3="  # the slip: the copy of the first number written as 2
    assert C.slip_outcome(task, injected(q, "<think>2+2+3=3+3=6</think>6", correct=True)) == "valid recovery"
    assert C.slip_outcome(task, injected(q, "<think>2+2+3=4+3=6</think>6", correct=True)) == "invalid notes"
    assert C.slip_outcome(task, injected(q, "<think>2+2+3=4+3=7</think>7", correct=False, followed=True)) == "followed"
    assert C.slip_outcome(task, injected(q, "<think>2+2+3=4+3=7</think>9", correct=False)) == "wrong"
    # a slip in a later line: the lines after it must continue the true chain
    late = "<think>1+2+3=4+3=6</think>6"  # slip in line 1 (3+3 written as 4+3), then the true sum
    assert C.slip_outcome(task, injected(q, late, correct=True, index=13)) == "valid recovery"
    assert C.slip_outcome(task, injected(q, "<think>1+2+3=4+3=7=6</think>6", correct=True, index=13)) == "invalid notes"


def test_run_one_measures_a_trained_model_on_held_out_problems():
    recipe = C.make_arm("teacher forcing").recipe(TINY.base_recipe("tiny"), seed=0)
    r = C.run_one(recipe, task_name="tiny", arm_name="tf", injection_n=4)
    assert (r.task, r.arm, r.seed) == ("tiny", "tf", 0)
    assert r.eval_steps == [3, 6] and len(r.losses) == 1  # one block of LOSS_BLOCK steps or fewer
    for name in ("exact_match", "chain_valid", "answer_correct", "free_token_accuracy", "recovery", "followed_error",
                 "tf_token_accuracy"):
        assert 0.0 <= getattr(r, name) <= 1.0
    assert math.isclose(r.valid_recovery + r.right_invalid_notes, r.recovery)
    assert r.tf_loss > 0 and r.wall_time_s > 0
    assert min(r.per_position_free_accuracy) <= r.free_token_accuracy <= max(r.per_position_free_accuracy)
    assert C.RunResult.from_dict(r.to_dict()) == r
    with pytest.raises(ValueError, match="eval_every"):
        C.run_one(recipe.replace(eval_every=None))


def test_the_experiment_cells_cover_the_grid():
    from handbook_utils import experiments
    from handbook_utils.chapters import ch06_experiment as E

    cells = E.cells(TINY)
    assert [c.label() for c in cells] == [{"task": "tiny", "arm": a, "seed": s}
                                          for a in TINY.arms for s in TINY.seeds]
    assert cells[0].recipe() == C.make_arm("teacher forcing").recipe(TINY.base_recipe("tiny"), 0)
    assert experiments.get("ch06").module == E.__name__ and experiments.undeclared_imports("ch06") == []
    full = E.cells(E.SETTINGS["full"])
    assert len(full) == 2 * len(C.ARM_NAMES) * 5
    assert max(full, key=lambda c: c.cost).arm == "free running"
    with pytest.raises(ValueError, match="arm"):
        E.Cell(TINY, "tiny", "curriculum", 0)
    with pytest.raises(KeyError, match="no task"):
        E.Cell(TINY, "huge", "teacher forcing", 0)


def test_grid_is_cached_and_repeatable():
    first = C.run_grid(TINY, workers=1)
    assert first.trained == 4
    assert [(r.arm, r.seed) for r in first.results] == [("teacher forcing", 0), ("teacher forcing", 1),
                                                         ("SS linear", 0), ("SS linear", 1)]
    again = C.run_grid(TINY, workers=1)
    assert again.trained == 0 and same(again.results, first.results)
    fresh = C.run_grid(TINY, workers=1, cache=False)
    for a, b in zip(first.results, fresh.results):  # retrained from scratch: the same numbers
        a.wall_time_s = b.wall_time_s  # the one number that may differ
    assert same(first.results, fresh.results)
    model = first.recipe("tiny", "SS linear", 1).run(progress=False).model  # the weights are in the model cache
    assert model.config.n_embd == 16


def test_grid_in_worker_processes_matches_serial(tmp_path, monkeypatch):
    one = dataclasses.replace(TINY, arms=("teacher forcing",))
    serial = C.run_grid(one, workers=1)
    monkeypatch.setenv("HANDBOOK_CACHE_DIR", str(tmp_path / "other"))
    parallel = C.run_grid(one, workers=2)
    assert parallel.trained == 2
    for a, b in zip(serial.results, parallel.results):
        a.wall_time_s = b.wall_time_s  # the one number that may differ
    assert same(serial.results, parallel.results)


def test_grid_bad_inputs():
    with pytest.raises(ValueError, match="workers"):
        C.run_grid(TINY, workers=0)
    with pytest.raises(ValueError, match="setting"):
        C.run_grid("huge")


def test_survival_curve():
    assert C.survival_curve([None, 0, 2, None], 4) == [0.75, 0.75, 0.5, 0.5]
    with pytest.raises(ValueError, match="empty"):
        C.survival_curve([], 3)


def test_chain_agreement_counts_well_formed_answers_only():
    outputs = ["<think>1+1=2</think>2", "<think>1+1=2</think>3", "garbage"]
    assert C.chain_agreement([injected("1+1=", o, correct=True) for o in outputs]) == 0.5
    assert math.isnan(C.chain_agreement([injected("1+1=", "garbage", correct=True)]))


# ---- summaries -------------------------------------------------------------------------------


def fake(arm, seed, exact, loss=0.1, task="t"):
    return C.RunResult(task=task, arm=arm, seed=seed, tf_loss=loss, tf_token_accuracy=0.9, exact_match=exact,
                       chain_valid=exact, answer_correct=exact, free_token_accuracy=0.8,
                       per_position_free_accuracy=[1.0, 0.5], survival=[1.0, 0.6], recovery=0.3, valid_recovery=0.1,
                       right_invalid_notes=0.2, followed_error=0.2, answer_follows_chain=0.9, wall_time_s=1.0)


def test_summaries_intervals_and_paired_verdicts():
    results = ([fake("teacher forcing", s, e) for s, e in enumerate((0.70, 0.72, 0.71, 0.69, 0.73))]
               + [fake("worse", s, e) for s, e in enumerate((0.40, 0.43, 0.41, 0.38, 0.42))]
               + [fake("noisy", s, e) for s, e in enumerate((0.50, 0.95, 0.70, 0.60, 0.90))])
    summary = C.summarize(results)
    iv = summary[("t", "teacher forcing")]["exact_match"]
    assert iv.n == 5 and math.isclose(iv.mean, 0.71) and iv.low < 0.71 < iv.high
    assert math.isclose(iv.half_width, 2.776 * iv.sd / math.sqrt(5), rel_tol=1e-3)  # t with 4 d.f.
    table = C.format_table(summary, "t", caption="c")
    assert table.rows[0][0] == "teacher forcing" and table.rows[0][2] == iv.text(3) and table.rows[0][-1] == "5"
    v = C.comparisons(results)
    assert v[("t", "worse")]["exact_match"].word == "worse"
    assert v[("t", "noisy")]["exact_match"].word == "within noise"
    assert v[("t", "worse")]["exact_match"].family == 2 * len(C.PRIMARY)  # two arms × the primary metrics
    assert C.verdict_words(v, "t", "exact_match") == {"better": [], "worse": ["worse"], "within noise": ["noisy"]}
    assert C.best_arm(summary, "t", "exact_match") == "noisy"  # the highest mean, yet within noise
    assert C.best_arm(summary, "t", "tf_loss") in ("teacher forcing", "worse", "noisy")
    # one comparison alone can be judged; the same difference in a large family may not be
    lone = C.compare(results, "t", "noisy", "exact_match", family=1)
    assert lone.family == 1 and C.compare(results, "t", "noisy", "exact_match", family=500).word == "within noise"
    text = C.format_comparisons(v)
    assert text.rows[0][:2] == ("t", "worse") and "worse" in text.rows[0][2]
    lower_loss = [fake("teacher forcing", s, 0.7, loss=0.2 + s / 100) for s in range(3)] + [
        fake("a", s, 0.7, loss=0.1 + s / 100 + (s % 2) / 1000) for s in range(3)]
    assert C.compare(lower_loss, "t", "a", "tf_loss").word == "better"  # lower loss is better
    with pytest.raises(ValueError, match="reference"):
        C.comparisons(results, reference="nobody")
    with pytest.raises(ValueError, match="metric"):
        C.summarize(results, ["accuracy"])
    with pytest.raises(ValueError, match="empty"):
        C.summarize([])
    with pytest.raises(ValueError, match="no runs"):
        C.by_seed(results, "t", "nobody", "exact_match")


# ---- cost and K passes -----------------------------------------------------------------------


def tiny_model(kind="gpt"):
    cfg = (GPTConfig.for_task(TINY_TASK, n_layer=1, n_head=2, n_embd=16) if kind == "gpt"
           else GRUConfig.for_task(TINY_TASK, n_embd=8, n_hidden=16))
    return make_model(cfg, seed=0)


def test_step_costs_time_every_strategy_without_touching_the_model():
    model = tiny_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    batch = TINY_TASK.batch(TINY_TASK.sample(4, 0))
    times = C.step_costs(model, batch, {"tf": TeacherForcing(), "seq": ScheduledSampling(0.5)}, repeats=2)
    assert set(times) == {"tf", "seq"} and all(t > 0 for t in times.values())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert torch.get_num_threads() >= 1
    with pytest.raises(ValueError, match="repeats"):
        C.step_costs(model, batch, {"tf": TeacherForcing()}, repeats=0)
    with pytest.raises(ValueError, match="empty"):
        C.step_costs(model, batch, {})


@pytest.mark.parametrize("kind", ["gpt", "gru"])
def test_T_passes_agree_with_the_sequential_loop(kind):
    model = tiny_model(kind)
    batch = TINY_TASK.batch(TINY_TASK.sample(6, 2))
    T = batch.inputs.shape[1]
    agreement = C.passes_agreement(model, batch, p=0.7, max_passes=T, seed=5)
    assert agreement.passes == tuple(range(1, T + 1)) and agreement.length == T
    assert agreement.token_agreement[-1] == 1.0 and agreement.row_agreement[-1] == 1.0
    assert all(0.0 <= a <= 1.0 for a in agreement.token_agreement + agreement.row_agreement)
    with pytest.raises(ValueError, match="max_passes"):
        C.passes_agreement(model, batch, 0.5, 0)


def test_passes_agreement_matches_the_core_parallel_version():
    from handbook_utils.strategies import parallel_inputs_and_logits, sequential_inputs_and_logits

    model = tiny_model()
    batch = TINY_TASK.batch(TINY_TASK.sample(8, 4))
    agreement = C.passes_agreement(model, batch, p=0.8, max_passes=4, seed=2)
    draws = Draws.sample(batch, model.vocab_size, 0.8, "sample", torch.Generator().manual_seed(2))
    with torch.no_grad():
        _, fed_seq = sequential_inputs_and_logits(model, batch, draws)
        for k in range(1, 5):
            _, fed = parallel_inputs_and_logits(model, batch, draws, k)
            same = fed == fed_seq
            assert agreement.row_agreement[k - 1] == float(same.all(dim=1).double().mean())
            assert agreement.token_agreement[k - 1] == float(same[draws.use_model].sum()) / int(draws.use_model.sum())


def test_fed_tokens_text_marks_model_tokens():
    batch = TINY_TASK.batch([TINY_TASK.example([1, 2, 3])])
    fed = batch.inputs.clone()
    tok = TINY_TASK.tokenizer
    gold = "1+2+3=<think>1+2+3=3+3=6</think>6"  # the input: prompt and answer, without <eos>
    i, j = gold.index("3+3"), gold.index("6</")
    fed[0, i] = tok.stoi["4"]
    replaced = torch.zeros_like(batch.loss_mask)
    replaced[0, i] = replaced[0, j] = True
    text = C.fed_tokens_text(TINY_TASK, batch, fed, 0, replaced)
    lines = text.split("\n")
    assert lines[0] == "gold input: " + gold
    assert lines[1] == "fed input:  " + gold[:i] + "4" + gold[i + 1:]
    assert lines[2][12 + i] == "^" and lines[2][12 + j] == "." and lines[2].count("^") == 1
    with pytest.raises(ValueError, match="row"):
        C.fed_tokens_text(TINY_TASK, batch, fed, 3)


def test_draws_from_the_core_feed_what_fed_tokens_text_shows():
    model = tiny_model()
    batch = TINY_TASK.batch(TINY_TASK.sample(3, 1))
    draws = Draws.sample(batch, model.vocab_size, 1.0, "argmax", torch.Generator().manual_seed(0))
    from handbook_utils.strategies import sequential_inputs_and_logits

    _, fed = sequential_inputs_and_logits(model, batch, draws)
    text = C.fed_tokens_text(TINY_TASK, batch, fed, 1, draws.use_model)
    marks = text.split("\n")[2][12:]
    assert marks.count("^") + marks.count(".") == int(draws.use_model[1].sum())


# ---- figures ---------------------------------------------------------------------------------


def test_figures_draw():
    grid = C.run_grid(TINY, workers=1)
    fig = C.plot_training_curves(grid)
    assert len(fig.axes) == 2 and fig.axes[0].get_yscale() == "log"
    fig = C.plot_comparison(C.summarize(grid.results, ("exact_match", "valid_recovery", "tf_loss")))
    assert len(fig.axes) == 3
    alt = describe_figure(fig)  # every arm's mean and interval, in words
    assert alt.startswith("exact match") and all(arm in alt for arm in grid.arm_names) and "95% interval" in alt
    fig = C.plot_survival(grid)
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) == 2
    # the arms differ without colour too: each its own marker and line style
    styles = {(line.get_marker(), str(line.get_linestyle())) for line in fig.axes[0].lines}
    assert len(styles) == 2
    for r in grid.results:  # survival falls from the first character to exact match
        assert all(a >= b for a, b in zip(r.survival, r.survival[1:]))
        assert math.isclose(r.survival[-1], r.exact_match)
    fig = C.plot_step_costs({"teacher forcing": 1.0, "parallel (2 passes)": 1.3, "sequential": 4.0})
    assert len(fig.axes[0].patches) == 3


def test_flowchart_draws_every_node_and_rejects_unknown_ones():
    fig = C.plot_decision_flowchart({"ss": "measured: 1.30×"})
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "measured: 1.30×" in texts
    assert all(C.FLOW_TEXT[k] in texts for k in C.FLOW_TEXT if k != "ss")
    assert sum(t in ("yes", "no") for t in texts) == 6
    alt = describe_figure(fig)  # the text alternative walks the arrows, with the chapter's texts
    assert alt.startswith("Decision flowchart: Train with teacher forcing → Measure on held-out problems")
    assert "measured: 1.30× → Valid recovery up" in alt and "Try a curriculum" in alt
    assert "if yes: Keep it; if no: Train on its own answers (chapter 7);" in alt and alt.endswith("(as above).")
    with pytest.raises(ValueError, match="unknown"):
        C.plot_decision_flowchart({"nowhere": "x"})


def test_the_two_pass_picture_says_what_it_draws():
    from handbook_utils.chapters.ch06_comparison import describe_two_pass, plot_two_pass
    from handbook_utils.plotting import describe_figure

    text = describe_figure(plot_two_pass("1+2=3", "+3=3", (False, True, True, False)))
    assert "'1+3='" in text and "positions 1, 2" in text and "'+2=3'" in text
    with pytest.raises(ValueError, match="coins\\[0\\]"):
        plot_two_pass("1+2=3", "+3=3", (True, True, True, False))
    with pytest.raises(ValueError, match="one entry per input"):
        plot_two_pass("1+2=3", "+3", (False, True, True, False))
    assert describe_two_pass() == describe_two_pass("1+2=3", "+3=3", (False, True, True, False))


# ---- the stored grid, read ------------------------------------------------------------------


def test_report_questions_costs_and_slip_shares():
    from handbook_utils.chapters.ch06_comparison import report

    def run(arm, seed, exact, task="t", time=1.0, valid=0.1):
        r = fake(arm, seed, exact, task=task)
        r.wall_time_s, r.valid_recovery = time, valid
        return r

    results = ([run("teacher forcing", s, 0.70 + s / 100, time=10.0) for s in range(5)]
               + [run("SS inverse sigmoid", s, 0.80 + s / 100 + (s % 2) / 1000, time=13.0, valid=0.3)
                  for s in range(5)]
               + [run("uniform noise", s, 0.70 + s / 100 + (s % 3) / 1000, time=10.0) for s in range(5)])
    q = report.Question("own tokens?", "SS inverse sigmoid", "uniform noise", ("exact_match", "valid_recovery"))
    answer = report.ask(results, q)
    assert set(answer) == {("t", "exact_match"), ("t", "valid_recovery")}
    assert all(c.family == 2 for c in answer.values()) and answer[("t", "exact_match")].word == "better"
    table = report.against_reference(results, "t", "exact_match")
    assert list(table) == ["SS inverse sigmoid", "uniform noise"] and table["uniform noise"].family == 2
    assert report.words(table, "better") == ["SS inverse sigmoid"]
    assert report.listing([]) == "none" and report.listing(["a", "b", "c"]) == "a, b and c"
    assert report.listing(["x, ½ at 30%", "y", "z"]) == "x, ½ at 30%; y and z"
    costs = report.cost_ratios(results, "t")
    assert math.isclose(costs["SS inverse sigmoid"].mean, 1.3) and costs["teacher forcing"].mean == 1.0
    shares = report.slip_shares(results, "t", "SS inverse sigmoid")
    assert math.isclose(sum(shares.values()), 1.0) and math.isclose(shares["valid_recovery"], 0.3)
    shown = report.format_questions([(q, answer)])
    assert shown.rows[0][:2] == ("SS inverse sigmoid − uniform noise", "t") and "better" in shown.rows[0][2]
    assert report.format_costs(results).rows[1][1] == costs["SS inverse sigmoid"].text(2)
    fig = report.plot_slip_outcomes(results)
    alt = describe_figure(fig)
    assert "valid recovery 0.30" in alt and "SS inverse sigmoid" in alt
    with pytest.raises(ValueError, match="word"):
        report.words(table, "best")
    with pytest.raises(ValueError, match="no runs"):
        report.final_curve_slope(results, "t", "nobody")


def test_stored_grid_reads_a_results_file(tmp_path):
    from handbook_utils import experiments
    from handbook_utils.chapters.ch06_comparison import report

    path = experiments.run("ch06", "smoke", directory=tmp_path, log=lambda *_: None)
    grid, stored = report.stored_grid("smoke", tmp_path)
    assert path.exists() and len(grid.results) == len(stored.cells) == 2 * 4 * 2
    assert {r.arm for r in grid.results} == set(C.get_setting("smoke").arms)
    assert grid.select("long chains", "curriculum")[0].eval_steps == [2, 4]
