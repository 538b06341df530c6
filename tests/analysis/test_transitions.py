"""The transition rule is written once (`analysis/transitions.py`): the analyses' edges (`cost.edge_costs`,
through Ibis) and the dashboard's Workflows graph (`tables.edge_counts`, the SQL Ibis compiles the rule
to) count the same transitions on the same steps."""

from __future__ import annotations

import collections
import datetime as dt

import duckdb
import ibis
import pandas as pd
import pytest

from flowscope.analysis import tables, transitions
from flowscope.model import UTC, C, Cloud
from flowscope.simulate.base import SimSpec
from flowscope.simulate.demo import simulate_cloud, transform_simulated
from flowscope.store import reader

# (cloud, execution, step_key, previous_step_key, parent_step_key, name): a Map whose items start inside
# it, a step after the Map, a run's first step, a step whose previous visit is not in the table, and
# a GCP run that reuses an AWS run's execution id and step keys (ids are unique per cloud only), with a
# try around a call (two entries named "Call": the call is the try's own work, not a transition) and a
# try whose body is another step.
STEPS = [("aws", "e1", "1", None, None, "A"), ("aws", "e1", "2", "1", None, "Map"),
         ("aws", "e1", "3", None, "2", "Item"), ("aws", "e1", "4", "3", "2", "ItemEnd"),
         ("aws", "e1", "5", None, "2", "Item"), ("aws", "e1", "6", "2", None, "B"),
         ("aws", "e2", "1", None, None, "A"), ("aws", "e2", "2", "1", None, "B"),
         ("aws", "e3", "9", "8", None, "B"),
         ("gcp", "e1", "1", None, None, "X"), ("gcp", "e1", "2", "1", None, "Y"),
         ("gcp", "e1", "3", "2", None, "Call"), ("gcp", "e1", "4", None, "3", "Call"),
         ("gcp", "e1", "5", "3", None, "Guard"), ("gcp", "e1", "6", None, "5", "Inner")]

EXPECTED = {"aws": {(None, "A"): 2, ("A", "Map"): 1, ("Map", "Item"): 2, ("Item", "ItemEnd"): 1,
                    ("Map", "B"): 1, ("A", "B"): 1, (None, "B"): 1},
            "gcp": {(None, "X"): 1, ("X", "Y"): 1, ("Y", "Call"): 1, ("Call", "Guard"): 1, ("Guard", "Inner"): 1}}


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute(f"CREATE TABLE steps ({C.cloud} VARCHAR, {C.workflow_id} VARCHAR, {C.execution_id} VARCHAR, "
                f"{C.step_key} VARCHAR, {C.previous_step_key} VARCHAR, {C.parent_step_key} VARCHAR, "
                f"{C.name} VARCHAR, {C.started_at} TIMESTAMPTZ, {C.start_date} DATE)")
    con.executemany("INSERT INTO steps VALUES (?, 'wf', ?, ?, ?, ?, ?, TIMESTAMPTZ '2026-01-02 00:00:00+00', "
                    "DATE '2026-01-02')", STEPS)
    # the runs' table the pages read their start dates from (`tables.first_live_date`): none still going
    con.execute(f"CREATE TABLE executions AS {reader.select_sql('executions', reader.TableFiles([], frozenset()))}")
    return con


def test_the_rule_in_ibis_keeps_each_cloud_apart(con):
    backend = ibis.duckdb.from_connection(con)
    got = backend.execute(transitions.with_sources(backend.table("steps")))
    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for r in got.itertuples(index=False):
        counts[r.cloud][(r.source if isinstance(r.source, str) else None, getattr(r, C.name))] += 1
    assert {cloud: dict(c) for cloud, c in counts.items()} == EXPECTED


@pytest.mark.parametrize("cloud", ["aws", "gcp"])
def test_the_dashboards_graph_counts_what_the_rule_says(con, cloud):
    f = tables.Filters(dt.datetime(2026, 1, 1, tzinfo=UTC), dt.datetime(2026, 1, 3, tzinfo=UTC))
    edges = tables.edge_counts(con, f, cloud, "wf")
    got = {(r.source or None, r.target): r.transitions for r in edges.itertuples()}
    assert got == EXPECTED[cloud]


def test_the_dashboard_reads_the_rule_rather_than_its_own():
    """`edge_counts` takes its join from `transitions.sql`: a rule changed there changes the graph."""
    sql = transitions.sql("s", one_cloud=True)
    assert "COALESCE" in sql and '"previous_step_key"' in sql and '"parent_step_key"' in sql
    assert '"cloud" = ' not in sql, "one cloud: no cloud in the join"
    assert '"cloud" = ' in transitions.sql("s")


def test_the_rule_in_pandas_is_the_rule_in_ibis():
    """The run page reads one run's steps in pandas (`own_work_in_run`): on every run of a simulated GCP
    workload (tries around calls, retries, excepts, nested tries) it finds the visits `own_work` finds."""
    end = dt.datetime(2026, 3, 31, tzinfo=UTC)
    batch = transform_simulated(simulate_cloud(Cloud.GCP, SimSpec(start=end - dt.timedelta(days=2), end=end,
                                                                  executions=150, seed=3)), end)
    steps = pd.DataFrame(batch.steps)
    backend = ibis.duckdb.connect()
    ibis_rows = backend.execute(transitions.own_work(ibis.memtable(steps[list(transitions.COLUMNS)])))
    want = {(r.execution_id, r.step_key): r.container_key for r in ibis_rows.itertuples(index=False)}
    got = {(eid, k): box for eid, run in steps.groupby(C.execution_id)
           for k, box in transitions.own_work_in_run(run).items()}
    assert got == want
    assert len({eid for eid, _ in want}) > 50, "tries in most runs"


def test_visits_are_the_sources_and_the_own_work_of_one_join(con):
    """`visits` (what `cost.edge_costs` reads, one self-join) holds every visit: the ones
    `with_sources` keeps with the same source, and the container's own work (the GCP try's call) with its
    container's key and no source."""
    backend = ibis.duckdb.from_connection(con)
    got = backend.execute(transitions.visits(backend.table("steps")))
    assert len(got) == len(STEPS)
    keyed = {(r.cloud, r.execution_id, r.step_key): r for r in got.itertuples(index=False)}
    own = {k: r.container_key for k, r in keyed.items() if isinstance(r.container_key, str)}
    assert own == {("gcp", "e1", "4"): "3"}
    assert not isinstance(keyed["gcp", "e1", "4"].source, str)
    sources = backend.execute(transitions.with_sources(backend.table("steps")))
    assert {(r.cloud, r.execution_id, r.step_key): r.source if isinstance(r.source, str) else None
            for r in sources.itertuples(index=False)} == \
        {k: r.source if isinstance(r.source, str) else None for k, r in keyed.items() if k not in own}


@pytest.mark.parametrize("into", [{"Call"}, {"B", "Item"}, {"Guard", "Inner", "X"}, set()])
def test_visits_into_some_steps_are_those_of_every_visit(con, into):
    """`visits(steps, into)` (the findings' edges, `cost.add_edges`) holds the visits of the steps named in
    `into` with the sources and containers `visits(steps)` gives them: their sources are looked up among
    every step, and a container's own work (GCP's try around "Call") stays with its container."""
    backend = ibis.duckdb.from_connection(con)

    def keyed(df: pd.DataFrame) -> dict:
        return {(r.cloud, r.execution_id, r.step_key): (r.name, r.source if isinstance(r.source, str) else None,
                                                        r.container_key if isinstance(r.container_key, str) else None)
                for r in df.itertuples(index=False)}

    whole = keyed(backend.execute(transitions.visits(backend.table("steps"))))
    got = keyed(backend.execute(transitions.visits(backend.table("steps"), into)))
    assert got == {k: v for k, v in whole.items() if v[0] in into}
    if "Call" in into:
        assert got["gcp", "e1", "4"] == ("Call", None, "3"), "the try's own work, charged to the try"
