"""What one Azure scope's worker threads share (`ScopeContext`), and small readers of ARM records.

Every path module (`azure/workflows.py`, `runs.py`, `triggers.py`, `logs_path.py`, `metrics.py`)
works on one `ScopeContext`: the client, the sink, the result, the window, and what the steps
learn from each other (definitions, runs seen and fetched, gaps that hold the watermark).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flowscope.collectors.scope_run import ScopeRun
from flowscope.collectors.window import CollectionError, as_collection_error
from flowscope.model import TERMINAL_STATUSES, Cloud

if TYPE_CHECKING:
    from flowscope.collectors.azure.clients import ArmClient
    from flowscope.collectors.azure.definition import Definition

CLOUD = Cloud.AZURE.value
TERMINAL = frozenset(s.value for s in TERMINAL_STATUSES)


@dataclass
class ScopeContext(ScopeRun):
    """One Azure scope's collection (`ScopeRun`: store, sink, result, window, seen, gaps, lock), plus
    the ARM client and what the steps learn from each other."""

    client: "ArmClient"
    concurrency: int = 8
    request_histories: bool = False
    definitions: dict[str, "Definition | None"] = field(default_factory=dict)
    """Current definition of each workflow (canonical id)."""
    revision_definitions: dict[tuple[str, str], "Definition | None"] = field(default_factory=dict)
    """(workflow id, revision in lower case) -> the definition of an older revision runs ran on."""
    fetched: set[str] = field(default_factory=set)
    absent: set[str] = field(default_factory=set)
    gone: list[str] = field(default_factory=list)
    unknown_statuses: dict[str, int] = field(default_factory=dict)
    stopped_sites: set[str] = field(default_factory=set)
    """Standard apps (site ids, lower case) found stopped: not read (`standard.is_stopped`)."""
    stopped_unread: dict[str, dt.datetime | None] = field(default_factory=dict)
    """Stopped Standard apps (site ids) -> where their runs were last read (`standard.unread_since`)."""
    site_bounds: dict[str, dt.datetime | None] = field(default_factory=dict)
    """Standard apps (site ids) running again after a stop: where their runs were last read
    (`standard.unread_since`); None: never read."""
    running_polls: dict[str, dt.datetime] = field(default_factory=dict)
    """Polls that fired nothing, still running (history id -> start): read again next sync (`triggers`)."""
    auth_failure: CollectionError | None = None

    def failed(self, exc: BaseException, operation: str, target: str | None,
               start: dt.datetime | None = None, *, gap: bool = True) -> None:
        """Record a failed call; a 401 stops the whole scope (every later call would fail alike)."""
        err = as_collection_error(exc, operation, target)
        if getattr(exc, "unauthenticated", False):
            with self.lock:
                if self.auth_failure is None:
                    self.auth_failure = err
            return
        self.result.record_error(err)
        if gap:
            self.gap(start)

    def lower_bound_for(self, workflow_id: str) -> dt.datetime | None:
        """Where a workflow's runs and trigger histories are listed from: the window's lower bound,
        or earlier for the workflows of an app running again whose runs were not read while it was
        stopped (`site_bounds`), and for those the last sync could not read (`unread.bound_for`)."""
        from flowscope.azure_ids import site_of
        from flowscope.collectors.unread import bound_for, earliest

        bound = bound_for(self, workflow_id)
        site = site_of(workflow_id)
        return earliest(bound, self.site_bounds[site]) if site is not None and site in self.site_bounds else bound

    def definition_for(self, workflow_id: str, run: Mapping[str, Any]) -> "Definition | None":
        """The definition a run ran: its own revision's when that is an older one read this sync
        (which actions sit in loops may differ from the current definition), else the current one."""
        revision = run_revision(run)
        key = (workflow_id, revision.lower()) if revision else None
        if key is not None and key in self.revision_definitions:
            return self.revision_definitions[key]
        return self.definitions.get(workflow_id)

    def check_auth(self) -> None:
        failure = self.auth_failure
        if failure is None:
            return
        if getattr(failure, "status", None) == 401:
            raise CollectionError(
                "authentication failed (HTTP 401): the token expired or is not valid for this endpoint; "
                f"first at {failure.operation} {failure.target}",
                operation=failure.operation, code="Unauthorized", target=failure.target)
        raise CollectionError(f"authentication failed: no token could be obtained; first at {failure.operation} "
                              f"{failure.target}: {failure}", operation=failure.operation, code=failure.code,
                              target=failure.target)



def run_revision(run: Mapping[str, Any]) -> str | None:
    """The revision (version name) a run ran on: `properties.workflow.name`, if given."""
    revision = props(run).get("workflow")
    name = revision.get("name") if isinstance(revision, dict) else None
    return name if isinstance(name, str) and name else None


def props(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record's `properties` object (empty when absent or not an object: cloud text is untrusted)."""
    value = record.get("properties")
    return value if isinstance(value, dict) else {}


def run_start(run: Mapping[str, Any]) -> dt.datetime | None:
    """A run's start, None when absent or not a time (cloud text is untrusted: the transform says
    it skips such a run; a collector step must not fail the scope on it)."""
    from flowscope.collectors.azure.transform.records import ts

    value = run.get("properties")
    try:
        return ts(value.get("startTime")) if isinstance(value, dict) else None
    except (AttributeError, TypeError, ValueError):
        return None
