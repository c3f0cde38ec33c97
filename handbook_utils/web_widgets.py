"""Widgets that keep working without a kernel: in JupyterLab and on the book's static pages alike.

Most readers meet the book as static web pages, where no Python runs: an ipywidgets slider there
is drawn from its saved state but does nothing when moved. So the book's interactive pieces follow
one shape (the style guide's "pure logic, then a thin view"):

1. Python computes everything the widget can show, once, as plain data (every round of the game,
   every curve a slider can select). The formulas stay in the tested Python modules.
2. A small JavaScript module (``handbook_utils/web/<name>.js``, joined with the shared
   ``web/base.js``: slider rows, a line chart, screen-reader helpers) only draws that data and
   reacts to clicks and slider moves.
3. The same module runs in both places. In a live notebook it is an `anywidget
   <https://anywidget.dev>`_ widget (anywidget ships the module in the widget's state and its
   JupyterLab extension loads it, offline), so values the browser writes back (``model.set`` and
   ``save_changes``) reach Python. On a static page, the output's ``text/html`` version runs the
   same module in a ``<script type="module">`` with a stand-in model holding the same data; the
   book prefers that version (``nb_mime_priority_overrides`` in ``_config.yml``) and drops the
   widget's model from the page's widget state (``tools/sphinx_offline.py``), so nothing is loaded
   from anywhere but the page.

Subclass :class:`BrowserWidget`, name the module in ``_module`` and mark the traits the browser
needs with ``.tag(sync=True, static=True)``. Used by chapter 1 (the proof-writing game), chapter 3
(the ``p^T`` explorer) and chapter 5 (the schedule explorer).
"""

from __future__ import annotations

import hashlib
import html
import itertools
import json
import re
from pathlib import Path
from typing import Any, ClassVar

import anywidget

__all__ = ["WEB_DIR", "BrowserWidget", "module_source", "static_html"]

WEB_DIR = Path(__file__).resolve().parent / "web"
"""Where the JavaScript modules live (shipped with the package)."""

_EXPORT = re.compile(r"^export default \{ render \};\s*$", re.MULTILINE)
_instances = itertools.count()


def module_source(name: str) -> str:
    """The ES module of widget ``name``: ``web/base.js`` followed by ``web/<name>.js``.

    The widget file must define ``render({model, el})`` and end with ``export default { render };``
    (anywidget's contract), which :func:`static_html` relies on.
    """
    if not isinstance(name, str) or not re.fullmatch(r"[a-z_]+", name):
        raise ValueError(f"name must be a module name such as 'proof_game' (lower case and _), got {name!r}")
    path = WEB_DIR / f"{name}.js"
    if not path.is_file():
        known = sorted(p.stem for p in WEB_DIR.glob("*.js") if p.stem != "base")
        raise ValueError(f"name must be one of {known}, got {name!r}")
    source = path.read_text()
    if len(_EXPORT.findall(source)) != 1:
        raise ValueError(f"{path.name} must end with exactly one line 'export default {{ render }};'")
    return (WEB_DIR / "base.js").read_text() + "\n" + source


def static_html(name: str, state: dict[str, Any], fallback: str) -> str:
    """The widget as a self-contained piece of HTML: a ``<div>`` and an inline module script that
    renders ``state`` with the module ``name``; ``fallback`` is shown where scripts do not run.

    The element id is derived from the module and state (and a per-process counter, so the same
    widget shown twice gets two ids): executing a notebook twice writes the same HTML.
    """
    source = _EXPORT.sub("", module_source(name))
    data = json.dumps(state, sort_keys=True, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    digest = hashlib.sha256(f"{name}\0{data}".encode()).hexdigest()[:12]
    element = f"hb-{name.replace('_', '-')}-{digest}-{next(_instances)}"
    return (
        f'<div id="{element}" class="hb-static-widget">'
        f'<noscript><p>{html.escape(fallback)}</p></noscript></div>\n'
        f"<script type=\"module\">\n{source}\n"
        "// a stand-in for the live widget's model: the same data, with nobody to send changes to\n"
        f"const data = {data};\n"
        "const model = {get: (key) => data[key], set: (key, value) => { data[key] = value; },\n"
        "               save_changes() {}, on() {}, off() {}};\n"
        f'render({{model, el: document.getElementById("{element}")}});\n'
        "</script>"
    )


class BrowserWidget(anywidget.AnyWidget):
    """A widget whose JavaScript module (``web/<_module>.js``) draws data Python computed once.

    Displayed, it carries three versions: the live widget (JupyterLab, VS Code, Colab with
    anywidget), a ``text/html`` version that runs the same module without a kernel (the static
    book), and ``placeholder`` as plain text.
    """

    _module: ClassVar[str] = ""
    placeholder: ClassVar[str] = "Run this cell to show the interactive figure."

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # only where _module is declared: ipywidgets' add_traits makes subclasses on the fly, whose
        # _esm is already a trait
        if cls.__dict__.get("_module"):
            cls._esm = module_source(cls._module)
        super().__init_subclass__(**kwargs)

    def static_state(self) -> dict[str, Any]:
        """The values of the traits tagged ``static=True``: what the module reads with ``model.get``."""
        return {name: getattr(self, name) for name in self.trait_names(static=True)}

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = super()._repr_mimebundle_(**kwargs)
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle or {}, {})
        data = {**data, "text/plain": self.placeholder,
                "text/html": static_html(self._module, self.static_state(), self.placeholder)}
        return data, metadata
