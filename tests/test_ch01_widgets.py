"""The proof game as browser data: the plan matches the Python game, and Python scores what was played.

The page's own behaviour (clicking through to the end screen) is tested in a browser
(tests/browser/test_book_pages.py and test_lab.py)."""

from __future__ import annotations

import re

import pytest

from handbook_utils.chapters.ch01_game import Phase, ProofGame, play_simulated_game, score_table
from handbook_utils.chapters.ch01_simulation import independence_prediction
from handbook_utils.chapters.ch01_widgets import ProofGameWidget, game_plan
from handbook_utils.plotting import TEXT_CONTRAST, contrast_ratio


def test_plan_follows_the_python_game_round_by_round() -> None:
    game = ProofGame(seed=3)
    plan = game_plan(game)
    assert [(r["phase"], r["title"]) for r in plan["rounds"]] == [
        (ph.value, game.proofs[i].title) for ph, i in game.schedule]
    for (_, index), r in zip(game.schedule, plan["rounds"]):
        assert r["words"] == list(game.proofs[index].words)
        assert r["options"] == [list(game.options_at(index, s)) for s in range(len(r["words"]))]
        assert all(w in opts for w, opts in zip(r["words"], r["options"]))  # the true word is always offered
    assert [r["number"] for r in plan["rounds"]] == [1, 2, 1, 2] and {r["count"] for r in plan["rounds"]} == {2}


def test_forecast_table_is_the_python_formula_for_every_phase_one_score() -> None:
    plan = game_plan(ProofGame(seed=0))
    tf_words = sum(len(r["words"]) for r in plan["rounds"] if r["phase"] == Phase.TEACHER_FORCING.value)
    lengths = [len(r["words"]) for r in plan["rounds"] if r["phase"] == Phase.FREE_RUNNING.value]
    assert len(plan["forecast"]) == tf_words + 1
    for k in (0, tf_words // 2, tf_words - 3, tf_words):
        assert plan["forecast"][k] == independence_prediction(k / tf_words, lengths)
    assert plan["forecast"] == sorted(plan["forecast"]) and plan["forecast"][-1] == 1.0


def test_replay_scores_the_readers_picks_like_the_python_game() -> None:
    widget = ProofGameWidget(seed=1)
    played = play_simulated_game(0.8, 0.5, seed=4, game=ProofGame(seed=1))
    widget.picks = [p.chosen for p in played.picks]  # what the browser writes back
    assert widget.replay().summary() == played.summary()
    with pytest.raises(ValueError, match="word"):
        widget.replay(["not a word of the game"])


def test_score_table_shows_the_end_screen_numbers() -> None:
    game = ProofGame(seed=0)
    while not game.finished:
        game.choose(game.proof.words[game.step])
    table = score_table(game.summary(), caption="perfect")
    assert "100% (2/2)" in str(table) and "<caption>perfect</caption>" in table._repr_html_()


def test_output_carries_the_live_widget_and_a_page_version_of_the_same_module() -> None:
    data, _ = ProofGameWidget(seed=0)._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data
    assert data["text/plain"].startswith("Run this cell to play")
    page = data["text/html"]
    assert '<script type="module">' in page and "function render({model, el})" in page
    assert "export default" not in page  # the module runs in the page instead of being imported
    assert "Phase 1 \\u00b7 teacher forcing" in page and "</script>" not in page[:-9]  # data cannot end the script


def test_the_same_game_writes_the_same_page_apart_from_its_element_id() -> None:
    a = ProofGameWidget(seed=0)._repr_mimebundle_()[0]["text/html"]
    b = ProofGameWidget(seed=0)._repr_mimebundle_()[0]["text/html"]
    ids = re.compile(r"hb-proof-game-[0-9a-f]{12}-\d+")
    assert a != b and ids.sub("ID", a) == ids.sub("ID", b)


def test_text_colours_of_the_game_are_readable_on_white() -> None:
    colors = game_plan(ProofGame(seed=0))["colors"]
    text = {k: v for k, v in colors.items() if k.endswith("_text")}
    assert len(text) >= 5
    assert all(contrast_ratio(c) >= TEXT_CONTRAST for c in text.values()), text
