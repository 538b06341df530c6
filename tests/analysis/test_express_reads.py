"""Express candidates: what only a workflow's steps, definition and running runs can rule out is read for the
workflows its runs and costs make candidates, and not at all when none are (`cost.express_candidates`); the runs
still going are not read when the context's runs count none (`cost._longest_running_ms`)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from flowscope.analysis import analyze, cost
from flowscope.model import C, Status
from tests.analysis.helpers import T0, World, at, transitions

END = T0 + dt.timedelta(days=2)
TH = {"express_min_monthly_executions": 1000, "express_min_monthly_saving_usd": 0.5}
CALLBACK = "arn:aws:states:::sqs:sendMessage.waitForTaskToken"


def _world() -> tuple[World, dict[str, str]]:
    """Standard machines: one Express candidate and one ruled out for each reason."""
    w = World()
    ids = {}
    for name, runs, ms, resource in (("ok", 200, 2000, None), ("callback", 200, 2000, CALLBACK),
                                     ("defined", 200, 2000, None), ("running", 200, 2000, None),
                                     ("long", 200, 400_000, None), ("few", 20, 2000, None)):
        wf = ids[name] = w.workflow(name)
        for i in range(runs):
            ex = w.execution(wf, at(seconds=600 * i + 7), duration_ms=ms)
            w.step(ex, "Resize", at(seconds=600 * i + 7), resource=resource)
            transitions(w, ex, 20)
    w.rows["workflows"][2][C.definition] = json.dumps(
        {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": CALLBACK, "End": True}}})
    w.execution(ids["running"], END - dt.timedelta(hours=1), status=Status.RUNNING, collected_at=END)
    return w, ids


def test_only_the_candidates_are_read_and_each_reason_still_rules_out(monkeypatch):
    asked = []
    for name in ("_express_blocked", "_longest_running_ms"):
        real = getattr(cost, name)
        monkeypatch.setattr(f"flowscope.analysis.express_candidates.{name}",
                            lambda ctx, ids, real=real: asked.append(sorted(ids)) or real(ctx, ids))
    w, ids = _world()
    df = analyze(w.tables(), since=T0, until=END, now=END, thresholds=TH)
    found = df[df["kind"] == "express_candidate"]
    assert list(found["workflow_id"]) == [ids["ok"]]
    assert asked == [sorted(ids[n] for n in ("ok", "callback", "defined", "running"))] * 2


@pytest.mark.parametrize("th", [{**TH, "express_min_monthly_saving_usd": 1e9}, {**TH, "express_max_duration_ms": 1}])
def test_no_read_when_no_workflow_is_a_candidate(th, monkeypatch):
    def unread(*_a):
        raise AssertionError("read for no candidate")
    monkeypatch.setattr("flowscope.analysis.express_candidates._express_blocked", unread)
    monkeypatch.setattr("flowscope.analysis.express_candidates._longest_running_ms", unread)
    w, _ids = _world()
    df = analyze(w.tables(), since=T0, until=END, now=END, thresholds=th)
    assert df[df["kind"] == "express_candidate"].empty


@pytest.mark.parametrize("going", [False, True])
def test_runs_still_going_are_read_only_when_the_runs_count_some(going, monkeypatch):
    from flowscope.analysis.base import execute
    from flowscope.analysis.suite import build_context

    w, ids = _world()
    if not going:
        w.rows["executions"] = [e for e in w.rows["executions"] if e[C.status] != Status.RUNNING]
    ctx = build_context(w.tables(), since=T0, until=END, now=END)
    reads = []
    monkeypatch.setattr("flowscope.analysis.express_candidates.execute",
                        lambda expr, **kw: reads.append(expr) or execute(expr, **kw))
    got = cost._longest_running_ms(ctx, list(ids.values()))
    if going:                                      # the run seen going an hour before the window's end
        assert got == {ids["running"]: 3_600_000.0} and len(reads) == 1
    else:
        assert got == {} and reads == []
