"""The window's runs per workflow come from the context's read of the runs (`Context.window_runs`), equal to a
count of the window's executions, under every filter and with or without a window start."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from flowscope.analysis import cost
from flowscope.analysis.base import execute
from flowscope.analysis.suite import build_context
from flowscope.model import C
from tests.analysis.helpers import T0, World


def _world() -> World:
    w = World()
    a, b = w.workflow("a"), w.workflow("b")
    g = w.workflow("g", cloud="gcp")
    w.workflow("defined-only")
    for day in range(20):
        for wf, every in ((a, 1), (b, 3), (g, 2)):
            if day % every == 0:
                w.execution(wf, T0 + dt.timedelta(days=day, hours=day % 5), cloud="gcp" if wf == g else "aws")
    w.execution(a, T0 + dt.timedelta(days=30))                        # after every window below
    return w


def _counted(ctx) -> pd.DataFrame:
    e = ctx.in_window(ctx.table("executions"))
    return execute(e.group_by([C.cloud, C.workflow_id]).aggregate(executions=e.count()))


def _sorted(df: pd.DataFrame) -> list[tuple]:
    return sorted(df[[C.cloud, C.workflow_id, "executions"]].itertuples(index=False, name=None))


@pytest.mark.parametrize("since", [None, T0 + dt.timedelta(days=6, hours=3), T0 + dt.timedelta(days=16, hours=20)])
@pytest.mark.parametrize(("clouds", "workflows"), [(None, None), (["gcp"], None), (None, ["b"]),
                                                   (["aws"], ["a", "b"]), (None, ["defined-only"])])
def test_window_runs_are_the_windows_executions(since, clouds, workflows):
    until = T0 + dt.timedelta(days=17)
    ctx = build_context(_world().tables(), since=since, until=until, now=until, clouds=clouds, workflows=workflows)
    got = ctx.window_runs()
    assert _sorted(got) == _sorted(_counted(ctx))
    assert got["executions"].dtype == "int64"
    assert _sorted(cost.workflow_executions(ctx)) == _sorted(_counted(ctx))   # what the analyses read


def test_the_analyses_count_the_window_without_a_read_of_their_own(monkeypatch):
    until = T0 + dt.timedelta(days=17)
    ctx = build_context(_world().tables(), since=T0 + dt.timedelta(days=3), until=until, now=until)
    reads = []
    monkeypatch.setattr("flowscope.analysis.cost_reads.execute",
                        lambda expr, **kw: reads.append(expr) or execute(expr, **kw))
    cost.workflow_executions(ctx)
    assert len(reads) == 1                                # the durations' read alone
