"""The handbook's JupyterLab: chapters that pair both ways, prose that shows its numbers, no churn.

A chapter is a pair, ``chapters/NN_name.md`` (the source) and ``chapters/NN_name.ipynb`` (reference
outputs). In the lab, jupytext's contents manager keeps the two in step, configured by
``chapters/jupytext.toml`` (there, not at the repository root, so that a lab started in
``chapters/`` finds it too: jupytext looks for it only inside the lab's root). This module adds
what a reader of the lab needs on top, in :class:`HandbookContentsManager`:

Numbers in the prose
    The book pastes values into the text with myst-nb's ``{glue:text}`name:fmt``` role, which only
    Sphinx understands. ``jupyterlab-myst`` renders MyST in the lab (admonitions, math) and
    evaluates ``{eval}`expr``` roles in the kernel, but knows no glue. So, for the lab only, a
    chapter is served with every ``{glue:text}`key``` written as ``{eval}`glued("key")``` (the
    kernel-side :func:`handbook_utils.runtime.glued` prints exactly what the book prints), each
    markdown cell already carrying the values of its reference outputs (``user_expressions``
    metadata), so the numbers show before anything runs. Saving turns the roles back.

No churn
    Opening, running or saving a chapter changes no tracked file unless the reader edited a cell:
    when the cells (type, source, tags) still match the ``.md`` on disk, a save writes nothing.
    After an edit both files are written, and every unedited cell keeps its reference outputs,
    id and metadata, so the diff shows the edit and nothing else.

``python tools/handbook_lab.py install [PREFIX]`` writes the configuration into the environment
(``make setup`` runs it): the server settings (this contents manager, and one model cache for
every way of starting the lab), and markdown files opening as notebooks by default.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL_CACHE = ROOT / "_build" / "model-cache"

GLUE_ROLE = re.compile(r"\{glue:text\}`([^`\"]+)`")
EVAL_ROLE = re.compile(r"\{eval\}`glued\(\"([^`\"]+)\"\)`")
LAB_ONLY_CELL_METADATA = ("user_expressions", "trusted", "execution", "scrolled", "collapsed",
                          "jp-MarkdownHeadingCollapsed")
"""Cell metadata the lab (or jupyterlab-myst) adds while a chapter is open; never written back."""


# --------------------------------------------------------------------------------------------
# The transformations (pure functions on nbformat dictionaries, tested without a server)


def to_lab(source: str) -> str:
    """``{glue:text}`key``` -> ``{eval}`glued("key")```, the form jupyterlab-myst evaluates."""
    return GLUE_ROLE.sub(lambda m: f'{{eval}}`glued("{m.group(1)}")`', source)


def to_book(source: str) -> str:
    """The inverse of :func:`to_lab`: ``{eval}`glued("key")``` -> ``{glue:text}`key```."""
    return EVAL_ROLE.sub(lambda m: f"{{glue:text}}`{m.group(1)}`", source)


def glued_texts(nb: dict) -> dict[str, str]:
    """text/plain of every value the notebook's stored outputs glued (``myst_nb.glue``), by name."""
    from handbook_utils.glue import glued_texts as read

    return read(nb)


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def prepare_for_lab(nb: dict) -> dict:
    """Rewrite glue roles for jupyterlab-myst and attach the stored values (in place; returns nb)."""
    from myst_nb.core.variables import format_plain_text

    texts = glued_texts(nb)
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        source = _source(cell)
        keys = GLUE_ROLE.findall(source)
        if not keys:
            continue
        cell["source"] = to_lab(source)
        results = []
        for key in dict.fromkeys(keys):
            name, _, spec = key.partition(":")
            if name not in texts:
                continue
            try:
                text = format_plain_text(texts[name], spec)
            except (TypeError, ValueError):
                continue
            results.append({"expression": f'glued("{key}")',
                            "result": {"status": "ok", "data": {"text/plain": text}, "metadata": {}}})
        if results:
            cell.setdefault("metadata", {})["user_expressions"] = results
    return nb


def prepare_for_disk(nb: dict) -> dict:
    """Undo :func:`prepare_for_lab` and drop the metadata the lab added to cells (in place)."""
    for cell in nb.get("cells", []):
        metadata = cell.get("metadata", {})
        for key in LAB_ONLY_CELL_METADATA:
            metadata.pop(key, None)
        if cell.get("cell_type") == "markdown":
            cell["source"] = to_book(_source(cell))
    return nb


def signature(cells: list[dict]) -> list[tuple]:
    """What a reader's edit changes: each cell's type, source and tags (as ``notebooks.py check``)."""
    return [(c.get("cell_type"), _source(c).strip(), tuple(c.get("metadata", {}).get("tags", [])))
            for c in cells]


def keep_reference(nb: dict, reference: dict) -> dict:
    """``nb`` with every cell that ``reference`` also has (same type and source) taken from there.

    Unedited cells keep their reference outputs, ids and metadata; edited and new cells are the
    reader's. The notebook metadata stays the reference's (the lab adds nothing the book needs; the
    pairing comes from ``chapters/jupytext.toml``).
    """
    pool: dict[tuple, list[dict]] = defaultdict(list)
    for cell in reference.get("cells", []):
        pool[(cell.get("cell_type"), _source(cell))].append(cell)
    cells = []
    for cell in nb.get("cells", []):
        same = pool.get((cell.get("cell_type"), _source(cell)))
        cells.append(copy.deepcopy(same.pop(0)) if same else cell)
    merged = dict(nb)
    merged["cells"] = cells
    metadata = copy.deepcopy(reference.get("metadata", {}))
    if "jupytext" in nb.get("metadata", {}):  # the .md header's; dropped from the .ipynb after the save
        metadata["jupytext"] = copy.deepcopy(nb["metadata"]["jupytext"])
    merged["metadata"] = metadata
    return merged


# --------------------------------------------------------------------------------------------
# The contents manager

try:
    from jupytext.async_contentsmanager import AsyncTextFileContentsManager as _Base
except ImportError:  # pragma: no cover - the lab needs jupytext; the functions above do not
    _Base = object


class HandbookContentsManager(_Base):
    """jupytext's contents manager, plus the glue roles for the lab and saves without churn."""

    def _pair(self, path: str) -> tuple[Path, Path] | None:
        """The (.md, .ipynb) files of a chapter pair, or None for any other file."""
        os_path = Path(self._get_os_path(path))
        if os_path.suffix not in (".md", ".ipynb"):
            return None
        md, ipynb = os_path.with_suffix(".md"), os_path.with_suffix(".ipynb")
        return (md, ipynb) if md.exists() and ipynb.exists() else None

    async def get(self, path, content=True, type=None, format=None, **kwargs):
        model = await super().get(path, content=content, type=type, format=format, **kwargs)
        if content and model.get("type") == "notebook" and model.get("content") is not None:
            prepare_for_lab(model["content"])
        return model

    async def save(self, model, path=""):
        if model.get("type") == "notebook" and model.get("content") is not None:
            import jupytext
            import nbformat

            nb = prepare_for_disk(copy.deepcopy(model["content"]))
            pair = self._pair(path.strip("/"))
            if pair is not None:
                md, ipynb = pair
                if signature(nb["cells"]) == signature(jupytext.read(md, fmt="md:myst").cells):
                    self.log.info("[handbook] %s: no cell changed, nothing written", path)
                    return await super().get(path, content=False)
                nb = keep_reference(nb, nbformat.read(ipynb, as_version=4))
                await super().save({**model, "content": nb}, path)
                _drop_jupytext_metadata(ipynb)
                return await super().get(path, content=False)  # the times of the files as written
            model = {**model, "content": nb}
        return await super().save(model, path)


def _drop_jupytext_metadata(ipynb: Path) -> None:
    """Keep a reference .ipynb as ``make notebooks`` writes it: the pairing lives in jupytext.toml."""
    import nbformat

    from handbook_utils.files import atomic_write

    nb = nbformat.read(ipynb, as_version=4)
    if nb.metadata.pop("jupytext", None) is not None:
        text = nbformat.writes(nb) + "\n"
        atomic_write(ipynb, lambda f: f.write(text), binary=False)


# --------------------------------------------------------------------------------------------
# Installing the configuration into an environment

SERVER_CONFIG = """\
# Written by tools/handbook_lab.py (make setup): the handbook's JupyterLab server settings.
import os
import sys

sys.path.insert(0, {tools!r})
c.ServerApp.contents_manager_class = "handbook_lab.HandbookContentsManager"
# One model cache, however the lab is started (make lab, or jupyter lab at the root or in chapters/);
# kernels inherit it. An explicit HANDBOOK_CACHE_DIR still wins.
os.environ.setdefault("HANDBOOK_CACHE_DIR", {cache!r})
"""

LAB_OVERRIDES = {
    # markdown chapters open as notebooks (jupytext) on a double click
    "@jupyterlab/docmanager-extension:plugin": {
        "defaultViewers": {"markdown": "Jupytext Notebook", "myst": "Jupytext Notebook"},
    },
}


def install(prefix: Path) -> list[Path]:
    """Write the server config and the lab's default-viewer override under ``prefix``; return them."""
    from handbook_utils.files import atomic_write

    server = prefix / "etc" / "jupyter" / "jupyter_server_config.py"
    overrides = prefix / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    texts = {
        server: SERVER_CONFIG.format(tools=str(ROOT / "tools"), cache=str(MODEL_CACHE)),
        overrides: json.dumps(LAB_OVERRIDES, indent=2) + "\n",
    }
    for path, text in texts.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda f, text=text: f.write(text), binary=False)
    return list(texts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("install", help="write the lab configuration into an environment")
    run.add_argument("prefix", nargs="?", type=Path, default=Path(sys.prefix),
                     help="the environment's prefix (default: this Python's, sys.prefix)")
    args = parser.parse_args(argv)
    if not args.prefix.is_dir():
        parser.error(f"prefix: {args.prefix} is not a directory")
    for path in install(args.prefix):
        print(f"lab configuration: wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
