"""Teams' clients make links of some bare addresses in a card's text (its mobile clients do, as Android and
iOS do of any text: prometheus-msteams/prometheus-msteams#134; its desktop and web clients link only
Markdown's `[text](url)`, which `teams.escape` already breaks). A step or error text holding
"https://evil.example/x", "www.evil.example" or "ops@evil.example" could be a live link in an alert that
reads as flowscope's. Cloud text now reaches a card with no host a linkifier can read: the dot of a name
(between two letters or digits) is a one dot leader and the colon of "://" a ratio sign, which look the
same; the report's own path on disk is left as written (it is copied into a shell)."""

from __future__ import annotations

import re

import pytest

from flowscope.report.notify.message import Message
from flowscope.report.notify.teams import card, escape

LINKABLE = re.compile(r"(?i)\b(?:[a-z][a-z0-9+.-]*://|www\.)|[a-z0-9-]\.[a-z]{2,}\b|\b\d{1,3}(?:\.\d{1,3}){3}\b")
"""What a linkifier (Android's Patterns.WEB_URL and EMAIL_ADDRESS, linkify-it, a data detector) reads as the
start of an address: a scheme's "://", "www.", a host's "name.tld", an IPv4 address."""


def _seen(text: str) -> str:
    """What a reader sees: the look-alikes read as the characters they stand for."""
    return text.replace("\u2024", ".").replace("\u2236", ":")


@pytest.mark.parametrize("text", [
    "https://evil.example/x", "go to www.evil.example now", "mail ops@evil.example", "HTTP://EVIL.EXAMPLE",
    "http://10.0.0.1/pay", "ftp://files.evil.example", "orders.v2 failed: see evil.example.com/reset",
])
def test_cloud_text_in_a_card_holds_no_address_a_client_would_link(text):
    shown = escape(text)
    assert not LINKABLE.search(shown), shown
    assert _seen(shown) == text                  # read as written


def test_a_finding_named_like_a_link_is_no_link_and_the_report_path_stays_as_written():
    from flowscope.report.notify.message import MessageFinding

    finding = MessageFinding(id="f1", severity="high", state="new", kind="failure_hotspot",
                             title="step https://evil.example/x fails", cloud="aws",
                             workflow="www.evil.example", step="ops@evil.example", monthly_usd=1.0)
    body = card(Message(title="flowscope", summary="s", status="ok", status_text=None, changes=None, counts={},
                        findings=[finding], report="/srv/reports/flowscope-20261202T1400Z.html"))
    texts = [b.get("text", "") for b in body["body"]] + \
        [i.get("text", "") for b in body["body"] for i in b.get("items", [])] + \
        [f["value"] for b in body["body"] for i in b.get("items", []) for f in i.get("facts", [])]
    assert not [t for t in texts if "evil" in t and LINKABLE.search(t)], texts
    assert body["body"][-1]["text"] == "report: /srv/reports/flowscope-20261202T1400Z.html"
