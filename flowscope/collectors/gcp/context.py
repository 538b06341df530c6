"""What one GCP scope's worker threads share (`ScopeContext`), and small helpers of every step.

The step modules (`executions.py`, `call_logs.py`, `monitoring.py`) work on one `ScopeContext`:
the clients, the sink, the result, the window, the workflows listed, and what the steps hand each
other (executions seen, executions whose calls come from Cloud Logging, gaps that hold the watermark).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flowscope.collectors.native import ImportContext
from flowscope.collectors.scope_run import ScopeRun
from flowscope.collectors.window import CollectionError, as_collection_error
from flowscope.model import TERMINAL_STATUSES, Batch, Cloud, utc

if TYPE_CHECKING:
    from flowscope.collectors.gcp.clients import GcpClients
    from flowscope.collectors.gcp.source import GcpScope

CLOUD = Cloud.GCP.value
TERMINAL = frozenset(s.value for s in TERMINAL_STATUSES)
NATIVE_TERMINAL = frozenset({"SUCCEEDED", "FAILED", "CANCELLED", "UNAVAILABLE"})
MAX_NAMES_KEPT = 20


@dataclass
class ScopeContext(ScopeRun):
    """One GCP scope's collection (`ScopeRun`: store, sink, result, window, seen, gaps, lock), plus its
    settings, clients and transforms, and what the steps hand each other."""

    scope: "GcpScope"
    clients: "GcpClients"
    formats: dict[str, Callable[[Any, ImportContext], Batch]]
    workflows: dict[str, dict[str, Any]] = field(default_factory=dict)
    deferred: list[dict[str, Any]] = field(default_factory=list)
    """Finished executions without step entries whose workflow logs calls: written with their call logs."""
    bulk: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Finished executions on the logs path, per workflow: written with their call logs."""
    stored_unfinished: set[str] = field(default_factory=set)
    """Executions already stored unfinished (read from their step entries while they ran): they stay
    on step entries, since their call logs would add every call again under other keys."""

    def lower_bound_for(self, workflow: str) -> dt.datetime | None:
        """Where a workflow's executions are listed from (`unread.bound_for`)."""
        from flowscope.collectors.unread import bound_for

        return bound_for(self, workflow)

    def note(self, key: str, name: str, value: Any = None) -> None:
        """Add `name` (bounded) under details[key]: a list, or a {name: count} table when value is 1."""
        with self.lock:
            if value == 1:
                table = self.result.details.setdefault(key, {})
                table[name] = table.get(name, 0) + 1
            else:
                names = self.result.details.setdefault(key, [])
                if len(names) < MAX_NAMES_KEPT:
                    names.append(name)


def listed_again_from(sc: ScopeContext, item: Mapping[str, Any]) -> dt.datetime | None:
    """Where the watermark must hold for the next listing (`createTime >= watermark - lag`) to return
    a listed execution that was not collected: at its createTime. The BASIC view gives only its
    startTime, which a queued execution reached later than its creation (by more than the lag, it
    would fall out of the next window): then no later than where this listing's window began plus
    the lag, since the listing returned it (created at or after that lower bound)."""
    created, started = utc(item.get("createTime")), utc(item.get("startTime"))
    if created is not None:
        return min(created, started) if started is not None else created
    bound = sc.lower_bound_for(workflow_of(str(item.get("name") or "")))
    if started is not None and bound is not None:
        return min(started, bound + sc.window.lag)
    return started


def location_of(name: str) -> str:
    parts = name.split("/")
    return parts[3] if len(parts) > 3 and parts[2] == "locations" else "-"


def workflow_of(execution_name: str) -> str:
    return execution_name.split("/executions/", 1)[0]


def raise_auth(exc: BaseException) -> None:
    """Refused credentials fail the whole scope: every other call would be refused too."""
    from flowscope.collectors.gcp.clients import GcpAuthError

    if isinstance(exc, GcpAuthError):
        raise exc


def as_error(exc: BaseException, operation: str, target: str | None) -> CollectionError:
    return as_collection_error(exc, operation, target)
