"""A window whose Wait steps have fewer visits than one polling execution needs is not searched for polling
loops (`cost._may_poll`, from the shared read of the steps): the same loops as the search finds."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from flowscope.analysis import Thresholds, cost
from flowscope.analysis.suite import build_context
from tests.analysis.helpers import T0
from tests.analysis.test_analyses import polling_world

END = T0 + dt.timedelta(days=2)


def _ctx(world, since=T0):
    return build_context(world.tables(), since=since, until=END, now=END)


def _loops(ctx) -> list[tuple]:
    return sorted((f.workflow_id, f.step, f.title, str(f.evidence)) for f in cost.polling_loops(ctx))


WORLDS = {
    "a polling loop": lambda: polling_world(),
    "4 polls a run: waits enough in all, not in one run": lambda: polling_world(polls=4),
    "no Wait step": lambda: polling_world(wait=False),
}


@pytest.mark.parametrize("folded", [True, False])
@pytest.mark.parametrize("since", [T0, T0 + dt.timedelta(hours=5)])
@pytest.mark.parametrize("name", list(WORLDS))
def test_the_precheck_finds_the_searchs_loops(name, since, folded, monkeypatch):
    if not folded:                          # the shared read by window, not by failure bucket
        monkeypatch.setattr("flowscope.analysis.step_stats.FOLDED_BUCKETS_MAX", 0)
    got = _loops(_ctx(WORLDS[name](), since))
    monkeypatch.setattr("flowscope.analysis.polling_loops._may_poll", lambda ctx: True)
    assert got == _loops(_ctx(WORLDS[name](), since))
    assert bool(got) is (name == "a polling loop")


@pytest.mark.parametrize(("world", "searched"), [(polling_world(polls=4), True), (polling_world(wait=False), False)])
def test_no_search_without_the_wait_visits_for_one_loop(world, searched, monkeypatch):
    ctx = _ctx(world)
    cost._step_window_groups(ctx)                  # read by the analysis anyway
    reads = []
    monkeypatch.setattr("flowscope.analysis.polling_loops.execute", lambda expr, **kw: reads.append(expr) or [][0])
    if searched:
        with pytest.raises(IndexError):
            cost.polling_loops(ctx)
    else:
        assert cost.polling_loops(ctx) == []
    assert len(reads) == int(searched)


@pytest.mark.parametrize("folded", [True, False])
def test_the_precheck_counts_the_windows_wait_visits(folded, monkeypatch):
    if not folded:
        monkeypatch.setattr("flowscope.analysis.step_stats.FOLDED_BUCKETS_MAX", 0)
    for visits, may in ((40, True), (41, False)):                      # 10 runs x 4 Waits in the window
        th = dataclasses.replace(Thresholds(), polling_min_visits=visits)
        assert cost._may_poll(dataclasses.replace(_ctx(polling_world(polls=4)), thresholds=th)) is may
    # the 80 Waits all in the previous window: none in this one
    assert not cost._may_poll(_ctx(polling_world(), since=T0 + dt.timedelta(hours=9, minutes=30)))
