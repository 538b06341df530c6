"""Azure Monitor metrics of Logic Apps workflows -> metrics rows (step 5 of a scope).

Two ways to read them, one fixed grain: PT1H over hour-aligned windows, so datapoints of
overlapping syncs share their keys (resource, metric, statistic, timestamp) and a re-sync replaces
the last, still-filling hour instead of adding a second grid of points.

- ARM (default): `{workflow}/providers/Microsoft.Insights/metrics` through `arm_endpoint` (it
  works in every cloud and emulator the management calls work in), one GET per workflow for every
  metric below (the API takes up to 20 names).
- Batch (`metrics_endpoint` set): azure-monitor-querymetrics' `MetricsClient.query_resources`,
  one `POST /subscriptions/{sub}/metrics:getBatch` for up to 50 workflows of one region, on our
  pipeline (read-only guard, jittered retries). The batch API is regional: `{region}` in the
  endpoint (`https://{region}.metrics.monitor.azure.com`) stands for each workflow's region.

`get_metrics` / `query_batch` are the I/O; `metric_rows` the pure transform of one response (a
batch result is first turned into the ARM response shape, `arm_shape`), `collect_metrics` the step.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from flowscope.collectors.azure.clients import ArmClient, ArmError, CallStats, check_endpoint, make_policies
from flowscope.collectors.native import cleaned
from flowscope.collectors.throttle import bounded_map
from flowscope.collectors.window import as_collection_error
from flowscope.extras import install_command
from flowscope.model import Batch, C, Cloud, utc

if TYPE_CHECKING:
    from flowscope.collectors.azure.context import ScopeContext

METRICS_API_VERSION = "2018-01-01"
GRAIN = "PT1H"
GRAIN_S = 3600
RETENTION = dt.timedelta(days=93)
"""How far back Azure Monitor keeps platform metrics."""
DEFAULT_LOOKBACK = dt.timedelta(days=14)
"""A first sync without --since reads this much."""
NAMESPACE = "Microsoft.Logic/workflows"
BATCH_SIZE = 50
"""Resource ids per `metrics:getBatch` call: the API's limit (all of one subscription and region)."""
_METRICS_ID = "/providers/microsoft.insights/metrics/"
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
    path = workflow_id.rstrip("/") + "/providers/Microsoft.Insights/metrics"
    body = client.get(path, operation="metrics.get", params=params)
    if not isinstance(body, dict) or not isinstance(body.get("value"), list):   # a proxy's page, not "no data"
        raise ArmError("metrics.get: an answer without a `value` list", status=200, operation="metrics.get",
                       code="BadPage", target=path[:300])
    return body


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


# ---------------------------------------------------------------- the batch API (metrics_endpoint)

def batch_token_scope(endpoint: str) -> str:
    """The OAuth scope of a metrics batch endpoint: a regional host `{region}.metrics.monitor.<cloud>`
    takes the cloud-wide audience `https://metrics.monitor.<cloud>/.default`."""
    from urllib.parse import urlsplit

    from flowscope.collectors.azure.clients import token_scope

    host = urlsplit(endpoint).hostname or ""
    cut = host.find(".metrics.monitor.")
    return f"https://{host[cut + 1:]}/.default" if cut > 0 else token_scope(endpoint)


def regional_endpoint(endpoint: str, region: str | None) -> str:
    """`endpoint` with `{region}` replaced by the workflow's region (checked again once filled in)."""
    if "{region}" not in endpoint:
        return endpoint
    if not region or not region.isalnum():
        raise ValueError(f"metrics_endpoint names {{region}}, but the workflow's region {region!r} is not usable")
    return check_endpoint(endpoint.replace("{region}", region), "metrics_endpoint")


def make_batch_client(endpoint: str, credential: Any, stats: CallStats, *, retry_total: int,
                      read_timeout: float) -> tuple[Any, dict[str, Any]]:
    """A MetricsClient on our pipeline (read-only guard, jittered retries; the batch API has its
    own limits, not ARM's read bucket); returns it with the per-call options (the https opt-out
    on a loopback endpoint)."""
    try:
        from azure.core.pipeline.policies import ContentDecodePolicy
        from azure.core.pipeline.transport import RequestsTransport
        from azure.monitor.querymetrics import MetricsClient
    except ImportError:  # pragma: no cover - exercised only without the extra
        from flowscope.collectors.azure.clients import AzureConfigError

        raise AzureConfigError(f"metrics_endpoint needs azure-monitor-querymetrics: {install_command('azure')}") \
            from None
    policies = make_policies(credential, batch_token_scope(endpoint), None, stats, retry_total=retry_total,
                             backoff=0.8)
    policies.insert(-1, ContentDecodePolicy())
    client = MetricsClient(endpoint, credential, policies=policies,
                           transport=RequestsTransport(read_timeout=read_timeout, connection_timeout=10))
    options = {"enforce_https": False} if endpoint.startswith("http://") else {}
    return client, options


def query_batch(client: Any, options: Mapping[str, Any], resource_ids: list[str], start: dt.datetime,
                end: dt.datetime) -> list[Any]:
    """One `metrics:getBatch` call: every metric of `METRICS` for up to `BATCH_SIZE` workflows."""
    return list(client.query_resources(resource_ids=resource_ids, metric_namespace=NAMESPACE,
                                       metric_names=list(METRICS), timespan=(start, end),
                                       granularity=dt.timedelta(seconds=GRAIN_S), aggregations=["Total", "Average"],
                                       **options))


def arm_shape(result: Any) -> dict[str, dict[str, Any]]:
    """A batch result (`MetricsQueryResult`) as ARM metrics responses, per resource id (lower case,
    read from each metric's id `{resource}/providers/Microsoft.Insights/metrics/{name}`): pure, so
    `metric_rows` reads both APIs alike. A metric whose id names no resource is left out."""
    out: dict[str, dict[str, Any]] = {}
    for metric in getattr(result, "metrics", None) or []:
        metric_id = str(getattr(metric, "id", "") or "").lower()
        cut = metric_id.find(_METRICS_ID)
        if cut <= 0:
            continue
        data = [{"timeStamp": p.timestamp.isoformat() if isinstance(p.timestamp, dt.datetime) else p.timestamp,
                 "total": p.total, "average": p.average}
                for series in (metric.timeseries or []) for p in (series.data or [])]
        body = out.setdefault(metric_id[:cut], {"value": []})
        body["value"].append({"name": {"value": metric.name}, "unit": metric.unit,
                              "timeseries": [{"data": data}]})
    return out


# ---------------------------------------------------------------- the step

def collect_metrics(sc: "ScopeContext", workflows: dict[str, dict[str, Any]], *, batch_endpoint: str | None = None,
                    credential: Any = None, max_attempts: int = 8, read_timeout: float = 30) -> None:
    """Azure Monitor metrics of every workflow over the window (hour grain), through the batch API
    when `batch_endpoint` is set, else one ARM GET per workflow. A failure is a warning on the
    scope, not a failed scope: runs, actions and usage are collected without them."""
    start, end = timespan(sc.window.lower_bound, sc.now)
    account = sc.result.details.get("subscription")
    if batch_endpoint:
        rows, failures = _batched(sc, workflows, batch_endpoint, credential, start, end,
                                  retry_total=max(max_attempts - 1, 0), read_timeout=read_timeout)
    else:
        rows, failures = _per_workflow(sc, workflows, start, end, account)
    if rows:
        sc.sink.add(Batch(metrics=rows))
    sc.result.count("metric_datapoints", len(rows))
    sc.result.details["metrics_window"] = {"start": start.isoformat(), "end": end.isoformat(), "grain": GRAIN,
                                           "api": "metrics:getBatch" if batch_endpoint else "arm"}
    if failures:
        sc.result.count("metrics_failed", len(failures))
        sc.result.details["metrics_errors"] = failures[:10]
        sc.result.warn(f"metrics of {len(failures)} workflow(s) not collected (first: {failures[0]['message']}); "
                       "runs and actions are collected without them")


def _region(doc: Mapping[str, Any]) -> str | None:
    return str(doc.get("location") or "").replace(" ", "").lower() or None


def _per_workflow(sc: "ScopeContext", workflows: dict[str, dict[str, Any]], start: dt.datetime, end: dt.datetime,
                  account: str | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    def read(wf_id: str) -> list[dict[str, Any]]:
        if sc.auth_failure is not None:
            return []
        doc = workflows[wf_id]
        body = get_metrics(sc.client, doc["id"], start, end)
        return metric_rows(body, resource_id=wf_id, account=account, region=_region(doc))

    failures: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for outcome in bounded_map(read, list(workflows), min(4, sc.concurrency), thread_name_prefix="flowscope-metrics"):
        if outcome.error is None:
            rows.extend(cast(list[dict[str, Any]], outcome.result))
        elif getattr(outcome.error, "unauthenticated", False):
            sc.failed(outcome.error, "metrics.get", outcome.item)
        else:
            failures.append(as_collection_error(outcome.error, "metrics.get", outcome.item).as_dict())
    return rows, failures


def _batched(sc: "ScopeContext", workflows: dict[str, dict[str, Any]], endpoint: str, credential: Any,
             start: dt.datetime, end: dt.datetime, *, retry_total: int, read_timeout: float
             ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One batch call per (region, up to BATCH_SIZE workflows); a failed call is every one of its
    workflows' failure (one entry per workflow, like the ARM path)."""
    account = sc.result.details.get("subscription")
    by_region: dict[str | None, list[str]] = {}
    for wf_id, doc in sorted(workflows.items()):
        by_region.setdefault(_region(doc), []).append(wf_id)
    stats = CallStats()
    rows: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    clients: dict[str, tuple[Any, dict[str, Any]]] = {}
    try:
        for region, ids in sorted(by_region.items(), key=lambda kv: kv[0] or ""):
            for i in range(0, len(ids), BATCH_SIZE):
                chunk = ids[i:i + BATCH_SIZE]
                try:
                    url = regional_endpoint(endpoint, region)
                    if url not in clients:
                        clients[url] = make_batch_client(url, credential, stats, retry_total=retry_total,
                                                         read_timeout=read_timeout)
                    client, options = clients[url]
                    stats.call("metrics.getBatch")
                    results = query_batch(client, options, [workflows[w]["id"] for w in chunk], start, end)
                except Exception as exc:  # noqa: BLE001 - a warning of the scope, like the ARM path
                    if getattr(exc, "status_code", None) == 401:
                        sc.failed(_unauthenticated(exc), "metrics.getBatch", f"{len(chunk)} workflow(s)")
                        return rows, failures
                    error = as_collection_error(exc, "metrics.getBatch", f"{len(chunk)} workflow(s) in {region}")
                    failures.extend(error.as_dict() for _ in chunk)
                    continue
                sc.result.count("metrics_batch_calls")
                wanted = set(chunk)
                for result in results:
                    for resource, body in arm_shape(result).items():
                        if resource in wanted:
                            rows.extend(metric_rows(body, resource_id=resource, account=account,
                                                    region=getattr(result, "resource_region", None) or region))
    finally:
        sc.result.details["metrics_api"] = stats.as_dict()
        for client, _ in clients.values():
            client.close()
    return rows, failures


def _unauthenticated(exc: BaseException) -> BaseException:
    """A 401 of the batch API as the ARM client's error, so the scope stops as for any 401."""
    return ArmError(f"metrics.getBatch failed: HTTP 401: {cleaned(str(exc), 200)}", status=401,
                    operation="metrics.getBatch")
