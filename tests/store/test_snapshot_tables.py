"""`Store.pinned` types each view's Ibis table from the model instead of asking DuckDB (a DESCRIBE a
table at every store open): the schema must be the one DuckDB describes, for a table written today, one whose
files predate a column of the model, and one never written."""

from __future__ import annotations

import dataclasses

from flowscope import model
from flowscope.model import TABLES, Batch, C
from flowscope.store import Store
from tests.analysis.helpers import T0, World


def test_the_model_typed_tables_are_the_views_duckdb_describes(tmp_path, monkeypatch):
    w = World()
    ex = w.execution(w.workflow("orders"), T0)
    w.step(ex, "Charge", T0)
    spec = TABLES["steps"]
    monkeypatch.setitem(model.TABLES, "steps", dataclasses.replace(       # steps written before `native_type`
        spec, schema=model.pa.schema([f for f in spec.schema if f.name != C.native_type])))
    Store(tmp_path / "s").write(Batch(steps=[{k: v for k, v in r.items() if k != C.native_type}
                                             for r in w.rows["steps"]]))
    monkeypatch.setitem(model.TABLES, "steps", spec)
    Store(tmp_path / "s").write(Batch(workflows=w.rows["workflows"], executions=w.rows["executions"]))
    store = Store(tmp_path / "s")
    tables = store.pinned(TABLES).tables
    described = store.ibis()
    for name, table in tables.items():
        assert table.schema() == described.table(name).schema(), name
        assert table.count().execute() == described.table(name).count().execute()
    assert tables["metrics"].count().execute() == 0                       # never written: an empty view
