"""Cloud Monitoring v3 (REST, I/O plus the row shaping of its answers): Workflows metrics.

The metric types of `workflows.googleapis.com` are discovered (`metricDescriptors.list`), not
hard-coded; each is read with `timeSeries.list` aligned per series to one fixed period
(`PERIOD_S`), so datapoints of overlapping syncs share their keys (resource, metric, statistic,
timestamp) and a re-sync replaces the last, still-filling period instead of adding a second
grid of points. The aligner follows the descriptor: sums for DELTA and CUMULATIVE numbers, means
for gauges, count and mean for distributions.

`collect_metrics` is the scope's metrics step. Through the collector's own REST layer
(`GcpClients`): the read-only guard, the Monitoring quota bucket, retries with backoff and
jitter, and call counts apply as to every other call.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from flowscope.collectors.gcp.clients import GcpClients
from flowscope.model import Batch, C, Cloud, utc

if TYPE_CHECKING:
    from flowscope.collectors.gcp.context import ScopeContext

SERVICE = "monitoring"
API = "monitoring"
PREFIX = "workflows.googleapis.com/"
RESOURCE_TYPE = "workflows.googleapis.com/Workflow"
PERIOD_S = 300
DEFAULT_LOOKBACK = dt.timedelta(days=1)
MAX_LOOKBACK = dt.timedelta(weeks=6)     # what Monitoring keeps of most metrics
PAGE = 1000


def aligned(when: dt.datetime, period: int = PERIOD_S) -> dt.datetime:
    epoch = int(when.timestamp())
    return dt.datetime.fromtimestamp(epoch - epoch % period, tz=dt.timezone.utc)


def _stamp(when: dt.datetime) -> str:
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def list_descriptors(clients: GcpClients, project: str) -> list[dict[str, Any]]:
    """The Workflows metric descriptors of a project (every page)."""
    found: list[dict[str, Any]] = []
    for page in clients.pages(SERVICE, f"v3/projects/{project}/metricDescriptors", api=API,
                              params={"filter": f'metric.type = starts_with("{PREFIX}")', "pageSize": PAGE},
                              target=f"projects/{project}"):
        found.extend(d for d in clients.items(page, "metricDescriptors", api=API, target=f"projects/{project}")
                     if isinstance(d, dict) and str(d.get("type", "")).startswith(PREFIX))
    return found


def aligner(descriptor: dict[str, Any]) -> tuple[str, tuple[str, ...]] | None:
    """(perSeriesAligner, statistics kept) for a descriptor; None when not a number we read."""
    kind, value = descriptor.get("metricKind"), descriptor.get("valueType")
    if value == "DISTRIBUTION":
        return ("ALIGN_DELTA", ("count", "mean")) if kind in ("DELTA", "CUMULATIVE") else None
    if value not in ("INT64", "DOUBLE"):
        return None
    if kind in ("DELTA", "CUMULATIVE"):
        return ("ALIGN_DELTA" if kind == "CUMULATIVE" else "ALIGN_SUM"), ("sum",)
    if kind == "GAUGE":
        return "ALIGN_MEAN", ("mean",)
    return None


def list_series(clients: GcpClients, project: str, metric_type: str, per_series_aligner: str,
                start: dt.datetime, end: dt.datetime) -> Iterator[dict[str, Any]]:
    """Time series of one metric type over [start, end), aligned to PERIOD_S (every page)."""
    params = {
        "filter": f'metric.type = "{metric_type}" AND resource.type = "{RESOURCE_TYPE}"',
        "interval.startTime": _stamp(start), "interval.endTime": _stamp(end),
        "aggregation.alignmentPeriod": f"{PERIOD_S}s", "aggregation.perSeriesAligner": per_series_aligner,
        "view": "FULL", "pageSize": PAGE,
    }
    for page in clients.pages(SERVICE, f"v3/projects/{project}/timeSeries", api=API, params=params,
                              target=metric_type):
        yield from (s for s in clients.items(page, "timeSeries", api=API, target=metric_type) if isinstance(s, dict))


def metric_rows(series: dict[str, Any], descriptor: dict[str, Any], statistics: tuple[str, ...]) -> list[dict]:
    """Model metrics rows of one time series (pure): one per point and statistic."""
    labels = (series.get("resource") or {}).get("labels") or {}
    project, location, workflow = labels.get("project_id"), labels.get("location"), labels.get("workflow_id")
    if not (project and location and workflow):
        return []
    metric = series.get("metric") or {}
    name = str(metric.get("type", descriptor.get("type", ""))).removeprefix(PREFIX)
    extra = metric.get("labels") or {}
    if extra:
        name += "{" + ",".join(f"{k}={v}" for k, v in sorted(extra.items())) + "}"
    rows = []
    for point in series.get("points") or []:
        end = utc(((point or {}).get("interval") or {}).get("endTime"))
        if end is None:
            continue
        stamp = aligned(end - dt.timedelta(microseconds=1))     # the period the point closes
        for statistic, value in _values(point.get("value") or {}, statistics):
            rows.append({C.cloud: Cloud.GCP.value, C.account: project, C.region: location,
                         C.resource_id: f"projects/{project}/locations/{location}/workflows/{workflow}",
                         C.metric: name, C.statistic: statistic, C.timestamp: stamp, C.value: value,
                         C.unit: descriptor.get("unit") or None, C.start_date: stamp.date()})
    return rows


def _values(value: dict[str, Any], statistics: tuple[str, ...]) -> Iterator[tuple[str, float]]:
    if "distributionValue" in value:
        dist = value["distributionValue"] or {}
        if "count" in statistics:
            yield "count", float(dist.get("count") or 0)
        if "mean" in statistics and dist.get("mean") is not None:
            yield "mean", float(dist["mean"])
        return
    for key in ("int64Value", "doubleValue"):
        if key in value:
            try:
                yield statistics[0], float(value[key])
            except (TypeError, ValueError):
                pass
            return


# ---------------------------------------------------------------- the step

def collect_metrics(sc: "ScopeContext") -> None:
    """Cloud Monitoring datapoints of the scope's workflows, every `workflows.googleapis.com` type
    discovered, from the window's lower bound (a day back on a first sync) to now. Metrics are
    context, not executions: a failure is an error of the run but holds no watermark."""
    from flowscope.collectors.gcp.context import as_error, raise_auth

    if not sc.scope.metrics or not sc.workflows:
        return
    start = aligned(max(sc.window.lower_bound or sc.now - DEFAULT_LOOKBACK, sc.now - MAX_LOOKBACK))
    try:
        descriptors = list_descriptors(sc.clients, sc.scope.project)
    except Exception as exc:  # noqa: BLE001 - recorded
        raise_auth(exc)
        sc.result.record_error(as_error(exc, "metricDescriptors.list", sc.scope.project))
        return
    rows: list[dict[str, Any]] = []
    read: list[str] = []
    skipped: list[str] = []
    for descriptor in descriptors:
        how = aligner(descriptor)
        metric_type = str(descriptor.get("type"))
        if how is None:
            skipped.append(metric_type)
            continue
        try:
            for series in list_series(sc.clients, sc.scope.project, metric_type, how[0], start, sc.now):
                rows.extend(r for r in metric_rows(series, descriptor, how[1])
                            if r[C.resource_id] in sc.workflows)
            read.append(metric_type)
        except Exception as exc:  # noqa: BLE001 - recorded; the other types go on
            raise_auth(exc)
            sc.result.record_error(as_error(exc, "timeSeries.list", metric_type))
    sc.result.details["metric_types"] = {"read": read, "skipped": skipped}
    if rows:
        sc.sink.add(Batch(metrics=rows))
    sc.result.count("metric_datapoints", len(rows))
