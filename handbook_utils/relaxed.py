"""Relaxed sampling: differentiable stand-ins for the model's choice of a token (chapter 8).

Choosing a token is a discrete step: ``argmax(logits + g)`` with Gumbel noise ``g`` draws a token
from ``softmax(logits)`` (the Gumbel-max trick, what :class:`~handbook_utils.strategies.ScheduledSampling`
uses), but the token id has no gradient. The relaxations below replace the one-hot vector of that
choice with weights over the vocabulary that *are* differentiable functions of the logits:

- :func:`gumbel_softmax`: ``softmax((logits + g) / tau)`` (Jang et al., 2017; Maddison et al.,
  2017: the Concrete distribution). A point of the simplex, near a one-hot vector for a small
  temperature ``tau`` and near uniform for a large one.
- :func:`straight_through`: the hard one-hot vector in the forward pass, the gradient of the soft
  weights in the backward pass (Bengio et al., 2013). The value is exactly a token; the gradient
  is that of something else, hence biased.
- ``"expected"`` in :func:`relax`: ``softmax(logits / tau)`` without noise, whose product with the
  embedding table is the expected embedding, the "soft argmax" of Goyal et al. (2017).

:func:`mix_embeddings` turns weights into the input a model reads: ``weights @ table``, one
embedding vector per position. Every function checks its inputs (finite logits, ``tau > 0``) and
names the parameter that is wrong.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import checks

RELAX_MODES = ("expected", "gumbel", "straight_through")
"""How :func:`relax` turns logits into weights over the vocabulary."""


def check_tau(tau) -> float:
    """The temperature: a finite number > 0 (0 would be the argmax itself, which has no gradient)."""
    return checks.positive("tau", tau)


def check_logits(name: str, logits) -> torch.Tensor:
    """A floating-point tensor of at least one dimension (the last is the vocabulary) with no NaN or inf."""
    checks.instance(name, logits, torch.Tensor)
    if not logits.is_floating_point() or logits.dim() == 0 or logits.shape[-1] == 0:
        raise ValueError(f"{name} must be a floating-point tensor (..., V) with V >= 1, "
                         f"got dtype {logits.dtype} and shape {tuple(logits.shape)}")
    if not bool(torch.isfinite(logits).all()):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return logits


def gumbel_noise(shape, *, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
    """Standard Gumbel noise ``-log(-log U)`` of ``shape``: ``argmax(logits + g)`` then samples ``softmax(logits)``."""
    u = torch.rand(shape, generator=generator, device=device if generator is None else generator.device)
    return -torch.log(-torch.log(u.clamp_min(1e-20)))


def _noise_like(logits: torch.Tensor, gumbel: torch.Tensor | None, generator) -> torch.Tensor:
    if gumbel is None:
        return gumbel_noise(logits.shape, generator=generator).to(logits.device)
    checks.instance("gumbel", gumbel, torch.Tensor)
    if gumbel.shape != logits.shape:
        raise ValueError(f"gumbel must have the shape of logits {tuple(logits.shape)}, got {tuple(gumbel.shape)}")
    return gumbel.to(logits.device)


def gumbel_max(logits: torch.Tensor, gumbel: torch.Tensor | None = None, *,
               generator: torch.Generator | None = None) -> torch.Tensor:
    """A token id per row, drawn from ``softmax(logits)``: ``argmax(logits + g)`` (no gradient; ``(...,)`` long)."""
    logits = check_logits("logits", logits)
    return (logits.detach() + _noise_like(logits, gumbel, generator)).argmax(dim=-1)


def gumbel_softmax(logits: torch.Tensor, tau: float = 1.0, gumbel: torch.Tensor | None = None, *,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """A relaxed sample ``softmax((logits + g) / tau)``, ``(..., V)``: rows sum to 1, differentiable in ``logits``.

    With the same noise ``g``, its largest weight sits on the token :func:`gumbel_max` picks, and it
    tends to that one-hot vector as ``tau`` → 0 (and to uniform as ``tau`` → ∞). ``gumbel`` fixes the
    noise (the same shape as ``logits``); otherwise it is drawn from ``generator``.
    """
    logits = check_logits("logits", logits)
    tau = check_tau(tau)
    return F.softmax((logits + _noise_like(logits, gumbel, generator)) / tau, dim=-1)


def straight_through(soft: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
    """Hard forward, soft backward: the one-hot vector of ``index`` (default: ``soft.argmax(-1)``) whose
    gradient is that of ``soft``.

    ``hard + (soft - soft.detach())``: the bracket is exactly zero in the forward pass, so the value
    is exactly one-hot, while autograd sees only ``soft``.
    """
    soft = check_logits("soft", soft)
    if index is None:
        index = soft.detach().argmax(dim=-1)
    checks.instance("index", index, torch.Tensor)
    if index.shape != soft.shape[:-1]:
        raise ValueError(f"index must have shape {tuple(soft.shape[:-1])}, got {tuple(index.shape)}")
    hard = F.one_hot(index.long(), soft.shape[-1]).to(soft.dtype)  # (..., V)
    return hard + (soft - soft.detach())


def relax(logits: torch.Tensor, mode: str, tau: float = 1.0, gumbel: torch.Tensor | None = None, *,
          generator: torch.Generator | None = None) -> torch.Tensor:
    """Weights over the vocabulary ``(..., V)`` standing in for the model's choice, one of :data:`RELAX_MODES`:

    - ``"expected"``: ``softmax(logits / tau)``, no noise (deterministic; the soft argmax);
    - ``"gumbel"``: a Gumbel-softmax sample, soft in both passes;
    - ``"straight_through"``: the Gumbel-max token as a one-hot vector, with the Gumbel-softmax gradient.

    The last two use the noise ``gumbel`` (or draw it), so with the same noise the straight-through
    token is exactly the token scheduled sampling would have sampled.
    """
    checks.one_of("mode", mode, RELAX_MODES)
    logits = check_logits("logits", logits)
    tau = check_tau(tau)
    if mode == "expected":
        return F.softmax(logits / tau, dim=-1)
    noise = _noise_like(logits, gumbel, generator)
    soft = F.softmax((logits + noise) / tau, dim=-1)
    if mode == "gumbel":
        return soft
    return straight_through(soft, (logits.detach() + noise).argmax(dim=-1))  # the Gumbel-max token


def mix_embeddings(weights: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """``weights (..., V) @ table (V, C)`` → ``(..., C)``: the embedding a model reads for a relaxed token.

    For a one-hot row it is exactly that token's embedding; for ``softmax(logits)`` it is the expected
    embedding under the model's distribution, a point that is usually no token's embedding at all.
    """
    checks.instance("weights", weights, torch.Tensor)
    checks.instance("table", table, torch.Tensor)
    if table.dim() != 2 or weights.shape[-1] != table.shape[0]:
        raise ValueError(f"weights (..., V) and table (V, C) must agree on V, got {tuple(weights.shape)} "
                         f"and {tuple(table.shape)}")
    return weights.to(table.dtype) @ table
