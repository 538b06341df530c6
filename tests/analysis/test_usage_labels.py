"""step_meter_costs labels each usage row's step; a store whose files hold no usage row without a name or a
step_key (the Delta log's statistics say so: `Store.tables_and_facts`) is summed without reading step_key, to
the same frame. Usage without names (files of an older flowscope, or a row with a null name) and usage of a
whole execution take the general path."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import ibis
import pandas as pd
import pytest

from flowscope import model
from flowscope.analysis import cost
from flowscope.analysis.suite import build_context
from flowscope.model import TABLES, Batch, C, Meter
from flowscope.store import Store, reader
from tests.analysis.helpers import T0, World, at

DAY = dt.timedelta(days=1)
KEYS = [C.cloud, C.workflow_id, "step", C.meter]


def _world(*, whole: bool = False, nameless: bool = False) -> World:
    """Two workflows, steps billed per transition (usage named after the step); `whole`: a per-execution
    meter (no step_key, no name); `nameless`: a stepped usage row whose name is null."""
    w = World()
    for wf_name in ("orders", "billing"):
        wf = w.workflow(wf_name)
        for day in (0.2, 0.6, 1.1):
            ex = w.execution(wf, at(days=day))
            w.step(ex, "Charge", at(days=day), attempts=2, meter=Meter.AWS_SFN_STATE_TRANSITION, quantity=2)
            w.step(ex, "Ship", at(days=day, seconds=5), meter=Meter.AWS_SFN_STATE_TRANSITION)
            if whole:
                w.usage(ex, None, Meter.AWS_SFN_EXPRESS_REQUEST, 1)
            if nameless:
                w.usage(ex, "Legacy#9", Meter.AWS_SFN_STATE_TRANSITION, 3)
    return w


def _context(store: Store, *, known: bool = True):
    tables, facts = store.tables_and_facts(TABLES)
    return build_context(tables, since=T0, until=T0 + 2 * DAY, now=T0 + 2 * DAY,
                         column_facts=facts if known else None)


def _with_sql(compute, monkeypatch) -> tuple[pd.DataFrame, list[str]]:
    """What `compute()` returns, and the SQL of each query it ran (cost's `execute` recorded)."""
    sql: list[str] = []
    real = cost.execute

    def recording(expr, **kwargs):
        sql.append(ibis.to_sql(expr))
        return real(expr, **kwargs)

    for module in ("cost_reads", "step_stats"):      # step_meter_costs' read, _step_window_groups'
        monkeypatch.setattr(f"flowscope.analysis.{module}.execute", recording)
    got = compute()
    for module in ("cost_reads", "step_stats"):
        monkeypatch.setattr(f"flowscope.analysis.{module}.execute", real)
    return got, sql


def _costs(ctx, monkeypatch) -> tuple[pd.DataFrame, str]:
    """step_meter_costs of `ctx`, and the SQL it ran."""
    got, [query] = _with_sql(lambda: cost.step_meter_costs(ctx), monkeypatch)
    return got.sort_values(KEYS).reset_index(drop=True), re.sub(r"ibis_pandas_memtable_\w+", "memtable", query)


def _reference(ctx) -> pd.DataFrame:
    """The labels as the analyses define them, per usage row: no step_key is the execution's usage, else the
    row's name, else its step_key."""
    u = cost.window_usage(ctx)
    step = ibis.ifelse(u[C.step_key].isnull(), cost.EXECUTION_STEP, ibis.coalesce(u[C.name], u[C.step_key]))
    df = cost.execute(u.mutate(step=step).group_by(KEYS).aggregate(quantity=u[C.quantity].sum(), usd=u.usd.sum()))
    return df.sort_values(KEYS).reset_index(drop=True)


def test_a_store_of_named_stepped_usage_is_labelled_without_its_step_keys(tmp_path, monkeypatch):
    Store(tmp_path / "s").write(Batch(**_world().rows))
    store = Store(tmp_path / "s")
    ctx = _context(store)
    assert {C.name, C.step_key} <= ctx.never_null("usage")
    fast, fast_sql = _costs(ctx, monkeypatch)
    general, general_sql = _costs(_context(store, known=False), monkeypatch)
    assert C.step_key not in fast_sql and C.step_key in general_sql
    assert set(fast["step"]) == {"Charge", "Ship"}
    pd.testing.assert_frame_equal(fast, general)
    pd.testing.assert_frame_equal(fast, _reference(ctx)[fast.columns], rtol=1e-12)


@pytest.mark.parametrize("whole, nameless", [(True, False), (False, True), (True, True)])
def test_usage_without_a_name_or_a_step_key_reads_the_step_keys(tmp_path, monkeypatch, whole, nameless):
    Store(tmp_path / "s").write(Batch(**_world(whole=whole, nameless=nameless).rows))
    store = Store(tmp_path / "s")
    ctx = _context(store)
    known = ctx.never_null("usage")
    assert (C.step_key in known) is not whole and C.name not in known
    got, sql = _costs(ctx, monkeypatch)
    general, general_sql = _costs(_context(store, known=False), monkeypatch)
    assert C.step_key in sql and '"key"' in sql and ('"whole"' in sql) is whole     # no row is whole: no test
    assert (sql == general_sql) is whole
    assert (cost.EXECUTION_STEP in set(got["step"])) is whole and ("Legacy#9" in set(got["step"])) is nameless
    pd.testing.assert_frame_equal(got, general)
    pd.testing.assert_frame_equal(got, _reference(ctx)[got.columns], rtol=1e-12)


def test_files_of_an_older_flowscope_without_the_name_column_take_the_general_path(tmp_path, monkeypatch):
    """Usage files written before the model had `name` (no null count for it in their statistics) read as
    null names: their step_key labels them, though every newer row has a name."""
    spec = model.TABLES["usage"]
    older = [dict(row) for row in _world().rows["usage"]]
    for row in older:
        row.pop(C.name)
        row[C.execution_id] += "-old"        # the newer write replaces its executions' usage, not these
    monkeypatch.setitem(model.TABLES, "usage", dataclasses.replace(
        spec, schema=model.pa.schema([f for f in spec.schema if f.name != C.name])))
    Store(tmp_path / "s").write(Batch(usage=older))
    monkeypatch.setitem(model.TABLES, "usage", spec)
    Store(tmp_path / "s").write(Batch(**_world().rows))
    store = Store(tmp_path / "s")
    ctx = _context(store)
    assert C.step_key in ctx.never_null("usage") and C.name not in ctx.never_null("usage")
    got, sql = _costs(ctx, monkeypatch)
    assert C.step_key in sql
    assert {"Charge", "Ship", "Charge#0", "Ship#1"} <= set(got["step"])
    pd.testing.assert_frame_equal(got, _costs(_context(store, known=False), monkeypatch)[0])
    pd.testing.assert_frame_equal(got, _reference(ctx)[got.columns], rtol=1e-12)


def test_a_column_is_never_null_only_when_every_file_counts_no_null(tmp_path):
    Store(tmp_path / "s").write(Batch(**_world().rows))
    Store(tmp_path / "s").write(Batch(usage=[dict(r, **{C.execution_id: r[C.execution_id] + "-2", C.region: None})
                                             for r in _world().rows["usage"]]))
    files = Store(tmp_path / "s").snapshot_files()
    assert len(files["usage"].files) >= 2
    facts = files["usage"].facts
    assert C.region not in facts.never_null and C.meter in facts.never_null
    assert files["steps"].facts.least == {C.attempts: 1, C.duration_ms: 100}      # integer columns never null
    assert files["metrics"].facts == reader.ColumnFacts()          # no files: nothing is known


# ---------------------------------------------------------------- retries in the shared step read


def _steps_world(attempts: int) -> World:
    """Steps retried or not; one visit with `attempts` (0: what a container's visit may say)."""
    w = _world()
    wf = w.rows["workflows"][0][C.workflow_id]
    ex = w.execution(wf, at(days=0.9))
    w.step(ex, "Odd", at(days=0.9), attempts=attempts)
    w.step(ex, "Odd", at(days=0.9, seconds=1), attempts=3)
    return w


def _groups(ctx, monkeypatch) -> tuple[pd.DataFrame, str]:
    got, sql = _with_sql(lambda: cost._step_window_groups(ctx), monkeypatch)
    keys = [C.cloud, C.workflow_id, C.name, "bucket", C.type, C.status]
    return got.sort_values(keys).reset_index(drop=True), sql[0]


@pytest.mark.parametrize("attempts, extra", [(1, True), (2, True), (0, False)])
def test_retries_are_attempts_less_visits_only_where_every_visit_has_an_attempt(tmp_path, monkeypatch,
                                                                                attempts, extra):
    Store(tmp_path / "s").write(Batch(**_steps_world(attempts).rows))
    store = Store(tmp_path / "s")
    ctx = _context(store)
    assert cost._retries_are_extra(ctx) is extra
    got, sql = _groups(ctx, monkeypatch)
    want, general_sql = _groups(_context(store, known=False), monkeypatch)
    assert ("GREATEST" not in sql) is extra and "GREATEST" in general_sql
    assert got["retries"].sum() > 0
    pd.testing.assert_frame_equal(got, want)
