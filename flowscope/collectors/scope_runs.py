"""Every scope of one `[[sources]]` entry, collected in parallel: what each collector's `sync()` is.

Below `sync.py` (which dispatches to the collectors through the registry) so the collectors can use
it without importing what imports them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

from flowscope.collectors.throttle import bounded_map
from flowscope.collectors.window import ScopeResult
from flowscope.model import UTC

if TYPE_CHECKING:
    from flowscope.store import Store

DEFAULT_PARALLEL_SCOPES = 4
"""Scopes collected at once (a run of `flowscope sync`, and one source's scopes)."""


def sync_source(cloud: str, scopes: Callable[[Mapping[str, Any]], list[Any]],
                collect_scope: Callable[..., ScopeResult], source_config: Mapping[str, Any], store: "Store", *,
                since: dt.datetime | None = None, now: dt.datetime | None = None,
                max_parallel_scopes: int = DEFAULT_PARALLEL_SCOPES) -> list[ScopeResult]:
    """Every scope of one `[[sources]]` entry (in parallel), one result per scope: each collector's
    `sync(...)`. A scope whose collection raised (a bug: collect_scope records its own failures) is
    still a FAILED result, never a missing one."""
    now = now or dt.datetime.now(UTC)
    todo = scopes(source_config)
    results: list[ScopeResult] = []
    for outcome in bounded_map(lambda s: collect_scope(s, store, since=since, now=now), todo,
                               max_parallel_scopes, thread_name_prefix="flowscope-scope"):
        if outcome.error is None:
            results.append(cast(ScopeResult, outcome.result))
        else:
            failed = ScopeResult(cloud=cloud, scope=outcome.item.scope_id(None), started_at=now)
            results.append(failed.finish(failed=outcome.error))
    return results
