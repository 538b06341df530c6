"""One engine under filters: the findings of a filtered analysis equal the unfiltered analysis of the
same window, filtered by `select_findings` (the rule the dashboard uses to compute the analyses once
per window). Proven on a demo store whose injected anomalies give every kind of finding, for each
cloud, each workflow, and a cloud with a workflow of another cloud (nothing but scope findings)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from flowscope.analysis import analyze
from flowscope.analysis.suite import select_findings
from flowscope.model import TABLES, UTC
from flowscope.simulate.demo import build_demo
from flowscope.store import Store

pytestmark = pytest.mark.slow  # analyses a demo store once per cloud and workflow

END = dt.datetime(2026, 3, 31, tzinfo=UTC)
SINCE = END - dt.timedelta(days=14)
KEY = ["kind", "cloud", "workflow_id", "step", "title", "monthly_usd", "executions_affected"]


@pytest.fixture(scope="module")
def window(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("select") / "store")
    build_demo(store, days=30, executions=4_000, seed=7, end=END)
    tables = {name: store.table(name) for name in TABLES}
    return tables, analyze(tables, since=SINCE, until=END, now=END)


def rows(frame: pd.DataFrame) -> list[tuple]:
    out = frame[KEY].astype(object).where(frame[KEY].notna(), None)
    return sorted(tuple(r) for r in out.itertuples(index=False))


def test_the_whole_window_has_findings_of_many_kinds(window):
    _, everything = window
    assert everything["kind"].nunique() >= 6
    assert (everything["kind"] == "collection_gap").any()


@pytest.mark.parametrize("cloud", ["aws", "azure", "gcp"])
def test_a_cloud_filter_selects_the_same_findings(window, cloud):
    tables, everything = window
    filtered = analyze(tables, since=SINCE, until=END, now=END, clouds=[cloud])
    assert len(filtered) > 0
    assert rows(select_findings(everything, clouds=[cloud])) == rows(filtered)


def test_each_workflow_filter_selects_the_same_findings(window):
    tables, everything = window
    ids = sorted(everything["workflow_id"][everything["workflow"].notna()].unique())
    assert len(ids) >= 6
    for wid in ids:
        filtered = analyze(tables, since=SINCE, until=END, now=END, workflows=[wid])
        assert rows(select_findings(everything, workflow_ids=[wid])) == rows(filtered), wid


def test_a_cloud_and_a_workflow_of_another_cloud_leave_only_that_clouds_scope_findings(window):
    tables, everything = window
    aws_wf = everything.loc[(everything["cloud"] == "aws") & everything["workflow"].notna(), "workflow_id"].iloc[0]
    filtered = analyze(tables, since=SINCE, until=END, now=END, clouds=["gcp"], workflows=[aws_wf])
    chosen = select_findings(everything, clouds=["gcp"], workflow_ids=[aws_wf])
    assert rows(chosen) == rows(filtered)
    assert set(chosen["kind"]) <= {"collection_gap"}
