"""Rows an earlier flowscope stored under the project number move to the project id, once
(`collectors/gcp/project_numbers.py`): a sync of a store from before stored the overlap again under
the id (every execution of the lag twice); the move is idempotent and survives a killed writer."""

from __future__ import annotations

import datetime as dt
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowscope.collectors.gcp import collector as gcp
from flowscope.collectors.gcp import executions_api, project_numbers, step_entries
from flowscope.model import EXECUTION_TABLES, C, RunStatus
from flowscope.simulate.base import SimSpec
from flowscope.simulate.gcp import PROJECT
from flowscope.store import Store
from tests.gcp.gcp_server import GcpServer, simulated_server, snapshot, source_of
from tests.store.helpers import killed_in_third_chunk

pytestmark = pytest.mark.slow   # several syncs against the local server

UTC = dt.timezone.utc
SPEC = SimSpec(dt.datetime(2026, 11, 1, tzinfo=UTC), dt.datetime(2026, 11, 2, tzinfo=UTC), 60, seed=5)
NOW = SPEC.end + dt.timedelta(hours=1)
LATER = NOW + dt.timedelta(minutes=30)
NUMBER = "123456789012"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[GcpServer]:
    with simulated_server(monkeypatch, SPEC) as srv:
        srv.project_numbers[PROJECT] = NUMBER
        yield srv


def old_sync(server: GcpServer, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sync by the flowscope of before: names kept as the Executions API gives them (the number)."""
    with monkeypatch.context() as m:
        for module in (executions_api, step_entries):
            m.setattr(module, "under_project_of", lambda name, _asked: name)
        [result] = gcp.sync(source_of(server, PROJECT), store, now=NOW)
    assert result.status == RunStatus.SUCCEEDED, result.row()
    assert numbered(store), "the old collector stored nothing under the number"


def numbered(store: Store) -> int:
    return sum(int(store.sql(f"SELECT count(*) n FROM {t} WHERE {C.execution_id} LIKE 'projects/{NUMBER}/%'"
                             f" OR {C.workflow_id} LIKE 'projects/{NUMBER}/%'")["n"][0])
               for t in EXECUTION_TABLES)


def no_duplicates(store: Store) -> None:
    for table in EXECUTION_TABLES:
        key = ", ".join(k for k in ("cloud", "execution_id", "step_key", "attempt", "meter")
                        if k in store.sql(f"SELECT * FROM {table} LIMIT 0").columns)
        dup = store.sql(f"SELECT {key}, count(*) n FROM {table} GROUP BY ALL HAVING n > 1")
        assert dup.empty, (table, dup.head())


def reference(server: GcpServer, tmp_path: Path) -> dict[str, list]:
    """What today's flowscope stores with the same two syncs."""
    store = Store(tmp_path / "reference")
    gcp.sync(source_of(server, PROJECT), store, now=NOW)
    gcp.sync(source_of(server, PROJECT), store, now=LATER)
    return snapshot(store)


def test_a_store_from_before_keeps_one_row_per_execution_after_the_next_sync(server, tmp_path, monkeypatch):
    store = Store(tmp_path / "s")
    old_sync(server, store, monkeypatch)
    [result] = gcp.sync(source_of(server, PROJECT), store, now=LATER)
    assert result.status == RunStatus.SUCCEEDED, result.row()
    assert numbered(store) == 0
    no_duplicates(store)
    assert len(store.read_rows("executions")) == 60
    assert result.counts["executions_moved_from_project_number"] == 60
    assert f"under project number {NUMBER}" in result.details["project_number_upgrade"]
    assert snapshot(store) == reference(server, tmp_path)

    # once: the next sync asks no project number and moves nothing
    before = snapshot(store)
    [again] = gcp.sync(source_of(server, PROJECT), store, now=LATER + dt.timedelta(minutes=1))
    assert "executions_moved_from_project_number" not in again.counts
    assert snapshot(store) == before


def test_the_move_run_again_changes_nothing(server, tmp_path, monkeypatch):
    store = Store(tmp_path / "s")
    old_sync(server, store, monkeypatch)
    assert project_numbers.upgrade_project_number(store, NUMBER, PROJECT) == 60
    moved = snapshot(store)
    (store.path / "_flowscope" / "upgrades" / project_numbers.step_name(NUMBER)).unlink()
    assert project_numbers.upgrade_project_number(store, NUMBER, PROJECT) == 0
    assert snapshot(store) == moved
    no_duplicates(store)
    assert {r[C.account] for r in store.read_rows("executions")} == {PROJECT}




def test_a_move_killed_half_way_loses_and_duplicates_nothing(server, tmp_path, monkeypatch):
    store = Store(tmp_path / "s")
    old_sync(server, store, monkeypatch)
    expected = Store(tmp_path / "expected")
    old_sync(server, expected, monkeypatch)
    project_numbers.upgrade_project_number(expected, NUMBER, PROJECT)

    proc = killed_in_third_chunk("from flowscope.collectors.gcp import project_numbers\nproject_numbers.CHUNK = 7",
                                 "write_and_delete",
                                 "project_numbers.upgrade_project_number(Store(sys.argv[1]), sys.argv[2], sys.argv[3])",
                                 str(store.path), NUMBER, PROJECT)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    store = Store(tmp_path / "s")
    half = len(store.read_rows("executions"))
    assert half == 60 and 0 < numbered(store), "two chunks moved, the rest still under the number"
    no_duplicates(store)

    assert project_numbers.upgrade_project_number(store, NUMBER, PROJECT) > 0
    assert numbered(store) == 0
    no_duplicates(store)
    assert snapshot(store) == snapshot(expected)


def test_workflow_revisions_stored_under_the_number_move_too(server, tmp_path, monkeypatch):
    """A workflow revision stored only under the number moves to the id; one stored under both
    keeps the id's row (today's collector wrote it)."""
    store = Store(tmp_path / "s")
    old_sync(server, store, monkeypatch)
    rows = store.read_rows("workflows")
    only_numbered = {**rows[0], C.workflow_id: rows[0][C.workflow_id].replace(f"projects/{PROJECT}/",
                                                                           f"projects/{NUMBER}/"),
                     C.revision: "000009-old", C.account: NUMBER}
    both = {**rows[1], C.workflow_id: rows[1][C.workflow_id].replace(f"projects/{PROJECT}/", f"projects/{NUMBER}/"),
            C.name: "stale copy"}
    store.write({"workflows": [only_numbered, both]})
    project_numbers.upgrade_project_number(store, NUMBER, PROJECT)
    after = store.read_rows("workflows")
    assert not [w for w in after if w[C.workflow_id].startswith(f"projects/{NUMBER}/")]
    moved = [w for w in after if w[C.revision] == "000009-old"]
    assert len(moved) == 1 and moved[0][C.workflow_id] == rows[0][C.workflow_id] and moved[0][C.account] == PROJECT
    assert len(after) == len(rows) + 1
    assert next(w for w in after if w[C.workflow_id] == rows[1][C.workflow_id]
                and w[C.revision] == rows[1][C.revision])[C.name] == rows[1][C.name]


def number_probes(server: GcpServer) -> int:
    """`executions.list` calls of one execution: what reads the project number."""
    return sum(1 for _m, p, q in server.requests if p.endswith("/executions") and q.get("pageSize") == ["1"])


def test_rows_of_deleted_workflows_move_too(server, tmp_path, monkeypatch):
    """The number was read only through a listed workflow that had numbered rows: when every
    workflow stored under the number had been deleted since, nothing was asked and the rows stayed
    under the number for ever (an extra 'project' of runs joining no workflow). Any listed workflow
    of the project tells its number; once known not to be a stored number, it is not asked again."""
    store = Store(tmp_path / "s")
    old_sync(server, store, monkeypatch)
    kept = dict(next(iter(server.workflows.values())))
    server.workflows.clear()                                   # every workflow of the old rows deleted
    fresh = {**kept, "name": kept["name"].rsplit("/", 1)[0] + "/created-since"}
    server.add_workflow(fresh)
    server.add_execution({"name": f"{fresh['name']}/executions/f-1", "state": "SUCCEEDED",
                          "createTime": "2026-11-02T00:55:00.000000000Z",
                          "startTime": "2026-11-02T00:55:00.000000000Z", "endTime": "2026-11-02T00:55:01.000000000Z",
                          "workflowRevisionId": fresh["revisionId"]})
    [result] = gcp.sync(source_of(server, PROJECT), store, now=LATER)
    assert result.counts.get("executions_moved_from_project_number") == 60, result.row()
    assert numbered(store) == 0
    no_duplicates(store)

    other = "999999999999"                 # rows under another project's number: asked once, then not
    row = {**store.read_rows("executions")[0]}
    row[C.execution_id] = row[C.execution_id].replace(f"projects/{PROJECT}/", f"projects/{other}/")
    row[C.workflow_id] = row[C.workflow_id].replace(f"projects/{PROJECT}/", f"projects/{other}/")
    store.write({"executions": [row]})
    server.requests.clear()
    gcp.sync(source_of(server, PROJECT), store, now=LATER + dt.timedelta(minutes=1))
    assert number_probes(server) == 1
    server.requests.clear()
    gcp.sync(source_of(server, PROJECT), store, now=LATER + dt.timedelta(minutes=2))
    assert number_probes(server) == 0
    assert len(store.read_rows("executions", f"{C.execution_id} LIKE 'projects/{other}/%'")) == 1
