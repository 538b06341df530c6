"""The Log Analytics bulk path: workflow runtime logs by KQL, one query per time slice.

With `workspace_id`, workflows whose runs the runtime log describes whole (no loops: the log has
no iteration index) are read from the workspace instead of one management call per run:

- `query_slice`: azure-monitor-query's `LogsQueryClient.query_workspace`, one query per slice of
  the window, over `LogicAppWorkflowRuntime` (resource-specific diagnostic settings, Consumption
  and Standard) and `AzureDiagnostics` (category WorkflowRuntime, the legacy mode), projected onto
  one set of columns. A PARTIAL result (or one at the row limit) is never taken as complete: the
  slice is split in two and each half queried again, down to `MIN_SLICE`.
- `transform/runtime_log.records_from_rows`: pure; the rows of one slice turned into the management
  API's own record shapes (runs, run actions with `retryHistory`, trigger histories of polls that
  fired nothing), so the existing transforms read them unchanged. `flowscope import` of the same
  records archived by a diagnostic setting (`transform/diagnostic_logs.py`) goes through it too.

What the log does not carry stays empty: the run's revision, content sizes, tracking ids.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flowscope.collectors.azure.clients import AzureConfigError, CallStats, check_endpoint, make_policies
from flowscope.collectors.native import cleaned
from flowscope.collectors.throttle import Quota
from flowscope.extras import install_command

DEFAULT_LOGS_ENDPOINT = "https://api.loganalytics.io"
LA_QUERIES = Quota(200, 200 / 30)
"""Log Analytics query API: 200 requests per 30 seconds per user (Azure Monitor service limits)."""
MAX_ROWS = 500_000
"""Rows one query returns at most; a slice that reaches it is split like a partial one."""
DEFAULT_SLICE = dt.timedelta(hours=6)
DEFAULT_LOOKBACK = dt.timedelta(days=30)
"""A first sync without --since reads this much (a workspace's default retention)."""
MIN_SLICE = dt.timedelta(minutes=5)
INGESTION_DELAY = dt.timedelta(minutes=15)
"""How long an event may take to become queryable (Microsoft: completed events and tracked
properties can take 10-15 minutes to appear): a sync that read the log holds the watermark this
far before its now, so the next window (watermark minus lag) asks for those minutes again."""
_SAFE_ID = re.compile(r"^/subscriptions/[a-z0-9/_.()\-]+$")
COLUMNS = ("ResourceId", "WorkflowName", "RunId", "ActionName", "TriggerName", "OperationName", "Status",
           "StartTime", "EndTime", "Code", "Error", "RetryHistory", "TimeGenerated")

QUERY = """let _start = datetime({start});
let _end = datetime({end});
let _ids = dynamic([{ids}]);
union isfuzzy=true
(LogicAppWorkflowRuntime
 | where TimeGenerated >= _start and TimeGenerated < _end
 | project ResourceId = tolower(_ResourceId), WorkflowName, RunId, ActionName, TriggerName, OperationName,
           Status, StartTime, EndTime, Code, Error, RetryHistory, TimeGenerated),
(AzureDiagnostics
 | where TimeGenerated >= _start and TimeGenerated < _end and Category == "WorkflowRuntime"
 | project ResourceId = tolower(_ResourceId),
           WorkflowName = tostring(column_ifexists("resource_workflowName_s", "")),
           RunId = tostring(column_ifexists("resource_runId_s", "")),
           ActionName = tostring(column_ifexists("resource_actionName_s", "")),
           TriggerName = tostring(column_ifexists("resource_triggerName_s", "")),
           OperationName, Status = tostring(column_ifexists("status_s", "")),
           StartTime = todatetime(column_ifexists("startTime_t", datetime(null))),
           EndTime = todatetime(column_ifexists("endTime_t", datetime(null))),
           Code = tostring(column_ifexists("code_s", "")),
           Error = tostring(column_ifexists("error_message_s", "")), RetryHistory = "", TimeGenerated)
| where ResourceId in (_ids)
| project {columns}"""


class PartialResult(RuntimeError):
    """A slice the service answered only partly (or up to the row limit): never complete."""


def kql_time(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def queryable(workflow_id: str) -> bool:
    """Whether a workflow id may be embedded in the query (`build_query`): a canonical ARM id of
    plain characters. Resource group names may hold Unicode letters; such a workflow is read
    through the management API instead (`logs_path.choose_paths`)."""
    return bool(_SAFE_ID.match(workflow_id))


def build_query(workflow_ids: Sequence[str], start: dt.datetime, end: dt.datetime) -> str:
    """The KQL of one slice. Workflow ids come from the cloud: only canonical ARM ids are embedded."""
    bad = [w for w in workflow_ids if not queryable(w)]
    if bad:
        raise ValueError(f"not a canonical workflow id, not put into a query: {bad[0][:200]!r}")
    ids = ", ".join(f'"{w}"' for w in sorted(workflow_ids))
    return QUERY.format(start=kql_time(start), end=kql_time(end), ids=ids, columns=", ".join(COLUMNS))


def make_logs_client(endpoint: str, credential: Any, stats: CallStats, *, retry_total: int = 8,
                     read_timeout: float = 180) -> tuple[Any, dict[str, Any]]:
    """A LogsQueryClient on our pipeline (read-only guard, jittered retries, the query bucket);
    returns it with the per-call options (the https opt-out on a loopback endpoint)."""
    try:
        from azure.core.pipeline.policies import ContentDecodePolicy
        from azure.core.pipeline.transport import RequestsTransport
        from azure.monitor.query import LogsQueryClient
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise AzureConfigError(f"the Log Analytics path needs azure-monitor-query: {install_command('azure')}") \
            from None

    from flowscope.collectors.azure.clients import ArmBucket, token_scope
    from flowscope.collectors.throttle import client_bucket

    endpoint = check_endpoint(endpoint, "logs_endpoint")
    bucket = ArmBucket(client_bucket(LA_QUERIES).capacity, LA_QUERIES.rate)
    policies = make_policies(credential, token_scope(endpoint), bucket, stats, retry_total=retry_total, backoff=0.8)
    policies.insert(-1, ContentDecodePolicy())
    client = LogsQueryClient(credential, endpoint=endpoint, policies=policies,
                             transport=RequestsTransport(read_timeout=read_timeout, connection_timeout=10))
    options = {"enforce_https": False} if endpoint.startswith("http://") else {}
    return client, options


def query_slice(client: Any, options: Mapping[str, Any], workspace_id: str, workflow_ids: Sequence[str],
                start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
    """Rows of one slice as dicts (`COLUMNS`); raises PartialResult for a partial or full answer."""
    from azure.monitor.query import LogsQueryStatus

    result = client.query_workspace(workspace_id, build_query(workflow_ids, start, end), timespan=(start, end),
                                    **options)
    if result.status != LogsQueryStatus.SUCCESS:
        error = getattr(result, "partial_error", None)
        raise PartialResult(f"partial result for {kql_time(start)}..{kql_time(end)}: "
                            f"{getattr(error, 'code', None)}: {cleaned(str(getattr(error, 'message', '')), 200)}")
    rows: list[dict[str, Any]] = []
    for table in result.tables:
        names = list(table.columns)
        rows.extend(dict(zip(names, row, strict=False)) for row in table.rows)
    if len(rows) >= MAX_ROWS:
        raise PartialResult(f"{len(rows)} rows for {kql_time(start)}..{kql_time(end)}: at the row limit")
    return rows


@dataclass
class SliceOutcome:
    rows: list[dict[str, Any]]
    queries: int
    failed: list[tuple[dt.datetime, dt.datetime, str]]


def query_window(client: Any, options: Mapping[str, Any], workspace_id: str, workflow_ids: Sequence[str],
                 start: dt.datetime, end: dt.datetime, *, slice_len: dt.timedelta = DEFAULT_SLICE,
                 min_slice: dt.timedelta = MIN_SLICE, parallel: int = 4) -> Iterable[SliceOutcome]:
    """The window slice by slice (oldest first), each partial slice split until whole or `min_slice`;
    `parallel` slices in flight at a time (the query API runs at most 5 queries of a user at once),
    so memory holds a few slices' rows, never the whole window's."""
    from flowscope.collectors.throttle import bounded_map

    bounds: list[tuple[dt.datetime, dt.datetime]] = []
    cursor = start
    while cursor < end:
        bounds.append((cursor, min(end, cursor + slice_len)))
        cursor = bounds[-1][1]
    for offset in range(0, len(bounds), parallel):
        group = bounds[offset:offset + parallel]
        outcomes = bounded_map(lambda b: _whole_slice(client, options, workspace_id, workflow_ids, b[0], b[1],
                                                      min_slice), group, parallel, thread_name_prefix="flowscope-kql")
        for outcome in outcomes:
            if outcome.error is not None:
                raise outcome.error
            assert outcome.result is not None
            yield outcome.result


def _whole_slice(client: Any, options: Mapping[str, Any], workspace_id: str, workflow_ids: Sequence[str],
                 start: dt.datetime, end: dt.datetime, min_slice: dt.timedelta) -> SliceOutcome:
    pending = [(start, end)]
    out = SliceOutcome([], 0, [])
    while pending:
        lo, hi = pending.pop(0)
        out.queries += 1
        try:
            out.rows.extend(query_slice(client, options, workspace_id, workflow_ids, lo, hi))
        except PartialResult as exc:
            if hi - lo <= min_slice:
                out.failed.append((lo, hi, str(exc)))
                continue
            mid = lo + (hi - lo) / 2
            pending[:0] = [(lo, mid), (mid, hi)]
    return out


