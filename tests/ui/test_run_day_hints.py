"""The run pages pass a run's start date to its reads when they know it (a search's row, `find_execution`'s own
read, the run's row): its row, steps and child runs are read from its day's files, not from every file of its
cloud (`tables.execution_detail`, `tables.find_execution`, `runs.child_runs`; docs/dashboard.md, Session 51)."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from flowscope.analysis import tables as q
from flowscope.analysis import tables_executions
from flowscope.model import C, Cloud
from flowscope.store import Store
from flowscope.textsafety import markdown_text as md
from flowscope.ui import data
from tests.analysis.test_run_reads import ALL, _files_read, _recorded
from tests.ui.helpers import build
from tests.ui.test_pages import app, no_exception, open_page
from tests.ui.test_triage import MAP_PARENT, map_run

RUN_READS = ("find_execution", "find_executions", "execution_detail", "child_runs")


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
    found = [pair for name, args in calls if name == "find_executions" for pair in zip(*args, strict=True)]
    assert all(day == (None if eid in named.values() else dates[eid]) for eid, day in found), calls
    assert len(found) == len({eid for eid, _ in found}), calls       # each run found once
    if len(named) == 2:         # a link's two runs: found in one read
        assert [args for name, args in calls if name == "find_executions"] == [(tuple(ids), (None, None))], calls


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
    assert ("find_executions", ((MAP_PARENT,), (day,))) in calls, calls
    # the link's own parameter: not named as one that "filters nothing"
    assert not [w.value for w in at.warning if "not a parameter" in w.value], [w.value for w in at.warning]


@pytest.mark.parametrize("hint", ["yesterday", "2026-13-40", "1999-01-01"])
def test_a_mangled_or_wrong_day_in_the_address_opens_the_same_run(map_store, calls, monkeypatch, hint):
    at = open_page(app(map_store, monkeypatch, window="7d", a=MAP_PARENT, a_day=hint), "compare")
    no_exception(at)
    assert not at.warning or all("No run A" not in w.value for w in at.warning), [w.value for w in at.warning]
    day = _start_dates(map_store)[MAP_PARENT]
    assert ("execution_detail", ("aws", MAP_PARENT, day)) in calls, calls


def test_a_links_two_runs_are_found_in_one_read_of_every_file(map_store, monkeypatch):
    """`?a=&b=` names two runs with no day: their rows are found together (`tables.find_executions`), one read of
    every file of the store where finding each by itself read every file twice; the page shows both."""
    dates = _start_dates(map_store)
    a, b = sorted(e for e in dates if ":exec-" in e)[-2:]
    data._cached.clear()        # read now, not from an earlier test's cache
    reads = _recorded(monkeypatch, tables_executions)
    at = open_page(app(map_store, monkeypatch, window="7d", a=a, b=b), "compare")
    no_exception(at)
    by_id = [(sql, params) for sql, params in reads if re.search(rf"FROM executions WHERE .*{C.execution_id} (=|IN) ",
                                                                 sql)]
    con = q.prepare(Store.open(map_store).connect().cursor())
    assert [n for _, n in _files_read(con, by_id)] == [ALL, [1], [1]], by_id   # the two rows, then each by its day
    assert [c.value for c in at.caption if c.value in (md(a), md(b))] == [md(a), md(b)]


def _param(at, key: str) -> str | None:
    value = at.query_params.get(key)
    return value[0] if isinstance(value, list) else value


def test_compares_address_names_both_runs_days_so_its_link_reads_no_other_file(map_store, monkeypatch):
    """Compare writes its two runs' start days beside their ids (`a_day`, `b_day`): a link copied from it opens
    each run from its day's files, where its ids alone read every file of the store to find them."""
    dates = _start_dates(map_store)
    a, b = sorted(e for e in dates if ":exec-" in e)[-2:]
    at = open_page(app(map_store, monkeypatch, window="7d", a=a, b=b), "compare")
    no_exception(at)
    assert (_param(at, "a_day"), _param(at, "b_day")) == (dates[a].isoformat(), dates[b].isoformat())
    data._cached.clear()
    reads = _recorded(monkeypatch, tables_executions)
    at = open_page(app(map_store, monkeypatch, window="7d", a=a, b=b, a_day=dates[a].isoformat(),
                       b_day=dates[b].isoformat()), "compare")
    no_exception(at)
    assert not [w.value for w in at.warning if "not a parameter" in w.value], [w.value for w in at.warning]
    by_id = [(sql, params) for sql, params in reads if re.search(rf"FROM executions WHERE .*{C.execution_id} (=|IN) ",
                                                                 sql)]
    con = q.prepare(Store.open(map_store).connect().cursor())
    assert ALL not in [n for _, n in _files_read(con, by_id)], by_id
    assert [c.value for c in at.caption if c.value in (md(a), md(b))] == [md(a), md(b)]


def test_compares_address_drops_the_day_of_a_run_it_does_not_show(map_store, monkeypatch):
    at = open_page(app(map_store, monkeypatch, window="7d", a="no-such-run", a_day="2026-03-01"), "compare")
    no_exception(at)
    assert _param(at, "a") == "no-such-run" and _param(at, "a_day") is None
