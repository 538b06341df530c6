"""Parse the time windows users type: '7d', '24h', '90m', '2w', or an ISO 8601 date/time."""

from __future__ import annotations

import datetime as dt
import re

from flowscope.model import UTC, utc

_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(value: str | dt.datetime | dt.date | None, now: dt.datetime | None = None) -> dt.datetime | None:
    """A start time: relative to `now` ('7d') or absolute ('2026-11-01', '2026-11-01T10:00Z')."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return utc(value)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=UTC)
    match = _RELATIVE.match(value)
    if match:
        amount, unit = float(match.group(1)), _UNITS[match.group(2).lower()]
        return (now or dt.datetime.now(UTC)) - dt.timedelta(**{unit: amount})
    try:
        return utc(value)
    except ValueError:
        raise ValueError(
            f"cannot read time {value!r}: use a duration like 7d, 24h, 30m, 2w or an ISO date like 2026-11-01"
        ) from None
