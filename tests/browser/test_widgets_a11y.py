"""The book's widget pages: sliders drawn by the vendored ipywidgets HTML manager get accessible
names from ``widgets-a11y.js`` and move from the keyboard. A scratch page with one saved widget
state, the same scripts as the book's pages (from ``_vendor``), checked like a book page."""

from __future__ import annotations

import json

import pytest
from conftest import ROOT
from pagecheck import check_page, serve

VENDOR = ROOT / "_vendor"
SCRIPTS = ("require.js", "widgets-config.js", "@jupyter-widgets/html-manager/dist/embed-amd.js", "widgets-a11y.js")


def _widget_page(tmp_path, *views) -> str:
    from ipywidgets.embed import dependency_state, embed_data

    if not all((VENDOR / s).exists() for s in SCRIPTS):
        pytest.fail("the vendored scripts are missing: run `make setup` (tools/vendor_assets.py)")
    (tmp_path / "_static").symlink_to(VENDOR, target_is_directory=True)
    # only these views' models: by default embed_data takes every widget this process made, the other
    # tests' anywidgets too (the book drops those from its pages, tools/sphinx_offline.py)
    data = embed_data(views=list(views), state=dependency_state(list(views)))
    head = "".join(f'<script src="_static/{s}"></script>' for s in SCRIPTS)
    body = "".join(f'<script type="application/vnd.jupyter.widget-view+json">{json.dumps(v)}</script>'
                   for v in data["view_specs"])
    (tmp_path / "page.html").write_text(
        f'<html lang="en"><head><title>widgets</title>{head}'
        f'<script type="application/vnd.jupyter.widget-state+json">{json.dumps(data["manager_state"])}</script>'
        f"</head><body><main>{body}</main></body></html>"
    )
    return "page.html"


def test_sliders_are_named_from_their_tooltip_or_description(browser, tmp_path):
    import ipywidgets as widgets

    page = _widget_page(
        tmp_path,
        widgets.FloatSlider(value=0.5, min=0, max=1, step=0.01, tooltip="p: per-token accuracy"),
        widgets.IntSlider(value=3, min=0, max=9, description="T"),
    )
    with serve(tmp_path) as base:
        report = check_page(browser, f"{base}/{page}", settle_ms=1500)
    assert report.widgets_rendered > 0
    assert report.problems() == []  # axe: every slider has a name; each moves from the keyboard
    assert not any(v.rule == "aria-input-field-name" for v in report.violations)


def test_a_slider_without_a_name_is_caught(browser, tmp_path):
    import ipywidgets as widgets

    page = _widget_page(tmp_path, widgets.FloatSlider(value=0.5))
    with serve(tmp_path) as base:
        report = check_page(browser, f"{base}/{page}", settle_ms=1500)
    assert any("aria-input-field-name" in p for p in report.problems())
