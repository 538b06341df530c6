"""Microsoft Teams workflow webhook ("Post to a channel when a webhook request is received"): a
message with one Adaptive Card attachment (`application/vnd.microsoft.card.adaptive`).

TextBlocks render a Markdown subset and no HTML: cloud text gets a backslash before the characters
that make a link, emphasis or code anywhere, and before what starts a list, heading or quote at its
start (no forged link, emphasis or list); `<script>` stays text, and a mention needs an explicit
`msteams.entities` entry, which a card built here never has. Nothing else is escaped: Teams' mobile
clients show escapes as backslashes (microsoft/AdaptiveCards#5590), so a path read
with a backslash before each dot and dash. A report at an http(s) address is a button (Action.OpenUrl,
`message.report_address`), not text.

A bare address needs no Markdown to be a link where the client (or the phone under it) makes links of
addresses in text, as Teams' mobile clients do (`unlinked`): cloud text holds no host, scheme or e-mail
domain a linkifier reads, its dots and "://" replaced by look-alikes. Teams documents no switch for
this (Slack's `verbatim` is one), so which clients link what is not certain; the look-alikes hold either way.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

from flowscope.report.notify.message import Message, MessageFinding, report_address
from flowscope.textsafety import one_line

CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
_INLINE = re.compile(r"([\\`*_\[\]~])")
"""What makes markup anywhere in a line: a link or image needs its brackets (parentheses alone make
nothing, and "finding\\(s\\)" read so on a phone), emphasis, code, strike-through, and the backslash."""
_LEADING = re.compile(r"^([#>+\-]|\d+(?=[.)]))")
_HOST_DOT = re.compile(r"(?<=[^\W_])\.(?=[^\W_])")
"""A dot between two letters or digits: what joins a host's names ("evil.example", "www.x", "10.0.0.1")."""
DOT, COLON = "\u2024", "\u2236"
"""ONE DOT LEADER and RATIO: they look like '.' and ':' and no linkifier reads them as a host's dot or a
scheme's colon (Android's Patterns.WEB_URL and linkify-it need a '.' between a host's names)."""


def unlinked(text: str) -> str:
    """`text` as it reads, with no address a client could make a link of: each dot between two letters or
    digits a `DOT`, each "://" "`COLON`//". A bare "https://evil.example/x", "www.evil.example" or
    "ops@evil.example" in a step's name or an error text was a live link in the alert on a phone."""
    return _HOST_DOT.sub(DOT, text.replace("://", COLON + "//"))


def escape(value: Any, limit: int = 300) -> str:
    """Cloud text as one line of a TextBlock that renders as written and links nothing (`_markdown`,
    then `unlinked`)."""
    return unlinked(_markdown(value, limit))


def _markdown(value: Any, limit: int = 300) -> str:
    """Text as one line of a TextBlock that renders as written (`_INLINE` anywhere, `_LEADING` at its
    start: "1. x" would be a list, "# x" a heading), without escape sequences, control characters
    and bidi controls (`textsafety.terminal_text`: "invoice<U+202E>gnp.exe" read "invoiceexe.png")."""
    text = _INLINE.sub(r"\\\1", one_line(value)[:limit])
    match = _LEADING.match(text)
    if match is None:
        return text
    if match.group(1)[0].isdigit():                 # "12. x", "12) x": the dot or parenthesis after the number
        return text[:match.end()] + "\\" + text[match.end():]
    return "\\" + text


def _block(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **extra}


def _finding(f: MessageFinding) -> dict[str, Any]:
    where = " / ".join(escape(v, 80) for v in (f.cloud, f.workflow, f.step) if v)
    return {"type": "Container", "separator": True, "items": [
        _block(f"**{f.severity.upper()}**{' (' + f.state + ')' if f.state else ''} {escape(f.title)}"),
        {"type": "FactSet", "facts": [{"title": "where", "value": where or "-"},
                                      {"title": "monthly", "value": escape(f.monthly)},
                                      {"title": "id", "value": f.id}]}]}


def card(message: Message) -> dict[str, Any]:
    """The Adaptive Card (schema 1.4, what Teams renders)."""
    body: list[dict[str, Any]] = [_block(escape(message.headline), size="Medium", weight="Bolder"),
                                  _block(escape(message.summary, 1000))]
    for text in (message.changes, message.status_text):
        if text:
            body.append(_block(escape(text, 1000), isSubtle=True))
    body += [_finding(f) for f in message.findings]
    if message.more:
        body.append(_block(f"and {message.more} more in the report", isSubtle=True))
    body += [_finding(f) for f in message.resolved]
    if message.resolved_more_ids:
        body.append(_block(f"and {len(message.resolved_more_ids)} more resolved", isSubtle=True))
    doc: dict[str, Any] = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
                           "version": "1.4", "body": body}
    url = report_address(message.report) if message.report else None
    if url is not None:
        doc["actions"] = [{"type": "Action.OpenUrl", "title": "Open the report", "url": url}]
    elif message.report:
        body.append(_block(f"report: {_markdown(message.report)}", isSubtle=True))   # a path, copied as written
    return doc


def payload(message: Message) -> dict[str, Any]:
    """The JSON body a Teams workflow webhook takes: a message with the card as its attachment, at most
    MAX_BYTES: listed findings (the resolved ones first) are counted instead until it fits."""
    while True:
        body = {"type": "message", "attachments": [{"contentType": CONTENT_TYPE, "contentUrl": None,
                                                    "content": card(message)}]}
        if len(json.dumps(body).encode()) <= MAX_BYTES or not (message.findings or message.resolved):
            return body
        message = _shorter(message)


MAX_BYTES = 27_000
"""Teams refuses a message over 28 KB: a card of ten findings with long names, every '_' escaped, was
refused on every run. Kept under it with room for the envelope Teams adds."""


def _shorter(message: Message) -> Message:
    """The message with its last listed finding counted instead (a resolved one first): still told."""
    if message.resolved:
        last = message.resolved[-1]
        return dataclasses.replace(message, resolved=message.resolved[:-1],
                                   resolved_more_ids=(last.id, *message.resolved_more_ids))
    last = message.findings[-1]
    return dataclasses.replace(message, findings=message.findings[:-1], more=message.more + 1,
                               more_ids=(last.id, *message.more_ids))
