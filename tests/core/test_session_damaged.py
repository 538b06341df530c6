"""A store file whose data pages are damaged after `flowscope.open` (the open reads footers only, which stay
whole): each table reader, `s.sql()` and `flowscope.analyze(s)` raise the StoreDamagedError naming the file, as
`flowscope analyze` and the dashboard say it, not DuckDB's "Invalid Input Error" or "don't know what type",
which named no file and said nothing of a restore. Errors that are not the store's stay as they were."""

from __future__ import annotations

import datetime as dt
import traceback
from pathlib import Path

import duckdb
import pytest

import flowscope
from flowscope.model import TABLES, Batch, C, Meter, Status
from flowscope.session import Session
from flowscope.store import Store, StoreDamagedError
from tests.analysis.helpers import T0, World
from tests.store.helpers import scramble_data_pages

READERS = ["workflows", "executions", "steps", "attempts", "usage", "metrics", "collection_runs"]


def _store(path: Path) -> None:
    """Rows in every table a reader reads, enough of them that each table's biggest file has data pages."""
    w = World()
    for n in range(6):
        wf = w.workflow(f"orders-{n}")
        for i in range(20):
            at = T0 + dt.timedelta(hours=i)
            ex = w.execution(wf, at, status=Status.FAILED if i % 4 == 0 else Status.SUCCEEDED)
            step = w.step(ex, "Charge", at, attempts=2, meter=Meter.AWS_SFN_STATE_TRANSITION, error="States.Timeout")
            w.attempt(step, 1, at)
            w.attempt(step, 2, at + dt.timedelta(seconds=1))
        w.collection_run(f"scope-{n}", T0 + dt.timedelta(days=1), "succeeded")
    metrics = [{C.cloud: "aws", C.resource_id: f"orders-{n}", C.metric: "ExecutionsStarted", C.statistic: "Sum",
                C.timestamp: T0 + dt.timedelta(hours=h), C.value: float(h), C.start_date: T0.date()}
               for n in range(6) for h in range(20)]
    Store(path).write(Batch(**{**w.rows, "metrics": metrics}))


def _opened_then_damaged(tmp_path: Path, table: str) -> tuple[Session, Path]:
    path = tmp_path / "store"
    _store(path)
    session = flowscope.open(path)
    [file, *_] = sorted(Path(f) for f in session.store.snapshot_files()[table].files)
    scramble_data_pages(file)
    return session, file


def _said(caught: pytest.ExceptionInfo[BaseException], file: Path, table: str) -> str:
    """The error's text and its printed traceback: the file named once, DuckDB's raw error not printed again."""
    said = str(caught.value)
    assert "is damaged" in said and file.name in said and f"a Parquet file of {table}" in said, said
    assert "restore it from a backup" in said, said
    printed = "".join(traceback.format_exception(caught.value))
    assert printed.count(file.name) == 1, printed
    # not chained: the engine's traceback printed above it said its text a second time
    assert caught.value.__cause__ is None and caught.value.__suppress_context__, printed
    assert "_duckdb." not in printed and "The above exception" not in printed, printed
    return said


@pytest.mark.parametrize("table", READERS)
def test_each_reader_names_the_damaged_file(tmp_path: Path, table: str) -> None:
    session, file = _opened_then_damaged(tmp_path, table)
    with pytest.raises(StoreDamagedError) as caught:
        getattr(session, table)(since=None)
    _said(caught, file, table)


def test_sql_names_the_damaged_file(tmp_path: Path) -> None:
    session, file = _opened_then_damaged(tmp_path, "steps")
    with pytest.raises(StoreDamagedError) as caught:
        session.sql(f"SELECT count(DISTINCT {C.step_key}), max({C.error}) FROM steps")
    _said(caught, file, "steps")


@pytest.mark.parametrize("table", ["executions", "steps"])
def test_analyze_of_a_session_names_the_damaged_file(tmp_path: Path, table: str) -> None:
    """The window's end (read before the analysis) and the analysis itself: the same error."""
    session, file = _opened_then_damaged(tmp_path, table)
    with pytest.raises(StoreDamagedError) as caught:
        flowscope.analyze(session, since=None, thresholds={})
    _said(caught, file, table)



def test_analyze_asks_the_store_once_for_an_error_that_is_not_its_own(tmp_path: Path, monkeypatch) -> None:
    """An engine error about files that is not a damaged file of the store (every file reads): the analysis asks the
    store once (`analyze_report`), and `flowscope.analyze` raises it as it is. It asked a second time, another read
    of every file of the store, before the error was said."""
    from flowscope.analysis import run

    _store(tmp_path / "s")
    session = flowscope.open(tmp_path / "s")
    asked: list[BaseException] = []
    real = Store.damaged_error
    monkeypatch.setattr(Store, "damaged_error", lambda self, exc: asked.append(exc) or real(self, exc))

    def failing(*_args: object, **_kwargs: object) -> None:
        raise duckdb.IOException("IO Error: a read that failed for another reason")

    monkeypatch.setattr(run, "analyze_context", failing)
    with pytest.raises(duckdb.IOException, match="another reason"):
        flowscope.analyze(session, since=None, thresholds={})
    assert len(asked) == 1

def test_errors_not_of_the_store_stay_as_they_are(tmp_path: Path) -> None:
    """A bad query and a refused filter over the damaged store are the same errors as over a whole one."""
    session, _file = _opened_then_damaged(tmp_path, "steps")
    whole = tmp_path / "whole"
    _store(whole)
    for s in (session, flowscope.open(whole)):
        with pytest.raises(duckdb.ParserException) as bad_sql:
            s.sql("SELEC 1")
        assert not isinstance(bad_sql.value, StoreDamagedError)
        with pytest.raises(ValueError, match="usage has no status column to filter by status") as refused:
            s.usage(status="FAILED")
        assert type(refused.value) is ValueError


def test_every_reader_is_checked() -> None:
    assert set(READERS) == {name for name in TABLES if callable(getattr(Session, name, None))}


@pytest.mark.parametrize("query", ["SELECT * FROM read_parquet('{missing}/x.parquet')",
                                   "COPY (SELECT * FROM executions) TO '{missing}/x.csv'"])
def test_a_file_of_the_notebooks_own_is_not_read_as_the_stores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               query: str) -> None:
    """A query of a file that is not the store's (a typo'd path, a folder not made) fails with DuckDB's error naming
    that file, at once: asking the store read every file of it first (6.3-7.1 s on a 20M-step store)."""
    path = tmp_path / "store"
    _store(path)
    session = flowscope.open(path)

    def read_every_page(self: Store) -> None:
        raise AssertionError("the store's every file read for an error about a file of the notebook's own")

    monkeypatch.setattr(Store, "unreadable_file", read_every_page)
    with pytest.raises(duckdb.IOException, match="nothing-here"):
        session.sql(query.format(missing=tmp_path / "nothing-here"))


def test_an_error_naming_a_file_of_the_store_still_asks_the_store(tmp_path: Path) -> None:
    """Only a file named that is none of the snapshot's skips the full read: one of its files named (a file cut
    short after its footer was read: "No magic bytes found at end of file '...'") is still found and said."""
    session, file = _opened_then_damaged(tmp_path, "steps")
    said = session.store.damaged_error(duckdb.InvalidInputException(
        f"Invalid Input Error: No magic bytes found at end of file '{file}'"))
    assert isinstance(said, StoreDamagedError) and file.name in str(said), said
    assert session.store.damaged_error(duckdb.IOException(f'IO Error: Cannot open file "{tmp_path}/mine.csv"')) is None
