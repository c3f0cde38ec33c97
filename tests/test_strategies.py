"""Scheduled sampling: p=0 is teacher forcing, parallel with T passes is sequential, and the shift is right.
Multi-token prediction: one head is teacher forcing, and every extra head is scored on its own token."""

import pytest
import torch
import torch.nn.functional as F

from handbook_utils.models import GPTConfig, GRUConfig, make_model
from handbook_utils.strategies import (
    AlwaysSampling,
    Draws,
    MultiTokenPrediction,
    ScheduledSampling,
    SoftScheduledSampling,
    TeacherForcing,
    masked_cross_entropy,
)
from handbook_utils.tasks import AdditionChainTask

TASK = AdditionChainTask(n_terms=(2, 4))
# Sequential runs one token at a time through the KV cache / hidden state, parallel runs full
# passes: the same float32 math in a different order, so losses agree to 1e-5, not bit for bit.
ATOL = 1e-5


def gpt():
    return make_model(GPTConfig.for_task(TASK, n_layer=2, n_head=2, n_embd=32), seed=0)


def gru():
    return make_model(GRUConfig.for_task(TASK, n_embd=16, n_hidden=32), seed=0)


MODELS = {"gpt": gpt, "gru": gru}


def batch(n=6, seed=0):
    return TASK.batch(TASK.sample(n, seed))


@pytest.mark.parametrize("kind", MODELS)
@pytest.mark.parametrize("mode", ["sequential", "parallel"])
@pytest.mark.parametrize("mix", ["sample", "argmax"])
def test_p_zero_is_teacher_forcing(kind, mode, mix):
    model, b = MODELS[kind](), batch()
    tf = TeacherForcing().loss(model, b)
    ss = ScheduledSampling(0.0, mode=mode, mix=mix).loss(model, b, epoch=3.0)
    assert torch.equal(tf, ss)  # nothing is replaced, so the very same computation runs
    _, fed = ScheduledSampling(0.0, mode=mode).forward(model, b)
    assert torch.equal(fed, b.inputs)


@pytest.mark.parametrize("kind", MODELS)
@pytest.mark.parametrize("mix", ["sample", "argmax"])
@pytest.mark.parametrize("p", [0.3, 1.0])
def test_parallel_with_T_passes_equals_sequential(kind, mix, p):
    model, b = MODELS[kind](), batch()
    T = b.inputs.shape[1]
    seq = ScheduledSampling(p, mode="sequential", mix=mix)
    par = ScheduledSampling(p, mode="parallel", passes=T, mix=mix)
    logits_s, fed_s = seq.forward(model, b, generator=torch.Generator().manual_seed(1))
    logits_p, fed_p = par.forward(model, b, generator=torch.Generator().manual_seed(1))  # same draws
    assert torch.equal(fed_s, fed_p)
    assert torch.allclose(logits_s, logits_p, atol=ATOL)
    assert torch.allclose(masked_cross_entropy(logits_s, b), masked_cross_entropy(logits_p, b), atol=ATOL)


def test_one_parallel_pass_shifts_predictions_correctly():
    model, b = gpt(), batch()
    _, fed = AlwaysSampling(mode="parallel", passes=1, mix="argmax").forward(model, b)
    with torch.no_grad():
        pred = model(b.inputs).argmax(-1)  # (B, T): position i predicts token i+1
    replaceable = torch.zeros_like(b.loss_mask)
    replaceable[:, 1:] = b.loss_mask[:, :-1] & b.loss_mask[:, 1:]
    assert torch.equal(fed[:, 1:][replaceable[:, 1:]], pred[:, :-1][replaceable[:, 1:]])
    assert torch.equal(fed[~replaceable], b.inputs[~replaceable])  # prompt and padding untouched


@pytest.mark.parametrize("mode", ["sequential", "parallel"])
def test_always_sampling_never_feeds_a_gold_target_token(mode):
    """Every target input is the model's own choice: with argmax, fed[i] = argmax of the logits at i-1."""
    model, b = gpt(), batch()
    T = b.inputs.shape[1]
    strategy = AlwaysSampling(mode=mode, passes=T, mix="argmax")
    logits, fed = strategy.forward(model, b)
    draws = Draws.sample(b, model.vocab_size, 1.0, "argmax")
    target_inputs = draws.use_model  # with p = 1: every target-token input
    assert int(target_inputs.sum()) == int((b.target_lens - 1).sum())
    own = logits.argmax(-1)[:, :-1]  # what the model predicted for input i, at i-1
    assert torch.equal(fed[:, 1:][target_inputs[:, 1:]], own[target_inputs[:, 1:]])


def test_always_sampling_with_a_model_that_never_predicts_gold():
    """A model that always predicts <eos> (never a gold target *input*) must see only <eos> there."""
    model, b = gpt(), batch()
    eos = TASK.tokenizer.eos_id
    bump = torch.nn.functional.one_hot(torch.tensor(eos), model.vocab_size).float() * 100.0
    model.lm_head.register_forward_hook(lambda module, inputs, out: out + bump)
    draws = Draws.sample(b, model.vocab_size, 1.0, "argmax")
    assert not (b.inputs == eos).any()
    for mode in ("sequential", "parallel"):
        _, fed = AlwaysSampling(mode=mode, mix="sample").forward(model, b, generator=torch.Generator().manual_seed(0))
        assert (fed[draws.use_model] == eos).all()
        assert torch.equal(fed[~draws.use_model], b.inputs[~draws.use_model])


def test_gradients_do_not_flow_through_the_choice():
    model, b = gpt(), batch()
    loss = ScheduledSampling(0.5, mode="parallel").loss(model, b, generator=torch.Generator().manual_seed(0))
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    _, fed = ScheduledSampling(0.5, mode="sequential").forward(model, b)
    assert not fed.requires_grad and fed.dtype == torch.long


def test_schedule_drives_the_replacement_rate():
    from handbook_utils.schedules import LinearSchedule

    model, b = gpt(), TASK.batch(TASK.sample(64, 0))
    strategy = ScheduledSampling(LinearSchedule(end_epoch=10), mode="parallel")
    assert strategy.probability(5.0) == pytest.approx(0.5)
    draws = Draws.sample(b, model.vocab_size, strategy.probability(5.0), "argmax", torch.Generator().manual_seed(0))
    replaceable = int((b.target_lens - 1).sum())
    assert abs(int(draws.use_model.sum()) / replaceable - 0.5) < 0.05


def test_schedule_returning_garbage_is_caught():
    with pytest.raises(ValueError, match="schedule"):
        ScheduledSampling(lambda e: 1.5).probability(0.0)


# ------------------------------------------------------------------ multi-token prediction (chapter 9)


def test_multi_token_with_one_head_is_teacher_forcing():
    model, b = gpt(), batch()
    assert torch.equal(MultiTokenPrediction().loss(model, b), TeacherForcing().loss(model, b))


def test_multi_token_loss_scores_each_head_on_the_token_it_predicts():
    model = make_model(GPTConfig.for_task(TASK, n_layer=1, n_head=2, n_embd=16, n_future=3), seed=0)
    b = batch(4, 1)
    heads = model.heads(b.inputs)
    expected = masked_cross_entropy(heads[0], b)
    seq = torch.cat([b.inputs[:, :1], b.targets], dim=1)  # (B, T+1): the whole gold sequence
    for j in (1, 2):
        terms = []
        for row in range(b.inputs.shape[0]):
            for t in range(b.inputs.shape[1] - j):
                if b.loss_mask[row, t + j]:  # token t+1+j is a target token
                    terms.append(F.cross_entropy(heads[j][row, t][None], seq[row, t + 1 + j][None]))
        expected = expected + torch.stack(terms).mean()
    loss = MultiTokenPrediction().loss(model, b)
    assert torch.allclose(loss, expected, atol=1e-6)
    loss.backward()
    assert model.future_heads[1].mlp.c_fc.weight.grad.abs().sum() > 0


def test_multi_token_needs_a_model_with_heads():
    with pytest.raises(TypeError, match="heads"):
        MultiTokenPrediction().loss(gru(), batch())


# --------------------------------------------------------------------------------------------
# Scheduled sampling with relaxed tokens


@pytest.mark.parametrize("kind", MODELS)
def test_forward_embeddings_of_the_token_embeddings_is_the_model(kind):
    model, b = MODELS[kind](), batch()
    assert torch.allclose(model.forward_embeddings(model.wte(b.inputs)), model(b.inputs), atol=1e-6)


@pytest.mark.parametrize("kind", MODELS)
@pytest.mark.parametrize("p", [0.3, 1.0])
def test_hard_soft_variant_without_gradient_is_two_pass_scheduled_sampling(kind, p):
    """Straight-through tokens, pass 1 without gradient: the same inputs and loss as the two-pass version."""
    model, b = MODELS[kind](), batch()
    hard = ScheduledSampling(p, mode="parallel", passes=1, mix="sample")
    soft = SoftScheduledSampling(p, relax="straight_through", grad_through_first_pass=False)
    logits_h, fed = hard.forward(model, b, generator=torch.Generator().manual_seed(4))
    out = soft.forward(model, b, generator=torch.Generator().manual_seed(4))
    assert torch.equal(out.mixed, model.wte(fed))  # the very same embeddings were read
    assert torch.allclose(out.logits, logits_h, atol=ATOL)
    assert int(out.use_model.sum()) > 0


@pytest.mark.parametrize("relax", ["expected", "gumbel", "straight_through"])
def test_p_zero_soft_is_teacher_forcing(relax):
    model, b = gpt(), batch()
    soft = SoftScheduledSampling(0.0, relax=relax, grad_through_first_pass=True)
    assert torch.allclose(soft.loss(model, b), TeacherForcing().loss(model, b), atol=1e-6)


def _first_pass_gradient(strategy, model, b):
    out = strategy.forward(model, b, generator=torch.Generator().manual_seed(2))
    loss = masked_cross_entropy(out.logits, b)
    return out, loss


@pytest.mark.parametrize("relax", ["expected", "gumbel", "straight_through"])
def test_no_gradient_reaches_the_first_pass_unless_asked(relax):
    model, b = gpt(), batch()
    stopped, loss = _first_pass_gradient(SoftScheduledSampling(0.5, relax=relax), model, b)
    assert not stopped.first_logits.requires_grad and stopped.first_logits.grad_fn is None
    assert not stopped.weights.requires_grad  # the relaxed choice is a constant for the loss
    loss.backward()  # pass 2 and the embedding table still train
    assert all(p.grad is not None for p in model.parameters())
    grads_stopped = [p.grad.clone() for p in model.parameters()]

    model.zero_grad(set_to_none=True)
    flowing, loss = _first_pass_gradient(SoftScheduledSampling(0.5, relax=relax, grad_through_first_pass=True),
                                         model, b)
    (g_first,) = torch.autograd.grad(loss, flowing.first_logits, retain_graph=True)
    assert float(g_first.abs().sum()) > 0  # the loss reaches the first pass through the choice
    assert torch.equal(flowing.logits, stopped.logits)  # same draws: the same forward values
    loss.backward()
    assert any(not torch.allclose(p.grad, g) for p, g in zip(model.parameters(), grads_stopped))


def test_soft_inputs_are_relaxed_tokens():
    model, b = gpt(), batch()
    out = SoftScheduledSampling(1.0, relax="expected", tau=2.0).forward(model, b)
    table = model.wte.weight
    probs = torch.softmax(out.first_logits[:, :-1] / 2.0, -1)  # (B, T-1, V)
    expected = torch.where(out.use_model[:, 1:, None], probs @ table, model.wte(b.inputs[:, 1:]))
    assert torch.allclose(out.mixed[:, 1:], expected, atol=1e-6)
    assert torch.equal(out.mixed[~out.use_model], model.wte(b.inputs)[~out.use_model])


def test_soft_scheduled_sampling_bad_inputs():
    with pytest.raises(ValueError, match="relax must be one of"):
        SoftScheduledSampling(0.5, relax="hard")
    for tau in (0.0, -0.5, float("nan")):
        with pytest.raises(ValueError, match="tau"):
            SoftScheduledSampling(0.5, tau=tau)
    with pytest.raises(TypeError, match="grad_through_first_pass must be a bool"):
        SoftScheduledSampling(0.5, grad_through_first_pass=1)
    with pytest.raises(ValueError, match="schedule"):
        SoftScheduledSampling(lambda e: 1.5).loss(gpt(), batch())
    with pytest.raises(TypeError, match="forward_embeddings"):
        SoftScheduledSampling(0.5).loss(torch.nn.Identity(), batch())
