"""The GCP simulator: deterministic native documents that the transforms read without a skip."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pytest

from flowscope.collectors.assemble import assemble_batch
from flowscope.collectors.gcp import transform as t
from flowscope.collectors.native import ImportContext
from flowscope.collectors.registry import transforms_for
from flowscope.model import Batch, C, Cloud, Meter, Status, to_arrow
from flowscope.simulate.base import AnomalyKind, SimSpec
from flowscope.simulate.gcp import simulate

UTC = dt.timezone.utc
SPEC = SimSpec(dt.datetime(2026, 11, 1, tzinfo=UTC), dt.datetime(2026, 11, 8, tzinfo=UTC), 1500, seed=11)


@pytest.fixture(scope="module")
def sim():
    return simulate(SPEC)


@pytest.fixture(scope="module")
def rows(sim):
    batch = Batch()
    for fmt, doc in sim.documents:
        assert t.detect(doc) == fmt
        batch.extend(t.FORMATS[fmt](doc, ImportContext(source_name=fmt, seen_at=SPEC.end)))
    return assemble_batch(batch, transforms_for=transforms_for)


def test_deterministic(sim):
    again = simulate(SPEC)
    assert again.documents == sim.documents and again.truth == sim.truth
    assert simulate(SimSpec(SPEC.start, SPEC.end, 1500, seed=12)).documents != sim.documents


def test_round_trip_without_skips(sim, rows):
    assert not rows.skips and not rows.unknown_event_types
    assert sim.workflows == sorted({e[C.workflow_name] for e in rows.executions}, key=sim.workflows.index)
    assert 1400 <= len(rows.executions) <= 1600
    assert all(SPEC.start <= e[C.started_at] < SPEC.end for e in rows.executions)
    for table in ("workflows", "executions", "steps", "attempts", "usage"):
        to_arrow(table, rows.rows(table))
    assert sim.healthy_workflows == ["etl-nightly"]
    assert {a.cloud for a in sim.truth} == {Cloud.GCP}


def _by_exec(rows, table):
    out = defaultdict(list)
    for row in rows.rows(table):
        out[row[C.execution_id]].append(row)
    return out


def test_anomalies_visible_in_rows(sim, rows):
    truth = {a.kind: a for a in sim.truth}
    name_of = {e[C.execution_id]: e[C.workflow_name] for e in rows.executions}
    steps = rows.steps

    # failing step: classify fails (caught) in about 30 % of image-pipeline runs
    classify = [s for s in steps if name_of[s[C.execution_id]] == "image-pipeline" and s[C.name] == "classify"
                and s[C.type] == "task"]
    caught = sum(s[C.status] == Status.CAUGHT for s in classify) / len(classify)
    assert truth[AnomalyKind.FAILING_STEP].step == "classify" and 0.2 < caught < 0.4

    # slow step: download p95 jumps inside the window
    slow = truth[AnomalyKind.SLOW_STEP]
    inside, outside = [], []
    for s in steps:
        if s[C.name] == "download":
            (inside if slow.window_start <= s[C.started_at] < slow.window_end else outside).append(s[C.duration_ms])

    def p95(xs):
        return sorted(xs)[int(len(xs) * 0.95)]

    assert p95(inside) > 4 * p95(outside)

    # retry storm with synchronized retries: check_status attempts inside the window only
    storm = truth[AnomalyKind.RETRY_STORM]
    assert truth[AnomalyKind.SYNCHRONIZED_RETRIES].window_start == storm.window_start
    multi = [s for s in steps if s[C.name] == "check_status" and s[C.attempts] > 1]
    assert multi and all(storm.window_start <= s[C.started_at] < storm.window_end + dt.timedelta(hours=1)
                         for s in multi)
    failed_tries = [a for a in rows.attempts if a[C.status] == Status.FAILED and a[C.error] == "HttpError 429"]
    gaps = defaultdict(list)
    for a in failed_tries:
        gaps[a[C.execution_id]].append(a)
    assert gaps

    # polling loop: check_status visited several times per status-checker run
    visits = defaultdict(int)
    for s in steps:
        if s[C.name] == "check_status" and s[C.type] == "task":
            visits[s[C.execution_id]] += 1
    assert min(visits.values()) >= 3

    # stuck executions: still RUNNING long after they started
    stuck = [a for a in sim.truth if a.kind == AnomalyKind.STUCK_EXECUTION]
    running = {e[C.execution_id]: e for e in rows.executions if e[C.status] == Status.RUNNING}
    assert len(stuck) == 2 and {a.detail["execution_id"] for a in stuck} == set(running)

    # billing: external HTTP steps, retries counted
    use = defaultdict(float)
    for u in rows.usage:
        use[(name_of[u[C.execution_id]], u[C.meter])] += u[C.quantity]
    assert use[("etl-nightly", Meter.GCP_WORKFLOWS_EXTERNAL_STEP.value)] == 0
    assert use[("status-checker", Meter.GCP_WORKFLOWS_EXTERNAL_STEP.value)] > \
        sum(visits.values())                           # retries add external steps
