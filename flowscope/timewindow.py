"""Parse the time windows users type: '7d', '24h', '90m', '2w', or an ISO 8601 date/time.

Every time is checked against the range the engines can hold: pandas keeps nanoseconds in 64 bits
(years 1677..2262), so a window edge like 9999-12-31 would overflow deep inside an analysis.
Refusing it here gives the user one clear line instead of a traceback.
"""

from __future__ import annotations

import datetime as dt
import re

from flowscope.model import UTC, utc

_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

EARLIEST = dt.datetime(1970, 1, 1, tzinfo=UTC)
LATEST = dt.datetime(2200, 1, 1, tzinfo=UTC)
"""Window edges outside [EARLIEST, LATEST] are refused. Both lie well inside
pandas.Timestamp.min..max, with room for the analyses' own arithmetic: the previous window of
the widest window (1970 .. 2200) still starts after 1677. No cloud history predates the epoch."""

_HINT = "use a duration like 7d, 24h, 30m, 2w or an ISO date like 2026-11-01"


def parse_since(value: str | dt.datetime | dt.date | None, now: dt.datetime | None = None) -> dt.datetime | None:
    """A start time: relative to `now` ('7d') or absolute ('2026-11-01', '2026-11-01T10:00Z').

    Raises ValueError, naming the value, for text it cannot read or a time outside EARLIEST..LATEST (inclusive).
    """
    if value is None or value == "":
        return None
    out_of_range = (f"time {value!r} is out of range: times from {EARLIEST.date()} to "
                    f"{LATEST.date()} are supported")
    try:
        parsed = _parse(value, now)
    except OverflowError:
        raise ValueError(out_of_range) from None
    except ValueError:
        raise ValueError(f"cannot read time {value!r}: {_HINT}") from None
    if not EARLIEST <= parsed <= LATEST:
        raise ValueError(out_of_range)
    return parsed


def parse_window(since: str | dt.datetime | dt.date | None, until: str | dt.datetime | dt.date | None,
                 now: dt.datetime | None = None) -> tuple[dt.datetime | None, dt.datetime | None]:
    """(start, end) of a window: `until` read first (relative to `now`), then a relative `since` ('7d')
    counted back from it, else from `now`: `--since 7d --until 2026-03-31` is the 7 days before 31 March
    in analyze, report, run and the notebook API alike."""
    end = parse_since(until, now)
    return parse_since(since, end or now), end


def check_order(start: dt.datetime | None, end: dt.datetime | None) -> None:
    """A window whose start is not before its end holds nothing by construction: a ValueError, not an
    empty answer (the analyses, the notebook API and the commands say it in these words)."""
    if start is not None and end is not None and start >= end:
        raise ValueError(f"the window is empty: since {start.isoformat()} is not before until {end.isoformat()}")


def _parse(value: str | dt.datetime | dt.date, now: dt.datetime | None) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return utc(value)  # type: ignore[return-value]
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=UTC)
    if not isinstance(value, str):
        raise ValueError(value)
    match = _RELATIVE.match(value)
    if match:
        amount, unit = float(match.group(1)), _UNITS[match.group(2).lower()]
        return (now or dt.datetime.now(UTC)) - dt.timedelta(**{unit: amount})
    return utc(value)  # type: ignore[return-value]
