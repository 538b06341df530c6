"""The HTML report in real headless Chromium (Debian's, through Playwright, as tests/e2e does): hostile
names are shown as text and run nothing; the charts draw offline; the PDF reads back with pdftotext."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import shutil
import subprocess

import pytest

from flowscope.report import build_content, write_report
from flowscope.report.vega import DRAWN_ATTR
from flowscope.store import Store
from tests.e2e.helpers import ARGS, ARTIFACTS, CHROMIUM
from tests.report.helpers import END, HOSTILE

pytestmark = pytest.mark.slow   # a browser per test

SINCE = END - dt.timedelta(days=7)
DRAWN = f"document.querySelectorAll('.chart[{DRAWN_ATTR}]').length >= 4"


@pytest.fixture(scope="module")
def hostile_content(hostile_store):
    return build_content(Store.open(hostile_store), since=SINCE, until=END, now=END)


@pytest.fixture()
def browser():   # per test: the PDF writer starts its own Playwright, which cannot run inside another
    sync_api = pytest.importorskip("playwright.sync_api")
    if not shutil.which(CHROMIUM) and not CHROMIUM.startswith("/"):
        pytest.skip("chromium is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def test_hostile_names_are_text_and_no_script_of_theirs_runs(hostile_content, browser, tmp_path):
    out = tmp_path / "report.html"
    write_report(hostile_content, "html", out)
    context = browser.new_context()
    requests: list[str] = []
    context.on("request", lambda r: requests.append(r.url))
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    # a script the page's policy refused (Vega compiling an expression with eval) is said on the console, and
    # so is what Vega warns of (a spec it read otherwise than written)
    page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
    page.goto(out.as_uri(), wait_until="load")
    page.wait_for_function(DRAWN, timeout=30_000)
    assert page.evaluate("window.__pwned") is None and not dialogs and not errors, errors
    text = page.inner_text("body")
    for name in (HOSTILE["orders"], HOSTILE["ChargeCard"], HOSTILE["invoices"], HOSTILE["Get_invoice"]):
        assert name in text, name                      # shown as the text it is
    assert page.locator("img").count() == 0 and page.locator("a[href^='http://evil']").count() == 0
    # every script that runs is the page's own (nonce'd); the charts' specs are data blocks, never run
    assert page.locator('script:not([type="application/json"])').count() == page.locator("script[nonce]").count()
    assert page.locator('script[type="application/json"]').count() == page.locator(".chart").count()
    labels = " ".join(page.locator(".chart svg text").all_text_contents())
    assert "ChargeCard" in labels                      # chart labels drawn as text
    assert page.locator(".chart svg a, .chart svg foreignObject").count() == 0
    ticks = [t for t in page.locator("#chart-severity .role-axis-label text").all_text_contents() if t.isdigit()]
    assert ticks and len(ticks) == len(set(ticks)), ticks      # three findings' axis read "0 1 1 2 2"
    assert [u for u in requests if not u.startswith("file://")] == []     # opened offline
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report-hostile.png"), full_page=True)
    context.close()


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is not installed")
def test_a_cdn_report_opened_offline_says_its_charts_are_not_drawn(hostile_content, browser, tmp_path, monkeypatch):
    """`--charts cdn` opened where the CDN cannot be reached left blank spaces where the charts go; each
    now says why. Where the CDN answers with the bytes the page's integrity hashes name (served here from the
    inlined bundle, no network, the hashes made its own), and inlined, the charts are drawn and the note is
    gone. Where it answers with other bytes than the pinned files' (a compromised CDN), Chromium refuses
    them: nothing of theirs runs and the charts keep their note."""
    from importlib.metadata import version

    from flowscope.report import vega
    from flowscope.report.html import render_html
    from flowscope.report.vega import NOT_DRAWN, cdn_scripts, inline_libraries

    pinned = cdn_scripts()
    served = {pinned[0].url: inline_libraries()}     # the bundle holds all three: the others are empty
    matching = tuple(dataclasses.replace(s, integrity=_sri(served.get(s.url, ""))) for s in pinned)

    def cdn(route):
        url = route.request.url
        if url.startswith("file://"):
            return route.continue_()
        if not answering or not url.startswith(vega_cdn):
            return route.abort()
        fetched.append(url)
        return route.fulfill(status=200, content_type="application/javascript", body=served.get(url, ""),
                             headers={"Access-Control-Allow-Origin": "*"})     # jsDelivr's: a crossorigin load

    vega_cdn = "https://cdn.jsdelivr.net/npm/"
    for mode, answering, files in (("cdn", False, pinned), ("cdn", True, matching), ("cdn", True, pinned),
                                   ("inline", False, pinned)):
        monkeypatch.setitem(vega.CDN_FILES, version("vl-convert-python"), files)
        out = tmp_path / f"{mode}.html"
        out.write_text(render_html(hostile_content, charts=mode), encoding="utf-8")
        context = browser.new_context()
        context.route("**/*", cdn)
        page = context.new_page()
        fetched: list[str] = []
        console: list[str] = []
        page.on("console", lambda m, said=console: said.append(m.text))
        page.goto(out.as_uri(), wait_until="load")
        charts = page.locator(".chart")
        assert charts.count() >= 4
        drawn = mode == "inline" or (answering and files == matching)
        if not drawn:
            notes = [charts.nth(i).inner_text() for i in range(charts.count())]
            assert all(n.strip() == NOT_DRAWN for n in notes), notes
            assert page.locator(".chart svg").count() == 0 and page.evaluate("window.vega") is None
        else:
            page.wait_for_function(DRAWN, timeout=30_000)
            assert NOT_DRAWN not in page.inner_text("body")
        if answering:         # served, and then run or refused by its hash
            assert fetched == [s.url for s in pinned], fetched
            refused = [m for m in console if "integrity" in m]
            assert len(refused) == (0 if drawn else 3), console
        context.close()


def _sri(body: str) -> str:
    """The Subresource Integrity value of a served text (its UTF-8 bytes)."""
    return "sha384-" + base64.b64encode(hashlib.sha384(body.encode("utf-8")).digest()).decode()


def test_pdf_holds_the_report_on_pages(hostile_content, tmp_path):
    out = tmp_path / "report.pdf"
    write_report(hostile_content, "pdf", out)
    assert out.read_bytes().startswith(b"%PDF")
    text = subprocess.run(["pdftotext", "-layout", str(out), "-"], capture_output=True, text=True,
                          check=True).stdout
    for words in ("Summary per cloud", "Cost and failure trends", "Findings", "Top costly steps",
                  "Collection health", "The last collection failed"):
        assert words in text, words
    flat = " ".join(text.split())
    assert "<script>window.__pwned" in flat              # the name, printed as text
    pages = subprocess.run(["pdfinfo", str(out)], capture_output=True, text=True, check=True).stdout
    assert int(next(line.split()[-1] for line in pages.splitlines() if line.startswith("Pages:"))) >= 2


def test_a_chart_vega_cannot_draw_fails_the_pdf_at_once(tmp_path):
    """The printer waited for every chart to say it was drawn: one Vega refused left it waiting a minute, then
    "Chromium could not print". It now says Vega's error, as soon as every chart has answered."""
    import time

    from flowscope.report import vega
    from flowscope.report.pdf import RENDER_TIMEOUT_MS, PdfError, html_to_pdf

    page = (f"<html><head><script>{vega.inline_libraries()}</script></head><body>"
            f"{vega.chart_html({'mark': 'no-such-mark', 'data': {'values': []}}, 'c1')}"
            f"<script>{vega.draw_script()}</script></body></html>")
    began = time.monotonic()
    with pytest.raises(PdfError, match="a chart could not be drawn: .*Error"):
        html_to_pdf(page, tmp_path / "r.pdf", charts=1)
    assert time.monotonic() - began < RENDER_TIMEOUT_MS / 1000 / 2 and not (tmp_path / "r.pdf").exists()
