"""Values a notebook glued (``myst_nb.glue``), read back from its stored outputs.

myst-nb stores a glued value as an output whose metadata holds ``{"scrapbook": {"name": …,
"mime_prefix": …}}`` and whose data holds the value's ``text/plain`` (what ``{glue:text}`` formats)
under that prefix. Chapter 10 reads the book's checked numbers this way from the chapters' executed
notebooks (``chapters.ch10_summary``), and the lab fills a chapter's ``{eval}`` roles from them
(``tools/handbook_lab.py``). No imports beyond the standard library: the lab's server loads it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

__all__ = ["glue_record", "glue_records", "glued_texts"]


def glue_record(output: Mapping) -> tuple[str, str] | None:
    """``(name, text/plain)`` of one glued output, or None for any other output (or a glued figure,
    which has no text for ``{glue:text}`` to show)."""
    scrapbook = (output.get("metadata") or {}).get("scrapbook")
    if not isinstance(scrapbook, dict) or "name" not in scrapbook:
        return None
    plain = (output.get("data") or {}).get(f"{scrapbook.get('mime_prefix', '')}text/plain")
    if isinstance(plain, list):  # a stored notebook may split text into lines
        plain = "".join(plain)
    return (scrapbook["name"], plain) if isinstance(plain, str) else None


def glue_records(nb: Mapping) -> Iterator[tuple[str, str]]:
    """Every ``(name, text/plain)`` glued in notebook ``nb`` (a notebook as JSON), in cell order."""
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []):
            record = glue_record(output)
            if record is not None:
                yield record


def glued_texts(nb: Mapping) -> dict[str, str]:
    """text/plain of every value notebook ``nb`` glued, by name (the last one, if a name repeats)."""
    return dict(glue_records(nb))
