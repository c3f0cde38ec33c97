"""Metrics: the chain rule holds, evaluate is self-consistent, KL is exact, injection is checkable."""

import itertools

import pytest
import torch
import torch.nn.functional as F
from fixtures_addition import ChainOracle, MarkovOracle

from handbook_utils.generation import sequence_log_prob
from handbook_utils.metrics import evaluate, inject_error_and_continue, markov_kl_per_position
from handbook_utils.models import GPTConfig, GRUConfig, make_model
from handbook_utils.tasks import AdditionChainTask, MarkovTask, PathStarTask

TASK = AdditionChainTask(n_terms=(2, 3), max_value=5)


def gpt(task=TASK, seed=0):
    return make_model(GPTConfig.for_task(task, n_layer=1, n_head=2, n_embd=16), seed=seed)


@pytest.mark.parametrize("make", [gpt, lambda: make_model(GRUConfig.for_task(TASK, n_embd=8, n_hidden=16))])
def test_sequence_log_prob_is_the_sum_of_one_token_at_a_time(make):
    model = make().eval()
    ex = TASK.example([3, 4, 5])
    ids = torch.tensor([TASK.tokenizer.encode(ex.prompt + ex.target)])
    P = len(ex.prompt)
    total = 0.0
    with torch.no_grad():
        for t in range(P, ids.shape[1]):  # predict token t from ids[:t], one call each
            total += float(F.log_softmax(model(ids[:, :t])[0, -1], -1)[ids[0, t]])
    assert float(sequence_log_prob(model, ids, P)[0]) == pytest.approx(total, abs=1e-4)
    assert float(sequence_log_prob(model, ids[0], P)) == pytest.approx(total, abs=1e-4)


def test_sequence_probabilities_sum_to_one():
    """Chain rule check: over every continuation of a fixed length, P(continuation | prompt) sums to 1."""
    task = MarkovTask(n_states=3, length=2)
    model = gpt(task).eval()
    V = task.tokenizer.vocab_size
    prompt = task.tokenizer.encode("^")
    seqs = torch.tensor([prompt + list(c) for c in itertools.product(range(V), repeat=3)])
    probs = sequence_log_prob(model, seqs, 1).exp()
    assert float(probs.sum()) == pytest.approx(1.0, abs=1e-4)


def test_evaluate_is_self_consistent():
    model = gpt()
    ev = evaluate(model, TASK, n=40, seed=0, batch_size=16)
    assert ev.n == 40 and len(ev.first_error_positions) == 40 and len(ev.free_running_outputs) == 40
    assert ev.exact_match == sum(e is None for e in ev.first_error_positions) / 40
    assert ev.independence_estimate == pytest.approx(ev.tf_token_accuracy**ev.mean_target_length)
    assert 0 <= ev.tf_token_accuracy <= 1 and ev.tf_loss > 0
    assert len(ev.per_position_tf_accuracy) == len(ev.per_position_free_accuracy)
    # position 0 of the free run and of teacher forcing see the same (gold) prefix
    assert ev.per_position_free_accuracy[0] == pytest.approx(ev.per_position_tf_accuracy[0])


def test_evaluate_of_a_perfect_model():
    examples = TASK.sample(10, 0)
    ev = evaluate(ChainOracle(TASK, examples), TASK, n=10, seed=0)
    assert ev.exact_match == 1.0 and ev.tf_token_accuracy == 1.0
    assert all(e is None for e in ev.first_error_positions)
    assert ev.free_running_outputs == [e.target for e in examples]


def test_evaluate_teacherless_path_star_runs():
    task = PathStarTask(degree=2, path_length=3, n_nodes=10, teacherless=True)
    ev = evaluate(gpt(task), task, n=8, seed=0)
    assert len(ev.free_running_outputs) == 8


def test_markov_kl_is_zero_for_the_true_chain_and_positive_for_a_random_model():
    task = MarkovTask(n_states=4, order=2, length=6)
    for mode in ("teacher_forced", "free_running"):
        kl = markov_kl_per_position(MarkovOracle(task), task, n=64, seed=0, mode=mode)
        assert kl.shape == (6,) and float(kl.abs().max()) < 1e-5
        kl_random = markov_kl_per_position(gpt(task), task, n=64, seed=0, mode=mode)
        assert (kl_random > 0.01).all()


def test_error_injection_on_the_chain():
    examples = [TASK.example([3, 4, 5]), TASK.example([1, 2])]
    oracle = ChainOracle(TASK, examples)
    result = inject_error_and_continue(oracle, TASK, examples, position=0, seed=0)
    assert result.n == 2
    for r, ex in zip(result.examples, examples):
        assert r.injected_index == len("<think>")  # first digit at or after position 0
        assert r.injected_prefix[:-1] == ex.target[: r.injected_index]
        assert r.injected_prefix[-1] != ex.target[r.injected_index]
        assert r.true_answer == sum(int(x) for x in ex.prompt[:-1].split("+"))
    # The chain oracle ignores the corruption (it keys on the prompt), so it always "recovers".
    assert result.recovery_rate == 1.0 and result.followed_error_rate == 0.0
    # Past the reasoning there is nothing to corrupt.
    assert inject_error_and_continue(oracle, TASK, examples, position=200, seed=0).n == 0


def test_error_injection_trusting_answer():
    task = TASK
    ex = task.example([3, 4, 5])  # <think>3+4+5=7+5=12</think>12
    index = ex.target.index("7")
    model = gpt()
    result = inject_error_and_continue(model, task, [ex], position=index, seed=0)
    r = result.examples[0]
    wrong = int(r.injected_prefix[-1])
    assert r.injected_index == index and r.output.startswith(r.injected_prefix)
    if r.output.startswith(r.injected_prefix + "+5="):
        assert r.trusting_answer == wrong + 5
