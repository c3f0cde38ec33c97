"""Recipes: valid by construction, variants merge, the size knob works, training is cached."""

import pytest

from handbook_utils import recipes
from handbook_utils.models import GPT, GRULM, GPTConfig
from handbook_utils.recipes import Recipe, Trained, addition_recipe, five_term_recipe, markov_recipe
from handbook_utils.strategies import ScheduledSampling, TeacherForcing
from handbook_utils.tasks import AdditionChainTask, MarkovTask

TINY = Recipe(
    name="tiny",
    task=AdditionChainTask(n_terms=2, max_value=3),
    model=dict(n_layer=1, n_head=2, n_embd=16),
    train=dict(steps=4, batch_size=4, lr=1e-3, seed=0, eval_every=2, eval_n=4),
)


def test_quick_addition_recipe_is_the_documented_one():
    r = addition_recipe("quick")
    assert r.task == AdditionChainTask(n_terms=(2, 6), max_value=9, split="train")  # measured on held-out
    assert r.steps == 600 and r.total_steps == 1000 and r.train["eval_every"] and r.arch == "gpt"
    assert r.init == addition_recipe("quick", stage=1) and r.init.steps == 400 and r.init.init is None
    assert [x.name for x in r.stages] == ["addition-quick-stage1", "addition-quick"]
    assert r.train["seed"] != r.init.train["seed"]  # the second stage sees fresh examples
    assert isinstance(r.strategy, TeacherForcing)
    cfg = r.config()
    assert isinstance(cfg, GPTConfig) and cfg.block_size >= r.task.max_len


def test_gpu_size_reaches_the_142_character_chains():
    r = addition_recipe("gpu")
    lo, hi = r.task.n_terms
    assert hi >= 10
    ten = AdditionChainTask(n_terms=hi, max_value=r.task.max_value)
    mean = sum(len(e.target) for e in ten.sample(500, 0)) / 500
    assert mean >= 138  # the blog's chain is 142 characters
    assert r.config().block_size >= r.task.max_len
    assert r.config().n_embd > addition_recipe("quick").config().n_embd


def test_size_from_the_environment(monkeypatch):
    monkeypatch.setenv("HANDBOOK_SIZE", "gpu")
    assert recipes.default_size() == "gpu"
    assert addition_recipe().name == "addition-gpu"
    monkeypatch.setenv("HANDBOOK_SIZE", "huge")
    with pytest.raises(ValueError, match="HANDBOOK_SIZE"):
        addition_recipe()
    monkeypatch.delenv("HANDBOOK_SIZE")
    assert addition_recipe().name == "addition-quick"


def test_overrides_and_replace_merge():
    r = addition_recipe(n_terms=(2, 3), steps=50, model=dict(n_layer=1))
    assert r.task.n_terms == (2, 3) and r.steps == 50 and r.model["n_layer"] == 1
    assert r.init.task == r.task and r.init.model["n_layer"] == 1 and r.init.steps == 400  # stage 1 keeps its budget
    one = addition_recipe(stage=1, steps=30)
    assert one.init is None and one.steps == 30
    assert r.train["batch_size"] == addition_recipe().train["batch_size"]  # untouched keys stay
    ss = r.replace(strategy=ScheduledSampling(0.25, mode="parallel"), seed=3)
    assert ss.train["seed"] == 3 and ss.init == r.init  # fine-tune the same first stage another way
    assert isinstance(ss.strategy, ScheduledSampling) and ss.task == r.task
    assert r.train["seed"] == 1  # the original is unchanged
    wider = one.replace(model=dict(n_embd=32))
    assert wider.model == {"n_embd": 32} and one.model == {}
    with pytest.raises(ValueError):
        r.replace(model=dict(n_embd=32))  # the second stage would no longer fit the first
    with pytest.raises(TypeError):
        r.model["n_layer"] = 5  # read-only


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (dict(name="", task=TINY.task, train=TINY.train), TypeError),
        (dict(name="x", task="not a task", train=TINY.train), TypeError),
        (dict(name="x", task=TINY.task, train=dict(steps=1, batch_size=1, lr=1e-3)), ValueError),  # no seed
        (dict(name="x", task=TINY.task, train=dict(TINY.train, epochs=3)), ValueError),
        (dict(name="x", task=TINY.task, train=TINY.train, arch="lstm"), ValueError),
        (dict(name="x", task=TINY.task, train=TINY.train, model=[1, 2]), TypeError),
    ],
)
def test_bad_recipes_fail_early(kwargs, error):
    with pytest.raises(error):
        Recipe(**kwargs)


def test_bad_arguments_of_the_recipe_functions():
    with pytest.raises(ValueError):
        addition_recipe("medium")
    with pytest.raises(ValueError):
        addition_recipe(stage=3)
    with pytest.raises(TypeError):
        addition_recipe(epochs=3)
    with pytest.raises(TypeError):
        markov_recipe(n_terms=3)


def test_run_trains_then_hits_the_cache(tmp_path):
    first = TINY.run(cache=tmp_path, progress=False, device="cpu")
    assert isinstance(first, Trained) and isinstance(first.model, GPT) and not first.history.from_cache
    model, task, history = first  # unpacks like a tuple
    assert task is TINY.task and len(history.losses) == 4 and first.final_eval is history.evals[-1][1]
    assert not model.training
    again = TINY.run(cache=tmp_path, progress=False, device="cpu")
    assert again.history.from_cache and again.history.losses == history.losses
    for a, b in zip(model.state_dict().values(), again.model.state_dict().values()):
        assert (a == b).all()


def test_gru_recipe_and_describe():
    r = Recipe(name="tiny", task=TINY.task, model={"n_hidden": 8, "n_embd": 8}, train=TINY.train, arch="gru")
    assert isinstance(r.build_model(), GRULM)
    assert "GRU" in r.describe() and "tiny" in r.describe()
    assert "parameters" in addition_recipe().describe()


def test_markov_and_five_term_recipes():
    m = markov_recipe(task=dict(length=16))
    assert isinstance(m.task, MarkovTask) and m.task.length == 16 and m.task.order == 2
    assert m.config().block_size >= m.task.max_len
    five = five_term_recipe()
    assert five.task == AdditionChainTask(n_terms=5, max_value=9) and five.steps == 1000


def test_run_trains_on_one_thread_and_restores_the_setting(tmp_path, monkeypatch):
    import torch

    seen = []
    original = recipes.train

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return original(*args, **kwargs)

    monkeypatch.setattr(recipes, "train", spy)
    before = torch.get_num_threads()
    TINY.replace(steps=2, eval_every=None).run(cache=False, progress=False, device="cpu")
    assert seen == [1] and torch.get_num_threads() == before
    TINY.replace(steps=2, eval_every=None).run(cache=False, progress=False, device="cpu", threads=None)
    assert seen[-1] == before
    with pytest.raises(ValueError):
        TINY.run(cache=False, threads=0)


def test_stages_continue_from_the_trained_weights_and_chain_their_histories(tmp_path):
    second = Recipe(name="tiny-2", task=TINY.task, model=TINY.model, train=dict(TINY.train, steps=3, seed=1),
                    init=TINY)
    assert second.total_steps == 7 and second.stages == [TINY, second]
    first = TINY.run(cache=tmp_path, progress=False, device="cpu")
    both = second.run(cache=tmp_path, progress=False, device="cpu")
    h = both.history
    assert h.steps == [1, 2, 3, 4, 5, 6, 7] and len(h.losses) == 7 and h.losses[:4] == first.history.losses
    assert [s for s, _ in h.evals] == [2, 4, 6, 7]
    assert h.wall_time_s >= first.history.wall_time_s and not h.from_cache
    again = second.run(cache=tmp_path, progress=False, device="cpu")
    assert again.history.from_cache and again.history.losses == h.losses
    # the second stage really started from the first stage's weights
    fresh = Recipe(name="tiny-2", task=TINY.task, model=TINY.model, train=dict(TINY.train, steps=3, seed=1))
    scratch = fresh.run(cache=False, progress=False, device="cpu")
    assert scratch.history.losses != h.losses[4:]
    assert "4 steps at lr 0.001 then 3 steps" in second.describe()


def test_init_must_build_the_same_model():
    with pytest.raises(ValueError, match="same model"):
        Recipe(name="x", task=TINY.task, model=dict(TINY.model, n_embd=32), train=TINY.train, init=TINY)
    with pytest.raises(TypeError):
        Recipe(name="x", task=TINY.task, model=TINY.model, train=TINY.train, init="tiny")
