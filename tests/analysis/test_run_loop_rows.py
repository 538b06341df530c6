"""A loop's iterations on the run page and Compare: Logic Apps (ScopeRepetition) and GCP (STEP_FOR_ITERATION)
give each iteration as a container row named as the loop, under the loop. The Workflows page lets them give way
to the loop's own row (`step_rank`: the lowest rank of a name stands for it); the run page read them as a step
of their own, "For_each_contact inside For_each_contact", 50 "runs of step" added to the run's step visits, and
Compare's top difference. A run is read as the other pages read it: the loop one row, its iterations folded
under it (their actions under the loop), not visits. An AWS Map's items have no iteration rows: unchanged."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from flowscope.analysis import runs
from flowscope.analysis import tables as q
from flowscope.model import Batch, C, Cloud, Kind, StepType
from flowscope.store import Store
from tests.analysis.helpers import World, at

LOOPS = {  # cloud: (workflow, kind, trigger, loop, its native type, iteration's type and native type, action)
    Cloud.AZURE: ("crm-export", Kind.LOGICAPP_CONSUMPTION, "Recurrence", "For_each_contact", "Foreach",
                  StepType.SCOPE, "ScopeRepetition", "Upsert_contact"),
    Cloud.GCP: ("etl-nightly", Kind.GCP_WORKFLOWS, "init", "load_tables", "STEP_FOR",
                StepType.LOOP, "STEP_FOR_ITERATION", "run_query"),
}


def _loop_run(w: World, cloud: Cloud, items: int, start: dt.datetime) -> dict:
    """A run of a trigger, a loop of `items` iterations (each a row named as the loop, its action under it)
    and a last step: 3 + `items` step visits."""
    name, kind, first, loop, native, it_type, it_native, action = LOOPS[cloud]
    wf = f"{cloud}/{name}"
    if not any(r[C.workflow_id] == wf for r in w.rows["workflows"]):
        w.workflow(name, cloud=str(cloud), kind=kind, wf_id=wf)
    ex = w.execution(wf, start, cloud=str(cloud), duration_ms=60_000)
    n = len(w.rows["steps"])
    w.step(ex, first, start, key=f"t{n}", type=StepType.TRIGGER)
    w.step(ex, loop, start, key=f"l{n}", type=StepType.LOOP, native_type=native, prev=f"t{n}", duration_ms=50_000)
    for i in range(items):
        at_i = start + dt.timedelta(seconds=i)
        w.step(ex, loop, at_i, key=f"i{n}.{i}", type=it_type, native_type=it_native, parent=f"l{n}", iteration=i)
        w.step(ex, action, at_i, key=f"a{n}.{i}", parent=f"i{n}.{i}", iteration=i)
    w.step(ex, "Post_summary", start + dt.timedelta(seconds=55), key=f"p{n}", prev=f"l{n}")
    return ex


def _map_run(w: World, items: int, start: dt.datetime) -> dict:
    """An AWS run whose Map runs ReserveItem per item: the items are the task's rows, with no row of their own."""
    wf = next((r[C.workflow_id] for r in w.rows["workflows"] if r[C.name] == "orders-standard"), None) \
        or w.workflow("orders-standard")
    ex = w.execution(wf, start, duration_ms=60_000)
    n = len(w.rows["steps"])
    w.step(ex, "ReserveItems", start, key=f"m{n}", type=StepType.MAP, native_type="Map", duration_ms=50_000)
    for i in range(items):
        w.step(ex, "ReserveItem", start + dt.timedelta(seconds=i), key=f"r{n}.{i}", parent=f"m{n}", iteration=i)
    w.step(ex, "Done", start + dt.timedelta(seconds=55), key=f"d{n}", type=StepType.SUCCEED, prev=f"m{n}")
    return ex


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> tuple[object, dict[str, list[str]]]:
    w = World()
    ids: dict[str, list[str]] = {}
    for cloud in LOOPS:
        ids[str(cloud)] = [_loop_run(w, cloud, items, at(hours=h))[C.execution_id]
                           for h, items in ((1, 5), (2, 3))]
    ids["aws"] = [_map_run(w, items, at(hours=h))[C.execution_id] for h, items in ((1, 4), (2, 2))]
    path = tmp_path_factory.mktemp("loop-rows")
    Store(path).write(Batch(**{k: v for k, v in w.rows.items() if k in Batch.__dataclass_fields__}))
    con = q.prepare(Store.open(path).connect().cursor())
    return con, ids


def _steps(con, cloud: str, execution_id: str) -> pd.DataFrame:
    """A run's steps as the run page reads them."""
    detail = q.execution_detail(con, cloud, execution_id)
    assert detail is not None
    return detail["steps"]


@pytest.mark.parametrize("cloud", list(LOOPS))
def test_a_loops_iterations_are_no_step_of_their_own_on_the_run_page(store, cloud):
    con, ids = store
    _name, _kind, first, loop, _native, _t, _n, action = LOOPS[cloud]
    steps = _steps(con, str(cloud), ids[str(cloud)][0])
    table = runs.collapsed_steps(steps)
    rows = {(r.step, r.parent if isinstance(r.parent, str) else None): r.visits for r in table.itertuples()}
    assert rows == {(first, None): 1, (loop, None): 1, (action, loop): 5, ("Post_summary", None): 1}
    # "Step visits" on the run page: the work and the loop's entry, not its iterations (8, not 13)
    assert len(runs.fold_own_work(steps)) == 3 + 5
    events = runs.run_events(runs.fold_own_work(steps), pd.DataFrame(columns=[C.step_key, C.attempt]))
    assert (events["step"] == loop).sum() == 2, "the loop entered and exited once"


@pytest.mark.parametrize("cloud", list(LOOPS))
def test_compare_reads_a_loop_as_one_row_its_actions_under_it(store, cloud):
    con, ids = store
    _name, _kind, _first, loop, _native, _t, _n, action = LOOPS[cloud]
    a, b = (_steps(con, str(cloud), eid) for eid in ids[str(cloud)])
    out = runs.compare_runs(a, b)
    assert not ((out["step"] == loop) & (out["parent"] == loop)).any(), out
    first = out.iloc[0]
    assert (first["step"], first["parent"], first["a_visits"], first["b_visits"]) == (action, loop, 5, 3)
    own = out[(out["step"] == loop) & out["parent"].isna()].iloc[0]
    assert (own["a_visits"], own["b_visits"]) == (1, 1)


@pytest.mark.parametrize("cloud", ["aws", *map(str, LOOPS)])
def test_a_run_counts_the_visits_the_workflows_page_counts(store, cloud):
    """One rule: per step name, the run page's visits are the Workflows page's over a window of that run alone."""
    con, ids = store
    eid = ids[cloud][0]
    steps = _steps(con, cloud, eid)
    table = runs.collapsed_steps(steps)
    on_run_page = table.groupby("step")["visits"].sum().to_dict()
    start = pd.Timestamp(steps[C.started_at].min()).to_pydatetime()
    f = q.Filters(start - dt.timedelta(minutes=1), start + dt.timedelta(minutes=30), (cloud,))
    metrics = q.step_metrics(con, f, cloud, str(steps[C.workflow_id].iloc[0]))
    assert on_run_page == dict(zip(metrics["step"], metrics["visits"], strict=True))
    assert sum(on_run_page.values()) == len(runs.fold_own_work(steps))


def test_an_aws_maps_items_stay_its_tasks_visits(store):
    con, ids = store
    a, b = (_steps(con, "aws", eid) for eid in ids["aws"])
    table = runs.collapsed_steps(a).set_index("step")
    assert (table.loc["ReserveItem", "parent"], table.loc["ReserveItem", "visits"]) == ("ReserveItems", 4)
    assert len(runs.fold_own_work(a)) == len(a) == 6
    out = runs.compare_runs(a, b).iloc[0]
    assert (out["step"], out["a_visits"], out["b_visits"]) == ("ReserveItem", 4, 2)
