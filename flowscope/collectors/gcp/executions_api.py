"""Workflow Executions API v1 (I/O only): executions listed by creation time, and fetched one by one.

Listing uses the BASIC view (name, times, state, revision: enough to know what changed) at the
BASIC maximum page size; the FULL view (error, labels, call log level, sizes of argument and
result) is fetched only for an execution that needs it (`needs_full`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from flowscope.collectors.gcp.clients import GcpClients
from flowscope.collectors.gcp.transform.names import under_project_of

SERVICE = "workflowexecutions"
LIST_PAGE = 1000              # the maximum for the BASIC view (100 for FULL)
FULL_WHEN = frozenset({"FAILED", "CANCELLED", "UNAVAILABLE"})
"""Terminal states whose FULL view carries what BASIC lacks and the analyses need (error, stateError)."""


def start_filter(lower_bound: dt.datetime | None) -> str | None:
    """AIP-160 filter on the window's lower bound (RFC 3339, UTC), or None for everything kept.

    On `createTime`, not `startTime`: a QUEUED execution (over the concurrency limit) has no
    startTime, so a `startTime>=` listing never returns it while it waits, and one cancelled in
    the backlog never at all. Every execution has a createTime (never after its startTime): each
    is listed while its creation is in the window, stored (QUEUED is stored RUNNING) and revisited
    until it ends."""
    if lower_bound is None:
        return None
    stamp = lower_bound.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f'createTime>="{stamp}"'


def list_executions(clients: GcpClients, workflow_name: str, *, location: str,
                    lower_bound: dt.datetime | None) -> Iterator[dict[str, Any]]:
    """Executions of one workflow created at or after `lower_bound`, every page (BASIC view), named
    under the workflow's project (`under_project_of`: the API answers with the project number)."""
    params: dict[str, Any] = {"view": "BASIC", "pageSize": LIST_PAGE}
    flt = start_filter(lower_bound)
    if flt:
        params["filter"] = flt
    for page in clients.pages(SERVICE, f"v1/{workflow_name}/executions", api="executions.list",
                              location=location, params=params, target=workflow_name):
        for item in clients.items(page, "executions", api="executions.list", target=workflow_name):
            if isinstance(item, dict) and item.get("name"):
                yield {**item, "name": under_project_of(item["name"], workflow_name)}


def get_execution(clients: GcpClients, execution_name: str, *, location: str, view: str = "FULL") -> dict[str, Any]:
    """One execution (`executions.get`), named as asked (`under_project_of`); GcpApiError with
    `.gone` when the API no longer has it."""
    doc = clients.get_json(SERVICE, f"v1/{execution_name}", api="executions.get", location=location,
                           params={"view": view}, target=execution_name)
    if "name" in doc:
        doc["name"] = under_project_of(doc["name"], execution_name)
    return doc


def needs_full(item: dict[str, Any]) -> bool:
    """Whether the BASIC view lacks what the rows need: the error of a failed execution, or any
    time at all (a QUEUED execution has no startTime yet, and BASIC gives no createTime)."""
    return item.get("state") in FULL_WHEN or not (item.get("startTime") or item.get("createTime"))


def project_number(clients: GcpClients, workflow_name: str, *, location: str) -> str | None:
    """The project number the Executions API names `workflow_name`'s executions by (one listing
    call of one execution), or None when it lists none or names them otherwise. What moves rows an
    earlier flowscope stored under the number (`project_numbers.py`) needs."""
    page = clients.get_json(SERVICE, f"v1/{workflow_name}/executions", api="executions.list", location=location,
                            params={"view": "BASIC", "pageSize": 1}, target=workflow_name)
    for item in clients.items(page, "executions", api="executions.list", target=workflow_name):
        name = item.get("name") if isinstance(item, dict) else None
        if isinstance(name, str) and name.startswith("projects/"):
            project = name[9:].partition("/")[0]
            return project if project.isdigit() else None
    return None
