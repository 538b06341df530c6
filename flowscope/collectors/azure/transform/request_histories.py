"""`azure.request_histories`: the HTTP requests an action made -> attempts pieces, placed by `assemble`.

A request history is one HTTP request and its response (the REST example: an HTTP Webhook's
subscription, answered 302), not a try: a webhook subscribes and later unsubscribes, an
asynchronous HTTP action polls its `Location`, and each retry of a retry policy makes its own
request, so an action has as many request histories as requests, and any number per try. A
request history names its action but neither its try nor its position among the action's
requests: it is read as an attempts piece numbered `REQUEST` (0), which `assemble` places in the
try whose time it falls in (`assemble._place_requests`): it only gives that try its start time
when the try has none (the final try of a retried action). It never adds a try. One of a visit
inside loops (`{repetition}/requestHistories`) goes to that visit's step when it carries the
visit's `repetitionIndexes` (the live collector adds them); without them, to the action's own
record, which a loop's visits replace (it places nothing).
"""

from __future__ import annotations

from typing import Any

from flowscope.collectors.azure.transform.ids import ArmId, step_key
from flowscope.collectors.azure.transform.records import (
    CLOUD,
    as_dict,
    error_of,
    first_date,
    properties_of,
    repetition_indexes,
    ts,
)
from flowscope.collectors.native import ImportContext
from flowscope.model import Batch, C, Status, duration_ms

REQUEST = 0
"""The attempt number of a request history's piece until `assemble` places it (tries count from 1)."""


def read_request_history(rec: dict[str, Any], ctx: ImportContext, batch: Batch) -> None:
    """One HTTP request an action made: a piece of one of its tries (placed by `assemble`)."""
    ids = ArmId(rec["id"])
    if ids.run is None or ids.action is None or ids.action_name is None:
        raise ValueError("request history id without /runs/<run>/actions/<action>")
    props = properties_of(rec)
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
    # a visit inside loops: the collector adds its repetition's indexes (`arm.list_repetition_request_histories`)
    indexes = repetition_indexes(props) if ids.repetition else []
    batch.attempts.append({
        C.cloud: CLOUD, C.workflow_id: ids.workflow_id, C.execution_id: ids.execution_id,
        C.step_key: step_key(ids.action_name, indexes), C.attempt: REQUEST, C.started_at: started,
        C.ended_at: ended, C.duration_ms: duration_ms(started, ended), C.status: status.value,
        C.error: err, C.cause: cause, C.start_date: day,
    })
