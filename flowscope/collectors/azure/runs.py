"""Azure steps 2 and 4, the management path: the runs of the window and their details, and stored
RUNNING runs revisited until terminal.

Per workflow the runs that started in the window are listed; every run not already stored as
terminal gets its actions (with retryHistory), the repetitions of actions inside loops and the
iterations of the loops themselves (and, opted in, retried actions' request histories), all
transformed together and queued. A stored RUNNING run the listing did not return is read again;
one Azure no longer has is marked gone (`scope_run.mark_gone`) and never asked about again.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, cast

from flowscope.collectors import unread
from flowscope.collectors.azure.context import CLOUD, TERMINAL, ScopeContext, props, run_start
from flowscope.collectors.native import cleaned
from flowscope.collectors.scope_run import gone_mark, mark_gone
from flowscope.collectors.throttle import bounded_map
from flowscope.collectors.window import CollectionError, as_collection_error
from flowscope.model import C


def list_runs(sc: ScopeContext, workflows: dict[str, dict[str, Any]], *, only_path: bool = True
              ) -> list[dict[str, Any]]:
    """The runs of the window that need their details (not stored as terminal).

    One workflow whose runs cannot be listed is an error of the sync (the others go on); when not
    one listing answered and these workflows are the scope's `only_path` (no Log Analytics path
    beside them), nothing can be collected: the scope fails (a role without runs/read exited 0,
    `partial`, every night), every workflow's error recorded."""
    from flowscope.collectors.azure import arm
    from flowscope.collectors.azure.transform import canonical_execution_id

    def listing(wf_id: str) -> list[dict[str, Any]]:
        if sc.auth_failure is not None:
            return []
        return arm.list_runs(sc.client, workflows[wf_id]["id"], sc.lower_bound_for(wf_id))

    todo: list[dict[str, Any]] = []
    without_history: list[str] = []
    failures: list[BaseException] = []
    for outcome in bounded_map(listing, list(workflows), min(4, sc.concurrency), thread_name_prefix="flowscope-runs"):
        if outcome.error is not None:
            sc.failed(outcome.error, "runs.list", outcome.item, gap=False)
            unread.mark(sc, outcome.item, sc.lower_bound_for(outcome.item))
            failures.append(outcome.error)
            continue
        runs = cast(list[dict[str, Any]], outcome.result)
        if not runs and stateless(workflows[outcome.item]):
            without_history.append(str(workflows[outcome.item].get("name")))
        ids = {}
        for run in runs:
            try:
                ids[canonical_execution_id(run["id"]) or ""] = run
            except ValueError:
                sc.result.record_error({"operation": "runs.list", "code": "BadId",
                                        "message": f"not a run id: {cleaned(str(run.get('id')), 200)}"})
        ids.pop("", None)
        sc.seen.update(ids)
        stored = sc.store.existing_execution_ids(CLOUD, list(ids)) or {}
        fresh = [(rid, run) for rid, run in ids.items() if stored.get(rid) not in TERMINAL]
        with sc.lock:
            sc.absent.update(rid for rid, _ in fresh if rid not in stored)
        todo.extend(run for _, run in fresh)
        sc.result.count("runs_listed", len(ids))
        sc.result.count("runs_skipped_terminal", len(ids) - len(fresh))
    if without_history:
        _say_stateless(sc, sorted(without_history))
    if only_path and failures and len(failures) == len(workflows) and sc.auth_failure is None:
        first = as_collection_error(failures[0], "runs.list", None)
        raise CollectionError(f"runs of none of the {len(workflows)} workflows could be listed; first: {first}",
                              operation="runs.list", code=first.code, target=first.target)
    return todo


def stateless(workflow: Mapping[str, Any]) -> bool:
    """A Standard workflow of kind Stateless (the envelope's `kind`, or its workflow.json's)."""
    kind = workflow.get("kind")
    files = props(workflow).get("files")
    wf_file = files.get("workflow.json") if isinstance(files, dict) else None
    if not isinstance(kind, str) and isinstance(wf_file, dict):
        kind = wf_file.get("kind")
    return isinstance(kind, str) and kind.lower() == "stateless"


def _say_stateless(sc: ScopeContext, names: list[str]) -> None:
    """Stateless workflows that listed no run: Azure keeps no run history for them unless it is
    turned on, so "no runs" there means "runs not visible", never "did not run"."""
    sc.result.details["stateless_without_history"] = names[:50]
    sc.result.warn(f"{len(names)} Standard workflow(s) are stateless and listed no run, e.g. {names[0][:200]}: "
                   "Azure keeps no run history for stateless workflows unless it is enabled "
                   "(Workflows.<name>.OperationOptions = WithStatelessRunHistory), so their runs cannot be collected")



def fetch_runs(sc: ScopeContext, runs: list[dict[str, Any]]) -> None:
    """Details of each run (bounded concurrency); failures recorded per run, never stopping the rest.
    A run not stored yet is listed again by the next sync (its workflow from its start: `unread`);
    one stored RUNNING is read again by id anyway. Every run refused (HTTP 403) fails the scope:
    the role lacks a read, and partial with nothing stored exited 0 every night."""
    from flowscope.collectors.azure.transform import canonical_execution_id, canonical_workflow_id

    outcomes = bounded_map(lambda run: _collect_run(sc, run), runs, sc.concurrency,
                           thread_name_prefix="flowscope-run")
    refused: list[BaseException] = []
    for outcome in outcomes:
        if outcome.error is not None:
            run = outcome.item
            sc.failed(outcome.error, "run details", cleaned(str(run.get("id")), 300), gap=False)
            if getattr(outcome.error, "status", None) == 403:
                refused.append(outcome.error)
            if canonical_execution_id(run["id"]) in sc.absent:
                workflow = canonical_workflow_id(run["id"])
                unread.mark(sc, workflow, run_start(run) or sc.lower_bound_for(workflow))
    if refused and len(refused) == len(outcomes):
        # a role without runs/actions/read (or repetitions/read): not one run can ever be stored
        first = as_collection_error(refused[0], "run details", None)
        raise CollectionError(f"the details of none of the {len(runs)} runs could be read (each refused, "
                              f"HTTP 403: check the role grants docs/azure-role.json); first: {first}",
                              operation=first.operation, code=first.code, target=first.target)


def _collect_run(sc: ScopeContext, run: dict[str, Any]) -> None:
    """One run: its actions, loop repetitions and iterations, transformed together and queued."""
    from flowscope.collectors.azure.transform import FORMATS, canonical_execution_id, canonical_workflow_id

    if sc.auth_failure is not None:
        return
    run_id = canonical_execution_id(run["id"]) or ""
    absent = run_id in sc.absent
    try:
        records = [run, *_run_details(sc, run, canonical_workflow_id(run["id"]))]
    except Exception as exc:
        if getattr(exc, "gone", False) and _run_gone(sc, run):
            with sc.lock:
                sc.gone.append(run_id)
            sc.result.count("runs_gone")
            return
        raise
    count_unknown_statuses(sc, records)
    batch = FORMATS["azure.runs"]({"value": records}, sc.ctx(f"runs {run_id}"))
    sc.sink.add(batch, absent=[(CLOUD, run_id)] if absent else ())
    with sc.lock:
        sc.fetched.add(run_id)
    sc.result.count("runs_fetched")
    sc.result.count("action_records", len(records) - 1)


def _run_gone(sc: ScopeContext, run: dict[str, Any]) -> bool:
    """Whether a run whose details answered 404 is itself gone (deleted since the listing): asked
    again (`runs.get`). A run that is still there makes the 404 an error of that run, not a run
    silently left out."""
    from flowscope.collectors.azure import arm

    try:
        arm.get_run(sc.client, run["id"])
    except Exception as exc:  # noqa: BLE001 - only a 404 says gone; anything else keeps the first error
        return bool(getattr(exc, "gone", False))
    return False


def _run_details(sc: ScopeContext, run: dict[str, Any], workflow_id: str) -> list[dict[str, Any]]:
    """Actions of a run, plus the repetitions of actions inside loops and the loops' iterations
    (which ones: from the workflow's definition), and, when enabled, the request histories of
    retried actions. A skipped action outside loops has none; inside a loop its record tells one
    iteration's status only (Skipped in the last, it may have run in others), so its repetitions
    are still read (a 404 there is none)."""
    from flowscope.collectors.azure import arm

    actions = arm.list_actions(sc.client, run["id"])
    definition = sc.definition_for(workflow_id, run)
    out = list(actions)
    for action in actions:
        name = str(action.get("name") or "")
        properties = props(action)
        if not isinstance(action.get("id"), str):
            continue
        skipped = str(properties.get("status") or "").lower() == "skipped"
        info = definition.get(name) if definition is not None else None
        in_loop = info is not None and definition is not None and bool(definition.loop_ancestors(name))
        # inside loops the action's record is its last visit's: the tries are the repetitions'
        if sc.request_histories and _retried(action) and not skipped and not in_loop:
            out.extend(_request_histories(sc, action))
        if info is None or definition is None or (skipped and not in_loop):
            continue
        if in_loop:
            repetitions = _unless_gone(arm.list_repetitions, sc, action["id"], skipped)
            out.extend(repetitions)
            if sc.request_histories:
                for repetition in repetitions:
                    if _retried(repetition) and str(props(repetition).get("status") or "").lower() != "skipped":
                        out.extend(_request_histories(sc, repetition))
        if info.is_loop:
            out.extend(_unless_gone(arm.list_scope_repetitions, sc, action["id"], skipped))
    return out


def _unless_gone(listing: Callable[[Any, str], list[dict[str, Any]]], sc: ScopeContext, action_id: str,
                 skipped: bool) -> list[dict[str, Any]]:
    """The records `listing` gives; for a skipped action, a 404 (it never ran in any iteration) is none."""
    try:
        return listing(sc.client, action_id)
    except Exception as exc:
        if skipped and getattr(exc, "gone", False):
            return []
        raise


def _retried(record: Mapping[str, Any]) -> bool:
    return bool(props(record).get("retryHistory")) and isinstance(record.get("id"), str)


def _request_histories(sc: ScopeContext, record: dict[str, Any]) -> list[dict[str, Any]]:
    """Each try's own times for a retried action or visit inside loops (a repetition); a 404
    (actions that make no HTTP request) is none."""
    from flowscope.collectors.azure import arm

    try:
        if "/repetitions/" in str(record["id"]).lower():
            return arm.list_repetition_request_histories(sc.client, record)
        return arm.list_request_histories(sc.client, record["id"])
    except Exception as exc:
        if getattr(exc, "gone", False):
            return []
        raise


def count_unknown_statuses(sc: ScopeContext, records: Sequence[Mapping[str, Any]]) -> None:
    from flowscope.collectors.azure.transform import STATUS_MAP

    for rec in records:
        props = rec.get("properties")
        status = props.get("status") if isinstance(props, dict) else None
        if isinstance(status, str) and status.lower() not in STATUS_MAP:
            with sc.lock:
                sc.unknown_statuses[status[:40]] = sc.unknown_statuses.get(status[:40], 0) + 1



def revisit_running(sc: ScopeContext, workflows: dict[str, dict[str, Any]], *,
                    listed: Collection[str] = (), in_scope: Callable[[Mapping[str, Any]], bool] | None = None) -> None:
    """Stored RUNNING runs of this scope's workflows that the listing did not return: read again
    (details when they changed, by the revision each ran on); a run the API no longer has is
    marked gone, not retried. `in_scope` also takes the runs of this scope's workflows that were
    not listed at all (deleted, or renamed): asked for once, they are marked gone instead of
    staying RUNNING for ever. `listed`: workflows read another way (the Log Analytics path)."""
    from flowscope.azure_ids import in_slot
    from flowscope.collectors.azure import arm
    from flowscope.collectors.azure.standard import of_stopped_app
    from flowscope.collectors.azure.workflows import collect_versions, consumption

    try:
        rows = sc.store.running_executions(CLOUD, account=None)
    except Exception as exc:  # noqa: BLE001 - recorded: the revisit is part of the collection
        sc.result.record_error(CollectionError(f"reading stored running runs failed: {exc}",
                                               operation="store.running_executions"))
        return

    def wanted(row: Mapping[str, Any]) -> bool:
        workflow = row.get(C.workflow_id)
        if workflow in workflows:
            return True
        if of_stopped_app(sc, workflow) or in_slot(str(workflow)):
            return False          # a stopped app's runtime does not answer; no documented API serves a slot's runs
        return workflow not in listed and in_scope is not None and in_scope(row)

    slot_runs = [r for r in rows if in_slot(str(r.get(C.workflow_id))) and in_scope is not None and in_scope(r)
                 and not gone_mark(r)]
    if slot_runs:
        sc.result.count("slot_runs_not_revisited", len(slot_runs))
        sc.result.warn(f"{len(slot_runs)} stored running run(s) of deployment slots (imported, e.g. "
                       f"{slot_runs[0][C.execution_id][:300]}) not asked about: no documented API serves a slot's runs "
                       "(the collector lists slots and their workflows only); importing the slot's runs again "
                       "updates them")
    todo = [r for r in rows if wanted(r) and r[C.execution_id] not in sc.seen and not gone_mark(r)]
    if not todo:
        return
    sc.result.count("running_revisited", len(todo))

    def read(row: dict[str, Any]) -> dict[str, Any]:
        return arm.get_run(sc.client, row[C.execution_id])

    gone: list[dict[str, Any]] = []
    again: list[dict[str, Any]] = []
    for outcome in bounded_map(read, todo, sc.concurrency, thread_name_prefix="flowscope-revisit"):
        if outcome.error is None:
            again.append(cast(dict[str, Any], outcome.result))
        elif getattr(outcome.error, "gone", False):
            gone.append(outcome.item)
        else:       # still stored RUNNING: read again by id next sync, the watermark not held for it
            sc.failed(outcome.error, "runs.get", outcome.item[C.execution_id], gap=False)
    if gone:
        ids = mark_gone(sc.sink, sc.result, [(row, "NotFound") for row in gone], sc.now,
                        noun="RUNNING run(s)", where="Azure (HTTP 404)")
        with sc.lock:
            sc.gone.extend(ids)
    collect_versions(sc, consumption(workflows), again)
    fetch_runs(sc, again)

