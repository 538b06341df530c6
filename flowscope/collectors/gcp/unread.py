"""Workflows whose executions one sync could not read: remembered for the next sync, the scope's
watermark not held for them.

A workflow's executions listing that failed, or a new execution whose step entries or call logs
could not be read, held the whole scope's watermark: one workflow failing for days kept every sync
re-listing every workflow from there. Now the watermark moves on and the workflow is remembered
with where its executions must be listed from again (`KEY` in the collection_runs details, read
back by the next sync into `ScopeContext.workflow_bounds`). The same rule as the Azure collector's
(`collectors/azure/unread.py`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from flowscope.model import utc

if TYPE_CHECKING:
    from flowscope.collectors.gcp.context import ScopeContext

KEY = "workflows_unread_since"
"""collection_runs `details` key: workflow name -> where its executions must be listed from (ISO
time, or null: everything the API keeps)."""


def earliest(a: dt.datetime | None, b: dt.datetime | None) -> dt.datetime | None:
    """The earlier of two lower bounds; None (no bound: everything) wins."""
    return None if a is None or b is None else min(a, b)


def parse(table: Any) -> dict[str, dt.datetime | None]:
    """A `{name: ISO time or null}` table of an earlier sync's details (anything else: empty)."""
    out: dict[str, dt.datetime | None] = {}
    for key, since in (table.items() if isinstance(table, Mapping) else ()):
        try:
            out[str(key)] = utc(since) if since is not None else None
        except (AttributeError, TypeError, ValueError):
            out[str(key)] = None             # unreadable: everything the API keeps
    return out


def load(sc: "ScopeContext", listed: Collection[str]) -> None:
    """The last sync's unread workflows: those listed now are read from there (`workflow_bounds`);
    one not listed stays remembered when this sync's workflow listing was not complete (an error so
    far: a location not listed), else it is gone (deleted, or out of the scope's globs)."""
    complete = sc.result.error_count == 0
    for workflow, since in parse(sc.previous_details().get(KEY)).items():
        if workflow in listed:
            sc.workflow_bounds[workflow] = since
        elif not complete:
            mark(sc, workflow, since)


def mark(sc: "ScopeContext", workflow: str, since: dt.datetime | None) -> None:
    """The executions of `workflow` created from `since` on were not all read: listed again next sync."""
    with sc.lock:
        sc.unread_workflows[workflow] = earliest(sc.unread_workflows[workflow], since) \
            if workflow in sc.unread_workflows else since


def record(sc: "ScopeContext") -> None:
    """This sync's unread workflows into its details, for the next sync (`load`)."""
    if sc.unread_workflows:
        sc.result.details[KEY] = {wf: since.isoformat() if since else None
                                  for wf, since in sorted(sc.unread_workflows.items())}
