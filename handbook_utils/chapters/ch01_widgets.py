"""The playable proof-writing game of chapter 1, in the browser: live in JupyterLab and on the static page.

The rules live in :class:`~handbook_utils.chapters.ch01_game.ProofGame` (tested without a browser).
:func:`game_plan` turns one seeded game into data: every round in play order with its true words and
its shuffled options, the banners of the three phases, the colours by meaning, and the end screen's
forecast ``p̂^L`` for every possible phase-1 score (so no formula is re-implemented in the browser).
:class:`ProofGameWidget` hands that plan to ``web/proof_game.js``
(:class:`~handbook_utils.web_widgets.BrowserWidget`), which only walks through the rounds, draws
them and counts. In a live notebook the reader's picks come back to Python
(:attr:`ProofGameWidget.picks`), and :meth:`ProofGameWidget.replay` scores them with the Python game.

Colour never carries a meaning alone: right and wrong are said in words and marks too (✓/✗, struck
words, ``[true word]``, text that only screen readers read).

Used by chapter 1 ("Play the two jobs").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import traitlets

from handbook_utils.plotting import COLORS
from handbook_utils.web_widgets import BrowserWidget

from .ch01_game import Phase, ProofGame
from .ch01_proofs import PROOFS, Proof
from .ch01_simulation import independence_prediction

__all__ = ["BANNERS", "game_plan", "ProofGameWidget"]

BANNERS: dict[Phase, tuple[str, str, str]] = {
    Phase.TEACHER_FORCING: (
        "teacher_forcing",
        "Phase 1 · teacher forcing",
        "Pick the next word. You will see the true word right away, and the proof always "
        "carries on with it, whatever you picked.",
    ),
    Phase.FREE_RUNNING: (
        "free_running",
        "Phase 2 · free running",
        "Promotion! Now you write whole proofs. Your own words become the prefix, and "
        "nobody tells you whether they are right until the end.",
    ),
    Phase.DONE: ("prediction", "Results", "Here is how the two jobs compared."),
}
"""Per phase: the colour role of its banner, its name and what the reader does in it."""


def game_plan(game: ProofGame) -> dict[str, Any]:
    """Everything the browser needs to play ``game`` from its start, as JSON-ready data.

    ``forecast[k]`` is the end screen's forecast when ``k`` of the phase-1 words were right:
    the mean over the free-running proofs of ``(k / n) ** L`` (:func:`independence_prediction`).
    """
    rounds = []
    for phase, index in game.schedule:
        proof = game.proofs[index]
        same = [i for ph, i in game.schedule if ph is phase]
        rounds.append({
            "phase": phase.value, "title": proof.title, "words": list(proof.words),
            "options": [list(game.options_at(index, s)) for s in range(len(proof.words))],
            "number": same.index(index) + 1, "count": len(same),
        })
    tf_words = sum(len(r["words"]) for r in rounds if r["phase"] == Phase.TEACHER_FORCING.value)
    lengths = [len(r["words"]) for r in rounds if r["phase"] == Phase.FREE_RUNNING.value]
    roles = sorted({role for role, _, _ in BANNERS.values()} | {"accent", "neutral"})
    return {
        "rounds": rounds,
        "banners": {phase.value: {"role": role, "name": name, "text": text}
                    for phase, (role, name, text) in BANNERS.items()},
        "forecast": [independence_prediction(k / tf_words, lengths) for k in range(tf_words + 1)],
        "mean_length": round(sum(lengths) / len(lengths)),
        "colors": {"ink": COLORS["ink"], **{r: COLORS[r] for r in roles},
                   **{f"{r}_text": COLORS[f"{r}_text"] for r in roles}},
    }


class ProofGameWidget(BrowserWidget):
    """The game. ``ProofGameWidget()`` as the last line of a cell shows it.

    Parameters mirror :class:`~handbook_utils.chapters.ch01_game.ProofGame`; the same ``seed`` always
    gives the same buttons in the same order.
    """

    _module = "proof_game"
    placeholder = "Run this cell to play the game (or read this page in the web book, where it plays in the page)."
    plan = traitlets.Dict().tag(sync=True, static=True)
    picks = traitlets.List(traitlets.Unicode()).tag(sync=True)
    """The words the reader picked so far, in order (written by the browser)."""

    def __init__(self, seed: int = 0, proofs: Sequence[Proof] = PROOFS, **game_kwargs: Any) -> None:
        self._game_args = (tuple(proofs), seed, game_kwargs)
        super().__init__(plan=game_plan(ProofGame(proofs, seed=seed, **game_kwargs)))

    def replay(self, picks: Sequence[str] | None = None) -> ProofGame:
        """A Python :class:`ProofGame` that has played ``picks`` (default: the reader's own, :attr:`picks`):
        its ``summary()`` is the score the end screen shows."""
        proofs, seed, kwargs = self._game_args
        game = ProofGame(proofs, seed=seed, **kwargs)
        for word in self.picks if picks is None else picks:
            game.choose(word)
        return game
