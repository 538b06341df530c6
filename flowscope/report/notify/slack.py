"""Slack incoming webhook: `text` (the fallback every client shows) and Block Kit `blocks`.

Slack reads `<...>` as links and mentions (`<!channel>`, `<@U123>`, `<http://x|click>`) and `&` as an
entity: its documented escaping turns `&`, `<` and `>` into `&amp;`, `&lt;`, `&gt;`, so a name can
never mention a channel or forge a link. Cloud text also loses line breaks and is cut to a length.
"""

from __future__ import annotations

from typing import Any

from flowscope.report.notify.message import Message


def escape(value: Any, limit: int = 300) -> str:
    text = " ".join(str(value).split())[:limit]
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _finding_line(f: Any) -> str:
    where = " / ".join(escape(v, 80) for v in (f.cloud, f.workflow, f.step) if v)
    state = f" ({f.state})" if f.state else ""
    return f"*{f.severity.upper()}*{state} {escape(f.title)}\n{where} · {f.monthly}"


def payload(message: Message) -> dict[str, Any]:
    """The JSON body Slack's incoming webhook takes."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": message.headline[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": escape(message.summary, 1000)}},
    ]
    context = [t for t in (message.changes, message.status_text) if t]
    if context:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": escape(t, 1000)}
                                                       for t in context]})
    for f in message.findings:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _finding_line(f)}})
    if message.more:
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": f"and {message.more} more in the report"}]})
    for f in message.resolved:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _finding_line(f)}})
    if message.resolved_more_ids:
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": f"and {len(message.resolved_more_ids)} more resolved"}]})
    if message.report:
        blocks.append({"type": "context",
                       "elements": [{"type": "mrkdwn", "text": f"report: {escape(message.report)}"}]})
    return {"text": escape(message.headline), "blocks": blocks}
