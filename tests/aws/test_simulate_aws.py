"""The AWS simulator: deterministic, native documents that round-trip, anomalies visible in rows."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter, defaultdict

import pytest

from flowscope.collectors.aws import transform as T
from flowscope.collectors.native import ImportContext
from flowscope.model import Batch, C, Source
from flowscope.simulate.aws import simulate
from flowscope.simulate.base import AnomalyKind, SimSpec

pytestmark = pytest.mark.slow  # a 4,000-execution simulation behind the tests

UTC = dt.timezone.utc
SPEC = SimSpec(dt.datetime(2024, 5, 1, tzinfo=UTC), dt.datetime(2024, 5, 15, tzinfo=UTC), 4000, seed=3)


@pytest.fixture(scope="module")
def sim():
    return simulate(SPEC)


@pytest.fixture(scope="module")
def batch(sim):
    out = Batch()
    ctx = ImportContext(source_name="sim", source=Source.SIMULATE, seen_at=SPEC.end)
    for fmt, doc in sim.documents:
        assert T.detect(doc) == fmt
        out.extend(T.FORMATS[fmt](doc, ctx))
    return out


def test_deterministic():
    small = SimSpec(SPEC.start, SPEC.start + dt.timedelta(days=2), 300, seed=5)
    a, b = simulate(small), simulate(small)
    assert a.documents == b.documents and a.truth == b.truth
    assert simulate(SimSpec(small.start, small.end, 300, seed=6)).documents != a.documents


def test_round_trip_no_skips(sim, batch):
    assert not batch.skips and not batch.unknown_event_types
    assert sorted(w[C.name] for w in batch.workflows) == sorted(sim.workflows)
    names = {e[C.workflow_name] for e in batch.executions}
    assert names == set(sim.workflows)
    assert {a.workflow for a in sim.truth} | set(sim.healthy_workflows) == set(sim.workflows)
    assert not ({a.workflow for a in sim.truth} & set(sim.healthy_workflows))
    assert abs(len(batch.executions) - SPEC.executions) < SPEC.executions * 0.05
    kinds = {w[C.name]: w[C.kind] for w in batch.workflows}
    assert kinds["clickstream-express"] == "sfn-express" and kinds["orders-standard"] == "sfn-standard"
    assert all(e[C.kind] == kinds[e[C.workflow_name]] for e in batch.executions)
    assert all(SPEC.start - dt.timedelta(days=7) <= e[C.started_at] < SPEC.end for e in batch.executions)


def _truth(sim, kind):
    return [a for a in sim.truth if a.kind == kind]


def test_failing_step_visible(sim, batch):
    a = _truth(sim, AnomalyKind.FAILING_STEP)[0]
    inside, outside = Counter(), Counter()
    for s in batch.steps:
        if s[C.name] == a.step:
            bucket = inside if a.window_start <= s[C.started_at] < a.window_end else outside
            bucket[s[C.status]] += 1
    rate_in = inside["FAILED"] / sum(inside.values())
    rate_out = outside["FAILED"] / max(1, sum(outside.values()))
    assert rate_in > 0.08 and rate_in > 5 * rate_out
    failed = [s for s in batch.steps if s[C.name] == a.step and s[C.status] == "FAILED"]
    assert all(s[C.error] == "States.TaskFailed" and "Card declined for order ord-" in s[C.cause] for s in failed)


def test_retry_storm_with_identical_delays(sim, batch):
    a = _truth(sim, AnomalyKind.SYNCHRONIZED_RETRIES)[0]
    assert _truth(sim, AnomalyKind.RETRY_STORM)[0].window_start == a.window_start
    tries = defaultdict(list)
    for row in batch.attempts:
        tries[(row[C.execution_id], row[C.step_key])].append(row)
    steps = {(s[C.execution_id], s[C.step_key]): s for s in batch.steps}
    delays, in_window, outside = Counter(), 0, 0
    for key, rows in tries.items():
        step = steps[key]
        if step[C.name] != a.step or len(rows) < 2:
            continue
        if a.window_start <= step[C.started_at] < a.window_end:
            in_window += 1
        else:
            outside += 1
        for prev, nxt in zip(rows, rows[1:], strict=False):
            assert prev[C.status] == "FAILED" and prev[C.error] == "Lambda.TooManyRequestsException"
            delays[(nxt[C.started_at] - prev[C.ended_at]) // dt.timedelta(milliseconds=1)] += 1
    assert in_window > 20 and outside == 0
    assert set(delays) <= {2000, 4000, 8000}   # 2 s x 2^n, never jittered
    assert delays[2000] >= in_window          # every retried execution waited exactly 2 s first


def test_polling_loop_and_slow_step(sim, batch):
    loop = _truth(sim, AnomalyKind.POLLING_LOOP)[0]
    per_exec = Counter(s[C.execution_id] for s in batch.steps if s[C.name] == loop.step)
    assert statistics.median(per_exec.values()) >= 4
    slow = _truth(sim, AnomalyKind.SLOW_STEP)[0]
    inside = sorted(s[C.duration_ms] for s in batch.steps if s[C.name] == slow.step
                    and slow.window_start <= s[C.started_at] < slow.window_end)
    outside = sorted(s[C.duration_ms] for s in batch.steps if s[C.name] == slow.step
                     and not slow.window_start <= s[C.started_at] < slow.window_end)
    p95 = lambda xs: xs[int(0.95 * (len(xs) - 1))]  # noqa: E731
    assert p95(inside) > 5 * p95(outside)


def test_stuck_and_express_candidate(sim, batch):
    stuck = _truth(sim, AnomalyKind.STUCK_EXECUTION)
    running = {e[C.execution_id]: e for e in batch.executions if e[C.status] == "RUNNING"}
    assert {a.detail["execution_id"] for a in stuck} == set(running)
    assert all(e[C.started_at] <= SPEC.end - dt.timedelta(days=1) for e in running.values())
    cand = _truth(sim, AnomalyKind.EXPRESS_CANDIDATE)[0]
    durs = [e[C.duration_ms] for e in batch.executions if e[C.workflow_name] == cand.workflow]
    assert max(durs) < 5_000 and len(durs) > len(batch.executions) * 0.25


def test_healthy_workflows_have_no_failures(sim, batch):
    for e in batch.executions:
        if e[C.workflow_name] in sim.healthy_workflows:
            assert e[C.status] == "SUCCEEDED"
    usage = Counter(u[C.meter] for u in batch.usage)
    assert usage["aws.sfn.express_request"] == sum(
        1 for e in batch.executions if e[C.workflow_name] == "clickstream-express")
