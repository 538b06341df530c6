"""`azure.request_histories`: the HTTP requests an action made -> attempts rows, one per request.

A request history names its action but not its try: the requests of one action in one document
are numbered by start time (`number_request_histories`), so they line up with the action's tries.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flowscope.collectors.azure.transform.ids import ArmId, step_key
from flowscope.collectors.azure.transform.records import CLOUD, as_dict, error_of, first_date, ts
from flowscope.collectors.native import ImportContext
from flowscope.model import Batch, C, Skip, Status, duration_ms


def read_request_history(rec: dict[str, Any], ctx: ImportContext, batch: Batch, position: int) -> None:
    """One HTTP request an action made: an attempt of that action (numbered by start time)."""
    ids = ArmId(rec["id"])
    if ids.run is None or ids.action is None or ids.action_name is None:
        raise ValueError("request history id without /runs/<run>/actions/<action>")
    props = rec.get("properties") or {}
    started = ts(props.get("startTime"))
    ended = ts(props.get("endTime"))
    day = first_date(started, ended, ctx.seen_at)
    if day is None:
        raise ValueError("request history without startTime")
    response = as_dict(props.get("response"))
    code = response.get("statusCode")
    failed = props.get("error") is not None or (isinstance(code, int) and code >= 400)
    status = Status.FAILED if failed else (Status.SUCCEEDED if ended else Status.RUNNING)
    err, cause = error_of(props, status)
    if failed and err is None and code is not None:
        err = str(code)
    batch.attempts.append({
        C.cloud: CLOUD, C.workflow_id: ids.workflow_id, C.execution_id: ids.execution_id,
        C.step_key: step_key(ids.action_name), C.attempt: position, C.started_at: started,
        C.ended_at: ended, C.duration_ms: duration_ms(started, ended), C.status: status.value,
        C.error: err, C.cause: cause, C.start_date: day,
    })



HeldRequests = dict[str, list[tuple[dt.datetime | None, int, dict[str, Any]]]]
"""`<execution_id>|<action>` -> (start, position in the document, record) of each request history."""


def hold_request_history(rec: dict[str, Any], index: int, held: HeldRequests) -> None:
    """Set a request history aside under its action until the whole document is read."""
    owner = ArmId(rec["id"])
    group = f"{owner.execution_id}|{owner.action}"
    start = ts((rec.get("properties") or {}).get("startTime"))
    held.setdefault(group, []).append((start, index, rec))


def number_request_histories(held: HeldRequests, ctx: ImportContext, batch: Batch) -> None:
    """Read the held request histories, each action's numbered by start time (then position)."""
    far = dt.datetime.max.replace(tzinfo=dt.timezone.utc)
    for group in held.values():
        group.sort(key=lambda item: (item[0] or far, item[1]))
        for position, (_, i, rec) in enumerate(group, 1):
            try:
                read_request_history(rec, ctx, batch, position)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                batch.skips.append(Skip(ctx.source_name, f"value[{i}] {rec.get('id', '')}".strip(),
                                        f"azure.request_histories: {exc}"))
