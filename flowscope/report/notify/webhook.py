"""A generic JSON webhook: `Message.to_dict()` as the body. Values are data, markup included (JSON carries text
as data; the receiver escapes for wherever it shows it), but without terminal escapes and control characters
(`textsafety.data_text`): the CLI, Slack, Teams and e-mail all take those out, and a receiver relaying the JSON to
a chat or a terminal got them as the cloud wrote them."""

from __future__ import annotations

from typing import Any

from flowscope.report.notify.message import Message
from flowscope.textsafety import data_text


def payload(message: Message) -> dict[str, Any]:
    body: dict[str, Any] = data_text(message.to_dict())
    return body
