"""Cloud Monitoring metrics of the GCP collector: types discovered, fixed alignment, re-sync
replaces datapoints, a failure recorded without holding the watermark."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator

import pytest

from flowscope.collectors.gcp import collector as gcp
from flowscope.collectors.gcp import monitoring
from flowscope.model import C, RunStatus
from flowscope.simulate.base import SimSpec
from flowscope.simulate.gcp import PROJECT
from flowscope.store import Store
from tests.gcp.gcp_server import GcpServer, parse_time, simulated_server, source_of

UTC = dt.timezone.utc
SPEC = SimSpec(dt.datetime(2026, 11, 1, tzinfo=UTC), dt.datetime(2026, 11, 2, tzinfo=UTC), 60, seed=5)
NOW = SPEC.end + dt.timedelta(hours=1)


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[GcpServer]:
    with simulated_server(monkeypatch, SPEC) as srv:
        yield srv


def source(server: GcpServer, **extra: object) -> dict:
    return source_of(server, PROJECT, **extra)


def counts_of(store: Store) -> Counter:
    out: Counter = Counter()
    for row in store.read_rows("metrics"):
        if row[C.metric].startswith("finished_execution_count"):
            out[row[C.metric]] += row[C.value]
    return out


def test_metric_types_are_discovered_and_counts_match_the_executions(server, tmp_path):
    store = Store(tmp_path / "s")
    [result] = gcp.sync(source(server), store, since=SPEC.start, now=NOW)
    assert result.status == RunStatus.SUCCEEDED, result.row()
    assert result.details["metric_types"] == {
        "read": ["workflows.googleapis.com/finished_execution_count", "workflows.googleapis.com/execution_times"],
        "skipped": ["workflows.googleapis.com/revision_label"]}
    finished = Counter(e["state"] for e in server.executions.values() if e.get("endTime"))
    assert counts_of(store) == {f"finished_execution_count{{status={k}}}": v for k, v in finished.items()}
    rows = store.read_rows("metrics")
    assert {r[C.statistic] for r in rows if r[C.metric] == "execution_times"} == {"count", "mean"}
    assert all(r[C.timestamp].timestamp() % monitoring.PERIOD_S == 0 for r in rows)     # one fixed grid
    assert {r[C.resource_id] for r in rows} <= set(server.workflows)
    for row in rows:
        assert row[C.account] == PROJECT and row[C.region] == "us-central1"


def test_a_resync_replaces_datapoints_instead_of_adding(server, tmp_path):
    store = Store(tmp_path / "s")
    gcp.sync(source(server), store, since=SPEC.start, now=NOW)
    before = sorted((r[C.resource_id], r[C.metric], r[C.statistic], r[C.timestamp], r[C.value])
                    for r in store.read_rows("metrics"))
    [again] = gcp.sync(source(server), store, since=SPEC.start, now=NOW + dt.timedelta(minutes=7))  # overlapping
    assert again.counts["metric_datapoints"] > 0
    after = sorted((r[C.resource_id], r[C.metric], r[C.statistic], r[C.timestamp], r[C.value])
                   for r in store.read_rows("metrics"))
    assert after == before


def test_metrics_off_and_metrics_failing(server, tmp_path):
    gcp.sync(source(server, metrics=False), Store(tmp_path / "off"), now=NOW)
    assert server.count("/v3/") == 0
    server.fail("/timeSeries", 503, times=10**6)
    [result] = gcp.sync(source(server, max_attempts=2), Store(tmp_path / "s"), now=NOW)
    assert result.status == RunStatus.PARTIAL
    assert {e["operation"] for e in result.errors} == {"monitoring"}
    assert result.watermark == NOW                         # executions are complete: no gap
    assert result.counts["executions_fetched"] == 60


def test_rows_of_a_series_are_pure_and_skip_what_they_cannot_place():
    descriptor = {"type": "workflows.googleapis.com/finished_execution_count", "metricKind": "DELTA",
                  "valueType": "INT64", "unit": "1"}
    series = {"metric": {"type": descriptor["type"], "labels": {"status": "FAILED"}},
              "resource": {"labels": {"project_id": "p", "location": "l", "workflow_id": "w"}},
              "points": [{"interval": {"endTime": "2026-11-01T10:05:00Z"}, "value": {"int64Value": "4"}},
                         {"interval": {}, "value": {"int64Value": "1"}},
                         {"interval": {"endTime": "2026-11-01T10:10:00Z"}, "value": {"stringValue": "x"}}]}
    [row] = monitoring.metric_rows(series, descriptor, ("sum",))
    assert (row[C.metric], row[C.statistic], row[C.value], row[C.timestamp]) == (
        "finished_execution_count{status=FAILED}", "sum", 4.0, parse_time("2026-11-01T10:00:00Z"))
    assert monitoring.metric_rows({**series, "resource": {}}, descriptor, ("sum",)) == []
    assert monitoring.aligner({"metricKind": "GAUGE", "valueType": "BOOL"}) is None
    assert monitoring.aligner({"metricKind": "CUMULATIVE", "valueType": "INT64"}) == ("ALIGN_DELTA", ("sum",))
