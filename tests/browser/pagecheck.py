"""Open one page of the built book in headless Chromium and report what a reader would hit.

A page passes when it loads only from the server it came from (no CDN, nothing past loopback),
no request fails, no script throws, every image decodes, math is typeset by the vendored
MathJax where the page has math, widgets are drawn where the page embeds widget state, no image's
text alternative is just its file name (docutils' fallback when a figure has none), and axe-core
finds no serious or critical WCAG 2.1 A/AA violation: on the page as loaded and, where the page
has sliders, again after each slider was moved from the keyboard (which must work).

axe-core is vendored from npm (``tools/vendor_assets.py``) and injected by this checker only;
the book's pages never load it.
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
AXE_JS = Path(__file__).resolve().parents[2] / "_vendor" / "axe-core" / "axe.min.js"
AXE_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")
BLOCKING_IMPACTS = ("serious", "critical")
"""A violation with one of these impacts fails the page; "moderate" and "minor" are reported only."""
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


@dataclass(frozen=True)
class AxeViolation:
    """One axe-core rule broken on a page, with the CSS selectors of the offending nodes."""

    rule: str
    impact: str
    help: str
    targets: tuple[str, ...]
    state: str = "as loaded"  # which page state axe saw: "as loaded", "sliders moved"

    @property
    def blocking(self) -> bool:
        return self.impact in BLOCKING_IMPACTS

    def __str__(self) -> str:
        shown = ", ".join(self.targets[:10]) + (" ..." if len(self.targets) > 10 else "")
        return (f"accessibility ({self.impact}) {self.rule}: {self.help}; {len(self.targets)} node(s) "
                f"{self.state}: {shown}")


@dataclass
class PageReport:
    url: str
    external_requests: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    broken_images: list[str] = field(default_factory=list)
    file_name_alts: list[str] = field(default_factory=list)
    has_math: bool = False
    math_rendered: int = 0
    has_widgets: bool = False
    widgets_rendered: int = 0
    axe_ran: bool = False
    axe_error: str = ""
    violations: list[AxeViolation] = field(default_factory=list)
    keyboard_problems: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        found = [f"request left loopback: {u}" for u in self.external_requests]
        found += [f"request failed: {u}" for u in self.failed_requests]
        found += [f"page error: {e}" for e in self.page_errors]
        found += [f"image did not load: {src}" for src in self.broken_images]
        found += [f"image's text alternative is its file name: {alt}" for alt in self.file_name_alts]
        if self.has_math and self.math_rendered == 0:
            found.append("page has math but MathJax rendered none")
        if self.has_widgets and self.widgets_rendered == 0:
            found.append("page embeds widget state but no widget was drawn")
        if not self.axe_ran:
            found.append(f"axe-core did not run: {self.axe_error or 'unknown reason'}")
        found += [str(v) for v in self.violations if v.blocking]
        found += self.keyboard_problems
        return found

    def violation_counts(self) -> dict[str, int]:
        """Nodes per rule (all impacts, all page states): the numbers for a changelog."""
        counts: dict[str, int] = {}
        for v in self.violations:
            counts[v.rule] = counts.get(v.rule, 0) + len(v.targets)
        return counts


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
        report.file_name_alts = page.evaluate(_FILE_NAME_ALTS)
        _check_accessibility(page, report)
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
    finally:
        context.close()
    return report


# alt texts that only name the file (docutils writes the image's URI when a figure has no alt)
_FILE_NAME_ALTS = """Array.from(document.images).map(i => (i.getAttribute('alt') || '').trim())
  .filter(a => /^[^\\s]+\\.(png|jpe?g|gif|svg|webp)$/i.test(a))"""

# Runs axe-core on the whole document with the WCAG 2.0/2.1 A and AA rules; node impacts, not the
# rule's worst impact, so that a rule with one serious and three minor nodes reports each honestly.
_AXE_RUN = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
  const out = [];
  for (const v of result.violations) {
    const byImpact = {};
    for (const n of v.nodes) {
      const impact = n.impact || v.impact || 'unknown';
      (byImpact[impact] = byImpact[impact] || []).push(n.target.map(String).join(' '));
    }
    for (const [impact, targets] of Object.entries(byImpact)) out.push({rule: v.id, impact, help: v.help, targets});
  }
  return out;
}"""


def run_axe(page, state: str = "as loaded") -> list[AxeViolation]:
    """Inject the vendored axe-core (once per page) and return its WCAG A/AA violations."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE_JS))
    found = page.evaluate(_AXE_RUN, list(AXE_TAGS))
    return [AxeViolation(f["rule"], f["impact"], f["help"], tuple(f["targets"]), state) for f in found]


def _slider_value(handle) -> tuple[str | None, str | None]:
    # both: noUiSlider rounds aria-valuenow to one decimal, so a step of 0.01 shows only in the text
    return handle.get_attribute("aria-valuenow"), handle.get_attribute("aria-valuetext")


def move_sliders_by_keyboard(page) -> list[str]:
    """Focus every slider handle and press an arrow key (ArrowLeft if ArrowRight does not move it,
    e.g. at its maximum); return a problem for each handle that takes no focus or does not move."""
    problems = []
    handles = page.locator("[role=slider]")
    for i in range(handles.count()):
        handle = handles.nth(i)
        name = handle.get_attribute("aria-label") or f"slider {i + 1} (no aria-label)"
        handle.focus()
        if not handle.evaluate("h => h.tabIndex >= 0 && document.activeElement === h"):
            problems.append(f"keyboard: {name} cannot be focused with Tab")
            continue
        before = _slider_value(handle)
        for key in ("ArrowRight", "ArrowLeft"):
            page.keyboard.press(key)
            if _slider_value(handle) != before:
                break
        else:
            problems.append(f"keyboard: {name} does not move with the arrow keys")
    return problems


def _check_accessibility(page, report: PageReport) -> None:
    """axe on the page as loaded; where it has sliders, move each from the keyboard and run axe again."""
    if not AXE_JS.exists():
        report.axe_error = f"{AXE_JS} is missing: run `make setup` (tools/vendor_assets.py)"
        return
    try:
        report.violations += run_axe(page)
        report.keyboard_problems += move_sliders_by_keyboard(page)
        if page.locator("[role=slider]").count():
            page.wait_for_timeout(300)
            report.violations += run_axe(page, state="sliders moved")
        report.axe_ran = True
    except Exception as err:  # reported as a page problem, not a crash of the whole run
        report.axe_error = f"{type(err).__name__}: {err}"
