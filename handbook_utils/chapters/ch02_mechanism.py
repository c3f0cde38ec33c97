"""Chapter 2's mechanism as code: three pieces of the package put on the page, each run on a tiny example.

:func:`source_block` shows the live source of a package function or class (``inspect.getsource``,
so the page shows the code that runs, never a copy), as a highlighted Python block. The three
examples run that code small and report what it did, shapes included:

- :func:`shift_example`: ``Task.batch`` (the teacher-forcing shift) and the masked cross-entropy of
  :class:`~handbook_utils.strategies.TeacherForcing` on a few examples: the inputs and targets as
  characters, the tensor shapes, the loss.
- :func:`attention_example`: one :class:`~handbook_utils.models.CausalSelfAttention` layer, with the
  attention weights the fused kernel never returns recomputed from the layer's own projections
  (and checked against its output): zero above the diagonal.
- :func:`generation_trace`: :func:`~handbook_utils.generation.generate_ids` with every call of
  ``model.step`` recorded (what was fed, the cache length after, the token chosen), and the same
  answer generated again without the cache.
"""

from __future__ import annotations

import inspect
import math
import textwrap
from dataclasses import dataclass
from pathlib import Path

import torch

from .. import checks
from ..generation import generate_ids
from ..models import GPT
from ..runtime import eval_mode
from ..strategies import TeacherForcing, masked_cross_entropy
from ..tables import Table
from ..tasks import Example, Task

__all__ = [
    "SourceBlock", "source_block",
    "ShiftExample", "shift_example", "shape_table",
    "AttentionExample", "attention_example", "attention_table",
    "GenerationStep", "GenerationTrace", "generation_trace", "trace_table",
]

_PACKAGE_PARENT = Path(__file__).resolve().parents[2]  # the folder that holds handbook_utils/
PAD_SHOWN, EOS_SHOWN = "·", "⏎"
"""How ``<pad>`` and ``<eos>`` are printed, so every token is one character and rows line up."""


# --------------------------------------------------------------------------------------------
# Source on the page


@dataclass(frozen=True)
class SourceBlock:
    """Source code shown as a highlighted ```` ```python ```` block (text/markdown), plain text elsewhere."""

    source: str

    def _repr_markdown_(self) -> str:
        return f"```python\n{self.source}\n```"

    def __str__(self) -> str:
        return self.source

    __repr__ = __str__


def _where(obj) -> str:
    """``handbook_utils/tasks/base.py`` for an object defined there (the path as a reader finds it)."""
    path = Path(inspect.getsourcefile(obj)).resolve()
    try:
        return path.relative_to(_PACKAGE_PARENT).as_posix()
    except ValueError:
        return path.name


def _cut(lines: list[str], start: str | None, end: str | None, name: str) -> list[str]:
    """The lines from the first one containing ``start`` through the next one containing ``end``."""
    i = 0
    if start is not None:
        i = next((n for n, line in enumerate(lines) if start in line), None)
        if i is None:
            raise ValueError(f"start: no line of {name} contains {start!r}")
    j = len(lines) - 1
    if end is not None:
        j = next((n for n in range(i, len(lines)) if end in lines[n]), None)
        if j is None:
            raise ValueError(f"end: no line of {name} at or after the start contains {end!r}")
    return lines[i : j + 1]


def source_block(*objs, start: str | None = None, end: str | None = None) -> SourceBlock:
    """The source of ``objs`` (functions, methods, classes), each headed by a comment naming its file.

    ``start``/``end`` (one object only) cut its source to the lines from the first containing
    ``start`` through the next containing ``end`` (both included), dedented; the header then says
    it is an excerpt. The text is read from the package when called: the page shows the code that runs.
    """
    if not objs:
        raise TypeError("source_block needs at least one function, method or class (objs)")
    for name, marker in (("start", start), ("end", end)):
        if marker is not None and (not isinstance(marker, str) or not marker.strip()):
            raise TypeError(f"{name} must be a non-empty str or None, got {marker!r}")
    if (start is not None or end is not None) and len(objs) != 1:
        raise ValueError(f"start and end cut the source of one object, got {len(objs)} objects")
    parts = []
    for k, obj in enumerate(objs):
        if not (inspect.isfunction(obj) or inspect.ismethod(obj) or inspect.isclass(obj)):
            raise TypeError(f"objs[{k}] must be a function, method or class, got {type(obj).__name__}")
        obj = inspect.unwrap(obj)  # a decorated function (torch.no_grad): its own file, not the decorator's
        name = obj.__qualname__
        try:
            lines = inspect.getsource(obj).splitlines()
        except (OSError, TypeError):
            raise ValueError(f"objs[{k}]: Python cannot show the source of {name}") from None
        excerpt = start is not None or end is not None
        if excerpt:
            lines = _cut(lines, start, end, name)
        body = textwrap.dedent("\n".join(lines))
        header = f"# {_where(obj)}: {name}" + (" (excerpt)" if excerpt else "")
        parts.append(f"{header}\n{body}")
    return SourceBlock("\n\n\n".join(parts))


# --------------------------------------------------------------------------------------------
# 1. The teacher-forcing shift and its loss


def _chars(tokenizer, ids) -> str:
    """One character per id: ``<pad>`` and ``<eos>`` as :data:`PAD_SHOWN` and :data:`EOS_SHOWN`."""
    shown = {tokenizer.pad_id: PAD_SHOWN, tokenizer.eos_id: EOS_SHOWN}
    return "".join(shown.get(i, tokenizer.itos[i]) for i in ids)


@dataclass(frozen=True)
class ShiftExample:
    """What :meth:`Task.batch` and the teacher-forcing loss did to a few examples.

    ``inputs``/``targets``: each row as characters (one per position); ``scored``: ``^`` under every
    position the loss scores, a space elsewhere. ``shapes``: ``(name, dims, shape)`` in the order the
    tensors are made. ``loss``: :func:`~handbook_utils.strategies.masked_cross_entropy` of the
    model's logits; ``strategy_loss``: ``TeacherForcing().loss`` on the same batch (the same number).
    """

    inputs: tuple[str, ...]
    targets: tuple[str, ...]
    scored: tuple[str, ...]
    shapes: tuple[tuple[str, str, tuple[int, ...]], ...]
    loss: float
    strategy_loss: float

    @property
    def n_scored(self) -> int:
        return sum(row.count("^") for row in self.scored)


def _check_model(model) -> GPT:
    return checks.instance("model", model, GPT, "handbook_utils.models.GPT")


@torch.no_grad()
def shift_example(model, task: Task, examples) -> ShiftExample:
    """Run ``task.batch(examples)`` and the teacher-forcing loss of ``model`` on it; report shapes and loss."""
    checks.instance("task", task, Task, "handbook_utils.tasks.Task")
    _check_model(model)
    checks.same_vocabulary(model, task.tokenizer)
    examples = checks.non_empty_list("examples", examples, Example)
    device = next(model.parameters()).device
    batch = task.batch(examples, device=device)
    with eval_mode(model):
        logits = model(batch.inputs)  # (B, T, V)
        loss = masked_cross_entropy(logits, batch)
        strategy_loss = TeacherForcing().loss(model, batch)
    mask = batch.loss_mask
    tok = task.tokenizer
    shapes = (
        ("inputs", "(B, T)", tuple(batch.inputs.shape)),
        ("targets", "(B, T)", tuple(batch.targets.shape)),
        ("loss_mask", "(B, T)", tuple(mask.shape)),
        ("logits = model(inputs)", "(B, T, V)", tuple(logits.shape)),
        ("logits[loss_mask]", "(N, V)", tuple(logits[mask].shape)),
        ("targets[loss_mask]", "(N,)", tuple(batch.targets[mask].shape)),
    )
    return ShiftExample(
        inputs=tuple(_chars(tok, row) for row in batch.inputs.tolist()),
        targets=tuple(_chars(tok, row) for row in batch.targets.tolist()),
        scored=tuple("".join("^" if m else " " for m in row).rstrip() for row in mask.tolist()),
        shapes=shapes,
        loss=float(loss),
        strategy_loss=float(strategy_loss),
    )


def shape_table(shapes, caption: str = "") -> Table:
    """``(name, dims, shape)`` rows as a :class:`~handbook_utils.tables.Table`."""
    return Table.of(["tensor", "dimensions", "shape"],
                    [[name, dims, str(tuple(shape))] for name, dims, shape in shapes], caption=caption)


# --------------------------------------------------------------------------------------------
# 2. Masked self-attention


@dataclass(frozen=True)
class AttentionExample:
    """One attention layer on a batch, step by step.

    ``shapes``: ``(name, dims, shape)`` from the layer's input to its output. ``weights`` (B, nh, T, T):
    the attention weights, recomputed from the layer's own ``c_attn`` (PyTorch's fused attention
    does not return them). ``output_error``: the largest difference between the layer's output and
    the output rebuilt from these weights (float rounding only). ``above_diagonal``: the largest
    weight a position gives a later one (exactly 0). ``row_sum_error``: the largest |row sum − 1|.
    """

    shapes: tuple[tuple[str, str, tuple[int, ...]], ...]
    weights: torch.Tensor
    output_error: float
    above_diagonal: float
    row_sum_error: float


@torch.no_grad()
def attention_example(model, idx: torch.Tensor, *, layer: int = 0) -> AttentionExample:
    """Run ``model`` on ``idx`` (B, T), catch the input and output of block ``layer``'s attention
    with a forward hook, and redo its arithmetic in the open: the shapes and the attention weights."""
    _check_model(model)
    checks.token_ids("idx", idx, model.vocab_size)
    if idx.dim() != 2 or idx.shape[1] < 2:
        raise ValueError(f"idx must be a (B, T) tensor with T >= 2, got shape {tuple(idx.shape)}")
    checks.integer("layer", layer, 0, len(model.h) - 1)
    attn = model.h[layer].attn
    seen = {}

    def hook(module, args, output):
        seen["x"], seen["out"] = args[0], output[0]

    handle = attn.register_forward_hook(hook)
    try:
        with eval_mode(model):
            model(idx.to(next(model.parameters()).device))
    finally:
        handle.remove()
    x = seen["x"]  # (B, T, C): the layer's input (after the block's layer norm)
    B, T, C = x.shape
    nh = attn.n_head
    hs = C // nh
    qkv = attn.c_attn(x)  # (B, T, 3C)
    q, k, v = (z.view(B, T, nh, hs).transpose(1, 2) for z in qkv.split(C, dim=2))  # each (B, nh, T, hs)
    scores = q @ k.transpose(-2, -1) / math.sqrt(hs)  # (B, nh, T, T)
    causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
    weights = scores.masked_fill(~causal, float("-inf")).softmax(dim=-1)  # (B, nh, T, T)
    mixed = weights @ v  # (B, nh, T, hs)
    joined = mixed.transpose(1, 2).reshape(B, T, C)  # (B, T, C)
    out = attn.c_proj(joined)  # (B, T, C)
    shapes = (
        ("idx", "(B, T)", tuple(idx.shape)),
        ("x: the layer's input", "(B, T, C)", tuple(x.shape)),
        ("c_attn(x): q, k, v side by side", "(B, T, 3C)", tuple(qkv.shape)),
        ("q, k, v: split into heads", "(B, nh, T, hs)", tuple(q.shape)),
        ("q @ kᵀ / √hs, masked, softmax", "(B, nh, T, T)", tuple(weights.shape)),
        ("weights @ v", "(B, nh, T, hs)", tuple(mixed.shape)),
        ("heads side by side", "(B, T, C)", tuple(joined.shape)),
        ("c_proj: the layer's output", "(B, T, C)", tuple(out.shape)),
    )
    upper = ~causal  # (T, T): a later position
    return AttentionExample(
        shapes=shapes,
        weights=weights.cpu(),
        output_error=float((out - seen["out"]).abs().max()),
        above_diagonal=float(weights[..., upper].abs().max()),
        row_sum_error=float((weights.sum(dim=-1) - 1).abs().max()),
    )


def attention_table(example: AttentionExample, labels: str, *, n: int = 6, row: int = 0, head: int = 0) -> Table:
    """The first ``n`` positions of one head's weights; an exact zero is shown as ``0``.

    ``labels``: the characters of ``row`` of the batch, one per position.
    """
    checks.instance("example", example, AttentionExample)
    _, nh, T, _ = example.weights.shape
    n = checks.integer("n", n, 1, T)
    row = checks.integer("row", row, 0, example.weights.shape[0] - 1)
    head = checks.integer("head", head, 0, nh - 1)
    if not isinstance(labels, str) or len(labels) < n:
        raise ValueError(f"labels must be a str of at least n={n} characters, got {labels!r}")
    w = example.weights[row, head, :n, :n].tolist()
    return Table.of(["position reads →"] + [f"{j} {labels[j]}" for j in range(n)],
                    [[f"{i} {labels[i]}"] + ["0" if x == 0 else f"{x:.2f}" for x in w[i]] for i in range(n)],
                    caption=f"Attention weights of head {head}, first {n} positions (row: the position "
                            "that reads; column: the position read)")


# --------------------------------------------------------------------------------------------
# 3. Generation with the KV cache


class _RecordSteps(torch.nn.Module):
    """``model`` unchanged, with every call of ``step`` recorded: what was fed and what came back."""

    def __init__(self, model: GPT):
        super().__init__()
        self.model = model
        self.block_size = model.block_size
        self.calls: list[tuple[list[int], tuple[int, ...], int, tuple[int, ...], int]] = []
        self.train(model.training)  # generation's eval_mode restores this mode: keep the model's own

    @property
    def vocab_size(self) -> int:
        return self.model.vocab_size

    def forward(self, idx):
        return self.model(idx)

    def step(self, idx, state=None):
        logits, state = self.model.step(idx, state)  # (1, t, V), the cache after these t tokens
        chosen = int(logits[0, -1].argmax())  # what greedy generation picks from these logits
        self.calls.append((idx[0].tolist(), tuple(idx.shape), state.length, tuple(logits.shape), chosen))
        return logits, state


@dataclass(frozen=True)
class GenerationStep:
    """One call of ``model.step`` during generation."""

    fed: str  # the tokens fed, as characters
    fed_shape: tuple[int, int]  # (B, t)
    cache_length: int  # positions in the KV cache after the call
    logits_shape: tuple[int, int, int]  # (B, t, V)
    token: str  # the token chosen from the last position's logits (greedy: the argmax)


@dataclass(frozen=True)
class GenerationTrace:
    """Greedy generation from one prompt, call by call; ``answer_uncached`` recomputes the whole
    prefix at every step instead of using the cache."""

    prompt: str
    steps: tuple[GenerationStep, ...]
    answer: str
    answer_uncached: str
    tokens: tuple[int, ...]
    tokens_uncached: tuple[int, ...]

    @property
    def same_as_uncached(self) -> bool:
        return self.tokens == self.tokens_uncached


@torch.no_grad()
def generation_trace(model, task: Task, prompt: str, max_new_tokens: int | None = None) -> GenerationTrace:
    """Greedy :func:`~handbook_utils.generation.generate_ids` from ``prompt`` (stopping at ``<eos>``),
    recording every ``model.step``; then the same generation with ``use_cache=False``.

    ``max_new_tokens`` defaults to whatever fits the model's context after the prompt.
    """
    _check_model(model)
    checks.instance("task", task, Task, "handbook_utils.tasks.Task")
    checks.same_vocabulary(model, task.tokenizer)
    checks.instance("prompt", prompt, str)
    if not prompt:
        raise ValueError("prompt must hold at least one character")
    tok = task.tokenizer
    ids = tok.encode(prompt)
    room = model.block_size - len(ids) + 1
    if room < 1:
        raise ValueError(f"prompt has {len(ids)} tokens, more than the model's block_size {model.block_size}")
    budget = room if max_new_tokens is None else checks.integer("max_new_tokens", max_new_tokens, 1, room)
    stop = [[tok.eos_id]]
    recorder = _RecordSteps(model)
    written = generate_ids(recorder, [ids], budget, greedy=True, stop_sequences=stop)[0]
    again = generate_ids(model, [ids], budget, greedy=True, stop_sequences=stop, use_cache=False)[0]
    steps = tuple(GenerationStep(_chars(tok, fed), shape, length, logits_shape, _chars(tok, [chosen]))
                  for fed, shape, length, logits_shape, chosen in recorder.calls)
    return GenerationTrace(prompt, steps, _chars(tok, written), _chars(tok, again), tuple(written), tuple(again))


def trace_table(trace: GenerationTrace) -> Table:
    """One row per call of ``model.step``: what was fed, the cache length after it, the token chosen."""
    checks.instance("trace", trace, GenerationTrace)
    return Table.of(["call", "fed", "fed shape", "logits shape", "cache length after", "token chosen"],
                    [[str(i), repr(s.fed), str(s.fed_shape), str(s.logits_shape), str(s.cache_length), repr(s.token)]
                     for i, s in enumerate(trace.steps)],
                    caption=f"Greedy generation from {trace.prompt!r}, one row per call of model.step")
