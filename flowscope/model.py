"""The unified model: one Arrow schema per table, and the enums their columns take.

This module is the contract between collectors, store, analyses and surfaces. Every other
module imports column names (`C.*`), enums and schemas from here instead of retyping
strings, so a renamed column breaks loudly at import, not silently in a query.
See docs/model.md for what each column means and how each cloud maps onto it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import pyarrow as pa

UTC = dt.timezone.utc
TIMESTAMP = pa.timestamp("us", tz="UTC")
MAX_TEXT_CHARS = 1024
"""Error messages and causes are kept, truncated to this many characters."""
MAX_DEFINITION_CHARS = 2_000_000
"""Workflow definitions are kept whole up to this size (the largest ASL allowed is 1 MiB)."""
AWS_HISTORY_EVENT_LIMIT = 25_000


class Cloud(StrEnum):
    AWS = "aws"
    AZURE = "azure"
    GCP = "gcp"


def cloud_spelling(value: Any) -> Any:
    """A cloud as the model spells it, whatever the case or spaces a user typed ("AWS", " gcp ");
    anything that names no cloud comes back unchanged, for the caller's error to name it."""
    if isinstance(value, str):
        spelt = value.strip().lower()
        if spelt in _CLOUD_VALUES:
            return spelt
    return value


_CLOUD_VALUES = frozenset(c.value for c in Cloud)


class Kind(StrEnum):
    SFN_STANDARD = "sfn-standard"
    SFN_EXPRESS = "sfn-express"
    LOGICAPP_CONSUMPTION = "logicapp-consumption"
    LOGICAPP_STANDARD = "logicapp-standard"
    GCP_WORKFLOWS = "gcp-workflows"


class Status(StrEnum):
    """Normalised status of an execution, step or attempt.

    CAUGHT: the step failed but a Catch / runAfter / except handled it, so the run went on.
    """

    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CAUGHT = "CAUGHT"
    TIMED_OUT = "TIMED_OUT"
    ABORTED = "ABORTED"
    SKIPPED = "SKIPPED"


TERMINAL_STATUSES = frozenset(s for s in Status if s is not Status.RUNNING)
FAILURE_STATUSES = frozenset({Status.FAILED, Status.CAUGHT, Status.TIMED_OUT, Status.ABORTED})


class StepType(StrEnum):
    """What a step does, across clouds; the cloud's own word stays in `native_type`."""

    TASK = "task"          # does work: SFN Task/Activity, Logic Apps Http/ApiConnection/Function, GCP call
    TRIGGER = "trigger"    # Logic Apps trigger
    CHOICE = "choice"      # SFN Choice, Logic Apps If/Switch, GCP switch
    WAIT = "wait"          # SFN Wait, Logic Apps Wait/Delay, GCP sys.sleep
    PASS = "pass"          # SFN Pass, Logic Apps Compose/variables, GCP assign
    PARALLEL = "parallel"  # SFN Parallel, GCP parallel branches
    MAP = "map"            # SFN Map (inline or distributed), GCP parallel for
    LOOP = "loop"          # Logic Apps ForEach/Until, GCP for
    SCOPE = "scope"        # Logic Apps Scope, GCP try block
    SUCCEED = "succeed"
    FAIL = "fail"          # SFN Fail, Logic Apps Terminate(Failed), GCP raise
    RETURN = "return"      # GCP return, Logic Apps Response
    OTHER = "other"


WORK_STEP_TYPES = frozenset({StepType.TASK, StepType.TRIGGER})
"""Steps whose tries are recorded in `attempts`."""


class Meter(StrEnum):
    """Billing meters. Collectors count quantities; analysis/pricing.py turns them into money."""

    AWS_SFN_STATE_TRANSITION = "aws.sfn.state_transition"
    AWS_SFN_EXPRESS_REQUEST = "aws.sfn.express_request"
    AWS_SFN_EXPRESS_GB_SECOND = "aws.sfn.express_gb_second"
    AZURE_LOGIC_BUILTIN_ACTION = "azure.logic.builtin_action"
    AZURE_LOGIC_BUILTIN_TRIGGER = "azure.logic.builtin_trigger"
    AZURE_LOGIC_STANDARD_CONNECTOR = "azure.logic.standard_connector"
    AZURE_LOGIC_ENTERPRISE_CONNECTOR = "azure.logic.enterprise_connector"
    AZURE_LOGIC_UNCLASSIFIED_ACTION = "azure.logic.unclassified_action"
    AZURE_LOGIC_STANDARD_PLAN_VCPU_HOUR = "azure.logic.standard_plan_vcpu_hour"
    AZURE_LOGIC_STANDARD_PLAN_GB_HOUR = "azure.logic.standard_plan_gb_hour"
    GCP_WORKFLOWS_INTERNAL_STEP = "gcp.workflows.internal_step"
    GCP_WORKFLOWS_EXTERNAL_STEP = "gcp.workflows.external_step"


class Source(StrEnum):
    """How a row reached the store (kept on executions for provenance)."""

    API = "api"
    LOGS = "logs"
    IMPORT = "import"
    SIMULATE = "simulate"


class RunStatus(StrEnum):
    """Status of a collection run (one sync of one scope)."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"    # finished, but some records could not be collected (see error/details)
    FAILED = "failed"


COLLECTED_STATUSES = (RunStatus.SUCCEEDED.value, RunStatus.PARTIAL.value)
"""Collection runs that collected (wholly or partly): their watermark holds, the next sync starts from it."""

SOURCE_KEY = "source"
"""Key, in a collection run's `details`, of the configured source the run was for: the same whichever
scope id the run got (an AWS source whose account could not be read names its scope after the
profile, `aws:default:us-east-1`, not after the account)."""


LOGS_MISSING_KEY = "log_groups_missing"
"""Key, in a collection run's `details`, of the log groups state machines name that do not exist: group ->
the names of the state machines that log to it (the AWS collector writes it, `collection_gap` reads it)."""


CONFIGURED_KEY = "configured_sources"
"""Key, in a collection run's `details`, of the `SOURCE_KEY`s of every scope of its cloud that the sync's
configuration named when it ran: a scope whose source is not among them in a later sync is no longer
configured (its name globs changed, its region was removed), so its last failure is history, not news."""


def json_object(value: Any) -> dict[str, Any]:
    """A JSON object given as text or as a mapping (a collection run's `details`, a workflow
    definition), as a dict; {} when it is unreadable, nested deeper than the parser goes, or not an object."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            return {}
    if isinstance(value, dict):
        return value
    return dict(value) if isinstance(value, Mapping) else {}


def run_details(details: Any) -> dict[str, Any]:
    """A collection run's `details` (a JSON string or a dict) as a dict; {} when unreadable."""
    return json_object(details)


def run_source(details: Any) -> str | None:
    """The `SOURCE_KEY` of a collection run's `details` (a JSON string or a dict), or None."""
    value = run_details(details).get(SOURCE_KEY)
    return value if isinstance(value, str) and value else None


def superseded_failures(latest: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Of the newest collection run of each scope, the failed ones that are no longer the last word on
    their source: run_id -> why, said after "superseded: ".

    - A later run of the same source collected, under another scope id: e.g. a failed
      `aws:default:us-east-1` (the account could not be read) followed by a succeeded
      `aws:123456789012:us-east-1` of the same source.
    - A later sync of its cloud was configured without its source (`CONFIGURED_KEY`): the scope's name
      globs changed (a new scope id) or its region or location was removed. Its failure stayed the
      newest run of a scope nobody syncs any more: "collection failed" (exit 3) for ever.

    Such a failure is kept as recorded (the run, its error). Runs without a source (recorded before it
    was kept) are never superseded."""
    rows = [(row, run_details(row.get(C.details))) for row in latest]      # each run's details read once
    collected: dict[str, tuple[Any, str]] = {}
    configured: dict[str, tuple[Any, frozenset[str]]] = {}     # cloud -> its newest sync's configured sources
    for row, details in rows:
        source = run_source(details)
        started = row.get(C.started_at)
        if source and row.get(C.status) in COLLECTED_STATUSES:
            if source not in collected or started > collected[source][0]:
                collected[source] = (started, str(row.get(C.scope)))
        named = details.get(CONFIGURED_KEY)
        cloud = str(row.get(C.cloud))
        if isinstance(named, list) and (cloud not in configured or started > configured[cloud][0]):
            configured[cloud] = (started, frozenset(str(n) for n in named))
    out: dict[str, str] = {}
    for row, details in rows:
        source = run_source(details)
        if row.get(C.status) != RunStatus.FAILED.value or source is None:
            continue
        if source in collected:
            started, scope = collected[source]
            if scope != row.get(C.scope) and started > row.get(C.started_at):
                out[str(row.get(C.run_id))] = f"the same source synced later as {scope}"
                continue
        synced = configured.get(str(row.get(C.cloud)))
        if synced is not None and synced[0] > row.get(C.started_at) and source not in synced[1]:
            out[str(row.get(C.run_id))] = "no longer configured (a later sync of its cloud named other sources)"
    return out


class C:
    """Column names. Import these; never retype a column name as a string literal."""

    cloud = "cloud"
    account = "account"
    region = "region"
    workflow_id = "workflow_id"
    workflow_name = "workflow_name"
    name = "name"
    kind = "kind"
    revision = "revision"
    definition = "definition"
    definition_format = "definition_format"
    attributes = "attributes"
    seen_at = "seen_at"
    execution_id = "execution_id"
    status = "status"
    native_status = "native_status"
    started_at = "started_at"
    ended_at = "ended_at"
    duration_ms = "duration_ms"
    error = "error"
    cause = "cause"
    redrive_count = "redrive_count"
    parent_execution_id = "parent_execution_id"
    billed_duration_ms = "billed_duration_ms"
    billed_memory_mb = "billed_memory_mb"
    input_bytes = "input_bytes"
    output_bytes = "output_bytes"
    input_sha256 = "input_sha256"
    event_count = "event_count"
    source = "source"
    collected_at = "collected_at"
    start_date = "start_date"
    step_key = "step_key"
    previous_step_key = "previous_step_key"
    parent_step_key = "parent_step_key"
    iteration = "iteration"
    type = "type"
    native_type = "native_type"
    resource = "resource"
    attempts = "attempts"
    attempt = "attempt"
    meter = "meter"
    quantity = "quantity"
    resource_id = "resource_id"
    metric = "metric"
    statistic = "statistic"
    timestamp = "timestamp"
    value = "value"
    unit = "unit"
    run_id = "run_id"
    scope = "scope"
    watermark = "watermark"
    counts = "counts"
    details = "details"
    # findings history (flowscope/report/history.py)
    id = "id"
    severity = "severity"
    workflow = "workflow"
    step = "step"
    title = "title"
    monthly_usd = "monthly_usd"
    first_seen = "first_seen"
    last_seen = "last_seen"
    state = "state"
    window_start = "window_start"
    window_end = "window_end"
    notified = "notified"
    # notification alerts (flowscope/report/history.py)
    target = "target"
    alert = "alert"


def _f(name: str, typ: pa.DataType, nullable: bool = True) -> pa.Field:
    return pa.field(name, typ, nullable=nullable)


WORKFLOWS = pa.schema([
    _f(C.cloud, pa.string(), False),
    _f(C.account, pa.string()),
    _f(C.region, pa.string()),
    _f(C.workflow_id, pa.string(), False),
    _f(C.name, pa.string(), False),
    _f(C.kind, pa.string(), False),
    _f(C.revision, pa.string(), False),
    _f(C.definition, pa.string()),
    _f(C.definition_format, pa.string()),  # asl-json | logicapp-json | gcp-yaml
    _f(C.attributes, pa.string()),          # JSON: logging level, versions/aliases, plan, ...
    _f(C.seen_at, TIMESTAMP, False),
])

EXECUTIONS = pa.schema([
    _f(C.cloud, pa.string(), False),
    _f(C.account, pa.string()),
    _f(C.region, pa.string()),
    _f(C.workflow_id, pa.string(), False),
    _f(C.workflow_name, pa.string(), False),
    _f(C.kind, pa.string()),
    _f(C.revision, pa.string()),
    _f(C.execution_id, pa.string(), False),
    _f(C.name, pa.string()),
    _f(C.status, pa.string(), False),
    _f(C.native_status, pa.string()),
    _f(C.started_at, TIMESTAMP, False),
    _f(C.ended_at, TIMESTAMP),
    _f(C.duration_ms, pa.int64()),
    _f(C.error, pa.string()),
    _f(C.cause, pa.string()),
    _f(C.redrive_count, pa.int32()),
    _f(C.parent_execution_id, pa.string()),
    _f(C.billed_duration_ms, pa.int64()),
    _f(C.billed_memory_mb, pa.int64()),
    _f(C.input_bytes, pa.int64()),
    _f(C.output_bytes, pa.int64()),
    _f(C.input_sha256, pa.string()),
    _f(C.event_count, pa.int32()),
    _f(C.attributes, pa.string()),
    _f(C.source, pa.string()),
    _f(C.collected_at, TIMESTAMP),
    _f(C.start_date, pa.date32(), False),
])

STEPS = pa.schema([
    _f(C.cloud, pa.string(), False),
    _f(C.workflow_id, pa.string(), False),
    _f(C.execution_id, pa.string(), False),
    _f(C.step_key, pa.string(), False),
    _f(C.previous_step_key, pa.string()),
    _f(C.parent_step_key, pa.string()),
    _f(C.iteration, pa.int32()),
    _f(C.name, pa.string(), False),
    _f(C.type, pa.string(), False),
    _f(C.native_type, pa.string()),
    _f(C.resource, pa.string()),
    _f(C.status, pa.string(), False),
    _f(C.started_at, TIMESTAMP),
    _f(C.ended_at, TIMESTAMP),
    _f(C.duration_ms, pa.int64()),
    _f(C.attempts, pa.int32(), False),
    _f(C.error, pa.string()),
    _f(C.cause, pa.string()),
    _f(C.start_date, pa.date32(), False),
])

ATTEMPTS = pa.schema([
    _f(C.cloud, pa.string(), False),
    _f(C.workflow_id, pa.string(), False),
    _f(C.execution_id, pa.string(), False),
    _f(C.step_key, pa.string(), False),
    _f(C.attempt, pa.int32(), False),
    _f(C.started_at, TIMESTAMP),
    _f(C.ended_at, TIMESTAMP),
    _f(C.duration_ms, pa.int64()),
    _f(C.status, pa.string(), False),
    _f(C.error, pa.string()),
    _f(C.cause, pa.string()),
    _f(C.start_date, pa.date32(), False),
])

USAGE = pa.schema([
    _f(C.cloud, pa.string(), False),
    _f(C.region, pa.string()),
    _f(C.workflow_id, pa.string(), False),
    _f(C.execution_id, pa.string(), False),
    _f(C.step_key, pa.string()),
    _f(C.name, pa.string()),                # the step's name, so cost per step needs no join
    _f(C.meter, pa.string(), False),
    _f(C.quantity, pa.float64(), False),
    _f(C.started_at, TIMESTAMP, False),
    _f(C.start_date, pa.date32(), False),
])

METRICS = pa.schema([
    _f(C.cloud, pa.string(), False),
    _f(C.account, pa.string()),
    _f(C.region, pa.string()),
    _f(C.resource_id, pa.string(), False),
    _f(C.metric, pa.string(), False),
    _f(C.statistic, pa.string(), False),
    _f(C.timestamp, TIMESTAMP, False),
    _f(C.value, pa.float64()),
    _f(C.unit, pa.string()),
    _f(C.start_date, pa.date32(), False),
])

COLLECTION_RUNS = pa.schema([
    _f(C.run_id, pa.string(), False),
    _f(C.cloud, pa.string(), False),
    _f(C.scope, pa.string(), False),
    _f(C.started_at, TIMESTAMP, False),
    _f(C.ended_at, TIMESTAMP),
    _f(C.status, pa.string(), False),
    _f(C.watermark, TIMESTAMP),
    _f(C.counts, pa.string()),   # JSON object: table -> rows written, plus skips
    _f(C.error, pa.string()),
    _f(C.details, pa.string()),  # JSON object: path used, logging level, warnings
])

FINDINGS = pa.schema([
    _f(C.id, pa.string(), False),           # the finding's stable id (analysis/base.py Finding.id)
    _f(C.kind, pa.string(), False),
    _f(C.severity, pa.string(), False),      # as last seen
    _f(C.cloud, pa.string()),
    _f(C.workflow_id, pa.string()),
    _f(C.workflow, pa.string()),
    _f(C.step, pa.string()),
    _f(C.title, pa.string()),
    _f(C.monthly_usd, pa.float64()),
    _f(C.first_seen, TIMESTAMP, False),      # end of the first report window that saw it
    _f(C.last_seen, TIMESTAMP, False),       # end of the last report window that saw it
    _f(C.state, pa.string(), False),         # FindingState
    _f(C.window_start, TIMESTAMP, False),    # the report window that last updated the row
    _f(C.window_end, TIMESTAMP, False),
    _f(C.run_id, pa.string(), False),        # that report run
    _f(C.notified, pa.string()),             # JSON {notify target: report run id} of the last message naming it
])

ALERTS = pa.schema([
    _f(C.target, pa.string(), False),        # the [[notify]] entry's name
    _f(C.scope, pa.string()),                # the report's filters (history.alert_scope); null: written before it
    _f(C.status, pa.string(), False),        # the coverage status its last message said (ok, no_data, ...)
    _f(C.alert, pa.string(), False),         # what of it a change is measured against (history.status_alert)
    _f(C.window_end, TIMESTAMP, False),      # the report window of that message
    _f(C.run_id, pa.string(), False),        # that report run
])

REPORT_RUNS = pa.schema([
    _f(C.run_id, pa.string(), False),        # the report run (history.run_id: its window and filters)
    _f(C.scope, pa.string(), False),         # its filters (history.alert_scope)
    _f(C.window_start, TIMESTAMP, False),
    _f(C.window_end, TIMESTAMP, False),
])


class FindingState(StrEnum):
    """Where a finding stands against the previous report (flowscope/report/history.py)."""

    NEW = "new"              # first seen in this report
    ONGOING = "ongoing"      # seen before, still there
    WORSENED = "worsened"    # still there, now more severe
    REOPENED = "reopened"    # resolved before, back again
    RESOLVED = "resolved"    # seen before, gone from this report's window


@dataclass(frozen=True)
class TableSpec:
    """A model table: its schema, the key that identifies a row, and its Delta partitioning.

    `replace_key` is what a write replaces: rows of the table whose replace_key values appear
    in the incoming batch are deleted in the same commit as the new rows are added.
    """

    name: str
    schema: pa.Schema
    key: tuple[str, ...]
    replace_key: tuple[str, ...]
    partition_by: tuple[str, ...]


TABLES: dict[str, TableSpec] = {
    "workflows": TableSpec("workflows", WORKFLOWS, (C.cloud, C.workflow_id, C.revision),
                           (C.cloud, C.workflow_id, C.revision), (C.cloud,)),
    "executions": TableSpec("executions", EXECUTIONS, (C.cloud, C.execution_id),
                            (C.cloud, C.execution_id), (C.cloud, C.start_date)),
    "steps": TableSpec("steps", STEPS, (C.cloud, C.execution_id, C.step_key),
                       (C.cloud, C.execution_id), (C.cloud, C.start_date)),
    "attempts": TableSpec("attempts", ATTEMPTS, (C.cloud, C.execution_id, C.step_key, C.attempt),
                          (C.cloud, C.execution_id), (C.cloud, C.start_date)),
    "usage": TableSpec("usage", USAGE, (C.cloud, C.execution_id, C.step_key, C.meter),
                       (C.cloud, C.execution_id), (C.cloud, C.start_date)),
    "metrics": TableSpec("metrics", METRICS,
                         (C.cloud, C.resource_id, C.metric, C.statistic, C.timestamp),
                         (C.cloud, C.resource_id, C.metric, C.statistic, C.timestamp),
                         (C.cloud, C.start_date)),
    "collection_runs": TableSpec("collection_runs", COLLECTION_RUNS, (C.run_id,), (C.run_id,), ()),
    "findings": TableSpec("findings", FINDINGS, (C.id,), (C.id,), ()),
    "alerts": TableSpec("alerts", ALERTS, (C.target, C.scope), (C.target, C.scope), ()),
    "report_runs": TableSpec("report_runs", REPORT_RUNS, (C.run_id,), (C.run_id,), ()),
}
EXECUTION_TABLES = ("executions", "steps", "attempts", "usage")
"""Tables whose rows belong to one execution and are replaced together with it."""

COLUMN_VALUES: dict[tuple[str, str], tuple[str, ...]] = {
    **{(t, C.cloud): tuple(Cloud) for t in TABLES if C.cloud in TABLES[t].schema.names},
    **{(t, C.status): tuple(Status) for t in ("executions", "steps", "attempts")},
    ("collection_runs", C.status): tuple(RunStatus),
    ("findings", C.state): tuple(FindingState),
    ("usage", C.meter): tuple(Meter),
    ("workflows", C.kind): tuple(Kind),
    ("executions", C.kind): tuple(Kind),
}
"""The values a (table, column) may hold, in their enum's order: the store refuses others
(`store.validate`), the notebook API's filters name them (`session.statuses`)."""


# ---------------------------------------------------------------- helpers for transforms

def utc(value: dt.datetime | str | int | float | None) -> dt.datetime | None:
    """Parse a timestamp (datetime, ISO 8601 string with any fraction, epoch ms) as aware UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(value / 1000.0, tz=UTC)
    text = value.strip()
    if text.isdigit():
        return dt.datetime.fromtimestamp(int(text) / 1000.0, tz=UTC)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    # Azure and GCP send 7 or 9 fractional digits; Python takes at most 6.
    dot = text.find(".")
    if dot != -1:
        end = dot + 1
        while end < len(text) and text[end].isdigit():
            end += 1
        if end - dot - 1 > 6:
            text = text[: dot + 7] + text[end:]
    parsed = dt.datetime.fromisoformat(text)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def utc_text(value: Any) -> dt.datetime | None:
    """`utc` of a time as the Azure and GCP APIs give one: RFC 3339 text (or a datetime, from an SDK). A number,
    or text of digits alone, is refused (ValueError naming what it is) rather than read as epoch milliseconds as
    `utc` reads AWS's: a `startTime` of 12345 in an export was stored as a run started in 1970, 57 years long."""
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.strip().isdigit()):
        raise ValueError(f"time {value!r} is not RFC 3339 text")
    if value is not None and not isinstance(value, (str, dt.datetime)):
        raise ValueError(f"time is {type(value).__name__}, not RFC 3339 text")
    return utc(value)


def duration_ms(start: dt.datetime | None, end: dt.datetime | None) -> int | None:
    """Milliseconds from start to end; null while running.

    Clocks of a cloud's hosts disagree by a few milliseconds, so an end may precede its start:
    timestamps are kept as recorded and the duration is clamped at 0, never negative.
    """
    if start is None or end is None:
        return None
    return max(0, (end - start) // _MS)


_MS = dt.timedelta(milliseconds=1)


def bounded_int(value: Any, what: str, bits: int = 32) -> int:
    """`int(value)` for a column of `bits` bits; a number the column cannot hold (a hand-edited or
    corrupt record: 1e30, 99999999999999999999) is a ValueError naming it, so the transform skips
    that record with its file and line instead of the whole import failing at the store."""
    try:
        number = int(value)
    except OverflowError:
        raise ValueError(f"{what} {value!r} is not a finite number") from None
    limit = 1 << (bits - 1)
    if not -limit <= number < limit:
        raise ValueError(f"{what} {value!r} is out of range (at most {limit - 1})")
    return number


def truncate(text: Any, limit: int = MAX_TEXT_CHARS) -> str | None:
    """Error messages and causes are kept, but never unbounded."""
    if text is None:
        return None
    text = text if isinstance(text, str) else str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def payload_size_and_hash(payload: Any) -> tuple[int | None, str | None]:
    """Payloads are not stored: only their size in bytes and a SHA-256."""
    if payload is None:
        return None, None
    data = payload if isinstance(payload, bytes) else str(payload).encode()
    return len(data), hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- batches

@dataclass
class Skip:
    """A record that could not be used, counted and reported instead of dropped silently."""

    source: str          # file name, API call or log stream
    location: str        # line number, event id, page
    reason: str


@dataclass
class Batch:
    """Rows for the model tables, as produced by a transform (plain dicts keyed by `C.*`)."""

    workflows: list[dict[str, Any]] = field(default_factory=list)
    executions: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    usage: list[dict[str, Any]] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    collection_runs: list[dict[str, Any]] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    report_runs: list[dict[str, Any]] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)
    unknown_event_types: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    """Things the rows were built around that a user must hear of (an unparsable definition,
    conflicting duplicates); surfaces print them, collection_runs keep them."""

    def extend(self, other: "Batch") -> "Batch":
        for name in TABLES:
            getattr(self, name).extend(getattr(other, name))
        self.skips.extend(other.skips)
        self.warnings.extend(w for w in other.warnings if w not in self.warnings)
        for key, count in other.unknown_event_types.items():
            self.unknown_event_types[key] = self.unknown_event_types.get(key, 0) + count
        return self

    def rows(self, table: str) -> list[dict[str, Any]]:
        return getattr(self, table)

    def counts(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in TABLES if getattr(self, name)}


def to_arrow(table: str, rows: Sequence[Mapping[str, Any]] | Iterable[Mapping[str, Any]]) -> pa.Table:
    """Rows (dicts) to an Arrow table with the model's schema; missing columns become null."""
    spec = TABLES.get(table)
    if spec is None:
        raise ValueError(f"unknown table {table!r}; tables: {', '.join(TABLES)}")
    rows = rows if isinstance(rows, list) else list(rows)
    try:
        arrow = pa.table({fld.name: _column(rows, fld) for fld in spec.schema}, schema=spec.schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError) as exc:
        raise ValueError(f"table {table}: a value does not fit the model's schema: {exc}") from None
    for fld in spec.schema:
        column = arrow.column(fld.name)
        if not fld.nullable and column.null_count:
            first = column.is_null().to_pylist().index(True)
            raise ValueError(f"table {table}: column {fld.name} is required but missing in row {first}")
    return arrow


def _naive_utc(value: Any) -> Any:
    if value is None or not isinstance(value, dt.datetime):
        return value
    zone = value.tzinfo
    if zone is None:
        return value
    if zone is not UTC:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None)


def _column(rows: list[Mapping[str, Any]], fld: pa.Field) -> pa.Array:
    """One column of row dicts as Arrow; aware datetimes go through naive UTC (10x faster)."""
    name = fld.name
    values = [row.get(name) for row in rows]
    if pa.types.is_timestamp(fld.type):
        return pa.array([_naive_utc(v) for v in values], pa.timestamp("us")).cast(fld.type)
    return pa.array(values, fld.type)


def empty(table: str) -> pa.Table:
    return TABLES[table].schema.empty_table()
