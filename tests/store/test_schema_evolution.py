"""A store written before the model gained a column still reads, and takes the new column."""

from __future__ import annotations

import dataclasses

import pyarrow as pa

from flowscope import model
from flowscope.model import Batch, C
from flowscope.store import Store
from tests.store.helpers import execution, steps


def test_a_column_added_to_the_model_reads_as_null_then_fills(tmp_path, monkeypatch):
    spec = model.TABLES["steps"]
    older = pa.schema([f for f in spec.schema if f.name != C.resource])
    monkeypatch.setitem(model.TABLES, "steps", dataclasses.replace(spec, schema=older))
    store = Store(tmp_path / "s")
    store.write(Batch(executions=[execution(1)], steps=steps(1, 3)))
    monkeypatch.setitem(model.TABLES, "steps", spec)       # the newer model

    reopened = Store(tmp_path / "s")
    before = reopened.sql("SELECT step_key, resource FROM steps ORDER BY step_key")
    assert list(before["step_key"]) == ["0", "1", "2"] and before["resource"].isna().all()

    newer_rows = [dict(row, **{C.resource: "arn:aws:lambda:fn"}) for row in steps(2, 2)]
    reopened.write(Batch(executions=[execution(2)], steps=newer_rows))
    after = Store(tmp_path / "s").sql("SELECT execution_id, resource FROM steps ORDER BY execution_id, step_key")
    assert len(after) == 5
    assert after["resource"].isna().sum() == 3 and (after["resource"] == "arn:aws:lambda:fn").sum() == 2
