"""Two pictures chapter 2 needs: where the inputs of teacher forcing and of free running come from,
and which input positions a trained model's outputs actually depend on (the causal mask, measured).

:func:`influence` perturbs one input token at a time and records how far every position's logits
move: a matrix whose upper triangle is exactly zero when the model is causal. It is measured on the
trained model, not drawn from the mask's definition. :func:`plot_data_flow` draws the two ways a
sequence model reads its inputs, with a text alternative from :func:`describe_data_flow`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from .. import checks
from ..generation import check_model
from ..plotting import COLORS, describe_axes_as, new_axes
from ..runtime import eval_mode

__all__ = ["influence", "plot_influence", "describe_influence", "plot_data_flow", "describe_data_flow"]


@torch.no_grad()
def influence(model, ids: Sequence[int], *, seed: int = 0) -> np.ndarray:
    """(T, T) ``out[t, s]``: the largest change of position ``t``'s logits when input token ``s`` is
    replaced by another token (drawn with ``seed``). Zero above the diagonal for a causal model."""
    device = check_model(model)
    ids = checks.token_id_list("ids", ids, model.vocab_size)
    if len(ids) < 2:
        raise ValueError(f"ids must hold at least 2 tokens, got {len(ids)}")
    rng = np.random.default_rng(seed)
    base = torch.tensor([ids], device=device)  # (1, T)
    T = len(ids)
    out = np.zeros((T, T))
    with eval_mode(model):
        ref = model(base)[0].double()  # (T, V)
        for s in range(T):
            changed = base.clone()
            choices = [v for v in range(2, model.vocab_size) if v != ids[s]]  # never <pad> or <eos>
            changed[0, s] = int(rng.choice(choices))
            moved = (model(changed)[0].double() - ref).abs().amax(dim=-1)  # (T,)
            out[:, s] = moved.cpu().numpy()
    return out


def plot_influence(matrix: np.ndarray, labels: Sequence[str], ax=None) -> Figure:
    """The influence matrix as a heatmap (log scale; exact zeros in white, hatched), inputs across,
    outputs down, one character per row and column."""
    matrix = np.asarray(matrix, dtype=float)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] != len(labels):
        raise ValueError(f"matrix must be square with one label per row, got {matrix.shape} and {len(labels)}")
    ax = new_axes(ax, figsize=(6.6, 6.0))
    positive = matrix[matrix > 0]
    floor = positive.min() if positive.size else 1.0
    shown = np.where(matrix > 0, np.log10(np.maximum(matrix, floor)), np.nan)
    image = ax.imshow(shown, cmap="viridis", interpolation="nearest")
    zeros = np.argwhere(matrix == 0)
    ax.scatter(zeros[:, 1], zeros[:, 0], marker="x", s=10, color=COLORS["neutral"], linewidths=0.6,
               label="exactly 0: no influence")
    ticks = range(len(labels))
    ax.set_xticks(ticks, labels, fontsize=7)
    ax.set_yticks(ticks, labels, fontsize=7)
    ax.set_xlabel("input position changed (the character that was there)")
    ax.set_ylabel("output position (reads up to this character)")
    ax.set_title("how far each output moves when one input changes")
    ax.figure.colorbar(image, ax=ax, shrink=0.8, label="log10 of the largest logit change")
    ax.legend(loc="upper right", fontsize=8, framealpha=0.9)
    describe_axes_as(ax, describe_influence(matrix))
    return ax.figure


def describe_influence(matrix: np.ndarray) -> str:
    matrix = np.asarray(matrix, dtype=float)
    T = matrix.shape[0]
    upper = matrix[np.triu_indices(T, k=1)]
    lower = matrix[np.tril_indices(T)]
    return (f"A {T} by {T} grid of output positions against changed input positions. Every cell above the "
            f"diagonal (an output and a later input, {upper.size} cells) is exactly zero: the largest change "
            f"there is {upper.max():.1g}. On and below the diagonal the changes reach {lower.max():.2f}; "
            f"{(lower > 0).mean():.0%} of those cells are nonzero.")


def plot_data_flow(gold: str = "3+4=7", own: str = "3+5=8") -> Figure:
    """Two rows of boxes: under teacher forcing every input is the gold token and every output is
    scored against the next gold token; in free running every input after the prompt is the model's
    own previous output. Arrows show where each input comes from."""
    if len(gold) != len(own) or len(gold) < 2:
        raise ValueError("gold and own must be strings of the same length, at least 2")
    ax = new_axes(None, figsize=(8.4, 4.0))
    n = len(gold)
    rows = {"teacher forcing": 2.6, "free running": 0.4}

    def box(x, y, text, color, dashed=False):
        ax.add_patch(FancyBboxPatch((x - 0.32, y - 0.25), 0.64, 0.5, boxstyle="round,pad=0.02",
                                    facecolor="white", edgecolor=color, linewidth=1.6,
                                    linestyle="--" if dashed else "-"))
        ax.text(x, y, text, ha="center", va="center", fontsize=11, color=COLORS["ink"])

    def arrow(x0, y0, x1, y1, color, dashed=False):
        ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=10, color=color,
                                     linestyle="--" if dashed else "-", linewidth=1.2,
                                     connectionstyle="arc3,rad=-0.25" if x1 != x0 else "arc3"))

    for name, y in rows.items():
        tf = name == "teacher forcing"
        color = COLORS["teacher_forcing"] if tf else COLORS["free_running"]
        ax.text(-0.3, y + 1.5, name, ha="left", va="center", fontsize=11, color=color, fontweight="bold")
        for i in range(n - 1):
            out = gold[i + 1] if tf else own[i + 1]
            box(i, y, gold[i] if (tf or i == 0) else own[i], color)  # input at position i
            box(i + 0.5, y + 0.95, out, color, dashed=True)  # prediction of position i + 1
            arrow(i, y + 0.27, i + 0.45, y + 0.68, color)
            if not tf and i + 1 < n - 1:
                arrow(i + 0.62, y + 0.8, i + 1, y + 0.27, color, dashed=True)  # the output is the next input
        if tf:
            ax.text(n - 0.6, y + 0.95, "scored against the gold\nnext token", fontsize=8, va="center",
                    color=COLORS["ink"])
        else:
            ax.text(n - 0.6, y + 0.95, "each output becomes\nthe next input", fontsize=8, va="center",
                    color=COLORS["ink"])
    ax.set_xlim(-0.5, n + 1.6)
    ax.set_ylim(0.0, 4.3)
    ax.axis("off")
    ax.set_title("where the inputs come from: solid boxes are inputs, dashed boxes the model's predictions")
    describe_axes_as(ax, describe_data_flow(gold, own))
    return ax.figure


def describe_data_flow(gold: str = "3+4=7", own: str = "3+5=8") -> str:
    return (f"Two rows of boxes. Teacher forcing: the model reads the gold sequence {gold!r}, one character "
            "per position, and each prediction is scored against the next gold character; no prediction is "
            f"ever read back. Free running: the model reads the prompt's first character, then its own "
            f"predictions, {own!r}; an arrow carries each output into the next input, so one wrong character "
            "is read by every later position.")
