"""The job queue held while a page runs (issue 11). A session's first run holds work ahead of time
(PREFETCH): paused where it is, none started, while the page's own window runs beside it. A later run
(a sidebar change) holds everything until its script ends. A window computed ahead of time that a
page preempts is resumed to end. `pause`/`resume` here stand for the analyses process's SIGSTOP/SIGCONT:
a paused job makes no progress."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from flowscope.ui.jobs import LIKELY, PREFETCH, URGENT, Jobs, Preempted


class Pausable:
    """Jobs that count steps until released; a paused job counts nothing (as a stopped process), a
    preempted one raises `Preempted`. Records every pause, resume and preempt in `log`."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.steps: dict[str, int] = {}
        self.started: dict[str, threading.Event] = {}
        self.release: dict[str, threading.Event] = {}
        self._running = threading.Event()
        self._running.set()
        self._interrupt = threading.Event()

    def pause(self) -> None:
        self.log.append("pause")
        self._running.clear()

    def resume(self) -> None:
        self.log.append("resume")
        self._running.set()

    def preempt(self) -> None:
        self.log.append("preempt")
        self._interrupt.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def job(self, name: str) -> Callable[[], Any]:
        self.started[name] = threading.Event()
        self.release[name] = threading.Event()
        self.steps[name] = 0

        def run() -> Any:
            self.started[name].set()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                self._running.wait(10)          # stopped: no step, no check, nothing
                if self._interrupt.is_set():
                    self._interrupt.clear()
                    raise Preempted(name)
                if self.release[name].is_set():
                    return name
                self.steps[name] += 1
                time.sleep(0.005)
            raise TimeoutError(name)
        return run

    def jobs(self, **kwargs: Any) -> Jobs:
        return Jobs(preempt=self.preempt, pause=self.pause, resume=self.resume, **kwargs)


@pytest.fixture
def work() -> Pausable:
    return Pausable()


def _no_progress(work: Pausable, name: str) -> bool:
    before = work.steps[name]
    time.sleep(0.1)
    return work.steps[name] == before


def test_a_running_prefetch_is_paused_while_a_page_runs_and_goes_on_after(work):
    jobs = work.jobs()
    ahead = jobs.submit("ahead", work.job("ahead"), priority=PREFETCH)
    assert work.started["ahead"].wait(5)
    with jobs.holding():
        assert work.paused and _no_progress(work, "ahead")
    assert not work.paused and not _no_progress(work, "ahead"), "it goes on where it stopped"
    work.release["ahead"].set()
    assert ahead.result(5) == "ahead" and work.log == ["pause", "resume"]


def test_holds_of_several_pages_nest_and_the_last_one_out_resumes(work):
    jobs = work.jobs()
    jobs.submit("ahead", work.job("ahead"), priority=PREFETCH)
    assert work.started["ahead"].wait(5)
    first, second = jobs.holding(), jobs.holding()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert work.paused and work.log == ["pause"], "another page still runs"
    second.__exit__(None, None, None)
    assert not work.paused and work.log == ["pause", "resume"]
    work.release["ahead"].set()


def test_a_hold_is_released_when_the_page_raises(work):
    jobs = work.jobs()
    jobs.submit("ahead", work.job("ahead"), priority=PREFETCH)
    assert work.started["ahead"].wait(5)
    with pytest.raises(RuntimeError), jobs.holding():
        raise RuntimeError("st.stop() or a page's error")
    assert not work.paused
    work.release["ahead"].set()


def test_no_prefetch_starts_while_a_page_runs(work):
    jobs = work.jobs()
    with jobs.holding():
        ahead = jobs.submit("ahead", work.job("ahead"), priority=PREFETCH)
        time.sleep(0.3)
        assert not work.started["ahead"].is_set()
    assert work.started["ahead"].wait(5), "it starts once the page is done"
    work.release["ahead"].set()
    assert ahead.result(5) == "ahead" and work.log == []


@pytest.mark.parametrize("priority", [URGENT, LIKELY])
def test_a_first_runs_hold_never_pauses_or_delays_what_a_page_waits_for_or_will_ask_for(work, priority):
    """URGENT: a page shows it. LIKELY: the default window, queued at the server's start for the first
    visitor's page (whose run holds the queue)."""
    jobs = work.jobs()
    with jobs.holding():
        job = jobs.submit("shown", work.job("shown"), priority=priority)
        assert work.started["shown"].wait(5)
        with jobs.holding():
            assert not _no_progress(work, "shown")
        work.release["shown"].set()
        assert job.result(5) == "shown"
    assert work.log == []


def test_a_paused_prefetch_a_page_asks_for_goes_on_at_once_and_is_not_paused_again(work):
    jobs = work.jobs()
    ahead = jobs.submit("ahead", work.job("ahead"), priority=PREFETCH)
    assert work.started["ahead"].wait(5)
    with jobs.holding():
        assert jobs.submit("ahead", lambda: "never", priority=URGENT) is ahead
        assert not work.paused and not _no_progress(work, "ahead")
        with jobs.holding():                       # another page's run: the job is urgent now
            assert not work.paused
        work.release["ahead"].set()
        assert ahead.result(5) == "ahead"
    assert work.log == ["pause", "resume"]


def test_a_paused_prefetch_is_resumed_to_be_preempted_and_the_page_window_runs(work):
    jobs = work.jobs()
    ahead = jobs.submit("ahead", work.job("ahead"), priority=PREFETCH)
    assert work.started["ahead"].wait(5)
    with jobs.holding():
        now = jobs.submit("now", lambda: "now", priority=URGENT)
        assert now.result(5) == "now", "the page's window does not wait for the hold"
    assert isinstance(ahead.exception(5), Preempted)
    assert work.log == ["pause", "resume", "preempt"], "resumed before the interruption"


def test_a_paused_job_that_had_already_answered_is_resumed_for_the_next_one(work):
    """The race a signal leaves: the worker answered just before it was stopped. The queue resumes it
    when the job's end is booked, so the next job (urgent) never runs stopped."""
    gate = threading.Event()
    jobs = work.jobs()

    def answered() -> str:
        gate.wait(5)
        return "done"

    ahead = jobs.submit("ahead", answered, priority=PREFETCH)
    time.sleep(0.1)
    with jobs.holding():
        assert work.log == ["pause"]
        gate.set()                                  # it ends although "stopped": it had answered
        assert ahead.result(5) == "done"
        assert jobs.submit("now", work.job("now"), priority=URGENT) is not None
        assert work.started["now"].wait(5) and not work.paused
        work.release["now"].set()
    assert work.log == ["pause", "resume"]


def test_a_change_holds_everything_even_the_window_it_shows_until_its_run_ends(work):
    jobs = work.jobs()
    shown = jobs.submit("shown", work.job("shown"), priority=URGENT)
    assert work.started["shown"].wait(5)
    with jobs.holding(URGENT):
        assert work.paused and _no_progress(work, "shown")
        later = jobs.submit("later", work.job("later"), priority=URGENT)
        work.release["shown"].set()
        time.sleep(0.1)
        assert not shown.done(), "paused"
    assert shown.result(5) == "shown"
    assert work.started["later"].wait(5), "queued work starts once the change's run is done"
    work.release["later"].set()
    assert later.result(5) == "later" and work.log == ["pause", "resume"]


def test_nothing_starts_during_a_change_and_the_most_demanding_of_nested_holds_counts(work):
    jobs = work.jobs()
    with jobs.holding(PREFETCH):                    # a first draw in one session
        with jobs.holding(URGENT):                  # a change in another
            job = jobs.submit("shown", work.job("shown"), priority=URGENT)
            time.sleep(0.2)
            assert not work.started["shown"].is_set()
        assert work.started["shown"].wait(5), "the first draw alone lets its window run"
        work.release["shown"].set()
        assert job.result(5) == "shown"


def test_a_prefetch_a_change_asks_for_stays_paused_until_its_run_ends(work):
    jobs = work.jobs()
    ahead = jobs.submit("ahead", work.job("ahead"), priority=PREFETCH)
    assert work.started["ahead"].wait(5)
    with jobs.holding(URGENT):
        assert jobs.submit("ahead", lambda: "never", priority=URGENT) is ahead
        assert work.paused and _no_progress(work, "ahead")
    assert not work.paused and not _no_progress(work, "ahead")
    work.release["ahead"].set()
    assert ahead.result(5) == "ahead" and work.log == ["pause", "resume"] and "preempt" not in work.log


def test_a_change_that_preempts_a_paused_prefetch_resumes_it_to_end_and_its_window_waits_for_the_run(work):
    jobs = work.jobs()
    ahead = jobs.submit("ahead", work.job("ahead"), priority=PREFETCH)
    assert work.started["ahead"].wait(5)
    with jobs.holding(URGENT):
        now = jobs.submit("now", work.job("now"), priority=URGENT)
        assert isinstance(ahead.exception(5), Preempted), "resumed to be interrupted"
        time.sleep(0.1)
        assert not work.started["now"].is_set()
    assert work.started["now"].wait(5)
    work.release["now"].set()
    assert now.result(5) == "now" and work.log == ["pause", "resume", "preempt"]


def test_closing_resumes_a_paused_job_before_interrupting_it(work):
    jobs = work.jobs()
    jobs.submit("ahead", work.job("ahead"), priority=PREFETCH)
    assert work.started["ahead"].wait(5)
    hold = jobs.holding()
    hold.__enter__()
    jobs.close(5, interrupt=work.preempt)
    assert work.log == ["pause", "resume", "preempt"]
    hold.__exit__(None, None, None)
    assert work.log == ["pause", "resume", "preempt"]


def test_pause_without_resume_is_refused():
    with pytest.raises(ValueError, match="together"):
        Jobs(pause=lambda: None)
