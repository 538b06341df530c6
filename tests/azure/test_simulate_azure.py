"""The Azure simulator: deterministic, readable by the transforms, anomalies visible in rows."""

from __future__ import annotations

import collections
import datetime as dt

import pytest

from flowscope.collectors.azure import transform as t
from flowscope.collectors.native import ImportContext
from flowscope.model import Batch, C, Meter, Status
from flowscope.simulate.azure import simulate
from flowscope.simulate.base import AnomalyKind, SimSpec

UTC = dt.timezone.utc
SPEC = SimSpec(dt.datetime(2025, 3, 3, tzinfo=UTC), dt.datetime(2025, 3, 10, tzinfo=UTC), 1200, seed=11)


@pytest.fixture(scope="module")
def world():
    sim = simulate(SPEC)
    batch = Batch()
    ctx = ImportContext(source_name="sim", seen_at=SPEC.end)
    for fmt, doc in sim.documents:
        assert t.detect(doc) == fmt
        batch.extend(t.FORMATS[fmt](doc, ctx))
    workflows = {w[C.workflow_id]: w for w in batch.workflows}
    steps, attempts = collections.defaultdict(list), collections.defaultdict(list)
    for s in batch.steps:
        steps[s[C.execution_id]].append(s)
    for a in batch.attempts:
        attempts[a[C.execution_id]].append(a)
    out = {"steps": [], "attempts": [], "usage": []}
    for ex in batch.executions:
        s, a, u = t.assemble(ex, steps[ex[C.execution_id]], attempts[ex[C.execution_id]], workflows[ex[C.workflow_id]])
        out["steps"] += s
        out["attempts"] += a
        out["usage"] += u
    return sim, batch, out


def test_deterministic():
    a, b = simulate(SPEC), simulate(SPEC)
    assert a.documents == b.documents and a.truth == b.truth
    assert simulate(SimSpec(SPEC.start, SPEC.end, 1200, seed=12)).documents != a.documents


def test_round_trip_without_skips(world):
    sim, batch, _ = world
    assert batch.skips == [] and batch.unknown_event_types == {}
    assert 1000 <= len(batch.executions) <= 1400
    names = {e[C.workflow_name] for e in batch.executions}
    assert names == set(sim.workflows) and {w[C.name] for w in batch.workflows} == names
    assert set(sim.healthy_workflows) < names
    assert {a.workflow for a in sim.truth} <= names - set(sim.healthy_workflows)
    kinds = {w[C.name]: w[C.kind] for w in batch.workflows}
    assert kinds["ledger-standard"] == "logicapp-standard" and kinds["order-router"] == "logicapp-consumption"
    assert all(e[C.workflow_id] in {w[C.workflow_id] for w in batch.workflows} for e in batch.executions)
    assert "sig=" not in repr(batch)


def test_anomalies_visible(world):
    sim, batch, out = world
    truth = {(a.kind, a.workflow): a for a in sim.truth}
    names = {e[C.execution_id]: e[C.workflow_name] for e in batch.executions}
    # costly step: connector executions per crm-export run
    crm = [u for u in out["usage"] if names[u[C.execution_id]] == "crm-export"
           and u[C.meter] == Meter.AZURE_LOGIC_STANDARD_CONNECTOR]
    runs = {e for e, n in names.items() if n == "crm-export"}
    assert len(crm) >= 20 * len(runs)
    # failing step
    post = [s for s in out["steps"] if s[C.name] == "Post_summary"]
    assert 0.15 < sum(s[C.status] == Status.FAILED for s in post) / len(post) < 0.6
    # retry storm, synchronised: retries only inside the window, 20 s apart
    storm = truth[(AnomalyKind.RETRY_STORM, "order-router")]
    retried = [a for a in out["attempts"] if a[C.step_key] == "call_fulfilment" and a[C.attempt] > 1]
    assert retried
    firsts = {a[C.execution_id]: a for a in out["attempts"] if a[C.step_key] == "call_fulfilment" and a[C.attempt] == 1}
    late = storm.window_end + dt.timedelta(minutes=5)
    assert all(storm.window_start <= firsts[a[C.execution_id]][C.started_at] <= late
               for a in retried)
    second = [a for a in retried if a[C.attempt] == 2]
    assert all((a[C.started_at] - firsts[a[C.execution_id]][C.started_at]).total_seconds() == 20 for a in second)
    # plan what-if: order-router is mostly built-in actions
    order = collections.Counter(u[C.meter] for u in out["usage"] if names[u[C.execution_id]] == "order-router")
    assert order[Meter.AZURE_LOGIC_BUILTIN_ACTION] > 5 * order[Meter.AZURE_LOGIC_STANDARD_CONNECTOR]
    # slow step
    slow = truth[(AnomalyKind.SLOW_STEP, "ledger-standard")]
    inside = [s[C.duration_ms] for s in out["steps"] if s[C.name] == "Write_ledger" and s[C.duration_ms] is not None
              and slow.window_start <= s[C.started_at] < slow.window_end]
    outside = [s[C.duration_ms] for s in out["steps"] if s[C.name] == "Write_ledger" and s[C.duration_ms] is not None
               and not slow.window_start <= s[C.started_at] < slow.window_end]
    assert sorted(inside)[len(inside) // 2] > 5 * sorted(outside)[len(outside) // 2]
    # stuck runs
    stuck = [e for e in batch.executions if e[C.status] == Status.RUNNING]
    assert len(stuck) == 2 and {e[C.workflow_name] for e in stuck} == {"ledger-standard"}
