"""Checks every live collector applies to its `[[sources]]` entry, in one place.

Each cloud's `collector.validate` names its own keys; the shapes they share (durations, token
buckets, string lists, positive numbers, flags, the unknown-key and `cloud` checks) are checked
here with one message format, `"<cloud> source: <key> ..."`, so a user sees the same wording
whichever cloud the entry is for. Pure: no I/O, nothing done at import time.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from flowscope.collectors.throttle import Quota
from flowscope.collectors.window import DEFAULT_LAG
from flowscope.model import UTC

DEFAULT_CONCURRENCY = 8


class SourceConfigError(ValueError):
    """A `[[sources]]` entry that cannot be used; the message names the cloud and the key."""


def check_keys(source: Mapping[str, Any], cloud: str, known: Iterable[str]) -> None:
    """No unknown key, and `cloud` is this collector's."""
    known = set(known)
    unknown = sorted(set(source) - known)
    if unknown:
        raise SourceConfigError(f"{cloud} source: unknown key(s) {', '.join(unknown)}; "
                                f"known: {', '.join(sorted(known))}")
    if source.get("cloud") != cloud:
        raise SourceConfigError(f"{cloud} source: cloud must be {cloud!r}, got {source.get('cloud')!r}")


MAX_DURATION = dt.timedelta(days=36_525)
"""The longest duration a source key takes (a century): longer is a typo, and a number of seconds past it
overflowed Python's time arithmetic (`lag = inf` stopped the sync with a traceback)."""


def duration(value: Any, key: str, cloud: str) -> dt.timedelta:
    """A positive duration: seconds, or text like '15m' (the `--since` grammar), at most `MAX_DURATION`. Zero and
    below are refused: a negative `lag` moved each sync's window past the runs that started since the last one,
    which it then never read (exit 0, a metrics error its only sign)."""
    from flowscope.timewindow import parse_since

    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not (0 < value <= MAX_DURATION.total_seconds()):      # NaN fails every comparison
            raise SourceConfigError(f"{cloud} source: {key} must be a positive number of seconds, at most "
                                    f"{MAX_DURATION.days:,} days, got {value!r}")
        return dt.timedelta(seconds=float(value))
    if not isinstance(value, str):
        raise SourceConfigError(f"{cloud} source: {key} must be a duration like '15m', got {value!r}")
    ref = dt.datetime(2000, 1, 1, tzinfo=UTC)
    try:
        start = parse_since(value, now=ref)
    except (ValueError, OverflowError) as exc:
        raise SourceConfigError(f"{cloud} source: {key}: {exc}") from None
    if start is None or start >= ref:
        raise SourceConfigError(f"{cloud} source: {key} must be a positive duration like '15m'")
    if ref - start > MAX_DURATION:
        raise SourceConfigError(f"{cloud} source: {key} must be at most {MAX_DURATION.days:,} days, got {value!r}")
    return ref - start


def _positive_pair(value: Any) -> bool:
    return (isinstance(value, (list, tuple)) and len(value) == 2
            and all(isinstance(x, (int, float)) and not isinstance(x, bool) and x > 0 for x in value))


def quota(value: Any, cloud: str, example: str) -> Quota | None:
    """One token bucket `[burst, refill_per_second]` (None when not set)."""
    if value is None:
        return None
    if not _positive_pair(value):
        raise SourceConfigError(f"{cloud} source: quota must be [burst, refill_per_second], e.g. {example}")
    return Quota(float(value[0]), float(value[1]))


def quota_names(cloud: str) -> frozenset[str]:
    """The API names a cloud's `quotas` table may set: the calls its collector takes a token for (AWS:
    every operation of its read-only allow-list; GCP: its documented quotas)."""
    if cloud == "aws":
        from flowscope.collectors.aws.clients import READ_ONLY_OPERATIONS

        return frozenset(op for ops in READ_ONLY_OPERATIONS.values() for op in ops)
    if cloud == "gcp":
        from flowscope.collectors.gcp.clients import QUOTAS

        return frozenset(QUOTAS)
    return frozenset()


def quotas(value: Any, cloud: str) -> dict[str, Quota]:
    """A table of per-API token buckets, `{API = [bucket, refill_per_second]}`; an API name the
    collector never calls (a typo like GetExecutionHistroy) is refused with the known names, not
    silently unused."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise SourceConfigError(f"{cloud} source: quotas must be a table of API = [bucket, refill_per_second]")
    known = quota_names(cloud)
    unknown = sorted(str(api) for api in value if str(api) not in known)
    if unknown:
        raise SourceConfigError(f"{cloud} source: quotas: unknown API name(s) {', '.join(unknown)}; "
                                f"known: {', '.join(sorted(known))}")
    out = {}
    for api, pair in value.items():
        if not _positive_pair(pair):
            raise SourceConfigError(f"{cloud} source: quotas.{api} must be [bucket, refill_per_second]")
        out[str(api)] = Quota(float(pair[0]), float(pair[1]))
    return out


def string_list(source: Mapping[str, Any], key: str, cloud: str, what: str, *,
                pattern: re.Pattern[str] | None = None, forbid: str = "") -> None:
    """`key`, when set, is a non-empty list of non-empty strings (none holding a `forbid` character,
    each matching `pattern`)."""
    value = source.get(key)
    if value is None:
        return
    if (not isinstance(value, list) or not value
            or not all(isinstance(v, str) and v and not any(c in v for c in forbid) for v in value)):
        raise SourceConfigError(f"{cloud} source: {key} must be a non-empty list of {what}")
    if pattern is not None:
        bad = [v for v in value if not pattern.match(v)]
        if bad:
            raise SourceConfigError(f"{cloud} source: {key}: {bad[0]!r} is not a valid {what[:-1]}")


def strings(source: Mapping[str, Any], keys: Iterable[str], cloud: str) -> None:
    """Each of `keys`, when set, is text that is not empty: an empty `profile` passed every check and failed
    each sync ("The config profile () could not be found"), an empty `workspace_id` turned the bulk path off."""
    for key in keys:
        if key in source and not isinstance(source[key], str):
            raise SourceConfigError(f"{cloud} source: {key} must be a string")
        if key in source and not source[key].strip():
            raise SourceConfigError(f"{cloud} source: {key} must not be empty (an unset variable?): "
                                    "give a value, or leave the key out")


MOST = {"concurrency": 256, "max_attempts": 100, "write_every": 1_000_000}
"""The largest value of each whole-number key: `concurrency` sizes each scope's connection pools, which
urllib3 fills ahead (a concurrency of 10^20 grew the sync past 5 GB without a line); 100 attempts and a
million rows a write are far past any use, so a larger one is a typo."""


def positive_ints(source: Mapping[str, Any], keys: Iterable[str], cloud: str) -> None:
    for key in keys:
        if key not in source:
            continue
        value = source[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise SourceConfigError(f"{cloud} source: {key} must be a positive integer")
        if key in MOST and value > MOST[key]:
            raise SourceConfigError(f"{cloud} source: {key} must be at most {MOST[key]:,}, got {value:,}")


MOST_SECONDS = 3600.0
"""The longest `read_timeout`: an hour without a byte from an API is a dead connection."""


def positive_seconds(source: Mapping[str, Any], key: str, cloud: str) -> None:
    """`key`, when set, a number of seconds above 0 and at most `MOST_SECONDS` (`nan` and `inf` passed, and
    failed the scope at its first call: exit 3 for a mistake in the file)."""
    value = source.get(key)
    if key in source and (not isinstance(value, (int, float)) or isinstance(value, bool)
                          or not 0 < value <= MOST_SECONDS):
        raise SourceConfigError(f"{cloud} source: {key} must be a positive number of seconds, at most "
                                f"{MOST_SECONDS:g}")


def flags(source: Mapping[str, Any], keys: Iterable[str], cloud: str) -> None:
    for key in keys:
        if key in source and not isinstance(source[key], bool):
            raise SourceConfigError(f"{cloud} source: {key} must be true or false")


def check_common(source: Mapping[str, Any], cloud: str, known: Iterable[str]) -> None:
    """The keys every live collector has: unknown keys and `cloud`; `name` a string; `concurrency`,
    `max_attempts`, `write_every` positive integers; `metrics` a flag; `lag` a duration."""
    check_keys(source, cloud, known)
    strings(source, ("name",), cloud)
    positive_ints(source, ("concurrency", "max_attempts", "write_every"), cloud)
    flags(source, ("metrics",), cloud)
    if "lag" in source:
        duration(source["lag"], "lag", cloud)


T = TypeVar("T")


def name_matches(name: str, globs: Iterable[str]) -> bool:
    """Whether `name` belongs to a source by its name `globs` (every name when there are none, case
    counts): the one glob rule of the listings (`match_names`) and of the stored runs a sync revisits."""
    patterns = list(globs)
    return not patterns or any(fnmatch.fnmatchcase(name, g) for g in patterns)


def match_names(items: Sequence[T], globs: Sequence[str], name_of: Callable[[T], str], result: Any,
                what: str = "workflows") -> list[T]:
    """The listed `items` whose name matches one of the source's name `globs` (every item without globs):
    the one filter of AWS `state_machines`, Azure and GCP `workflows`. It counts what was listed and
    what matched in `result` (a ScopeResult; repeated calls add up, one per location or resource
    group), so a glob matching nothing is said by the sync ("0 of 7 workflows match ['ordrs-*']",
    `SyncReport.unmatched`) instead of passing as a clean, empty success."""
    if not globs:
        return list(items)
    matched = [item for item in items if name_matches(name_of(item), globs)]
    result.count("glob_listed", len(items))
    result.count("glob_matched", len(matched))
    result.details["globs"] = {"of": what, "patterns": list(globs)}
    return matched


@dataclass(frozen=True, kw_only=True)
class ScopeSettings:
    """The settings every cloud's scope has (each cloud's scope class adds its own)."""

    globs: tuple[str, ...] = ()
    lag: dt.timedelta = DEFAULT_LAG
    concurrency: int = DEFAULT_CONCURRENCY
    max_attempts: int = 8
    read_timeout: float = 30
    write_every: int = 250
    metrics: bool = True


def scope_settings(source: Mapping[str, Any], cloud: str, *, globs_key: str, max_attempts: int
                   ) -> dict[str, Any]:
    """`ScopeSettings` keyword arguments from a validated source entry (defaults where not set)."""
    return {"globs": tuple(source.get(globs_key) or ()),
            "lag": duration(source["lag"], "lag", cloud) if "lag" in source else DEFAULT_LAG,
            "concurrency": int(source.get("concurrency", DEFAULT_CONCURRENCY)),
            "max_attempts": int(source.get("max_attempts", max_attempts)),
            "read_timeout": float(source.get("read_timeout", 30)),
            "write_every": int(source.get("write_every", 250)),
            "metrics": bool(source.get("metrics", True))}


__all__ = ["ScopeSettings", "SourceConfigError", "check_common", "check_keys", "duration", "flags", "match_names",
           "name_matches",
           "positive_ints", "positive_seconds", "quota", "quota_names", "quotas", "scope_settings", "string_list",
           "strings"]
