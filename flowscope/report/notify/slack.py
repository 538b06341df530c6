"""Slack incoming webhook: `text` (the fallback every client shows) and Block Kit `blocks`.

Slack reads `<...>` as links and mentions (`<!channel>`, `<@U123>`, `<http://x|click>`) and `&` as an
entity: its documented escaping turns `&`, `<` and `>` into `&amp;`, `&lt;`, `&gt;`, so a name can
never mention a channel or forge a link. Every mrkdwn text is `verbatim` too: by default Slack turns
a bare URL into a link and parses "@here" or "#channel" in plain text, so a step named
"@here http://evil.example" pinged the channel with a live link. A report at an http(s) address is
an explicit `<url|open the report>` link, which verbatim text still reads. Cloud text also loses line
breaks and is cut to a length.

mrkdwn has no escape for `*`, `_`, `~` or a backtick (Slack documents escapes for `&`, `<`, `>` only),
so a step named "*urgent* _pay_now_" came out bold and italic, and one backtick made the rest of its
line code. Cloud text (titles, names, error texts) and a report's path on disk are therefore `plain_text`
objects, which Slack shows unformatted (`emoji` false: ":fire:" stays as written), escaped as Slack asks
of every text object; mrkdwn holds flowscope's own words only (the severity in bold, counts, the link).
A finding is a section whose mrkdwn text is its severity, state and cost, and whose two `fields` are its
title and where it is.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from flowscope.report.notify.message import Message, report_address
from flowscope.textsafety import one_line

HEADER_CHARS = 150
"""The most a header block's text may hold (Block Kit)."""


def escape(value: Any, limit: int = 300) -> str:
    """One line of cloud text with `&`, `<`, `>` escaped, at most `limit` characters as sent (Slack counts
    its limits on the escaped text: cut before escaping, an error text of angle brackets grew fourfold
    past 3,000 and Slack refused the whole message), never cut inside an entity; without escape
    sequences, control characters and bidi controls (`textsafety.terminal_text`: a right-to-left
    override made "invoice<U+202E>gnp.exe" read "invoiceexe.png")."""
    text = one_line(value)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if len(text) <= limit:
        return text
    text = text[:limit]
    amp = text.rfind("&")
    return text[:amp] if amp != -1 and ";" not in text[amp:] else text


def _mrkdwn(text: str) -> dict[str, Any]:
    """A mrkdwn text object Slack reads as written: no link, channel or mention made of plain text."""
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _plain(text: str) -> dict[str, Any]:
    """A plain_text object: shown as written, no mrkdwn (already `escape`d; never empty, as Slack requires)."""
    return {"type": "plain_text", "text": text or "-", "emoji": False}


def _report(where: str) -> dict[str, Any]:
    """The report's place: a link when it is an address a link can open (`report_address`, Teams' rule
    too: percent-encoded once, so no `|`, `<`, `>` or space is left in it; a SharePoint folder's space made
    a line of text here and a button in Teams), its `&` escaped as Slack asks; else its path as text."""
    url = report_address(where)
    if url is not None:
        return _mrkdwn(f"<{url.replace('&', '&amp;')}|open the report>")
    return _plain(f"report: {escape(where)}")


def _finding(f: Any) -> dict[str, Any]:
    """A section: the severity, state and cost (flowscope's words, mrkdwn) over the title and the place
    (cloud text, plain_text fields)."""
    where = " / ".join(escape(v, 80) for v in (f.cloud, f.workflow, f.step) if v)
    state = f" ({f.state})" if f.state else ""
    return {"type": "section", "text": _mrkdwn(f"*{f.severity.upper()}*{state} · {f.monthly}"),
            "fields": [_plain(escape(f.title)), _plain(where)]}


def _header(message: Message) -> str:
    """The headline in the header block: its title (the user's own text, often a scheduler's variable) escaped
    and on one line as cloud text is (it went as written: `<!channel>`, a line break, an escape sequence), and
    shortened to fit `HEADER_CHARS` once escaped, never inside an entity, the counts kept whole."""
    whole = dataclasses.replace(message, title=escape(message.title, len(message.title) * 5))
    over = len(whole.headline) - HEADER_CHARS
    if over <= 0:
        return whole.headline
    keep = max(len(whole.title) - over - 1, 1)
    return dataclasses.replace(message, title=escape(message.title, keep).rstrip() + "…").headline[:HEADER_CHARS]


def payload(message: Message) -> dict[str, Any]:
    """The JSON body Slack's incoming webhook takes."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(_header(message))},
        {"type": "section", "text": _mrkdwn(escape(message.summary, 1000))},
    ]
    context = ([_mrkdwn(escape(message.changes, 1000))] if message.changes else []) + \
        ([_plain(escape(message.status_text, 1000))] if message.status_text else [])   # names failed scopes
    if context:
        blocks.append({"type": "context", "elements": context})
    for f in message.findings:
        blocks.append(_finding(f))
    if message.more:
        blocks.append({"type": "context", "elements": [_mrkdwn(f"and {message.more} more in the report")]})
    for f in message.resolved:
        blocks.append(_finding(f))
    if message.resolved_more_ids:
        blocks.append({"type": "context", "elements": [
            _mrkdwn(f"and {len(message.resolved_more_ids)} more resolved")]})
    if message.report:
        blocks.append({"type": "context", "elements": [_report(message.report)]})
    return {"text": escape(message.headline), "blocks": blocks}
