"""Parse the time windows users type: '7d', '24h', '90m', '2w', or an ISO 8601 date/time.

Every time is checked against the range the engines can hold: pandas keeps nanoseconds in 64 bits
(years 1677..2262), so a window edge like 9999-12-31 would overflow deep inside an analysis.
Refusing it here gives the user one clear line instead of a traceback.
"""

from __future__ import annotations

import datetime as dt
import math
import re

from flowscope.dialect import CLI, Dialect
from flowscope.model import UTC, utc

_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

EARLIEST = dt.datetime(1970, 1, 1, tzinfo=UTC)
LATEST = dt.datetime(2200, 1, 1, tzinfo=UTC)
"""Window edges outside [EARLIEST, LATEST] are refused. Both lie well inside
pandas.Timestamp.min..max, with room for the analyses' own arithmetic: the previous window of
the widest window (1970 .. 2200) still starts after 1677. No cloud history predates the epoch."""

_HINT = "use a duration like 7d, 24h, 30m, 2w or an ISO date like 2026-11-01"
_BARE_NUMBER = re.compile(r"^\s*[-+]?\d+(?:\.\d+)?\s*$")


def parse_since(value: str | dt.datetime | dt.date | None, now: dt.datetime | None = None) -> dt.datetime | None:
    """A time: relative to `now` ('7d') or absolute ('2026-11-01', '2026-11-01T10:00Z').

    Raises ValueError, naming the value, for text it cannot read, a number without a unit ('30', '2026':
    never epoch milliseconds) or a time outside EARLIEST..LATEST (inclusive). A start: `parse_start`.
    """
    if value is None:
        return None
    if isinstance(value, str) and not value.strip():
        raise ValueError(f"time {value!r} is empty (an unset variable?): {_HINT}")
    out_of_range = (f"time {value!r} is out of range: times from {EARLIEST.date()} to "
                    f"{LATEST.date()} are supported")
    if isinstance(value, str) and _BARE_NUMBER.match(value):
        # '30' or '2026' read as epoch milliseconds were 1970: a number needs its unit
        raise ValueError(f"time {value!r} has no unit: {_HINT}")
    try:
        parsed = _parse(value, now)
    except OverflowError:
        raise ValueError(out_of_range) from None
    except ValueError:
        raise ValueError(f"cannot read time {value!r}: {_HINT}") from None
    if not EARLIEST <= parsed <= LATEST:
        raise ValueError(out_of_range)
    return parsed


def not_blank(value: object, name: str, words: Dialect = CLI) -> None:
    """An empty or blank window edge is a ValueError naming it in the caller's `words`: `--since "$SINCE"`
    with SINCE unset (or `since=""`) read as no edge at all, so a 7-day report silently covered the whole
    store."""
    if isinstance(value, str) and not value.strip():
        raise ValueError(f"{name} is empty{words.unset_variable(name)}: name a time, "
                         f"or {words.omit(name)} for its default; {_HINT}")


def parse_start(value: str | dt.datetime | dt.date | None, now: dt.datetime | None = None, *,
                base: dt.datetime | None = None, words: Dialect = CLI) -> dt.datetime | None:
    """A window's or a sync's start (`parse_since`; a relative one counted back from `base`, default
    `now`), which must not lie after `now`: nothing is known of the future, so a start there (a typo'd
    year) would hold nothing, and would move a sync's watermark past the history it should have read.
    The one rule of every --since (sync, analyze, report, run and the notebook API)."""
    now = now or dt.datetime.now(UTC)
    not_blank(value, "since", words)
    start = parse_since(value, base or now)
    if start is not None and start > now:
        raise ValueError(f"since {value!r} starts in the future ({start:%Y-%m-%d %H:%M} UTC, after now, "
                         f"{now:%Y-%m-%d %H:%M} UTC): {_HINT}")
    return start


def parse_window(since: str | dt.datetime | dt.date | None, until: str | dt.datetime | dt.date | None,
                 now: dt.datetime | None = None,
                 words: Dialect = CLI) -> tuple[dt.datetime | None, dt.datetime | None]:
    """(start, end) of a window: `until` read first (relative to `now`), then a relative `since` ('7d')
    counted back from it, else from `now`: `--since 7d --until 2026-03-31` is the 7 days before 31 March
    in analyze, report, run and the notebook API alike. A start after `now` is refused (`parse_start`).
    A refusal names the options in the caller's `words`."""
    now = now or dt.datetime.now(UTC)
    not_blank(until, "until", words)
    end = parse_since(until, now)
    relative = _RELATIVE.match(since) if isinstance(since, str) else None
    if relative and float(relative.group(1)) == 0:
        raise ValueError(f"since {since!r} is a window of no length: {_HINT}")
    try:
        return parse_start(since, now, base=end or now, words=words), end
    except ValueError as exc:
        if relative and end is not None and end > now and "in the future" in str(exc):
            # '7d' back is in the future only from an end after now: say where it was counted from
            raise ValueError(f"{exc} (counted back from until {end:%Y-%m-%d %H:%M} UTC, after now: end the window "
                             "at now or earlier, or give since as a date)") from None
        raise


STALE_AFTER = dt.timedelta(days=1)
"""Nothing collected for this long is news: a window whose data ends this long before it does (and a
tenth of it) is 'stale', and `doctor` says a scope not synced for this long (a stopped scheduler)."""

END_STEP_S = 300
"""A window's default end rounds up to 5 minutes (the dashboard's cached results hold that long)."""


def default_end(last_data: dt.datetime | None, now: dt.datetime | None = None,
                step_s: int = END_STEP_S) -> tuple[dt.datetime, bool]:
    """(end, ends at the data) of a window given no end: now, or where the store's data ends (`known_end`)
    when it ends before now (a sync that stopped, an export imported months later), so the days after it are not
    read as days of nothing: no drop to zero, no projection divided over them. The dashboard's default
    and the notebook API's `flowscope.analyze`; the commands end at now, where an empty recent window
    is the news ("no data", exit 3)."""
    def ceil(ts: dt.datetime) -> dt.datetime:
        return dt.datetime.fromtimestamp(math.ceil(ts.timestamp() / step_s) * step_s, tz=UTC)

    now_end = ceil(now or dt.datetime.now(UTC))
    data_end = ceil(last_data + dt.timedelta(seconds=1)) if last_data is not None else None
    if data_end is not None and data_end < now_end:
        return data_end, True
    return now_end, False


def known_end(last_data: dt.datetime | None, collected_to: dt.datetime | None) -> dt.datetime | None:
    """Where what a store knows ends: its newest execution start, or a successful sync's watermark past
    it (a sync that looked and found nothing new knows the time was quiet); imports record none."""
    known = [t for t in (last_data, collected_to) if t is not None]
    return max(known) if known else None


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
