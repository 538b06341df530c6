"""A report's title is the user's own text, often a variable a scheduler fills (`--title "$TITLE"`), and the
notifications carried it as it came: Slack's header block held it unescaped (`<!channel>` and
`<http://x|y>` as written, Slack asks `&`, `<` and `>` escaped in every text object), its line breaks and
escape sequences went into the Slack header and the e-mail's first line, and its escaping could take the
header past Slack's 150 characters. Every channel now treats the title as it treats cloud text."""

from __future__ import annotations

import json

import pytest

from flowscope.report.notify import email, slack, teams
from flowscope.report.notify.message import Message

HOSTILE_TITLE = "<!channel> @here <http://evil.example|click> & co\nBcc: x@evil.example \x1b[31mred\u202e"


def _message(title: str) -> Message:
    return Message(title=title, summary="s", status="ok", status_text=None, changes=None, counts={})


def test_slack_header_escapes_the_title_on_one_line():
    header = slack.payload(_message(HOSTILE_TITLE))["blocks"][0]["text"]
    assert header["type"] == "plain_text" and header.get("emoji") is False
    text = header["text"]
    for bad in ("<!channel>", "<http", "\n", "\x1b", "\u202e"):
        assert bad not in text, (bad, text)
    assert text.startswith("&lt;!channel&gt; @here &lt;http://evil.example|click&gt; &amp; co Bcc:"), text
    assert "<" not in json.dumps(slack.payload(_message(HOSTILE_TITLE))).replace("\\u", "")


@pytest.mark.parametrize("title", ["<" * 200, "a&" * 80, "x" * 149 + "<>"])
def test_slack_header_fits_its_150_characters_once_escaped(title):
    """Slack counts its limits on the escaped text: a title of angle brackets fit as written, not escaped;
    the title is shortened, never cut inside an entity, and the counts stay whole."""
    text = slack.payload(_message(title))["blocks"][0]["text"]["text"]
    assert len(text) <= slack.HEADER_CHARS, len(text)
    assert text.endswith(": 0 finding(s) at or above high to look at"), text
    head = text.split("…")[0]
    assert head.count("&") == head.count(";"), head


def test_teams_and_email_keep_the_title_on_one_line():
    card = teams.card(_message(HOSTILE_TITLE))
    headline = card["body"][0]["text"]
    assert "\n" not in headline and "\x1b" not in headline and "\u202e" not in headline, headline
    mail = email.body(_message(HOSTILE_TITLE))
    first, second = mail.splitlines()[:2]
    assert first.startswith("<!channel> @here") and "Bcc: x@evil.example" in first, first
    assert second == "" and "\x1b" not in mail and "\u202e" not in mail
