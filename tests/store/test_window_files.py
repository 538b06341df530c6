"""A window's read opens only the files that can hold its rows (`store.spans`), by the `started_at` span the
Delta log's statistics give each file: never fewer rows than the whole table's read of the window, to the
microsecond at either edge, and every file whose span the log does not give."""

from __future__ import annotations

import datetime as dt

import pytest

from flowscope.model import TABLES, Batch, C
from flowscope.store import Store, reader, spans
from tests.analysis.helpers import T0, World

MS = dt.timedelta(milliseconds=1)
US = dt.timedelta(microseconds=1)
DAY = dt.timedelta(days=1)


def span(start_day: float, end_day: float) -> reader.Span:
    return T0 + start_day * DAY, T0 + end_day * DAY


@pytest.mark.parametrize("spans_, start, end, kept", [
    # three files of a day each; windows inside, across and outside them
    ((span(0.1, 0.9), span(1.1, 1.9), span(2.1, 2.9)), T0 + 1 * DAY, T0 + 2 * DAY, [1]),
    ((span(0.1, 0.9), span(1.1, 1.9), span(2.1, 2.9)), T0 + 0.5 * DAY, T0 + 1.5 * DAY, [0, 1]),
    ((span(0.1, 0.9), span(1.1, 1.9), span(2.1, 2.9)), T0 + 5 * DAY, T0 + 6 * DAY, []),
    ((span(0.1, 0.9), span(1.1, 1.9), span(2.1, 2.9)), T0 - DAY, T0 + 3 * DAY, None),         # every file: the table
    # a span the log does not give is kept
    ((span(0.1, 0.9), None, span(2.1, 2.9)), T0 + 2 * DAY, T0 + 3 * DAY, [1, 2]),
    # the millisecond of the statistics: a greatest start said 1 ms before the window may be 0.999 ms later
    ((span(0, 0.5), (T0 + 1 * DAY, T0 + 2 * DAY - MS)), T0 + 2 * DAY - US, T0 + 3 * DAY, [1]),
    ((span(0, 0.5), (T0 + 1 * DAY, T0 + 2 * DAY - 2 * MS)), T0 + 2 * DAY - US, T0 + 3 * DAY, []),
    ((span(0, 0.5), (T0 + 2 * DAY + MS, T0 + 3 * DAY)), T0, T0 + 2 * DAY + US, None),
    ((span(0, 0.5), (T0 + 2 * DAY + 2 * MS, T0 + 3 * DAY)), T0, T0 + 2 * DAY + US, [0]),
])
def test_the_files_a_window_can_be_in(spans_, start, end, kept):
    assert spans.overlapping(spans_, len(spans_), start, end) == kept


def test_spans_not_known_for_every_file_read_every_file():
    assert spans.overlapping((span(0, 1),), 2, T0 + 5 * DAY, T0 + 6 * DAY) is None
    assert spans.overlapping((), 3, T0 + 5 * DAY, T0 + 6 * DAY) is None


def _store(tmp_path, starts: list[dt.datetime], workflow: str = "orders") -> Store:
    w = World()
    wf = w.workflow(workflow)
    for start in starts:
        ex = w.execution(wf, start)
        w.step(ex, "Charge", start)
    Store(tmp_path / "s").write(Batch(**w.rows))
    return Store(tmp_path / "s")


def _count(table, start: dt.datetime, end: dt.datetime) -> int:
    return int(table.filter((table[C.started_at] >= start) & (table[C.started_at] < end)).count().execute())


def test_a_window_reads_the_files_of_its_days_and_the_same_rows(tmp_path):
    store = _store(tmp_path, [T0 + d * DAY + dt.timedelta(hours=h) for d in range(6) for h in (1, 13)])
    held = store.pinned(["executions", "steps"])
    tables, window = held.tables, held.window
    files = store.snapshot_files()
    assert len(files["steps"].files) == 6 and all(s is not None for s in files["steps"].spans)
    start, end = T0 + 2 * DAY, T0 + 4 * DAY
    for name in ("executions", "steps"):
        read = window(name, start, end)
        view = read.op().name
        assert view != name
        (listed,) = store.sql(f"SELECT sql FROM duckdb_views() WHERE view_name = '{view}'").iloc[:, 0]
        assert listed.count(".parquet") == 2                 # the files of days 2 and 3 of 6
        assert _count(read, start, end) == _count(tables[name], start, end) == 4
    assert window("steps", T0 - DAY, T0 + 7 * DAY) is tables["steps"]      # every file: the table itself
    assert _count(window("steps", T0 + 10 * DAY, T0 + 11 * DAY), T0, T0 + 20 * DAY) == 0    # no file: no row


def test_a_start_a_microsecond_inside_the_window_is_read(tmp_path):
    """Rows whose starts have microseconds the statistics cut off, each alone in its day's file, one just
    after a window's start and one just before its end: both are read."""
    late = T0 + DAY - dt.timedelta(microseconds=300)       # its file's greatest start, said to the millisecond
    early = T0 + 3 * DAY + dt.timedelta(microseconds=300)
    store = _store(tmp_path, [T0 + dt.timedelta(hours=1), late, T0 + 2 * DAY, early])
    held = store.pinned(["steps"])
    tables, window = held.tables, held.window
    for start, end in ((late - US, T0 + 2 * DAY), (T0 + 2 * DAY + DAY / 2, early + US)):
        assert _count(window("steps", start, end), start, end) == _count(tables["steps"], start, end) == 1


def test_a_write_after_the_tables_were_taken_leaves_their_window_on_their_snapshot(tmp_path):
    store = _store(tmp_path, [T0 + d * DAY for d in range(3)])
    window = store.pinned(TABLES).window
    later = _store(tmp_path, [T0 + d * DAY + dt.timedelta(hours=5) for d in range(3)], workflow="billing")
    read = window("executions", T0 + DAY, T0 + 2 * DAY)
    assert _count(read, T0 + DAY, T0 + 2 * DAY) == 1           # the snapshot the tables were taken from
    assert _count(later.pinned(TABLES).window("executions", T0 + DAY, T0 + 2 * DAY), T0 + DAY, T0 + 2 * DAY) == 2


def test_a_file_whose_span_the_log_does_not_give_plainly_has_none():
    """Matched by file name; a name listed twice, a missing statistic or a timestamp without a zone (which a
    window's bounds cannot be compared with) gives no span, so the file is always read."""
    import pyarrow as pa

    aware, naive = T0, T0.replace(tzinfo=None)
    actions = pa.table({
        "path": ["_p_cloud=aws/_p_start_date=2026-03-01/part-a.parquet", "part-b.parquet", "x/part-c.parquet",
                 "y/part-c.parquet", "part-d.parquet"],
        "min.started_at": pa.array([aware, None, aware, aware, aware], pa.timestamp("us", tz="UTC")),
        "max.started_at": pa.array([aware + DAY, aware, aware, aware, aware], pa.timestamp("us", tz="UTC")),
    })
    files = ["/s/steps/_p_cloud=aws/_p_start_date=2026-03-01/part-a.parquet", "/s/steps/part-b.parquet",
             "/s/steps/x/part-c.parquet", "/s/steps/part-d.parquet", "/s/steps/part-e.parquet"]
    assert reader.file_spans(actions, files) == ((aware, aware + DAY), None, None, (aware, aware), None)
    without_zone = actions.set_column(1, "min.started_at", pa.array([naive] * 5, pa.timestamp("us")))
    assert reader.file_spans(without_zone, files)[0] is None
    assert reader.file_spans(actions.drop_columns(["max.started_at"]), files) == ()
