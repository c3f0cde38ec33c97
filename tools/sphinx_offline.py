"""A small Sphinx extension that keeps the built book self-contained.

Jupyter Book 1 always loads sphinx-thebe. With thebe switched off its script is useless, and
under Sphinx 7 it is injected twice, which raises "THEBE_JS_URL has already been declared" in
every page. We drop that one injection; the rest of sphinx-thebe (config defaults) stays.
"""

from __future__ import annotations


def setup(app):
    listeners = app.events.listeners.get("env-before-read-docs", [])
    for listener in list(listeners):
        handler = listener.handler
        if getattr(handler, "__module__", "") == "sphinx_thebe" and handler.__name__ == "init_thebe_core":
            app.disconnect(listener.id)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
