"""Training strategies: what the model reads while it is being trained.

A strategy is a small object with one method, ``loss(model, batch, epoch) -> scalar tensor``. The
targets and the loss mask are always the gold ones; strategies differ only in the *inputs*:

- :class:`TeacherForcing`: the gold prefix everywhere (one parallel pass).
- :class:`ScheduledSampling`: each target-token input is, with probability ``p = schedule(epoch)``,
  replaced by the model's own prediction for that position (Bengio et al., 2015).
  ``mode="sequential"`` runs through the sequence one step at a time, as an RNN would, so every
  prediction already sees the earlier replacements. ``mode="parallel"`` is the transformer version
  (Mihaylova & Martins, 2019; Duckworth et al., 2019): ``passes`` teacher-forced passes without
  gradient produce the predictions, then one pass with gradient trains on the mixed input. With
  ``passes >= T - 1`` and the same random draws it feeds exactly the tokens the sequential version
  feeds (and the losses agree to float rounding).
- :class:`SoftScheduledSampling`: the two-pass version, but a replaced input is a *relaxed* token
  (:mod:`handbook_utils.relaxed`): the expected embedding under the first pass's softmax, a
  Gumbel-softmax sample, or a straight-through one-hot; with ``grad_through_first_pass=True`` the
  loss also trains the first pass through that choice (Goyal et al., 2017; Mihaylova & Martins,
  2019; chapter 8).
- :class:`AlwaysSampling`: ``p = 1`` from the first step; no gold target token is ever fed.
- :class:`MultiTokenPrediction`: gold inputs as in teacher forcing, but every position is also
  scored on the tokens 2 … k ahead, through the extra heads of ``GPTConfig(n_future=k)``
  (Gloeckle et al., 2024; chapter 9). The inputs are the same; the *targets* reach further.

Teacherless training (Bachmann & Nagarajan, 2024; chapter 9) is not a strategy here but a property of
the data: ``PathStarTask(teacherless=True)`` hides every target token of the input behind a dummy in
:meth:`~handbook_utils.tasks.base.Task.batch`, trains with :class:`TeacherForcing` (``train`` refuses any
strategy that would feed tokens back), and :func:`~handbook_utils.metrics.evaluate` decodes it in
one pass, as it was trained.

``epoch`` is training time in epochs, possibly fractional (``step / steps_per_epoch``); the
schedules of :mod:`handbook_utils.schedules` read it. New strategies (curricula, sequence-level
losses) subclass :class:`Strategy` and implement ``loss``; make them dataclasses so the cache can
hash their settings.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from . import checks, relaxed
from .schedules import ConstantSchedule
from .tasks import Batch


def check_batch(model, batch: Batch) -> Batch:
    """A Batch whose ids the model can read: called by every strategy before its forward pass, so a
    model built for another tokenizer fails with a clear message instead of an IndexError."""
    checks.instance("batch", batch, Batch)
    checks.token_ids("batch.inputs", batch.inputs, model.vocab_size)  # targets are the same ids, shifted
    return batch


def masked_cross_entropy(logits: torch.Tensor, batch: Batch) -> torch.Tensor:
    """Mean cross-entropy over the scored (target) positions only: the prompt is given, not learned."""
    mask = batch.loss_mask  # (B, T)
    return F.cross_entropy(logits[mask].float(), batch.targets[mask])  # (N, V) vs (N,)


class Strategy:
    """Interface: ``loss(model, batch, epoch)`` returns the scalar training loss for ``batch``."""

    def loss(self, model, batch: Batch, epoch: float = 0.0) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError


@dataclass(frozen=True)
class TeacherForcing(Strategy):
    """Gold inputs at every position: all T predictions from one parallel forward pass."""

    def loss(self, model, batch: Batch, epoch: float = 0.0) -> torch.Tensor:
        check_batch(model, batch)
        return masked_cross_entropy(model(batch.inputs), batch)  # model(...) is (B, T, V)


@dataclass(frozen=True)
class MultiTokenPrediction(Strategy):
    """Teacher forcing plus the extra heads of multi-token prediction (Gloeckle et al., 2024).

    Head j (0-based) at position t is scored on token t+1+j wherever that token is a target token;
    the loss is the *sum* of the heads' mean cross-entropies, as in the paper, so the history shows
    k times the scale of a next-token loss. On a model with one head (the default ``n_future=1``) it
    is exactly :class:`TeacherForcing`. Generation and evaluation read only the next-token head.
    Used by chapter 9.
    """

    def loss(self, model, batch: Batch, epoch: float = 0.0) -> torch.Tensor:
        check_batch(model, batch)
        if not callable(getattr(model, "heads", None)):
            raise TypeError(f"model must be a GPT with heads() (GPTConfig(n_future=k)), got {type(model).__name__}")
        logits = model.heads(batch.inputs)  # n_future × (B, T, V); entry j predicts targets[:, t + j]
        total = masked_cross_entropy(logits[0], batch)
        for j, head_logits in enumerate(logits[1:], start=1):
            mask = batch.loss_mask[:, j:]  # (B, T-j): token t+1+j is a target token
            if bool(mask.any()):
                total = total + F.cross_entropy(head_logits[:, :-j][mask].float(), batch.targets[:, j:][mask])
        return total


# --------------------------------------------------------------------------------------------
# Scheduled sampling


@dataclass
class Draws:
    """All the randomness of one scheduled-sampling step, drawn up front.

    Drawing it first is what lets the parallel and sequential versions be compared exactly: given
    the same ``Draws`` they must feed the same tokens.
    """

    use_model: torch.Tensor  # (B, T) bool: feed the model's prediction instead of the gold input
    gumbel: torch.Tensor | None  # (B, T, V) Gumbel noise for sampling, None for argmax

    @staticmethod
    def sample(batch: Batch, vocab_size: int, p: float, mix: str, generator: torch.Generator | None = None) -> Draws:
        B, T = batch.inputs.shape
        device = batch.inputs.device if generator is None else generator.device
        coins = torch.rand(B, T, generator=generator, device=device).to(batch.inputs.device)  # (B, T)
        # input i may be replaced only if it is a target token: the prediction for it is scored at
        # i-1 and its own output is scored at i (so prompt and padding are never touched)
        replaceable = torch.zeros_like(batch.loss_mask)
        replaceable[:, 1:] = batch.loss_mask[:, :-1] & batch.loss_mask[:, 1:]
        use_model = replaceable & (coins < p)
        gumbel = None
        if mix == "sample":
            u = torch.rand(B, T, vocab_size, generator=generator, device=device).to(batch.inputs.device)
            gumbel = -torch.log(-torch.log(u.clamp_min(1e-20)))  # argmax(logits + g) ~ softmax(logits)
        return Draws(use_model, gumbel)


def _choose(logits: torch.Tensor, gumbel: torch.Tensor | None) -> torch.Tensor:
    """The model's token from ``logits`` (..., V): a softmax sample (Gumbel-max) or the argmax."""
    logits = logits.detach().float()  # the choice is discrete: no gradient flows through it
    return (logits if gumbel is None else logits + gumbel).argmax(dim=-1)


def sequential_inputs_and_logits(model, batch: Batch, draws: Draws) -> tuple[torch.Tensor, torch.Tensor]:
    """Bengio et al.'s loop: step through the sequence, deciding each input after the previous prediction.

    Returns ``(logits (B, T, V), fed inputs (B, T))``. The leading stretch where no coin asks for the
    model (at least the shortest prompt) is fed as one chunk; after that, one token per step.
    """
    inputs, use_model = batch.inputs, draws.use_model  # (B, T), (B, T)
    T = inputs.shape[1]
    asked = use_model.any(dim=0).nonzero()
    t0 = int(asked[0]) if len(asked) else T  # first position where some row wants the model's token
    with torch.no_grad():  # the choices are discrete: no gradient flows through them (see below)
        logits, state = model.step(inputs[:, :t0], None)  # (B, t0, V)
        fed = [inputs[:, :t0]]
        for t in range(t0, T):
            pred = _choose(logits[:, -1], None if draws.gumbel is None else draws.gumbel[:, t])  # (B,)
            x = torch.where(use_model[:, t], pred, inputs[:, t]).unsqueeze(1)  # (B, 1)
            logits, state = model.step(x, state)  # (B, 1, V)
            fed.append(x)
    fed = torch.cat(fed, dim=1)  # (B, T)
    # A causal model's logits at t depend only on the inputs up to t, so one pass with gradient over
    # the fed inputs gives the loop's logits (to float rounding) at the cost of one forward-backward,
    # instead of backpropagating through T single-token calls.
    return model(fed), fed


def parallel_inputs_and_logits(model, batch: Batch, draws: Draws, passes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``passes`` gradient-free passes build the mixed input, one more pass with gradient scores it.

    Watch the shift: the prediction made at position i-1 is a guess for token i, so it replaces
    *input* i. After pass k the first k replaceable positions agree with the sequential loop (each
    depends only on earlier positions), which is why ``passes = T - 1`` reproduces it exactly.
    """
    gold = batch.inputs  # (B, T)
    x = gold
    with torch.no_grad():
        for _ in range(passes):
            logits = model(x)  # (B, T, V)
            noise = None if draws.gumbel is None else draws.gumbel[:, 1:]
            pred = _choose(logits[:, :-1], noise)  # (B, T-1): prediction for input i, made at i-1
            mixed = torch.cat([gold[:, :1], torch.where(draws.use_model[:, 1:], pred, gold[:, 1:])], dim=1)
            if torch.equal(mixed, x):  # a fixed point: further passes would change nothing
                break
            x = mixed
    return model(x), x


def _as_schedule(schedule) -> Callable[[float], float]:
    if isinstance(schedule, bool):
        raise TypeError("schedule must be a callable epoch -> p or a number in [0, 1], got bool")
    if isinstance(schedule, (int, float)):
        return ConstantSchedule(float(schedule))
    if not callable(schedule):
        raise TypeError(f"schedule must be a callable epoch -> p or a number in [0, 1], got {type(schedule).__name__}")
    return schedule


@dataclass(frozen=True)
class ScheduledSampling(Strategy):
    """Feed the model's own prediction with probability ``p = schedule(epoch)``, one coin per token.

    ``schedule``: a callable epoch → p (see :mod:`handbook_utils.schedules`) or a constant p.
    ``mode``: ``"sequential"`` (step by step, exact, slow) or ``"parallel"`` (``passes`` extra passes).
    ``mix``: ``"sample"`` draws the model token from its softmax (Bengio et al.), ``"argmax"`` takes the
    most likely one.
    """

    schedule: Callable[[float], float] | float
    mode: str = "sequential"
    passes: int = 1
    mix: str = "sample"

    def __post_init__(self):
        object.__setattr__(self, "schedule", _as_schedule(self.schedule))
        checks.one_of("mode", self.mode, ("sequential", "parallel"))
        checks.positive_int("passes", self.passes)
        checks.one_of("mix", self.mix, ("sample", "argmax"))

    def probability(self, epoch: float) -> float:
        return checks.probability(f"schedule({epoch})", self.schedule(epoch))

    def forward(self, model, batch: Batch, epoch: float = 0.0, generator: torch.Generator | None = None):
        """``(logits (B, T, V), fed inputs (B, T))``: what the model read and what it predicted."""
        check_batch(model, batch)
        draws = Draws.sample(batch, model.vocab_size, self.probability(epoch), self.mix, generator)
        if self.mode == "parallel":
            return parallel_inputs_and_logits(model, batch, draws, self.passes)
        return sequential_inputs_and_logits(model, batch, draws)

    def loss(self, model, batch: Batch, epoch: float = 0.0, generator: torch.Generator | None = None) -> torch.Tensor:
        logits, _ = self.forward(model, batch, epoch, generator)
        return masked_cross_entropy(logits, batch)


@dataclass(frozen=True)
class AlwaysSampling(ScheduledSampling):
    """p = 1 from the start: the model only ever reads its own (initially random) predictions.

    Bengio et al. found this far worse than teacher forcing; it is here to show why a schedule is needed.
    """

    schedule: Callable[[float], float] | float = ConstantSchedule(1.0)

    def __post_init__(self):
        if self.schedule != ConstantSchedule(1.0):
            raise ValueError("schedule of AlwaysSampling is fixed to p = 1; use ScheduledSampling for others")
        super().__post_init__()


# --------------------------------------------------------------------------------------------
# Scheduled sampling with relaxed tokens (chapter 8)


@dataclass
class SoftForward:
    """What one step of :class:`SoftScheduledSampling` computed, for inspection and tests."""

    logits: torch.Tensor  # (B, T, V) second pass, on the mixed input: what the loss scores
    first_logits: torch.Tensor  # (B, T, V) first pass, on the gold input
    weights: torch.Tensor  # (B, T-1, V) relaxed choice for inputs 1 … T-1 (made at positions 0 … T-2)
    use_model: torch.Tensor  # (B, T) bool: inputs replaced by the relaxed choice
    mixed: torch.Tensor  # (B, T, C) the token embeddings the second pass read


@dataclass(frozen=True)
class SoftScheduledSampling(Strategy):
    """Two-pass scheduled sampling whose replaced inputs are relaxed tokens, so a gradient can flow
    through the model's choice (chapter 8).

    Pass 1 reads the gold input; at each replaced input ``i`` (one coin per token, probability
    ``p = schedule(epoch)``, exactly as in :class:`ScheduledSampling`) pass 2 reads
    ``weights @ embedding table`` instead of the gold token's embedding, where ``weights`` come from
    the prediction made at ``i - 1`` (:func:`handbook_utils.relaxed.relax`):

    - ``relax="expected"``: ``softmax(logits / tau)``, the expected embedding (Goyal et al.'s soft argmax);
    - ``relax="gumbel"``: a Gumbel-softmax sample at temperature ``tau``;
    - ``relax="straight_through"``: the sampled token itself (one-hot), with the Gumbel-softmax gradient.

    ``grad_through_first_pass=False`` computes pass 1 without gradient (the choice is a constant, as
    in Mihaylova & Martins' default); ``True`` lets the loss of pass 2 train pass 1 through the
    relaxed choice. With ``relax="straight_through"`` and no gradient through pass 1 the inputs are
    exactly those of ``ScheduledSampling(mode="parallel", passes=1, mix="sample")`` given the same
    random draws: the tests check it. The model must offer ``forward_embeddings`` and ``wte``
    (both models of :mod:`handbook_utils.models` do).
    """

    schedule: Callable[[float], float] | float
    relax: str = "expected"
    tau: float = 1.0
    grad_through_first_pass: bool = False

    def __post_init__(self):
        object.__setattr__(self, "schedule", _as_schedule(self.schedule))
        checks.one_of("relax", self.relax, relaxed.RELAX_MODES)
        object.__setattr__(self, "tau", relaxed.check_tau(self.tau))
        checks.boolean("grad_through_first_pass", self.grad_through_first_pass)

    def probability(self, epoch: float) -> float:
        return checks.probability(f"schedule({epoch})", self.schedule(epoch))

    def forward(self, model, batch: Batch, epoch: float = 0.0, generator: torch.Generator | None = None) -> SoftForward:
        if not (callable(getattr(model, "forward_embeddings", None)) and hasattr(model, "wte")):
            raise TypeError(f"model must offer forward_embeddings() and wte (GPT or GRULM), got {type(model).__name__}")
        check_batch(model, batch)
        mix = "argmax" if self.relax == "expected" else "sample"  # only the noisy relaxations need Gumbel noise
        draws = Draws.sample(batch, model.vocab_size, self.probability(epoch), mix, generator)
        gold = batch.inputs  # (B, T)
        grad = contextlib.nullcontext() if self.grad_through_first_pass else torch.no_grad()
        with grad:
            first = model(gold)  # (B, T, V)
            noise = None if draws.gumbel is None else draws.gumbel[:, 1:]  # (B, T-1, V)
            weights = relaxed.relax(first[:, :-1].float(), self.relax, self.tau, noise)  # (B, T-1, V)
        table = model.wte.weight  # (V, C): the gold and the relaxed inputs share it, and train it
        gold_emb = model.wte(gold)  # (B, T, C)
        soft = relaxed.mix_embeddings(weights, table)  # (B, T-1, C)
        use = draws.use_model[:, 1:, None]  # (B, T-1, 1)
        mixed = torch.cat([gold_emb[:, :1], torch.where(use, soft, gold_emb[:, 1:])], dim=1)  # (B, T, C)
        return SoftForward(model.forward_embeddings(mixed), first, weights, draws.use_model, mixed)

    def loss(self, model, batch: Batch, epoch: float = 0.0, generator: torch.Generator | None = None) -> torch.Tensor:
        return masked_cross_entropy(self.forward(model, batch, epoch, generator).logits, batch)
