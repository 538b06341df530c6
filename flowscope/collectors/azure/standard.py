"""Logic Apps Standard: the apps (sites of kind workflowapp), their workflows, their deployment slots' workflows
(a slot is an app of its own: its workflows keep the slot in their id and are priced by its plan; their runs
are not read, no documented API serves them), and their App Service plans.

A Standard workflow is billed by the plan its app runs on, not per execution, so the plan's size
is what the Standard-plan cost and the Consumption-vs-Standard what-if need. Each app's
`serverFarmId` is read once (`Microsoft.Web/serverfarms/{name}`), summarized by `plan_summary`
(SKU, tier, instances, and each instance's vCPU and memory for the Workflow Standard SKUs) and
put into its workflows' `attributes.app_service_plan` (`with_plans`) before they are stored. A
plan that cannot be read is a warning: the analysis then says it assumed the plan size.

A stopped app runs nothing and its runtime does not answer, so the runs it made between the last
sync and its stop cannot be read until it runs again: each sync remembers where they were last read
(`details.stopped_apps_unread_since`, carried from sync to sync, `unread_since`), and once the app
runs again its workflows are listed from there (`ScopeContext.site_bounds`); the scope's watermark
is not held for an app that may stay stopped for months.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from flowscope.azure_ids import in_slot, production_site_of, site_of
from flowscope.collectors import source_config as cfg
from flowscope.collectors.native import cleaned
from flowscope.collectors.throttle import bounded_map
from flowscope.collectors.window import as_collection_error, merge_attributes
from flowscope.model import Batch, C

if TYPE_CHECKING:
    from flowscope.collectors.azure.context import ScopeContext

WORKFLOW_STANDARD_SKUS: dict[str, tuple[float, float]] = {
    # SKU -> (vCPU, memory GB) of one instance: "Single-tenant versus multitenant in Azure Logic
    # Apps", pricing tiers of a Standard logic app (learn.microsoft.com, checked 2026-11)
    "WS1": (1.0, 3.5),
    "WS2": (2.0, 7.0),
    "WS3": (4.0, 14.0),
}
UNREAD_KEY = "stopped_apps_unread_since"
"""collection_runs `details` key: stopped app (site id) -> where its runs were last read (ISO time, or
null: never), read back by the next sync (`unread_since`)."""
PLAN_KEY = "app_service_plan"
"""The workflows rows' `attributes` key holding the plan summary (read by `analysis.cost`)."""


@dataclass
class _Listed:
    """What one resource group's Standard apps gave: workflows, each app's (or slot's) plan id, and the slot
    calls that failed (recorded by the caller's thread: the group is read in a worker)."""

    docs: list[dict[str, Any]] = field(default_factory=list)
    farms: dict[str, str] = field(default_factory=dict)
    failures: list[tuple[BaseException, str, str]] = field(default_factory=list)
    slots: int = 0
    stopped_slots: list[str] = field(default_factory=list)


def list_standard(sc: "ScopeContext", subscription: str, groups: Sequence[str | None],
                  globs: Sequence[str]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The Standard workflows of the subscription or resource groups, their deployment slots' among them
    (`_slot_workflows`), and each app's plan id (site or slot id, lower case -> serverFarmId). A failing group
    is recorded; the others go on."""
    from flowscope.collectors.azure import arm

    running: set[str] = set()

    def per_group(rg: str | None) -> _Listed:
        listed = _Listed()
        for site in arm.list_workflow_sites(sc.client, subscription, rg):
            if is_stopped(site):
                with sc.lock:
                    sc.stopped_sites.add(str(site["id"]).lower())
                continue
            with sc.lock:
                running.add(str(site["id"]).lower())
            found = cfg.match_names(arm.list_site_workflows(sc.client, str(site["id"])), globs,
                                    arm.workflow_short_name, sc.result)
            listed.docs.extend(found)
            _add_farm(listed.farms, site, bool(found))
            _slot_workflows(sc, str(site["id"]), globs, listed)
        return listed

    docs: list[dict[str, Any]] = []
    farms: dict[str, str] = {}
    complete = True
    slots, stopped_slots = 0, []
    for outcome in bounded_map(per_group, list(groups), min(4, sc.concurrency)):
        if outcome.error is None:
            listed = cast(_Listed, outcome.result)
            docs.extend(listed.docs)
            farms.update(listed.farms)
            for exc, operation, target in listed.failures:
                # the slot's runs are never read, so no run of the window waits on it: the watermark moves
                sc.failed(exc, operation, target, gap=False)
            slots += listed.slots
            stopped_slots.extend(listed.stopped_slots)
        else:
            complete = False
            sc.failed(outcome.error, "sites.list", f"resourceGroups/{outcome.item}" if outcome.item else None)
    unread_since(sc, running, complete=complete)
    _say_slots(sc, docs, slots, stopped_slots)
    return docs, farms


def _add_farm(farms: dict[str, str], app: Mapping[str, Any], wanted: bool) -> None:
    """An app's (or slot's) `serverFarmId` under its id (lower case), when it has workflows to price."""
    properties = app.get("properties")
    farm = properties.get("serverFarmId") if isinstance(properties, dict) else None
    if wanted and isinstance(farm, str) and farm:
        farms[str(app["id"]).lower()] = farm


def _slot_workflows(sc: "ScopeContext", site_id: str, globs: Sequence[str], listed: _Listed) -> None:
    """A running app's deployment slots (`{site}/slots`) and each running slot's workflows under the slot's own
    id, with the slot's own plan (a slot is an app of its own). A stopped slot is not read (its runtime does
    not answer, as a stopped app's). A failed call is kept in `listed.failures`, naming it; the app's own
    workflows stay listed."""
    from flowscope.collectors.azure import arm

    try:
        slots = arm.list_site_slots(sc.client, site_id)
    except Exception as exc:  # noqa: BLE001 - recorded by the caller, naming the call
        listed.failures.append((exc, "slots.list", site_id))
        return
    listed.slots += len(slots)
    for slot in slots:
        slot_id = arm.slot_id(site_id, slot)
        if is_stopped(slot):
            listed.stopped_slots.append(slot_id.lower())
            continue
        try:
            found = cfg.match_names(arm.list_slot_workflows(sc.client, slot_id), globs, arm.workflow_short_name,
                                    sc.result)
        except Exception as exc:  # noqa: BLE001 - recorded by the caller, naming the call
            listed.failures.append((exc, "slotWorkflows.list", slot_id))
            continue
        listed.docs.extend(found)
        _add_farm(listed.farms, {**slot, "id": slot_id}, bool(found))


def _say_slots(sc: "ScopeContext", docs: Sequence[Mapping[str, Any]], slots: int, stopped: list[str]) -> None:
    """How many slots and slot workflows were listed, and that the slots' runs are not read: no documented API
    serves them (the workflow management API is documented under `{site}/hostruntime/...` only, and Microsoft
    documents that a non-production slot's workflows do not run), so a slot workflow without runs is said,
    not taken for idle."""
    if slots:
        sc.result.count("standard_slots", slots)
    if stopped:
        sc.result.count("standard_slots_stopped", len(stopped))
        sc.result.details["stopped_slots"] = sorted(stopped)[:50]
        sc.result.warn(f"{len(stopped)} deployment slot(s) of Standard apps stopped, e.g. "
                       f"{sorted(stopped)[0].rsplit('/', 1)[-1][:200]}: their workflows are not read")
    in_slots = sorted(str(d.get("id")) for d in docs if in_slot(str(d.get("id"))))
    if in_slots:
        sc.result.count("slot_workflows", len(in_slots))
        sc.result.warn(f"{len(in_slots)} workflow(s) of deployment slots listed, e.g. {cleaned(in_slots[0], 300)}: "
                       "their runs are not read (no documented API serves a slot's run history; Microsoft "
                       "documents that a non-production slot's workflows do not run)")


def unread_since(sc: "ScopeContext", running: set[str], *, complete: bool) -> None:
    """Where the runs of each stopped app were last read: the last sync's (`UNREAD_KEY`) for an app
    still stopped, this window's lower bound for one found stopped now (`stopped_unread`); an app of
    that list running again gets its workflows listed from there (`site_bounds`). An app not listed
    at all (`complete` False: a resource group's listing failed) keeps its entry."""
    previous = _previous_unread(sc)
    for site in sorted(sc.stopped_sites):
        sc.stopped_unread[site] = previous[site] if site in previous else sc.window.lower_bound
    for site, since in previous.items():
        if site in running:
            sc.site_bounds[site] = since
        elif site not in sc.stopped_sites and not complete:
            sc.stopped_unread[site] = since
    if sc.stopped_sites:
        sc.result.count("standard_apps_stopped", len(sc.stopped_sites))
        sc.result.details["stopped_apps"] = sorted(sc.stopped_sites)[:50]
        first = sorted(sc.stopped_sites)[0]
        since = sc.stopped_unread[first]
        sc.result.warn(f"{len(sc.stopped_sites)} Standard app(s) stopped, e.g. {first.rsplit('/', 1)[-1][:200]}: "
                       "a stopped app's workflows and runs cannot be read; its runs since "
                       f"{since.isoformat() if since else 'the start of its run history'} are read once it runs again")
    if sc.site_bounds:
        sc.result.count("standard_apps_restarted", len(sc.site_bounds))


def record_unread(sc: "ScopeContext") -> None:
    """This sync's `UNREAD_KEY` for the next one: the stopped apps. (A workflow of an app running
    again whose runs this sync could not read is remembered on its own: `unread.mark`.)"""
    if sc.stopped_unread:
        sc.result.details[UNREAD_KEY] = {site: since.isoformat() if since else None
                                         for site, since in sorted(sc.stopped_unread.items())}


def _previous_unread(sc: "ScopeContext") -> dict[str, dt.datetime | None]:
    """`UNREAD_KEY` of the scope's last succeeded or partial sync."""
    from flowscope.collectors.unread import parse

    return parse(sc.previous_details().get(UNREAD_KEY))


def is_stopped(site: Mapping[str, Any]) -> bool:
    """A Standard app that is stopped (`properties.state`): it runs nothing, and its workflow runtime,
    through which its workflows and runs are read, does not answer. Its stored workflows stay as
    they are, and its stored running runs wait for it to start again."""
    properties = site.get("properties")
    return isinstance(properties, dict) and str(properties.get("state") or "").lower() == "stopped"


def of_stopped_app(sc: "ScopeContext", workflow_id: Any) -> bool:
    """Whether a (canonical) workflow id belongs to an app this sync found stopped."""
    site = site_of(str(workflow_id or ""))
    return site is not None and site in sc.stopped_sites


def read_plans(sc: "ScopeContext", farms: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """Each app's plan summary (site id -> `plan_summary`), one GET per distinct plan. A plan not
    read is a warning (and `details.plans_failed`), not a gap: runs do not depend on it."""
    from flowscope.collectors.azure import arm

    outcomes = bounded_map(lambda farm: arm.get_server_farm(sc.client, farm), sorted(set(farms.values())),
                           min(4, sc.concurrency), thread_name_prefix="flowscope-plans")
    summaries: dict[str, dict[str, Any]] = {}
    failed: list[dict[str, Any]] = []
    for outcome in outcomes:
        if outcome.error is None:
            # named by the id it was read at when its document has none: the analysis judges a plan's workflows
            # (an app's and its slots') together by it, and by each one's app without it
            summary = plan_summary(cast(dict[str, Any], outcome.result))
            summaries[outcome.item.lower()] = {"id": outcome.item.lower()[:500], **summary}
        elif getattr(outcome.error, "unauthenticated", False):
            sc.failed(outcome.error, "serverfarms.get", outcome.item)
        else:
            failed.append(as_collection_error(outcome.error, "serverfarms.get", outcome.item).as_dict())
    sc.result.count("standard_plans", len(summaries))
    if failed:
        sc.result.count("plans_failed", len(failed))
        sc.result.details["plans_failed"] = failed[:10]
        sc.result.warn(f"{len(failed)} App Service plan(s) of Standard apps not read (first: {failed[0]['message']});"
                       " the Standard-plan cost of their workflows assumes the configured plan size")
    return {site: summaries[farm.lower()] for site, farm in farms.items() if farm.lower() in summaries}


def plan_summary(farm: Mapping[str, Any]) -> dict[str, Any]:
    """What the cost analysis needs of a serverfarms document (pure): SKU name and tier, instances
    (`properties.numberOfWorkers`, else `sku.capacity`, else 1), and for a Workflow Standard SKU
    each instance's vCPU and memory; the plan's id. Nothing else of the document is kept."""
    sku = farm.get("sku") if isinstance(farm.get("sku"), dict) else {}
    assert isinstance(sku, dict)
    props = farm.get("properties") if isinstance(farm.get("properties"), dict) else {}
    assert isinstance(props, dict)
    name = str(sku.get("name") or "").upper()[:20] or None
    instances = next((int(v) for v in (props.get("numberOfWorkers"), sku.get("capacity"))
                      if isinstance(v, int) and not isinstance(v, bool) and v > 0), 1)
    summary: dict[str, Any] = {"id": str(farm.get("id") or "").lower()[:500] or None, "sku": name,
                               "tier": str(sku.get("tier") or "")[:40] or None, "instances": instances}
    size = WORKFLOW_STANDARD_SKUS.get(name or "")
    if size is not None:
        summary["vcpu"], summary["memory_gb"] = size
    return {k: v for k, v in summary.items() if v is not None}


def with_plans(batch: Batch, plans: Mapping[str, dict[str, Any]]) -> Batch:
    """The workflows rows of Standard apps with their app's plan in `attributes.app_service_plan` (pure). A
    deployment slot's workflow gets its slot's plan (`site_of`: the slot is an app of its own); when that was
    not read, its production app's, which a slot runs on unless given its own, with `of_app` naming that app."""
    if plans:
        for row in batch.workflows:
            wf_id = str(row.get(C.workflow_id) or "")
            app, site = site_of(wf_id), production_site_of(wf_id)
            if app is not None and app in plans:
                merge_attributes(row, {PLAN_KEY: plans[app]})
            elif site is not None and site in plans:
                merge_attributes(row, {PLAN_KEY: {**plans[site], "of_app": site}})
    return batch
