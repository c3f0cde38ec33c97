"""The browser widgets (handbook_utils.web_widgets) as the static book runs them: no kernel, no network.

Each test writes a scratch page holding one widget's ``text/html`` version (what the book shows),
plays it like a reader (clicks, arrow keys) and checks what is drawn, the numbers against Python's,
and WCAG A/AA with axe in every state. The built book's own pages are played in test_book_pages.py.
"""

from __future__ import annotations

import contextlib

import pytest
from pagecheck import is_loopback, run_axe, serve


@contextlib.contextmanager
def widget_page(browser, tmp_path, widget):
    """A page with ``widget``'s static version, opened in a fresh context that lets nothing out."""
    html = widget._repr_mimebundle_()[0]["text/html"]
    (tmp_path / "page.html").write_text(f'<html lang="en"><head><meta charset="utf-8"><title>widget</title></head>'
                                        f"<body><main>{html}</main></body></html>")
    leaks, errors = [], []
    with serve(tmp_path) as base:
        context = browser.new_context(viewport={"width": 1000, "height": 800})
        page = context.new_page()
        page.route("**/*", lambda r: r.continue_() if is_loopback(r.request.url) else (leaks.append(r.request.url),
                                                                                     r.abort()))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/page.html", wait_until="networkidle")
        try:
            yield page
        finally:
            context.close()
    assert leaks == [] and errors == []


def blocking(page, state):
    return [str(v) for v in run_axe(page, state) if v.blocking]


def _pick(page, word_of_truth: str, wrong: bool) -> str:
    """Click the true word's button, or (wrong=True) the first other one; return the word clicked."""
    buttons = page.locator(".hb-options button")
    words = [buttons.nth(i).inner_text() for i in range(buttons.count())]
    word = next(w for w in words if w != word_of_truth) if wrong else word_of_truth
    buttons.nth(words.index(word)).click()
    return word


def test_the_proof_game_plays_to_its_end_screen_and_scores_like_python(browser, tmp_path):
    from handbook_utils.chapters.ch01_widgets import ProofGameWidget

    widget = ProofGameWidget(seed=0)
    rounds = widget.plan["rounds"]
    picks = []
    with widget_page(browser, tmp_path, widget) as page:
        assert "Phase 1" in page.inner_text(".hb-game") and blocking(page, "first word") == []
        for r_index, round_ in enumerate(rounds):
            for s, truth in enumerate(round_["words"]):
                wrong = (len(picks) % 3 == 0) if round_["phase"] == "teacher_forcing" else (s == 2 and r_index == 2)
                picks.append(_pick(page, truth, wrong))
                if len(picks) == 4:  # picks 0, 3, 6, ... of phase 1 are wrong
                    assert "✗ Wrong" in page.inner_text(".hb-feedback") and blocking(page, "phase 1, wrong") == []
                if round_["phase"] == "free_running" and s == 4 and r_index == 2:
                    text = page.inner_text(".hb-game")
                    assert "Phase 2" in text and picks[-3] in text  # the reader's own slip is the prefix
                    assert "Wrong" not in page.inner_text(".hb-feedback")  # and nobody says so
                    assert blocking(page, "phase 2") == []
        end = page.inner_text(".hb-game")
        assert page.locator(".hb-options button").count() == 0 and "Results" in end
        summary = widget.replay(picks).summary()
        assert f"({summary.tf_correct}/{summary.tf_words})" in end
        assert f"({summary.free_correct}/{summary.free_words})" in end
        assert f"({summary.free_proofs_correct}/{summary.free_proofs})" in end
        assert summary.free_proofs_correct == 1  # the one planted slip spoiled one proof
        assert f"{summary.predicted_proof_success:.0%}" in end.split("Forecast from phase 1")[1].split("\n")[0]
        assert page.locator(".hb-game del").count() >= 1 and blocking(page, "end screen") == []
        page.locator(".hb-restart").click()
        assert "Phase 1" in page.inner_text(".hb-game") and page.locator(".hb-options button").count() > 1


def _drawn(page):
    """What the chart draws: its curves, or (the tree) its branches and labels."""
    paths = page.locator("path.hb-series")
    return [paths.nth(i).get_attribute("d") for i in range(paths.count())] + [page.locator("svg.hb-chart").inner_html()]


@pytest.mark.parametrize("explorer", ["p^T", "schedules", "greedy tree"])
def test_sliders_redraw_from_the_keyboard_and_read_out_their_values(browser, tmp_path, explorer):
    if explorer == "p^T":
        from handbook_utils.chapters.ch03_forecast import CompoundingExplorer

        widget = CompoundingExplorer(p=0.99, T=142)
    elif explorer == "schedules":
        from handbook_utils.chapters.ch05_explorer import ScheduleExplorer

        widget = ScheduleExplorer()
    else:
        from handbook_utils.chapters.ch02_decoding import TreeExplorer

        widget = TreeExplorer()
    with widget_page(browser, tmp_path, widget) as page:
        sliders = page.locator("input[type=range]")
        assert sliders.count() == {"p^T": 2, "schedules": 4, "greedy tree": 3}[explorer]
        assert blocking(page, "as loaded") == []
        for i in range(sliders.count()):
            before, said = _drawn(page), page.inner_text(".hb-readout")
            name = sliders.nth(i).get_attribute("aria-valuetext")
            sliders.nth(i).focus()
            page.keyboard.press("ArrowLeft")
            assert sliders.nth(i).get_attribute("aria-valuetext") != name  # the value is said, not an index
            changed = _drawn(page) != before or page.inner_text(".hb-readout") != said
            assert changed, f"slider {name} moved but nothing was redrawn"
        assert page.locator("svg.hb-chart").get_attribute("aria-label")  # the chart's text alternative
        assert blocking(page, "sliders moved") == []
        if explorer == "p^T":
            readout = page.inner_text(".hb-readout")  # p one grid step down, T = 141
            grid = widget.data
            p = grid["p_values"][grid["p_index"] - 1]
            assert f"{p:.4f}" in readout and f"{100 * grid['curves'][grid['p_index'] - 1][141]:.1f}%" in readout
