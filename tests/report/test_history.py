"""Findings history: new -> ongoing -> worsened -> resolved -> reopened, kept in the store by stable id;
re-running a report for the same window changes nothing; a filtered report resolves only its scope."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from flowscope.analysis.base import FINDING_COLUMNS
from flowscope.model import UTC, C
from flowscope.report import build_content
from flowscope.report.history import changes, record
from flowscope.store import Store
from tests.report.helpers import END, make_store

DAY = dt.timedelta(days=1)
T0 = dt.datetime(2026, 11, 1, tzinfo=UTC)


def findings(*rows: tuple[str, str, str]) -> pd.DataFrame:
    """(id, severity, cloud) -> a findings frame as the analyses return it."""
    data = [{c: None for c in FINDING_COLUMNS} | {"id": i, "severity": sev, "cloud": cloud, "kind": "failing_step",
                                                   "workflow_id": f"wf-{cloud}", "title": f"t {i}",
                                                   "monthly_usd": 1.0} for i, sev, cloud in rows]
    return pd.DataFrame(data, columns=FINDING_COLUMNS)


def step(stored: list[dict], frame: pd.DataFrame, until: dt.datetime, **scope) -> tuple[list[dict], object]:
    """Apply one report (pure) and return the new stored state (upsert by id) and the change."""
    writes, change = changes(stored, frame, since=until - DAY, until=until, **scope)
    merged = {r[C.id]: r for r in stored} | {r[C.id]: r for r in writes}
    return list(merged.values()), change


def test_states_over_successive_reports():
    stored: list[dict] = []
    stored, c1 = step(stored, findings(("a", "medium", "aws"), ("b", "low", "aws")), T0 + DAY)
    assert c1.states == {"a": "new", "b": "new"} and len(c1.resolved) == 0 and c1.previous_report is None
    stored, c2 = step(stored, findings(("a", "high", "aws"), ("c", "low", "aws")), T0 + 2 * DAY)
    assert c2.states == {"a": "worsened", "c": "new"}
    assert list(c2.resolved[C.id]) == ["b"] and c2.previous_report == T0 + DAY
    assert c2.summary() == "1 new, 1 worsened, 0 ongoing, 1 resolved since the last report"
    stored, c3 = step(stored, findings(("a", "high", "aws"), ("b", "low", "aws")), T0 + 3 * DAY)
    assert c3.states == {"a": "ongoing", "b": "reopened"} and list(c3.resolved[C.id]) == ["c"]
    rows = {r[C.id]: r for r in stored}
    assert rows["a"][C.first_seen] == T0 + DAY and rows["a"][C.last_seen] == T0 + 3 * DAY
    assert rows["b"][C.first_seen] == T0 + DAY and rows["c"][C.state] == "resolved"
    assert rows["c"][C.last_seen] == T0 + 2 * DAY     # resolved: last seen stays where it was seen


def test_same_window_again_writes_nothing_and_says_the_same():
    stored, first = step([], findings(("a", "medium", "aws")), T0 + DAY)
    stored, second = step(stored, findings(("a", "medium", "aws"), ("b", "low", "aws")), T0 + 2 * DAY)
    writes, again = changes(stored, findings(("a", "medium", "aws"), ("b", "low", "aws")),
                            since=T0 + DAY, until=T0 + 2 * DAY)
    assert writes == [] and again.states == second.states and again.summary() == second.summary()
    older, _ = changes(stored, findings(), since=T0, until=T0 + DAY)   # an older window never rewinds
    assert older == []


def test_an_older_window_after_a_newer_report_is_not_called_the_first_report():
    """`flowscope report` at 11:35 then the scheduled `run` (its window ends at 11:00) said "0 new, 2 ongoing,
    0 resolved (first report of this scope)": the states are those a later window's report recorded."""
    stored, _ = step([], findings(("a", "medium", "aws"), ("b", "low", "aws")), T0 + 2 * DAY)
    stored, _ = step(stored, findings(("a", "medium", "aws"), ("b", "low", "aws")), T0 + 3 * DAY)
    _, older = changes(stored, findings(("a", "medium", "aws"), ("b", "low", "aws")), since=T0, until=T0 + DAY)
    assert older.previous_report is None and older.states == {"a": "ongoing", "b": "ongoing"}
    assert older.summary() == ("0 new, 2 ongoing, 0 resolved as recorded by the report of a later window "
                               "(to 2026-11-04 00:00 UTC)")
    _, first = changes([], findings(("a", "medium", "aws")), since=T0, until=T0 + DAY)
    assert first.summary().endswith("(first report of this scope)")


def test_a_filtered_report_resolves_only_findings_in_its_scope():
    stored, _ = step([], findings(("a", "high", "aws"), ("z", "high", "azure")), T0 + DAY)
    _, change = step(stored, findings(), T0 + 2 * DAY, clouds=("aws",))
    assert list(change.resolved[C.id]) == ["a"]
    _, change = step(stored, findings(), T0 + 2 * DAY, workflows=("wf-azure",))
    assert list(change.resolved[C.id]) == ["z"]


def test_absence_from_an_unobserved_cloud_resolves_nothing():
    """An empty window (a collector that stopped, a quiet account) said '9 resolved since the last
    report' of a step failing 43% of the time, and re-alerted them as 'reopened' once data was back."""
    gap = findings(("g", "critical", "azure")).assign(kind="collection_gap")
    first = pd.concat([findings(("a", "high", "aws"), ("z", "high", "azure")), gap], ignore_index=True)
    stored, _ = step([], first, T0 + 2 * DAY)
    _, change = step(stored, findings(), T0 + 3 * DAY, observed=set())
    assert list(change.resolved[C.id]) == ["g"]             # collection runs, not executions, say a gap is over
    stored, change = step(stored, findings(), T0 + 3 * DAY, observed={"aws"})
    assert sorted(change.resolved[C.id]) == ["a", "g"]
    _, back = step(stored, findings(("z", "high", "azure")), T0 + 4 * DAY, observed={"azure"})
    assert back.states == {"z": "ongoing"}                   # never resolved, so not 'reopened' (re-sent)


def test_absence_from_an_unobserved_workflow_resolves_nothing():
    """One region's (or resource group's) collector stopped while the rest of its cloud ran: the cloud
    had executions, so its workflows' findings read "resolved", to be re-alerted as "reopened" when
    the region came back. Only a workflow with runs in the window resolves what is not found again."""
    def one(fid: str, workflow: str, kind: str = "failing_step") -> pd.DataFrame:
        return findings((fid, "high", "aws")).assign(workflow_id=workflow, kind=kind)

    first = pd.concat([one("east", "wf-east"), one("west", "wf-west"), one("stuck", "wf-west", "stuck_execution")],
                      ignore_index=True)
    stored, _ = step([], first, T0 + DAY)
    stored, change = step(stored, findings(), T0 + 2 * DAY, observed={"aws"},
                          observed_workflows={("aws", "wf-east")})
    assert sorted(change.resolved[C.id]) == ["east", "stuck"]    # a stuck run is its cloud's sync's to clear
    _, back = step(stored, one("west", "wf-west"), T0 + 3 * DAY, observed={"aws"},
                   observed_workflows={("aws", "wf-east"), ("aws", "wf-west")})
    assert back.states == {"west": "ongoing"}                    # never resolved, so not 'reopened' (re-sent)


def test_a_report_says_which_workflows_it_looked_at(tmp_path):
    store = make_store(tmp_path / "s", failed_scope=False)
    content = build_content(store, since=END - dt.timedelta(days=7), until=END, now=END)
    ran = store.sql(f"SELECT DISTINCT cloud, workflow_id FROM executions WHERE started_at >= TIMESTAMPTZ "
                    f"'{(END - dt.timedelta(days=7)).isoformat()}' AND started_at < TIMESTAMPTZ '{END.isoformat()}'")
    assert content.coverage.observed == {(r.cloud, r.workflow_id) for r in ran.itertuples()}
    assert content.coverage.observed


@pytest.mark.slow  # two reports of a fresh store
def test_an_empty_window_resolves_no_finding(tmp_path):
    store = make_store(tmp_path / "s", failed_scope=False)
    content = build_content(store, since=END - dt.timedelta(days=7), until=END, now=END)
    record(store, content)
    later = END + dt.timedelta(days=30)
    empty = build_content(store, since=later - dt.timedelta(days=7), until=later, now=later)
    assert empty.coverage.status == "no_data"
    change = record(store, empty)
    assert len(change.resolved) == 0 and "0 resolved" in change.summary()
    assert "resolved" not in {r[C.state] for r in store.read_rows("findings")}


@pytest.mark.slow  # four reports of a fresh store
def test_history_in_a_real_store_is_keyed_by_id_and_idempotent(tmp_path):
    store = make_store(tmp_path / "s")
    since = END - dt.timedelta(days=7)
    content = build_content(store, since=since, until=END, now=END)
    assert len(content.findings) >= 2
    first = record(store, content)
    assert first.recorded and first.count("new") == len(content.findings)
    version = store.version()
    rows = Store.open(tmp_path / "s").read_rows("findings")
    assert sorted(r[C.id] for r in rows) == sorted(content.findings["id"])
    assert {r[C.state] for r in rows} == {"new"} and {r[C.first_seen] for r in rows} == {END}

    again = build_content(store, since=since, until=END, now=END)
    repeat = record(store, again)
    assert not repeat.recorded and store.version() == version           # nothing written
    assert repeat.summary() == first.summary()

    later = END + dt.timedelta(days=1)      # the next day: no executions after END, every finding resolved
    nxt = build_content(store, since=later - dt.timedelta(days=7), until=later, now=later)
    change = record(store, nxt)
    gone = set(content.findings["id"]) - set(nxt.findings["id"])
    assert set(change.resolved[C.id]) == gone
    assert {change.states[i] for i in nxt.findings["id"] if i in set(content.findings["id"])} <= {"ongoing",
                                                                                                   "worsened"}
    stored = {r[C.id]: r for r in store.read_rows("findings")}
    assert len(stored) == len(set(content.findings["id"]) | set(nxt.findings["id"]))   # one row per id
    for fid in gone:
        assert stored[fid][C.state] == "resolved" and stored[fid][C.last_seen] == END


def test_without_history_nothing_is_written(tmp_path):
    store = make_store(tmp_path / "s")
    content = build_content(store, since=END - dt.timedelta(days=7), until=END, now=END)
    version = store.version()
    change = record(store, content, write=False)
    assert not change.recorded and store.version() == version and change.count("new") == len(content.findings)


@pytest.mark.parametrize("bad", [{"state": "gone"}])
def test_the_store_refuses_an_unknown_state(tmp_path, bad):
    from flowscope.store import StoreError

    row = {C.id: "x", C.kind: "failing_step", C.severity: "high", C.first_seen: T0, C.last_seen: T0,
           C.state: "new", C.window_start: T0, C.window_end: T0, C.run_id: "r"} | bad
    with pytest.raises(StoreError, match="state"):
        Store(tmp_path / "s").write({"findings": [row]})


def test_a_filter_given_twice_is_the_same_report_run():
    """`report --cloud aws --cloud aws` re-run after `--cloud aws` for the same window is the same run
    (the alert scope already read the clouds as a set): its run id differed, so the findings that run
    resolved were not listed again ('0 resolved') and a target it told was told again."""
    stored, _ = step([], findings(("a", "high", "aws")), T0 + DAY, clouds=("aws",))
    stored, first = step(stored, findings(), T0 + 2 * DAY, clouds=("aws",))
    assert list(first.resolved[C.id]) == ["a"]
    _, again = step(stored, findings(), T0 + 2 * DAY, clouds=("aws", "aws"), workflows=("wf-aws", "wf-aws"))
    _, once = step(stored, findings(), T0 + 2 * DAY, clouds=("aws",), workflows=("wf-aws",))
    assert again.run_id == once.run_id and list(again.resolved[C.id]) == list(once.resolved[C.id])
    _, dup = step(stored, findings(), T0 + 2 * DAY, clouds=("aws", "aws"))
    assert dup.run_id == first.run_id and list(dup.resolved[C.id]) == ["a"]


def _content(since: dt.datetime, until: dt.datetime, frame: pd.DataFrame, now: dt.datetime | None = None,
             **scope) -> object:
    """What `record` reads of a report's content: its filters, findings, what it looked at and when it
    was made (`now`, by default the window's end)."""
    from types import SimpleNamespace

    filters = SimpleNamespace(since=since, until=until, clouds=tuple(scope.get("clouds", ())),
                              workflows=tuple(scope.get("workflows", ())))
    return SimpleNamespace(filters=filters, findings=frame, coverage=SimpleNamespace(observed=set()),
                           history=None, generated_at=now or until)


def test_a_scope_without_findings_knows_its_last_report(tmp_path):
    """A scope that never had a finding said "(first report of this scope)" on every run: the last
    report was read off the stored findings only. Report runs are kept per scope, so the second run
    says "since the last report", and a re-run of the same window writes nothing."""
    store = Store(tmp_path / "s")
    first = record(store, _content(T0, T0 + DAY, findings(), workflows=("wf-quiet",)))
    assert first.previous_report is None and first.summary().endswith("(first report of this scope)")
    second = record(store, _content(T0 + DAY, T0 + 2 * DAY, findings(), workflows=("wf-quiet",)))
    assert second.previous_report == T0 + DAY and second.summary().endswith("since the last report")
    version = store.version()
    again = record(store, _content(T0 + DAY, T0 + 2 * DAY, findings(), workflows=("wf-quiet",)))
    assert again.previous_report == T0 + DAY and store.version() == version and not again.recorded
    other = record(store, _content(T0 + DAY, T0 + 2 * DAY, findings(), workflows=("wf-other",)))
    assert other.previous_report is None                     # another scope's runs are not its own
    assert record(store, _content(T0, T0 + DAY, findings(), workflows=("wf-quiet",)),
                  write=False).previous_report is None        # an older window: nothing before it


def test_a_refused_history_write_raises_with_the_change_attached(tmp_path):
    """A store that refused the history left the report without one: every open finding read as new
    and was sent again. The change against the stored history is attached all the same, and said to
    be unrecorded."""
    from flowscope.store import StoreError

    store = Store(tmp_path / "s")
    record(store, _content(T0, T0 + DAY, findings(("a", "high", "aws"))))

    class Refusing:
        def read_rows(self, table: str) -> list[dict]:
            return store.read_rows(table)

        def write(self, batch: dict) -> None:
            raise StoreError("disk full")

    content = _content(T0 + DAY, T0 + 2 * DAY, findings(("a", "high", "aws"), ("b", "low", "aws")))
    with pytest.raises(StoreError, match="disk full"):
        record(Refusing(), content)
    change = content.history
    assert change.states == {"a": "ongoing", "b": "new"} and change.not_recorded == "disk full"
    assert not change.recorded and change.summary().endswith("so the next report says them again")


def test_a_window_ending_in_the_future_is_recorded_as_of_now(tmp_path):
    """`report --until` a month ahead (a month-to-date report) recorded its findings at that future end:
    every hourly run before it found the rows "already at a later window", reported them as recorded
    ("new", so sent again by every run) and resolved none of them, until that date. The history of
    such a window is recorded at the time the report was made."""
    store = Store(tmp_path / "s")
    now = T0 + DAY
    record(store, _content(T0, T0 + 30 * DAY, findings(("a", "high", "aws"), ("b", "low", "aws")), now=now))
    rows = {r[C.id]: r for r in store.read_rows("findings")}
    assert {r[C.window_end] for r in rows.values()} == {now} and rows["a"][C.first_seen] == now
    content = _content(now, now + dt.timedelta(hours=1), findings(("a", "high", "aws")))
    content.coverage.observed = {("aws", "wf-aws")}
    later = record(store, content)
    assert later.states == {"a": "ongoing"} and list(later.resolved[C.id]) == ["b"]
    assert later.previous_report == now


def test_an_older_window_does_not_resend_what_a_newer_run_told():
    """A run of an older window (`run --until` an hour back, after the current hour's run) reports the
    rows the newer run wrote as they were recorded, "new" among them: each target was sent them again,
    though the newer run had told it (only a send by this very run counted)."""
    from types import SimpleNamespace

    from flowscope.report.notify.message import select

    frame = findings(("a", "high", "aws"))
    stored, newer = step([], frame, T0 + 2 * DAY)
    stored = [{**r, C.notified: json.dumps({"ops": newer.run_id})} for r in stored]      # the newer run told ops
    _, older = changes(stored, frame, since=T0, until=T0 + DAY)
    assert older.states == {"a": "new"}
    content = SimpleNamespace(findings=frame, history=older, state_of=lambda fid: older.states.get(fid))
    assert select(content, min_severity="low", only_changes=True, target="ops") == []
    assert [r["id"] for r in select(content, min_severity="low", only_changes=True, target="dev")] == ["a"]
