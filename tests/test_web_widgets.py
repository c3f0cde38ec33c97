"""The browser widgets' shared machinery: module assembly, the page version, bad names."""

from __future__ import annotations

import re

import pytest
import traitlets

from handbook_utils import web_widgets
from handbook_utils.web_widgets import BrowserWidget, module_source, static_html


def test_every_module_is_the_shared_base_then_one_widget_ending_in_its_export() -> None:
    names = sorted(p.stem for p in web_widgets.WEB_DIR.glob("*.js") if p.stem != "base")
    assert names == ["power_explorer", "proof_game", "schedule_explorer", "tree_explorer"]
    for name in names:
        source = module_source(name)
        assert source.startswith((web_widgets.WEB_DIR / "base.js").read_text())
        assert source.rstrip().endswith("export default { render };")
        urls = set(re.findall(r"https?://[^\s\"'`]+", source))
        assert urls <= {"http://www.w3.org/2000/svg"}, urls  # the SVG namespace is a name: nothing is fetched
        assert not re.search(r"^\s*import\b|\bimport\(|fetch\(", source, re.MULTILINE)


@pytest.mark.parametrize("name", ["", "base.js", "../x", "nope", 3])
def test_an_unknown_module_is_refused_by_name(name) -> None:
    with pytest.raises(ValueError, match="^name must"):
        module_source(name)


def test_the_page_version_holds_the_data_once_and_escapes_the_script_end() -> None:
    page = static_html("power_explorer", {"data": {"title": "</script><b>"}}, "fallback & text")
    assert page.count("<\\/script><b>") == 1 and "fallback &amp; text" in page
    with pytest.raises(ValueError):
        static_html("power_explorer", {"x": float("nan")}, "f")  # not JSON: refused, not written


def test_a_subclass_sends_only_its_static_traits_to_the_page() -> None:
    class Tiny(BrowserWidget):
        _module = "power_explorer"
        data = traitlets.Dict().tag(sync=True, static=True)
        private = traitlets.Int(3).tag(sync=True)

    w = Tiny(data={"a": 1})
    assert w.static_state() == {"data": {"a": 1}}
    assert w._esm == module_source("power_explorer")
