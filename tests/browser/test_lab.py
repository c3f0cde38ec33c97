"""The chapters in JupyterLab itself, as a reader meets them: headless Chromium drives a JupyterLab
that this test starts on 127.0.0.1, over a git copy of the chapters (so the repository's own files
are never touched, and ``git status`` of the copy shows exactly what the lab wrote).

- Chapter 1 opens (its ``.md``, with a double-click's default viewer: a notebook), shows "run this
  cell" where the game will be, runs, and plays a few moves; saving writes nothing.
- Chapter 3 runs; afterwards no raw MyST (``{glue``, ``{eval}``, ``:class:``) is visible, its
  admonitions, math and inline numbers are rendered, and the numbers are the book's.
- A training cell added to chapter 3 shows a progress bar with a remaining-time estimate; saving
  the notebook writes that cell into the ``.md`` twin (and its pair) and changes nothing else.

Screenshots land in ``_build/screenshots/lab/``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "_build" / "screenshots" / "lab"
LAB_CONFIG = Path(sys.prefix) / "etc" / "jupyter" / "jupyter_server_config.py"
CH1 = "chapters/01_the_proof_writing_job"
CH3 = "chapters/03_compounding_errors"
TOKEN = "handbook-lab-test"
RAW_MYST = ("{glue", "{eval}", ":class:", "{admonition}", "{note}")

# A cell a reader might add: a small model trained from scratch, long enough to watch its bar.
TRAINING_CELL = """\
from handbook_utils.recipes import Recipe
from handbook_utils.tasks import TwoStepTask

demo = Recipe(name="two-step", task=TwoStepTask(), model=dict(n_layer=1, n_head=2, n_embd=32),
              train=dict(steps=1500, batch_size=64, lr=1e-2, seed=5)).run(cache=False)
print(demo.history.timing_note())"""


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab on a fresh git copy of chapters/, started from this environment as a reader would."""
    if not LAB_CONFIG.exists():
        pytest.fail(f"{LAB_CONFIG} is missing: run `make setup` (it writes the lab configuration)")
    base = tmp_path_factory.mktemp("lab")
    repo = base / "repo"
    (repo / "chapters").mkdir(parents=True)
    shutil.copy2(ROOT / ".gitignore", repo / ".gitignore")  # e.g. the lab's .ipynb_checkpoints/
    for name in _git(ROOT, "ls-files", "chapters").split():
        if name.endswith((".md", ".ipynb", ".toml")):
            shutil.copy2(ROOT / name, repo / name)
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.name=test", "-c", "user.email=test@localhost", "commit", "-q", "-m", "chapters")
    # the reader's own lab settings stay out of it; all cells in the DOM so all prose can be read
    settings = base / "settings"
    (settings / "@jupyterlab" / "notebook-extension").mkdir(parents=True)
    (settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings").write_text(
        json.dumps({"windowingMode": "none"}))
    (settings / "@jupyterlab" / "apputils-extension").mkdir(parents=True)  # no news pop-up over the pages
    (settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(settings), "JUPYTERLAB_WORKSPACES_DIR": str(base / "ws"),
           "JUPYTER_RUNTIME_DIR": str(base / "runtime")}
    env.pop("HANDBOOK_PROGRESS", None)  # the lab shows progress bars
    port = _free_port()
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.root_dir={repo}", f"--IdentityProvider.token={TOKEN}", "--LabApp.expose_app_in_browser=True",
           "--ServerApp.port_retries=0"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log = (base / "lab.log").open("w")
    server = subprocess.Popen(cmd, cwd=repo, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=5)
            break
        except OSError:
            if server.poll() is not None or time.time() > deadline:
                server.kill()
                pytest.fail(f"JupyterLab did not start: {(base / 'lab.log').read_text()[-3000:]}")
            time.sleep(1)
    try:
        yield {"url": url, "repo": repo, "log": base / "lab.log"}
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture
def page(browser, lab):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.errors = []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    yield pg
    context.close()


def _open(page, lab, path: str) -> None:
    """Open ``path`` as a double-click would (the default viewer), and wait for its kernel."""
    page.goto(f"{lab['url']}/lab/tree/{path}?token={TOKEN}&reset", wait_until="domcontentloaded")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                           " && window.jupyterapp.shell.currentWidget.content"
                           " && window.jupyterapp.shell.currentWidget.content.widgets"
                           " && window.jupyterapp.shell.currentWidget.content.widgets.length > 0",
                           timeout=120_000)
    page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.ready")
    page.wait_for_function("() => window.jupyterapp.shell.currentWidget.sessionContext.session?.kernel?.status"
                           " === 'idle'", timeout=120_000)


def _run_all(page, timeout_s: float) -> None:
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    page.wait_for_function(
        "() => { const nb = window.jupyterapp.shell.currentWidget;"
        " const k = nb.sessionContext.session?.kernel;"
        " const busy = [...nb.content.node.querySelectorAll('.jp-InputPrompt')].some(p => p.textContent.includes('*'));"
        " return k && k.status === 'idle' && !busy; }",
        timeout=timeout_s * 1000, polling=1000)


def _save(page, lab) -> None:
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.context.model.dirty", timeout=60_000)
    time.sleep(1)  # the server has answered; let the file system settle before reading git


def _notebook_text(page) -> str:
    return page.evaluate("() => window.jupyterapp.shell.currentWidget.content.node.innerText")


def _errors_in_outputs(page) -> list[str]:
    return page.evaluate("() => [...document.querySelectorAll('.jp-OutputArea-output[data-mime-type="
                         "\"application/vnd.jupyter.stderr\"]')].map(e => e.innerText)"
                         ".filter(t => /Traceback|Error/.test(t))")


def test_chapter_1_game_plays_in_the_lab_and_saving_writes_nothing(page, lab):
    _open(page, lab, f"{CH1}.md")
    assert "Run this cell to play the game" in _notebook_text(page)  # not <ProofGameWidget object at ...>
    _run_all(page, timeout_s=300)
    assert _errors_in_outputs(page) == []
    game = page.locator(".jp-OutputArea-output .hb-game", has_text="Phase 1").first  # anywidget's live view
    game.wait_for(timeout=60_000)
    feedback = []
    for _ in range(4):
        game.locator(".hb-options button").first.click()
        page.wait_for_function("(el) => /Right|Wrong/.test(el.innerText)", arg=game.element_handle(), timeout=30_000)
        feedback.append(game.inner_text())
    assert any("Right" in text or "Wrong" in text for text in feedback)
    assert re.search(r"word \d+ of \d+", feedback[-1])
    # the picks came back to Python (anywidget syncs model.set + save_changes), as the chapter says
    page.wait_for_function("""async () => {
        const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
        const msg = await kernel.requestExecute({code: '', silent: true,
                                                 user_expressions: {n: 'len(game.picks)'}}).done;
        return msg.content.user_expressions.n.data['text/plain'] === '4'; }""", timeout=30_000)
    SHOTS.mkdir(parents=True, exist_ok=True)
    game.screenshot(path=str(SHOTS / "ch01-game.png"))
    _save(page, lab)
    assert _git(lab["repo"], "status", "--porcelain") == ""  # opening, running, playing, saving: no change
    assert page.errors == []


def test_chapter_3_prose_shows_numbers_and_a_new_training_cell_saves_to_the_md(page, lab):
    _open(page, lab, f"{CH3}.md")
    _run_all(page, timeout_s=900)
    assert _errors_in_outputs(page) == []
    text = _notebook_text(page)
    raw = [marker for marker in RAW_MYST if marker in text]
    assert raw == [], f"raw MyST visible in the lab: {raw}"
    counts = page.evaluate("""() => { const n = window.jupyterapp.shell.currentWidget.content.node;
        return {expressions: n.querySelectorAll('.myst-RenderedExpression, .jp-RenderedMarkdown span').length,
                admonitions: [...n.querySelectorAll('aside, .admonition')].length,
                math: n.querySelectorAll('.katex, mjx-container, .MathJax').length}; }""")
    assert counts["admonitions"] >= 1 and counts["math"] >= 1, counts
    # running the chapter re-evaluated its {eval} roles in the kernel: none failed, and the kernel
    # answers the way jupyterlab-myst asks (user_expressions of an execute request)
    failed = page.evaluate("""() => window.jupyterapp.shell.currentWidget.content.widgets
        .filter(c => c.model.type === 'markdown')
        .flatMap(c => c.model.getMetadata('user_expressions') || [])
        .filter(e => e.result.status !== 'ok').map(e => e.expression)""")
    assert failed == []
    reply = page.evaluate("""async () => {
        const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
        const future = kernel.requestExecute({code: '', silent: true,
                                              user_expressions: {t: 'glued("t_seed:d")', p: 'glued("p_seed:.2f")'}});
        const msg = await future.done;
        return msg.content.user_expressions; }""")
    assert reply["t"]["data"]["text/plain"] == "'142'" and reply["p"]["data"]["text/plain"] == "'0.99'", reply
    # the first numbers of the chapter, as the book prints them (p = 0.99 at T = 142 tokens)
    first = page.locator(".jp-MarkdownCell", has_text="The ten-term chain from 1 to 10 needs").first
    first.scroll_into_view_if_needed()
    prose = first.inner_text()
    assert "142 characters" in prose and "0.99" in prose, prose
    SHOTS.mkdir(parents=True, exist_ok=True)
    first.screenshot(path=str(SHOTS / "ch03-prose-with-numbers.png"))
    # the p^T explorer is live in the lab too (anywidget): a slider moved from the keyboard redraws the curve
    explorer = page.locator(".jp-OutputArea-output .hb-widget", has=page.locator("input[type=range]")).first
    explorer.scroll_into_view_if_needed()
    curve = explorer.locator("path.hb-series").first
    before = curve.get_attribute("d")
    explorer.locator("input[type=range]").first.focus()
    page.keyboard.press("ArrowLeft")  # the notebook's own keys must not take it (widgetRoot in web/base.js)
    assert curve.get_attribute("d") != before
    explorer.screenshot(path=str(SHOTS / "ch03-explorer-moved.png"))
    takeaways = page.locator(".jp-MarkdownCell", has_text="Key takeaways").first
    takeaways.scroll_into_view_if_needed()
    assert re.search(r"\d+% for", takeaways.inner_text())  # a tip admonition, its number filled in
    takeaways.locator("aside, .admonition").first.screenshot(path=str(SHOTS / "ch03-takeaways-admonition.png"))

    # a reader adds a training cell at the end and runs it: a progress bar with time left
    page.evaluate("""(source) => { const nb = window.jupyterapp.shell.currentWidget.content;
        nb.model.sharedModel.insertCell(nb.model.cells.length, {cell_type: 'code', source});
        nb.activeCellIndex = nb.model.cells.length - 1; }""", TRAINING_CELL)
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-cell'); }")  # not awaited
    bar = page.locator(".jp-Cell").last.locator(".widget-hprogress")
    bar.wait_for(timeout=120_000)
    cell = page.locator(".jp-Cell").last
    cell.scroll_into_view_if_needed()
    page.wait_for_function("(el) => /<\\d+:\\d+/.test(el.innerText)", arg=cell.element_handle(), timeout=60_000)
    cell.screenshot(path=str(SHOTS / "training-progress-bar.png"))
    page.wait_for_function("(el) => /trained in \\d+ s/.test(el.innerText)", arg=cell.element_handle(),
                           timeout=300_000)
    _save(page, lab)

    changed = sorted(line[3:] for line in _git(lab["repo"], "status", "--porcelain").splitlines())
    assert changed == [f"{CH3}.ipynb", f"{CH3}.md"]
    md_diff = _git(lab["repo"], "diff", "--unified=0", f"{CH3}.md")
    added = [line[1:] for line in md_diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    removed = [line for line in md_diff.splitlines() if line.startswith("-") and not line.startswith("---")]
    assert removed == []
    assert "\n".join(added).strip() == f"```{{code-cell}} ipython3\n{TRAINING_CELL}\n```".strip()
    assert "{glue:text}" in (lab["repo"] / f"{CH3}.md").read_text()  # the roles went back to the book's form
    assert page.errors == []
