"""What the JupyterLab reader gets from :mod:`handbook_utils.runtime`: glued values for the lab's
``{eval}`` roles, run-this-cell placeholders for widgets, and honest timing notes."""

from __future__ import annotations

import pytest

from handbook_utils import runtime
from handbook_utils.training import History


def _glue_message(name: str, plain: str, prefix: str = "application/papermill.record/") -> dict:
    """The message ipykernel publishes for ``myst_nb.glue(name, value, display=False)``."""
    return {"content": {"data": {f"{prefix}text/plain": plain},
                        "metadata": {"scrapbook": {"name": name, "mime_prefix": prefix}}}}


def test_glued_formats_like_the_book(monkeypatch):
    monkeypatch.setattr(runtime, "_GLUED", {})
    msg = _glue_message("p_seed", "0.99")
    assert runtime._record_glue(msg) is msg  # the hook passes every message on unchanged
    runtime._record_glue(_glue_message("t_seed", "142", prefix=""))
    runtime._record_glue(_glue_message("kind", "'carry'"))
    runtime._record_glue({"content": {"data": {"text/plain": "7"}, "metadata": {}}})  # not a glue
    assert runtime.glued("p_seed:.2f") == "0.99"
    assert runtime.glued("p_seed:.0%") == "99%"
    assert runtime.glued("t_seed:d") == "142"
    assert runtime.glued("kind") == "carry"  # quotes dropped, as the book does
    assert set(runtime._GLUED) == {"p_seed", "t_seed", "kind"}


def test_glued_rejects_unknown_and_bad_keys(monkeypatch):
    monkeypatch.setattr(runtime, "_GLUED", {})
    with pytest.raises(KeyError, match="run the code cells above"):
        runtime.glued("missing:.2f")
    with pytest.raises(ValueError, match="key"):
        runtime.glued("")


def test_glue_recorder_is_installed_only_in_a_kernel():
    assert runtime._install_glue_recorder() is False  # plain pytest: no IPython kernel


def test_placeholder_replaces_only_the_plain_text():
    ipywidgets = pytest.importorskip("ipywidgets")
    box = runtime.placeholder(ipywidgets.VBox([ipywidgets.HTML("x")]), "Run this cell to explore.")
    bundle = box._repr_mimebundle_()
    assert bundle["text/plain"] == "Run this cell to explore."
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == box.model_id
    with pytest.raises(ValueError, match="text"):
        runtime.placeholder(box, " ")
    with pytest.raises(TypeError, match="widget"):
        runtime.placeholder(object(), "Run this cell.")


def test_timing_note_does_not_claim_training_for_a_cached_model():
    history = History(steps=[1], losses=[1.0], evals=[], wall_time_s=55.2, config={})
    assert history.timing_note() == "trained in 55 s"
    history.from_cache = True
    note = history.timing_note()
    assert note.startswith("loaded from the cache") and "55 s" in note and "trained in" not in note
