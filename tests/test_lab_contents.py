"""The lab's contents manager (tools/handbook_lab.py): glue roles shown as numbers, pairs that sync
both ways, and saves that write nothing unless the reader edited a cell.

The server-side class is driven directly (no browser) on a scratch git copy of a chapter pair;
tests/browser/test_lab.py drives the same through a real JupyterLab.
"""

from __future__ import annotations

import asyncio
import copy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import handbook_lab  # noqa: E402

CHAPTER = "03_compounding_errors"


def test_glue_roles_round_trip_through_the_lab_form():
    text = "p = {glue:text}`p_seed:.2f`, T = {glue:text}`t_seed:d` and {glue:text}`name`; `code` stays."
    lab = handbook_lab.to_lab(text)
    assert lab == ('p = {eval}`glued("p_seed:.2f")`, T = {eval}`glued("t_seed:d")` and {eval}`glued("name")`;'
                   " `code` stays.")
    assert handbook_lab.to_book(lab) == text
    assert handbook_lab.to_book("{eval}`1 + 1`") == "{eval}`1 + 1`"  # a reader's own {eval} stays


def test_prepare_for_lab_shows_the_stored_values_and_disk_form_drops_them():
    glue = {"output_type": "display_data", "metadata": {"scrapbook": {"name": "p", "mime_prefix": "x/"}},
            "data": {"x/text/plain": "0.98765"}}
    nb = {"cells": [{"cell_type": "code", "source": "glue('p', 0.98765)", "metadata": {}, "outputs": [glue]},
                    {"cell_type": "markdown", "source": "p = {glue:text}`p:.2f`, q = {glue:text}`q`", "metadata": {}}]}
    original = copy.deepcopy(nb)
    handbook_lab.prepare_for_lab(nb)
    cell = nb["cells"][1]
    assert cell["source"] == 'p = {eval}`glued("p:.2f")`, q = {eval}`glued("q")`'
    # only what the outputs glued is attached; q waits for the kernel
    assert cell["metadata"]["user_expressions"] == [
        {"expression": 'glued("p:.2f")', "result": {"status": "ok", "data": {"text/plain": "0.99"}, "metadata": {}}}]
    cell["metadata"]["trusted"] = True
    assert handbook_lab.prepare_for_disk(nb) == original


def test_keep_reference_keeps_unedited_cells_and_takes_edited_ones():
    ref = {"metadata": {"kernelspec": {"name": "python3"}},
           "cells": [{"cell_type": "code", "source": "a = 1", "id": "r0", "outputs": ["ref"], "metadata": {}},
                     {"cell_type": "markdown", "source": "text", "id": "r1", "metadata": {}}]}
    lab = {"metadata": {"kernelspec": {"name": "python3"}, "widgets": {"state": 1}, "jupytext": {"formats": "x"}},
           "cells": [{"cell_type": "code", "source": "a = 1", "id": "lab0", "outputs": ["lab"], "metadata": {}},
                     {"cell_type": "markdown", "source": "new text", "id": "lab1", "metadata": {}}]}
    merged = handbook_lab.keep_reference(lab, ref)
    assert [c["id"] for c in merged["cells"]] == ["r0", "lab1"]
    assert merged["cells"][0]["outputs"] == ["ref"]
    assert merged["metadata"] == {"kernelspec": {"name": "python3"}, "jupytext": {"formats": "x"}}


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path):
    """A git repository holding one chapter pair and the pairing configuration."""
    pytest.importorskip("jupytext")
    chapters = tmp_path / "chapters"
    chapters.mkdir()
    for name in (f"{CHAPTER}.md", f"{CHAPTER}.ipynb", "jupytext.toml"):
        shutil.copy2(ROOT / "chapters" / name, chapters / name)
    shutil.copy2(ROOT / ".gitignore", tmp_path / ".gitignore")  # the lab's .ipynb_checkpoints/
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "-q", "-m", "pair")
    return tmp_path


@pytest.mark.parametrize("root_is_chapters", [False, True])
@pytest.mark.parametrize("suffix", [".md", ".ipynb"])
def test_unedited_saves_write_nothing_and_an_edit_reaches_both_files(repo, root_is_chapters, suffix):
    root = repo / "chapters" if root_is_chapters else repo
    path = ("" if root_is_chapters else "chapters/") + CHAPTER + suffix
    manager = handbook_lab.HandbookContentsManager(root_dir=str(root))

    async def scenario():
        model = await manager.get(path)
        nb = model["content"]
        prose = [c for c in nb.cells if c.cell_type == "markdown" and "glued(" in c.source]
        assert prose and all("{glue:text}" not in c.source for c in nb.cells)
        assert any(c.metadata.get("user_expressions") for c in prose)  # numbers before any run
        # as the lab would save an unedited but "dirty" notebook: outputs and metadata touched
        touched = copy.deepcopy(nb)
        touched.metadata["widgets"] = {"state": {}}
        for cell in touched.cells:
            cell.metadata["trusted"] = True
            if cell.cell_type == "code":
                cell.outputs = []
        await manager.save({"type": "notebook", "format": "json", "content": touched}, path)
        assert _git(repo, "status", "--porcelain") == ""
        edited = copy.deepcopy(nb)
        edited.cells[-1].source += "\n\nA sentence the reader added."
        saved = await manager.save({"type": "notebook", "format": "json", "content": edited}, path)
        assert saved["last_modified"] == (await manager.get(path, content=False))["last_modified"]

    asyncio.run(scenario())
    changed = sorted(line[3:] for line in _git(repo, "status", "--porcelain").splitlines())
    assert changed == [f"chapters/{CHAPTER}.ipynb", f"chapters/{CHAPTER}.md"]
    for name in changed:
        diff = _git(repo, "diff", "--unified=0", name)
        body = [line for line in diff.splitlines()[4:] if not line.startswith("@@")]
        assert any("A sentence the reader added." in line for line in body), diff
        removed = [line for line in body if line.startswith("-")]
        # the .md only gains the sentence; in the .ipynb's JSON the cell's old last line loses its end
        assert len(removed) == (0 if name.endswith(".md") else 1), diff
        assert "jupytext_version" not in diff and "glued(" not in diff and "user_expressions" not in diff


def test_install_writes_the_server_config_and_the_default_viewer(tmp_path):
    written = handbook_lab.install(tmp_path)
    server, overrides = written
    text = server.read_text()
    assert 'contents_manager_class = "handbook_lab.HandbookContentsManager"' in text
    assert str(ROOT / "tools") in text and str(ROOT / "_build" / "model-cache") in text
    assert "Jupytext Notebook" in overrides.read_text()
    config = {}

    class _Config:
        def __getattr__(self, name):
            return config.setdefault(name, type("Section", (), {})())

    exec(compile(text, str(server), "exec"), {"c": _Config()})  # valid Python for jupyter_server
    assert config["ServerApp"].contents_manager_class == "handbook_lab.HandbookContentsManager"
    with pytest.raises(SystemExit):
        handbook_lab.main(["install", str(tmp_path / "missing")])
