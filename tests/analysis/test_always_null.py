"""A column the store's Delta log says is null in every row (`ColumnFacts.always_null`) is not read for a value:
the history limit's event counts, the map runs' attributes and the steps' resources Express looks for. The 1M
dashboard store is an export without them; the same findings as the general path's reads."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from flowscope.analysis import cost, stuck
from flowscope.analysis.base import execute
from flowscope.analysis.suite import build_context
from flowscope.model import TABLES, Batch, C
from flowscope.store import Store
from tests.analysis.helpers import T0, World, at

END = T0 + dt.timedelta(days=2)
MAP_RUN = {"map_run_arn": "arn:aws:states:us-east-1:1:mapRun:fanout/Fan:1", "state_name": "Fan",
           "tolerated_failure_percentage": 10, "tolerated_failure_count": 0,
           "item_counts": {"total": 100, "succeeded": 88, "failed": 12, "timedOut": 0, "aborted": 0}}


def _world(*, filled: bool) -> World:
    """Runs of a Standard machine and their steps; `filled`: one run with an event count near the limit, map
    run attributes, and a step with a callback resource."""
    w = World()
    wf = w.workflow("fanout")
    for i in range(30):
        ex = w.execution(wf, at(minutes=10 * i))
        w.step(ex, "Fan", at(minutes=10 * i))
    if filled:
        ex = w.execution(wf, at(hours=7), event_count=24_000)
        ex[C.attributes] = json.dumps({"map_runs": [MAP_RUN]})
        w.step(ex, "Approve", at(hours=7), resource="arn:aws:states:::sqs:sendMessage.waitForTaskToken")
    return w


def _ctx(store: Store, *, known: bool):
    tables, facts = store.tables_and_facts(TABLES)
    return build_context(tables, since=T0, until=END, now=END, column_facts=facts if known else None)


def _store(tmp_path, *, filled: bool) -> Store:
    Store(tmp_path / "s").write(Batch(**_world(filled=False).rows))
    if filled:                                    # a second file holds the values: the first's nulls are not all
        w = _world(filled=True)
        Store(tmp_path / "s").write(Batch(executions=w.rows["executions"][-1:], steps=w.rows["steps"][-1:]))
    return Store(tmp_path / "s")


def test_a_column_is_always_null_only_when_every_file_counts_only_nulls(tmp_path):
    empty, filled = _store(tmp_path / "a", filled=False), _store(tmp_path / "b", filled=True)
    for col in (C.event_count, C.attributes):
        assert col in empty.snapshot_files()["executions"].facts.always_null
        assert col not in filled.snapshot_files()["executions"].facts.always_null
    assert C.resource in empty.snapshot_files()["steps"].facts.always_null
    assert C.resource not in filled.snapshot_files()["steps"].facts.always_null
    facts = empty.snapshot_files()["executions"].facts
    assert C.workflow_id in facts.never_null and C.workflow_id not in facts.always_null


CHECKS = [(stuck, "history_limit_risks", lambda ctx: stuck.history_limit_risks(ctx)),
          (stuck, "distributed_map_budgets", lambda ctx: stuck.distributed_map_budgets(ctx)),
          (cost, "_express_blocked", lambda ctx: cost._express_blocked(ctx, list(ctx.workflows[C.workflow_id])))]


@pytest.mark.parametrize("filled", [False, True])
@pytest.mark.parametrize(("module", "name", "check"), CHECKS)
def test_the_shortcut_finds_what_the_reads_find(tmp_path, monkeypatch, module, name, check, filled):
    store = _store(tmp_path, filled=filled)
    general = check(_ctx(store, known=False))
    reads = []
    monkeypatch.setattr(f"{getattr(module, name).__module__}.execute",      # where the check looks it up
                        lambda expr, **kw: reads.append(expr) or execute(expr, **kw))
    got = check(_ctx(store, known=True))
    assert got == general and bool(got) is filled, name
    # the express check reads the definitions either way; the steps' resources only when some are stored
    assert len(reads) == (int(filled) if module is stuck else 1 + int(filled)), name
