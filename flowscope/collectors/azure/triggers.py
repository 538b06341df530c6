"""Azure step 3: trigger histories, fires and polls of every trigger in the window (both are billed).

A poll that fired nothing is written once it has ended. One still running is remembered by id
(`details.running_polls`, carried to the next sync) and read again by id (`histories.get`), not
waited for by holding the scope's watermark at its start: one stuck Running for days kept every sync
re-listing every workflow from there. One still running after `MAX_POLL_WAIT` is written as last read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, cast

from flowscope.collectors import unread
from flowscope.collectors.azure.context import CLOUD, ScopeContext, props
from flowscope.collectors.throttle import bounded_map
from flowscope.model import utc

POLLS_KEY = "running_polls"
"""collection_runs `details` key: running poll (history id) -> its start, read again by the next sync."""
MAX_POLL_WAIT = dt.timedelta(days=7)
"""A poll is one trigger check (an HTTP request and its retries): one still running after this is
written as last read rather than asked about for ever."""


def collect_trigger_histories(sc: ScopeContext, workflows: dict[str, dict[str, Any]]) -> None:
    """Fires and polls of every trigger in the window. A fired history joins its run when the run
    was fetched in this sync (the others' runs are stored already); a poll that fired nothing is a
    trigger row of its own (polls are billed), written once, when it has ended (`_settle`); the
    polls the last sync left running are read again (`_revisit_polls`)."""
    from flowscope.collectors.azure import arm
    from flowscope.collectors.azure.transform import FORMATS

    def per_workflow(wf_id: str) -> tuple[list[dict[str, Any]], set[str]]:
        if sc.auth_failure is not None:
            return [], set()
        histories: list[dict[str, Any]] = []
        for trigger in arm.list_triggers(sc.client, workflows[wf_id]["id"]):
            histories.extend(arm.list_trigger_histories(sc.client, trigger["id"], sc.lower_bound_for(wf_id)))
        if not histories:
            return [], set()
        return histories, sc.store.execution_ids_of_workflow(CLOUD, wf_id)

    outcomes = bounded_map(per_workflow, list(workflows), min(4, sc.concurrency),
                           thread_name_prefix="flowscope-triggers")
    keep: list[dict[str, Any]] = []
    listed: set[str] = set()
    for outcome in outcomes:
        if outcome.error is not None:
            sc.failed(outcome.error, "histories.list", outcome.item, gap=False)
            unread.mark(sc, outcome.item, sc.lower_bound_for(outcome.item))
            continue
        histories, stored = cast(tuple[list[dict[str, Any]], set[str]], outcome.result)
        sc.result.count("trigger_histories_listed", len(histories))
        for history in histories:
            owner = _history_owner(history)
            if owner is None:
                continue
            listed.add(owner)
            if owner in sc.fetched:
                keep.append(history)
            elif not _fired(history) and owner not in stored:
                keep.extend(_settle(sc, owner, history))
    keep.extend(_revisit_polls(sc, listed))
    if keep:
        sc.sink.add(FORMATS["azure.trigger_histories"]({"value": keep}, sc.ctx("histories.list")))
    sc.result.count("trigger_histories_written", len(keep))
    if sc.running_polls:
        sc.result.details[POLLS_KEY] = {k: v.isoformat() for k, v in sorted(sc.running_polls.items())}


def _settle(sc: ScopeContext, owner: str, history: dict[str, Any]) -> list[dict[str, Any]]:
    """A poll that fired nothing: to be written (ended, or running longer than a poll can), or
    remembered as running (`sc.running_polls`)."""
    started = _start(history)
    if props(history).get("endTime") or started is None:    # without a start it cannot be waited for
        return [history]            # (nor with one that is not a time: the transform says it skips it)
    if started < sc.now - MAX_POLL_WAIT:
        sc.result.count("trigger_polls_given_up")
        sc.result.warn(f"poll(s) that fired nothing still running after {MAX_POLL_WAIT.days} days, e.g. "
                       f"{owner[:300]}: written as last read (Running) and no longer asked about")
        return [history]
    sc.result.count("trigger_polls_running")
    with sc.lock:
        sc.running_polls[owner] = started
    return []


def _revisit_polls(sc: ScopeContext, listed: set[str]) -> list[dict[str, Any]]:
    """The polls the last sync left running (`POLLS_KEY`) that this sync's listings did not return:
    read again by id. One that fired a run since joins that run as a listed fire does (the run,
    started after the last sync, is this sync's). One Azure no longer has (404) is dropped and
    counted; one that cannot be read is an error and stays remembered; one of an app found stopped
    waits for it, unasked."""
    from flowscope.collectors.azure import arm
    from flowscope.collectors.azure.standard import of_stopped_app

    table = sc.previous_details().get(POLLS_KEY)
    todo: list[tuple[str, dt.datetime]] = []
    for poll, start in (table.items() if isinstance(table, dict) else ()):
        started = _start({"properties": {"startTime": start}})
        if poll in listed or started is None:
            continue
        if of_stopped_app(sc, poll.split("/triggers/", 1)[0]):
            sc.running_polls[poll] = started
        else:
            todo.append((poll, started))
    if not todo:
        return []
    sc.result.count("trigger_polls_revisited", len(todo))
    keep: list[dict[str, Any]] = []
    for outcome in bounded_map(lambda item: arm.get_trigger_history(sc.client, item[0]), todo,
                               min(4, sc.concurrency), thread_name_prefix="flowscope-polls"):
        poll, started = outcome.item
        if outcome.error is None:
            history = cast(dict[str, Any], outcome.result)
            if not _fired(history):
                keep.extend(_settle(sc, poll, history))
            elif _history_owner(history) in sc.fetched:     # it fired a run since: it joins the run
                keep.append(history)
        elif getattr(outcome.error, "gone", False):
            sc.result.count("trigger_polls_gone")
        else:
            sc.failed(outcome.error, "histories.get", poll, gap=False)
            sc.running_polls[poll] = started
    return keep


def _start(history: Mapping[str, Any]) -> dt.datetime | None:
    """A history's start, None when absent or not a time (cloud text is untrusted)."""
    try:
        return utc(props(history).get("startTime"))
    except (AttributeError, TypeError, ValueError):
        return None


def _fired(history: Mapping[str, Any]) -> bool:
    return bool(props(history).get("fired"))


def _history_owner(history: Mapping[str, Any]) -> str | None:
    """The execution id a trigger history's row belongs to (its run, or the history itself)."""
    from flowscope.collectors.azure.transform import ArmId

    try:
        ids = ArmId(str(history.get("id")))
    except ValueError:
        return None
    if ids.trigger is None or ids.history is None:
        return None
    properties = props(history)
    run = properties.get("run") if isinstance(properties.get("run"), dict) else {}
    assert isinstance(run, dict)
    if run.get("id"):
        try:
            return ArmId(str(run["id"])).execution_id
        except ValueError:
            return None
    if run.get("name") and properties.get("fired"):
        return f"{ids.workflow_id}/runs/{str(run['name']).lower()}"
    return f"{ids.workflow_id}/triggers/{ids.trigger}/histories/{ids.history}"

