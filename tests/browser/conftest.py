from __future__ import annotations

import os
from pathlib import Path

import pytest
from pagecheck import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[2]
# HANDBOOK_BOOK_HTML checks another build (e.g. a scratch build of one chapter).
BOOK = Path(os.environ.get("HANDBOOK_BOOK_HTML", ROOT / "_build" / "html"))


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: run tools/ensure_chromium.sh or set CHROMIUM")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()
