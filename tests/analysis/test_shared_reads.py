"""The shared reads of an analysis run (issue 15): each gives what the separate queries it replaced
gave, is computed once per context, and the vectorised retry-storm pieces match their loops."""

from __future__ import annotations

import datetime as dt

import ibis.expr.operations as ops
import numpy as np
import pandas as pd
import pytest

from flowscope.analysis import collection, cost, failures, retries
from flowscope.analysis.base import CONTAINER_TYPES, FAILED_VALUES, UNCAUGHT_FAILED_VALUES, execute
from flowscope.analysis.suite import analyze_context, build_context
from flowscope.model import C, Meter, RunStatus, Status, StepType
from flowscope.store import Store
from tests.analysis.helpers import ARN, T0, World, at

DAY = dt.timedelta(days=1)
KEYS = [C.cloud, C.workflow_id, C.name]


def _world() -> World:
    """Steps in both windows, containers, a Fail state, loop items, retries, failures caught and not,
    a step seen only in the previous window and one only in the current, two meters on one step."""
    w = World()
    wf = w.workflow("orders")
    other = w.workflow("billing")
    for day, wf_id in ((-1.5, wf), (-0.5, wf), (0.2, wf), (0.6, wf), (1.1, wf), (0.3, other), (-0.7, other)):
        ex = w.execution(wf_id, at(days=day))
        t = at(days=day)
        w.step(ex, "Charge", t, attempts=2, meter=Meter.AWS_SFN_STATE_TRANSITION, quantity=2)
        w.usage(ex, "Charge#0", Meter.AWS_SFN_EXPRESS_REQUEST, 1, name="Charge")
        w.step(ex, "Charge", t + dt.timedelta(seconds=5), status=Status.FAILED, error="Boom")
        w.step(ex, "Caught", t, status=Status.CAUGHT, meter=Meter.AWS_SFN_STATE_TRANSITION)
        w.step(ex, "Fan", t, type=StepType.MAP, status=Status.FAILED, key="Fan#0")
        w.step(ex, "Item", t, parent="Fan#0", iteration=0, status=Status.FAILED)
        w.step(ex, "Stop", t, type=StepType.FAIL, status=Status.FAILED)
        w.usage(ex, None, Meter.AWS_SFN_STATE_TRANSITION, 1)
        if day < 0:
            w.step(ex, "OnlyBefore", t, status=Status.FAILED)
        else:
            w.step(ex, "OnlyNow", t)
    return w


@pytest.fixture
def ctx():
    return build_context(_world().tables(), since=T0, until=T0 + 2 * DAY, now=T0 + 2 * DAY)


def _sorted(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return df.sort_values(keys).reset_index(drop=True)


def test_step_stats_equal_the_direct_aggregate_of_the_window(ctx):
    s = ctx.in_window(ctx.table("steps"))
    direct = execute(s.group_by(KEYS).aggregate(
        type=s[C.type].max(), visits=s.count(), attempts=s[C.attempts].sum(),
        retries=(s[C.attempts] - 1).clip(lower=0).sum()))
    got = cost.step_stats(ctx)
    assert "OnlyBefore" not in set(got[C.name]) and "OnlyNow" in set(got[C.name])
    pd.testing.assert_frame_equal(_sorted(got, KEYS), _sorted(direct[got.columns], KEYS), check_dtype=False)


def test_failure_stats_equal_the_direct_aggregate_of_working_visits(ctx):
    s = ctx.in_window(ctx.table("steps"), both=True)
    s = s.filter(~s[C.type].isin([*CONTAINER_TYPES, str(StepType.FAIL)]))
    failed = s[C.status].isin(FAILED_VALUES)
    current = (s[C.started_at] >= ctx.since).name("current")
    direct = execute(s.group_by([*KEYS, current]).aggregate(
        visits=s.count(), failures=failed.cast("int64").sum(),
        uncaught=s[C.status].isin(UNCAUGHT_FAILED_VALUES).cast("int64").sum(),
        first_seen=s[C.started_at].min(where=failed), last_seen=s[C.started_at].max(where=failed)))
    got = failures._work_stats(ctx)
    assert not {"Fan", "Stop"} & set(got[C.name])            # containers and Fail states do no work
    assert {"OnlyBefore", "OnlyNow"} <= set(got[C.name])
    keys = [*KEYS, "current"]
    pd.testing.assert_frame_equal(_sorted(got, keys), _sorted(direct[got.columns], keys))
    assert got["visits"].dtype == "int64" and got["failures"].dtype == "int64"


def test_step_and_workflow_costs_are_sums_of_the_one_priced_read(ctx):
    u = cost.window_usage(ctx)
    step = u[C.step_key].isnull().ifelse(cost.EXECUTION_STEP, u[C.name].coalesce(u[C.step_key]))
    by_step = execute(u.mutate(step=step).group_by([C.cloud, C.workflow_id, "step"]).aggregate(
        usd=u.usd.sum(), quantity=u[C.quantity].sum()))
    by_meter = execute(u.group_by([C.cloud, C.workflow_id, C.meter]).aggregate(
        quantity=u[C.quantity].sum(), usd=u.usd.sum()))
    sc, wc = cost.step_costs(ctx), cost.workflow_costs(ctx)
    assert cost.EXECUTION_STEP in set(sc["step"]) and len(set(wc[C.meter])) == 2
    pd.testing.assert_frame_equal(_sorted(sc, [C.cloud, C.workflow_id, "step"]),
                                  _sorted(by_step[sc.columns], [C.cloud, C.workflow_id, "step"]), rtol=1e-12)
    pd.testing.assert_frame_equal(_sorted(wc, [C.cloud, C.workflow_id, C.meter]),
                                  _sorted(by_meter[wc.columns], [C.cloud, C.workflow_id, C.meter]), rtol=1e-12)


def test_distinct_executions_of_flagged_steps_equal_the_whole_window_estimate(ctx):
    s = ctx.in_window(ctx.table("steps"))
    whole = execute(s.group_by(KEYS).aggregate(executions=s[C.execution_id].approx_nunique()))
    flagged = pd.DataFrame({C.cloud: ["aws", "aws"], C.workflow_id: sorted(set(whole[C.workflow_id])),
                            "step": ["Charge", "OnlyNow"]})
    got = cost._flagged_steps(ctx, flagged).rename(columns={"step": C.name})
    want = whole.merge(got[KEYS], on=KEYS)
    assert len(got) == 2 and not got["in_loop"].any()      # no step of this world has a parent
    pd.testing.assert_frame_equal(_sorted(got[[*KEYS, "executions"]], KEYS), _sorted(want[[*KEYS, "executions"]], KEYS),
                                  check_dtype=False)
    assert cost._flagged_steps(ctx, flagged.iloc[:0]).empty
    item = pd.DataFrame({C.cloud: ["aws"], C.workflow_id: [ARN + "orders"], "step": ["Item"]})
    assert cost._flagged_steps(ctx, item)["in_loop"].tolist() == [True]      # under the Map "Fan"


def test_each_shared_read_runs_once_per_analysis_run(monkeypatch):
    ctx = build_context(_world().tables(), since=T0, until=T0 + 2 * DAY, now=T0 + 2 * DAY)
    calls: dict[str, int] = {}
    real = type(ctx).cached

    def counting(self, key, compute):
        def counted():
            calls[key] = calls.get(key, 0) + 1
            return compute()
        return real(self, key, counted)

    monkeypatch.setattr(type(ctx), "cached", counting)
    analyze_context(ctx)
    # failures and cost read the steps' stats, cost the step and workflow costs: all from one read each
    # (step_meter_costs sums the usage before pricing it: the per-row priced usage, window_usage, is read
    # only by the executions' and transitions' costs, at most once)
    for key in ("step_window_stats", "step_stats", "step_meter_costs", "step_costs", "workflow_costs",
                "kinds_table"):
        assert calls.get(key) == 1, (key, calls)
    assert calls.get("window_usage", 0) <= 1


def test_the_latest_collection_runs_are_read_once_per_analysis_run(monkeypatch):
    """Failed runs, missing log groups and logging levels each take the scopes' latest collection runs:
    one query of the collection runs for the three, not one each."""
    w = _world()
    w.collection_run("aws:123:us-east-1", at(minutes=1), RunStatus.FAILED, error="AccessDenied")
    w.collection_run("aws:123:us-east-1", at(minutes=2), RunStatus.SUCCEEDED,
                     details='{"log_groups_missing": {"/aws/vendedlogs/states/gone": ["orders"]}}')
    ctx = build_context(w.tables(), since=T0, until=T0 + 2 * DAY, now=T0 + 2 * DAY)
    names: list[set[str]] = []
    real = collection.execute

    def spying(expr, **kwargs):
        names.append({t.name for t in expr.op().find(ops.PhysicalTable)})
        return real(expr, **kwargs)

    monkeypatch.setattr(collection, "execute", spying)
    collection.run(ctx)
    assert sum("collection_runs" in n for n in names) == 1, names


def test_store_connections_cache_parquet_footers(tmp_path):
    store = Store(tmp_path / "store")
    con = store.connect()
    assert con.sql("SELECT current_setting('parquet_metadata_cache')").fetchall() == [(True,)]


# ---------------------------------------------------------------- the retry-storm scan, vectorised


def test_max_rolling_sums_of_many_series_equal_each_series_alone():
    rng = np.random.default_rng(1)
    for _ in range(200):
        n = int(rng.integers(1, 8))
        start, width = int(rng.integers(-20, 200)), int(rng.choice([1, 4, 16]))
        codes, idxs, vals, want = [], [], [], []
        for code in range(n):
            m = int(rng.integers(0, 30))
            idx = np.sort(rng.choice(300, size=m, replace=False)).astype(np.int64)
            v = rng.integers(1, 20, size=m).astype(float)
            want.append(retries._max_rolling_sum(idx, v, width, start))
            p = rng.permutation(m)                     # any order in, per-series answers out
            codes.append(np.full(m, code, dtype=np.int64))
            idxs.append(idx[p])
            vals.append(v[p])
        got = retries._max_rolling_sums(np.concatenate(codes), np.concatenate(idxs), np.concatenate(vals),
                                        width, start, n)
        assert got.tolist() == want


@pytest.mark.parametrize("dyadic", [True, False])
def test_cusum_segments_equal_the_loop_bit_for_bit(dyadic, monkeypatch):
    rng = np.random.default_rng(3 if dyadic else 4)
    loops = []
    real_loop = retries._cusum_segments_loop
    monkeypatch.setattr(retries, "_cusum_segments_loop", lambda *a: loops.append(1) or real_loop(*a))
    for _ in range(500):
        n = int(rng.integers(0, 200))
        dense = rng.poisson(float(rng.choice([0.2, 1.0, 5.0])), n).astype(float)
        if n:
            dense[rng.integers(0, n, size=min(n, 5))] += rng.integers(5, 50)
        ref = rng.integers(0, 6, n) / 2.0 + 1.0 if dyadic else rng.random(n) * 3 + 1
        core = rng.random(n) < 0.05
        assert retries._cusum_segments(dense, ref, core) == real_loop(dense, ref, core)
    assert (not loops) if dyadic else loops         # whole and half numbers never take the loop


def test_usage_of_a_whole_execution_has_one_label_in_findings_and_the_dashboard(ctx, tmp_path):
    """The analyses put usage of no step under "(execution)" and the dashboard's tables and run page under
    "(per execution)": one cost read under two names. Both read `base.EXECUTION_STEP`."""
    from flowscope.analysis import tables as q
    from flowscope.model import Batch

    Store(tmp_path / "s").write(Batch(**_world().rows))
    con = q.prepare(Store(tmp_path / "s").connect().cursor())
    try:
        f = q.Filters(T0, T0 + 2 * DAY)
        shown = set(q.run(con, f"SELECT DISTINCT step FROM ({q.usage_sql(con, f)})", f.params())["step"])
    finally:
        con.close()
    engine = set(cost.step_costs(ctx)["step"])
    assert shown == engine == {"(per execution)", "Charge", "Caught"}


# ---------------------------------------------------------------- failure buckets in the shared step read


def _fresh():
    return build_context(_world().tables(), since=T0, until=T0 + 2 * DAY, now=T0 + 2 * DAY)


def test_step_window_stats_are_the_same_read_with_buckets_or_without(monkeypatch):
    """The shared read grouped by failure bucket (`cost._buckets_folded`), summed back per window, is what
    the read grouped by window alone returns: the same values and dtypes (whole counts int64)."""
    folded = _fresh()
    assert cost._buckets_folded(folded) and "bucket" in cost._step_window_groups(folded).columns
    got = cost.step_window_stats(folded)
    monkeypatch.setattr("flowscope.analysis.step_stats.FOLDED_BUCKETS_MAX", 0)
    plain = _fresh()
    want = cost.step_window_stats(plain)
    assert not cost._buckets_folded(plain) and cost.failure_buckets(plain, want) is None
    keys = [*KEYS, "current"]
    assert set(got["current"]) == {True, False}
    pd.testing.assert_frame_equal(_sorted(got, keys), _sorted(want, keys))


def test_failure_buckets_equal_the_direct_aggregate_of_working_visits():
    from flowscope.analysis.base import bucket_expr, bucket_index

    ctx = _fresh()
    width = cost.failure_bucket_s(ctx)
    s = ctx.in_window(ctx.table("steps"))
    s = s.filter(~s[C.type].isin([*CONTAINER_TYPES, str(StepType.FAIL)]))
    s = s.mutate(bucket=bucket_expr(s, C.started_at, width))
    direct = execute(s.group_by([*KEYS, "bucket"]).aggregate(
        visits=s.count(), failures=s[C.status].isin(FAILED_VALUES).cast("int64").sum()))
    direct["bucket"] = bucket_index(direct["bucket"], width)
    every = pd.DataFrame({C.cloud: ["aws"] * 6, C.workflow_id: [ARN + "orders"] * 5 + [ARN + "billing"],
                          C.name: ["Charge", "Caught", "Fan", "Stop", "OnlyBefore", "Charge"]})
    got = cost.failure_buckets(ctx, every)
    assert "OnlyBefore" not in set(got[C.name]) and not {"Fan", "Stop"} & set(got[C.name])
    keys = [*KEYS, "bucket"]
    direct = direct.merge(every, on=KEYS)          # Caught of billing is not asked for
    pd.testing.assert_frame_equal(_sorted(got, keys), _sorted(direct[got.columns], keys))
    one = cost.failure_buckets(ctx, every.iloc[[1]])
    assert set(one[C.name]) == {"Caught"} and set(one[C.workflow_id]) == {ARN + "orders"}


def _old_failed_collections(runs, until):
    """The coverage's failed collections as their own query read them (before `collection.runs_before`)."""
    import ibis

    from flowscope.analysis.base import lit_ts
    from flowscope.analysis.run import _missing, _ts
    from flowscope.model import superseded_failures

    runs = runs.filter(runs[C.started_at] < lit_ts(until))
    order = ibis.window(group_by=runs[C.scope], order_by=[ibis.desc(runs[C.started_at])])
    latest = runs.mutate(_rn=ibis.row_number().over(order)).filter(lambda t: t["_rn"] == 0)
    rows = execute(latest.select(C.run_id, C.scope, C.cloud, C.status, C.started_at, C.ended_at, C.error,
                                 C.details).order_by(C.scope)).to_dict("records")
    superseded = superseded_failures(rows)
    return [{"scope": str(r[C.scope]), "cloud": str(r[C.cloud]), "ended_at": _ts(r[C.ended_at]),
             "error": None if _missing(r[C.error]) else str(r[C.error])}
            for r in rows if r[C.status] == RunStatus.FAILED.value and str(r[C.run_id]) not in superseded]


def _old_collected_to(runs, until):
    from flowscope.analysis.base import lit_ts
    from flowscope.analysis.run import _missing, _ts
    from flowscope.model import COLLECTED_STATUSES

    done = runs.filter(runs[C.status].isin(list(COLLECTED_STATUSES))
                       & runs[C.watermark].notnull() & (runs[C.started_at] < lit_ts(until)))
    value = execute(done.aggregate(to=done[C.watermark].max()))["to"].iloc[0]
    return None if _missing(value) else min(_ts(value) or until, until)


@pytest.mark.parametrize("watermarks", [True, False])
def test_the_coverage_and_the_collection_checks_read_the_collection_runs_once(monkeypatch, watermarks):
    """The coverage's failed collections (each scope's last run before the coverage's moment) and its watermark
    (syncs started before the window's end) come from the one read the collection checks take
    (`collection.runs_before`), and say what their own queries said: a scope failed last, one superseded by a
    later run of its source, one failed after the window's end but before the moment asked about, a
    watermark of a sync after the window's end left out, runs after the moment left out."""
    from flowscope.analysis import run as run_module

    until = T0 + 2 * DAY
    w = _world()
    source = '{"source": "aws:123:us-east-1"}'
    w.collection_run("aws:123:us-east-1", at(minutes=1), RunStatus.FAILED, error="AccessDenied")
    w.collection_run("aws:123:us-east-1", at(minutes=2), RunStatus.SUCCEEDED)
    w.collection_run("aws:default:us-east-1", at(minutes=3), RunStatus.FAILED, error="NoAccount", details=source)
    w.collection_run("aws:123:eu-west-1", at(minutes=4), RunStatus.SUCCEEDED, details=source)
    w.collection_run("aws:123:eu-west-1", at(days=1), RunStatus.PARTIAL)
    w.collection_run("aws:9:us-west-2", until + dt.timedelta(hours=2), RunStatus.FAILED, error="late")
    w.collection_run("aws:123:eu-west-1", until + dt.timedelta(hours=3), RunStatus.SUCCEEDED, details=source)
    w.collection_run("aws:7:us-west-1", until + 3 * DAY, RunStatus.FAILED, error="after the moment")
    w.collection_run("aws:5:ap-south-1", at(minutes=5), RunStatus.FAILED, error="Throttled")
    marks = [at(minutes=1), at(minutes=2), None, at(minutes=4), at(hours=20), None, until + dt.timedelta(hours=3),
             None, None]
    for row, mark in zip(w.rows["collection_runs"], marks, strict=True):
        row[C.watermark] = mark if watermarks else None
    ctx = build_context(w.tables(), since=T0, until=until, now=until + 3 * DAY,
                        collections_as_of=until + DAY)
    names: list[set[str]] = []

    def spying(real):
        def spy(expr, **kwargs):
            names.append({t.name for t in expr.op().find(ops.PhysicalTable)})
            return real(expr, **kwargs)
        return spy

    monkeypatch.setattr(collection, "execute", spying(collection.execute))
    monkeypatch.setattr(run_module, "execute", spying(run_module.execute))
    coverage = run_module._coverage(ctx, ctx.tables, None, None, True)
    collection.run(ctx)
    assert sum("collection_runs" in n for n in names) == 1, names

    runs = ctx.tables["collection_runs"]
    assert coverage.failed_collections == _old_failed_collections(runs, ctx.collections_until)
    assert [f["scope"] for f in coverage.failed_collections] == ["aws:5:ap-south-1", "aws:9:us-west-2"]
    assert coverage.collected_to == _old_collected_to(runs, until)
    assert coverage.collected_to == (at(hours=20) if watermarks else None)


def _storm_details_in_two_reads(ctx, st: pd.DataFrame) -> pd.DataFrame:
    """`retries._storm_details` as it was before session 48: the join of the storms' visits extended by the
    anti-join (two scans of the steps). The reference the one-read form must equal."""
    import ibis

    from flowscope.analysis import step_rank
    from flowscope.analysis.base import lit_ts, picked_by, sample_rank, sample_rows
    m = ibis.memtable(pd.DataFrame({
        "sid": st["sid"].astype("int64"), "m_cloud": st["cloud"].astype(str),
        "m_wf": st["workflow_id"].astype(str), "m_step": st["step"].astype(str),
        "m_start": pd.to_datetime(st["start"], utc=True), "m_end": pd.to_datetime(st["end"], utc=True),
        "m_error": st["error"].astype(str)}))
    s = ctx.table("steps")
    s = s.filter((s[C.started_at] >= lit_ts(st["start"].min())) & (s[C.started_at] < lit_ts(st["end"].max())))
    j = s.inner_join(m, (s[C.cloud] == m.m_cloud) & (s[C.workflow_id] == m.m_wf) & (s[C.name] == m.m_step)
                     & (s[C.started_at] >= m.m_start) & (s[C.started_at] < m.m_end))
    a = ctx.table("attempts")
    a = a.filter(a[C.status].isin(FAILED_VALUES) & (a[C.started_at] >= lit_ts(st["start"].min()))
                 & (a[C.started_at] < lit_ts(ctx.until)))
    a = a.select(a_cloud=a[C.cloud], a_exec=a[C.execution_id], a_key=a[C.step_key], a_attempt=a[C.attempt],
                 a_error=ibis.coalesce(a[C.error], ibis.literal(retries.NO_ERROR)))
    v = j.select("sid", "m_error", v_cloud=j[C.cloud], v_exec=j[C.execution_id], v_key=j[C.step_key],
                 v_attempts=j[C.attempts])
    r = v.inner_join(a, (v.v_cloud == a.a_cloud) & (v.v_exec == a.a_exec) & (v.v_key == a.a_key)
                     & (a.a_attempt < v.v_attempts))
    flags = r.group_by(["sid", "v_cloud", "v_exec", "v_key"]).aggregate(
        own=(r.a_error == r.m_error).max(), other=(r.a_error != r.m_error).max())
    others = flags.filter(flags.other & ~flags.own)
    j = j.anti_join(others, [j.sid == others.sid, j[C.cloud] == others.v_cloud,
                             j[C.execution_id] == others.v_exec, j[C.step_key] == others.v_key])
    j = j.mutate(_retried=j[C.attempts] > 1)
    j = sample_rank(j, ["sid", "_retried"], order_by=C.attempts, name="_rank")
    agg = execute(j.group_by(["sid", step_rank.rank(j)]).aggregate(
        visits=j.count(), attempts=j[C.attempts].sum(), executions=j[C.execution_id].nunique(),
        samples=sample_rows(j, "_rank", where=j["_retried"])))
    samples = picked_by(agg, ["sid"], "samples")
    agg = step_rank.lowest_rank(agg.drop(columns="samples"), ["sid"])
    agg["samples"] = [samples.get((sid,), []) for sid in agg["sid"]]
    return agg


def test_storm_details_read_the_storms_visits_once_and_count_as_two_reads_did(monkeypatch):
    """A storm's visits, attempts, runs and samples from one read of its steps (a projection of the join that
    the error flags and the counts share), equal to the two-read form; visits retried for another error
    only are still left out, and a second storm on the same step keeps its own."""
    w = World()
    wf = w.workflow("ingest")
    for i in range(40):
        t = at(hours=10, seconds=30 * i)
        ex = w.execution(wf, t)
        tries = 1 + i % 4
        error = "Timeout" if i % 5 == 0 else "ThrottlingException"
        st = w.step(ex, "CallApi", t, attempts=tries, meter=Meter.AWS_SFN_STATE_TRANSITION)
        for n in range(1, tries + 1):
            w.attempt(st, n, t + dt.timedelta(seconds=n), status=Status.FAILED if n < tries else Status.SUCCEEDED,
                      error=error if n < tries else None)
    ctx = build_context(w.tables(), since=T0, until=T0 + DAY, now=T0 + DAY)
    st = pd.DataFrame({"sid": [0, 1], "cloud": ["aws", "aws"], "workflow_id": [wf, wf], "step": ["CallApi"] * 2,
                       "start": [at(hours=10)] * 2, "end": [at(hours=11)] * 2,
                       "error": ["ThrottlingException", "Timeout"]})
    reads = []
    real = retries.execute
    monkeypatch.setattr(retries, "execute", lambda expr, **kw: reads.append(expr) or real(expr, **kw))
    got = retries._storm_details(ctx, st).sort_values("sid").reset_index(drop=True)
    want = _storm_details_in_two_reads(ctx, st).sort_values("sid").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want)
    # 40 visits, 10 never retried; 6 retried for Timeout only, 24 for ThrottlingException only
    assert got["visits"].tolist() == [34, 16] and got["samples"].map(len).tolist() == [5, 5]
    steps = ctx.table("steps").op().name
    import ibis
    assert [str(ibis.to_sql(e, dialect="duckdb")).count(f'"{steps}"') for e in reads] == [1], "one read of the steps"
