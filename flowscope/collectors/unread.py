"""Workflows whose runs one sync could not read: remembered for the next sync, the scope's watermark not
held for them (every live collector's rule).

A runs listing that failed for one workflow, or a new run whose details (step entries, call logs) failed,
held the whole scope's watermark: one workflow failing for days kept every sync re-listing every workflow
from there. Now the scope's watermark moves on and the workflow is remembered with where its runs must
be read from again (`KEY` in the collection_runs details, read back by the next sync into
`ScopeRun.workflow_bounds`: its listings start there). A run already stored running needs neither: it is
read again by id every sync until it ends.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any

from flowscope.model import utc

if TYPE_CHECKING:
    from flowscope.collectors.scope_run import ScopeRun

KEY = "workflows_unread_since"
"""collection_runs `details` key: workflow id -> where its runs must be read from (ISO time, or null:
everything the API keeps)."""


def earliest(a: dt.datetime | None, b: dt.datetime | None) -> dt.datetime | None:
    """The earlier of two lower bounds; None (no bound: everything) wins."""
    return None if a is None or b is None else min(a, b)


def parse(table: Any) -> dict[str, dt.datetime | None]:
    """A `{name: ISO time or null}` table of an earlier sync's details (anything else: empty); a time that
    does not read is None, everything the API keeps (read too much rather than lose runs)."""
    out: dict[str, dt.datetime | None] = {}
    for key, since in (table.items() if isinstance(table, Mapping) else ()):
        try:
            out[str(key)] = utc(since) if since is not None else None
        except (AttributeError, TypeError, ValueError):
            out[str(key)] = None
    return out


def load(sc: "ScopeRun", listed: Collection[str], *, keep: Callable[[str], bool] | None = None) -> None:
    """The last sync's unread workflows: those listed now are read from there (`workflow_bounds`); one not
    listed stays remembered when this sync's listing was not complete (an error so far) or `keep` says so
    (a stopped Logic Apps Standard app's), else it is gone (deleted, or out of the scope's globs)."""
    complete = sc.result.error_count == 0
    for workflow, since in parse(sc.previous_details().get(KEY)).items():
        if workflow in listed:
            sc.workflow_bounds[workflow] = since
        elif not complete or (keep is not None and keep(workflow)):
            mark(sc, workflow, since)


def mark(sc: "ScopeRun", workflow: str, since: dt.datetime | None) -> None:
    """The runs of `workflow` from `since` on were not all read: the next sync lists them again."""
    with sc.lock:
        sc.unread_workflows[workflow] = earliest(sc.unread_workflows[workflow], since) \
            if workflow in sc.unread_workflows else since


def record(sc: "ScopeRun") -> None:
    """This sync's unread workflows into its details, for the next sync (`load`)."""
    if sc.unread_workflows:
        sc.result.details[KEY] = {wf: since.isoformat() if since else None
                                  for wf, since in sorted(sc.unread_workflows.items())}


def bound_for(sc: "ScopeRun", workflow: str) -> dt.datetime | None:
    """Where a workflow's runs are listed from: the window's lower bound, or earlier for one the last sync
    could not read (`workflow_bounds`)."""
    if workflow in sc.workflow_bounds:
        return earliest(sc.window.lower_bound, sc.workflow_bounds[workflow])
    return sc.window.lower_bound
