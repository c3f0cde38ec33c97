"""Chapter 2's mechanism on the page: the shown source is the live source, and the three small runs
(the shift and its loss, one attention layer, cached generation) report what really happened."""

import importlib
import inspect
import linecache
import sys
import textwrap

import pytest
import torch
import torch.nn.functional as F
from fixtures_addition import SMALL_ADDITION as TASK
from fixtures_addition import one_thread, sharpen, tiny_gpt, tiny_gru  # noqa: F401 (one_thread: autouse fixture)

from handbook_utils.chapters.ch02_mechanism import (
    SourceBlock,
    attention_example,
    attention_table,
    generation_trace,
    shape_table,
    shift_example,
    source_block,
    trace_table,
)
from handbook_utils.generation import generate_ids
from handbook_utils.models import GPT, CausalSelfAttention, KVCache
from handbook_utils.strategies import TeacherForcing, masked_cross_entropy
from handbook_utils.tables import Table
from handbook_utils.tasks import teacher_forcing_shift

EXAMPLES = [TASK.example([3, 5]), TASK.example([2, 4, 1])]


# ----------------------------------------------------------------------------- the source shown


def test_the_block_is_the_live_source_as_highlighted_python():
    block = source_block(CausalSelfAttention.forward)
    assert isinstance(block, SourceBlock)
    live = textwrap.dedent(inspect.getsource(CausalSelfAttention.forward)).rstrip("\n")
    assert block.source.endswith(live)
    assert block.source.splitlines()[0] == "# handbook_utils/models.py: CausalSelfAttention.forward"
    markdown = block._repr_markdown_()
    assert markdown.startswith("```python\n") and markdown.endswith("\n```")
    assert str(block) == repr(block) == block.source  # plain text where markdown is not shown


def test_the_block_follows_the_code_it_shows(tmp_path, monkeypatch):
    """One copy: edit the module, and the block shows the edit (nothing is pasted or stored)."""
    monkeypatch.syspath_prepend(str(tmp_path))
    module = tmp_path / "shown_module.py"
    module.write_text("def shown():\n    return 1  # first version\n")
    import shown_module

    try:
        assert "return 1  # first version" in source_block(shown_module.shown).source
        module.write_text("def shown():\n    return 2  # second version\n")
        importlib.reload(shown_module)
        linecache.checkcache(str(module))
        block = source_block(shown_module.shown).source
    finally:
        sys.modules.pop("shown_module", None)
    assert "second version" in block and "first version" not in block
    assert block.splitlines()[0] == "# shown_module.py: shown"  # outside the package: the file's name
    namespace = {}
    exec(compile("def shown():\n    return 3\n", "<not a file>", "exec"), namespace)
    with pytest.raises(ValueError, match="objs\\[0\\]: Python cannot show the source of shown"):
        source_block(namespace["shown"])


def test_several_objects_and_a_decorated_function_name_their_own_files():
    block = source_block(masked_cross_entropy, TeacherForcing)
    assert "# handbook_utils/strategies.py: masked_cross_entropy" in block.source
    assert "# handbook_utils/strategies.py: TeacherForcing" in block.source
    assert textwrap.dedent(inspect.getsource(TeacherForcing)).rstrip("\n") in block.source
    both = source_block(KVCache, GPT.step).source
    assert "class KVCache" in both and "def step(self, idx" in both
    # generate_ids is wrapped by torch.no_grad: the header still names generation.py
    loop = source_block(generate_ids, start="with eval_mode(model):", end="logits = model(seq[:, : t + 1])")
    assert loop.source.splitlines()[0] == "# handbook_utils/generation.py: generate_ids (excerpt)"


def test_an_excerpt_is_a_contiguous_dedented_slice_between_the_markers():
    start, end = "B = len(prompts)", "loss_mask[b, P - 1 : L - 1] = True"
    block = source_block(teacher_forcing_shift, start=start, end=end)
    header, *body = block.source.splitlines()
    assert header == "# handbook_utils/tasks/base.py: teacher_forcing_shift (excerpt)"
    assert body[0] == start and body[-1].lstrip().startswith(end)
    live = inspect.getsource(teacher_forcing_shift).splitlines()
    i = next(n for n, line in enumerate(live) if start in line)
    assert body == textwrap.dedent("\n".join(live[i : i + len(body)])).splitlines()
    assert "def teacher_forcing_shift" not in block.source  # the cut left the signature out


def test_bad_arguments_to_source_block_are_named():
    with pytest.raises(TypeError, match="objs"):
        source_block()
    with pytest.raises(TypeError, match="objs\\[1\\]"):
        source_block(masked_cross_entropy, 3)
    with pytest.raises(ValueError, match="start: no line of masked_cross_entropy"):
        source_block(masked_cross_entropy, start="not in there")
    with pytest.raises(ValueError, match="end: no line"):
        source_block(masked_cross_entropy, start="mask =", end="def masked")  # end before start
    with pytest.raises(ValueError, match="start and end cut the source of one object"):
        source_block(masked_cross_entropy, TeacherForcing, start="mask")
    with pytest.raises(TypeError, match="start must be a non-empty str"):
        source_block(masked_cross_entropy, start="")


# ----------------------------------------------------------------------------- 1. the shift and its loss


def test_the_shift_example_shows_targets_one_to_the_left_and_the_real_loss():
    model = tiny_gpt()
    ex = shift_example(model, TASK, EXAMPLES)
    L = max(len(e.prompt) + len(e.target) + 1 for e in EXAMPLES)  # prompt + target + <eos>
    V = TASK.tokenizer.vocab_size
    N = sum(len(e.target) + 1 for e in EXAMPLES)  # every target character and <eos> is scored
    shapes = {name: shape for name, _, shape in ex.shapes}
    assert shapes["inputs"] == shapes["targets"] == shapes["loss_mask"] == (2, L - 1)
    assert shapes["logits = model(inputs)"] == (2, L - 1, V)
    assert shapes["logits[loss_mask]"] == (N, V) and shapes["targets[loss_mask]"] == (N,)
    assert ex.n_scored == N
    for e, inputs, targets, scored in zip(EXAMPLES, ex.inputs, ex.targets, ex.scored):
        full = e.prompt + e.target + "⏎"
        assert inputs.rstrip("·") == full[:-1] and targets.rstrip("·") == full[1:]
        assert scored == " " * (len(e.prompt) - 1) + "^" * (len(e.target) + 1)
    batch = TASK.batch(EXAMPLES)
    with torch.no_grad():
        logits = model(batch.inputs)
        expected = F.cross_entropy(logits[batch.loss_mask], batch.targets[batch.loss_mask]).item()
    assert ex.loss == pytest.approx(expected, abs=1e-6)
    assert ex.strategy_loss == pytest.approx(expected, abs=1e-6)
    table = shape_table(ex.shapes, caption="c")
    assert isinstance(table, Table) and len(table.rows) == len(ex.shapes)


def test_bad_arguments_to_the_shift_example_are_named():
    with pytest.raises(TypeError, match="examples"):
        shift_example(tiny_gpt(), TASK, [])
    with pytest.raises(TypeError, match="examples\\[0\\]"):
        shift_example(tiny_gpt(), TASK, ["3+5="])
    with pytest.raises(TypeError, match="model"):
        shift_example(tiny_gru(), TASK, EXAMPLES)
    with pytest.raises(TypeError, match="task"):
        shift_example(tiny_gpt(), "addition", EXAMPLES)


# ----------------------------------------------------------------------------- 2. masked self-attention


def test_the_attention_weights_are_causal_and_rebuild_the_layer():
    model = tiny_gpt(n_layer=2)
    idx = TASK.batch(EXAMPLES).inputs
    B, T = idx.shape
    for layer in (0, 1):
        ex = attention_example(model, idx, layer=layer)
        shapes = [shape for _, _, shape in ex.shapes]
        assert shapes == [(B, T), (B, T, 16), (B, T, 48), (B, 2, T, 8), (B, 2, T, T), (B, 2, T, 8),
                          (B, T, 16), (B, T, 16)]
        assert ex.weights.shape == (B, 2, T, T)
        assert ex.above_diagonal == 0.0
        assert bool((ex.weights.triu(diagonal=1) == 0).all())
        assert ex.row_sum_error < 1e-5 and ex.output_error < 1e-5
        assert bool((ex.weights.diagonal(dim1=-2, dim2=-1) > 0).all())  # a position reads itself


def test_the_weights_table_shows_exact_zeros():
    ex = attention_example(tiny_gpt(), TASK.batch(EXAMPLES).inputs)
    table = attention_table(ex, "3+5=<think>", n=4)
    assert table.headers == ("position reads →", "0 3", "1 +", "2 5", "3 =")
    assert table.rows[0] == ("0 3", "1.00", "0", "0", "0")
    assert table.rows[3][1:] != ("0",) * 4 and "0" not in table.rows[3][1:]


def test_bad_arguments_to_the_attention_example_are_named():
    model = tiny_gpt()
    idx = TASK.batch(EXAMPLES).inputs
    with pytest.raises(ValueError, match="idx must be a \\(B, T\\) tensor"):
        attention_example(model, idx[0])
    with pytest.raises(ValueError, match="layer"):
        attention_example(model, idx, layer=1)
    with pytest.raises(TypeError, match="idx"):
        attention_example(model, idx.float())
    ex = attention_example(model, idx)
    with pytest.raises(ValueError, match="n must be in"):
        attention_table(ex, "3+5=", n=idx.shape[1] + 1)
    with pytest.raises(ValueError, match="labels"):
        attention_table(ex, "3+", n=4)


# ----------------------------------------------------------------------------- 3. generation with the cache


def test_the_cached_loop_is_recorded_and_equals_recomputing_the_prefix():
    model = sharpen(tiny_gpt(seed=3)).train()  # train mode on purpose: generation must not change it
    trace = generation_trace(model, TASK, "3+5=", max_new_tokens=12)
    assert model.training
    assert trace.same_as_uncached and trace.tokens == trace.tokens_uncached
    prompt = TASK.tokenizer.encode("3+5=")
    direct = generate_ids(model, [prompt], 12, stop_sequences=[[TASK.tokenizer.eos_id]])[0]
    assert list(trace.tokens) == direct
    assert len(trace.steps) == len(direct)  # one call of model.step per token written
    first, *rest = trace.steps
    assert first.fed == "3+5=" and first.fed_shape == (1, 4) and first.cache_length == 4
    V = TASK.tokenizer.vocab_size
    assert first.logits_shape == (1, 4, V)
    for k, s in enumerate(rest, start=1):
        assert s.fed_shape == (1, 1) and s.logits_shape == (1, 1, V) and s.cache_length == 4 + k
        assert s.fed == trace.steps[k - 1].token  # the token chosen is the next one fed
    assert "".join(s.token for s in trace.steps) == trace.answer
    assert len(trace_table(trace).rows) == len(trace.steps)


def test_generation_stops_at_eos():
    model = tiny_gpt(tie_weights=False)
    with torch.no_grad():  # every position's output is all ones, and only <eos> reads it: <eos> always wins
        model.ln_f.weight.zero_()
        model.ln_f.bias.fill_(1.0)
        model.lm_head.weight.zero_()
        model.lm_head.weight[TASK.tokenizer.eos_id] = 1.0
    trace = generation_trace(model, TASK, "3+5=")
    assert trace.answer == "⏎" and len(trace.steps) == 1 and trace.same_as_uncached


def test_bad_arguments_to_the_generation_trace_are_named():
    model = tiny_gpt()
    with pytest.raises(TypeError, match="model"):
        generation_trace(tiny_gru(), TASK, "3+5=")
    with pytest.raises(TypeError, match="prompt"):
        generation_trace(model, TASK, [5, 6])
    with pytest.raises(ValueError, match="prompt"):
        generation_trace(model, TASK, "")
    with pytest.raises(ValueError, match="max_new_tokens"):
        generation_trace(model, TASK, "3+5=", max_new_tokens=0)
    with pytest.raises(ValueError, match="max_new_tokens"):
        generation_trace(model, TASK, "3+5=", max_new_tokens=10_000)
