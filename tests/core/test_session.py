"""The notebook API over a small demo store: filters run in the engine, columns are the model's."""

from __future__ import annotations

import datetime as dt

import pytest

import flowscope
from flowscope.model import TABLES, UTC, C
from flowscope.simulate.demo import build_demo
from flowscope.store import Store

END = dt.datetime(2026, 11, 20, tzinfo=UTC)


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    path = tmp_path_factory.mktemp("nb") / "store"
    build_demo(Store(path), days=3, executions=500, seed=2, end=END)
    return flowscope.open(str(path))


def test_tables_have_the_model_columns(session):
    for name in ("workflows", "executions", "steps", "attempts", "usage", "metrics", "collection_runs"):
        if name == "metrics":   # the demo carries no metrics: said, not silently empty
            with pytest.warns(UserWarning, match="flowscope sync"):
                frame = session.metrics()
        else:
            frame = getattr(session, name)()
        assert list(frame.columns) == TABLES[name].schema.names, name
    assert str(session.executions()[C.started_at].dt.tz) == "UTC"


def test_filters(session):
    everything = session.executions()
    recent = session.executions(since=END - dt.timedelta(days=1))
    assert 0 < len(recent) < len(everything)
    assert (recent[C.started_at] >= END - dt.timedelta(days=1)).all()
    aws = session.executions(cloud="aws")
    assert set(aws[C.cloud]) == {"aws"}
    by_name = session.executions(workflow="payments-standard")
    assert len(by_name) and set(by_name[C.workflow_name]) == {"payments-standard"}
    by_id = session.executions(workflow=by_name[C.workflow_id].iloc[0])
    assert len(by_id) == len(by_name)
    steps = session.steps(workflow="payments-standard")
    assert set(steps[C.workflow_id]) == set(by_name[C.workflow_id])
    failed = session.executions(status=["FAILED", "TIMED_OUT"])
    assert set(failed[C.status]) <= {"FAILED", "TIMED_OUT"}
    one = everything[C.execution_id].iloc[0]
    assert set(session.steps(execution_id=one)[C.execution_id]) == {one}


def test_ibis_and_sql(session):
    steps = session.table("steps")
    count = steps.count().to_pyarrow().as_py()
    assert count == session.sql("SELECT count(*) AS n FROM steps")["n"][0] > 0
    with pytest.raises(ValueError, match="unknown table"):
        session.table("nope")
