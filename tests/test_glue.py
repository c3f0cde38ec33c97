"""Glued values read back from a notebook's outputs (handbook_utils.glue)."""

from __future__ import annotations

from handbook_utils.glue import glue_record, glue_records, glued_texts


def _glued(name, text, prefix="application/papermill.record/"):
    return {"output_type": "display_data", "metadata": {"scrapbook": {"name": name, "mime_prefix": prefix}},
            "data": {f"{prefix}text/plain": text}}


def test_glued_outputs_are_read_by_name_and_others_are_skipped():
    nb = {"cells": [
        {"cell_type": "code", "outputs": [_glued("loss", "0.0102"), {"output_type": "stream", "text": "hi"}]},
        {"cell_type": "markdown"},
        {"cell_type": "code", "outputs": [_glued("lines", ["'two ", "lines'"]),
                                          {"metadata": {"scrapbook": {"name": "fig"}}, "data": {"image/png": "…"}}]},
    ]}
    assert list(glue_records(nb)) == [("loss", "0.0102"), ("lines", "'two lines'")]  # a figure has no text
    assert glued_texts(nb) == {"loss": "0.0102", "lines": "'two lines'"}
    assert glue_record({"output_type": "stream"}) is None
    assert glue_record(_glued("x", "1", prefix="")) == ("x", "1")  # a kernel message's content has no prefix
