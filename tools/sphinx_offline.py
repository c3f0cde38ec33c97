"""A small Sphinx extension that keeps the built book self-contained and accessible.

Jupyter Book 1 always loads sphinx-thebe. With thebe switched off its script is useless, and
under Sphinx 7 it is injected twice, which raises "THEBE_JS_URL has already been declared" in
every page. We drop that one injection; the rest of sphinx-thebe (config defaults) stays.

Accessibility (WCAG 2.1 AA, checked by axe-core in ``tests/browser``):

- myst-nb takes an image's ``alt`` text only from cell metadata (fixed text), and otherwise lets
  docutils fall back to the image's file name. The chapters store a text alternative *with each
  figure*, in the output's metadata where Jupyter keeps it (``{"image/png": {"alt": ...}}``, as
  IPython's ``Image(alt=...)`` and nbconvert do; :func:`handbook_utils.plotting.show` writes it),
  so it is computed from the same numbers as the figure. :func:`_alt_from_output_metadata` makes
  myst-nb honour it.
- myst-nb names the toggle of a hidden code cell "Toggle hidden content" while it shows "Show
  code cell source" (WCAG 2.5.3, label in name): :func:`_visit_hidden_cell` drops that name, so
  the visible text is the name.
- docutils writes a bibliography as ``<div role="list">`` whose entries carry
  ``role="doc-biblioentry"``, a role ARIA 1.2 deprecated and axe does not accept as a list's child
  (aria-required-children, critical): :func:`_bibliography_entries_as_list_items` gives each
  entry the role ``listitem``, so a screen reader announces "list, 24 items" and reads them.
- The book's browser widgets (``handbook_utils.web_widgets``) are anywidget models, whose front end
  the ipywidgets HTML manager of a static page cannot load (it would ask a CDN for it). Their
  outputs also carry a ``text/html`` version that runs the same module in the page, which the book
  prefers (``nb_mime_priority_overrides``); :func:`_static_widget_state` drops their models from the
  page's saved widget state, so the manager is asked for nothing it cannot find (and a page with no
  other widget loads no widget manager at all).
- Two buttons of pydata-sphinx-theme fail the same criterion; ``tools/sphinx_templates`` holds
  fixed copies of their component templates (see each file), found by name before the theme's
  own ``components/`` folder.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent / "sphinx_templates"


def _alt_from_output_metadata(render_image):
    """Wrap ``NbElementRenderer.render_image``: an ``alt`` in the output's metadata (for the image's
    MIME type, or for the whole output) becomes the image node's ``alt``; cell metadata still wins."""

    @functools.wraps(render_image)
    def wrapper(self, data):
        image_nodes = render_image(self, data)
        metadata = data.output_metadata or {}
        alt = (metadata.get(data.mime_type) or {}).get("alt") or metadata.get("alt")
        if alt and image_nodes and "alt" not in image_nodes[0].attributes:
            image_nodes[0]["alt"] = str(alt)
        return image_nodes

    wrapper.handbook_alt = True
    return wrapper


STATIC_WIDGET_MODULES = ("@jupyter-widgets/",)
"""Model modules the vendored HTML manager can draw; other models are left out of a page's state."""


def _model_refs(state: dict, models: set[str]) -> set[str]:
    """The models that ``models`` refer to (``"IPY_MODEL_<id>"`` anywhere in their state)."""
    return set(re.findall(r"IPY_MODEL_([0-9A-Za-z_-]+)", json.dumps([state[m] for m in models])))


def _drawable_state(state: dict) -> dict:
    """The models of ``state`` the static page's HTML manager can draw, without the parts (a layout,
    say) that only the dropped models use."""
    drawable = {mid for mid, m in state.items() if str(m.get("model_module", "")).startswith(STATIC_WIDGET_MODULES)}
    parts_of_dropped = _model_refs(state, set(state) - drawable)
    used_by_kept = _model_refs(state, drawable - parts_of_dropped)
    return {mid: state[mid] for mid in drawable - (parts_of_dropped - used_by_kept)}


def _static_widget_state(render_nb_finalise):
    """Wrap ``NbElementRenderer.render_nb_finalise``: keep only the widget models whose module the
    static page's HTML manager has (its built-in ``@jupyter-widgets/*`` ones)."""

    @functools.wraps(render_nb_finalise)
    def wrapper(self, metadata):
        widgets = (metadata or {}).get("widgets") or {}
        key = "application/vnd.jupyter.widget-state+json"
        state = (widgets.get(key) or {}).get("state")
        if state:
            kept = _drawable_state(state)
            if len(kept) != len(state):
                metadata = {**metadata, "widgets": {**widgets, key: {**widgets[key], "state": kept}}}
        return render_nb_finalise(self, metadata)

    wrapper.handbook_static_state = True
    return wrapper


def _visit_hidden_cell(self, node):
    """myst-nb's ``visit_HideCellInput`` without ``aria-label`` on ``<summary>``."""
    from html import escape

    self.body.append(f'<details class="admonition hide {" ".join(node["classes"])}">\n')
    self.body.append("<summary>\n")
    self.body.append(f'<p class="collapsed admonition-title">{escape(node["prompt_show"])}</p>\n')
    self.body.append(f'<p class="expanded admonition-title">{escape(node["prompt_hide"])}</p>\n')
    self.body.append("</summary>\n")


def _accessible_hidden_cells(app):
    from myst_nb.sphinx_ import HideCodeCellNode, depart_HideCellInput

    app.add_node(HideCodeCellNode, override=True, html=(_visit_hidden_cell, depart_HideCellInput))


def _bibliography_entries_as_list_items(app, pagename, templatename, context, doctree):
    body = context.get("body")
    if body and 'role="doc-biblioentry"' in body:
        context["body"] = body.replace('role="doc-biblioentry"', 'role="listitem"')


def _add_templates(app, config):
    if TEMPLATES.is_dir():  # absent in the scratch books of the tooling tests, which copy this file only
        config.templates_path = [str(TEMPLATES), *config.templates_path]


def setup(app):
    listeners = app.events.listeners.get("env-before-read-docs", [])
    for listener in list(listeners):
        handler = listener.handler
        if getattr(handler, "__module__", "") == "sphinx_thebe" and handler.__name__ == "init_thebe_core":
            app.disconnect(listener.id)
    from myst_nb.core.render import NbElementRenderer

    if not getattr(NbElementRenderer.render_image, "handbook_alt", False):
        NbElementRenderer.render_image = _alt_from_output_metadata(NbElementRenderer.render_image)
    if not getattr(NbElementRenderer.render_nb_finalise, "handbook_static_state", False):
        NbElementRenderer.render_nb_finalise = _static_widget_state(NbElementRenderer.render_nb_finalise)
    app.connect("config-inited", _add_templates)
    app.connect("builder-inited", _accessible_hidden_cells)
    app.connect("html-page-context", _bibliography_entries_as_list_items)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
