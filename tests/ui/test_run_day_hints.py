"""The run pages pass a run's start date to its reads when they know it (a search's row, `find_execution`'s own
read, the run's row): its row, steps and child runs are read from its day's files, not from every file of its
cloud (`tables.execution_detail`, `tables.find_execution`, `runs.child_runs`; docs/dashboard.md, Session 51)."""

from __future__ import annotations

import datetime as dt

import pytest

from flowscope.model import C, Cloud
from flowscope.store import Store
from flowscope.ui import data
from tests.ui.helpers import build
from tests.ui.test_pages import app, no_exception, open_page
from tests.ui.test_triage import MAP_PARENT, map_run

RUN_READS = ("find_execution", "execution_detail", "child_runs")


@pytest.fixture(scope="module")
def map_store(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("hints")
    batch = build(60, days=3, clouds=(Cloud.AWS,), failed_scope=False)
    map_run(batch)
    Store(path).write(batch)
    return str(path)


@pytest.fixture
def calls(monkeypatch) -> list[tuple[str, tuple]]:
    """The run reads the pages ask `data` for, with their arguments."""
    seen: list[tuple[str, tuple]] = []
    real = data.call_in

    def record(module, name, *args, **kwargs):
        if name in RUN_READS:
            seen.append((name, args))
        return real(module, name, *args, **kwargs)

    monkeypatch.setattr(data, "call_in", record)
    return seen


def _start_dates(store: str) -> dict[str, dt.date]:
    con = Store.open(store).connect()
    return dict(con.execute(f"SELECT {C.execution_id}, {C.start_date} FROM executions").fetchall())


def test_a_linked_run_and_its_children_are_read_by_its_day(map_store, calls, monkeypatch):
    at = open_page(app(map_store, monkeypatch, exec=MAP_PARENT, window="7d"), "executions")
    no_exception(at)
    day = _start_dates(map_store)[MAP_PARENT]
    assert ("find_execution", (MAP_PARENT, day)) in calls, calls     # listed by the search: its row's day
    assert ("execution_detail", ("aws", MAP_PARENT, day)) in calls, calls
    assert ("child_runs", ("aws", MAP_PARENT, day)) in calls, calls
    assert not [c for c in calls if c[0] != "find_execution" and c[1][-1] is None], calls


@pytest.mark.parametrize("params", [{}, {"a": "first"}, {"a": "first", "b": "second"}])
def test_compare_reads_each_run_by_its_day(map_store, calls, monkeypatch, params):
    """Opened bare, its runs come from a search, so even their rows are read by their day; named by the address,
    each is found by its id, then read by the day that read gave."""
    dates = _start_dates(map_store)
    ids = sorted(e for e in dates if ":exec-" in e)[-2:]
    named = {k: ids[0] if v == "first" else ids[1] for k, v in params.items()}
    at = open_page(app(map_store, monkeypatch, window="7d", **named), "compare")
    no_exception(at)
    details = [args for name, args in calls if name == "execution_detail"]
    assert len({args[1] for args in details}) == 2, calls
    assert all(args[2] == dates[args[1]] for args in details), calls
    found = [args for name, args in calls if name == "find_execution"]
    assert all(args[1] == (None if args[0] in named.values() else dates[args[0]]) for args in found), calls


def test_the_run_pages_compare_link_gives_the_runs_day(map_store, calls, monkeypatch):
    """"Compare this run with another" names run A's start day, and Compare reads A's row by it (the address
    named A, so Compare had no day for it and read every file of the store for its row)."""
    day = _start_dates(map_store)[MAP_PARENT]
    at = open_page(app(map_store, monkeypatch, exec=MAP_PARENT, window="7d"), "executions")
    no_exception(at)
    link = next(m.value for m in at.markdown if "Compare this run with another" in m.value)
    assert f"a_day={day.isoformat()}" in link, link
    calls.clear()
    at = open_page(app(map_store, monkeypatch, window="7d", a=MAP_PARENT, a_day=day.isoformat()), "compare")
    no_exception(at)
    assert ("find_execution", (MAP_PARENT, day)) in calls, calls


@pytest.mark.parametrize("hint", ["yesterday", "2026-13-40", "1999-01-01"])
def test_a_mangled_or_wrong_day_in_the_address_opens_the_same_run(map_store, calls, monkeypatch, hint):
    at = open_page(app(map_store, monkeypatch, window="7d", a=MAP_PARENT, a_day=hint), "compare")
    no_exception(at)
    assert not at.warning or all("No run A" not in w.value for w in at.warning), [w.value for w in at.warning]
    day = _start_dates(map_store)[MAP_PARENT]
    assert ("execution_detail", ("aws", MAP_PARENT, day)) in calls, calls
