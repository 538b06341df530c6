"""Fast (issue 11): the analyses run once per store version and window, in the background, most
urgent first; a page never waits for them and redraws only its findings part when they finish."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest

from flowscope.analysis.tables import Filters
from flowscope.model import UTC, C
from flowscope.store import Store
from flowscope.ui import data, filters
from flowscope.ui.jobs import PREFETCH, URGENT, Jobs
from tests.ui.helpers import build
from tests.ui.test_pages import app, no_exception, open_page

# ---------------------------------------------------------------- the job queue


def test_a_key_is_computed_once_however_often_it_is_asked_for():
    jobs, calls = Jobs(), []
    gate = threading.Event()

    def work() -> int:
        gate.wait(5)
        calls.append(1)
        return 42

    futures = [jobs.submit("k", work) for _ in range(5)]
    gate.set()
    assert {f.result(5) for f in futures} == {42}
    assert jobs.submit("k", work).result(5) == 42
    assert calls == [1]


def test_what_a_page_shows_runs_before_what_is_computed_ahead():
    jobs, order = Jobs(), []
    gate = threading.Event()
    jobs.submit("busy", lambda: gate.wait(5))
    time.sleep(0.1)                                   # the worker is on "busy"
    ahead = [jobs.submit(f"ahead-{i}", lambda i=i: order.append(f"ahead-{i}"), priority=PREFETCH) for i in range(3)]
    now = jobs.submit("shown", lambda: order.append("shown"), priority=URGENT)
    gate.set()
    now.result(5)
    for f in ahead:
        f.result(5)
    assert order[0] == "shown" and sorted(order[1:]) == ["ahead-0", "ahead-1", "ahead-2"]


def test_a_queued_prefetch_asked_for_by_a_page_moves_to_the_front():
    jobs, order = Jobs(), []
    gate = threading.Event()
    jobs.submit("busy", lambda: gate.wait(5))
    time.sleep(0.1)
    for name in ("a", "b", "c"):
        jobs.submit(name, lambda name=name: order.append(name), priority=PREFETCH)
    jobs.submit("c", lambda: order.append("c-again"), priority=URGENT).add_done_callback(lambda _f: None)
    gate.set()
    jobs.submit("a", lambda: None).result(5)
    jobs.submit("b", lambda: None).result(5)
    assert order[0] == "c" and "c-again" not in order


def test_work_ahead_of_time_waits_for_a_quiet_moment_and_urgent_work_does_not():
    busy = threading.Event()
    busy.set()
    jobs = Jobs(quiet=lambda: not busy.is_set())
    ahead = jobs.submit("ahead", lambda: "ahead", priority=PREFETCH)
    assert jobs.submit("now", lambda: "now", priority=URGENT).result(5) == "now"
    time.sleep(0.3)
    assert not ahead.done(), "the pages were busy"
    busy.clear()
    assert ahead.result(5) == "ahead"


def test_pending_work_of_an_older_store_version_is_dropped():
    jobs, ran = Jobs(), []
    gate = threading.Event()
    jobs.submit("busy", lambda: gate.wait(5), group="v1")
    time.sleep(0.1)
    old = jobs.submit("old", lambda: ran.append("old"), priority=PREFETCH, group="v1")
    new = jobs.submit("new", lambda: ran.append("new"), group="v2")
    gate.set()
    new.result(5)
    assert old.cancelled() and ran == ["new"]


def test_a_failing_job_gives_its_error_to_who_waits():
    jobs = Jobs()

    def boom() -> None:
        raise RuntimeError("no")

    with pytest.raises(RuntimeError, match="no"):
        jobs.submit("x", boom).result(5)
    assert jobs.submit("y", lambda: 1).result(5) == 1      # the worker goes on


def test_only_the_newest_results_are_kept():
    jobs = Jobs(keep=3)
    for i in range(6):
        jobs.submit(i, lambda i=i: i).result(5)
    assert [k for k in range(6) if jobs.peek(k) is not None] == [3, 4, 5]


# ---------------------------------------------------------------- the pages


@pytest.fixture
def slow_analyses(monkeypatch):
    """The analyses take `delay` seconds; records when they finished and which windows they ran on."""
    real = data._compute_findings
    log: dict[str, list] = {"windows": [], "finished": []}
    delay = {"s": 1.5}

    def slow(path, since, until, thresholds):
        time.sleep(delay["s"])
        out = real(path, since, until, thresholds)
        log["windows"].append((since, until))
        log["finished"].append(time.monotonic())
        return out

    monkeypatch.setattr(data, "_compute_findings", slow)
    return log, delay


def test_the_charts_do_not_wait_for_the_analyses(tmp_path, monkeypatch, slow_analyses):
    log, _ = slow_analyses
    Store(tmp_path).write(build(60, days=6, seed=5))
    drawn: list[float] = []
    real_trend = data.overview_and_trend
    monkeypatch.setattr(data, "overview_and_trend",
                        lambda f, **kw: (drawn.append(time.monotonic()), real_trend(f, **kw))[1])
    at = open_page(app(str(tmp_path), monkeypatch), "overview")
    no_exception(at)
    assert drawn and log["finished"], "the page drew its trends and the analyses ran"
    assert drawn[0] < log["finished"][0] - 1.0, "the trend charts were drawn while the analyses still ran"
    # The run ends with the findings drawn in place of the note.
    assert not any("still running" in i.value for i in at.info)
    assert [m.value for m in at.metric if m.label == "Findings"], "the findings part is drawn"


@pytest.mark.parametrize("page", ["overview", "failures", "retries", "cost", "latency"])
def test_a_page_with_findings_asks_for_them_before_its_own_queries(page, tmp_path, monkeypatch):
    """The analyses start with the page (in their own process, at a lower priority), not after its
    charts: on the 1M bench store, Overview's findings after a window change 4.06 s to 3.62 s (medians)."""
    Store(tmp_path).write(build(60, days=6, seed=7))
    order: list[str] = []
    real_job, real_call = data.findings_job, data.call_in
    monkeypatch.setattr(data, "findings_job", lambda *a, **k: (order.append("findings"), real_job(*a, **k))[1])
    monkeypatch.setattr(data, "call_in",
                        lambda module, name, *a, **k: (order.append(name), real_call(module, name, *a, **k))[1])
    at = open_page(app(str(tmp_path), monkeypatch), page)
    no_exception(at)
    page_queries = [i for i, name in enumerate(order) if name not in ("workflow_options", "store_summary")]
    assert order[page_queries[0]] == "findings", order[:8]


@pytest.mark.parametrize("page", ["overview", "workflows"])
def test_a_page_holds_the_analyses_while_it_runs_and_lets_them_go_after(page, tmp_path, monkeypatch):
    """Every query of a page's run is made while the analyses are held (`Jobs.holding`): a session's first
    run holds those computed ahead of time (its own window runs beside it), a later run (a sidebar change)
    holds them all; the run lets go when it ends. On the 1M bench store the worker took 0.4-0.7 s of CPU
    during the Workflows page's 0.8-0.9 s change to 30 days."""
    Store(tmp_path).write(build(60, days=6, seed=7))
    held: list[int] = []
    real_call = data.call_in

    def call_in(module: str, name: str, *args, **kwargs):
        holds = data._jobs()._holds
        held.append(min(holds) if holds else -1)
        return real_call(module, name, *args, **kwargs)

    monkeypatch.setattr(data, "call_in", call_in)
    at = open_page(app(str(tmp_path), monkeypatch), page)
    no_exception(at)
    assert held and set(held) == {PREFETCH}, held
    assert data._jobs()._holds == []
    held.clear()
    at.selectbox(key=filters.KEY_WINDOW).set_value("30d").run()  # a change: another run of the session
    no_exception(at)
    assert held and set(held) == {URGENT}, held
    assert data._jobs()._holds == []
    if page == "overview":
        # Its findings (the new window's, held while the run went on) are waited for after the run, in a
        # parallel fragment: drawn, not left "still running" (a wait inside the run would never end).
        assert not any("still running" in i.value for i in at.info)
        assert [m.value for m in at.metric if m.label == "Findings"]


def test_a_filter_change_reuses_the_windows_analyses(tmp_path, monkeypatch, slow_analyses):
    log, delay = slow_analyses
    Store(tmp_path).write(build(60, days=6, seed=6))
    at = open_page(app(str(tmp_path), monkeypatch), "failures")
    no_exception(at)
    first = list(log["windows"])
    delay["s"] = 0.0
    at.multiselect(key="fs_clouds").set_value(["aws"]).run()
    no_exception(at)
    assert log["windows"][: len(first)] == first
    assert log["windows"].count(first[0]) == 1, "one analysis of the window serves every filter"


UNTIL = dt.datetime(2026, 11, 30, 8, tzinfo=UTC)


def _spans(current_days: float, data_days: float | None) -> list[float]:
    f = Filters(UNTIL - dt.timedelta(days=current_days), UNTIL)
    first = None if data_days is None else UNTIL - dt.timedelta(days=data_days)
    return [round((until - since).total_seconds() / 86400, 3) for since, until in filters.other_windows(f, first)]


@pytest.mark.parametrize(("current", "data_days", "order"), [
    # 30 days of data: 30 and 90 days read all of it (30 first, nearer), 14 days and its previous 28 days.
    (7, 30, [30, 90, 14, 3, 1]),
    (30, 30, [90, 14, 7, 3, 1]),
    # A year of data, or nothing known about it: the longer the window, the more it reads.
    (7, 365, [90, 30, 14, 3, 1]),
    (7, None, [90, 30, 14, 3, 1]),
    # Two days of data: every window from 24 hours up reads all of it; the nearest spans go first.
    (7, 2, [14, 3, 30, 1, 90]),
])
def test_the_windows_slowest_to_analyse_are_computed_ahead_first(current, data_days, order):
    """The analyses read a window and the one before it: a window holding much data is slow to analyse
    when asked for (over the 3 s target on a 1M store), one holding little is quick, so the slow ones
    are the ones to have ready."""
    assert _spans(current, data_days) == order


class _Worker:
    def __init__(self, idle: bool) -> None:
        self.idle = idle

    def runs_idle(self) -> bool:
        return self.idle


def test_work_ahead_waits_for_a_quiet_moment_only_beside_a_worker_that_does_not_run_idle(monkeypatch):
    """Under SCHED_IDLE the worker takes only CPU the pages leave idle, so a window computed ahead of
    time starts at once (the next change of window may come a second later); niced only, it would take
    a tenth of the cores from the page, so it waits for QUIET_S without a page query."""
    monkeypatch.setattr(data, "_activity", data._Activity())
    data._activity.touch()                                # a page asked for data just now
    assert data._may_work_ahead(_Worker(idle=True))
    assert not data._may_work_ahead(_Worker(idle=False))
    monkeypatch.setattr(data, "QUIET_S", 0.0)
    assert data._may_work_ahead(_Worker(idle=False))


def test_the_other_windows_are_computed_ahead(tmp_path, monkeypatch, slow_analyses):
    log, delay = slow_analyses
    delay["s"] = 0.0
    Store(tmp_path).write(build(60, days=6, seed=7))
    at = open_page(app(str(tmp_path), monkeypatch), "latency")
    no_exception(at)
    deadline = time.monotonic() + 60
    while len(set(log["windows"])) < 6 and time.monotonic() < deadline:
        time.sleep(0.2)
    windows = set(log["windows"])
    assert len(windows) == 6 and len({until for _, until in windows}) == 1
    at.selectbox(key="fs_window").set_value("30d").run()
    no_exception(at)
    assert len(log["windows"]) == 6, "a change of window found its analyses ready"


def test_failed_analyses_are_not_an_all_clear(tmp_path, monkeypatch):
    def broken(path, since, until, thresholds):
        return data.pd.DataFrame(), "IOException: disk gone"

    monkeypatch.setattr(data, "_compute_findings", broken)
    Store(tmp_path).write(build(60, days=6, seed=8))
    at = open_page(app(str(tmp_path), monkeypatch), "overview")
    no_exception(at)
    assert any("could not run" in w.value and "disk gone" in w.value for w in at.warning)
    assert not any("No findings" in s.value for s in at.success)


def test_closing_cancels_the_queue_interrupts_the_running_job_and_waits_for_it():
    jobs, gate = Jobs(name="closing-test"), threading.Event()
    interrupted: list[bool] = []
    running = jobs.submit("running", lambda: gate.wait(10) and "done")
    time.sleep(0.1)
    queued = jobs.submit("queued", lambda: "never", priority=PREFETCH)

    def interrupt() -> None:          # what DuckDB's connection.interrupt() does for a query
        interrupted.append(True)
        gate.set()

    jobs.close(timeout=5, interrupt=interrupt)
    assert interrupted and running.result(1) == "done" and queued.cancelled()
    assert not any(t.name == "closing-test" and t.is_alive() for t in threading.enumerate())
    with pytest.raises(RuntimeError, match="closed"):
        jobs.submit("late", lambda: None)


def test_the_dashboard_closes_its_analyses_at_exit(monkeypatch):
    """An exit hook stops the queue and kills the analyses process: stopping the dashboard never waits
    for a long analysis, and no worker outlives the server."""
    import atexit

    hooks: list = []
    monkeypatch.setattr(atexit, "register", lambda fn, *args: hooks.append((fn, args)))
    data._jobs.clear()
    data._analyses.clear()
    jobs = data._jobs()
    try:
        [(fn, args)] = hooks
        assert fn == jobs.close and args[1] == data._analyses().close
    finally:
        data._jobs.clear()
        data._analyses.clear()


@pytest.mark.parametrize("page", ["overview", "failures", "retries", "cost", "latency"])
def test_a_page_opened_while_its_analyses_run_draws_them_without_a_duplicate_key(tmp_path, monkeypatch,
                                                                                 slow_analyses, page):
    """The findings part is drawn twice in one run when the analyses finish while the page waits
    (without them, then with them): its keyed charts and downloads must not collide (the Retries page's
    storm timeline raised StreamlitDuplicateElementKey when it was the first page a server showed)."""
    _, delay = slow_analyses
    delay["s"] = 1.0
    Store(tmp_path).write(build(120, days=6, seed=9))
    data._jobs.clear()
    try:
        at = open_page(app(str(tmp_path), monkeypatch), page)
        no_exception(at)
        assert not any("still running" in i.value for i in at.info), "the run ended with the findings drawn"
    finally:
        data._jobs.clear()


def test_a_change_of_clouds_narrows_the_overview_already_read(tmp_path, monkeypatch):
    """Overview for one cloud is the every-cloud overview of the same window narrowed, when that was read
    (no query: the page's charts after a cloud change, 0.80 to 0.63 s on the 1M bench store); when it was
    not, the one cloud is read on its own (reading every cloud of a new window would cost more)."""
    import dataclasses

    import pandas as pd

    Store(tmp_path).write(build(60, days=6, seed=3))
    monkeypatch.setenv("FLOWSCOPE_STORE", str(tmp_path))
    summary = data.summary()
    span = filters.time_window(7, first_data=summary["first"], last_data=filters.known_to(summary))
    every = Filters(span.since, span.until)
    aws = dataclasses.replace(every, clouds=("aws",))
    reads: list[tuple] = []
    real_call = data.call_in
    monkeypatch.setattr(data, "call_in",
                        lambda module, name, *a, **k: (reads.append((name, a)), real_call(module, name, *a, **k))[1])

    alone = data.overview_and_trend(aws, with_previous=False)          # nothing read for every cloud yet
    assert alone[0][C.cloud].tolist() == ["aws", "total"] and alone[0].iloc[-1]["executions"] > 0
    assert reads == [("overview_and_trend", (aws,))]
    data.overview_and_trend(every, with_previous=False)
    reads.clear()
    narrowed = data.overview_and_trend(aws, with_previous=False)
    assert [a[0].clouds for _, a in reads] == [()], "the every-cloud result, from the cache"
    for got, want in zip(narrowed, alone, strict=True):
        if want is None:
            assert got is None
        else:
            pd.testing.assert_frame_equal(got, want, check_exact=True)


def test_reads_are_remembered_as_long_as_the_cache_keeps_them(monkeypatch):
    """`data._Reads` says a result is cached only while Streamlit's cache would still hold it (its TTL
    and size), and never for a key Python cannot hash (a list argument: the page reads it again)."""
    clock = [100.0]
    monkeypatch.setattr(data.time, "monotonic", lambda: clock[0])
    reads = data._Reads(ttl_s=10, size=2)
    reads.note(("a",))
    reads.note(("b",))
    assert reads.fresh(("a",)) and reads.fresh(("b",))
    reads.note(("c",))                                   # past the size: the oldest goes
    assert not reads.fresh(("a",)) and reads.fresh(("c",))
    clock[0] += 10
    assert not reads.fresh(("c",)), "past the cache's TTL"
    reads.note(("d", ["unhashable"]))
    assert not reads.fresh(("d", ["unhashable"]))
