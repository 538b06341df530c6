"""Azure Monitor metrics through the ARM metrics GET: rows, fixed grain (a re-sync replaces,
never doubles), and a failure that is a warning, not a failed scope."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from flowscope.collectors.azure import clients
from flowscope.collectors.azure import collector as az
from flowscope.collectors.azure import metrics as az_metrics
from flowscope.model import RunStatus
from flowscope.store import Store
from tests.azure.arm_server import SAMPLE_SUB, ArmServer, sample_corpus

NOW = dt.datetime(2026, 11, 2, 10, 30, tzinfo=dt.timezone.utc)
WF1 = (f"/subscriptions/{SAMPLE_SUB}/resourcegroups/test-resource-group/providers/microsoft.logic/workflows/"
       "test-workflow")


@pytest.fixture(autouse=True)
def _token(monkeypatch):
    monkeypatch.setenv("FLOWSCOPE_AZURE_TOKEN", "test-token")


def src(server, **kw):
    return {"cloud": "azure", "subscription_id": SAMPLE_SUB, "arm_endpoint": server.endpoint, "lag": "1h", **kw}


def test_metrics_rows_and_a_resync_replaces_the_still_filling_hour(tmp_path):
    with ArmServer() as server:
        server.load_documents(sample_corpus())
        server.metric_points[(WF1, "RunsStarted")] = [("2026-11-02T09:00:00Z", 12.0), ("2026-11-02T10:00:00Z", 3.0)]
        server.metric_points[(WF1, "TotalBillableExecutions")] = [("2026-11-02T10:00:00Z", 40.0)]
        server.metric_points[(WF1, "RunLatency")] = [("2026-11-02T09:00:00Z", 1.5)]
        store = Store(tmp_path / "s")
        [first] = az.sync(src(server), store, now=NOW)
        assert first.status == RunStatus.SUCCEEDED and first.counts["metric_datapoints"] == 4
        assert server.counts["metrics.get"] == 3                     # one call per workflow
        rows = {(r["metric"], r["statistic"], r["timestamp"].hour): r for r in store.read_rows("metrics")}
        started = rows[("RunsStarted", "Total", 10)]
        assert (started["resource_id"], started["value"], started["unit"], started["account"], started["region"]) == \
            (WF1, 3.0, "Count", SAMPLE_SUB, "brazilsouth")
        assert rows[("RunLatency", "Average", 9)]["unit"] == "Seconds"
        # an hour later the 10:00 bucket has filled up: the same key, a new value, no second point
        server.metric_points[(WF1, "RunsStarted")][1] = ("2026-11-02T10:00:00Z", 9.0)
        [second] = az.sync(src(server), store, now=NOW + dt.timedelta(minutes=40))
    assert second.status == RunStatus.SUCCEEDED
    metrics = store.read_rows("metrics")
    assert len(metrics) == 4
    assert [r["value"] for r in metrics if r["metric"] == "RunsStarted" and r["timestamp"].hour == 10] == [9.0]
    window = json.loads(second.row()["details"])["metrics_window"]
    assert window["grain"] == "PT1H" and window["start"].endswith("T09:00:00+00:00")   # hour-aligned


def test_a_metrics_failure_is_a_warning_not_a_failed_scope(tmp_path):
    with ArmServer() as server:
        server.load_documents(sample_corpus())
        server.fault(r"/testFlow/providers/Microsoft\.Insights/metrics$", 500, times=100)
        store = Store(tmp_path / "s")
        [result] = az.sync(src(server, max_attempts=2), store, now=NOW)
    assert result.status == RunStatus.SUCCEEDED, result.row()
    assert result.counts["metrics_failed"] == 1 and "metrics of 1 workflow(s) not collected" in result.warnings[0]
    details = json.loads(result.row()["details"])
    assert details["metrics_errors"][0]["operation"] == "metrics.get"
    assert len(store.read_rows("executions")) == 3                      # the runs are all there


@pytest.mark.parametrize("answer", [{}, [], {"values": []}])
def test_a_metrics_answer_without_value_is_that_workflows_failure_not_no_datapoints(tmp_path, answer):
    """A 200 whose body is no metrics response (a proxy's page) read as "no datapoints": the workflow's
    metrics were missing and nothing said so. It is that workflow's metrics failure (a warning) now."""
    with ArmServer() as server:
        server.load_documents(sample_corpus())
        server.fault(r"/testFlow/providers/Microsoft\.Insights/metrics$", body=answer, times=100)
        store = Store(tmp_path / "s")
        [result] = az.sync(src(server, max_attempts=2), store, now=NOW)
    assert result.counts.get("metrics_failed") == 1, result.row()
    assert json.loads(result.row()["details"])["metrics_errors"][0]["code"] == "BadPage"


def test_metric_rows_read_only_known_metrics_and_real_datapoints():
    body = {"value": [
        {"name": {"value": "RunsFailed"}, "unit": "Count",
         "timeseries": [{"data": [{"timeStamp": "2026-11-01T00:00:00Z", "total": 2},
                                  {"timeStamp": "2026-11-01T01:00:00Z"}]}]},        # no data that hour: no row
        {"name": {"value": "SomethingNew"}, "unit": "Count",
         "timeseries": [{"data": [{"timeStamp": "2026-11-01T00:00:00Z", "total": 5}]}]},
        "junk",
    ]}
    rows = az_metrics.metric_rows(body, resource_id="r", account="a", region=None)
    assert [(r["metric"], r["value"], r["statistic"]) for r in rows] == [("RunsFailed", 2.0, "Total")]
    start, end = az_metrics.timespan(None, NOW)
    assert start == dt.datetime(2026, 10, 19, 10, tzinfo=dt.timezone.utc) and end == NOW
    start, _ = az_metrics.timespan(NOW - dt.timedelta(days=400), NOW)
    assert NOW - start <= az_metrics.RETENTION + dt.timedelta(hours=1)


def test_metrics_endpoint_reads_the_batch_api_at_the_same_grain_and_equals_the_arm_path(tmp_path, monkeypatch):
    def load(server):
        server.load_documents(sample_corpus())
        server.metric_points[(WF1, "RunsStarted")] = [("2026-11-02T09:00:00Z", 12.0), ("2026-11-02T10:00:00Z", 3.0)]
        server.metric_points[(WF1, "RunLatency")] = [("2026-11-02T09:00:00Z", 1.5)]

    with ArmServer() as server:
        load(server)
        arm_store = Store(tmp_path / "arm")
        az.sync(src(server), arm_store, now=NOW)
    monkeypatch.setattr(az_metrics, "BATCH_SIZE", 2)                  # 3 workflows: two calls
    with ArmServer() as server:
        load(server)
        store = Store(tmp_path / "batch")
        [result] = az.sync(src(server, metrics_endpoint=server.endpoint), store, now=NOW)
        requests = server.batch_requests
        assert server.counts["metrics.get"] == 0 and server.counts["metrics.getBatch"] == 2
        assert server.methods["POST"] == 2
    assert result.status == RunStatus.SUCCEEDED, result.row()
    assert sorted(len(r["resourceids"]) for r in requests) == [1, 2]
    query = requests[0]["query"]
    assert (query["interval"], query["metricnamespace"], query["aggregation"]) == \
        ("PT1H", "Microsoft.Logic/workflows", "Total,Average")
    start, _ = az_metrics.timespan(None, NOW)                          # a first sync: the default lookback
    assert query["starttime"].startswith(start.strftime("%Y-%m-%dT%H:00:00")) and \
        set(query["metricnames"].split(",")) == set(az_metrics.METRICS)
    details = json.loads(result.row()["details"])
    assert details["metrics_window"]["api"] == "metrics:getBatch" and details["metrics_window"]["grain"] == "PT1H"
    assert details["metrics_api"]["calls"] == {"metrics.getBatch": 2}
    assert set(details["metrics_api"]["calls"]) <= set(clients.PERMISSIONS)      # the shipped role grants it
    assert result.counts["metric_datapoints"] == 3

    def points(s):
        return sorted((r["resource_id"], r["metric"], r["statistic"], r["timestamp"], r["value"], r["unit"],
                       r["account"]) for r in s.read_rows("metrics"))
    assert points(store) == points(arm_store)


def test_a_failing_batch_call_is_a_warning_per_workflow_not_a_failed_scope(tmp_path):
    with ArmServer() as server:
        server.load_documents(sample_corpus())
        server.fault(r"/metrics:getBatch$", 500, times=100)
        store = Store(tmp_path / "s")
        [result] = az.sync(src(server, metrics_endpoint=server.endpoint, max_attempts=2), store, now=NOW)
    assert result.status == RunStatus.SUCCEEDED, result.row()
    assert result.counts["metrics_failed"] == 3 and "metrics of 3 workflow(s) not collected" in result.warnings[0]
    assert json.loads(result.row()["details"])["metrics_errors"][0]["operation"] == "metrics.getBatch"
    assert len(store.read_rows("executions")) == 3


def test_a_refused_token_on_the_batch_api_fails_the_scope(tmp_path):
    with ArmServer() as server:
        server.load_documents(sample_corpus())
        server.fault(r"/metrics:getBatch$", 401, times=100)
        [result] = az.sync(src(server, metrics_endpoint=server.endpoint), Store(tmp_path / "s"), now=NOW)
    assert result.status == RunStatus.FAILED and "401" in (result.error or "")


def test_the_batch_endpoint_is_regional_and_its_token_is_for_the_metrics_audience():
    template = "https://{region}.metrics.monitor.azure.com"
    assert az_metrics.regional_endpoint(template, "westeurope") == "https://westeurope.metrics.monitor.azure.com"
    assert az_metrics.regional_endpoint("http://127.0.0.1:9", "westeurope") == "http://127.0.0.1:9"
    for bad in (None, "west/../europe", "x.evil.example"):
        with pytest.raises(ValueError, match="region"):
            az_metrics.regional_endpoint(template, bad)
    assert az_metrics.batch_token_scope("https://westeurope.metrics.monitor.azure.com") == \
        "https://metrics.monitor.azure.com/.default"
    assert az_metrics.batch_token_scope("https://usgovvirginia.metrics.monitor.azure.us") == \
        "https://metrics.monitor.azure.us/.default"
    assert az_metrics.batch_token_scope("http://127.0.0.1:9") == "http://127.0.0.1:9/.default"
    az.validate(src(type("S", (), {"endpoint": "http://127.0.0.1:9"})(), metrics_endpoint=template))
