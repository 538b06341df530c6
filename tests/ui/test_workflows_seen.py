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
