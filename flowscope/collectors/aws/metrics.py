"""CloudWatch metrics of Step Functions (namespace AWS/States) via GetMetricData -> metrics rows.

Per state machine (dimension StateMachineArn): execution counts (Sum), ExecutionTime
(Average, Maximum, p99) and, for Express, billed duration and memory. One GetMetricData call
carries up to 500 queries; results are paginated. Datapoints are keyed by
(resource, metric, statistic, timestamp), so a re-sync overwrites the last, still-filling
period instead of adding to it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flowscope.collectors.native import cleaned
from flowscope.collectors.window import CollectionError
from flowscope.model import C, Cloud, utc

NAMESPACE = "AWS/States"
COUNT_METRICS = ("ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut",
                 "ExecutionsAborted", "ExecutionThrottled", "ExecutionsRedriven")
TIME_METRICS = (("ExecutionTime", ("Average", "Maximum", "p99"), "Milliseconds"),)
EXPRESS_METRICS = (("ExpressExecutionBilledDuration", ("Sum", "Average"), "Milliseconds"),
                   ("ExpressExecutionBilledMemory", ("Average", "Maximum"), "Megabytes"),
                   ("ExpressExecutionMemory", ("Average", "Maximum"), "Megabytes"))
MAX_QUERIES = 500
DEFAULT_LOOKBACK = dt.timedelta(days=14)


PERIOD_S = 300
"""One period for every sync: datapoints of overlapping windows then share their keys and a
re-sync replaces the last, still-filling period instead of adding a second grid of points.
(5-minute data is what CloudWatch keeps for 63 days.)"""


def aligned(start: dt.datetime, period: int = PERIOD_S) -> dt.datetime:
    epoch = int(start.timestamp())
    return dt.datetime.fromtimestamp(epoch - epoch % period, tz=dt.timezone.utc)


def queries_for(machine_arn: str, express: bool, period: int) -> list[tuple[dict[str, Any], str, str, str]]:
    """(query, metric, statistic, unit) for one state machine."""
    specs: list[tuple[str, str, str]] = [(m, "Sum", "Count") for m in COUNT_METRICS]
    for metric, stats, unit in TIME_METRICS + (EXPRESS_METRICS if express else ()):
        specs.extend((metric, stat, unit) for stat in stats)
    out = []
    for metric, stat, unit in specs:
        query = {"MetricStat": {"Metric": {"Namespace": NAMESPACE, "MetricName": metric,
                                           "Dimensions": [{"Name": "StateMachineArn", "Value": machine_arn}]},
                                "Period": period, "Stat": stat},
                 "ReturnData": True}
        out.append((query, metric, stat, unit))
    return out


FAILED_STATUS = frozenset({"InternalError", "Forbidden"})
"""Per-query `StatusCode`s of GetMetricData that mean the query was not answered (`PartialData`
only means more pages follow)."""


def _messages(result: dict[str, Any], page: dict[str, Any]) -> str:
    messages = (result.get("Messages") or []) + (page.get("Messages") or [])
    return cleaned("; ".join(f"{m.get('Code')}: {m.get('Value')}" for m in messages if isinstance(m, dict)), 200)


def get_metric_rows(cloudwatch: Any, machines: list[dict[str, Any]], *, account: str, region: str,
                    start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
    """Metrics rows for the machines over [start, end); raises on an API failure."""
    period = PERIOD_S
    start = aligned(max(start, end - dt.timedelta(days=63)))
    specs = []
    for machine in machines:
        arn = machine["stateMachineArn"]
        for query, metric, stat, unit in queries_for(arn, machine.get("type") == "EXPRESS", period):
            specs.append((arn, query, metric, stat, unit))
    rows: list[dict[str, Any]] = []
    for offset in range(0, len(specs), MAX_QUERIES):
        chunk = specs[offset:offset + MAX_QUERIES]
        queries = []
        lookup = {}
        for i, (arn, query, metric, stat, unit) in enumerate(chunk):
            qid = f"q{i}"
            queries.append({"Id": qid, **query})
            lookup[qid] = (arn, metric, stat, unit)
        token: str | None = None
        sent: set[str] = set()
        while True:
            kwargs: dict[str, Any] = {"MetricDataQueries": queries, "StartTime": start, "EndTime": end,
                                      "ScanBy": "TimestampAscending"}
            if token:
                kwargs["NextToken"] = token
                sent.add(token)
            page = cloudwatch.get_metric_data(**kwargs)
            for result in page.get("MetricDataResults", []):
                arn, metric, stat, unit = lookup[result["Id"]]
                if result.get("StatusCode") in FAILED_STATUS:
                    # a 200 answer with a query that failed: no datapoints is not a quiet period
                    raise CollectionError(
                        f"GetMetricData: {metric} {stat} of {arn}: {result['StatusCode']} "
                        f"{_messages(result, page)}".rstrip(),
                        operation="GetMetricData", code=str(result["StatusCode"]), target=arn)
                for ts, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=False):
                    stamp = utc(ts)
                    assert stamp is not None, "GetMetricData returned a datapoint without a timestamp"
                    rows.append({C.cloud: Cloud.AWS.value, C.account: account, C.region: region,
                                 C.resource_id: arn, C.metric: metric, C.statistic: stat,
                                 C.timestamp: stamp, C.value: float(value), C.unit: unit,
                                 C.start_date: stamp.date()})
            token = page.get("NextToken")
            if not token:
                break
            if token in sent:     # asked again (A, A or A, B, A), it would answer the same pages for ever
                raise CollectionError("GetMetricData returned the same NextToken it was sent (for this page or "
                                      "an earlier one); stopped rather than asking for the same pages again",
                                      operation="GetMetricData", code="RepeatedNextToken")
    return rows
