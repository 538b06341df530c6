"""`cost.step_window_stats` reads the steps grouped by type too (cheaper than a string max over every
visit) and folds a step whose type changed back into one row: the greatest type, as max(type) said,
and the counts, extremes and flags of all its visits."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from flowscope.analysis import cost
from flowscope.analysis.suite import build_context
from flowscope.model import C, Status, StepType
from tests.analysis.helpers import T0, World, at

DAY = dt.timedelta(days=1)


def _stats(world: World) -> pd.DataFrame:
    ctx = build_context(world.tables(), since=T0 + DAY, until=T0 + 2 * DAY, now=T0 + 2 * DAY)
    return cost.step_window_stats(ctx).sort_values([C.name, "current"]).reset_index(drop=True)


def test_a_step_whose_type_changed_is_one_row_with_all_its_visits():
    w = World()
    wf = w.workflow("orders")
    for i in range(3):                               # "charge" was a Pass state, then became a Task
        ex = w.execution(wf, at(days=1, hours=i))
        w.step(ex, "charge", at(days=1, hours=i), type=StepType.PASS)
        w.step(ex, "ship", at(days=1, hours=i, minutes=1))
    for i in range(4):
        ex = w.execution(wf, at(days=1, hours=10 + i))
        w.step(ex, "charge", at(days=1, hours=10 + i), type=StepType.TASK, attempts=2,
               status=Status.FAILED if i == 3 else Status.SUCCEEDED, iteration=0 if i == 0 else None)
        w.step(ex, "ship", at(days=1, hours=10 + i, minutes=1))
    ex = w.execution(wf, at(hours=5))                # the previous window: one visit, one type
    w.step(ex, "charge", at(hours=5), type=StepType.TASK)
    got = _stats(w)
    charge = got[(got[C.name] == "charge")]
    assert len(charge) == 2 and len(got) == 3, got          # this window and the previous one; "ship" once
    now = charge[charge["current"]].iloc[0]
    assert now[C.type] == max(str(StepType.PASS), str(StepType.TASK))
    assert (now["visits"], now["attempts"], now["retries"]) == (7, 11, 4)
    assert (now["f_visits"], now["failures"]) == (7, 1)
    assert now["first_seen"] == now["last_seen"] == pd.Timestamp(at(days=1, hours=13))
    before = charge[~charge["current"]].iloc[0]
    assert (before[C.type], before["visits"], before["failures"]) == (str(StepType.TASK), 1, 0)


def test_steps_of_one_type_come_back_as_the_engine_gave_them():
    w = World()
    wf = w.workflow("orders")
    ex = w.execution(wf, at(days=1))
    w.step(ex, "a", at(days=1))
    w.step(ex, "b", at(days=1, minutes=1), status=Status.FAILED)
    got = _stats(w)
    assert got[C.name].tolist() == ["a", "b"] and got["first_seen"].isna().tolist() == [True, False]
    assert list(got.columns[:5]) == [C.cloud, C.workflow_id, C.name, "current", C.type]


def test_visits_that_do_no_work_count_no_failure_whatever_their_status():
    """A failed Map (its child failed) and a Fail state do no work of their own:
    no work visits, no failure sums or dates (nulls), as the filtered read gave; a failed Task does."""
    w = World()
    wf = w.workflow("orders")
    ex = w.execution(wf, at(days=1))
    w.step(ex, "fan-out", at(days=1), type=StepType.MAP, status=Status.FAILED)
    w.step(ex, "give-up", at(days=1, minutes=1), type=StepType.FAIL, status=Status.FAILED)
    w.step(ex, "charge", at(days=1, minutes=3), type=StepType.TASK, status=Status.FAILED)
    got = _stats(w).set_index(C.name)
    idle = got.loc[["fan-out", "give-up"]]
    assert idle["visits"].tolist() == [1, 1] and idle["f_visits"].tolist() == [0, 0]
    assert idle[["failures", "uncaught", "first_seen", "last_seen"]].isna().all().all()
    charge = got.loc["charge"]
    assert (charge["f_visits"], charge["failures"], charge["uncaught"]) == (1, 1, 1)
    assert charge["first_seen"] == charge["last_seen"] == pd.Timestamp(at(days=1, minutes=3))


def test_a_try_and_its_call_of_one_name_count_the_call():
    """GCP writes a `try` step as a container (scope) and its call as the container's own work, both
    named after the step: counted together, 10 visits with 3 tries each read as 20 visits and 40
    attempts, so a retry storm's cost per attempt was halved and its amplification read 2.0, not 3.0.
    A name held by containers only (a Map) keeps their counts."""
    w = World()
    wf = w.workflow("poller", cloud="gcp")
    for i in range(10):
        ex = w.execution(wf, at(days=1, hours=i))
        w.step(ex, "check", at(days=1, hours=i), type=StepType.SCOPE, key=f"t{i}", native_type="STEP_TRY_RETRY_EXCEPT")
        w.step(ex, "check", at(days=1, hours=i), attempts=3, key=f"c{i}", parent=f"t{i}")
        w.step(ex, "fan", at(days=1, hours=i, minutes=1), type=StepType.MAP, attempts=2, key=f"m{i}")
    got = _stats(w).set_index(C.name)
    assert (got.loc["check", "visits"], got.loc["check", "attempts"], got.loc["check", "retries"]) == (10, 30, 20)
    assert got.loc["check", "f_visits"] == 10
    assert (got.loc["fan", "visits"], got.loc["fan", "attempts"]) == (10, 20), "containers only: as they are"
