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
- Two buttons of pydata-sphinx-theme fail the same criterion; ``tools/sphinx_templates`` holds
  fixed copies of their component templates (see each file), found by name before the theme's
  own ``components/`` folder.
"""

from __future__ import annotations

import functools
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
    app.connect("config-inited", _add_templates)
    app.connect("builder-inited", _accessible_hidden_cells)
    app.connect("html-page-context", _bibliography_entries_as_list_items)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
