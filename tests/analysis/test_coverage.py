"""A window's coverage (runs, workflows, first and last run, the store's runs per cloud) comes from the
one read of the executions the context already makes (`suite.runs_per_workflow`); each field equals
its definition read straight from the executions, whatever the filters."""

from __future__ import annotations

import datetime as dt

import pytest

from flowscope.analysis.run import window_coverage
from flowscope.model import UTC, C
from flowscope.store import Store
from tests.ui.helpers import WORKFLOWS, build

END = dt.datetime(2026, 3, 8, tzinfo=UTC)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("coverage")
    Store(path).write(build(240, end=END, days=7, seed=5))
    return Store.open(path)


def _straight(store: Store, since: dt.datetime | None, until: dt.datetime, clouds, workflows) -> dict:
    """The coverage's definition, read from the executions with plain SQL."""
    where = ["TRUE"]
    if clouds:
        where.append(f"{C.cloud} IN ({', '.join(repr(c) for c in clouds)})")
    if workflows:
        ids = {w.workflow_id for w in WORKFLOWS if w.name in workflows or w.workflow_id in workflows}
        where.append(f"{C.workflow_id} IN ({', '.join(repr(i) for i in sorted(ids))})")
    cond = " AND ".join(where)
    first, last = store.sql(f"SELECT min({C.started_at}), max({C.started_at}) FROM executions WHERE {cond}").iloc[0]
    start = since or first.to_pydatetime()
    window = (f"{cond} AND {C.started_at} >= TIMESTAMPTZ '{start.isoformat()}' "
              f"AND {C.started_at} < TIMESTAMPTZ '{until.isoformat()}'")
    n, wf = store.sql(f"SELECT count(*), count(DISTINCT {C.workflow_id}) FROM executions WHERE {window}").iloc[0]
    per_cloud = store.sql(f"SELECT {C.cloud}, count(*) AS n FROM executions GROUP BY ALL")
    return {"executions": int(n), "workflows": int(wf), "first": first.to_pydatetime(),
            "last": last.to_pydatetime(), "store_executions": int(per_cloud["n"].sum()),
            "store_clouds": sorted(per_cloud[C.cloud])}


@pytest.mark.parametrize(("since_days", "until_days", "clouds", "workflows"), [
    (3, 7, None, None),
    (None, 7, None, None),                           # no since: from the first run
    (0, 2, ["aws"], None),
    (5, 6, ["azure", "gcp"], None),
    (2, 7, None, [WORKFLOWS[0].name]),               # a workflow by name
    (None, 4, ["aws", "gcp"], [WORKFLOWS[0].workflow_id, WORKFLOWS[2].workflow_id]),
    (8, 9, None, None),                              # after the data: nothing in the window
])
def test_coverage_equals_its_definition(store, since_days, until_days, clouds, workflows):
    start = END - dt.timedelta(days=7)
    since = start + dt.timedelta(days=since_days) if since_days is not None else None
    until = start + dt.timedelta(days=until_days)
    cov = window_coverage(store, since=since, until=until, now=until, clouds=clouds, workflows=workflows)
    want = _straight(store, since, until, clouds, workflows)
    got = {k: getattr(cov, k) for k in want}
    assert got == want
    assert since_days == 8 or cov.executions > 0, "the cases with data have some"
