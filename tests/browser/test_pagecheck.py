"""The page checker itself must catch what it claims to catch: a CDN reference, a broken image."""

from __future__ import annotations

from pagecheck import check_page, is_loopback, serve

CLEAN = "<html><body><p>plain page</p></body></html>"
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
