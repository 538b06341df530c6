"""The PDF report: the HTML report printed by headless Chromium (Playwright, Debian's /usr/bin/chromium).

Why Chromium rather than WeasyPrint with static chart images: the charts are the very Vega-Lite charts
of the HTML report, drawn by Vega as vector SVG, so the PDF matches the HTML page for page with no
second renderer (WeasyPrint runs no JavaScript). The browser runs with the same flags as the browser
tests, with JavaScript for the report's own nonce'd scripts only (the page's Content-Security-Policy),
and the page is loaded from a local file with every network request refused.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from flowscope.extras import install_command
from flowscope.report.vega import DRAWN_ATTR, FAILED_ATTR

CHROMIUM_ENV = "FLOWSCOPE_CHROMIUM"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
"""The flags of tests/e2e/helpers.py ARGS (headless in a container: no sandbox, no GPU, no background traffic)."""
RENDER_TIMEOUT_MS = 60_000


class PdfError(RuntimeError):
    """Chromium or Playwright is missing, or the page could not be printed."""


def chromium_path() -> str:
    """FLOWSCOPE_CHROMIUM, else `chromium` on the PATH (Debian: apt-get install chromium)."""
    path = os.environ.get(CHROMIUM_ENV) or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        raise PdfError("the PDF report needs Chromium: apt-get install chromium (or set FLOWSCOPE_CHROMIUM)")
    return path


def needs_playwright() -> str:
    return f"the PDF report needs Playwright: {install_command('report')}"


def check_printer() -> None:
    """PdfError when a PDF cannot be printed here: no Chromium, FLOWSCOPE_CHROMIUM naming no program this
    user can run, or no Playwright. What `report` and `run` ask before any work (they analysed the
    window and recorded the findings history first, then failed)."""
    from importlib.util import find_spec

    path = chromium_path()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        said = f"{CHROMIUM_ENV} is {path}" if os.environ.get(CHROMIUM_ENV) else f"Chromium at {path}"
        raise PdfError(f"{said}, which is not a program this user can run: the PDF report is printed by Chromium")
    if find_spec("playwright") is None:
        raise PdfError(needs_playwright())


def html_to_pdf(html: str, out: Path, *, charts: int = 0) -> Path:
    """Print an HTML report (its charts' libraries inlined) to `out` as A4 pages, once its `charts` charts are
    drawn."""
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise PdfError(needs_playwright()) from None
    executable = chromium_path()
    with tempfile.TemporaryDirectory(prefix="flowscope-pdf-") as tmp:
        page_file = Path(tmp) / "report.html"
        page_file.write_text(html, encoding="utf-8")
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=executable, args=ARGS)
                try:
                    context = browser.new_context()
                    context.route("http://**/*", lambda route: route.abort())
                    context.route("https://**/*", lambda route: route.abort())
                    page = context.new_page()
                    page.goto(page_file.as_uri(), wait_until="load", timeout=RENDER_TIMEOUT_MS)
                    if charts:
                        page.wait_for_function(
                            f"document.querySelectorAll('.chart[{DRAWN_ATTR}], .chart[{FAILED_ATTR}]').length"
                            f" >= {int(charts)}", timeout=RENDER_TIMEOUT_MS)
                        failed = page.locator(f".chart[{FAILED_ATTR}]")
                        if failed.count():
                            raise PdfError(f"a chart could not be drawn: {failed.first.get_attribute(FAILED_ATTR)}")
                    page.emulate_media(media="print")
                    page.pdf(path=str(out), format="A4", print_background=True, landscape=True,
                             margin={"top": "12mm", "bottom": "12mm", "left": "10mm", "right": "10mm"})
                finally:
                    browser.close()
        except PlaywrightError as exc:
            raise PdfError(f"Chromium could not print the report: {str(exc).splitlines()[0]}") from None
    return out
