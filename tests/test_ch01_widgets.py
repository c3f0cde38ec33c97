"""The proof-game widget: build it, click through it like a reader, restart it."""

from __future__ import annotations

import pytest

pytest.importorskip("ipywidgets")

from handbook_utils.chapters.ch01_game import Phase  # noqa: E402
from handbook_utils.chapters.ch01_widgets import (  # noqa: E402
    ProofGameWidget,
    render_prefix_html,
    static_game_fallback,
)
from handbook_utils.plotting import COLORS  # noqa: E402


def click(widget: ProofGameWidget, word: str) -> None:
    """Click the button that shows ``word``, as a reader would."""
    (button,) = [b for b in widget.option_buttons if b.description == word]
    button.click()


def true_word(widget: ProofGameWidget) -> str:
    return widget.game.proof.words[widget.game.step]


def wrong_word(widget: ProofGameWidget) -> str:
    return next(b.description for b in widget.option_buttons if b.description != true_word(widget))


def test_widget_starts_in_teacher_forcing_with_buttons() -> None:
    w = ProofGameWidget(seed=0)
    assert "teacher forcing" in w.banner.value
    assert [b.description for b in w.option_buttons] == list(w.game.options())
    assert w.game.proof.title.split()[0] in w.prefix.value
    assert "application/vnd.jupyter.widget-view+json" in w._repr_mimebundle_()


def test_wrong_click_in_phase_one_reveals_true_word_and_keeps_true_prefix() -> None:
    w = ProofGameWidget(seed=0)
    expected = true_word(w)
    click(w, wrong_word(w))
    assert expected in w.feedback.value and "✗" in w.feedback.value
    assert w.game.current_prefix() == (expected,)
    assert expected in w.prefix.value


def test_free_running_shows_own_words_without_feedback_then_end_screen() -> None:
    w = ProofGameWidget(seed=0)
    while w.game.phase is Phase.TEACHER_FORCING:
        click(w, true_word(w))
    assert "free running" in w.banner.value
    mistake = wrong_word(w)
    click(w, mistake)
    assert mistake in w.prefix.value  # the reader builds on their own word...
    assert "✗" not in w.feedback.value  # ...and is not told it was wrong
    while not w.game.finished:
        click(w, true_word(w))
    assert w.option_buttons == ()
    assert "Results" in w.banner.value
    assert "whole proofs right" in w.score.value
    assert "50% (1/2)" in w.score.value  # one proof spoiled by the single mistake
    assert "line-through" in w.score.value  # the mistake is shown only now...
    assert "<del" in w.score.value and "wrong: " in w.score.value  # ...and said, not only drawn


def test_restart_returns_to_the_first_word() -> None:
    w = ProofGameWidget(seed=2)
    first = [b.description for b in w.option_buttons]
    for _ in range(5):
        w.option_buttons[0].click()
    w.restart_button.click()
    assert w.game.step == 0 and w.game.picks == () and w.feedback.value == ""
    assert [b.description for b in w.option_buttons] == first


def test_prefix_escapes_html() -> None:
    html_text = render_prefix_html("<b>x</b>", ("a<b",), Phase.FREE_RUNNING)
    assert "a&lt;b" in html_text and "&lt;b&gt;x" in html_text


def test_static_fallback_is_deterministic_html() -> None:
    a, b = static_game_fallback(0.9, 0.5, seed=1), static_game_fallback(0.9, 0.5, seed=1)
    assert a.data == b.data
    assert "teacher forcing" in a.data and "<table" in a.data


def test_prefix_colours_say_whose_words_they_are() -> None:
    forced = render_prefix_html("t", ("a",), Phase.TEACHER_FORCING)
    own = render_prefix_html("t", ("a",), Phase.FREE_RUNNING)
    assert COLORS["teacher_forcing_text"] in forced and COLORS["free_running_text"] in own
    assert COLORS["ink"] in forced  # the blank to fill
    assert "the true proof so far" in forced and "your proof so far" in own  # said in words too


def test_feedback_says_right_and_wrong_in_words_not_only_colour() -> None:
    w = ProofGameWidget(seed=0)
    right = true_word(w)
    click(w, right)
    assert "✓ Right" in w.feedback.value and COLORS["accent_text"] in w.feedback.value
    click(w, wrong_word(w))
    assert "✗ Wrong" in w.feedback.value


def test_game_text_colours_are_readable_on_white() -> None:
    """Every colour in the game's HTML reaches WCAG AA contrast for text (4.5:1 on white)."""
    import re

    from handbook_utils.plotting import TEXT_CONTRAST, contrast_ratio

    w = ProofGameWidget(seed=0)
    pages = [w.banner.value, w.prefix.value]
    click(w, wrong_word(w))
    pages.append(w.feedback.value)
    click(w, true_word(w))
    pages.append(w.feedback.value)
    pages.append(static_game_fallback(0.9, 0.5, seed=1).data)
    for page in pages:
        for colour in re.findall(r"(?<![-\w])color:(#[0-9A-Fa-f]{6})", page):
            assert contrast_ratio(colour) >= TEXT_CONTRAST, (colour, page[:80])


def test_first_free_running_screen_shows_no_phase_one_verdict() -> None:
    w = ProofGameWidget(seed=0)
    while w.game.phase is Phase.TEACHER_FORCING:
        click(w, wrong_word(w))  # every phase-1 pick leaves a "✗ Wrong" verdict behind
    assert "free running" in w.banner.value
    assert w.feedback.value == ""  # the last phase-1 verdict is gone on the first phase-2 screen


def test_saved_notebook_shows_a_run_this_cell_hint_instead_of_the_widget_repr() -> None:
    bundle = ProofGameWidget(seed=0)._repr_mimebundle_()
    assert bundle["text/plain"].startswith("Run this cell to play")
    assert "VBox" not in bundle["text/plain"]
