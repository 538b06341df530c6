"""A window's reads open only the files that can hold its rows (`Context.in_window` over the store's
`Store.pinned` windows, `store.spans`): the same findings as reading every file, for windows that leave
files out at either end, under a cloud filter and under a workflow filter (whose checks also read the
workflows it leaves out), and the narrowed views are what the queries read."""

from __future__ import annotations

import datetime as dt

import ibis.expr.operations as ops
import pytest

from flowscope.analysis import base
from flowscope.analysis.run import analyze_store
from flowscope.analysis.suite import analyze, build_context, findings_to_records
from flowscope.model import TABLES, C
from tests.analysis.helpers import DEMO_END

END = DEMO_END


@pytest.fixture
def read_views(monkeypatch) -> list[str]:
    """The names of the tables the analyses' queries read, as compiled."""
    names: list[str] = []
    real = base.execute

    def recording(expr, **kwargs):
        names.extend(node.name for node in expr.op().find(ops.DatabaseTable))
        return real(expr, **kwargs)

    for module in ("base", "collection", "cost_reads", "step_stats", "cost_evidence", "costly_steps", "polling_loops",
                   "express_candidates", "plan_what_ifs", "failures", "latency", "retries", "stuck", "suite"):
        mod = __import__(f"flowscope.analysis.{module}", fromlist=["execute"])
        if getattr(mod, "execute", None) is real:
            monkeypatch.setattr(mod, "execute", recording)
    return names


@pytest.mark.parametrize("days, filters", [
    (3, {}), (5, {"clouds": ["aws"]}), (4, {"workflows": ["ledger-standard", "orders-standard"]}), (14, {}),
])
def test_a_window_read_from_its_files_finds_what_every_file_gives(demo_store, read_views, days, filters):
    window = {"since": END - dt.timedelta(days=days), "until": END, "now": END, **filters}
    narrowed = findings_to_records(analyze_store(demo_store, **window))
    views, read_first = set(read_views), len(read_views)
    tables, facts = demo_store.tables_and_facts(TABLES)
    every_file = findings_to_records(analyze(tables, column_facts=facts, **window))
    assert narrowed == every_file
    assert narrowed, "the demo must give the window something to find"
    left_out = {name.split("__")[0] for name in views if "__files" in name}
    if days < 7:      # the window and its previous window leave out the data's first days
        assert {"steps", "executions", "usage", "attempts"} <= left_out
    assert not any("__files" in name for name in read_views[read_first:])     # without the store's windows


def test_the_tables_before_a_workflow_filter_are_read_from_the_window_files_with_the_cloud_filter_alone(demo_store):
    held = demo_store.pinned(TABLES)
    tables, window_tables = held.tables, held.window
    since = END - dt.timedelta(days=2)
    args = {"since": since, "until": END, "now": END, "clouds": ["aws", "azure"], "workflows": ["ledger-standard"]}
    narrowed = build_context(tables, **args, window_tables=window_tables)
    plain = build_context(tables, **args)
    for name in ("usage", "steps", "executions"):
        whole = narrowed.in_window(narrowed.unfiltered[name])
        assert "__files" in {node.name for node in whole.op().find(ops.DatabaseTable)}.pop()
        counts = [base.execute(t.group_by(C.cloud).aggregate(n=t.count(), wfs=t[C.workflow_id].nunique()))
                  .sort_values(C.cloud).reset_index(drop=True)
                  for t in (whole, plain.in_window(plain.unfiltered[name]))]
        assert counts[0].equals(counts[1]) and set(counts[0][C.cloud]) == {"aws", "azure"}
        assert counts[0]["wfs"].sum() > 1                        # not narrowed to the workflow asked for
        one = narrowed.in_window(narrowed.table(name))
        assert set(base.execute(one.select(C.workflow_id).distinct())[C.workflow_id]) == {
            w for w in narrowed.workflows[C.workflow_id]}


def test_a_report_reads_its_window_from_the_files_of_its_snapshot(demo_store, read_views):
    """`flowscope report` reads its findings and measures from one pinned snapshot (`Store.pinned`): the findings
    take the store's windows and column facts as `flowscope analyze` does, and are the same."""
    from flowscope.report.content import build_content

    window = {"since": END - dt.timedelta(days=3), "until": END, "now": END}
    content = build_content(demo_store, **window)
    assert any("__files" in name for name in read_views)
    assert findings_to_records(content.analysis.findings) == findings_to_records(analyze_store(demo_store, **window))
