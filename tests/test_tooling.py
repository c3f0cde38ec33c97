"""The safety nets must catch what they claim to catch.

- an .md edited without regenerating its .ipynb fails the pair check;
- a changed compared output fails nbval;
- a raising cell fails the Jupyter Book build.
(A CDN reference failing the browser test is checked in tests/browser/test_pagecheck.py.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import notebooks  # noqa: E402
from myst_pages import MYST_HEADER  # noqa: E402

BIN = Path(sys.executable).parent
HEADER = MYST_HEADER


def _chapter(body: str) -> str:
    return HEADER + "\n# A tiny chapter\n\n" + textwrap.dedent(body)


@pytest.fixture
def chapter_pair(tmp_path):
    """A one-cell chapter executed into its reference .ipynb, in a scratch folder."""
    md = tmp_path / "99_tiny.md"
    md.write_text(_chapter("```{code-cell} ipython3\nprint(6 * 7)\n```\n"))
    notebooks.execute(md)
    return md, md.with_suffix(".ipynb")


def test_fresh_pair_is_in_sync(chapter_pair):
    assert notebooks.check_pairs(chapter_pair[0].parent) == []


def test_editing_the_md_without_regenerating_is_caught(chapter_pair):
    md, _ = chapter_pair
    md.write_text(md.read_text().replace("6 * 7", "6 * 8"))
    problems = notebooks.check_pairs(md.parent)
    assert len(problems) == 1 and "differ" in problems[0]


def test_orphan_ipynb_and_missing_outputs_are_caught(chapter_pair):
    md, nb_path = chapter_pair
    shutil.copy(nb_path, md.parent / "98_orphan.ipynb")
    nb = nbformat.read(nb_path, as_version=4)
    for cell in nb.cells:
        cell["execution_count"] = None
        cell["outputs"] = []
    nbformat.write(nb, nb_path)
    problems = " ".join(notebooks.check_pairs(md.parent))
    assert "98_orphan.ipynb: no paired .md" in problems
    assert "no executed output" in problems


def test_sync_text_copies_prose_and_refuses_code_changes(chapter_pair):
    md, nb_path = chapter_pair
    outputs = nbformat.read(nb_path, as_version=4).cells[-1].outputs
    md.write_text(md.read_text() + "\n```{code-cell} ipython3\nprint(1)\n```\n")
    with pytest.raises(ValueError, match="code cells changed"):  # a code cell was added: execute instead
        notebooks.sync_text(md)
    md.write_text(_chapter("Reworded prose.\n\n```{code-cell} ipython3\nprint(6 * 7)\n```\n"))
    assert notebooks.check_pairs(md.parent)  # the prose differs now
    assert notebooks.sync_text(md) == 1
    synced = nbformat.read(nb_path, as_version=4)
    assert synced.cells[0].source.endswith("Reworded prose.") and synced.cells[-1].outputs == outputs
    assert notebooks.check_pairs(md.parent) == []
    md.write_text(md.read_text().replace("6 * 7", "6 * 8"))
    with pytest.raises(ValueError, match="code cells changed"):
        notebooks.sync_text(md)


def test_execution_is_deterministic(chapter_pair):
    md, nb_path = chapter_pair
    first = nb_path.read_text()
    notebooks.execute(md)
    assert nb_path.read_text() == first


def test_reference_runs_have_no_progress_bars_and_leave_the_environment_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("HANDBOOK_PROGRESS", "1")
    md = tmp_path / "97_env.md"
    md.write_text(_chapter("```{code-cell} ipython3\nimport os\n"
                           "print(os.environ['HANDBOOK_PROGRESS'], os.environ['HANDBOOK_CACHE_DIR'] != '')\n```\n"))
    notebooks.execute(md)
    (output,) = nbformat.read(md.with_suffix(".ipynb"), as_version=4).cells[-1].outputs
    assert output["text"] == "0 True\n"  # the kernel ran with bars off and an (empty) model cache
    assert os.environ["HANDBOOK_PROGRESS"] == "1"  # and the caller's setting is back


def _nbval(nb_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "pytest"), "-q", "-p", "no:cacheprovider", "--nbval", "--nbval-current-env", str(nb_path)],
        cwd=nb_path.parent, capture_output=True, text=True, timeout=300,
    )


def test_nbval_passes_on_unchanged_outputs(chapter_pair):
    result = _nbval(chapter_pair[1])
    assert result.returncode == 0, result.stdout


def test_nbval_fails_on_a_changed_output(chapter_pair):
    _, nb_path = chapter_pair
    nb_path.write_text(nb_path.read_text().replace('"42\\n"', '"43\\n"'))
    result = _nbval(nb_path)
    assert result.returncode == 1 and "43" in result.stdout


@pytest.mark.parametrize("cell, should_pass", [("print('fine')", True), ("raise RuntimeError('cell failed')", False)])
def test_book_build_fails_on_a_raising_cell(tmp_path, cell, should_pass):
    book = tmp_path / "book"
    book.mkdir()
    shutil.copy(ROOT / "_config.yml", book / "_config.yml")
    shutil.copy(ROOT / "references.bib", book / "references.bib")  # the configuration names it
    (book / "_toc.yml").write_text("format: jb-book\nroot: intro\n")
    (book / "intro.md").write_text(_chapter(f"```{{code-cell}} ipython3\n{cell}\n```\n"))
    (book / "tools").mkdir()
    shutil.copy(ROOT / "tools" / "sphinx_offline.py", book / "tools")
    (book / "_vendor").mkdir()
    result = subprocess.run(
        [str(BIN / "jupyter-book"), "build", str(book), "--warningiserror", "--nitpick", "--keep-going"],
        capture_output=True, text=True, timeout=600,
    )
    assert (result.returncode == 0) is should_pass, result.stdout[-3000:]


def test_bibliography_entries_become_list_items_for_screen_readers():
    sys.path.insert(0, str(ROOT / "tools"))
    import sphinx_offline

    context = {"body": '<div role="list" class="citation-list"><div class="citation" role="doc-biblioentry">A</div>'
                       '<div class="citation" role="doc-biblioentry">B</div></div>'}
    sphinx_offline._bibliography_entries_as_list_items(None, "reference/bibliography", "page.html", context, None)
    assert context["body"].count('role="listitem"') == 2 and "doc-biblioentry" not in context["body"]
    untouched = {"body": "<p>no bibliography here</p>"}
    sphinx_offline._bibliography_entries_as_list_items(None, "intro", "page.html", untouched, None)
    assert untouched["body"] == "<p>no bibliography here</p>"


def test_a_page_keeps_only_the_widget_models_its_html_manager_can_draw():
    """Browser widgets (anywidget) render from their text/html version; their models, and the parts only
    they use, leave the page's saved state, so the manager never asks a CDN for anywidget's front end."""
    sys.path.insert(0, str(ROOT / "tools"))
    import sphinx_offline

    key = "application/vnd.jupyter.widget-state+json"
    state = {
        "game": {"model_module": "anywidget", "state": {"layout": "IPY_MODEL_gamelayout"}},
        "gamelayout": {"model_module": "@jupyter-widgets/base", "state": {}},
        "slider": {"model_module": "@jupyter-widgets/controls", "state": {"layout": "IPY_MODEL_sliderlayout"}},
        "sliderlayout": {"model_module": "@jupyter-widgets/base", "state": {}},
    }
    seen = []
    wrapped = sphinx_offline._static_widget_state(lambda self, metadata: seen.append(metadata))
    wrapped(None, {"widgets": {key: {"version_major": 2, "state": state}}})
    assert set(seen[0]["widgets"][key]["state"]) == {"slider", "sliderlayout"}
    assert set(state) == {"game", "gamelayout", "slider", "sliderlayout"}  # the notebook itself is left alone
    only_anywidget = {k: v for k, v in state.items() if k.startswith("game")}
    wrapped(None, {"widgets": {key: {"state": only_anywidget}}})
    assert seen[1]["widgets"][key]["state"] == {}  # nothing left: myst-nb then loads no widget manager
