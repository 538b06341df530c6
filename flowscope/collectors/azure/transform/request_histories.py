"""`azure.request_histories`: the HTTP requests an action made -> attempts pieces, placed by `assemble`.

A request history is one HTTP request and its response (the REST example: an HTTP Webhook's
subscription, answered 302), not a try: a webhook subscribes and later unsubscribes, an
asynchronous HTTP action polls its `Location`, and each retry of a retry policy makes its own
request, so an action has as many request histories as requests, and any number per try. A
request history names its action but neither its try nor its position among the action's
requests: it is read as an attempts piece numbered `REQUEST` (0), which `assemble` places in the
try whose time it falls in (`assemble._place_requests`): it only gives that try its start time
when the try has none (the final try of a retried action). It never adds a try.

One of a visit inside loops (`{repetition}/requestHistories`) goes to that visit's step. Its record
names the repetition (`.../repetitions/000001/...`) but not the iteration: the live collector copies
the visit's `repetitionIndexes` onto it; an imported one takes them from that repetition's record in
any file of the same import (`import_options`). With neither it is a skip with its line: keyed to the
action alone it waited as attempt 0 until the action's aggregate record arrived and dropped it, and
the visit's final try never got its start. A request read at a looped action's own level
(`{action}/requestHistories`) names no iteration at all: a skip when the import holds the action's
repetitions, else dropped with the aggregate record once its visits are known (`assemble`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from flowscope.collectors.azure.transform.detect import record_format, records_of
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
from flowscope.collectors.native import ImportContext, NativeFormatError, StoredRows, nothing_stored
from flowscope.model import Batch, C, Status, duration_ms

REQUEST = 0
"""The attempt number of a request history's piece until `assemble` places it (tries count from 1)."""

LOOP_VISITS = "azure.loop_visits"
"""`ImportContext.options` key: the `LoopVisits` of every repetition record of the import (`import_options`)."""

Indexes = list[tuple[str, int]]
VisitKey = tuple[str | None, str, str]
"""(execution id, action, repetition), lower-case as `ArmId` gives them: one visit of an action inside loops."""


@dataclass(frozen=True)
class LoopVisits:
    """What the repetition records of one import say: each visit's loop indexes, and which actions repeat."""

    indexes: dict[VisitKey, Indexes] = field(default_factory=dict)
    actions: frozenset[tuple[str | None, str]] = frozenset()


def import_options(docs: Iterable[tuple[str, Any]], stored: StoredRows = nothing_stored) -> dict[str, Any]:
    """The options every Logic Apps document of one import is read with (`collectors.native`): the loop
    visits its repetition records name, whichever file holds them, for the request histories that do not.
    `stored` is not read: the repetition record must be of the same import (the module doc)."""
    indexes: dict[VisitKey, Indexes] = {}
    for _fmt, doc in docs:
        for rec in _records(doc):
            if record_format(rec) == "azure.action_repetitions":
                found = _visit(rec)
                if found is not None:
                    indexes[found[0]] = found[1]
    if not indexes:
        return {}
    return {LOOP_VISITS: LoopVisits(indexes, frozenset(key[:2] for key in indexes))}


def _records(doc: Any) -> list[Any]:
    try:
        return records_of(doc, ImportContext())[0]
    except NativeFormatError:
        return []            # its own handler says why


def _visit(rec: dict[str, Any]) -> tuple[VisitKey, Indexes] | None:
    """A repetition record's visit and loop indexes; None for one its handler skips."""
    try:
        ids = ArmId(rec["id"])
        indexes = repetition_indexes(properties_of(rec))
    except (KeyError, TypeError, ValueError):
        return None
    if ids.action is None or ids.repetition is None or not indexes:
        return None
    return (ids.execution_id, ids.action, ids.repetition), indexes


def read_request_history(rec: dict[str, Any], ctx: ImportContext, batch: Batch) -> None:
    """One HTTP request an action made: a piece of one of its tries (placed by `assemble`)."""
    ids = ArmId(rec["id"])
    if ids.run is None or ids.action is None or ids.action_name is None:
        raise ValueError("request history id without /runs/<run>/actions/<action>")
    props = properties_of(rec)
    indexes = _visit_indexes(ids, props, ctx)
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
        C.step_key: step_key(ids.action_name, indexes), C.attempt: REQUEST, C.started_at: started,
        C.ended_at: ended, C.duration_ms: duration_ms(started, ended), C.status: status.value,
        C.error: err, C.cause: cause, C.start_date: day,
    })


def _visit_indexes(ids: ArmId, props: dict[str, Any], ctx: ImportContext) -> Indexes:
    """The loop indexes of the visit a request belongs to ([] outside loops): its own `repetitionIndexes`
    (the live collector adds them), else its repetition record's in this import. A ValueError (the record's
    skip) when its iteration cannot be known: keyed to the action alone, it belonged to no visit."""
    visits = ctx.options.get(LOOP_VISITS) or LoopVisits()
    assert ids.action is not None and ids.action_name is not None
    if ids.repetition is None:
        if (ids.execution_id, ids.action) in visits.actions:
            raise ValueError(f"{ids.action_name} is an action inside loops (its repetitions are in this import) and "
                             "a request read at its own level names no iteration: import each visit's "
                             f"({ids.action_name}/repetitions/<name>/requestHistories) instead")
        return []
    own = repetition_indexes(props)
    if own:
        return own
    named = visits.indexes.get((ids.execution_id, ids.action, ids.repetition))
    if named:
        return named
    raise ValueError(f"a request of loop visit {ids.action_name}/repetitions/{ids.repetition} carries no "
                     "repetitionIndexes, and no record of that repetition is in this import to name its iteration: "
                     f"import it with the action's repetitions ({ids.action_name}/repetitions)")
