"""Open one page of the built book in headless Chromium and report what a reader would hit.

A page passes when it loads only from the server it came from (no CDN, nothing past loopback),
no request fails, no script throws, every image decodes, math is typeset by the vendored
MathJax where the page has math, and widgets are drawn where the page embeds widget state.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Flags that keep Chromium from phoning home on a closed network (its own updates, sync, ...).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
]
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
LOCAL_SCHEMES = {"data", "blob", "about"}
WIDGET_STATE_MIME = "application/vnd.jupyter.widget-state+json"


@dataclass
class PageReport:
    url: str
    external_requests: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    broken_images: list[str] = field(default_factory=list)
    has_math: bool = False
    math_rendered: int = 0
    has_widgets: bool = False
    widgets_rendered: int = 0

    def problems(self) -> list[str]:
        found = [f"request left loopback: {u}" for u in self.external_requests]
        found += [f"request failed: {u}" for u in self.failed_requests]
        found += [f"page error: {e}" for e in self.page_errors]
        found += [f"image did not load: {src}" for src in self.broken_images]
        if self.has_math and self.math_rendered == 0:
            found.append("page has math but MathJax rendered none")
        if self.has_widgets and self.widgets_rendered == 0:
            found.append("page embeds widget state but no widget was drawn")
        return found


def is_loopback(url: str) -> bool:
    parsed = urlparse(url)
    if parsed.scheme in LOCAL_SCHEMES:
        return True
    return parsed.hostname in LOOPBACK_HOSTS


@contextlib.contextmanager
def serve(directory: Path):
    """Serve ``directory`` on 127.0.0.1 at a free port for the duration of the block."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output readable
        pass


def check_page(browser, url: str, screenshot: Path | None = None, settle_ms: int = 4000) -> PageReport:
    """Load ``url`` in a fresh browser context and collect a :class:`PageReport`."""
    report = PageReport(url=url)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()

    def route(route_obj):
        request_url = route_obj.request.url
        if is_loopback(request_url):
            route_obj.continue_()
        else:  # record it and never let it out
            report.external_requests.append(request_url)
            route_obj.abort()

    page.route("**/*", route)
    page.on("requestfailed", lambda r: None if not is_loopback(r.url) else report.failed_requests.append(
        f"{r.url} ({r.failure})"))
    page.on("response", lambda r: report.failed_requests.append(f"{r.url} (HTTP {r.status})")
            if r.status >= 400 else None)
    page.on("pageerror", lambda err: report.page_errors.append(str(err)))
    try:
        page.goto(url, wait_until="load", timeout=60_000)
        page.wait_for_load_state("networkidle", timeout=60_000)  # also follows a redirect page
        html = page.content()
        report.has_math = 'class="math' in html
        report.has_widgets = WIDGET_STATE_MIME in html
        if report.has_math:
            with contextlib.suppress(Exception):
                page.wait_for_selector("mjx-container", timeout=settle_ms * 3)
        if report.has_widgets:
            with contextlib.suppress(Exception):
                page.wait_for_selector(".jupyter-widgets, .widget-inline-hbox, .widget-box", timeout=settle_ms * 3)
        page.wait_for_timeout(300)
        report.math_rendered = page.locator("mjx-container").count()
        report.widgets_rendered = page.locator(".jupyter-widgets").count()
        report.broken_images = page.evaluate(
            "Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"
        )
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
    finally:
        context.close()
    return report
