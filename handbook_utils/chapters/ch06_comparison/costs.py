"""What a remedy costs (chapter 6): seconds per training step side by side, and how K parallel passes
converge to sequential scheduled sampling; plus the text views of fed tokens and injected slips."""

from __future__ import annotations

import copy
import statistics
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from ... import checks
from ...metrics import inject_error_and_continue
from ...runtime import cpu_threads, eval_mode, time_in_turns
from ...strategies import Draws, Strategy, _choose, sequential_inputs_and_logits
from ...tasks import AdditionChainTask, Batch
from ...training import configure_optimizer
from .runs import slip_outcome


def step_costs(
    model: torch.nn.Module,
    batch: Batch,
    strategies: Mapping[str, Strategy],
    *,
    repeats: int = 7,
    warmup: int = 1,
    epoch: float = 1.0,
) -> dict[str, float]:
    """Median seconds of one training step (loss, backward, optimizer step) per strategy.

    The strategies are timed in turn, round after round, on copies of ``model`` and the same
    ``batch``, so a busy machine slows them alike and the *ratios* stay meaningful even when the
    seconds do not. Runs on one thread, like the training runs of :func:`run_grid`.
    """


    if not strategies:
        raise ValueError("strategies must not be empty")
    checks.positive_int("repeats", repeats)
    steps = {}
    for name, strategy in strategies.items():
        checks.instance(f"strategies[{name!r}]", strategy, Strategy, "handbook_utils.strategies.Strategy instance")
        m = copy.deepcopy(model).train()
        opt = configure_optimizer(m, 1e-4, 0.0)

        def step(m=m, opt=opt, strategy=strategy):
            loss = strategy.loss(m, batch, epoch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        steps[name] = step
    with cpu_threads(1):
        times = time_in_turns(steps, repeats, warmup=warmup)
    return {name: statistics.median(ts) for name, ts in times.items()}


@dataclass(frozen=True)
class PassesAgreement:
    """How close K parallel passes come to sequential scheduled sampling, for K = 1 .. max."""

    passes: tuple[int, ...]
    token_agreement: tuple[float, ...]  # share of model-token inputs equal to the sequential ones
    row_agreement: tuple[float, ...]  # share of sequences whose whole input equals the sequential one
    length: int  # T: positions in the batch


@torch.no_grad()
def passes_agreement(model, batch: Batch, p: float, max_passes: int, *, seed: int = 0,
                     mix: str = "sample") -> PassesAgreement:
    """Feed ``batch`` with the same random draws sequentially and with K = 1 .. ``max_passes`` passes.

    Pass k fixes the k-th replaced position for good (it depends only on earlier inputs), so the
    agreement climbs to 1 by K = T at the latest; usually much sooner, because most sequences hold
    only a few replaced positions whose prediction changes. The passes are run once, one after the
    other, exactly as :func:`~handbook_utils.strategies.parallel_inputs_and_logits` runs them, and
    the input after pass K is compared with the sequential one.
    """
    if not isinstance(batch, Batch):
        raise TypeError(f"batch must be a Batch, got {type(batch).__name__}")
    checks.positive_int("max_passes", max_passes)
    with eval_mode(model), cpu_threads(1):
        draws = Draws.sample(batch, model.vocab_size, float(p), mix, torch.Generator().manual_seed(seed))
        _, fed_seq = sequential_inputs_and_logits(model, batch, draws)
        replaced = draws.use_model
        n = int(replaced.sum())
        gold = batch.inputs
        noise = None if draws.gumbel is None else draws.gumbel[:, 1:]
        x, tokens, rows = gold, [], []
        for _ in range(max_passes):
            pred = _choose(model(x)[:, :-1], noise)  # (B, T-1): the guess for input i, made at i-1
            x = torch.cat([gold[:, :1], torch.where(replaced[:, 1:], pred, gold[:, 1:])], dim=1)
            same = x == fed_seq
            tokens.append(float(same[replaced].sum()) / n if n else 1.0)
            rows.append(float(same.all(dim=1).double().mean()))
            if rows[-1] == 1.0:  # every sequence as in the loop: a fixed point from here on
                break
        tokens += [1.0] * (max_passes - len(tokens))
        rows += [1.0] * (max_passes - len(rows))
    return PassesAgreement(tuple(range(1, max_passes + 1)), tuple(tokens), tuple(rows), batch.inputs.shape[1])


def fed_tokens_text(task, batch: Batch, fed: torch.Tensor, row: int = 0, replaced: torch.Tensor | None = None) -> str:
    """Gold input and fed input of one sequence, one character per position, with markers.

    Marker line: ``^`` where a model token was fed and differs from the gold one, ``.`` where a
    model token was fed and happens to be right (needs ``replaced``, the draws' ``use_model``).
    """
    if not isinstance(batch, Batch):
        raise TypeError(f"batch must be a Batch, got {type(batch).__name__}")
    if fed.shape != batch.inputs.shape:
        raise ValueError(f"fed must have the shape of batch.inputs {tuple(batch.inputs.shape)}, got {tuple(fed.shape)}")
    if not 0 <= row < fed.shape[0]:
        raise ValueError(f"row must be in [0, {fed.shape[0]}), got {row}")
    tok = task.tokenizer
    length = int(batch.prompt_lens[row] + batch.loss_mask[row].sum()) - 1  # real (unpadded) inputs
    gold_ids = batch.inputs[row, :length].tolist()
    fed_ids = fed[row, :length].tolist()
    marks = []
    for t, (g, f) in enumerate(zip(gold_ids, fed_ids)):
        if g != f:
            marks.append("^")
        elif replaced is not None and bool(replaced[row, t]):
            marks.append(".")
        else:
            marks.append(" ")
    gold = "".join(tok.itos[i] for i in gold_ids)
    got = "".join(tok.itos[i] for i in fed_ids)
    return f"gold input: {gold}\nfed input:  {got}\n            {''.join(marks).rstrip()}"


@dataclass(frozen=True)
class InjectionContrast:
    """One gold chain with the same injected slip, continued by several models."""

    prompt: str
    injected_prefix: str  # the gold answer up to the slip, with the wrong digit in place
    true_answer: int
    outputs: dict[str, str]  # model name -> its whole answer (the injected prefix included)
    correct: dict[str, bool]  # model name -> final answer still right
    outcomes: dict[str, str]  # model name -> how it ended (:func:`.runs.slip_outcome`)


def contrast_injections(models: Mapping[str, torch.nn.Module], task: AdditionChainTask, n: int,
                        position: int = 7, seed: int = 777) -> list[InjectionContrast]:
    """Inject the same slips into ``n`` gold chains and let every model of ``models`` continue.

    All models see identical corrupted prefixes (the corruption depends only on the examples and
    ``seed``), so their continuations can be read side by side.
    """
    if not models:
        raise ValueError("models must not be empty")
    with cpu_threads(1):
        runs = {name: inject_error_and_continue(m, task, n, position, seed) for name, m in models.items()}
    first = next(iter(runs.values()))
    out = []
    for k, ex in enumerate(first.examples):
        rows = {name: run.examples[k] for name, run in runs.items()}
        assert all(r.injected_prefix == ex.injected_prefix and r.prompt == ex.prompt for r in rows.values())
        out.append(InjectionContrast(prompt=ex.prompt, injected_prefix=ex.injected_prefix, true_answer=ex.true_answer,
                                     outputs={name: r.output for name, r in rows.items()},
                                     correct={name: r.final_correct for name, r in rows.items()},
                                     outcomes={name: slip_outcome(task, r) for name, r in rows.items()}))
    return out


