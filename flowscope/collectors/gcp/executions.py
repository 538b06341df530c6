"""GCP steps 1 to 3: workflows, executions of the window with their step entries, and stored
running executions revisited.

1. Workflows: listed (current revision, definition with callLogLevel and executionHistoryLevel);
   a past revision that executions ran on is fetched once (its definition tells internal from
   external calls, hence the billing meter).
2. Executions: listed per workflow with `createTime >= watermark - lag` (BASIC view, every page;
   earlier for a workflow the last sync could not read: `unread.py`);
   executions stored as terminal are skipped; the rest get their step entries (paged) and, when
   they failed or were cancelled, their FULL view (error). A finished execution without step
   entries (history not recorded) is said in collection_runs, naming the workflow; one whose
   workflow logs calls waits for them (`call_logs.py`), as do those on the logs path.
3. Stored ACTIVE/QUEUED executions the listing did not return are revisited until terminal; one
   the API no longer has (404, retention) is marked `gone` (`scope_run.mark_gone`) and not asked again.
   One that cannot be read (or its step entries) is an error of the sync but holds no watermark:
   stored RUNNING, it is read again by id by the next sync (an execution running for days whose
   reads failed kept the scope's watermark where it was for as long as they failed).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from flowscope.collectors import source_config as cfg
from flowscope.collectors import unread
from flowscope.collectors.gcp.context import (
    CLOUD,
    NATIVE_TERMINAL,
    TERMINAL,
    ScopeContext,
    as_error,
    listed_again_from,
    location_of,
    raise_auth,
    workflow_of,
)
from flowscope.collectors.gcp.log_path import call_logging_on, logs_settled, on_logs_path
from flowscope.collectors.gcp.transform.workflows import CURRENT_WORKFLOWS
from flowscope.collectors.scope_run import gone_mark, mark_gone
from flowscope.collectors.throttle import bounded_map
from flowscope.collectors.window import CollectionError
from flowscope.model import C


def list_workflows(sc: ScopeContext) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """1. The scope's locations and workflows (name -> document); their workflows rows queued.

    A listing failure of the scope's own location fails the scope (nothing else can be known);
    with every location, one unreachable location is recorded and the others go on, unless no
    location could be listed at all: then the scope fails too (every failure recorded)."""
    from flowscope.collectors.gcp import workflows_api
    from flowscope.collectors.gcp.clients import GcpAuthError

    scope, result = sc.scope, sc.result
    locations = [scope.location] if scope.location else workflows_api.list_locations(sc.clients, scope.project)
    workflows: dict[str, dict[str, Any]] = {}
    with_workflows: list[str] = []
    failures: list[CollectionError] = []
    for location in locations:
        try:
            found = cfg.match_names(workflows_api.list_workflows(sc.clients, scope.project, location),
                                    scope.globs, lambda w: workflows_api.short_name(w.get("name")), result)
        except GcpAuthError:
            raise
        except Exception as exc:  # noqa: BLE001 - HTTP and connection errors alike: that location's failure
            if scope.location:
                raise
            failures.append(as_error(exc, "workflows.list", f"projects/{scope.project}/locations/{location}"))
            continue
        if found:
            with_workflows.append(location)
        for doc in found:
            workflows[str(doc["name"])] = doc
    if failures and len(failures) == len(locations):
        for failure in failures[1:]:
            result.record_error(failure)
        raise failures[0]               # not one location listed: nothing can be known
    for failure in failures:
        result.record_error(failure)
        sc.gap(None)
    result.count("workflows", len(workflows))
    if not workflows and not scope.globs and not failures:     # a glob matching nothing: said by match_names
        where = f"location {scope.location}" if scope.location else "any location"
        result.warn(f"no workflows in project {scope.project}, {where}: nothing to collect (check the source's "
                    "project and locations, and that the credentials may list workflows there)")
    if not scope.location:
        result.details["locations"] = with_workflows
    if workflows:
        sc.sink.add(sc.formats["gcp.workflow"]({"workflows": list(workflows.values())}, sc.ctx("workflows.list")))
    return (with_workflows if not scope.location else locations), workflows


def list_executions(sc: ScopeContext, workflows: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """2. Each workflow's executions in the window; returns those not yet stored as terminal.

    One workflow whose executions cannot be listed is an error of the sync (the others go on); not
    one listing answering (a role without executions.list: every one a 403) fails the scope, every
    workflow's error recorded: nothing of it can be collected (it said `partial` and exited 0)."""
    from flowscope.collectors.gcp import executions_api

    def listing(name: str) -> list[dict[str, Any]]:
        # The API pages dynamic data, newest first: an execution created between two pages pushes
        # the rest down and the last of a page comes again on the next. One execution, listed once
        # (its latest listing kept).
        items = executions_api.list_executions(sc.clients, name, location=location_of(name),
                                               lower_bound=sc.lower_bound_for(name))
        return list({str(it["name"]): it for it in items}.values())

    todo: list[dict[str, Any]] = []
    failures: list[CollectionError] = []
    for outcome in bounded_map(listing, sorted(workflows), min(4, sc.scope.concurrency),
                               thread_name_prefix="flowscope-gcp-list"):
        if outcome.error is not None:
            raise_auth(outcome.error)
            failures.append(as_error(outcome.error, "executions.list", outcome.item))
            sc.result.record_error(failures[-1])
            unread.mark(sc, outcome.item, sc.lower_bound_for(outcome.item))     # the watermark not held
            continue
        items = cast(list[dict[str, Any]], outcome.result)
        names = [str(it["name"]) for it in items]
        with sc.lock:
            sc.seen.update(names)
        stored = sc.store.existing_execution_ids(CLOUD, names) or {}
        fresh = [it for it in items if stored.get(str(it["name"])) not in TERMINAL]
        with sc.lock:
            sc.stored_unfinished.update(str(it["name"]) for it in fresh if str(it["name"]) in stored)
        sc.result.count("executions_listed", len(items))
        sc.result.count("executions_skipped_terminal", len(items) - len(fresh))
        todo.extend(fresh)
    if failures and len(failures) == len(workflows):
        raise CollectionError(f"executions of none of the {len(workflows)} workflows could be listed; first: "
                              f"{failures[0]}", operation="executions.list", code=failures[0].code,
                              target=failures[0].target)
    return todo


def fetch_revisions(sc: ScopeContext, workflows: dict[str, dict[str, Any]], todo: list[dict[str, Any]]) -> None:
    """Past revisions that executions ran on, not stored yet: their definitions decide the meters. Their rows
    are dated by their own creation, before the listed current revision's (the newest `seen_at` is current)."""
    from flowscope.collectors.gcp import workflows_api

    current = {(name, doc.get("revisionId")) for name, doc in workflows.items()}
    wanted = {(workflow_of(str(it["name"])), it.get("workflowRevisionId")) for it in todo}
    wanted = {(w, r) for w, r in wanted if r and (w, r) not in current and w in workflows}
    if not wanted:
        return
    try:
        stored = {(row[C.workflow_id], row[C.revision]) for row in sc.store.read_rows("workflows")
                  if row[C.cloud] == CLOUD}
    except Exception:  # noqa: BLE001 - a store without a workflows table yet
        stored = set()
    docs = []
    for name, revision in sorted(wanted - stored):
        try:
            docs.append(workflows_api.get_revision(sc.clients, name, str(revision), location_of(name)))
            sc.result.count("revisions_fetched")
        except Exception as exc:  # noqa: BLE001 - metadata: the executions are still collected
            raise_auth(exc)
            why = as_error(exc, "workflows.get", name)
            sc.result.warn(f"revision {revision} of {name} could not be read ({why}); "
                           "its executions are billed by the current definition")
    if docs:        # past revisions: dated before the listed current ones (`transform.workflows.revision_seen_at`)
        listed = [workflows[name] for name in sorted({name for name, _ in wanted})]
        sc.sink.add(sc.formats["gcp.workflow"]({"workflows": docs},
                                               sc.ctx("workflows.get", options={CURRENT_WORKFLOWS: listed})))



def fetch_executions(sc: ScopeContext, items: Sequence[dict[str, Any]], *, entries_only: bool = False) -> None:
    """Step entries (and the FULL view where needed) of each execution, with bounded concurrency.

    `entries_only`: executions the logs path read no call log of (`call_logs`): their step
    entries are read and they are written with them (or without steps), never sent back to the
    logs. Every execution refused (HTTP 403) fails the scope: the role lacks a read, and partial
    with nothing stored exited 0 every night."""
    outcomes = bounded_map(lambda it: _fetch_one(sc, it, entries_only=entries_only), list(items),
                           sc.scope.concurrency, thread_name_prefix="flowscope-gcp-steps")
    refused: list[CollectionError] = []
    for outcome in outcomes:
        if outcome.error is None:
            continue
        raise_auth(outcome.error)
        item = outcome.item
        err = as_error(outcome.error, "stepEntries.list", item["name"])
        sc.result.record_error(err)
        if getattr(outcome.error, "http_status", None) == 403:
            refused.append(err)
        if str(item["name"]) not in sc.stored_unfinished:   # a stored running one is read again by id anyway
            workflow = workflow_of(str(item["name"]))     # its workflow listed again from its creation
            unread.mark(sc, workflow, listed_again_from(sc, item) or sc.lower_bound_for(workflow))
    if refused and len(refused) == len(outcomes):
        # a role without workflows.stepEntries.list (its own permission): not one can ever be stored
        raise CollectionError(f"step entries of none of the {len(outcomes)} executions could be read (each "
                              "refused, HTTP 403: check that the role grants workflows.stepEntries.list, "
                              f"docs/gcp-role.md); first: {refused[0]}", operation=refused[0].operation,
                              code=refused[0].code, target=refused[0].target)


def _fetch_one(sc: ScopeContext, item: dict[str, Any], *, entries_only: bool = False) -> None:
    from flowscope.collectors.gcp import executions_api, step_entries
    from flowscope.collectors.gcp.clients import GcpApiError

    name = str(item["name"])
    location = location_of(name)
    doc = item
    try:
        if executions_api.needs_full(item) and not entries_only:      # the logs path read it already
            doc = executions_api.get_execution(sc.clients, name, location=location, view="FULL")
        if not entries_only and on_logs_path(sc, doc):
            with sc.lock:
                sc.bulk.setdefault(workflow_of(name), []).append(doc)
            sc.result.count("executions_fetched")
            sc.result.count("executions_on_logs_path")
            return
        entries, pages = step_entries.list_step_entries(sc.clients, name, location=location)
    except GcpApiError as exc:
        if not exc.gone:
            raise
        _gone_while_listed(sc, item, exc)
        return
    if not entries_only:                     # counted once, on the logs path
        sc.result.count("executions_fetched")
    sc.result.count("step_entries", len(entries))
    sc.result.count("step_entry_pages", pages)
    if not entries and doc.get("state") in NATIVE_TERMINAL:
        if call_logging_on(sc, doc) and not logs_settled(sc, doc) and not entries_only:
            _await_call_logs(sc, doc)
            return
        _no_history(sc, name, doc)
        if call_logging_on(sc, doc) and not entries_only:
            with sc.lock:
                sc.deferred.append(doc)       # written with its call logs (`read_call_logs`)
            return
    batch = sc.formats["gcp.executions"]({"executions": [doc]}, sc.ctx(f"executions.list {workflow_of(name)}"))
    batch.extend(sc.formats["gcp.step_entries"]({"stepEntries": entries},
                                                sc.ctx(f"stepEntries.list {name}", execution_id=name)))
    sc.sink.add(batch)


def _await_call_logs(sc: ScopeContext, doc: dict[str, Any]) -> None:
    """A just-finished execution without step entries whose calls come from Cloud Logging: not
    written yet (its call logs may not all be readable), the watermark held at its start, so the
    next sync lists it again and reads them."""
    sc.result.count("executions_awaiting_call_logs")
    sc.note("executions_awaiting_call_logs", str(doc["name"]))
    sc.gap(listed_again_from(sc, doc))


def _gone_while_listed(sc: ScopeContext, item: dict[str, Any], exc: BaseException) -> None:
    """Listed, then gone (retention) before its entries were read: keep what the listing said, say so."""
    name = str(item["name"])
    sc.sink.add(sc.formats["gcp.executions"]({"executions": [item]}, sc.ctx(f"executions.list {workflow_of(name)}")))
    sc.result.count("executions_gone")
    sc.note("executions_gone", name)
    sc.result.record_error(as_error(exc, "stepEntries.list", name))    # its steps are missing: partial


def _no_history(sc: ScopeContext, name: str, doc: dict[str, Any]) -> None:
    """A finished execution without step entries: history was not recorded for it (noticed, not assumed)."""
    workflow = workflow_of(name)
    sc.result.count("executions_without_step_entries")
    sc.note("executions_without_step_entries", workflow, 1)
    level = doc.get("executionHistoryLevel") or "not set"
    sc.result.warn(f"workflow {workflow.rsplit('/', 1)[-1]} ({workflow}): finished executions without step "
                   f"entries (execution history not recorded; executionHistoryLevel {level}): their steps and "
                   "billed steps are missing (partial executions)")



def revisit_running(sc: ScopeContext, locations: Sequence[str]) -> None:
    """3. Stored RUNNING executions the listing did not return again: fetched until terminal.

    A scope of every location looks at all the project's stored ones, not only those of the
    locations that still list workflows: a location whose last workflow was deleted would
    otherwise leave its executions RUNNING for ever (asked for, they are marked gone)."""
    from flowscope.collectors.gcp import executions_api
    from flowscope.collectors.gcp.clients import GcpApiError

    rows: list[dict[str, Any]] = []
    regions: Sequence[str | None] = locations if sc.scope.location else [None]
    try:
        for location in regions:
            rows.extend(sc.store.running_executions(CLOUD, account=sc.scope.project, region=location))
    except Exception as exc:  # noqa: BLE001
        sc.result.record_error(CollectionError(f"reading stored running executions failed: {exc}",
                                               operation="store.running_executions"))
        return
    globs = sc.scope.globs
    todo = [r for r in rows if r[C.execution_id] not in sc.seen and not gone_mark(r)
            and cfg.name_matches(str(r.get(C.workflow_name)), globs)]
    if not todo:
        return
    sc.result.count("running_revisited", len(todo))
    sc.stored_unfinished.update(str(r[C.execution_id]) for r in todo)

    def get(row: dict[str, Any]) -> dict[str, Any]:
        name = str(row[C.execution_id])
        return executions_api.get_execution(sc.clients, name, location=location_of(name), view="BASIC")

    items: list[dict[str, Any]] = []
    gone: list[tuple[dict[str, Any], str]] = []
    for outcome in bounded_map(get, todo, sc.scope.concurrency, thread_name_prefix="flowscope-gcp-get"):
        if outcome.error is None:
            items.append(cast(dict[str, Any], outcome.result))
            continue
        raise_auth(outcome.error)
        err = as_error(outcome.error, "executions.get", outcome.item[C.execution_id])
        if isinstance(outcome.error, GcpApiError) and outcome.error.gone:
            gone.append((outcome.item, err.code or "NOT_FOUND"))
        else:       # still stored RUNNING: read again by id next sync, the watermark not held for it
            sc.result.record_error(err)
    if gone:
        for row, _ in gone:
            sc.note("running_gone", str(row[C.execution_id]))
        mark_gone(sc.sink, sc.result, gone, sc.now, noun="running execution(s)",
                  where="GCP (retention or workflow deleted)")
    fetch_executions(sc, items)

