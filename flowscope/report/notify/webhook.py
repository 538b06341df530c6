"""A generic JSON webhook: `Message.to_dict()` as the body (values raw: JSON carries text as data;
the receiver escapes for wherever it shows them)."""

from __future__ import annotations

from typing import Any

from flowscope.report.notify.message import Message


def payload(message: Message) -> dict[str, Any]:
    return message.to_dict()
