"""Chapter 8's small categorical: how good a gradient does each way of "differentiating a choice" give?

A choice ``z`` among ``K`` options is drawn from ``softmax(theta)`` and scored by a fixed function
``f``. The objective is the expected score ``J(theta) = Σ_k softmax(theta)_k f(e_k)``; with four
options it is a sum of four terms, so its gradient is known exactly (autograd of that sum). Against
it we measure, from many independent draws:

- ``"reinforce"``: ``f(z) ∇ log p(z)`` (chapter 2), unbiased and noisy;
- ``"reinforce_baseline"``: the same with each sample's baseline the mean score of the others in its group;
- ``"gumbel_softmax"``: ``∇ f(y)`` with ``y = softmax((theta + g) / tau)`` a relaxed sample: the exact
  gradient of a *different* objective, ``E[f(y)]``, that only becomes ``J`` as ``tau`` → 0;
- ``"straight_through"``: ``f`` of the hard one-hot sample in the forward pass, the Gumbel-softmax
  gradient in the backward pass.

``f(z) = (values · z - target)²`` is not linear in ``z``, so a relaxed sample that sits between two
options is scored as something no option scores: that is where the relaxations' bias comes from.
:func:`estimates` draws grouped estimates, :func:`bias_variance` and :func:`error_by_samples` summarise
them against the exact gradient. The figures are in :mod:`.ch08_toy_figures`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .. import checks
from ..relaxed import check_tau, gumbel_noise, straight_through

METHODS = ("reinforce", "reinforce_baseline", "gumbel_softmax", "straight_through")
RELAXED = ("gumbel_softmax", "straight_through")


@dataclass(frozen=True)
class CategoricalToy:
    """``K`` options with preferences ``logits``; option ``k`` stands for the number ``values[k]`` and
    scores ``(values[k] - target)²`` (lower is better; the gradient is that of the expected score)."""

    logits: tuple[float, ...] = (1.0, 0.5, 0.0, -0.5)
    values: tuple[float, ...] = (0.0, 1.0, 2.0, 3.0)
    target: float = 2.2

    def __post_init__(self):
        if len(self.logits) < 2 or len(self.logits) != len(self.values):
            raise ValueError(f"logits and values must have the same length >= 2, got {len(self.logits)} "
                             f"and {len(self.values)}")
        object.__setattr__(self, "logits", tuple(checks.real_number("logits[i]", v) for v in self.logits))
        object.__setattr__(self, "values", tuple(checks.real_number("values[i]", v) for v in self.values))
        checks.real_number("target", self.target)

    @property
    def k(self) -> int:
        return len(self.logits)

    def theta(self) -> torch.Tensor:
        return torch.tensor(self.logits, dtype=torch.float64)  # (K,)

    def probs(self) -> torch.Tensor:
        return torch.softmax(self.theta(), 0)  # (K,)

    def score(self, z: torch.Tensor) -> torch.Tensor:
        """``f(z) = (values · z - target)²`` for one-hot or relaxed ``z`` (..., K) → (...)."""
        c = torch.tensor(self.values, dtype=z.dtype, device=z.device)
        return (z @ c - self.target) ** 2

    def scores(self) -> torch.Tensor:
        """The score of each option, ``f(e_k)``: (K,)."""
        return self.score(torch.eye(self.k, dtype=torch.float64))

    def objective(self) -> float:
        return float(self.probs() @ self.scores())

    def exact_gradient(self) -> torch.Tensor:
        """``∇ J`` by autograd of the K-term sum: (K,) float64."""
        theta = self.theta().requires_grad_()
        (torch.softmax(theta, 0) @ self.scores()).backward()
        return theta.grad.detach()


def _per_sample(toy: CategoricalToy, method: str, tau: float, m: int, generator: torch.Generator) -> torch.Tensor:
    """``m`` independent one-sample gradient estimates, (m, K): autograd through a (m, K) copy of theta."""
    theta = toy.theta().expand(m, toy.k).clone().requires_grad_()  # one leaf row per draw
    g = gumbel_noise((m, toy.k), generator=generator).double()  # (m, K)
    if method in RELAXED:
        y = F.softmax((theta + g) / tau, dim=-1)  # (m, K) relaxed samples
        if method == "straight_through":
            y = straight_through(y, (theta.detach() + g).argmax(-1))
        toy.score(y).sum().backward()
    else:
        z = (theta.detach() + g).argmax(-1)  # (m,) Gumbel-max: samples of softmax(theta)
        logp = F.log_softmax(theta, -1).gather(1, z[:, None])[:, 0]  # (m,)
        (toy.score(F.one_hot(z, toy.k).double()) * logp).sum().backward()
    return theta.grad  # (m, K)


def estimates(toy: CategoricalToy, method: str, n: int, repeats: int, *, tau: float = 1.0,
              seed: int = 0) -> torch.Tensor:
    """``repeats`` independent gradient estimates, each the mean over ``n`` draws: (repeats, K) float64.

    ``"reinforce_baseline"`` needs ``n >= 2``: each draw's score is reduced by the mean score of the other
    ``n - 1`` draws of its estimate (the leave-one-out baseline of chapter 2), which keeps it unbiased.
    """
    checks.one_of("method", method, METHODS)
    n = checks.integer("n", n, 2 if method == "reinforce_baseline" else 1)
    repeats = checks.positive_int("repeats", repeats)
    tau = check_tau(tau)
    generator = torch.Generator().manual_seed(checks.seed("seed", seed))
    if method != "reinforce_baseline":
        return _per_sample(toy, method, tau, n * repeats, generator).view(repeats, n, toy.k).mean(1)
    theta = toy.theta()
    g = gumbel_noise((repeats, n, toy.k), generator=generator).double()
    z = (theta + g).argmax(-1)  # (repeats, n)
    f = toy.scores()[z]  # (repeats, n)
    baseline = (f.sum(1, keepdim=True) - f) / (n - 1)  # leave-one-out mean of the others
    score_grad = F.one_hot(z, toy.k).double() - toy.probs()  # ∇ log p(z) = e_z - p: (repeats, n, K)
    return ((f - baseline)[..., None] * score_grad).mean(1)


@dataclass(frozen=True)
class EstimatorStats:
    """One estimator at one setting, measured against the exact gradient ``g`` (all relative to ``|g|``)."""

    method: str
    tau: float | None  # None for REINFORCE, which has no temperature
    n: int  # draws per estimate
    bias: float  # |mean estimate - g| / |g|
    bias_se: float  # its Monte Carlo standard error (a bias below about 2 of these is not resolved)
    std: float  # sqrt(E|ĝ - E ĝ|²) / |g|: the spread of one estimate
    rmse: float  # sqrt(E|ĝ - g|²) / |g| = sqrt(bias² + std²)
    cosine: float  # mean cosine similarity of ĝ and g


def _stats(toy: CategoricalToy, method: str, tau: float | None, n: int, est: torch.Tensor) -> EstimatorStats:
    g = toy.exact_gradient()
    norm = float(g.norm())
    mean = est.mean(0)
    dev = est - mean
    std = math.sqrt(float((dev**2).sum(1).mean()))
    return EstimatorStats(
        method=method, tau=tau, n=n,
        bias=float((mean - g).norm()) / norm,
        bias_se=std / math.sqrt(len(est)) / norm,
        std=std / norm,
        rmse=math.sqrt(float(((est - g) ** 2).sum(1).mean())) / norm,
        cosine=float(F.cosine_similarity(est, g[None], dim=1).mean()),
    )


def bias_variance(toy: CategoricalToy, taus: Sequence[float], *, draws: int = 100_000,
                  seed: int = 0) -> dict[str, list[EstimatorStats]]:
    """Per relaxed method, one :class:`EstimatorStats` per temperature in ``taus``; REINFORCE once
    (its list has one entry). Single-draw estimates (``n = 1``), ``draws`` of them each."""
    taus = [check_tau(t) for t in taus]
    if not taus:
        raise ValueError("taus must hold at least one temperature")
    draws = checks.integer("draws", draws, 2)
    out = {m: [_stats(toy, m, t, 1, estimates(toy, m, 1, draws, tau=t, seed=seed)) for t in taus] for m in RELAXED}
    out["reinforce"] = [_stats(toy, "reinforce", None, 1, estimates(toy, "reinforce", 1, draws, seed=seed))]
    return out


def error_by_samples(toy: CategoricalToy, ns: Sequence[int], settings: Sequence[tuple[str, float | None]], *,
                     repeats: int = 2000, seed: int = 0) -> dict[tuple[str, float | None], list[EstimatorStats]]:
    """For each ``(method, tau)`` in ``settings`` (``tau`` None for REINFORCE), the error of an estimate
    averaged over ``n`` draws, for each ``n`` in ``ns``: the relaxed ones level off at their bias,
    REINFORCE keeps falling as 1/√n."""
    ns = [checks.integer("ns[i]", n, 2) for n in ns]
    if not ns or not settings:
        raise ValueError("ns and settings must not be empty")
    out = {}
    for method, tau in settings:
        checks.one_of("method", method, METHODS)
        t = 1.0 if tau is None else tau
        out[(method, tau)] = [_stats(toy, method, tau, n, estimates(toy, method, n, repeats, tau=t, seed=seed + n))
                              for n in ns]
    return out


def relaxed_samples(toy: CategoricalToy, taus: Sequence[float], *, seed: int = 0,
                    average_of: int = 4000) -> dict[float, tuple[torch.Tensor, torch.Tensor]]:
    """Per temperature: one Gumbel-softmax sample (the same noise for every ``tau``) and the mean of
    ``average_of`` samples, each (K,). As ``tau`` → 0 the sample becomes the Gumbel-max one-hot
    vector and the mean becomes ``softmax(theta)``; as ``tau`` grows both flatten towards uniform."""
    taus = [check_tau(t) for t in taus]
    checks.positive_int("average_of", average_of)
    generator = torch.Generator().manual_seed(checks.seed("seed", seed))
    g = gumbel_noise((average_of, toy.k), generator=generator).double()  # row 0 is "the" sample
    theta = toy.theta()
    return {t: (F.softmax((theta + g[0]) / t, -1), F.softmax((theta + g) / t, -1).mean(0)) for t in taus}
