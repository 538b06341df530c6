"""The workflow names every page query adds come from one scan per snapshot connection, not one per query."""

from __future__ import annotations

import threading

from flowscope.analysis import tables as q
from flowscope.store import Store


def test_names_are_computed_once_per_connection_and_shared_by_its_cursors(three_cloud_store):
    con = Store.open(three_cloud_store).connect()
    first = q.workflow_options(q.prepare(con.cursor()))
    assert len(first) > 0
    # Every later cursor of this connection reads the table made once: drop the executions view to prove it.
    con.execute("DROP VIEW executions")
    again = q.workflow_options(q.prepare(con.cursor()))
    assert again.equals(first)


def test_cursors_racing_to_make_the_table_all_get_the_names(three_cloud_store):
    con = Store.open(three_cloud_store).connect()
    results: list = []

    def read() -> None:
        results.append(q.workflow_options(q.prepare(con.cursor())))

    threads = [threading.Thread(target=read) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 6 and all(r.equals(results[0]) for r in results)


def test_the_summary_the_workflows_and_the_live_days_come_from_one_read_of_the_executions(three_cloud_store):
    """`run_days` holds what the three read of every execution; each read them again on its own (0.96 s of a
    server's first page on a year of daily files, against one read of 0.29 s). Each equals its own read of the
    executions, and once the table is made none of them reads the executions again."""
    con = Store.open(three_cloud_store).connect()
    direct = q.prepare(con.cursor())
    n, first, last, clouds, running = direct.execute(q.q(
        "SELECT count(*), min({started_at}), max({started_at}), list(DISTINCT {cloud} ORDER BY {cloud}), "
        "count(*) FILTER (WHERE {status} = 'RUNNING') FROM executions")).fetchone()
    options = direct.execute(q.q(
        "SELECT {cloud}, {workflow_id}, count(*) AS executions, min({started_at}) AS first FROM executions "
        "GROUP BY ALL ORDER BY ALL")).df()
    live = direct.execute(q.q(
        "SELECT {cloud}, {start_date}, max(coalesce({ended_at}, 'infinity'::TIMESTAMPTZ)) AS last_end "
        "FROM executions GROUP BY ALL ORDER BY ALL")).fetchall()
    assert n > 0 and running > 0, "the store should hold a run still going"
    q.run_days(q.prepare(con.cursor()))
    con.execute("DROP VIEW executions")      # every read below comes from the table made once
    cursor = q.prepare(con.cursor())
    summary = q.store_summary(cursor)
    assert (summary["executions"], summary["first"], summary["last"], summary["clouds"], summary["running"]) == \
        (n, first, last, clouds, running)
    seen = q.workflow_options(cursor)
    ran = seen[seen["executions"] > 0][["cloud", "workflow_id", "executions", "first"]]
    assert ran.sort_values(["cloud", "workflow_id"]).reset_index(drop=True).astype({"executions": "int64"}) \
        .equals(options.astype({"executions": "int64"}))
    q.first_live_date(cursor, first, last.date())       # makes the live days' table
    assert cursor.execute(f"SELECT * FROM {q.LIVE_DAYS} ORDER BY ALL").fetchall() == live
