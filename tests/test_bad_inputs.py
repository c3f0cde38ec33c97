"""Bad inputs fail early, with a ValueError/TypeError that names the offending parameter."""

import dataclasses

import pytest
import torch

from handbook_utils import cache as cache_lib
from handbook_utils.chapters.ch06_comparison import get_setting, run_grid
from handbook_utils.generation import generate_ids, sequence_log_prob
from handbook_utils.grid import run_jobs
from handbook_utils.metrics import evaluate, inject_error_and_continue, markov_kl_per_position
from handbook_utils.models import GPT, GPTConfig, GRUConfig, make_model
from handbook_utils.strategies import AlwaysSampling, ScheduledSampling, TeacherForcing
from handbook_utils.tasks import (
    AdditionChainTask,
    MarkovTask,
    PathStarTask,
    Tokenizer,
    teacher_forcing_shift,
)
from handbook_utils.training import set_progress, train

TASK = AdditionChainTask(n_terms=2, max_value=3)


def small():
    return make_model(GPTConfig.for_task(TASK, n_layer=1, n_head=1, n_embd=8))


def train_with(**overrides):
    args = dict(steps=1, batch_size=2, lr=1e-3, seed=0, progress=False, cache=False)
    args.update(overrides)
    model = args.pop("model", None) or small()
    task = args.pop("task", TASK)
    return lambda: train(model, task, **args)


CASES = [
    # tasks
    ("n_terms too small", lambda: AdditionChainTask(n_terms=1), ValueError, "n_terms"),
    ("n_terms reversed range", lambda: AdditionChainTask(n_terms=(5, 2)), ValueError, "n_terms"),
    ("n_terms not an int", lambda: AdditionChainTask(n_terms=2.5), TypeError, "n_terms"),
    ("max_value zero", lambda: AdditionChainTask(max_value=0), ValueError, "max_value"),
    ("example with one term", lambda: TASK.example([3]), ValueError, "terms"),
    ("example with a negative term", lambda: TASK.example([3, -1]), ValueError, "terms"),
    ("example from a string", lambda: TASK.example("123"), TypeError, "terms"),
    ("path-star degree zero", lambda: PathStarTask(degree=0), ValueError, "degree"),
    ("path-star path_length one", lambda: PathStarTask(path_length=1), ValueError, "path_length"),
    ("path-star too few nodes", lambda: PathStarTask(degree=5, path_length=5, n_nodes=10), ValueError, "n_nodes"),
    ("path-star reverse not bool", lambda: PathStarTask(reverse="yes"), TypeError, "reverse"),
    ("markov n_states too big", lambda: MarkovTask(n_states=30), ValueError, "n_states"),
    ("markov order zero", lambda: MarkovTask(order=0), ValueError, "order"),
    ("markov concentration", lambda: MarkovTask(concentration=0.0), ValueError, "concentration"),
    ("sample n zero", lambda: TASK.sample(0, 0), ValueError, "n"),
    ("sample negative seed", lambda: TASK.sample(3, -1), ValueError, "seed"),
    ("batch of nothing", lambda: TASK.batch([]), ValueError, "examples"),
    ("batch of a single Example", lambda: TASK.batch(TASK.sample(1, 0)[0]), TypeError, "examples"),
    ("shift with empty prompt", lambda: teacher_forcing_shift([[]], [[1]], pad_id=0), ValueError, "prompts"),
    ("shift with mismatched lists", lambda: teacher_forcing_shift([[2]], [[1], [1]], pad_id=0), ValueError, "prompts"),
    # tokenizer
    ("tokenizer unknown char", lambda: TASK.tokenizer.encode("1+x"), ValueError, "'x'"),
    ("tokenizer encode non-str", lambda: TASK.tokenizer.encode(12), TypeError, "text"),
    ("tokenizer decode out of range", lambda: TASK.tokenizer.decode([999]), ValueError, "ids"),
    ("tokenizer repeated alphabet", lambda: Tokenizer("aa"), ValueError, "alphabet"),
    # model configs
    ("n_embd not divisible by n_head", lambda: GPTConfig(vocab_size=10, n_embd=10, n_head=4), ValueError, "n_embd"),
    ("vocab_size zero", lambda: GPTConfig(vocab_size=0), ValueError, "vocab_size"),
    ("block_size float", lambda: GPTConfig(vocab_size=10, block_size=8.0), TypeError, "block_size"),
    ("dropout one", lambda: GPTConfig(vocab_size=10, dropout=1.0), ValueError, "dropout"),
    ("gru n_hidden zero", lambda: GRUConfig(vocab_size=10, n_hidden=0), ValueError, "n_hidden"),
    ("GPT given a GRU config", lambda: GPT(GRUConfig(vocab_size=10)), TypeError, "config"),
    ("sequence longer than block size", lambda: small()(torch.zeros(1, 500, dtype=torch.long)), ValueError,
     "block_size"),
    ("idx float", lambda: small()(torch.zeros(1, 3)), ValueError, "idx"),
    ("idx not a tensor", lambda: small()([[1, 2]]), TypeError, "idx"),
    # strategies
    ("ss mode", lambda: ScheduledSampling(0.5, mode="both"), ValueError, "mode"),
    ("ss passes zero", lambda: ScheduledSampling(0.5, passes=0), ValueError, "passes"),
    ("ss mix", lambda: ScheduledSampling(0.5, mix="soft"), ValueError, "mix"),
    ("ss constant out of range", lambda: ScheduledSampling(1.5), ValueError, "p must"),
    ("ss schedule not callable", lambda: ScheduledSampling("linear"), TypeError, "schedule"),
    ("always sampling with a schedule", lambda: AlwaysSampling(0.5), ValueError, "schedule"),
    # training arguments
    ("steps zero", train_with(steps=0), ValueError, "steps"),
    ("batch_size float", train_with(batch_size=2.0), TypeError, "batch_size"),
    ("lr negative", train_with(lr=-1.0), ValueError, "lr"),
    ("lr nan", train_with(lr=float("nan")), ValueError, "lr"),
    ("seed negative", train_with(seed=-3), ValueError, "seed"),
    ("eval_every zero", train_with(eval_every=0), ValueError, "eval_every"),
    ("warmup longer than training", train_with(warmup_steps=5), ValueError, "warmup_steps"),
    ("lr_schedule unknown", train_with(lr_schedule="step"), ValueError, "lr_schedule"),
    ("grad_clip zero", train_with(grad_clip=0.0), ValueError, "grad_clip"),
    ("steps_per_epoch zero", train_with(steps_per_epoch=0), ValueError, "steps_per_epoch"),
    ("progress not bool", train_with(progress="yes"), TypeError, "progress"),
    ("model too short for the task",
     train_with(model=GPT(GPTConfig(vocab_size=TASK.tokenizer.vocab_size, block_size=4))),
     ValueError, "block_size"),
    ("model vocabulary mismatch", train_with(model=GPT(GPTConfig(vocab_size=5, block_size=64))), ValueError,
     "vocab_size"),
    ("task not a task", train_with(task="addition"), TypeError, "task"),
    ("strategy without loss", lambda: train(small(), TASK, object(), steps=1, batch_size=1, lr=1e-3, seed=0,
                                            cache=False), TypeError, "strategy"),
    ("set_progress non-bool", lambda: set_progress(1), TypeError, "enabled"),
    # devices
    ("unknown device", train_with(device="tpu"), ValueError, "device"),
    ("unavailable device", train_with(device="cuda:99"), ValueError, "device"),
    # cache paths
    ("cache path is a file", lambda: cache_lib.cache_dir(__file__), ValueError, "cache"),
    ("cache is a number", train_with(cache=3), TypeError, "cache"),
    ("cache path empty", lambda: cache_lib.cache_dir(""), ValueError, "cache"),
    # generation and metrics
    ("generate prompts as str", lambda: generate_ids(small(), "1+2=", 3), TypeError, "prompts"),
    ("generate max_new_tokens zero", lambda: generate_ids(small(), [[2, 3]], 0), ValueError, "max_new_tokens"),
    ("generate temperature zero", lambda: generate_ids(small(), [[2, 3]], 2, greedy=False, temperature=0),
     ValueError, "temperature"),
    ("generate top_k too big", lambda: generate_ids(small(), [[2, 3]], 2, top_k=999), ValueError, "top_k"),
    ("generate with a non-model", lambda: generate_ids("gpt", [[2, 3]], 2), TypeError, "model"),
    ("generate float ids", lambda: generate_ids(small(), [[2.0, 3.0]], 2), TypeError, "prompts"),
    ("evaluate with a plain module", lambda: evaluate(torch.nn.Linear(2, 2), TASK, n=1, seed=0), TypeError, "model"),
    ("evaluate n zero", lambda: evaluate(small(), TASK, n=0, seed=0), ValueError, "n"),
    ("evaluate task wrong type", lambda: evaluate(small(), "task", n=1, seed=0), TypeError, "task"),
    ("sequence_log_prob prompt_len zero", lambda: sequence_log_prob(small(), torch.ones(1, 4, dtype=torch.long), 0),
     ValueError, "prompt_len"),
    ("markov kl mode", lambda: markov_kl_per_position(small(), MarkovTask(), n=1, seed=0, mode="both"), ValueError,
     "mode"),
    ("markov kl non-markov task", lambda: markov_kl_per_position(small(), TASK, n=1, seed=0), TypeError, "task"),
    ("injection on path-star", lambda: inject_error_and_continue(small(), PathStarTask(), 3, 0, 0), TypeError, "task"),
    # vocabulary and ids: a model built for another tokenizer is refused at every entry point
    ("evaluate with another vocabulary", lambda: evaluate(small(), MarkovTask(), n=1, seed=0), ValueError,
     "vocab_size"),
    ("injection with another vocabulary",
     lambda: inject_error_and_continue(make_model(GPTConfig.for_task(AdditionChainTask(), n_layer=1, n_head=1,
                                                                     n_embd=8, vocab_size=40)), TASK, 2, 0, 0),
     ValueError, "vocab_size"),
    ("loss on ids outside the vocabulary",
     lambda: TeacherForcing().loss(make_model(GPTConfig(vocab_size=5, block_size=16, n_layer=1, n_head=1, n_embd=8)),
                                   TASK.batch(TASK.sample(2, 0))), ValueError, "vocabulary"),
    ("sequence_log_prob float ids", lambda: sequence_log_prob(small(), torch.ones(1, 4), 1), TypeError, "ids"),
    # strategies and schedules
    ("strategy class instead of instance", lambda: train(small(), TASK, TeacherForcing, steps=1, batch_size=1,
                                                         lr=1e-3, seed=0, cache=False), TypeError, "class itself"),
    ("schedule returning True", lambda: ScheduledSampling(lambda e: True).probability(0.0), TypeError, "schedule"),
    ("scheduled sampling on a teacherless task",
     lambda: train(make_model(GPTConfig.for_task(PathStarTask(teacherless=True), n_layer=1, n_head=1, n_embd=8)),
                   PathStarTask(teacherless=True), ScheduledSampling(0.5), steps=1, batch_size=1, lr=1e-3, seed=0,
                   cache=False), ValueError, "teacherless"),
    ("comparison with no seeds", lambda: dataclasses.replace(get_setting("quick"), seeds=()), ValueError, "seeds"),
    ("comparison with an unknown arm", lambda: dataclasses.replace(get_setting("quick"), arms=("always",)),
     ValueError, "arms"),
    ("grid with an unknown setting", lambda: run_grid("medium"), ValueError, "setting"),
    ("grid engine unknown", lambda: run_jobs(abs, [1], engine="spark"), ValueError, "engine"),
    ("injection negative position", lambda: inject_error_and_continue(small(), TASK, 3, -1, 0), ValueError, "position"),
]


@pytest.mark.parametrize("name, call, error, pattern", CASES, ids=[c[0] for c in CASES])
def test_bad_input_names_the_parameter(name, call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


def test_there_are_at_least_30_cases():
    assert len(CASES) >= 30
