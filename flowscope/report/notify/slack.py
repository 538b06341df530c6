"""Slack incoming webhook: `text` (the fallback every client shows) and Block Kit `blocks`.

Slack reads `<...>` as links and mentions (`<!channel>`, `<@U123>`, `<http://x|click>`) and `&` as an
entity: its documented escaping turns `&`, `<` and `>` into `&amp;`, `&lt;`, `&gt;`, so a name can
never mention a channel or forge a link. Every mrkdwn text is `verbatim` too: by default Slack turns
a bare URL into a link and parses "@here" or "#channel" in plain text, so a step named
"@here http://evil.example" pinged the channel with a live link. A report at an http(s) address is
an explicit `<url|open the report>` link, which verbatim text still reads. Cloud text also loses line
breaks and is cut to a length.
"""

from __future__ import annotations

import re
from typing import Any

from flowscope.report.notify.message import Message


def escape(value: Any, limit: int = 300) -> str:
    text = " ".join(str(value).split())[:limit]
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _mrkdwn(text: str) -> dict[str, Any]:
    """A mrkdwn text object Slack reads as written: no link, channel or mention made of plain text."""
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _report(where: str) -> str:
    """The report's place: a link when it is an http(s) address (from the config), else its path."""
    if re.fullmatch(r"https?://[^\s|<>]+", where):
        return f"<{where}|open the report>"
    return f"report: {escape(where)}"


def _finding_line(f: Any) -> str:
    where = " / ".join(escape(v, 80) for v in (f.cloud, f.workflow, f.step) if v)
    state = f" ({f.state})" if f.state else ""
    return f"*{f.severity.upper()}*{state} {escape(f.title)}\n{where} · {f.monthly}"


def payload(message: Message) -> dict[str, Any]:
    """The JSON body Slack's incoming webhook takes."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": message.headline[:150]}},
        {"type": "section", "text": _mrkdwn(escape(message.summary, 1000))},
    ]
    context = [t for t in (message.changes, message.status_text) if t]
    if context:
        blocks.append({"type": "context", "elements": [_mrkdwn(escape(t, 1000)) for t in context]})
    for f in message.findings:
        blocks.append({"type": "section", "text": _mrkdwn(_finding_line(f))})
    if message.more:
        blocks.append({"type": "context", "elements": [_mrkdwn(f"and {message.more} more in the report")]})
    for f in message.resolved:
        blocks.append({"type": "section", "text": _mrkdwn(_finding_line(f))})
    if message.resolved_more_ids:
        blocks.append({"type": "context", "elements": [
            _mrkdwn(f"and {len(message.resolved_more_ids)} more resolved")]})
    if message.report:
        blocks.append({"type": "context", "elements": [_mrkdwn(_report(message.report))]})
    return {"text": escape(message.headline), "blocks": blocks}
