"""Azure step 3: trigger histories, fires and polls of every trigger in the window (both are billed)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from flowscope.collectors.azure.context import CLOUD, ScopeContext, props
from flowscope.collectors.throttle import bounded_map
from flowscope.model import utc


def collect_trigger_histories(sc: ScopeContext, workflows: dict[str, dict[str, Any]]) -> None:
    """Fires and polls of every trigger in the window. A fired history joins its run when the run
    was fetched in this sync (the others' runs are stored already); a poll that fired nothing is a
    trigger row of its own (polls are billed), written once, when it has ended: one still running
    is left for the next sync (the watermark held at its start), or it would stay RUNNING for ever."""
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
    for outcome in outcomes:
        if outcome.error is not None:
            sc.failed(outcome.error, "histories.list", outcome.item)
            continue
        histories, stored = cast(tuple[list[dict[str, Any]], set[str]], outcome.result)
        sc.result.count("trigger_histories_listed", len(histories))
        for history in histories:
            owner = _history_owner(history)
            if owner is None:
                continue
            if owner in sc.fetched:
                keep.append(history)
            elif not _fired(history) and owner not in stored:
                started = utc(props(history).get("startTime"))
                if props(history).get("endTime") or started is None:    # without a start it cannot be waited for
                    keep.append(history)
                else:
                    sc.result.count("trigger_polls_running")
                    sc.gap(started)
    if keep:
        sc.sink.add(FORMATS["azure.trigger_histories"]({"value": keep}, sc.ctx("histories.list")))
    sc.result.count("trigger_histories_written", len(keep))


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

