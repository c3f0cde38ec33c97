"""The page checker itself must catch what it claims to catch: a CDN reference, a broken image,
a script error, and the accessibility failures axe-core and the keyboard check stand for."""

from __future__ import annotations

from pagecheck import AxeViolation, check_page, is_loopback, serve

PIXEL = "data:image/gif;base64,R0lGODlhAQABAAAAACH5BAEKAAEALAAAAAABAAEAAAICTAEAOw=="
CLEAN = '<html lang="en"><head><title>clean</title></head><body><main><p>plain page</p></main></body></html>'
# An image without a text alternative (image-alt, critical) and grey #aaa text on white (2.3:1,
# color-contrast, serious): the two kinds of failure the book had.
INACCESSIBLE = (
    '<html lang="en"><head><title>planted</title></head><body><main>'
    f'<img id="plot" src="{PIXEL}">'
    '<p id="faint" style="color:#aaaaaa;background:#ffffff">low-contrast words</p>'
    "</main></body></html>"
)
# What docutils writes for a figure without a text alternative: its file name.
FILE_NAME_ALT = (
    '<html lang="en"><head><title>alt</title></head><body><main>'
    f'<img src="{PIXEL}" alt="../_images/3f2a9c.png"><img src="{PIXEL}" alt="">'
    "</main></body></html>"
)
# A slider with a name that ignores the keyboard, and one without a name that moves.
SLIDERS = (
    '<html lang="en"><head><title>sliders</title></head><body><main>'
    '<div id="deaf" role="slider" tabindex="0" aria-label="deaf slider" aria-valuemin="0" aria-valuemax="9" '
    'aria-valuenow="3">3</div>'
    '<div id="nameless" role="slider" tabindex="0" aria-valuemin="0" aria-valuemax="9" aria-valuenow="3">3</div>'
    "<script>document.getElementById('nameless').addEventListener('keydown', e => {"
    "  const v = +e.target.getAttribute('aria-valuenow') + (e.key === 'ArrowRight' ? 1 : -1);"
    "  e.target.setAttribute('aria-valuenow', v); e.target.textContent = v; });</script>"
    "</main></body></html>"
)
WITH_CDN = '<html><head><script src="https://cdn.jsdelivr.net/npm/x@1/x.js"></script></head><body>x</body></html>'
BROKEN_IMG = '<html><body><img src="missing.png"></body></html>'
THROWS = "<html><body><script>throw new Error('boom')</script></body></html>"


def _check(browser, tmp_path, html):
    (tmp_path / "page.html").write_text(html)
    with serve(tmp_path) as base:
        return check_page(browser, f"{base}/page.html", settle_ms=200)


def test_is_loopback():
    assert is_loopback("http://127.0.0.1:8000/a.js")
    assert is_loopback("data:image/png;base64,AAAA")
    assert not is_loopback("https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js")


def test_clean_page_has_no_problems(browser, tmp_path):
    assert _check(browser, tmp_path, CLEAN).problems() == []


def test_cdn_reference_is_reported(browser, tmp_path):
    report = _check(browser, tmp_path, WITH_CDN)
    assert any("cdn.jsdelivr.net" in p for p in report.problems())


def test_broken_image_is_reported(browser, tmp_path):
    problems = _check(browser, tmp_path, BROKEN_IMG).problems()
    assert any("missing.png" in p for p in problems)


def test_script_error_is_reported(browser, tmp_path):
    problems = _check(browser, tmp_path, THROWS).problems()
    assert any("boom" in p for p in problems)


def test_accessibility_violations_are_reported(browser, tmp_path):
    report = _check(browser, tmp_path, INACCESSIBLE)
    assert report.axe_ran
    by_rule = {v.rule: v for v in report.violations}
    assert by_rule["image-alt"].impact == "critical" and by_rule["image-alt"].targets == ("#plot",)
    assert by_rule["color-contrast"].impact == "serious" and by_rule["color-contrast"].targets == ("#faint",)
    problems = report.problems()
    assert any("image-alt" in p and "#plot" in p for p in problems)
    assert any("color-contrast" in p and "#faint" in p for p in problems)


def test_file_name_as_alt_text_is_reported(browser, tmp_path):
    problems = _check(browser, tmp_path, FILE_NAME_ALT).problems()
    assert problems == ["image's text alternative is its file name: ../_images/3f2a9c.png"]  # alt="" is fine


def test_sliders_are_checked_by_keyboard_and_after_moving(browser, tmp_path):
    report = _check(browser, tmp_path, SLIDERS)
    problems = report.problems()
    assert "keyboard: deaf slider does not move with the arrow keys" in problems
    assert not any("slider 2" in p for p in report.keyboard_problems)  # the nameless one moves
    states = {v.state for v in report.violations if v.rule == "aria-input-field-name"}
    assert states == {"as loaded", "sliders moved"}


def test_only_serious_and_critical_violations_fail_a_page():
    minor = AxeViolation("some-rule", "minor", "help", ("#x",))
    serious = AxeViolation("other-rule", "serious", "help", ("#y",))
    assert not minor.blocking and serious.blocking
    assert "other-rule" in str(serious) and "#y" in str(serious)
