"""Both models: causal (no future leakage), and one parallel pass = T incremental steps."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from handbook_utils.models import GPT, GRULM, GPTConfig, GRUConfig, KVCache, count_parameters, make_model

V = 11
# Incremental and parallel paths run the same float32 math in a different order: agree to 1e-5.
ATOL = 1e-5


def tiny_gpt(**kw):
    cfg = dict(vocab_size=V, block_size=24, n_layer=2, n_head=2, n_embd=16)
    cfg.update(kw)
    return make_model(GPTConfig(**cfg), seed=0).eval()


def tiny_gru():
    return make_model(GRUConfig(vocab_size=V, n_embd=8, n_hidden=16, n_layer=2), seed=0).eval()


MODELS = {"gpt": tiny_gpt, "gpt_shift": lambda: tiny_gpt(token_shift=2), "gru": tiny_gru}


@pytest.mark.parametrize("kind", MODELS)
def test_shapes(kind):
    model = MODELS[kind]()
    idx = torch.randint(0, V, (3, 7))
    assert model(idx).shape == (3, 7, V)
    logits, state = model.step(idx[:, :4])
    assert logits.shape == (3, 4, V)


@pytest.mark.parametrize("kind", MODELS)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_no_future_leakage(kind, data):
    model = MODELS[kind]()
    T = data.draw(st.integers(2, 20))
    t = data.draw(st.integers(0, T - 2))
    a = torch.tensor([data.draw(st.lists(st.integers(0, V - 1), min_size=T, max_size=T))])
    b = a.clone()
    b[0, t + 1 :] = torch.tensor(data.draw(st.lists(st.integers(0, V - 1), min_size=T - t - 1, max_size=T - t - 1)))
    with torch.no_grad():
        la, lb = model(a), model(b)
    assert torch.allclose(la[:, : t + 1], lb[:, : t + 1], atol=ATOL)


@pytest.mark.parametrize("kind", MODELS)
def test_parallel_equals_incremental(kind):
    model = MODELS[kind]()
    idx = torch.randint(0, V, (4, 20), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        full = model(idx)
        state, steps = None, []
        for t in range(idx.shape[1]):
            logits, state = model.step(idx[:, t : t + 1], state)
            steps.append(logits)
        chunked_a, state = model.step(idx[:, :7])
        chunked_b, _ = model.step(idx[:, 7:], state)  # a chunk after a cache
    assert torch.allclose(full, torch.cat(steps, 1), atol=ATOL)
    assert torch.allclose(full, torch.cat([chunked_a, chunked_b], 1), atol=ATOL)


def test_kv_cache_grows_and_block_size_is_enforced():
    model = tiny_gpt(block_size=5)
    _, cache = model.step(torch.zeros(2, 3, dtype=torch.long))
    assert isinstance(cache, KVCache) and cache.length == 3
    _, cache = model.step(torch.zeros(2, 2, dtype=torch.long), cache)
    assert cache.length == 5
    with pytest.raises(ValueError, match="block_size"):
        model.step(torch.zeros(2, 1, dtype=torch.long), cache)
    with pytest.raises(ValueError, match="block_size"):
        model(torch.zeros(1, 6, dtype=torch.long))


def test_weight_tying_is_optional():
    tied, untied = tiny_gpt(tie_weights=True), tiny_gpt(tie_weights=False)
    assert tied.lm_head.weight is tied.wte.weight
    assert untied.lm_head.weight is not untied.wte.weight
    assert count_parameters(untied) - count_parameters(tied) == V * 16


def test_make_model_is_seeded():
    a, b = tiny_gpt(), tiny_gpt()
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert isinstance(make_model(GRUConfig(vocab_size=V)), GRULM)
    assert isinstance(make_model(GPTConfig(vocab_size=V)), GPT)


def test_gradients_flow_through_step():
    model = tiny_gpt().train()
    logits, state = model.step(torch.ones(1, 2, dtype=torch.long))
    logits2, _ = model.step(torch.ones(1, 1, dtype=torch.long), state)
    logits2.sum().backward()
    assert model.wte.weight.grad is not None and model.wte.weight.grad.abs().sum() > 0


# ------------------------------------------------------------------ multi-token prediction (chapter 9)


def test_n_future_one_is_the_plain_model():
    plain, k1 = tiny_gpt(), tiny_gpt(n_future=1)
    assert not hasattr(k1, "future_heads") and count_parameters(k1) == count_parameters(plain)
    idx = torch.randint(0, V, (3, 9), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        heads = k1.heads(idx)
        assert len(heads) == 1 and torch.equal(heads[0], plain(idx)) and torch.equal(k1(idx), plain(idx))


def test_extra_heads_leave_the_trunk_and_next_token_head_unchanged():
    plain, mtp = tiny_gpt(), tiny_gpt(n_future=3)
    for name, value in plain.state_dict().items():  # same seed: the same trunk, bit for bit
        assert torch.equal(mtp.state_dict()[name], value), name
    idx = torch.randint(0, V, (2, 12), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        heads = mtp.heads(idx)
        assert len(heads) == 3 and all(h.shape == (2, 12, V) for h in heads)
        assert torch.equal(heads[0], plain(idx)) and torch.equal(mtp(idx), plain(idx))
        assert not torch.equal(heads[1], heads[0])
        step_logits, _ = mtp.step(idx)
    assert torch.allclose(step_logits, heads[0], atol=ATOL)


def test_extra_heads_are_causal():
    mtp = tiny_gpt(n_future=2)
    a = torch.randint(0, V, (1, 10), generator=torch.Generator().manual_seed(3))
    b = a.clone()
    b[0, 6:] = (b[0, 6:] + 1) % V
    with torch.no_grad():
        ha, hb = mtp.heads(a), mtp.heads(b)
    assert all(torch.allclose(x[:, :6], y[:, :6], atol=ATOL) for x, y in zip(ha, hb))


@pytest.mark.parametrize("bad", [0, -1])
def test_n_future_below_one_is_refused(bad):
    with pytest.raises(ValueError, match="n_future"):
        GPTConfig(vocab_size=V, n_future=bad)
    with pytest.raises(TypeError, match="n_future"):
        GPTConfig(vocab_size=V, n_future=1.5)


# ------------------------------------------------------------------ token shift (chapter 9)


def test_token_shift_zero_is_the_plain_model_and_the_shift_leaves_the_trunk_alone():
    plain, shifted = tiny_gpt(), tiny_gpt(token_shift=2)
    assert not hasattr(tiny_gpt(token_shift=0), "shift")
    for name, value in plain.state_dict().items():
        assert torch.equal(shifted.state_dict()[name], value), name
    assert count_parameters(shifted) - count_parameters(plain) == 2 * 16 * 16
    both = tiny_gpt(token_shift=2, n_future=2)  # the shift is built before the extra heads
    for name, value in shifted.state_dict().items():
        assert torch.equal(both.state_dict()[name], value), name


def test_token_shift_reads_the_previous_tokens():
    model = tiny_gpt(token_shift=2)
    a = torch.tensor([[1, 2, 3, 4, 5, 6]])
    b = a.clone()
    b[0, 1] = 7  # changes what positions 1, 2 and 3 see through the shift (and later ones via attention)
    with torch.no_grad():
        shift_a, shift_b = model._shifted(a, None), model._shifted(b, None)
    changed = (shift_a - shift_b).abs().sum(-1)[0] > 0
    assert changed.tolist() == [False, False, True, True, False, False]


@pytest.mark.parametrize("bad, error", [(-1, ValueError), (1.0, TypeError)])
def test_token_shift_must_be_a_count(bad, error):
    with pytest.raises(error, match="token_shift"):
        GPTConfig(vocab_size=V, token_shift=bad)
