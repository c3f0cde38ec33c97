"""Training on the model's own answers (handbook_utils.rl) and the addition chain's expert."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from handbook_utils import rl
from handbook_utils.models import GPT, GPTConfig
from handbook_utils.tasks import EOS, AdditionChainTask, MarkovTask

TASK = AdditionChainTask(n_terms=(2, 3), max_value=5)


def tiny_model(task=TASK, seed=0):
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=task.tokenizer.vocab_size, block_size=task.max_len, n_layer=1, n_head=2,
                         n_embd=16))


# ---------------------------------------------------------------------------- the expert


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 12), min_size=2, max_size=6))
def test_the_oracle_continues_a_gold_prefix_with_the_gold_answer(terms):
    example = AdditionChainTask(n_terms=(2, 6), max_value=12).example(terms)
    expert = AdditionChainTask.oracle_targets(example.prompt, example.target)
    assert expert == [*example.target, EOS]


def test_after_a_slip_the_oracle_reasons_from_the_models_own_notes():
    prompt = "2+2+3="  # gold: <think>2+2+3=4+3=7</think>7
    assert AdditionChainTask.oracle_next(prompt, "<think>2+2+3=5+3=") == "8"  # 5+3, not the gold 7
    assert AdditionChainTask.oracle_next(prompt, "<think>2+2+3=5+3=8</think>") == "8"  # the answer follows
    assert AdditionChainTask.oracle_next(prompt, "<think>2+2+3=5+3=8</think>8") == EOS
    # a garbled line counts as unwritten: the expert writes the line it should have been
    assert AdditionChainTask.oracle_next(prompt, "<think>2+2+3=4++=") == "4"
    # a closing tag written too early: finish it, then the sum of the last line
    assert AdditionChainTask.oracle_next(prompt, "<think>2+2+3=4+3</") == "t"
    assert AdditionChainTask.oracle_next(prompt, "<think>2+2+3=4+3</think>") == "7"
    # a withdrawn line does not count: after "5+3==" the expert rewrites the line from the one kept
    assert AdditionChainTask.oracle_next(prompt, "<think>2+2+3=5+3==") == "4"
    assert AdditionChainTask.oracle_next(prompt, "<think>2+2+3=5+3==4+3=") == "7"


# ---------------------------------------------------------------------------- rewards and losses


def test_rewards_score_whole_answers():
    example = TASK.example([2, 2, 3])
    slip = "<think>2+2+3=5+3=8</think>8"
    assert rl.exact_match_reward(TASK, example, example.target) == 1.0
    assert rl.exact_match_reward(TASK, example, slip) == 0.0
    assert rl.answer_reward(TASK, example, "<think>2+2+3=5+3=8</think>7") == 1.0
    assert rl.chain_credit_reward(TASK, example, example.target) == 1.0
    assert rl.chain_credit_reward(TASK, example, slip) == pytest.approx(1 / 4)  # line 0 of 3, wrong answer
    assert rl.chain_credit_reward(TASK, example, "garbage") == 0.0


def test_the_policy_gradient_loss_on_a_two_token_toy_matches_a_hand_computation():
    # two answers of two tokens each, the first with advantage +1, the second with -0.5
    logp = torch.tensor([[math.log(0.5), math.log(0.25)], [math.log(0.1), math.log(0.8)]])
    mask = torch.ones(2, 2, dtype=torch.bool)
    advantages = torch.tensor([1.0, -0.5])
    by_hand = -(1.0 * (math.log(0.5) + math.log(0.25)) - 0.5 * (math.log(0.1) + math.log(0.8))) / 4
    assert rl.policy_gradient_loss(logp, mask, advantages).item() == pytest.approx(by_hand)
    mask[1, 1] = False  # a token outside the answer carries nothing
    by_hand = -(1.0 * (math.log(0.5) + math.log(0.25)) - 0.5 * math.log(0.1)) / 3
    assert rl.policy_gradient_loss(logp, mask, advantages).item() == pytest.approx(by_hand)


def test_a_constant_reward_gives_a_zero_expected_update():
    # A two-step policy over 3 tokens; the exact expectation over all 9 answers of the surrogate's
    # gradient with advantage = the same constant for every answer is c * grad(sum of probabilities) = 0.
    theta = torch.randn(2, 3, requires_grad=True, generator=torch.Generator().manual_seed(0))
    logp_table = torch.log_softmax(theta, dim=-1)  # (2 steps, 3 tokens); independent steps for the toy
    expected = 0.0
    for y in itertools.product(range(3), repeat=2):
        logp = torch.stack([logp_table[0, y[0]], logp_table[1, y[1]]])[None]  # (1, 2)
        prob = logp.sum().exp().detach()
        expected = expected + prob * rl.policy_gradient_loss(logp, torch.ones(1, 2, dtype=torch.bool),
                                                             torch.tensor([3.0]))
    (grad,) = torch.autograd.grad(expected, theta)
    assert grad.abs().max().item() < 1e-6
    # and the group-relative advantages of a constant reward are exactly zero
    assert torch.equal(rl.group_advantages(torch.full((8,), 0.7), 4), torch.zeros(8))


def test_group_advantages_are_centred_and_scaled_per_question():
    adv = rl.group_advantages(torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 1.0]), 3)
    assert adv[:3].sum().abs() < 1e-6 and adv[3:].sum().abs() < 1e-6
    assert adv[0] > 0 > adv[1] and adv[5] > 0 > adv[3]


def test_dagger_targets_on_a_gold_rollout_are_the_teacher_forcing_targets():
    examples = TASK.sample(4, seed=3)
    batch = TASK.batch(examples)
    prompts = [TASK.tokenizer.encode(e.prompt) for e in examples]
    answers = [TASK.tokenizer.encode(e.target) + [TASK.tokenizer.eos_id] for e in examples]
    L = batch.inputs.shape[1] + 1
    seqs = torch.zeros(4, L, dtype=torch.long)
    mask = torch.zeros(4, L - 1, dtype=torch.bool)
    for i, (p, a) in enumerate(zip(prompts, answers)):
        seqs[i, : len(p) + len(a)] = torch.tensor(p + a)
        mask[i, len(p) - 1 : len(p) + len(a) - 1] = True
    rollouts = rl.Rollouts(examples, [e.target for e in examples], seqs, mask)
    targets = rl.oracle_batch(TASK, rollouts)
    assert torch.equal(mask, batch.loss_mask)
    assert torch.equal(targets[mask], batch.targets[batch.loss_mask])


# ---------------------------------------------------------------------------- the loop


def length_reward(task, example, output):
    """A reward an untrained model's answers already differ in (the task's own rewards are all zero)."""
    return len(output) / 50


@pytest.mark.parametrize("method", rl.METHODS)
def test_finetune_trains_and_repeats_itself(method):
    runs = []
    for _ in range(2):
        model = tiny_model()
        before = [p.detach().clone() for p in model.parameters()]
        history = rl.finetune(model, TASK, method, steps=3, seed=1, batch_size=4, group_size=2, lr=1e-2,
                              reward=length_reward, eval_every=3, eval_n=8, progress=False)
        changed = any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
        runs.append((history.losses, changed, history.final_eval.exact_match))
    assert runs[0] == runs[1]
    assert len(runs[0][0]) == 3 and all(math.isfinite(x) for x in runs[0][0])
    assert runs[0][1], "three steps at lr 1e-2 left every weight unchanged"


def test_finetune_with_a_kl_penalty_stays_closer_to_the_start():
    batch = TASK.batch(TASK.sample(32, seed=5))
    drift = {}
    for kl in (0.0, 10.0):
        model, start = tiny_model(), tiny_model()
        rl.finetune(model, TASK, "dagger", steps=8, seed=0, batch_size=4, group_size=1, lr=3e-2, kl_coef=kl,
                    progress=False)
        with torch.no_grad():
            drift[kl] = rl.kl_to_reference(model(batch.inputs), start(batch.inputs), batch.loss_mask).item()
    assert drift[10.0] < 0.25 * drift[0.0]


def test_bad_inputs_name_the_parameter():
    model = tiny_model()
    with pytest.raises(ValueError, match="method"):
        rl.finetune(model, TASK, "ppo", steps=1)
    with pytest.raises(ValueError, match="group_size"):
        rl.finetune(model, TASK, "group", steps=1, group_size=1)
    with pytest.raises(ValueError, match="reward"):
        rl.finetune(model, TASK, "group", steps=1, reward="vibes")
    with pytest.raises(TypeError, match="unknown options"):
        rl.finetune(model, TASK, "group", steps=1, beta=0.1)
    with pytest.raises(ValueError, match="finite number"):
        rl.finetune(model, TASK, "group", steps=1, batch_size=2, group_size=2, progress=False,
                    reward=lambda task, example, output: float("nan"))
    markov = MarkovTask()
    with pytest.raises(TypeError, match="oracle"):
        rl.finetune(tiny_model(markov), markov, "dagger", steps=1)
