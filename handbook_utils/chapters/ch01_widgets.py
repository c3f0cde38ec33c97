"""The playable proof-writing game (chapter 1) as an ipywidgets view.

All state lives in :class:`~handbook_utils.chapters.ch01_game.ProofGame`; this module only draws it
and forwards button clicks. The HTML renderers are plain functions so the static book can show the
same end screen for a simulated reader (:func:`static_game_fallback`) without a kernel. Colours
come from :data:`handbook_utils.plotting.COLORS` by meaning, text in its ``*_text`` roles (readable on
white), and colour never carries a meaning alone: right and wrong are said in words and marks too
(✓/✗, struck words, ``[true word]``, text that only screen readers read).

Used by chapter 1 (``ProofGameWidget`` and ``static_game_fallback``).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets
from IPython.display import HTML

from handbook_utils import runtime  # noqa: F401  (records glued values for the lab's {eval} roles)
from handbook_utils.plotting import COLORS, spoken_html

from .ch01_game import GameSummary, Phase, ProofGame, ProofResult, play_simulated_game
from .ch01_proofs import PROOFS, Proof

__all__ = [
    "ProofGameWidget",
    "render_prefix_html",
    "render_result_html",
    "render_summary_html",
    "static_game_fallback",
]

_BANNERS = {
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

PLACEHOLDER = "Run this cell to play the game (it needs a running kernel)."
"""What a notebook shows in place of the game before its cell has run."""

def _word(text: str, role: str, *, bold: bool = False) -> str:
    """``text`` in the readable text colour of ``role`` (a :data:`COLORS` role with a ``_text`` twin)."""
    style = f"color:{COLORS[role + '_text']};" + ("font-weight:bold;" if bold else "")
    return f'<span style="{style}">{html.escape(text)}</span>'


def _blank() -> str:
    return f'<span style="border-bottom:2px solid {COLORS["ink"]};padding:0 1.5em;">&#x200b;</span>'


def render_prefix_html(title: str, prefix: tuple[str, ...], phase: Phase) -> str:
    """The statement, then the prefix followed by a blank. True words (teacher forcing) and the
    reader's own words (free running) get their phase colour, so the reader sees whose words
    they are building on (the banner says it in words). Mistakes are deliberately *not* marked here."""
    role = "teacher_forcing" if phase is Phase.TEACHER_FORCING else "free_running"
    whose = "the true proof so far:" if phase is Phase.TEACHER_FORCING else "your proof so far:"
    words = " ".join(_word(w, role) for w in prefix)
    return (
        f'<div style="font-size:1.1em;line-height:1.8;">'
        f"<b>{html.escape(title)}</b><br><i>Proof.</i> {spoken_html(whose)}{words} {_blank()}"
        f"{spoken_html('(blank: the next word)')}</div>"
    )


def render_result_html(result: ProofResult) -> str:
    """One finished proof with the reader's wrong words struck through and the true word
    after each in [brackets] (a screen reader hears "wrong:" and "true word:"). Used only once the
    game is over."""
    struck = f'<del style="color:{COLORS["neutral_text"]};text-decoration:line-through;">'
    words = []
    for chosen, true in zip(result.chosen, result.true_words, strict=True):
        if chosen == true:
            words.append(_word(chosen, "free_running"))
        else:
            words.append(
                f"{struck}{spoken_html('wrong: ')}{html.escape(chosen)}</del> "
                f'<ins style="text-decoration:none;">{spoken_html("true word: ")}'
                + _word(f"[{true}]", "teacher_forcing", bold=True)
                + "</ins>"
            )
    verdict = "✓ correct proof" if result.success else "✗ not a proof"
    return (
        f'<div style="margin:0.4em 0;line-height:1.7;"><b>{html.escape(result.title)}</b> '
        f"({result.n_correct}/{result.n_words} words, {verdict})<br>{' '.join(words)}</div>"
    )


def _pct(x: float) -> str:
    return "–" if x != x else f"{x:.0%}"  # x != x is the NaN test without importing math


def render_summary_html(summary: GameSummary) -> str:
    """The end-screen score table: phase 1 per word beside phase 2 per word and per proof."""
    lengths = [r.n_words for r in summary.free_results]
    length = f"{sum(lengths) / len(lengths):.0f}" if lengths else "–"
    rows = [
        ("Phase 1 (teacher forcing): words right",
         f"{_pct(summary.tf_word_accuracy)} ({summary.tf_correct}/{summary.tf_words})"),
        ("Phase 2 (free running): words right",
         f"{_pct(summary.free_word_accuracy)} ({summary.free_correct}/{summary.free_words})"),
        ("Phase 2 (free running): whole proofs right",
         f"{_pct(summary.free_proof_success)} "
         f"({summary.free_proofs_correct}/{summary.free_proofs})"),
        (f"Forecast from phase 1: p̂<sup>L</sup> with L ≈ {length} words",
         _pct(summary.predicted_proof_success)),
    ]
    body = "".join(
        f'<tr><td style="text-align:left;padding:2px 12px 2px 0;">{k}</td>'
        f'<td style="text-align:right;"><b>{v}</b></td></tr>'
        for k, v in rows
    )
    return f'<table style="border-collapse:collapse;margin:0.5em 0;">{body}</table>'


def _end_screen_html(game: ProofGame) -> str:
    results = "".join(render_result_html(r) for r in game.results(Phase.FREE_RUNNING))
    return (
        render_summary_html(game.summary())
        + "<div><b>The free-running proofs</b> (wrong words struck, true word in [brackets]):"
        + f"</div>{results}"
    )


def static_game_fallback(
    word_accuracy: float = 0.9, confusion_after_error: float = 0.5, seed: int = 0
) -> HTML:
    """The end screen of a *simulated* reader, as static HTML for readers without a kernel.

    The simulated reader is the one of :func:`handbook_utils.chapters.ch01_simulation.simulate_player`.
    """
    game = play_simulated_game(word_accuracy, confusion_after_error, seed=seed)
    return HTML(_end_screen_html(game))


class ProofGameWidget:
    """The game as a widget. ``ProofGameWidget()`` as the last line of a cell displays it.

    Parameters mirror :class:`~handbook_utils.chapters.ch01_game.ProofGame`; the same ``seed`` always
    gives the same button order.
    """

    def __init__(
        self, seed: int = 0, proofs: Sequence[Proof] = PROOFS, **game_kwargs: Any
    ) -> None:
        self.game = ProofGame(proofs, seed=seed, **game_kwargs)
        self.banner = widgets.HTML()
        self.progress = widgets.IntProgress(min=0, value=0, description="")
        # HTML, not Label: the static page's widget manager typesets Labels with the MathJax 2
        # API, which throws on the book's MathJax 3 pages.
        self.progress_label = widgets.HTML()
        self.prefix = widgets.HTML()
        self.feedback = widgets.HTML()
        self.options_box = widgets.HBox(layout=widgets.Layout(flex_flow="row wrap"))
        self.score = widgets.HTML()
        self.restart_button = widgets.Button(description="Restart")
        self.restart_button.on_click(lambda _: self.restart())
        self.ui = widgets.VBox(
            [
                self.banner,
                widgets.HBox([self.progress, self.progress_label]),
                self.prefix,
                self.options_box,
                self.feedback,
                self.score,
                self.restart_button,
            ]
        )
        self._refresh()

    # ---- display ----------------------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        # the plain-text fallback is what a saved notebook shows before the cell runs in a kernel
        return {**self.ui._repr_mimebundle_(**kwargs), "text/plain": PLACEHOLDER}

    @property
    def option_buttons(self) -> tuple[widgets.Button, ...]:
        return tuple(self.options_box.children)

    # ---- events -----------------------------------------------------------------------------

    def choose(self, word: str) -> None:
        """What an option button does; also handy for scripted play."""
        pick = self.game.choose(word)
        if pick.phase is Phase.TEACHER_FORCING:
            if pick.correct:
                self.feedback.value = _word(f"✓ Right: “{pick.true_word}”.", "accent")
            else:
                self.feedback.value = (
                    f"✗ Wrong: you picked “{html.escape(pick.chosen)}”; the proof says "
                    + _word(f"“{pick.true_word}”", "teacher_forcing", bold=True)
                    + ". It carries on with the true word."
                )
        else:
            self.feedback.value = "<i>Noted. No feedback until the end.</i>"
        if not self.game.finished and self.game.phase is not pick.phase:
            # a new phase starts: its banner explains it, and the last phase's verdict would mislead
            self.feedback.value = ""
        self._refresh()

    def restart(self) -> None:
        self.game.reset()
        self.feedback.value = ""
        self._refresh()

    # ---- drawing ----------------------------------------------------------------------------

    def _refresh(self) -> None:
        game = self.game
        role, name, text = _BANNERS[game.phase]
        self.banner.value = (
            f'<div style="border-left:6px solid {COLORS[role]};padding:4px 10px;">'
            f'<b style="color:{COLORS[role + "_text"]};">{name}</b><br>{text}</div>'
        )
        if game.finished:
            self._draw_end()
            return
        number, count = game.proof_number
        self.progress.max = len(game.proof)
        self.progress.value = game.step
        self.progress_label.value = (
            f"proof {number} of {count} · word {game.step + 1} of {len(game.proof)}"
        )
        self.prefix.value = render_prefix_html(game.proof.title, game.current_prefix(), game.phase)
        self.options_box.children = tuple(self._button(w) for w in game.options())
        self.score.value = ""

    def _button(self, word: str) -> widgets.Button:
        button = widgets.Button(description=word, layout=widgets.Layout(width="auto"))
        button.on_click(lambda _: self.choose(word))
        return button

    def _draw_end(self) -> None:
        self.progress.value = self.progress.max
        self.progress_label.value = "done"
        self.prefix.value = ""
        self.options_box.children = ()
        self.feedback.value = ""
        self.score.value = _end_screen_html(self.game)
