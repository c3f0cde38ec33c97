"""Models shared by the tests of chapters 2-4 and of ``handbook_utils.metrics`` (not a test module).

- Stand-in models with the right answer built in: :class:`ChainOracle` writes the gold addition
  chain of its prompt, :class:`MarkovOracle` outputs a Markov task's true distribution; both
  share :class:`OracleLM`'s plumbing (a dummy parameter, no context limit, a ``step`` that
  recomputes the whole prefix).
- Tiny trainable models: :func:`tiny_gpt`, :func:`tiny_gru`, :func:`sharpen`, and
  :func:`half_trained` (trained once per session, some answers right and some wrong).
- :func:`one_thread`, an autouse fixture for modules of tiny models (import it to use it).
"""

import functools

import pytest
import torch
import torch.nn as nn

from handbook_utils.models import GPTConfig, GRUConfig, make_model
from handbook_utils.tasks import AdditionChainTask
from handbook_utils.training import train

SMALL_ADDITION = AdditionChainTask(n_terms=(2, 3), max_value=5)
HALF_TRAINED_TASK = AdditionChainTask(n_terms=(2, 3), max_value=4)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """These models are tiny: one thread is as fast and immune to other work on the CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_gpt(task=SMALL_ADDITION, seed=0, **kw):
    """A one-layer GPT for ``task`` in eval mode (``kw`` overrides the config)."""
    settings = dict(n_layer=1, n_head=2, n_embd=16)
    settings.update(kw)
    return make_model(GPTConfig.for_task(task, **settings), seed=seed).eval()


def tiny_gru(task=SMALL_ADDITION, seed=0):
    return make_model(GRUConfig.for_task(task, n_embd=8, n_hidden=16), seed=seed).eval()


def sharpen(model, factor=30.0):
    """Scale the output layer so a random model's distributions are far from uniform."""
    with torch.no_grad():
        model.lm_head.weight.mul_(factor)
    return model


@functools.cache
def half_trained():
    """``(model, history)``: a GPT trained on :data:`HALF_TRAINED_TASK` just long enough that some
    answers are right and some are wrong, with evaluations at steps 60 and 120. Do not modify it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model: one thread is as fast, and immune to a busy machine
    try:
        model = make_model(GPTConfig.for_task(HALF_TRAINED_TASK, n_layer=1, n_head=2, n_embd=32), seed=0)
        history = train(model, HALF_TRAINED_TASK, steps=120, batch_size=32, lr=5e-3, seed=0, progress=False,
                        cache=False, device="cpu", eval_every=60, eval_n=64)
    finally:
        torch.set_num_threads(threads)
    return model.eval(), history


class OracleLM(nn.Module):
    """Plumbing of a stand-in model: subclasses define ``forward(idx)``, (B, T) -> (B, T, V) logits."""

    def __init__(self, task):
        super().__init__()
        self.task = task
        self.dummy = nn.Parameter(torch.zeros(1))  # generation reads the device off a parameter
        self.vocab_size = task.tokenizer.vocab_size
        self.block_size = None

    def step(self, idx, state=None):
        """The incremental API without a cache: the state is the prefix so far, recomputed each call."""
        state = idx if state is None else torch.cat([state, idx], 1)
        return self.forward(state)[:, -idx.shape[1] :], state


class ChainOracle(OracleLM):
    """Knows the addition chain of each of ``examples``: whatever it was fed after a prompt, its
    logits favour the gold next token of that prompt's chain (so it repairs any planted error)."""

    def __init__(self, task, examples):
        super().__init__(task)
        tok = task.tokenizer
        self.full = {tuple(tok.encode(e.prompt)): tok.encode(e.prompt + e.target) + [tok.eos_id] for e in examples}

    def forward(self, idx):
        B, T = idx.shape
        out = torch.zeros(B, T, self.vocab_size)
        for b in range(B):
            row = idx[b].tolist()
            seq = next(s for p, s in self.full.items() if row[: len(p)] == list(p)[: len(row)])
            for t in range(T):
                if t + 1 < len(seq):
                    out[b, t, seq[t + 1]] = 10.0
        return out


class MarkovOracle(OracleLM):
    """Outputs a MarkovTask's true log-probabilities: its KL to the truth is 0 on any prefix."""

    def forward(self, idx):
        return self.task.true_next_token_table(idx).clamp_min(1e-30).log().float()
