"""The HTML report in real headless Chromium (Debian's, through Playwright, as tests/e2e does): hostile
names are shown as text and run nothing; the charts draw offline; the PDF reads back with pdftotext."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess

import pytest

from flowscope.report import build_content, write_report
from flowscope.store import Store
from tests.e2e.helpers import ARGS, ARTIFACTS, CHROMIUM
from tests.report.helpers import END, HOSTILE

pytestmark = pytest.mark.slow   # a browser per test

SINCE = END - dt.timedelta(days=7)


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
    page.goto(out.as_uri(), wait_until="load")
    page.wait_for_function("document.querySelectorAll('.chart .main-svg').length >= 4", timeout=30_000)
    assert page.evaluate("window.__pwned") is None and not dialogs and not errors
    text = page.inner_text("body")
    for name in (HOSTILE["orders"], HOSTILE["ChargeCard"], HOSTILE["invoices"], HOSTILE["Get_invoice"]):
        assert name in text, name                      # shown as the text it is
    assert page.locator("img").count() == 0 and page.locator("a[href^='http://evil']").count() == 0
    assert page.locator("script").count() == page.locator("script[nonce]").count()
    labels = " ".join(page.locator(".chart text").all_text_contents())
    assert "ChargeCard" in labels                      # chart labels drawn, escaped, as text
    assert [u for u in requests if not u.startswith("file://")] == []     # opened offline
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report-hostile.png"), full_page=True)
    context.close()


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is not installed")
def test_a_cdn_report_opened_offline_says_its_charts_are_not_drawn(hostile_content, browser, tmp_path):
    """`--plotly cdn` opened where cdn.plot.ly cannot be reached left blank spaces where the charts go;
    each now says why, and a report that loads plotly.js shows the charts and not the note."""
    from flowscope.report.html import NOT_DRAWN, render_html

    for mode in ("cdn", "inline"):
        out = tmp_path / f"{mode}.html"
        out.write_text(render_html(hostile_content, plotly=mode), encoding="utf-8")
        context = browser.new_context()
        context.route("**/*", lambda route: route.abort() if not route.request.url.startswith("file://")
                      else route.continue_())
        page = context.new_page()
        page.goto(out.as_uri(), wait_until="load")
        charts = page.locator(".chart")
        assert charts.count() >= 4
        notes = [charts.nth(i).inner_text() for i in range(charts.count())]
        if mode == "cdn":
            assert all(n.strip() == NOT_DRAWN for n in notes), notes
            assert page.locator(".chart .main-svg").count() == 0
        else:
            page.wait_for_function("document.querySelectorAll('.chart .main-svg').length >= 4", timeout=30_000)
            assert not any(NOT_DRAWN in n for n in notes)
        context.close()


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
