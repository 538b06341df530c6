"""Logic Apps through the management REST API: get_* calls, I/O only.

Consumption (`Microsoft.Logic/workflows`, api-version 2019-05-01) and Standard (the sites of kind
`workflowapp`, their `workflows`, and per workflow the site's workflow management API under
`{site}/hostruntime/runtime/webhooks/workflow/api/management/workflows/{name}`, Microsoft.Web
api-version): the same run, action and trigger calls for both (`api_path`), Standard ids
re-rooted at their site (`requalify`: the site's API leaves the site out of them).

Every list is followed through `nextLink` (`ArmClient.pages`); records are returned as the API
gives them (native documents for `collectors/azure/transform/`), minus what must never reach the
store: the SAS-signed `uri` of every `inputsLink` / `outputsLink` (only `contentSize` stays) and
inline `inputs` / `outputs` payloads. The links themselves are never fetched.

- workflows: `/subscriptions/{sub}[/resourceGroups/{rg}]/providers/Microsoft.Logic/workflows`
  (their definitions come along); a run's older revision: `{workflow}/versions/{version}`.
- runs: `{workflow}/runs?$filter=startTime ge {lower bound}`, newest first; one run: `{run}`.
- actions: `{run}/actions` (with `retryHistory`: one attempt per entry); inside loops
  `{action}/repetitions`; a loop's iterations `{action}/scopeRepetitions`; for an action that
  was retried, `{action}/requestHistories` (the HTTP requests it made: the final try's start; times and status only),
  and for a retried visit inside loops `{repetition}/requestHistories`.
- trigger histories: `{workflow}/triggers`, then `{trigger}/histories?$filter=startTime ge ...`
  (fired and skipped polls: both are billed); a poll left running by the last sync: `{history}`.
- a Standard app's App Service plan: `Microsoft.Web/serverfarms/{name}` (the site's `serverFarmId`).
- a Standard app's deployment slots: `{site}/slots`, and each slot's workflows `{slot}/workflows` (re-rooted
  at the slot: the listing leaves it out). No documented API serves a slot's runs: none is asked for.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from flowscope.collectors.azure.clients import LOGIC_API_VERSION, WEB_API_VERSION, ArmClient
from flowscope.collectors.source_config import name_matches

LOGIC_WORKFLOWS = "providers/Microsoft.Logic/workflows"
PAYLOAD_KEYS = frozenset({"inputs", "outputs", "body", "trackedProperties"})
"""Inline payloads a record may carry: dropped before anything reads the record."""
LINK_KEYS = frozenset({"inputsLink", "outputsLink"})
NESTED_RECORDS = ("trigger", "response")
"""A run's `properties` objects shaped like a trigger record (WorkflowRunTrigger): the fired trigger
and the run's response; each may carry inline payloads and signed links of its own."""


def odata_time(value: dt.datetime) -> str:
    """A datetime as an OData literal in UTC (`2024-05-01T10:00:00.0000000Z`)."""
    value = value.astimezone(dt.timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond:06d}0Z"


def _time_filter(lower_bound: dt.datetime | None) -> dict[str, str]:
    return {"$filter": f"startTime ge {odata_time(lower_bound)}"} if lower_bound is not None else {}


def scrub(record: Any) -> Any:
    """A record without payloads: link URIs (SAS signatures) and inline inputs/outputs removed."""
    if not isinstance(record, dict):
        return record
    props = record.get("properties")
    if not isinstance(props, dict):
        return record
    clean = _scrub_props(props)
    for nested in NESTED_RECORDS:
        inner = clean.get(nested)
        if isinstance(inner, dict):
            clean[nested] = _scrub_props(inner)
    retries = clean.get("retryHistory")
    if isinstance(retries, list):
        clean["retryHistory"] = [_scrub_props(r) if isinstance(r, dict) else r for r in retries]
    return {**record, "properties": clean}


def _scrub_props(props: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in props.items():
        if key in PAYLOAD_KEYS:
            continue
        if key in LINK_KEYS and isinstance(value, dict):
            value = {k: v for k, v in value.items() if k != "uri"}
        out[key] = value
    return out


def _path(resource_id: str, *tail: str) -> str:
    """`resource_id/tail...`, each name quoted (ids come from the cloud: never trusted as a path)."""
    if not resource_id.lower().startswith("/subscriptions/") or "/../" in resource_id or "?" in resource_id:
        raise ValueError(f"not an ARM resource id: {resource_id[:200]!r}")
    parts = [resource_id.rstrip("/")]
    parts.extend(quote(t, safe="") for t in tail)
    return "/".join(parts)


# ---------------------------------------------------------------- Standard: the site's workflow management API

_STANDARD = re.compile(r"^(?P<site>/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.web/sites/[^/]+)"
                       r"/workflows/(?P<workflow>[^/]+)(?P<tail>/.*)?$", re.IGNORECASE)
HOSTRUNTIME = "hostruntime/runtime/webhooks/workflow/api/management"


def standard_parts(resource_id: str) -> tuple[str, str, str] | None:
    """(site id, workflow name, the rest) of a Standard workflow's resource id, else None."""
    match = _STANDARD.match(resource_id)
    if match is None:
        return None
    return match.group("site"), match.group("workflow"), match.group("tail") or ""


def api_path(resource_id: str) -> tuple[str, str]:
    """Where a resource is read, and with which api-version: a Standard workflow's runs, actions
    and triggers live under its site's `hostruntime/.../management/workflows/{name}`."""
    parts = standard_parts(resource_id)
    if parts is None:
        return resource_id, LOGIC_API_VERSION
    site, workflow, tail = parts
    return f"{site}/{HOSTRUNTIME}/workflows/{workflow}{tail}", WEB_API_VERSION


def requalify(record: dict[str, Any], workflow_id: str) -> dict[str, Any]:
    """A Standard record with the site in its id (and its run's): the site's API answers ids like
    `/subscriptions/../providers/Microsoft.Web/workflows/{name}/runs/..`, without the site, so
    they are re-rooted at `workflow_id` (`.../sites/{site}/workflows/{name}`) by their run or
    trigger part. Consumption records are returned unchanged."""
    if standard_parts(workflow_id) is None:
        return record
    out = dict(record)
    out["id"] = _reroot(str(record.get("id", "")), workflow_id)
    props = record.get("properties")
    if isinstance(props, dict):
        run = props.get("run")
        if isinstance(run, dict) and isinstance(run.get("id"), str):
            out["properties"] = {**props, "run": {**run, "id": _reroot(run["id"], workflow_id)}}
    return out


def _reroot(rid: str, workflow_id: str) -> str:
    low = rid.lower()
    for marker in ("/runs/", "/triggers/"):
        cut = low.find(marker)
        if cut != -1:
            return workflow_id.rstrip("/") + rid[cut:]
    return rid


def _workflow_of(resource_id: str) -> str:
    """The workflow id a run / action / trigger id belongs to."""
    low = resource_id.lower()
    cuts = [c for c in (low.find("/runs/"), low.find("/triggers/")) if c != -1]
    return resource_id[: min(cuts)] if cuts else resource_id


def _list(client: ArmClient, resource_id: str, collection: str, operation: str,
          params: dict[str, str] | None = None) -> list[dict[str, Any]]:
    path, version = api_path(resource_id)
    items = client.list_all(_path(path, collection), operation=operation, params={"api-version": version,
                                                                                   **(params or {})})
    workflow = _workflow_of(resource_id)
    return [requalify(scrub(i), workflow) for i in items if isinstance(i, dict) and isinstance(i.get("id"), str)]


def _get(client: ArmClient, resource_id: str, operation: str, *tail: str) -> dict[str, Any]:
    path, version = api_path(resource_id)
    body = client.get(_path(path, *tail), operation=operation, params={"api-version": version})
    if not isinstance(body, dict):
        raise ValueError(f"{operation}: not a JSON object")
    return requalify(scrub(body), _workflow_of(resource_id))


# ---------------------------------------------------------------- workflows

def list_workflows(client: ArmClient, subscription: str, resource_group: str | None = None,
                   globs: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Consumption workflows of a subscription or of one resource group (name globs applied)."""
    scope = f"/subscriptions/{quote(subscription, safe='')}"
    if resource_group:
        scope += f"/resourceGroups/{quote(resource_group, safe='')}"
    items = client.list_all(f"{scope}/{LOGIC_WORKFLOWS}", operation="workflows.list")
    return globbed([scrub(w) for w in items if isinstance(w, dict) and isinstance(w.get("id"), str)], globs)


def workflow_short_name(workflow: dict[str, Any]) -> str:
    """The name a workflow glob matches: a Standard workflow's `site/workflow` name without its site."""
    return str(workflow.get("name", "")).rsplit("/", 1)[-1]


def globbed(items: list[dict[str, Any]], globs: Iterable[str]) -> list[dict[str, Any]]:
    patterns = list(globs)
    if not patterns:
        return items
    return [w for w in items if name_matches(workflow_short_name(w), patterns)]


def list_standard_workflows(client: ArmClient, subscription: str, resource_group: str | None = None,
                            globs: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Workflows of the subscription's (or resource group's) Standard apps: the sites of kind
    `workflowapp`, then each site's `workflows` (their definitions in `files/workflow.json`)."""
    out: list[dict[str, Any]] = []
    for site in list_workflow_sites(client, subscription, resource_group):
        out.extend(list_site_workflows(client, str(site.get("id"))))
    return globbed(out, globs)


def list_workflow_sites(client: ArmClient, subscription: str, resource_group: str | None = None
                        ) -> list[dict[str, Any]]:
    """The Standard apps of a subscription or resource group: its sites of kind `workflowapp`
    (each with `properties.serverFarmId`, its App Service plan)."""
    scope = f"/subscriptions/{quote(subscription, safe='')}"
    if resource_group:
        scope += f"/resourceGroups/{quote(resource_group, safe='')}"
    sites = client.list_all(f"{scope}/providers/Microsoft.Web/sites", operation="sites.list",
                            params={"api-version": WEB_API_VERSION})
    return [s for s in sites if isinstance(s, dict) and isinstance(s.get("id"), str)
            and "workflowapp" in str(s.get("kind") or "").lower()]


def list_site_workflows(client: ArmClient, site_id: str) -> list[dict[str, Any]]:
    """One Standard app's workflows (definitions in `files/workflow.json`)."""
    items = client.list_all(_path(site_id, "workflows"), operation="siteWorkflows.list",
                            params={"api-version": WEB_API_VERSION})
    return [scrub(w) for w in items if isinstance(w, dict) and isinstance(w.get("id"), str)]


def list_site_slots(client: ArmClient, site_id: str) -> list[dict[str, Any]]:
    """A Standard app's deployment slots (`{site}/slots`, WebApps_ListSlots): each an app of its own
    (`Microsoft.Web/sites/slots`), with its own `properties.state` and `serverFarmId`."""
    items = client.list_all(_path(site_id, "slots"), operation="slots.list", params={"api-version": WEB_API_VERSION})
    return [s for s in items if isinstance(s, dict) and isinstance(s.get("id"), str)]


def slot_id(site_id: str, slot: dict[str, Any]) -> str:
    """The id of one of a site's slots, `{site}/slots/{name}`, built from the site listed and the slot's
    short name (its listed `name` is `site/slot`): a listed id is cloud text, never trusted as a path."""
    name = str(slot.get("name") or "").rsplit("/", 1)[-1] or str(slot["id"]).rstrip("/").rsplit("/", 1)[-1]
    return _path(site_id, "slots", name)


def list_slot_workflows(client: ArmClient, slot: str) -> list[dict[str, Any]]:
    """One deployment slot's workflows (`{slot}/workflows`, WebApps_ListInstanceWorkflowsSlot), each with the
    slot in its id: the listing answers ids without it (`.../sites/{site}/workflows/{name}`, as the REST
    example shows), which would have stored a staging workflow over its production namesake."""
    items = client.list_all(_path(slot, "workflows"), operation="slotWorkflows.list",
                            params={"api-version": WEB_API_VERSION})
    site, slot_name = slot.rstrip("/").split("/")[-3], slot.rstrip("/").split("/")[-1]
    out = []
    for w in items:
        if isinstance(w, dict) and isinstance(w.get("id"), str):
            name = workflow_short_name(w) or str(w["id"]).rstrip("/").rsplit("/", 1)[-1]
            # named `site/slot/workflow` too, so what the sync lists tells it from its production namesake
            out.append({**scrub(w), "id": _path(slot, "workflows", name), "name": f"{site}/{slot_name}/{name}"})
    return out


def get_server_farm(client: ArmClient, farm_id: str) -> dict[str, Any]:
    """A Standard app's App Service plan (`Microsoft.Web/serverfarms/{name}`): its SKU and instances."""
    if "/providers/microsoft.web/serverfarms/" not in farm_id.lower():
        raise ValueError(f"not an App Service plan id: {farm_id[:200]!r}")
    body = client.get(_path(farm_id), operation="serverfarms.get", params={"api-version": WEB_API_VERSION})
    if not isinstance(body, dict):
        raise ValueError("serverfarms.get: not a JSON object")
    return body


def get_version(client: ArmClient, workflow_id: str, version: str) -> dict[str, Any]:
    """One revision of a workflow (a run names the revision it ran)."""
    return _get(client, workflow_id, "versions.get", "versions", version)


# ---------------------------------------------------------------- runs

def list_runs(client: ArmClient, workflow_id: str, lower_bound: dt.datetime | None) -> list[dict[str, Any]]:
    """Runs that started at or after `lower_bound` (all the API keeps when None), newest first."""
    return _list(client, workflow_id, "runs", "runs.list", _time_filter(lower_bound))


def get_run(client: ArmClient, run_id: str) -> dict[str, Any]:
    return _get(client, run_id, "runs.get")


def list_actions(client: ArmClient, run_id: str) -> list[dict[str, Any]]:
    """Every action record of a run (each with its `retryHistory`)."""
    return _list(client, run_id, "actions", "actions.list")


def list_repetitions(client: ArmClient, action_id: str) -> list[dict[str, Any]]:
    """Every visit of an action inside loops, across all iterations (nextLink followed)."""
    return _list(client, action_id, "repetitions", "repetitions.list")


def list_scope_repetitions(client: ArmClient, action_id: str) -> list[dict[str, Any]]:
    """Every iteration of a ForEach / Until loop."""
    return _list(client, action_id, "scopeRepetitions", "scopeRepetitions.list")


def list_request_histories(client: ArmClient, action_id: str) -> list[dict[str, Any]]:
    """The HTTP requests an action made (any number per try): only their times, status code and error
    (request and response headers, URIs and body links are dropped here)."""
    return [_request_times(h) for h in _list(client, action_id, "requestHistories", "requestHistories.list")]


def list_repetition_request_histories(client: ArmClient, repetition: dict[str, Any]) -> list[dict[str, Any]]:
    """The HTTP requests one visit of an action inside loops made (`{repetition}/requestHistories`),
    as `list_request_histories`, each with its visit's `repetitionIndexes` (which the request
    history does not carry), so the transform places it in that visit's tries."""
    props = repetition.get("properties") if isinstance(repetition.get("properties"), dict) else {}
    assert isinstance(props, dict)
    return [_request_times(h, props.get("repetitionIndexes"))
            for h in _list(client, str(repetition["id"]), "requestHistories", "repetitionRequestHistories.list")]


def _request_times(record: dict[str, Any], indexes: Any = None) -> dict[str, Any]:
    props = record.get("properties") if isinstance(record.get("properties"), dict) else {}
    assert isinstance(props, dict)
    response = props.get("response") if isinstance(props.get("response"), dict) else {}
    assert isinstance(response, dict)
    kept = {k: props[k] for k in ("startTime", "endTime", "error") if k in props}
    if indexes is not None:
        kept["repetitionIndexes"] = indexes
    if "statusCode" in response:
        kept["response"] = {"statusCode": response["statusCode"]}
    return {**{k: v for k, v in record.items() if k != "properties"}, "properties": kept}


# ---------------------------------------------------------------- triggers

def list_triggers(client: ArmClient, workflow_id: str) -> list[dict[str, Any]]:
    return _list(client, workflow_id, "triggers", "triggers.list")


def get_trigger_history(client: ArmClient, history_id: str) -> dict[str, Any]:
    """One fire or poll of a trigger (a poll left running by the last sync, read again)."""
    return _get(client, history_id, "histories.get")


def list_trigger_histories(client: ArmClient, trigger_id: str, lower_bound: dt.datetime | None
                           ) -> list[dict[str, Any]]:
    """Fires and polls of a trigger that started at or after `lower_bound`."""
    return _list(client, trigger_id, "histories", "histories.list", _time_filter(lower_bound))
