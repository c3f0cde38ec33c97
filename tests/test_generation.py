"""Generation: batched = one at a time, cache = no cache, stop handling, sampling is seeded."""

import pytest
import torch

from handbook_utils.generation import fit_to_context, generate_ids
from handbook_utils.models import GPTConfig, GRUConfig, make_model
from handbook_utils.tasks import AdditionChainTask

TASK = AdditionChainTask(n_terms=(2, 4))
TOK = TASK.tokenizer
PROMPTS = ["1+2=", "3+4+5+6=", "9+9+9=", "0+1="]


def gpt():
    return make_model(GPTConfig.for_task(TASK, n_layer=2, n_head=2, n_embd=32), seed=1)


def gru():
    return make_model(GRUConfig.for_task(TASK, n_embd=16, n_hidden=32), seed=1)


def generate(model, prompts, n, *, stop=True, **kw) -> list[str]:
    """Text in, text out, through generate_ids (stopping at <eos> unless stop=False)."""
    rows = generate_ids(model, [TOK.encode(p) for p in prompts], n,
                        stop_sequences=[[TOK.eos_id]] if stop else [], **kw)
    return [TOK.decode(r) for r in rows]


def manual_greedy(model, prompt: str, n: int) -> str:
    """The textbook loop: run the whole sequence, take the argmax, append, repeat."""
    ids = TOK.encode(prompt)
    out = []
    with torch.no_grad():
        for _ in range(n):
            nxt = int(model(torch.tensor([ids]))[0, -1].argmax())
            if nxt == TOK.eos_id:
                break
            ids.append(nxt)
            out.append(nxt)
    return TOK.decode(out)


@pytest.mark.parametrize("make", [gpt, gru])
def test_batched_greedy_equals_the_textbook_loop(make):
    model = make()
    got = generate(model, PROMPTS, 12)
    assert got == [manual_greedy(model, p, 12) for p in PROMPTS]


def test_cache_and_recompute_agree():
    model = gpt()
    with_cache = generate(model, PROMPTS, 15, use_cache=True, stop=False)
    without = generate(model, PROMPTS, 15, use_cache=False, stop=False)
    assert with_cache == without


def test_a_stop_sequence_ends_the_row_and_none_runs_to_the_limit():
    model = gpt()
    ids = generate_ids(model, [TOK.encode("1+2=")], 10, stop_sequences=[])
    assert len(ids[0]) == 10
    stopped = generate_ids(model, [TOK.encode("1+2=")], 10, stop_sequences=[[ids[0][0]]])
    assert stopped == [ids[0][:1]]  # the stop sequence is the last token returned


def test_top_k_one_is_greedy_and_sampling_is_seeded():
    model = gpt()
    greedy = generate(model, PROMPTS, 8)
    g = torch.Generator()
    assert generate(model, PROMPTS, 8, greedy=False, top_k=1, generator=g.manual_seed(0)) == greedy
    a = generate(model, PROMPTS, 8, greedy=False, temperature=2.0, generator=g.manual_seed(3))
    b = generate(model, PROMPTS, 8, greedy=False, temperature=2.0, generator=g.manual_seed(3))
    assert a == b


def test_per_row_budgets_and_block_size_check():
    model = gpt()
    rows = generate_ids(model, [TOK.encode("1+2="), TOK.encode("3+4=")], [2, 5], stop_sequences=[])
    assert [len(r) for r in rows] == [2, 5]
    with pytest.raises(ValueError, match="max_new_tokens"):
        generate(model, ["1+2="], model.block_size + 10)
    prompts = [TOK.encode("1+2="), TOK.encode("9+9+9+9=")]
    budgets = fit_to_context(model, prompts, [10**6, 10**6])
    assert [len(p) + k - 1 for p, k in zip(prompts, budgets)] == [model.block_size] * 2
    assert generate_ids(model, prompts, budgets)  # fits: no error


def test_generation_restores_training_mode():
    model = gpt().train()
    generate(model, ["1+2="], 3)
    assert model.training


@pytest.mark.parametrize("bad, error", [
    ([[2.0, 3.0]], TypeError),  # float ids
    ([[True, 3]], TypeError),  # bool ids
    ([[2, 10**6]], ValueError),  # outside the vocabulary
    ([[]], TypeError),  # empty prompt
    ("1+2=", TypeError),  # text instead of ids
])
def test_generate_ids_refuses_ids_the_model_cannot_read(bad, error):
    with pytest.raises(error, match="prompts"):
        generate_ids(gpt(), bad, 3)
