"""A GCP workflow's past revisions never read as its current one: the newest `seen_at` of a workflow is
what the analyses and the store's rewrite rule take as its current revision (docs/model.md, workflows).
A past revision (fetched with `workflows.get?revisionId=` because an execution ran on it, or held by a
revisions export) is dated by its own creation, before the current one (`revision_seen_at`)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest

from flowscope.analysis import tables
from flowscope.collectors.assemble import _current_revisions
from flowscope.collectors.gcp import collector as gcp
from flowscope.collectors.gcp.transform.workflows import (
    CURRENT_WORKFLOWS,
    current_revisions,
    revision_seen_at,
    transform_workflows,
)
from flowscope.collectors.importer import import_files
from flowscope.collectors.native import ImportContext
from flowscope.model import C, RunStatus
from flowscope.store import Store
from tests.gcp.gcp_server import GcpServer, simulated_server, source_of

UTC = dt.timezone.utc
P, L = "proj-1", "us-central1"
WF = f"projects/{P}/locations/{L}/workflows/orders"
NOW = dt.datetime(2026, 11, 2, 12, tzinfo=UTC)


def t(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def us(n: int) -> dt.timedelta:
    return dt.timedelta(microseconds=n)


# ---------------------------------------------------------------- the rule, pure

CUR = {"revisionId": "000003-ccc", "revisionCreateTime": "2026-10-30T08:00:00Z",
       "updateTime": "2026-10-31T00:00:00Z", "createTime": "2026-10-01T00:00:00Z"}
PAST = {**CUR, "revisionId": "000002-bbb", "revisionCreateTime": "2026-10-20T08:00:00Z"}
NO_TIMES = {"revisionId": "000002-bbb"}
READ = t("2026-11-02T00:00:00")


@pytest.mark.parametrize("revision, current, read_at, expected", [
    (CUR, None, READ, READ),                                   # the current revision: the read's time
    (CUR, CUR, READ, READ),                                    # named current by its listing: the same
    (PAST, CUR, READ, t("2026-10-20T08:00:00")),               # past: its own creation, not the read's time
    ({**PAST, "revisionCreateTime": CUR["revisionCreateTime"]}, CUR, READ,
     t("2026-10-30T08:00:00") - us(1)),                        # created no earlier than the current one: just before it
    ({**PAST, "revisionCreateTime": "2026-11-03T00:00:00Z"},
     {**CUR, "revisionCreateTime": "2026-11-03T01:00:00Z"}, READ,
     READ - us(1)),                                            # clocks apart (made "after" the read): before it
    ({k: v for k, v in PAST.items() if k != "revisionCreateTime"}, CUR, READ,
     t("2026-10-01T00:00:00")),                                # no revisionCreateTime: the workflow's createTime,
                                                               # never updateTime (workflow-wide, as late as CUR)
    ({**PAST, "revisionCreateTime": "yesterday"}, CUR, READ, t("2026-10-01T00:00:00")),   # unreadable: no time
    (NO_TIMES, CUR, READ, t("2026-10-30T08:00:00") - us(1)),   # no time of its own: before the current's creation
    (NO_TIMES, {"revisionId": "000003-ccc"}, READ, READ - us(1)),   # nor the current's: before the read
    (CUR, None, None, t("2026-10-30T08:00:00")),               # no read time (a bare transform): its creation
    (PAST, CUR, None, t("2026-10-20T08:00:00")),
    (NO_TIMES, {"revisionId": "000003-ccc", "updateTime": "2026-10-31T00:00:00Z"}, None,
     t("2026-10-31T00:00:00") - us(1)),                        # before whatever dates the current one
    (NO_TIMES, {"revisionId": "000003-ccc"}, None, None),      # nothing dates it: the transform skips it
])
def test_a_past_revision_is_dated_before_the_current_one(revision, current, read_at, expected):
    seen = revision_seen_at(revision, current, read_at)
    assert seen == expected
    if current is not None and revision["revisionId"] != current["revisionId"] and seen is not None:
        current_seen = revision_seen_at(current, None, read_at)     # how the current revision's row is dated
        assert current_seen is None or seen < current_seen


def wf(revision: str, created: str | None = None, name: str = WF) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": name, "revisionId": revision, "sourceContents": "main:\n  steps: []\n"}
    if created:
        doc["revisionCreateTime"] = created
    return doc


@pytest.mark.parametrize("docs, listed, expected", [
    ([wf("000001-a"), wf("000003-c"), wf("000002-b")], [], "000003-c"),    # the highest ordinal
    ([wf("000002-b"), wf("000010-j")], [], "000010-j"),                     # as a number, not as text
    ([wf("000001-a"), wf("000003-c")], [wf("000002-b")], "000002-b"),       # what the listing says wins
    ([wf("x-late", "2026-10-02T00:00:00Z"), wf("y-early", "2026-10-01T00:00:00Z")], [], "x-late"),  # no ordinal
    ([wf("no-ordinal"), wf("000001-a")], [], "000001-a"),
    ([wf("²-x"), wf("9" * 5000 + "-y"), wf("000001-a")], [], "000001-a"),   # unreadable, not a crash
])
def test_the_current_revision_is_the_listed_or_the_newest(docs, listed, expected):
    found = current_revisions(docs, listed)
    assert list(found) == [WF] and found[WF]["revisionId"] == expected


def test_a_revisions_export_dates_each_past_revision_by_its_creation():
    """ListWorkflowRevisions (newest first): every revision was stamped with the read's time, a tie the
    store's rule names no revision current for and each analysis settled its own way."""
    doc = {"workflows": [wf("000003-c", "2026-10-30T08:00:00Z"), wf("000002-b", "2026-10-20T08:00:00Z"),
                         wf("000001-a", "2026-10-01T08:00:00Z")]}
    rows = transform_workflows(doc, ImportContext(seen_at=READ)).workflows
    assert {r[C.revision]: r[C.seen_at] for r in rows} == {
        "000003-c": READ, "000002-b": t("2026-10-20T08:00:00"), "000001-a": t("2026-10-01T08:00:00")}


def test_revisions_fetched_beside_a_listing_are_past_ones():
    """What the sync hands the transform with the revisions it fetched: the listing's current revision."""
    ctx = ImportContext(seen_at=READ, options={CURRENT_WORKFLOWS: [wf("000003-c", "2026-10-30T08:00:00Z")]})
    [row] = transform_workflows({"workflows": [wf("000002-b", "2026-10-20T08:00:00Z")]}, ctx).workflows
    assert row[C.seen_at] == t("2026-10-20T08:00:00")


# ---------------------------------------------------------------- a sync against the local server

CURRENT_SOURCE = """main:
  steps:
    - run_query:
        call: googleapis.bigquery.v2.jobs.query
        args:
          projectId: proj-1
    - done:
        return: ok
"""
OLD_SOURCE = CURRENT_SOURCE.replace("googleapis.bigquery.v2.jobs.query", "http.post")
CURRENT = {"name": WF, "revisionId": "000003-ccc", "sourceContents": CURRENT_SOURCE, "state": "ACTIVE",
           "createTime": "2026-10-01T00:00:00Z", "updateTime": "2026-10-30T08:00:00Z",
           "revisionCreateTime": "2026-10-30T08:00:00Z"}
OLD = {**CURRENT, "revisionId": "000002-bbb", "sourceContents": OLD_SOURCE,
       "revisionCreateTime": "2026-10-20T08:00:00Z"}         # updateTime and createTime are workflow-wide


def ts(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f000Z")


def add_execution(server: GcpServer, short: str, revision: str, start: dt.datetime) -> None:
    name = f"{WF}/executions/{short}"
    server.add_execution({"name": name, "state": "SUCCEEDED", "startTime": ts(start), "createTime": ts(start),
                          "endTime": ts(start + dt.timedelta(seconds=2)), "duration": "2s",
                          "workflowRevisionId": revision},
                         [{"name": f"{name}/stepEntries/1", "entryId": "1", "step": "run_query", "routine": "main",
                           "stepType": "STEP_CALL", "state": "STATE_SUCCEEDED", "createTime": ts(start),
                           "updateTime": ts(start + dt.timedelta(seconds=1))}])


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[GcpServer]:
    with simulated_server(monkeypatch) as srv:
        srv.add_workflow(OLD, current=False)
        srv.add_workflow(CURRENT)
        add_execution(srv, "on-current", "000003-ccc", NOW - dt.timedelta(hours=2))
        yield srv


def current_read(store: Store) -> tuple[dict[str, dt.datetime], set[tuple[str, str, str]], str]:
    """Each revision's seen_at, the revision the store's rewrite rule takes as current, and the one the
    dashboard's workflow page and graph read (`tables.workflow_definition`)."""
    rows = store.read_rows("workflows")
    picked = tables.workflow_definition(tables.prepare(Store.open(store.path).connect().cursor()), "gcp", WF)
    assert picked is not None
    return {r[C.revision]: r[C.seen_at] for r in rows}, _current_revisions(rows), picked[C.revision]


def test_a_sync_stores_the_past_revision_an_execution_ran_on_before_the_current_one(server, tmp_path):
    add_execution(server, "on-old", "000002-bbb", NOW - dt.timedelta(hours=1))
    store = Store(tmp_path / "s")
    [result] = gcp.sync(source_of(server, P), store, now=NOW)
    assert result.status == RunStatus.SUCCEEDED, result.row()
    assert result.counts["revisions_fetched"] == 1
    seen, current, picked = current_read(store)
    assert seen == {"000003-ccc": NOW, "000002-bbb": t("2026-10-20T08:00:00")}    # was NOW for both: a tie
    assert current == {("gcp", WF, "000003-ccc")} and picked == "000003-ccc"
    [old_run] = store.read_rows("executions", f"{C.execution_id} = '{WF}/executions/on-old'")
    assert old_run[C.revision] == "000002-bbb"                 # still read by the revision it ran on
    assert {r[C.meter] for r in store.read_rows("usage", f"{C.execution_id} = '{WF}/executions/on-old'")} \
        == {"gcp.workflows.external_step"}                     # its http.post, not the current connector call


def test_a_past_revision_fetched_by_a_later_sync_does_not_become_current(server, tmp_path):
    """The current revision read unchanged within a day is not written again (`SEEN_AT_REFRESH`): a past
    revision stamped with the later sync's time was the newest row, read as current until a day later."""
    store = Store(tmp_path / "s")
    gcp.sync(source_of(server, P), store, now=NOW)
    add_execution(server, "on-old", "000002-bbb", NOW + dt.timedelta(minutes=30))
    [result] = gcp.sync(source_of(server, P), store, now=NOW + dt.timedelta(hours=1))
    assert result.status == RunStatus.SUCCEEDED, result.row()
    assert result.counts["revisions_fetched"] == 1
    seen, current, picked = current_read(store)
    assert seen == {"000003-ccc": NOW, "000002-bbb": t("2026-10-20T08:00:00")}
    assert current == {("gcp", WF, "000003-ccc")} and picked == "000003-ccc"


# ---------------------------------------------------------------- flowscope import

@pytest.mark.parametrize("files", [
    [[CURRENT, OLD]],                          # `gcloud workflows revisions list --format=json`: one file
    [{"workflows": [OLD]}, CURRENT],           # two exports of one workflow, made at different times
    [CURRENT, OLD],                            # the same, read in the other order
], ids=["revisions-list", "older-export-first", "newer-export-first"])
def test_an_import_dates_past_revisions_before_the_current_one(tmp_path, files):
    paths = []
    for i, doc in enumerate(files):
        paths.append(tmp_path / f"{i}.json")
        paths[-1].write_text(json.dumps(doc))
    store = Store(tmp_path / "s")
    before = dt.datetime.now(UTC)
    import_files(store, paths)
    seen, current, picked = current_read(store)
    assert seen["000003-ccc"] >= before and seen["000002-bbb"] == t("2026-10-20T08:00:00")
    assert current == {("gcp", WF, "000003-ccc")} and picked == "000003-ccc"
