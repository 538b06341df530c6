"""Pure transforms: Azure Logic Apps management-API JSON -> flowscope model rows.

Reads documents exactly as the management REST API returns them: one resource object, or a
`{"value": [...]}` page (a `{"parameters", "responses": {"200": {"body": ...}}}` REST example
wrapper is unwrapped too). Records are recognised by their ARM `type`, or failing that by the
shape of their `id`.

Identity rules (ARM ids are case-insensitive, so one canonical form is used wherever rows link):

- every id is lower-cased and starts at `/subscriptions/` (a `hostruntime/.../api/management/`
  or `api/management/` prefix is dropped);
- workflow_id: `/subscriptions/<sub>/resourcegroups/<rg>/providers/microsoft.logic/workflows/<wf>`
  (Consumption) or `/subscriptions/<sub>/resourcegroups/<rg>/providers/microsoft.web/sites/<site>/workflows/<wf>`
  (Standard);
- execution_id: `<workflow_id>/runs/<run name>`;
- step_key: the lower-cased action name, plus `#<scope>:<itemIndex>/<scope>:<itemIndex>...` from
  `repetitionIndexes` (outermost loop first) for a visit inside loops; the trigger is `@<name>`;
- display names keep their spelling: workflow_name, the run's `name` and step names (the
  definition's, once it is known) are never lower-cased; of two spellings of one name that differ
  only in case (a lower-cased re-export), the one with upper-case letters is kept
  (`assemble.merge_rows`), so the portal can be searched by what flowscope shows.

Records of one run can arrive in any order, in separate documents and imports: every row is
keyed from the ids the record carries alone, and `assemble` settles what needs the whole run
(definition types, parents, aggregate-vs-repetition dedupe, CAUGHT, usage).

Payloads are never read: only `contentSize` of a trigger's outputs (the run's input) reaches
`executions.input_bytes`. Links (`inputsLink.uri`, `outputsLink.uri`) carry SAS signatures and
are never copied anywhere.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Callable
from typing import Any

from flowscope.collectors.assemble import merge_rows
from flowscope.collectors.azure.definition import (
    Definition,
    cached_definition,
    definition_object,
    definition_problem,
)
from flowscope.collectors.native import ImportContext, NativeFormatError, Row
from flowscope.model import (
    MAX_DEFINITION_CHARS,
    WORK_STEP_TYPES,
    Batch,
    C,
    Cloud,
    Kind,
    Meter,
    Skip,
    Source,
    Status,
    StepType,
    duration_ms,
    truncate,
    utc,
)

CLOUD = Cloud.AZURE.value
DEFINITION_FORMAT = "logicapp-json"
ITERATION_NATIVE_TYPE = "ScopeRepetition"
"""native_type of a loop-iteration row (from `.../scopeRepetitions`): a container, never billed."""

STATUS_MAP: dict[str, Status] = {
    "succeeded": Status.SUCCEEDED,
    "failed": Status.FAILED,
    "faulted": Status.FAILED,
    "cancelled": Status.ABORTED,
    "aborted": Status.ABORTED,
    "terminated": Status.ABORTED,
    "running": Status.RUNNING,
    "waiting": Status.RUNNING,
    "paused": Status.RUNNING,
    "suspended": Status.RUNNING,
    "resuming": Status.RUNNING,
    "notspecified": Status.RUNNING,
    "timedout": Status.TIMED_OUT,
    "skipped": Status.SKIPPED,
    "ignored": Status.SKIPPED,
}

# ARM types (lower-case) -> format name
_TYPES: dict[str, str] = {
    "microsoft.logic/workflows": "azure.workflow",
    "microsoft.logic/workflows/versions": "azure.workflow",
    "microsoft.web/sites/workflows": "azure.workflow",
    "microsoft.logic/workflows/runs": "azure.runs",
    "microsoft.logic/workflows/runs/actions": "azure.run_actions",
    "microsoft.logic/workflows/runs/actions/repetitions": "azure.action_repetitions",
    "microsoft.logic/workflows/runs/actions/scoperepetitions": "azure.scope_repetitions",
    "microsoft.logic/workflows/runs/actions/requesthistories": "azure.request_histories",
    "microsoft.logic/workflows/runs/actions/repetitions/requesthistories": "azure.request_histories",
    "microsoft.logic/workflows/triggers/histories": "azure.trigger_histories",
}
# id shape (last collection segments) -> format name, for records without `type`
_SHAPES: list[tuple[tuple[str, ...], str]] = [
    (("actions", "repetitions", "requesthistories"), "azure.request_histories"),
    (("actions", "requesthistories"), "azure.request_histories"),
    (("actions", "scoperepetitions"), "azure.scope_repetitions"),
    (("actions", "repetitions"), "azure.action_repetitions"),
    (("runs", "actions"), "azure.run_actions"),
    (("triggers", "histories"), "azure.trigger_histories"),
    (("workflows", "runs"), "azure.runs"),
    (("workflows", "versions"), "azure.workflow"),
]
_COLLECTIONS = {"subscriptions", "resourcegroups", "providers", "sites", "workflows", "runs", "actions",
                "repetitions", "scoperepetitions", "requesthistories", "triggers", "histories", "versions"}


# ---------------------------------------------------------------- ids

class ArmId:
    """The parts of a Logic Apps ARM id. `canonical` ids are lower-case (see module docstring)."""

    __slots__ = ("sub", "rg", "site", "workflow", "workflow_name", "run", "run_name", "action", "action_name",
                 "repetition", "scope_repetition", "request_history", "trigger", "trigger_name",
                 "history", "version", "shape")

    def __init__(self, raw: str) -> None:
        cut = raw.find("/runs/")
        if cut == -1:
            cut = raw.find("/triggers/")
        if cut != -1:
            head = _arm_prefix(raw[:cut])
            for slot in ArmId.__slots__:
                setattr(self, slot, getattr(head, slot))
            self._walk(raw[cut + 1:].split("/"), list(head.shape))
            return
        self._parse(raw)

    def _parse(self, raw: str) -> None:
        text = raw.strip()
        low = text.lower()
        start = low.find("subscriptions/")
        if start == -1:
            raise ValueError(f"not an ARM id: {raw!r}")
        segs = text[start:].strip("/").split("/")
        self.sub = self.rg = self.site = self.workflow = self.workflow_name = self.run = self.run_name = None
        self.action = self.action_name = self.repetition = self.scope_repetition = None
        self.request_history = self.trigger = self.trigger_name = self.history = self.version = None
        self._walk(segs, [])
        if self.sub is None or self.workflow is None:
            raise ValueError(f"not a Logic Apps workflow id: {raw!r}")
        if self.site and "/" in (self.workflow_name or ""):
            self.workflow_name = self.workflow_name.rsplit("/", 1)[-1]

    def _walk(self, segs: list[str], shape: list[str]) -> None:
        i = 0
        n = len(segs)
        while i < n:
            seg = segs[i].lower()
            value = segs[i + 1] if i + 1 < n else None
            if seg == "providers":                  # providers/<namespace>: one value, skip
                i += 2
                continue
            if seg in ("hostruntime", "runtime", "webhooks", "api", "management") or \
                    (seg == "workflow" and i > 0 and segs[i - 1].lower() == "webhooks"):
                i += 1
                continue
            if value is None:
                break
            if seg == "subscriptions":
                self.sub = value.lower()
            elif seg == "resourcegroups":
                self.rg = value.lower()
            elif seg == "sites":
                self.site = value.lower()
            elif seg == "workflows":
                self.workflow_name = value
                self.workflow = value.lower()
            elif seg == "runs":
                self.run_name = value
                self.run = value.lower()
            elif seg == "actions":
                self.action_name = value
                self.action = value.lower()
            elif seg == "repetitions":
                self.repetition = value.lower()
            elif seg == "scoperepetitions":
                self.scope_repetition = value.lower()
            elif seg == "requesthistories":
                self.request_history = value.lower()
            elif seg == "triggers":
                self.trigger_name = value
                self.trigger = value.lower()
            elif seg == "histories":
                self.history = value.lower()
            elif seg == "versions":
                self.version = value
            if seg in _COLLECTIONS:
                shape.append(seg)
            i += 2
        self.shape = tuple(shape)

    @property
    def workflow_id(self) -> str:
        rg = f"/resourcegroups/{self.rg}" if self.rg else ""
        if self.site:
            return f"/subscriptions/{self.sub}{rg}/providers/microsoft.web/sites/{self.site}/workflows/{self.workflow}"
        return f"/subscriptions/{self.sub}{rg}/providers/microsoft.logic/workflows/{self.workflow}"

    @property
    def execution_id(self) -> str | None:
        return f"{self.workflow_id}/runs/{self.run}" if self.run else None


@functools.lru_cache(maxsize=1024)
def _arm_prefix(raw: str) -> ArmId:
    """The workflow part of an id, parsed once (every record of a workflow shares it)."""
    head = ArmId.__new__(ArmId)
    head._parse(raw)
    return head


def canonical_workflow_id(raw: str) -> str:
    return ArmId(raw).workflow_id


def canonical_execution_id(raw: str) -> str | None:
    return ArmId(raw).execution_id


def trigger_key(name: str) -> str:
    return "@" + name.lower()


def step_key(action: str, indexes: list[tuple[str, int]] | None = None) -> str:
    """`action#scope:idx/scope:idx` (lower-case, outermost loop first), or `action` outside loops."""
    if not indexes:
        return action.lower()
    return action.lower() + "#" + "/".join(f"{s.lower()}:{i}" for s, i in indexes)


def parse_step_key(key: str, name: str | None = None) -> tuple[str, list[tuple[str, int]]]:
    """Inverse of `step_key` (the row's name disambiguates names holding '#')."""
    if name is not None and key.startswith(name.lower()):
        base, rest = name.lower(), key[len(name):]
        rest = rest[1:] if rest.startswith("#") else rest
    else:
        base, _, rest = key.partition("#")
    if not rest:
        return base, []
    out = []
    for part in rest.split("/"):
        scope, _, idx = part.rpartition(":")
        try:
            out.append((scope, int(idx)))
        except ValueError:
            out.append((part, 0))
    return base, out


# ---------------------------------------------------------------- small helpers

_UTC = dt.timezone.utc


def _ts(value: Any) -> dt.datetime | None:
    """`model.utc`, with a fast path for the API's `2018-04-18T17:05:57.0929911Z` form."""
    if isinstance(value, str) and len(value) > 20 and value[-1] == "Z" and value[10] == "T" and value[19] == ".":
        frac = value[20:-1]
        if frac.isdigit():
            try:
                return dt.datetime.fromisoformat(value[:19] + "." + (frac[:6] + "000000")[:6]).replace(tzinfo=_UTC)
            except ValueError:
                pass
    return utc(value)


def _status(native: Any, ended: dt.datetime | None) -> Status:
    if isinstance(native, str):
        hit = STATUS_MAP.get(native.lower())
        if hit is not None:
            return hit
    return Status.FAILED if ended is not None else Status.RUNNING


def _error(props: dict[str, Any], status: Status) -> tuple[str | None, str | None]:
    """(error, cause): the error code and message of a failed record, truncated."""
    err = props.get("error")
    code = msg = None
    if isinstance(err, dict):
        inner = err.get("error") if isinstance(err.get("error"), dict) else err
        code = inner.get("code")
        msg = inner.get("message")
    elif isinstance(err, str):
        msg = err
    if status in (Status.FAILED, Status.TIMED_OUT, Status.ABORTED):
        code = code or props.get("code")
    return truncate(code), truncate(msg)


def _date(*stamps: dt.datetime | None) -> dt.date | None:
    for stamp in stamps:
        if stamp is not None:
            return stamp.date()
    return None


def _content_size(link: Any) -> int | None:
    if isinstance(link, dict) and isinstance(link.get("contentSize"), int):
        return link["contentSize"]
    return None


def _indexes(props: dict[str, Any]) -> list[tuple[str, int]]:
    out = []
    for entry in props.get("repetitionIndexes") or []:
        if not isinstance(entry, dict) or "scopeName" not in entry:
            raise ValueError("repetitionIndexes entry without scopeName")
        out.append((str(entry["scopeName"]), int(entry.get("itemIndex") or 0)))
    return out


def _step_row(ids: ArmId, key: str, name: str, props: dict[str, Any], ctx: ImportContext,
              *, step_type: StepType, native_type: str | None = None,
              parent: str | None = None, iteration: int | None = None) -> Row:
    started = _ts(props.get("startTime"))
    ended = _ts(props.get("endTime"))
    status = _status(props.get("status"), ended)
    error, cause = _error(props, status)
    day = _date(started, ended, ctx.seen_at)
    if day is None:
        raise ValueError("no startTime, endTime or seen_at to date the record")
    retries = props.get("retryHistory")
    tries = (len(retries) if isinstance(retries, list) else 0) + 1
    return {
        C.cloud: CLOUD, C.workflow_id: ids.workflow_id, C.execution_id: ids.execution_id,
        C.step_key: key, C.previous_step_key: None, C.parent_step_key: parent, C.iteration: iteration,
        C.name: name, C.type: step_type.value, C.native_type: native_type, C.resource: None,
        C.status: status.value, C.started_at: started, C.ended_at: ended,
        C.duration_ms: duration_ms(started, ended),
        C.attempts: 0 if status is Status.SKIPPED else tries,
        C.error: error, C.cause: cause, C.start_date: day,
    }


def _attempt_row(step: Row, attempt: int, started: dt.datetime | None, ended: dt.datetime | None,
                 status: Status, error: str | None, cause: str | None) -> Row:
    return {
        C.cloud: CLOUD, C.workflow_id: step[C.workflow_id], C.execution_id: step[C.execution_id],
        C.step_key: step[C.step_key], C.attempt: attempt, C.started_at: started, C.ended_at: ended,
        C.duration_ms: duration_ms(started, ended), C.status: status.value,
        C.error: error, C.cause: cause, C.start_date: step[C.start_date],
    }


def _attempts_for(step: Row, props: dict[str, Any]) -> list[Row]:
    """One row per try: each `retryHistory` entry (a failed try), then the final try.

    The final try's start is not recorded when retries happened (the action's startTime is the
    first try's): it is left null rather than guessed.
    """
    if step[C.status] == Status.SKIPPED.value:
        return []
    rows = []
    retries = props.get("retryHistory") if isinstance(props.get("retryHistory"), list) else []
    for n, entry in enumerate(retries, 1):
        entry = entry if isinstance(entry, dict) else {}
        err, cause = _error(entry, Status.FAILED)
        rows.append(_attempt_row(step, n, _ts(entry.get("startTime")), _ts(entry.get("endTime")),
                                 Status.FAILED, err, cause))
    final_status = Status(step[C.status])
    if final_status is Status.CAUGHT:
        final_status = Status.FAILED
    rows.append(_attempt_row(step, len(retries) + 1, step[C.started_at] if not retries else None,
                             step[C.ended_at], final_status, step[C.error], step[C.cause]))
    return rows


# ---------------------------------------------------------------- record handlers

def _workflow(rec: dict[str, Any], ctx: ImportContext, batch: Batch) -> None:
    ids = ArmId(rec["id"])
    props = rec.get("properties") or {}
    rtype = str(rec.get("type") or "").lower()
    definition = props.get("definition")
    if definition is None and isinstance(props.get("files"), dict):      # Microsoft.Web/sites/workflows
        wf_file = props["files"].get("workflow.json")
        definition = wf_file.get("definition") if isinstance(wf_file, dict) else None
    if definition is None:
        raise ValueError("workflow without properties.definition")
    problem = definition_problem(definition)
    if problem:
        batch.warnings.append(
            f"{ctx.source_name}: workflow {ids.workflow_name} ({rec['id']}): its definition could not be "
            f"read whole ({problem}); the actions it does not describe are metered "
            f"{Meter.AZURE_LOGIC_UNCLASSIFIED_ACTION.value} until a readable definition is imported")
    definition = definition_object(definition)
    kind_word = rec.get("kind") or props.get("kind")
    standard = bool(ids.site) or rtype.startswith("microsoft.web/") or \
        (isinstance(kind_word, str) and kind_word.lower() in ("stateful", "stateless"))
    text = json.dumps(definition, sort_keys=True, separators=(",", ":"))
    revision = (ids.version or props.get("version")
                or hashlib.sha256(text.encode()).hexdigest()[:20])
    connections: dict[str, str] = {}
    params = props.get("parameters") or {}
    conns = params.get("$connections") if isinstance(params, dict) else None
    conn_values = conns.get("value") if isinstance(conns, dict) else None
    if isinstance(conn_values, dict):
        for key, val in conn_values.items():
            api_id = val.get("id") if isinstance(val, dict) else None
            if isinstance(api_id, str) and api_id:
                connections[key.lower()] = api_id.rstrip("/").rsplit("/", 1)[-1].lower()
    sku = props.get("sku")
    integration = props.get("integrationAccount")
    attributes = {
        "state": props.get("state"),
        "sku": sku.get("name") if isinstance(sku, dict) else None,
        "plan": (sku.get("plan") or {}).get("id", "").lower() or None if isinstance(sku, dict) else None,
        "integration_account": (integration.get("id") or "").lower() or None
        if isinstance(integration, dict) else None,
        "stateful": None if not isinstance(kind_word, str) else kind_word.lower() == "stateful",
        "connections": connections,
        "created": props.get("createdTime"),
        "changed": props.get("changedTime"),
    }
    seen = ctx.seen_at or _ts(props.get("changedTime")) or _ts(props.get("createdTime")) \
        or dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    batch.workflows.append({
        C.cloud: CLOUD, C.account: ids.sub,
        C.region: (rec.get("location") or "").replace(" ", "").lower() or None,
        C.workflow_id: ids.workflow_id, C.name: ids.workflow_name,
        C.kind: (Kind.LOGICAPP_STANDARD if standard else Kind.LOGICAPP_CONSUMPTION).value,
        C.revision: str(revision),
        C.definition: text if len(text) <= MAX_DEFINITION_CHARS else None,
        C.definition_format: DEFINITION_FORMAT,
        C.attributes: json.dumps({k: v for k, v in attributes.items() if v not in (None, {})},
                                 sort_keys=True),
        C.seen_at: seen,
    })


def _run(rec: dict[str, Any], ctx: ImportContext, batch: Batch) -> None:
    ids = ArmId(rec["id"])
    if ids.run is None:
        raise ValueError("run id without /runs/<name>")
    props = rec.get("properties") or {}
    started = _ts(props.get("startTime"))
    if started is None:
        raise ValueError("run without startTime")
    ended = _ts(props.get("endTime"))
    status = _status(props.get("status"), ended)
    error, cause = _error(props, status)
    trigger = props.get("trigger") if isinstance(props.get("trigger"), dict) else {}
    wf = props.get("workflow") if isinstance(props.get("workflow"), dict) else {}
    correlation = props.get("correlation") if isinstance(props.get("correlation"), dict) else {}
    attributes = {k: v for k, v in {
        "client_tracking_id": correlation.get("clientTrackingId"),
        "wait_end_time": props.get("waitEndTime"),
        "trigger": trigger.get("name"),
        "scheduled_time": trigger.get("scheduledTime"),
    }.items() if v is not None}
    step = None
    if trigger.get("name"):
        step = _step_row(ids, trigger_key(trigger["name"]), trigger["name"], trigger, ctx,
                         step_type=StepType.TRIGGER)
    batch.executions.append({
        C.cloud: CLOUD, C.account: ids.sub, C.region: None,
        C.workflow_id: ids.workflow_id, C.workflow_name: ids.workflow_name,
        C.kind: (Kind.LOGICAPP_STANDARD if ids.site else Kind.LOGICAPP_CONSUMPTION).value,
        C.revision: wf.get("name"),
        C.execution_id: ids.execution_id, C.name: rec.get("name") or ids.run_name,
        C.status: status.value, C.native_status: props.get("status"),
        C.started_at: started, C.ended_at: ended, C.duration_ms: duration_ms(started, ended),
        C.error: error, C.cause: cause, C.redrive_count: None, C.parent_execution_id: None,
        C.billed_duration_ms: None, C.billed_memory_mb: None,
        C.input_bytes: _content_size(trigger.get("outputsLink")),
        C.output_bytes: None, C.input_sha256: None, C.event_count: None,
        C.attributes: json.dumps(attributes, sort_keys=True) if attributes else None,
        C.source: str(ctx.source or Source.IMPORT),
        C.collected_at: ctx.seen_at, C.start_date: started.date(),
    })
    if step is not None:
        batch.steps.append(step)
        batch.attempts.extend(_attempts_for(step, trigger))


def _action(rec: dict[str, Any], ctx: ImportContext, batch: Batch) -> None:
    ids = ArmId(rec["id"])
    if ids.run is None or ids.action is None:
        raise ValueError("action id without /runs/<run>/actions/<action>")
    props = rec.get("properties") or {}
    indexes = _indexes(props) if ids.repetition else []
    if ids.repetition and not indexes:
        raise ValueError("repetition without repetitionIndexes")
    parent = step_key(indexes[-1][0], indexes[:-1]) if indexes else None
    step = _step_row(ids, step_key(ids.action_name, indexes), ids.action_name, props, ctx,
                     step_type=StepType.TASK, parent=parent,
                     iteration=indexes[-1][1] if indexes else None)
    batch.steps.append(step)
    batch.attempts.extend(_attempts_for(step, props))


def _scope_repetition(rec: dict[str, Any], ctx: ImportContext, batch: Batch) -> None:
    """One iteration of a loop: a container row, child of the loop's visit, never billed."""
    ids = ArmId(rec["id"])
    if ids.run is None or ids.action is None:
        raise ValueError("scope repetition id without /runs/<run>/actions/<action>")
    props = rec.get("properties") or {}
    indexes = _indexes(props)
    if not indexes:
        raise ValueError("scope repetition without repetitionIndexes")
    # the loop's own visit: its indexes without the loop's own entry
    own = [i for i, (scope, _) in enumerate(indexes) if scope.lower() == ids.action]
    outer = indexes[:own[-1]] if own else indexes[:-1]
    step = _step_row(ids, step_key(ids.action_name, indexes), ids.action_name, props, ctx,
                     step_type=StepType.SCOPE, native_type=ITERATION_NATIVE_TYPE,
                     parent=step_key(ids.action_name, outer), iteration=indexes[-1][1])
    step[C.attempts] = 0 if step[C.status] == Status.SKIPPED.value else 1
    batch.steps.append(step)


def _request_history(rec: dict[str, Any], ctx: ImportContext, batch: Batch, position: int) -> None:
    """One HTTP request an action made: an attempt of that action (numbered by start time)."""
    ids = ArmId(rec["id"])
    if ids.run is None or ids.action is None:
        raise ValueError("request history id without /runs/<run>/actions/<action>")
    props = rec.get("properties") or {}
    started = _ts(props.get("startTime"))
    ended = _ts(props.get("endTime"))
    day = _date(started, ended, ctx.seen_at)
    if day is None:
        raise ValueError("request history without startTime")
    response = props.get("response") if isinstance(props.get("response"), dict) else {}
    code = response.get("statusCode")
    failed = props.get("error") is not None or (isinstance(code, int) and code >= 400)
    status = Status.FAILED if failed else (Status.SUCCEEDED if ended else Status.RUNNING)
    err, cause = _error(props, status)
    if failed and err is None and code is not None:
        err = str(code)
    batch.attempts.append({
        C.cloud: CLOUD, C.workflow_id: ids.workflow_id, C.execution_id: ids.execution_id,
        C.step_key: step_key(ids.action_name), C.attempt: position, C.started_at: started,
        C.ended_at: ended, C.duration_ms: duration_ms(started, ended), C.status: status.value,
        C.error: err, C.cause: cause, C.start_date: day,
    })


def _trigger_history(rec: dict[str, Any], ctx: ImportContext, batch: Batch) -> None:
    """A trigger fire or poll. A fired history belongs to its run; an unfired one (a poll that
    found nothing) becomes its own trigger row keyed by the history id, because polls are
    metered even when no run starts."""
    ids = ArmId(rec["id"])
    if ids.trigger is None or ids.history is None:
        raise ValueError("trigger history id without /triggers/<name>/histories/<name>")
    props = rec.get("properties") or {}
    run = props.get("run") if isinstance(props.get("run"), dict) else {}
    if run.get("id"):
        run_ids = ArmId(run["id"])
    elif run.get("name") and props.get("fired"):
        run_ids = ArmId(f"{ids.workflow_id}/runs/{run['name']}")
    else:
        run_ids = None
    if run_ids is not None and run_ids.run:
        step = _step_row(run_ids, trigger_key(ids.trigger_name), ids.trigger_name, props, ctx,
                         step_type=StepType.TRIGGER)
    else:
        step = _step_row(ids, trigger_key(ids.trigger_name), ids.trigger_name, props, ctx,
                         step_type=StepType.TRIGGER)
        step[C.execution_id] = f"{ids.workflow_id}/triggers/{ids.trigger}/histories/{ids.history}"
    batch.steps.append(step)
    batch.attempts.extend(_attempts_for(step, props))


_RECORD_HANDLERS: dict[str, Callable[..., None]] = {
    "azure.workflow": _workflow,
    "azure.runs": _run,
    "azure.run_actions": _action,
    "azure.action_repetitions": _action,
    "azure.scope_repetitions": _scope_repetition,
    "azure.trigger_histories": _trigger_history,
}


# ---------------------------------------------------------------- documents

def _unwrap(doc: Any) -> Any:
    """A REST example file (`{"parameters", "responses": {"200": {"body": ...}}}`) -> its body."""
    if isinstance(doc, dict) and "responses" in doc and "id" not in doc:
        responses = doc.get("responses")
        if isinstance(responses, dict):
            ok = responses.get("200") or responses.get(200)
            if isinstance(ok, dict) and "body" in ok:
                return ok["body"]
    return doc


def record_format(rec: Any) -> str | None:
    """Format name of one record, by ARM `type`, else by the shape of its `id`."""
    if not isinstance(rec, dict):
        return None
    rtype = rec.get("type")
    if isinstance(rtype, str):
        hit = _TYPES.get(rtype.lower())
        if hit is not None:
            return hit
        if rtype.lower().startswith("microsoft.logic/") or rtype.lower().startswith("microsoft.web/sites/workflows"):
            return None
    rid = rec.get("id")
    if not isinstance(rid, str):
        return None
    try:
        shape = ArmId(rid).shape
    except ValueError:
        return None
    for tail, fmt in _SHAPES:
        if shape[-len(tail):] == tail:
            return fmt
    if shape and shape[-1] == "workflows" and isinstance(rec.get("properties"), dict) \
            and ("definition" in rec["properties"] or "files" in rec["properties"]):
        return "azure.workflow"
    return None


def _records(doc: Any, ctx: ImportContext) -> tuple[list[Any], bool]:
    doc = _unwrap(doc)
    if isinstance(doc, dict) and isinstance(doc.get("value"), list):
        return doc["value"], True
    if isinstance(doc, dict):
        return [doc], False
    if isinstance(doc, list):
        return doc, True
    raise NativeFormatError(ctx.source_name, "$", f"expected a JSON object, got {type(doc).__name__}")


def detect(doc: Any) -> str | None:
    """The format of an Azure Logic Apps document, or None when it is not one."""
    try:
        doc = _unwrap(doc)
    except Exception:  # noqa: BLE001 - detection never raises
        return None
    if isinstance(doc, dict) and isinstance(doc.get("value"), list):
        items = doc["value"]
    elif isinstance(doc, dict):
        items = [doc]
    elif isinstance(doc, list):
        items = doc
    else:
        return None
    for rec in items[:50]:
        fmt = record_format(rec)
        if fmt is not None:
            return fmt
    return None


def transform(doc: Any, ctx: ImportContext | None = None) -> Batch:
    """Rows of every record in a document, whatever Logic Apps record types it holds.

    An unrecognised record type is counted in `unknown_event_types`; a record that cannot be
    read becomes a `Skip`; a document with nothing recognisable raises `NativeFormatError`.
    """
    ctx = ctx or ImportContext()
    records, is_list = _records(doc, ctx)
    batch = Batch()
    recognised = 0
    positions: dict[str, list[tuple[Any, int, dict[str, Any]]]] = {}
    for i, rec in enumerate(records):
        location = f"value[{i}]" if is_list else "$"
        fmt = record_format(rec)
        if fmt is None:
            if isinstance(rec, dict) and isinstance(rec.get("type"), str):
                batch.unknown_event_types[rec["type"]] = batch.unknown_event_types.get(rec["type"], 0) + 1
                recognised += 1
            else:
                batch.skips.append(Skip(ctx.source_name, location, "not a Logic Apps record (no type, no id)"))
            continue
        recognised += 1
        if fmt == "azure.request_histories":
            try:
                owner = ArmId(rec["id"])
                group = f"{owner.execution_id}|{owner.action}"
                start = _ts((rec.get("properties") or {}).get("startTime"))
            except (KeyError, TypeError, ValueError) as exc:
                batch.skips.append(Skip(ctx.source_name, location, f"{fmt}: {exc}"))
                continue
            positions.setdefault(group, []).append((start, i, rec))
            continue
        try:
            _RECORD_HANDLERS[fmt](rec, ctx, batch)   # handlers append only once a record is whole
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            batch.skips.append(Skip(ctx.source_name, f"{location} {rec.get('id', '')}".strip(),
                                    f"{fmt}: {exc}"))
    far = dt.datetime.max.replace(tzinfo=dt.timezone.utc)
    for group in positions.values():
        group.sort(key=lambda item: (item[0] or far, item[1]))
        for position, (_, i, rec) in enumerate(group, 1):
            try:
                _request_history(rec, ctx, batch, position)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                batch.skips.append(Skip(ctx.source_name, f"value[{i}] {rec.get('id', '')}".strip(),
                                        f"azure.request_histories: {exc}"))
    if not is_list and recognised == 0:
        raise NativeFormatError(ctx.source_name, "$", "not an Azure Logic Apps management API record")
    if is_list and records and recognised == 0 and not batch.steps:
        raise NativeFormatError(ctx.source_name, "value", "no record is an Azure Logic Apps record")
    return batch


def _handler(fmt: str) -> Callable[[Any, ImportContext], Batch]:
    def handle(doc: Any, ctx: ImportContext) -> Batch:
        return transform(doc, ctx)
    handle.__name__ = "transform_" + fmt.split(".", 1)[1]
    handle.__doc__ = f"`{fmt}` documents -> model rows (any Logic Apps record they hold is read)."
    return handle


FORMATS: dict[str, Callable[[Any, ImportContext], Batch]] = {
    fmt: _handler(fmt) for fmt in (
        "azure.workflow", "azure.runs", "azure.run_actions", "azure.action_repetitions",
        "azure.scope_repetitions", "azure.request_histories", "azure.trigger_histories")
}


# ---------------------------------------------------------------- assemble

def _definition_of(workflow: Row | None) -> Definition | None:
    if not workflow or not workflow.get(C.definition):
        return None
    connections = "{}"
    attrs = workflow.get(C.attributes)
    if attrs:
        try:
            connections = json.dumps((json.loads(attrs) or {}).get("connections") or {}, sort_keys=True)
        except (ValueError, AttributeError):
            connections = "{}"
    return cached_definition(workflow[C.definition], connections)


def _merge_attempts(rows: list[Row]) -> Row:
    """Pieces of one try (retryHistory entry, request history, the action's final try) as one
    row, by the shared rule (`assemble.merge_rows`: a finished piece wins, the others complete it)."""
    # the same pieces in any order merge alike: the preferred piece comes last (ties go to `new`)
    rows = sorted(rows, key=lambda r: (r.get(C.started_at) is None, r.get(C.ended_at) is None,
                                       -sum(v is not None for v in r.values()), str(r.get(C.error))),
                  reverse=True)
    merged = functools.reduce(merge_rows, rows)
    merged[C.duration_ms] = duration_ms(merged.get(C.started_at), merged.get(C.ended_at))
    return merged


def assemble(execution: Row | None, steps: list[Row], attempts: list[Row],
             workflow: Row | None) -> tuple[list[Row], list[Row], list[Row]]:
    """Finish the rows of one run once everything known about it is together.

    - duplicates of one step (the same record read twice, a run's trigger and its trigger
      history) collapse to the most complete row;
    - the aggregate record of an action that ran inside a loop is dropped once its
      repetitions are known, so an action execution is never counted twice;
    - with the definition: names take the definition's spelling, types / native types /
      connectors / meters come from it, parents follow its nesting (Scope, If, Switch, loops),
      previous steps follow `runAfter`, and a Failed action that a later action runs after
      with `Failed` (or that sits in a container handled that way) becomes CAUGHT;
    - usage by Logic Apps Consumption rules: every action execution is metered, each retry
      and each loop iteration's inner actions included; a loop iteration row itself is not
      (the loop action is metered once: 10 items x 1 inner action + 1 loop = 11); skipped
      actions are free; triggers are metered on every fire and every poll, a skipped poll
      included ("Even when no logic app instance gets created, Logic Apps meters each
      polling request"). Actions whose definition is not known yet are metered
      `azure.logic.unclassified_action` and reclassified when the same call later gets the
      workflow. logicapp-standard workflows get the same per-operation meters; pricing
      prices Standard built-in operations at zero (they are paid for in plan hours).

    Pure and idempotent: assembling its own output again gives the same rows.
    """
    definition = _definition_of(workflow)
    region = workflow.get(C.region) if workflow else None
    exec_started = execution.get(C.started_at) if execution else None
    exec_date = execution.get(C.start_date) if execution else None

    # 1. one row per step_key
    by_key: dict[str, Row] = {}
    for row in steps:
        key = row[C.step_key]
        by_key[key] = merge_rows(by_key[key], row) if key in by_key else row
    rows = {k: dict(v) for k, v in by_key.items()}

    # 2. structure of each key
    parsed = {k: parse_step_key(k, r[C.name]) for k, r in rows.items()}

    # 3. drop aggregates of repeated actions (a row `x` when some `x#...` visit exists that is
    #    not an iteration of x itself)
    repeated = {base for k, (base, idx) in parsed.items()
                if idx and not (rows[k][C.native_type] == ITERATION_NATIVE_TYPE)}
    aggregates = {k for k, (base, idx) in parsed.items()
                  if not idx and base in repeated and not k.startswith("@")}
    for key in aggregates:
        del rows[key]
        del parsed[key]

    # 4. definition: names, types, resources, parents, previous steps
    loops_seen = {s.lower() for _, idx in parsed.values() for s, _ in idx}
    meters: dict[str, Meter] = {}
    for key, row in rows.items():
        base, idx = parsed[key]
        is_iteration = row[C.native_type] == ITERATION_NATIVE_TYPE
        info = definition.get(base) if definition else None
        if key.startswith("@"):
            info = definition.triggers.get(base[1:]) if definition else None
        if info is None:
            if key.startswith("@"):
                row[C.type] = StepType.TRIGGER.value
            elif not is_iteration:
                row[C.type] = (StepType.LOOP if base in loops_seen else StepType.TASK).value
                row[C.native_type] = None
                row[C.resource] = None
            meters[key] = Meter.AZURE_LOGIC_UNCLASSIFIED_ACTION
            if not key.startswith("@") and definition is None:
                row[C.previous_step_key] = None
            continue
        row[C.name] = info.name
        meters[key] = info.meter
        if key.startswith("@"):
            row[C.type], row[C.native_type], row[C.resource] = StepType.TRIGGER.value, info.native_type, info.resource
            continue
        if is_iteration:
            continue
        row[C.type], row[C.native_type], row[C.resource] = info.step_type.value, info.native_type, info.resource
        assert definition is not None
        idx_by_scope = {s.lower(): (s, i) for s, i in idx}

        def key_of(name: str) -> str:
            loops = definition.loop_ancestors(name)
            return step_key(definition.actions[name].name,
                            [idx_by_scope[s] for s in loops if s in idx_by_scope])

        row[C.parent_step_key] = key_of(info.parent) if info.parent in definition.actions else None
        row[C.iteration] = idx[-1][1] if idx else None
        preds = [p for p in info.run_after if p in definition.actions]
        if preds:
            row[C.previous_step_key] = key_of(preds[0])
        elif info.parent is None and definition.triggers:
            row[C.previous_step_key] = trigger_key(next(iter(definition.triggers.values())).name)
        else:
            row[C.previous_step_key] = None

    # 5. CAUGHT: failed, but a later action runs after it with Failed (and did run)
    if definition is not None:
        ran = {}
        for key, row in rows.items():
            ran.setdefault(parsed[key][0], False)
            if row[C.status] != Status.SKIPPED.value:
                ran[parsed[key][0]] = True
        caught_keys: set[str] = set()
        for key, row in rows.items():
            status = row[C.status]
            if status not in (Status.FAILED.value, Status.CAUGHT.value, Status.TIMED_OUT.value):
                continue
            want = "timedout" if status == Status.TIMED_OUT.value else "failed"
            for handler, statuses in definition.handlers.get(parsed[key][0], []):
                if (want in statuses or (status == Status.CAUGHT.value and "timedout" in statuses)) \
                        and ran.get(handler, True):
                    caught_keys.add(key)
                    break
        for key, row in rows.items():
            if row[C.status] not in (Status.FAILED.value, Status.CAUGHT.value):
                continue
            handled = key in caught_keys
            parent = row.get(C.parent_step_key)
            hops = 0
            while not handled and parent is not None and hops < 64:
                handled = parent in caught_keys
                parent = rows[parent].get(C.parent_step_key) if parent in rows else None
                hops += 1
            row[C.status] = (Status.CAUGHT if handled else Status.FAILED).value
        for key in caught_keys:
            if rows[key][C.status] == Status.TIMED_OUT.value:
                rows[key][C.status] = Status.CAUGHT.value

    # 6. attempts: one row per try of a work step, merged across sources by attempt number
    grouped: dict[tuple[str, int], list[Row]] = {}
    for att in attempts:
        grouped.setdefault((att[C.step_key], att[C.attempt]), []).append(att)
    per_step: dict[str, list[Row]] = {}
    out_attempts: list[Row] = []
    for (key, number), group in grouped.items():
        row = rows.get(key)
        if row is None:
            # A request history read before its action is kept, so it merges once the action
            # arrives; the tries of a repeated action's aggregate record are its repetitions'.
            if key not in aggregates:
                out_attempts.append(_merge_attempts(group))
            continue
        if row[C.type] not in {t.value for t in WORK_STEP_TYPES} or row[C.status] == Status.SKIPPED.value:
            continue
        per_step.setdefault(key, []).append(_merge_attempts(group))
    for key, row in rows.items():
        work = row[C.type] in {t.value for t in WORK_STEP_TYPES}
        if row[C.status] == Status.SKIPPED.value:
            row[C.attempts] = 0
            continue
        if not work:
            row[C.attempts] = 1
            continue
        tries = per_step.get(key, [])
        if not tries:
            final = Status(row[C.status])
            tries = [_attempt_row(row, 1, row[C.started_at], row[C.ended_at],
                                  Status.FAILED if final is Status.CAUGHT else final,
                                  row[C.error], row[C.cause])]
        tries.sort(key=lambda a: a[C.attempt])
        for att in tries:
            att[C.start_date] = exec_date or row[C.start_date]
        row[C.attempts] = len(tries)
        out_attempts.extend(tries)

    # 7. usage
    usage: list[Row] = []
    for key, row in rows.items():
        if exec_date is not None:
            row[C.start_date] = exec_date
        status = row[C.status]
        if row[C.native_type] == ITERATION_NATIVE_TYPE:
            continue
        if key.startswith("@"):
            quantity = max(row[C.attempts], 1)
        elif status == Status.SKIPPED.value:
            continue
        elif status == Status.ABORTED.value and row[C.started_at] is None:
            continue
        else:
            quantity = max(row[C.attempts], 1)
        started = row[C.started_at] or exec_started or row[C.ended_at]
        if started is None:
            continue
        usage.append({
            C.cloud: CLOUD, C.region: region, C.workflow_id: row[C.workflow_id],
            C.execution_id: row[C.execution_id], C.step_key: key, C.meter: meters[key].value,
            C.quantity: float(quantity), C.started_at: started,
            C.start_date: exec_date or row[C.start_date],
        })

    far = dt.datetime.max.replace(tzinfo=dt.timezone.utc)
    out_steps = sorted(rows.values(), key=lambda r: (r[C.started_at] or far, r[C.step_key]))
    out_attempts.sort(key=lambda a: (a[C.step_key], a[C.attempt]))
    usage.sort(key=lambda u: u[C.step_key])
    return out_steps, out_attempts, usage
