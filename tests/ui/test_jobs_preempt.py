"""The job queue's preemption (issue 11): a window a page shows interrupts the analyses of a window
computed ahead of time, which are dropped, never kept or shown; a prefetch a page then asks for is
let finish. `preempt` here stands for the analyses process's signal: it makes the running job raise."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from flowscope.ui.jobs import LIKELY, PREFETCH, URGENT, Jobs, Preempted, current_priority


class Interruptible:
    """Jobs that wait until released or preempted (then raise `Preempted`, as the analyses process
    makes `findings` do); records what ran, in order, and how often `preempt` was called."""

    def __init__(self) -> None:
        self.calls = 0
        self.order: list[str] = []
        self.started: dict[str, threading.Event] = {}
        self.release: dict[str, threading.Event] = {}
        self._interrupt = threading.Event()

    def preempt(self) -> None:
        self.calls += 1
        self._interrupt.set()

    def job(self, name: str, value: Any = None) -> Callable[[], Any]:
        self.started[name] = threading.Event()
        self.release[name] = threading.Event()

        def run() -> Any:
            self.order.append(name)
            self.started[name].set()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if self.release[name].is_set():
                    return value if value is not None else name
                if self._interrupt.is_set():
                    self._interrupt.clear()
                    raise Preempted(name)
                time.sleep(0.005)
            raise TimeoutError(name)
        return run

    def wait_started(self, name: str) -> None:
        assert self.started[name].wait(5), f"{name} started"


@pytest.fixture
def work() -> Interruptible:
    return Interruptible()


def test_an_urgent_submit_preempts_the_running_prefetch_once_and_runs_next(work):
    jobs = Jobs(preempt=work.preempt)
    ahead = jobs.submit("ahead", work.job("ahead"), priority=PREFETCH)
    work.wait_started("ahead")
    later = jobs.submit("later", work.job("later"), priority=PREFETCH)
    now = jobs.submit("now", work.job("now"), priority=URGENT)
    again = jobs.submit("now", work.job("now-again"), priority=URGENT)   # a second page, same window
    work.release["now"].set()
    assert now.result(5) == "now" and again is now
    assert work.calls == 1
    work.release["later"].set()
    assert later.result(5) == "later"
    assert work.order == ["ahead", "now", "later"], "the urgent job ran right after the interruption"
    with pytest.raises(Preempted):
        ahead.result(0)


def test_a_preempted_job_is_forgotten_not_shown_and_a_later_submit_runs_it_again(work):
    jobs = Jobs(preempt=work.preempt)
    ahead = jobs.submit("ahead", work.job("ahead"), priority=PREFETCH)
    work.wait_started("ahead")
    jobs.submit("now", lambda: "now", priority=URGENT).result(5)
    assert isinstance(ahead.exception(5), Preempted)
    assert jobs.peek("ahead") is None, "no result of the interrupted job is kept for anyone to show"
    redo = jobs.submit("ahead", lambda: "fresh", priority=PREFETCH)
    assert redo is not ahead and redo.result(5) == "fresh"
    assert jobs.peek("ahead") is redo


@pytest.mark.parametrize("ahead_priority", [PREFETCH, LIKELY])
def test_an_urgent_submit_of_the_running_prefetch_lets_it_finish_and_makes_it_urgent(work, ahead_priority):
    """The same for the window queued at the server's start (LIKELY), which started while pages ran."""
    jobs = Jobs(preempt=work.preempt, quiet=lambda: ahead_priority == PREFETCH)
    ahead = jobs.submit("ahead", work.job("ahead"), priority=ahead_priority)
    work.wait_started("ahead")
    assert jobs.submit("ahead", lambda: "never", priority=URGENT) is ahead
    # Now urgent: another page's window waits its turn instead of interrupting it.
    other = jobs.submit("other", lambda: "other", priority=URGENT)
    time.sleep(0.1)
    assert work.calls == 0 and not ahead.done()
    work.release["ahead"].set()
    assert ahead.result(5) == "ahead" and other.result(5) == "other"
    assert work.calls == 0


def test_urgent_work_is_never_preempted(work):
    jobs = Jobs(preempt=work.preempt)
    first = jobs.submit("first", work.job("first"), priority=URGENT)
    work.wait_started("first")
    second = jobs.submit("second", lambda: "second", priority=URGENT)
    jobs.submit("ahead", lambda: "ahead", priority=PREFETCH)
    time.sleep(0.1)
    assert work.calls == 0 and not first.done()
    work.release["first"].set()
    assert first.result(5) == "first" and second.result(5) == "second"


def test_an_urgent_submit_of_a_key_already_done_does_not_preempt(work):
    jobs = Jobs(preempt=work.preempt)
    assert jobs.submit("shown", lambda: "shown").result(5) == "shown"
    ahead = jobs.submit("ahead", work.job("ahead"), priority=PREFETCH)
    work.wait_started("ahead")
    assert jobs.submit("shown", lambda: "again", priority=URGENT).result(0) == "shown"
    assert work.calls == 0
    work.release["ahead"].set()
    assert ahead.result(5) == "ahead"


def test_a_prefetch_that_finishes_before_the_interruption_keeps_its_result(work):
    """The race on this side: `preempt` is called, but the job ends normally first (the analyses
    process ignores a signal that arrives after the job): its result is a real one and is kept."""
    jobs = Jobs(preempt=lambda: work.release["ahead"].set())
    ahead = jobs.submit("ahead", work.job("ahead"), priority=PREFETCH)
    work.wait_started("ahead")
    assert jobs.submit("now", lambda: "now", priority=URGENT).result(5) == "now"
    assert ahead.result(5) == "ahead" and jobs.peek("ahead") is ahead


def test_a_key_asked_for_again_while_it_is_interrupted_is_queued_afresh(work):
    """A page that asks for the window being interrupted gets a new job, not the dying one."""
    gate = threading.Event()

    def slow_to_stop() -> None:          # takes a while to notice the interruption
        gate.wait(5)
        time.sleep(0.2)
        raise Preempted()

    jobs = Jobs(preempt=gate.set)
    ahead = jobs.submit("ahead", slow_to_stop, priority=PREFETCH)
    time.sleep(0.1)
    now = jobs.submit("now", lambda: "now", priority=URGENT)
    assert gate.is_set()
    shown = jobs.submit("ahead", lambda: "ahead, computed again", priority=URGENT)
    assert shown is not ahead
    assert now.result(5) == "now" and shown.result(5) == "ahead, computed again"
    assert isinstance(ahead.exception(5), Preempted)


def test_a_job_sees_the_priority_it_started_with():
    jobs, gate = Jobs(), threading.Event()
    jobs.submit("busy", lambda: gate.wait(5))
    time.sleep(0.1)
    ahead = jobs.submit("ahead", current_priority, priority=PREFETCH)
    moved_up = jobs.submit("moved-up", current_priority, priority=PREFETCH)
    jobs.submit("moved-up", lambda: None, priority=URGENT)    # asked for by a page before it started
    gate.set()
    assert moved_up.result(5) == URGENT, "moved up before it started: not preemptible"
    assert ahead.result(5) == PREFETCH
    assert current_priority() is None


def test_without_a_preempt_function_nothing_is_interrupted(work):
    jobs = Jobs()
    ahead = jobs.submit("ahead", work.job("ahead"), priority=PREFETCH)
    work.wait_started("ahead")
    now = jobs.submit("now", lambda: "now", priority=URGENT)
    work.release["ahead"].set()
    assert ahead.result(5) == "ahead" and now.result(5) == "now"


def test_the_likely_window_starts_while_pages_run_and_gives_way_to_another_window(work):
    """LIKELY (the default window, queued at the server's start) does not wait for a quiet moment as
    PREFETCH does, runs before the prefetches, and is interrupted like them by a page's other window."""
    jobs = Jobs(preempt=work.preempt, quiet=lambda: False)          # pages are busy all the time
    ahead = jobs.submit("ahead", work.job("ahead"), priority=PREFETCH)
    likely = jobs.submit("likely", work.job("likely"), priority=LIKELY)
    work.wait_started("likely")
    assert work.order == ["likely"], "the prefetch still waits for quiet"
    other = jobs.submit("other", lambda: "other", priority=URGENT)
    assert other.result(5) == "other" and work.calls == 1
    assert isinstance(likely.exception(5), Preempted)
    assert not ahead.running() and not ahead.done()
