"""Workflows API v1 (I/O only): locations, workflows with their definitions, past revisions.

Every function returns the API's own documents (the pure transforms read them unchanged) and
raises `GcpApiError` on a failure: never an empty list for a call that did not succeed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flowscope.collectors.gcp.clients import GcpClients
from flowscope.collectors.gcp.transform.names import under_project_of
from flowscope.collectors.source_config import name_matches

SERVICE = "workflows"
API = "workflows"
WORKFLOWS_PAGE = 1000         # the API's maximum; it may return fewer per page
REVISIONS_PAGE = 100


def list_locations(clients: GcpClients, project: str) -> list[str]:
    """Location ids where the project can run workflows (`projects.locations.list`)."""
    found: list[str] = []
    for page in clients.pages(SERVICE, f"v1/projects/{project}/locations", api=API,
                              params={"pageSize": 1000}, target=f"projects/{project}"):
        for loc in clients.items(page, "locations", api=API, target=f"projects/{project}"):
            if isinstance(loc, dict):
                loc_id = loc.get("locationId") or str(loc.get("name", "")).rsplit("/", 1)[-1]
                if loc_id and loc_id not in found:
                    found.append(loc_id)
    return found


def list_workflows(clients: GcpClients, project: str, location: str,
                   globs: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Every workflow of one location (current revision, definition included), name globs applied."""
    parent = f"projects/{project}/locations/{location}"
    workflows: list[dict[str, Any]] = []
    for page in clients.pages(SERVICE, f"v1/{parent}/workflows", api=API, location=location,
                              params={"pageSize": WORKFLOWS_PAGE}, target=parent):
        workflows.extend({**w, "name": under_project_of(w.get("name"), parent)}
                         for w in clients.items(page, "workflows", api=API, target=parent) if isinstance(w, dict))
    if globs:
        workflows = [w for w in workflows if name_matches(short_name(w.get("name")), globs)]
    return workflows


def get_revision(clients: GcpClients, workflow_name: str, revision_id: str, location: str) -> dict[str, Any]:
    """One past revision of a workflow (`workflows.get?revisionId=`), its definition included,
    named as asked (`under_project_of`)."""
    doc = clients.get_json(SERVICE, f"v1/{workflow_name}", api=API, location=location,
                           params={"revisionId": revision_id}, target=f"{workflow_name}@{revision_id}")
    if "name" in doc:
        doc["name"] = under_project_of(doc["name"], workflow_name)
    return doc


def short_name(name: Any) -> str:
    return str(name or "").rsplit("/", 1)[-1]
