"""Flowcharts drawn from boxes and arrows (handbook_utils.flowcharts): any chart, its words, bad charts."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from handbook_utils.flowcharts import describe_flowchart, draw_flowchart  # noqa: E402
from handbook_utils.plotting import describe_figure  # noqa: E402


def test_the_generalised_drawer_takes_any_boxes_and_says_a_join_once():
    nodes = {"start": (0.5, 0.9, "start"), "q": (0.5, 0.6, "question"), "a": (0.2, 0.3, "action"),
             "b": (0.8, 0.3, "action"), "end": (0.5, 0.05, "stop")}
    edges = [("start", "q", ""), ("q", "a", "yes"), ("q", "b", "no"), ("a", "end", ""), ("b", "end", "")]
    text = {"start": "Begin", "q": "Ready?", "a": "Do A", "b": "Do B", "end": "Done"}
    fig = draw_flowchart(nodes, edges, text, title="Tiny chart", figsize=(4.0, 4.0))
    assert {t.get_text() for t in fig.axes[0].texts} - {""} == {*text.values(), "yes", "no"}  # "": the arrows
    said = describe_figure(fig)
    assert said == describe_flowchart(edges, text, title="Tiny chart")
    assert said == "Tiny chart: Begin → Ready? if yes: Do A → Done; if no: Do B → Done (as above)."
    loop = describe_flowchart([("start", "q", ""), ("q", "start", "again")], text)  # a loop ends
    assert loop == "Decision flowchart: Begin → Ready? if again: Begin (as above)."


@pytest.mark.parametrize("nodes, edges, text, match", [
    ({"start": (0.5, 0.5, "circle")}, [], {"start": "x"}, "unknown kinds"),
    ({"start": (0.5, 0.5, "start")}, [], {}, "no words"),
    ({"start": (0.5, 0.5, "start")}, [("start", "nowhere", "")], {"start": "x"}, "not in nodes"),
    ({"begin": (0.5, 0.5, "start")}, [], {"begin": "x"}, "start 'start'"),
])
def test_the_drawer_refuses_inconsistent_charts(nodes, edges, text, match):
    with pytest.raises(ValueError, match=match):
        draw_flowchart(nodes, edges, text)
