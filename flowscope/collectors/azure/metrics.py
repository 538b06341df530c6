"""Azure Monitor metrics of Logic Apps workflows -> metrics rows, through the ARM metrics GET.

`{workflow}/providers/Microsoft.Insights/metrics` through `arm_endpoint` (so it works in every
cloud and emulator the management calls work in), one call per workflow for every metric below
(the API takes up to 20 names). One fixed grain, PT1H, over hour-aligned windows: datapoints of
overlapping syncs share their keys (resource, metric, statistic, timestamp), so a re-sync replaces
the last, still-filling hour instead of adding a second grid of points. `get_metrics` is the I/O;
`metric_rows` the pure transform of one response.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flowscope.collectors.azure.clients import ArmClient
from flowscope.model import C, Cloud, utc

METRICS_API_VERSION = "2018-01-01"
GRAIN = "PT1H"
GRAIN_S = 3600
RETENTION = dt.timedelta(days=93)
"""How far back Azure Monitor keeps platform metrics."""
DEFAULT_LOOKBACK = dt.timedelta(days=14)
"""A first sync without --since reads this much."""
METRICS: dict[str, tuple[str, str]] = {
    # metric -> (statistic, unit), names as Microsoft.Logic/workflows publishes them
    "RunsStarted": ("Total", "Count"),
    "RunsCompleted": ("Total", "Count"),
    "RunsSucceeded": ("Total", "Count"),
    "RunsFailed": ("Total", "Count"),
    "RunsCancelled": ("Total", "Count"),
    "RunThrottledEvents": ("Total", "Count"),
    "RunLatency": ("Average", "Seconds"),
    "ActionsStarted": ("Total", "Count"),
    "ActionsFailed": ("Total", "Count"),
    "ActionThrottledEvents": ("Total", "Count"),
    "ActionLatency": ("Average", "Seconds"),
    "TriggersFired": ("Total", "Count"),
    "TriggersFailed": ("Total", "Count"),
    "BillableActionExecutions": ("Total", "Count"),
    "BillableTriggerExecutions": ("Total", "Count"),
    "TotalBillableExecutions": ("Total", "Count"),
}


def aligned(value: dt.datetime) -> dt.datetime:
    epoch = int(value.timestamp())
    return dt.datetime.fromtimestamp(epoch - epoch % GRAIN_S, tz=dt.timezone.utc)


def timespan(lower_bound: dt.datetime | None, end: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The hour-aligned window to read: from the collection window's lower bound (or the default
    lookback), never past what Azure Monitor keeps."""
    start = lower_bound or (end - DEFAULT_LOOKBACK)
    return aligned(max(start, end - RETENTION)), end


def get_metrics(client: ArmClient, workflow_id: str, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    """One workflow's metrics response (raises `ArmError` on failure)."""
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    span = "/".join(t.astimezone(dt.timezone.utc).strftime(fmt) for t in (start, end))
    params = {"api-version": METRICS_API_VERSION, "metricnames": ",".join(METRICS), "interval": GRAIN,
              "aggregation": "Total,Average", "timespan": span}
    body = client.get(workflow_id.rstrip("/") + "/providers/Microsoft.Insights/metrics", operation="metrics.get",
                      params=params)
    return body if isinstance(body, dict) else {}


def metric_rows(body: dict[str, Any], *, resource_id: str, account: str | None,
                region: str | None) -> list[dict[str, Any]]:
    """Rows of one metrics response: each known metric's chosen statistic, one row per datapoint
    that has it (an hour without data has no `total`/`average` and gives no row, not a zero)."""
    rows: list[dict[str, Any]] = []
    for metric in body.get("value") or []:
        if not isinstance(metric, dict):
            continue
        name_obj = metric.get("name")
        name = name_obj.get("value") if isinstance(name_obj, dict) else name_obj
        if name not in METRICS:
            continue
        statistic, unit = METRICS[name]
        key = statistic.lower()
        for series in metric.get("timeseries") or []:
            for point in (series or {}).get("data") or []:
                if not isinstance(point, dict) or point.get(key) is None:
                    continue
                stamp = utc(point.get("timeStamp"))
                if stamp is None:
                    continue
                rows.append({C.cloud: Cloud.AZURE.value, C.account: account, C.region: region,
                             C.resource_id: resource_id, C.metric: name, C.statistic: statistic,
                             C.timestamp: stamp, C.value: float(point[key]), C.unit: str(metric.get("unit") or unit),
                             C.start_date: stamp.date()})
    return rows
