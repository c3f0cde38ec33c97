"""Chapter 6's comparison: arms, settings, stored runs, summaries, costs, K passes and figures."""

from __future__ import annotations

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
from handbook_utils.schedules import ConstantSchedule  # noqa: E402
from handbook_utils.strategies import AlwaysSampling, Draws, ScheduledSampling, TeacherForcing  # noqa: E402
from handbook_utils.tasks import AdditionChainTask, CurriculumTask  # noqa: E402

TINY_TASK = AdditionChainTask(n_terms=(2, 3), max_value=3)
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
)
TWO_ARMS = [C.Arm("teacher forcing", TeacherForcing()),
            C.Arm("SS", ScheduledSampling(ConstantSchedule(0.5), mode="parallel"))]


def same(a, b) -> bool:
    """Equal results, nan included (an untrained model may write no well-formed answer at all)."""
    return json.dumps([r.to_dict() for r in a]) == json.dumps([r.to_dict() for r in b])


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("HANDBOOK_CACHE_DIR", str(tmp_path / "cache"))
    yield
    plt.close("all")


# ---- arms and settings -----------------------------------------------------------------------


def test_default_arms_schedules_hit_their_target():
    arms = C.default_arms(total_epochs=100, p=0.5, at_fraction=0.6)
    assert [a.name for a in arms] == ["teacher forcing", "SS linear", "SS exponential", "SS inverse sigmoid",
                                      "always sampling", "curriculum"]
    for arm in arms[1:4]:
        assert arm.strategy.mode == "parallel" and arm.strategy.passes == 1
        assert math.isclose(arm.strategy.probability(60.0), 0.5, abs_tol=1e-9)
        assert arm.strategy.probability(0.0) < 0.01
    assert isinstance(arms[4].strategy, AlwaysSampling)
    assert arms[5].curriculum_full_at == 60.0 and isinstance(arms[5].strategy, TeacherForcing)


def test_arm_recipe_changes_strategy_task_and_seeds():
    base = TINY.base_recipe("tiny")
    curriculum = C.Arm("curriculum", TeacherForcing(), curriculum_full_at=5.0).recipe(base, seed=3)
    assert isinstance(curriculum.task, CurriculumTask) and curriculum.task.base == TINY_TASK
    assert curriculum.train["seed"] == 3 and curriculum.model_seed == 3
    ss = TWO_ARMS[1].recipe(base, seed=1)
    assert ss.task == TINY_TASK and ss.strategy == TWO_ARMS[1].strategy
    assert ss.config() == base.config()  # same model architecture for every arm
    with pytest.raises(TypeError, match="Recipe"):
        TWO_ARMS[0].recipe("base", 0)


def test_settings_are_one_knob_apart():
    quick, full = C.get_setting("quick"), C.get_setting("full")
    assert len(quick.seeds) >= 3 and len(full.seeds) > len(quick.seeds)
    assert quick.task_names == full.task_names
    shared = addition_recipe("quick")
    assert full.base_recipe("short chains").task == shared.task  # the shared recipe's task and model
    assert full.base_recipe("short chains").config() == shared.config()
    for setting in (quick, full):
        recipe = setting.base_recipe("long chains")
        assert recipe.train["steps_per_epoch"] * setting.total_epochs == setting.steps
    with pytest.raises(ValueError, match="setting"):
        C.get_setting("medium")
    with pytest.raises(KeyError, match="no task"):
        quick.task("medium chains")


# ---- runs and the grid -----------------------------------------------------------------------


def test_run_one_measures_a_trained_model():
    recipe = TWO_ARMS[0].recipe(TINY.base_recipe("tiny"), seed=0)
    r = C.run_one(recipe, task_name="tiny", arm_name="tf", injection_n=4)
    assert (r.task, r.arm, r.seed) == ("tiny", "tf", 0)
    assert r.eval_steps == [3, 6] and len(r.losses) == 6  # one stage, from scratch
    for name in ("exact_match", "free_token_accuracy", "recovery", "followed_error", "tf_token_accuracy"):
        assert 0.0 <= getattr(r, name) <= 1.0
    assert r.tf_loss > 0 and r.wall_time_s > 0
    assert math.isnan(r.answer_follows_chain) or 0.0 <= r.answer_follows_chain <= 1.0
    assert min(r.per_position_free_accuracy) <= r.free_token_accuracy <= max(r.per_position_free_accuracy)
    assert C.RunResult.from_dict(r.to_dict()) == r
    with pytest.raises(ValueError, match="eval_every"):
        C.run_one(recipe.replace(eval_every=None))


def test_grid_is_cached_and_repeatable():
    first = C.run_grid(TINY, TWO_ARMS, workers=1)
    assert first.trained == 4
    assert [(r.arm, r.seed) for r in first.results] == [("teacher forcing", 0), ("teacher forcing", 1),
                                                         ("SS", 0), ("SS", 1)]
    again = C.run_grid(TINY, TWO_ARMS, workers=1)
    assert again.trained == 0 and same(again.results, first.results)
    fresh = C.run_grid(TINY, TWO_ARMS, workers=1, cache=False)
    for a, b in zip(first.results, fresh.results):  # retrained from scratch: the same numbers
        a.wall_time_s = b.wall_time_s  # the one number that may differ
    assert same(first.results, fresh.results)
    model = first.recipe("tiny", "SS", 1).run(progress=False).model  # the weights are in the model cache
    assert model.config.n_embd == 16


def test_grid_in_worker_processes_matches_serial(tmp_path, monkeypatch):
    serial = C.run_grid(TINY, TWO_ARMS[:1], workers=1)
    monkeypatch.setenv("HANDBOOK_CACHE_DIR", str(tmp_path / "other"))
    parallel = C.run_grid(TINY, TWO_ARMS[:1], workers=2)
    assert parallel.trained == 2
    for a, b in zip(serial.results, parallel.results):
        a.wall_time_s = b.wall_time_s  # the one number that may differ
    assert same(serial.results, parallel.results)


def test_grid_bad_inputs():
    with pytest.raises(ValueError, match="workers"):
        C.run_grid(TINY, TWO_ARMS, workers=0)
    with pytest.raises(ValueError, match="distinct"):
        C.run_grid(TINY, [TWO_ARMS[0], TWO_ARMS[0]])
    with pytest.raises(KeyError, match="no task"):
        C.run_grid(TINY, TWO_ARMS, tasks=["huge"])


def test_survival_curve():
    assert C.survival_curve([None, 0, 2, None], 4) == [0.75, 0.75, 0.5, 0.5]
    with pytest.raises(ValueError, match="empty"):
        C.survival_curve([], 3)


def test_chain_agreement_counts_well_formed_answers_only():
    def injected(output):
        return InjectedExample(prompt="1+1=", injected_prefix="", output=output, injected_index=7, true_answer=2,
                               trusting_answer=2, final_correct=True, followed_error=False)

    outputs = ["<think>1+1=2</think>2", "<think>1+1=2</think>3", "garbage"]
    assert C.chain_agreement([injected(o) for o in outputs]) == 0.5
    assert math.isnan(C.chain_agreement([injected("garbage")]))


# ---- summaries -------------------------------------------------------------------------------


def fake(arm, seed, exact, loss=0.1, task="t"):
    return C.RunResult(task=task, arm=arm, seed=seed, tf_loss=loss, tf_token_accuracy=0.9, exact_match=exact,
                       free_token_accuracy=0.8, per_position_free_accuracy=[1.0, 0.5], survival=[1.0, 0.6],
                       recovery=0.3,
                       followed_error=0.2, answer_follows_chain=0.9, wall_time_s=1.0)


def test_summary_table_and_verdicts():
    results = ([fake("teacher forcing", s, e) for s, e in enumerate((0.70, 0.72, 0.71))]
               + [fake("worse", s, e) for s, e in enumerate((0.40, 0.42, 0.41))]
               + [fake("noisy", s, e) for s, e in enumerate((0.50, 0.95, 0.70))])
    summary = C.summarize(results)
    st = summary[("t", "teacher forcing")]["exact_match"]
    assert st.n == 3 and math.isclose(st.mean, 0.71) and math.isclose(st.sd, 0.01)
    table = C.format_table(summary)
    assert "t: mean ± s.d. over 3 seeds" in table and "0.710 ± 0.010" in table
    assert max(len(line) for line in table.splitlines()) <= 80
    v = C.verdicts(summary)
    assert v[("t", "worse")]["exact_match"].word == "worse"
    assert v[("t", "noisy")]["exact_match"].word == "within noise"
    assert v[("t", "worse")]["tf_loss"].word == "within noise"  # equal means
    text = C.format_verdicts(v)
    assert "worse -0.300" in text and max(len(line) for line in text.splitlines()) <= 80
    lower_loss = C.summarize([fake("teacher forcing", s, 0.7, loss=0.2 + s / 100) for s in range(3)]
                             + [fake("a", s, 0.7, loss=0.1 + s / 100) for s in range(3)])
    assert C.verdicts(lower_loss)[("t", "a")]["tf_loss"].word == "better"  # lower loss is better
    with pytest.raises(ValueError, match="reference"):
        C.verdicts(summary, reference="nobody")
    with pytest.raises(ValueError, match="metric"):
        C.summarize(results, ["accuracy"])
    with pytest.raises(ValueError, match="empty"):
        C.summarize([])


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
    grid = C.run_grid(TINY, TWO_ARMS, workers=1)
    fig = C.plot_training_curves(grid)
    assert len(fig.axes) == 2 and fig.axes[0].get_yscale() == "log"
    fig = C.plot_comparison(grid.summary())
    assert len(fig.axes) == 3
    alt = describe_figure(fig)  # every arm's mean, in words
    assert alt.startswith("exact match") and all(arm in alt for arm in grid.arm_names) and " ± " in alt
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
    assert alt.startswith("Decision flowchart: Train with teacher forcing → Measure what the loss hides")
    assert "measured: 1.30× → Recovery up" in alt and "if yes: Keep it; if no: Back to teacher forcing." in alt
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
