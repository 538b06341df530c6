"""`flowscope import` end to end: native files in, store rows out, whatever the order."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from flowscope.collectors.assemble import assemble_batch
from flowscope.collectors.importer import import_files
from flowscope.collectors.native import NativeFormatError
from flowscope.collectors.registry import transforms_for
from flowscope.model import EXECUTION_TABLES, C, Cloud, Meter
from flowscope.simulate.demo import transform_simulated
from flowscope.store import Store
from tests.core.helpers import END, table_rows, write_documents


def reference_store(tmp_path: Path, sim) -> Store:
    """The in-memory path the demo takes: documents -> transforms -> assemble -> store."""
    store = Store(tmp_path / "reference")
    store.write(assemble_batch(transform_simulated(sim, seen_at=END), None, transforms_for=transforms_for))
    return store


@pytest.mark.parametrize("cloud", list(Cloud))
def test_files_in_any_order_over_several_imports_equal_the_direct_path(tmp_path, sims, cloud):
    sim = sims[cloud]
    paths = write_documents(tmp_path / "files", sim.documents)
    random.Random(11).shuffle(paths)
    store = Store(tmp_path / "store")
    for chunk in (paths[: len(paths) // 3], paths[len(paths) // 3: 2 * len(paths) // 3], paths[2 * len(paths) // 3:]):
        if chunk:
            import_files(store, chunk)
    expected = reference_store(tmp_path, sim)
    for table in ("workflows", *EXECUTION_TABLES):
        if table == "workflows":
            got = {(r[C.cloud], r[C.workflow_id], r[C.revision]) for r in store.read_rows(table)}
            want = {(r[C.cloud], r[C.workflow_id], r[C.revision]) for r in expected.read_rows(table)}
            assert got == want
            continue
        assert table_rows(store, table) == table_rows(expected, table), table


def test_importing_the_same_files_twice_changes_nothing(tmp_path, sims):
    paths = write_documents(tmp_path / "files", sims[Cloud.AWS].documents)
    store = Store(tmp_path / "store")
    import_files(store, paths)
    before = {t: table_rows(store, t) for t in EXECUTION_TABLES}
    import_files(store, paths)
    assert {t: table_rows(store, t) for t in EXECUTION_TABLES} == before


def test_azure_actions_before_their_workflow_are_reclassified_when_it_arrives(tmp_path, sims):
    sim = sims[Cloud.AZURE]
    workflow_docs = [d for d in sim.documents if d[0] == "azure.workflow"]
    run_docs = [d for d in sim.documents if d[0] != "azure.workflow"]
    store = Store(tmp_path / "store")
    import_files(store, write_documents(tmp_path / "runs", run_docs))
    meters = set(store.sql("SELECT DISTINCT meter FROM usage")[C.meter])
    trigger = {Meter.AZURE_LOGIC_BUILTIN_TRIGGER.value}
    assert meters == {Meter.AZURE_LOGIC_UNCLASSIFIED_ACTION.value} | (meters & trigger)
    import_files(store, write_documents(tmp_path / "workflows", workflow_docs))
    meters = set(store.sql("SELECT DISTINCT meter FROM usage")[C.meter])
    assert Meter.AZURE_LOGIC_UNCLASSIFIED_ACTION.value not in meters
    assert Meter.AZURE_LOGIC_BUILTIN_ACTION.value in meters
    assert table_rows(store, "usage") == table_rows(reference_store(tmp_path, sim), "usage")


def test_actions_without_their_runs_are_said_and_count_once_the_runs_arrive(tmp_path, sims):
    """An export of Logic Apps actions without the runs list stored steps of runs the store had no run
    record of, and said "N new executions"; it now says how many lack their run, until it comes."""
    sim = sims[Cloud.AZURE]
    actions = [d for d in sim.documents if d[0] not in ("azure.runs", "azure.workflow")]
    run_docs = [d for d in sim.documents if d[0] == "azure.runs"]
    assert actions and run_docs
    store = Store(tmp_path / "store")
    first = import_files(store, write_documents(tmp_path / "actions", actions))
    runs = {(r[C.cloud], r[C.execution_id]) for r in store.read_rows("steps")}
    assert first.runless_executions == len(runs) > 0 and not store.read_rows("executions")
    second = import_files(store, write_documents(tmp_path / "runs", run_docs))
    assert second.runless_executions == 0
    from typer.testing import CliRunner

    from flowscope.cli import app

    said = CliRunner().invoke(app, ["import", "--store", str(tmp_path / "cli"), str(tmp_path / "actions")]).output
    assert f"{len(runs)} execution(s) have steps or usage but no run record" in " ".join(said.split())
    assert {(r[C.cloud], r[C.execution_id]) for r in store.read_rows("executions")} >= runs


def test_a_bad_file_stops_the_import_and_writes_nothing(tmp_path, sims):
    good = write_documents(tmp_path / "files", sims[Cloud.GCP].documents[:3])
    store = Store(tmp_path / "store")
    import_files(store, good[:1])
    before = store.version()
    truncated = tmp_path / "truncated.json"
    truncated.write_text(good[1].read_text()[:-40])
    with pytest.raises(NativeFormatError, match=r"truncated.json: line 1 column \d+"):
        import_files(store, [good[2], truncated])
    assert store.version() == before
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps({"hello": "world"}))
    with pytest.raises(NativeFormatError, match="unknown.json: document: unknown format"):
        import_files(store, [unknown])
    with pytest.raises(NativeFormatError, match="no such file"):
        import_files(store, [tmp_path / "missing.json"])
    assert store.version() == before


def test_a_folder_is_every_file_under_it(tmp_path, sims):
    """An export is often a folder of parts: `flowscope import exports/` reads every file under it
    (sorted, hidden ones left out, a file named twice read once); it used to say "no such file"."""
    sim = sims[Cloud.GCP]
    folder = tmp_path / "exports"
    paths = write_documents(folder / "parts", sim.documents)
    (folder / ".cache").mkdir()
    (folder / ".cache" / "junk.json").write_text("not json")
    folder_store, files_store = Store(tmp_path / "by-folder"), Store(tmp_path / "by-files")
    result = import_files(folder_store, [folder, paths[0]])
    assert result.files == len(paths)
    import_files(files_store, paths)
    for table in EXECUTION_TABLES:
        assert table_rows(folder_store, table) == table_rows(files_store, table), table
    (tmp_path / "empty").mkdir()
    with pytest.raises(NativeFormatError, match="empty: folder: holds no files"):
        import_files(folder_store, [tmp_path / "empty"])


def test_one_bad_record_in_a_good_file_is_skipped_and_reported(tmp_path, sims):
    docs = [d for d in sims[Cloud.AWS].documents if d[0] == "aws.log_records"][:1]
    path = write_documents(tmp_path / "files", docs)[0]
    lines = path.read_text().splitlines()
    record = json.loads(lines[1])
    del record["type"]
    lines[1] = json.dumps(record)
    path.write_text("\n".join(lines) + "\n")
    store = Store(tmp_path / "store")
    result = import_files(store, [path])
    assert len(result.skips) == 1 and path.name in result.skips[0].source
    assert result.written["executions"] >= 1
    runs = store.sql("SELECT status, counts FROM collection_runs")
    assert list(runs["status"]) == ["partial"]
    assert json.loads(runs["counts"][0])["skipped_records"] == 1


def test_bare_history_needs_its_execution_arn(tmp_path):
    history = {"events": [
        {"id": 1, "previousEventId": 0, "timestamp": "2026-11-20T10:00:00.000Z", "type": "ExecutionStarted",
         "executionStartedEventDetails": {"input": "{}", "roleArn": "arn:aws:iam::111111111111:role/r"}},
        {"id": 2, "previousEventId": 1, "timestamp": "2026-11-20T10:00:00.100Z", "type": "PassStateEntered",
         "stateEnteredEventDetails": {"name": "Hello", "input": "{}"}},
        {"id": 3, "previousEventId": 2, "timestamp": "2026-11-20T10:00:00.200Z", "type": "PassStateExited",
         "stateExitedEventDetails": {"name": "Hello", "output": "{}"}},
        {"id": 4, "previousEventId": 3, "timestamp": "2026-11-20T10:00:00.300Z", "type": "ExecutionSucceeded",
         "executionSucceededEventDetails": {"output": "{}"}},
    ]}
    path = tmp_path / "history.json"
    path.write_text(json.dumps(history))
    store = Store(tmp_path / "store")
    with pytest.raises(NativeFormatError, match="history.json"):
        import_files(store, [path])
    arn = "arn:aws:states:eu-west-1:111111111111:execution:hello:run-1"
    import_files(store, [path], execution_id=arn)
    rows = store.read_rows("executions")
    assert [(r[C.execution_id], r[C.status], r[C.workflow_name], r[C.duration_ms]) for r in rows] == [
        (arn, "SUCCEEDED", "hello", 300)]
    assert store.sql("SELECT sum(quantity) AS q FROM usage")["q"][0] == 1.0


def test_clock_skew_and_out_of_order_events_keep_timestamps_and_never_go_negative(tmp_path):
    events = [
        {"id": 3, "previousEventId": 2, "timestamp": "2026-11-20T10:00:00.150Z", "type": "PassStateExited",
         "stateExitedEventDetails": {"name": "Hello", "output": "{}"}},
        {"id": 1, "previousEventId": 0, "timestamp": "2026-11-20T10:00:00.200Z", "type": "ExecutionStarted",
         "executionStartedEventDetails": {"input": "{}", "roleArn": "arn:aws:iam::111111111111:role/r"}},
        {"id": 4, "previousEventId": 3, "timestamp": "2026-11-20T10:00:00.190Z", "type": "ExecutionSucceeded",
         "executionSucceededEventDetails": {"output": "{}"}},
        {"id": 2, "previousEventId": 1, "timestamp": "2026-11-20T10:00:00.180Z", "type": "PassStateEntered",
         "stateEnteredEventDetails": {"name": "Hello", "input": "{}"}},
    ]
    path = tmp_path / "skewed.json"
    path.write_text(json.dumps({"events": events}))
    store = Store(tmp_path / "store")
    import_files(store, [path], execution_id="arn:aws:states:eu-west-1:111111111111:execution:hello:skew")
    execution = store.read_rows("executions")[0]
    assert execution[C.status] == "SUCCEEDED" and execution[C.duration_ms] == 0
    assert execution[C.ended_at] < execution[C.started_at]          # kept as the cloud recorded them
    steps = store.read_rows("steps")
    assert [(s[C.name], s[C.duration_ms]) for s in steps] == [("Hello", 0)]


def test_a_file_named_again_by_another_path_is_read_once(tmp_path):
    """`flowscope import exports exports/../exports/runs.json link.json` used to read runs.json
    three times ("imported 3 file(s)"); it is one file, read once, named as first given."""
    folder = tmp_path / "exports"
    folder.mkdir()
    runs = folder / "runs.json"
    runs.write_text(json.dumps({"executions": [{
        "name": "projects/p/locations/l/workflows/w/executions/e1", "startTime": "2026-11-20T10:00:00Z",
        "state": "ACTIVE"}]}))
    (tmp_path / "link.json").symlink_to(runs)
    result = import_files(Store(tmp_path / "store"),
                          [folder, folder / ".." / "exports" / "runs.json", tmp_path / "link.json"])
    assert result.files == 1
    assert result.new_executions == 1
