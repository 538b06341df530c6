"""Issue 9, reading surfaces: no silent all-clear, readers never create a store, exit codes,
typo'd filters, empty windows, times out of range, terminal and CSV injection."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
import warnings
from pathlib import Path

import pytest
from typer.testing import CliRunner

import flowscope
from flowscope.cli import app
from flowscope.collectors.sync import SyncReport
from flowscope.collectors.window import ScopeResult
from flowscope.exitcodes import ExitCode
from flowscope.model import UTC, Batch, C, RunStatus
from flowscope.store import NotAStoreError, Store

runner = CliRunner()
T0 = dt.datetime(2026, 11, 10, tzinfo=UTC)
WINDOW = ["--since", "2026-11-09", "--until", "2026-11-12"]   # the data: 11-10 .. 11-11 14:00
NASTY = "\x1b]0;pwned\x07[bold]x[/bold]\x1b[31mred"


def rows(name: str, *, cloud: str = "aws", runs: int = 20, failing: bool = True,
         start: dt.datetime = T0) -> Batch:
    """A workflow with `runs` executions over two days; every run's one step fails when `failing`."""
    wf_id = f"{cloud}/{name}"
    batch = Batch(workflows=[{C.cloud: cloud, C.account: "acct", C.region: "r1", C.workflow_id: wf_id,
                              C.name: name, C.kind: "sfn-standard" if cloud == "aws" else "gcp-workflows",
                              C.revision: "1", C.seen_at: start}])
    for i in range(runs):
        at = start + dt.timedelta(hours=2 * i)
        status = "FAILED" if failing else "SUCCEEDED"
        ex_id = f"{wf_id}:e{i}"
        batch.executions.append({C.cloud: cloud, C.workflow_id: wf_id, C.workflow_name: name,
                                 C.kind: batch.workflows[0][C.kind], C.execution_id: ex_id,
                                 C.status: status, C.started_at: at, C.ended_at: at + dt.timedelta(seconds=2),
                                 C.duration_ms: 2000, C.region: "r1", C.revision: "1",
                                 C.start_date: at.date()})
        batch.steps.append({C.cloud: cloud, C.workflow_id: wf_id, C.execution_id: ex_id, C.step_key: "s#0",
                            C.name: name, C.type: "task", C.status: status, C.started_at: at,
                            C.ended_at: at + dt.timedelta(seconds=1), C.duration_ms: 1000, C.attempts: 1,
                            C.error: "States.TaskFailed" if failing else None,
                            C.start_date: at.date()})
    return batch


def run_row(scope: str, status: str, *, error: str | None = None, at: dt.datetime = T0,
            cloud: str = "aws") -> dict:
    return {C.run_id: f"{scope}-{at.isoformat()}", C.cloud: cloud, C.scope: scope, C.started_at: at,
            C.ended_at: at + dt.timedelta(minutes=1), C.status: status, C.watermark: None, C.counts: "{}",
            C.error: error, C.details: "{}"}


def make_store(path: Path, *batches: Batch) -> str:
    store = Store(path)
    for batch in batches:
        store.write(batch)
    return str(path)


@pytest.fixture(scope="module")
def payments(tmp_path_factory) -> str:
    """Two aws workflows, one failing, in 2026-11-10 .. 2026-11-12."""
    path = tmp_path_factory.mktemp("pay") / "store"
    return make_store(path, rows("payments-standard"), rows("orders-express", failing=False))


@pytest.fixture(autouse=True)
def _no_env_store(monkeypatch):
    monkeypatch.delenv("FLOWSCOPE_STORE", raising=False)
    monkeypatch.delenv("FLOWSCOPE_CONFIG", raising=False)


# 1. readers never create a store -------------------------------------------------------------

def test_readers_name_a_missing_store_and_never_create_it(tmp_path, monkeypatch):
    missing = tmp_path / "no" / "such" / "dir"
    for args in (["analyze", "--fail-on", "high"], ["doctor"], ["dashboard"]):
        served = []
        monkeypatch.setattr("flowscope.ui.server.serve", lambda *a, served=served, **k: served.append(a))
        result = runner.invoke(app, [*args, "--store", str(missing)])
        assert result.exit_code == ExitCode.USAGE, (args, result.output)
        assert "not a flowscope store" in result.output and str(missing) in result.output.replace("\n", "")
        assert "Traceback" not in result.output and not served
        assert not missing.exists() and not missing.parent.exists()


def test_bare_analyze_does_not_create_the_default_store(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["analyze"])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert ".flowscope" in result.output and not (tmp_path / ".flowscope").exists()


def test_notebook_open_and_analyze_raise_not_a_store(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(NotAStoreError, match="not a flowscope store"):
        flowscope.open(str(missing))
    with pytest.raises(NotAStoreError, match=str(missing)):
        flowscope.analyze(str(missing))
    assert not missing.exists()


def test_notebook_not_a_store_names_the_python_argument(tmp_path):
    """flowscope.open() said "pass --store" to a notebook user, who has no flag to pass: it names the
    call's argument (flowscope.analyze's own name when that is the call)."""
    missing = tmp_path / "nope"
    with pytest.raises(NotAStoreError) as raised:
        flowscope.open(str(missing))
    said = str(raised.value)
    assert "--store" not in said and "flowscope.open(" in said, said
    with pytest.raises(NotAStoreError) as raised:
        flowscope.analyze(str(missing))
    assert "--store" not in str(raised.value) and "flowscope.analyze(" in str(raised.value)
    result = runner.invoke(app, ["analyze", "--store", str(missing)])
    assert result.exit_code == ExitCode.USAGE and "pass --store" in result.output, "the CLI keeps its flag"


def test_a_folder_inside_a_store_names_the_store(tmp_path, monkeypatch):
    """`--store DIR/executions` (a table's folder, a tab completion too far) said "no _flowscope/ folder in
    it" and pointed at the demo's store; it names the store it is inside."""
    monkeypatch.setenv("HOME", str(tmp_path))
    Store(tmp_path / ".flowscope-demo")
    store = tmp_path / "store"
    run = {"cloud": "aws", "workflow_id": "wf", "workflow_name": "wf", "execution_id": "e1", "status": "SUCCEEDED",
           "started_at": dt.datetime(2026, 11, 1, tzinfo=UTC), "start_date": dt.date(2026, 11, 1)}
    Store(store).write({"executions": [run]})
    for inner in (store / "executions", store / "_flowscope"):
        result = runner.invoke(app, ["analyze", "--store", str(inner)])
        assert result.exit_code == ExitCode.USAGE, result.output
        said = " ".join(result.output.split())
        assert f"inside the store {store}: pass --store {store}" in said and "flowscope-demo" not in said
        with pytest.raises(NotAStoreError, match=f"inside the store {store}: call flowscope.open") as raised:
            flowscope.open(str(inner))
        assert "--store" not in str(raised.value)


# 2. typo'd filters ---------------------------------------------------------------------------

def test_typod_cloud_and_workflow_name_what_exists(payments):
    result = runner.invoke(app, ["analyze", "--store", payments, *WINDOW, "--cloud", "amazon"])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "amazon" in result.output and "aws, azure, gcp" in result.output
    result = runner.invoke(app, ["analyze", "--store", payments, *WINDOW, "--workflow", "paymnts-standard"])
    assert result.exit_code == ExitCode.USAGE, result.output
    text = result.output
    assert "paymnts-standard" in text and "payments-standard" in text and "orders-express" in text
    assert text.index("payments-standard") < text.index("orders-express")   # closest first


def test_notebook_typos_are_value_errors_with_the_same_text(payments):
    s = flowscope.open(payments)
    with pytest.raises(ValueError, match="payments-standard"):
        flowscope.analyze(s, workflows=["paymnts-standard"], since="2026-11-09", until="2026-11-12")
    with pytest.raises(ValueError, match="aws, azure, gcp"):
        s.executions(cloud="amazon")
    with pytest.raises(ValueError, match="nope.*payments-standard|payments-standard.*nope"):
        s.executions(workflow="nope")
    assert len(s.executions(workflow="payments-standard")) == 20


def test_a_valid_cloud_without_data_is_no_data_not_a_typo(payments):
    result = runner.invoke(app, ["analyze", "--store", payments, *WINDOW, "--cloud", "azure"])
    assert result.exit_code == ExitCode.NO_DATA, result.output
    assert "no executions" in result.output and "azure" in result.output


# 3. empty windows and empty stores -----------------------------------------------------------

def test_an_empty_window_gives_the_data_range_and_the_flag(payments):
    result = runner.invoke(app, ["analyze", "--store", payments, "--since", "2026-11-15", "--until", "2026-11-18"])
    assert result.exit_code == ExitCode.NO_DATA, result.output
    assert "no findings" not in result.output
    assert "empty" in result.output and "2026-11-10" in result.output and "--since 2026-11-10" in result.output


def test_json_is_an_object_telling_nothing_ran_from_healthy(payments):
    result = runner.invoke(app, ["analyze", "--store", payments, "--since", "2026-11-15", "--until", "2026-11-18",
                                 "--format", "json"])
    assert result.exit_code == ExitCode.NO_DATA
    doc = json.loads(result.stdout)
    assert doc["status"] == "no_data" and doc["findings"] == []
    assert doc["counts"]["executions"] == 0 and doc["counts"]["workflows"] == 0
    assert doc["window"]["since"].startswith("2026-11-15") and doc["window"]["until"].startswith("2026-11-18")
    assert doc["data_range"]["first"].startswith("2026-11-10") and doc["data_range"]["last"].startswith("2026-11-11")
    result = runner.invoke(app, ["analyze", "--store", payments, *WINDOW, "--format", "json",
                                 "--workflow", "payments-standard"])
    doc = json.loads(result.stdout)
    assert doc["status"] == "ok" and doc["counts"] == {**doc["counts"], "executions": 20, "workflows": 1}
    assert doc["filters"]["workflows"] == ["payments-standard"]
    assert {f["kind"] for f in doc["findings"]} >= {"failing_step"}


def test_csv_without_data_writes_nothing_to_stdout(payments):
    result = runner.invoke(app, ["analyze", "--store", payments, "--since", "2026-11-15", "--until", "2026-11-18",
                                 "--format", "csv"])
    assert result.exit_code == ExitCode.NO_DATA
    assert result.stdout == "" and "empty" in result.stderr


def test_an_empty_store_holds_no_executions_yet(tmp_path):
    Store(tmp_path / "s")
    for fmt in ("table", "json", "csv"):
        result = runner.invoke(app, ["analyze", "--store", str(tmp_path / "s"), "--format", fmt])
        assert result.exit_code == ExitCode.NO_DATA, result.output
        assert "no executions yet" in result.stderr
        assert "no findings" not in result.output


def test_coverage_is_one_analysis_layer_function(payments):
    from flowscope.analysis.run import window_coverage

    cov = window_coverage(Store.open(payments), since="2026-11-09", until="2026-11-12", clouds=["aws"])
    assert (cov.executions, cov.workflows, cov.status) == (40, 2, "ok")
    assert cov.first == T0 and cov.last == T0 + dt.timedelta(hours=38)
    empty = window_coverage(Store.open(payments), since="2026-11-15", until="2026-11-18")
    assert (empty.executions, empty.status) == (0, "no_data") and "--since 2026-11-10" in empty.message()
    stale = window_coverage(Store.open(payments), since="7d", now=T0 + dt.timedelta(days=30))
    assert stale.executions == 0 and "or --until 2026-11-12" in stale.message()   # 7 days before it: data
    ended = window_coverage(Store.open(payments), since="7d", until="2026-11-12", now=T0 + dt.timedelta(days=30))
    assert ended.executions == 40 and ended.message() is None


# 4. exit codes -------------------------------------------------------------------------------

@pytest.mark.slow  # runs analyze through the CLI over several stores
def test_analyze_exit_codes(tmp_path, payments):
    healthy = make_store(tmp_path / "ok", rows("orders-express", failing=False))
    assert runner.invoke(app, ["analyze", "--store", healthy, *WINDOW, "--fail-on", "low"]).exit_code == ExitCode.OK
    result = runner.invoke(app, ["analyze", "--store", payments, *WINDOW, "--fail-on", "high"])
    assert result.exit_code == ExitCode.FINDINGS
    failed = make_store(tmp_path / "failed", rows("orders-express", failing=False),
                        Batch(collection_runs=[run_row("aws:1/r1", "succeeded", at=T0),
                                               run_row("aws:1/r1", "failed", error="boom",
                                                       at=T0 + dt.timedelta(days=1))]))
    result = runner.invoke(app, ["analyze", "--store", failed, *WINDOW])
    assert result.exit_code == ExitCode.NO_DATA, result.output   # a failed last collection is never 0
    assert "aws:1/r1" in result.output and "boom" in result.output
    result = runner.invoke(app, ["analyze", "--store", failed, *WINDOW, "--cloud", "gcp"])
    assert result.exit_code == ExitCode.NO_DATA      # gcp: no data; the aws failure is out of scope
    assert "boom" not in result.output
    help_text = runner.invoke(app, ["analyze", "--help"]).output
    assert "3" in help_text and "no data" in help_text


def test_a_collection_that_failed_after_the_window_is_no_finding_of_it(tmp_path):
    """The window ended before the failed sync: the coverage said ok while a critical collection_gap
    finding named the later failure (and turned an empty window's exit 3 into 1 under --fail-on).
    Both read the scope's last collection before the window's end (`Context.collections_until`)."""
    store = make_store(tmp_path / "s", rows("orders-express", failing=False),
                       Batch(collection_runs=[run_row("aws:1/r1", "succeeded", at=T0),
                                              run_row("aws:1/r1", "failed", error="boom",
                                                      at=T0 + dt.timedelta(days=3))]))

    def analysed(*window: str) -> tuple[int, dict]:
        result = runner.invoke(app, ["analyze", "--store", store, *window, "--format", "json", "--fail-on",
                                     "critical"])
        return result.exit_code, json.loads(result.stdout)

    code, doc = analysed(*WINDOW)
    assert (code, doc["status"], doc["failed_collections"]) == (ExitCode.OK, "ok", [])
    assert "collection_gap" not in {f["kind"] for f in doc["findings"]}
    code, doc = analysed("--since", "2026-11-01", "--until", "2026-11-05")
    assert (code, doc["status"]) == (ExitCode.NO_DATA, "no_data"), "an empty window before the failure: 3, not 1"
    code, doc = analysed("--since", "2026-11-09", "--until", "2026-11-14")
    assert code == ExitCode.FINDINGS and doc["status"] == "collection_failed"
    assert "collection_gap" in {f["kind"] for f in doc["findings"]}


def test_a_workflow_typed_in_another_case_is_named_first():
    """`--workflow PAYMENTS-STANDARD` listed payments-standard ninth of twelve (closeness was case-sensitive)."""
    from flowscope.analysis.run import unknown_workflow_message

    names = ["crm-export", "etl-nightly", "order-router", "invoice-sync", "status-checker", "image-pipeline",
             "orders-standard", "ledger-standard", "payments-standard", "clickstream-express"]
    said = unknown_workflow_message("PAYMENTS-STANDARD", names)
    assert "('payments-standard' differs only in case" in said
    assert said.split("(closest first): ")[1].startswith("payments-standard, ")
    assert "differs only in case" not in unknown_workflow_message("paymnts-standard", names)


def test_a_missing_store_points_at_the_demo_store_when_there_is_one(tmp_path, monkeypatch):
    """After `flowscope demo` the first `flowscope analyze` (no --store) reads ~/.flowscope, which the demo
    never writes: the error said a store is made by `flowscope demo`, which the user had just run."""
    monkeypatch.setenv("HOME", str(tmp_path))
    result = runner.invoke(app, ["analyze"])
    assert result.exit_code == ExitCode.USAGE and "flowscope-demo" not in result.output
    Store(tmp_path / ".flowscope-demo")
    result = runner.invoke(app, ["analyze"])
    assert result.exit_code == ExitCode.USAGE
    assert "`flowscope demo` wrote its store to ~/.flowscope-demo: pass --store ~/.flowscope-demo" in \
        " ".join(result.output.split())
    with pytest.raises(NotAStoreError, match=r"flowscope.open\('~/.flowscope-demo'\)"):
        flowscope.open(str(tmp_path / "elsewhere"))
    assert "~/.flowscope-demo" in runner.invoke(app, ["demo", "--help"]).output, "demo's --store says its default"


@pytest.mark.slow  # four analyses
def test_a_window_running_far_past_the_data_says_so(payments):
    """The data (2026-11-10 .. 11-11) ends weeks before a window that runs to 2026-12-31: its spend was
    projected over every day of it without a word. analyze (text and JSON) and the notebook API say
    where the data ends and how to end the window there; a window that ends near the data says nothing."""
    wide = runner.invoke(app, ["analyze", "--store", payments, "--since", "2026-11-09", "--until", "2026-12-31"])
    text = " ".join(wide.output.split())
    assert ("the data ends at 2026-11-11T14:00:00Z and nothing was collected after 2026-11-11T14:00:00Z, "
            "49 d 10 h before the window's end") in text
    assert "use --until 2026-11-12 to end it where the data ends" in text
    assert wide.exit_code == ExitCode.NO_DATA, "data that stops weeks short of the window is no all-clear"
    doc = json.loads(runner.invoke(app, ["analyze", "--store", payments, "--since", "2026-11-09", "--until",
                                         "2026-12-31", "--format", "json"]).stdout)
    assert doc["note"].startswith("the data ends at 2026-11-11T14:00:00Z") and doc["status"] == "stale"
    near = runner.invoke(app, ["analyze", "--store", payments, "--since", "2026-11-09", "--until", "2026-11-12",
                               "--format", "json"])
    assert json.loads(near.stdout)["note"] is None and "before the window's end" not in near.output
    assert json.loads(near.stdout)["status"] == "ok" and near.exit_code == ExitCode.OK
    with pytest.warns(UserWarning, match=r"before the window's end.*use until='2026-11-12'"):
        flowscope.analyze(payments, since="2026-11-09", until="2026-12-31")


def test_a_quiet_time_that_syncs_looked_at_is_no_gap(tmp_path):
    """A weekly job's store, synced every hour: no run for days is a quiet time the syncs saw (their
    watermark passes it), not missing data; an imported store (no watermark) knows only its data."""
    synced = run_row("aws:1/r1", "succeeded", at=dt.datetime(2026, 12, 30, 23, tzinfo=UTC))
    synced[C.watermark] = dt.datetime(2026, 12, 30, 23, tzinfo=UTC)
    store = make_store(tmp_path / "s", rows("weekly-report", failing=False), Batch(collection_runs=[synced]))
    doc = json.loads(runner.invoke(app, ["analyze", "--store", store, "--since", "2026-11-09", "--until",
                                         "2026-12-31", "--format", "json"]).stdout)
    assert doc["note"] is None and doc["status"] == "ok", doc["note"]
    before = run_row("aws:1/r1", "succeeded", at=dt.datetime(2026, 11, 20, tzinfo=UTC))
    before[C.watermark] = dt.datetime(2026, 11, 20, tzinfo=UTC)
    old = make_store(tmp_path / "old", rows("weekly-report", failing=False), Batch(collection_runs=[before]))
    doc = json.loads(runner.invoke(app, ["analyze", "--store", old, "--since", "2026-11-09", "--until",
                                         "2026-12-31", "--format", "json"]).stdout)
    assert "nothing was collected after 2026-11-20T00:00:00Z" in doc["note"]


def test_doctor_exit_codes_and_next_step(tmp_path):
    empty = tmp_path / "empty"
    Store(empty)
    result = runner.invoke(app, ["doctor", "--store", str(empty)])
    assert result.exit_code == ExitCode.NO_DATA, result.output
    assert "no data yet" in result.output and "flowscope demo --no-serve" in result.output
    failed = make_store(tmp_path / "failed", Batch(collection_runs=[run_row("aws:1/r1", "failed", error=NASTY)]))
    result = runner.invoke(app, ["doctor", "--store", failed])
    assert result.exit_code == ExitCode.NO_DATA, result.output
    assert "\x1b" not in result.output and "[bold]x[/bold]" in result.output


def test_doctor_says_a_scheduler_that_stopped(tmp_path):
    """Every last sync had succeeded, weeks ago: doctor listed them and exited 0, though the cron job
    that runs the syncs had stopped. It gives each sync's age, names the scopes not synced for more
    than a day (`timewindow.STALE_AFTER`) and exits 3; a sync an hour ago is healthy."""
    now = dt.datetime.now(UTC)
    fresh = make_store(tmp_path / "fresh", rows("a", failing=False),
                       Batch(collection_runs=[run_row("aws:1/r1", "succeeded", at=now - dt.timedelta(hours=1))]))
    result = runner.invoke(app, ["doctor", "--store", fresh])
    assert result.exit_code == ExitCode.OK, result.output
    # 59 min, and seconds when the command ran a second or more after the store was written
    assert "last sync of aws:1/r1: succeeded at" in result.output, result.output
    assert re.search(r"\(59 min( \d+ s)? ago\)", result.output), result.output
    old = make_store(tmp_path / "old", rows("a", failing=False),
                     Batch(collection_runs=[run_row("aws:1/r1", "succeeded", at=now - dt.timedelta(days=3)),
                                            run_row("aws:1/r2", "succeeded", at=now - dt.timedelta(hours=2))]))
    result = runner.invoke(app, ["doctor", "--store", old])
    assert result.exit_code == ExitCode.NO_DATA, result.output
    assert "no sync of 1 scope(s) for 2 d 23 h or more" in " ".join(result.output.split())


def _run_of_a_gone_process(scope: str) -> tuple[dict, int]:
    """A collection run of `scope` left `running` five minutes ago by a process of this host that is gone."""
    import socket
    import subprocess
    import sys

    pid = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                             text=True, check=True).stdout)
    run = run_row(scope, "running", at=dt.datetime.now(UTC) - dt.timedelta(minutes=5))
    run[C.ended_at] = None
    run[C.details] = json.dumps({"writer": {"host": socket.gethostname(), "pid": pid}})
    return run, pid


def test_doctor_says_a_sync_that_was_killed(tmp_path):
    """A sync killed mid-way left its collection run `running` for ever, and doctor listed it as
    running and exited 0. A running run whose process is gone (its pid on this host no longer
    exists), or that has been running for more than a day, reads as interrupted: exit 3."""
    import socket

    from flowscope.runstate import RUNNING_LIMIT

    killed, pid = _run_of_a_gone_process("aws:1/r1")
    path = make_store(tmp_path / "killed", rows("a", failing=False), Batch(collection_runs=[killed]))
    result = runner.invoke(app, ["doctor", "--store", path])
    assert result.exit_code == ExitCode.NO_DATA, result.output
    said = " ".join(result.output.split())
    assert f"last sync of aws:1/r1: interrupted (its sync (pid {pid}) is gone)" in said
    assert "1 sync(s) stopped before they ended" in said
    doc = json.loads(runner.invoke(app, ["analyze", "--store", path, "--since", "2026-11-09", "--format",
                                         "json"]).stdout)
    [gap] = [f for f in doc["findings"] if f["kind"] == "collection_gap"]
    assert gap["title"] == (f"Last collection of aws:1/r1 was interrupted (its sync (pid {pid}) is gone)"
                            " - its findings may be missing, not absent") and gap["severity"] == "high"

    alive = {**killed, C.details: json.dumps({"writer": {"host": socket.gethostname(), "pid": os.getppid()}})}
    path = make_store(tmp_path / "alive", rows("a", failing=False), Batch(collection_runs=[alive]))
    result = runner.invoke(app, ["doctor", "--store", path])
    assert result.exit_code == ExitCode.OK, result.output        # its process still runs: a sync going on
    assert "last sync of aws:1/r1: running" in result.output

    old = {**alive, C.started_at: dt.datetime.now(UTC) - RUNNING_LIMIT - dt.timedelta(minutes=1), C.details: "{}"}
    path = make_store(tmp_path / "old", rows("a", failing=False), Batch(collection_runs=[old]))
    result = runner.invoke(app, ["doctor", "--store", path])
    assert result.exit_code == ExitCode.NO_DATA, result.output
    assert "interrupted (running for more than 24 h)" in " ".join(result.output.split())


def test_doctor_says_an_import_that_was_stopped_and_what_to_run(tmp_path):
    """A streamed import stopped after its first chunks leaves its row `running` (importer): doctor said "its
    sync (pid N) is gone ... run `flowscope sync` again", a command that does not re-read the user's files."""
    stopped, pid = _run_of_a_gone_process("import:aws")
    path = make_store(tmp_path / "stopped", rows("a", failing=False), Batch(collection_runs=[stopped]))
    result = runner.invoke(app, ["doctor", "--store", path])
    assert result.exit_code == ExitCode.NO_DATA, result.output
    said = " ".join(result.output.split())
    assert f"last import of aws: interrupted (its import (pid {pid}) is gone)" in said, said
    assert "1 import(s) stopped before they ended" in said and "import the same files again" in said, said
    assert "sync(s) stopped" not in said, said


def test_doctor_checks_the_notifications_as_run_will_send_them(tmp_path, monkeypatch):
    """`doctor` said nothing of [[notify]]: a typo'd type or a webhook variable missing from the cron
    environment surfaced only when a scheduled `run` failed to deliver. Now a wrong entry is the
    configuration error `run` gives (exit 2), and an entry whose variables this environment does
    not set is named, with the variables, and exits 2 too."""
    store = make_store(tmp_path / "s", rows("a", failing=False))
    config = tmp_path / "flowscope.toml"

    def doctor(text: str):
        config.write_text(text)
        return runner.invoke(app, ["doctor", "--store", store, "--config", str(config)])

    result = doctor('[[notify]]\ntype = "slak"\nurl_env = "FS_TEST_HOOK"\n')
    assert result.exit_code == ExitCode.USAGE and "type must be one of slack" in result.output
    entries = ('[[notify]]\ntype = "slack"\nurl_env = "FS_TEST_HOOK"\n[[notify]]\ntype = "email"\n'
               'host = "smtp.example.com"\nfrom = "a@example.com"\nto = ["b@example.com"]\n'
               'password_env = "FS_TEST_PASSWORD"\nsend = "all"\n')
    monkeypatch.delenv("FS_TEST_HOOK", raising=False)
    monkeypatch.delenv("FS_TEST_PASSWORD", raising=False)
    result = doctor(entries)
    assert result.exit_code == ExitCode.USAGE, result.output
    text = " ".join(result.output.split())
    assert "notify slack#1 (slack, high and above, changes only): not ready: FS_TEST_HOOK (slack webhook URL)" in text
    assert "notify email#2 (email, high and above, every run): not ready: FS_TEST_PASSWORD (SMTP password)" in text
    assert "2 notification(s) cannot be sent" in text
    monkeypatch.setenv("FS_TEST_HOOK", "http://127.0.0.1:9/hook")
    monkeypatch.setenv("FS_TEST_PASSWORD", "secret-value")
    result = doctor(entries)
    assert result.exit_code == ExitCode.OK, result.output
    assert result.output.count("configured, its variables set") == 2
    assert "secret-value" not in result.output and "127.0.0.1:9" not in result.output


def test_doctor_and_sync_agree_on_live_collection(tmp_path, monkeypatch):
    import dataclasses

    from flowscope.collectors import registry
    from flowscope.collectors.sync import live_collection_available, unavailable_reason

    assert all(live_collection_available(cloud) for cloud in ("aws", "azure", "gcp"))
    # A cloud this version could not collect live: doctor says what sync records, and no install hint.
    monkeypatch.setitem(registry.CLOUDS, registry.Cloud.GCP,
                        dataclasses.replace(registry.CLOUDS[registry.Cloud.GCP], collector=None))
    result = runner.invoke(app, ["doctor", "--store", make_store(tmp_path / "s", rows("a", failing=False))])
    assert not live_collection_available("gcp") and "[gcp]" not in result.output
    line = next(text for text in result.output.splitlines() if text.strip().startswith("gcp"))
    assert "not available in this version" in line and "flowscope import" in line
    assert unavailable_reason("gcp") in result.output.replace("\n", " ")
    azure = next(text for text in result.output.splitlines() if text.strip().startswith("azure"))
    assert "not available" not in azure


def _report(error: str | None, status: RunStatus, counts: dict | None = None) -> SyncReport:
    result = ScopeResult(cloud="aws", scope="aws:1/eu-west-1", started_at=T0)
    result.counts.update(counts or {})
    result.status = status.value
    result.error = error
    return SyncReport(results=[result])


def test_sync_summary_has_no_stray_braces_and_fails_with_3(tmp_path, monkeypatch):
    report = _report(NASTY, RunStatus.FAILED)
    assert report.exit_code == ExitCode.NO_DATA
    assert "{}" not in report.summary_lines()[0]
    assert "3 executions" in _report(None, RunStatus.SUCCEEDED, {"written_executions": 3}).summary_lines()[0]
    monkeypatch.setattr("flowscope.collectors.sync.run_sync", lambda *a, **k: report)
    config = tmp_path / "flowscope.toml"
    config.write_text(f'store = "{tmp_path / "s"}"\n')
    result = runner.invoke(app, ["sync", "--config", str(config)])
    assert result.exit_code == ExitCode.NO_DATA
    assert "\x1b" not in result.output and "[bold]x[/bold]" in result.output and "{}" not in result.output


# 5. times out of range -----------------------------------------------------------------------

def test_times_pandas_cannot_hold_are_refused_and_the_far_past_is_legal(payments):
    result = runner.invoke(app, ["analyze", "--store", payments, "--until", "9999-12-31"])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "9999-12-31" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["analyze", "--store", payments, "--since", "99999999999d"])
    assert result.exit_code == ExitCode.USAGE and "Traceback" not in result.output
    result = runner.invoke(app, ["analyze", "--store", payments, "--since", "2000-01-01", "--until", "2026-11-13"])
    assert result.exit_code == ExitCode.OK, result.output


def test_a_relative_since_counts_back_from_until_in_every_surface(payments):
    """`--since 2d --until 2026-11-12` is 10..12 November in analyze, report, run and the notebook API,
    not "2 days before today" (which ends before it starts: an empty-window error)."""
    from flowscope.report import build_content

    result = runner.invoke(app, ["analyze", "--store", payments, "--since", "2d", "--until", "2026-11-12",
                                 "--format", "json"])
    assert result.exit_code in (ExitCode.OK, ExitCode.FINDINGS), result.output
    assert json.loads(result.stdout)["window"] == {"since": "2026-11-10T00:00:00Z", "until": "2026-11-12T00:00:00Z"}
    content = build_content(Store.open(payments), since="2d", until="2026-11-12")
    assert (content.filters.since, content.filters.until) == (T0, T0 + dt.timedelta(days=2))
    runs = flowscope.open(payments).executions(since="1d", until="2026-11-11")
    assert len(runs) == 24 and runs[C.started_at].min() == T0 and runs[C.started_at].max() < T0 + dt.timedelta(days=1)


# 6. terminal injection -----------------------------------------------------------------------

def test_table_shows_names_as_text(tmp_path):
    store = make_store(tmp_path / "s", rows(NASTY))
    result = runner.invoke(app, ["analyze", "--store", store, *WINDOW])
    assert "failing_step" in result.stdout
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "[bold]x[/bold]red" in result.stdout and "]0;" not in result.stdout   # the OSC title is gone whole
    found = sum(1 for line in result.stdout.splitlines() if "failing_step" in line)
    assert f"{found} finding(s) in 20 executions of 1 workflow(s) from 2026-11-09 00:00 to 2026-11-12 00:00 UTC" \
        in result.output, "the table says what it covered, as an empty window does"


# 7. CSV formula injection --------------------------------------------------------------------

def test_csv_neutralises_formulas(tmp_path):
    names = ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)"]
    store = make_store(tmp_path / "s", *(rows(n) for n in names))
    result = runner.invoke(app, ["analyze", "--store", store, *WINDOW, "--format", "csv"])
    records = list(csv.DictReader(io.StringIO(result.stdout)))
    failing = [r for r in records if r["kind"] == "failing_step"]
    assert {r["workflow"] for r in failing} == {"'" + n for n in names}
    assert {r["step"] for r in failing} == {"'" + n for n in names}
    assert {r["monthly_usd_is"] for r in failing} == {"cost"}    # what the dollars are, as the JSON says
    for r in records:
        float(r["monthly_usd"])                   # numbers stay numbers
        assert not r["title"].startswith(("=", "+", "-", "@"))


# 8. metrics --------------------------------------------------------------------------------

def test_empty_metrics_say_why(payments):
    s = flowscope.open(payments)
    with pytest.warns(UserWarning, match="flowscope sync"):
        assert s.metrics().empty
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        s.executions()


def test_an_unforeseen_error_is_one_line_and_exit_5_not_findings(payments, monkeypatch, capsys):
    """A window before the price list's first day failed inside Ibis: a traceback and exit 1, which a
    scheduler reads as "findings". An error nobody foresaw is one line naming the private file that
    holds its traceback, and exit 5 (`ExitCode.INTERNAL`)."""
    import sys

    import flowscope.analysis.run as run_module
    from flowscope.cli import main

    def broken(*args, **kwargs):
        raise RuntimeError("something nobody foresaw")

    monkeypatch.setattr(run_module, "analyze_report", broken)
    monkeypatch.delenv("FLOWSCOPE_DEBUG", raising=False)
    monkeypatch.setattr(sys, "argv", ["flowscope", "analyze", "--store", payments, *WINDOW])
    with pytest.raises(SystemExit) as ended:
        main()
    assert ended.value.code == ExitCode.INTERNAL
    said = " ".join(capsys.readouterr().err.split())
    assert "RuntimeError: something nobody foresaw - a bug in flowscope" in said and "Traceback" not in said
    crash = Path(re.search(r"report it with (\S+flowscope-crash-\S+\.txt)", said).group(1))
    assert "Traceback" in crash.read_text() and crash.stat().st_mode & 0o077 == 0
    crash.unlink()


def test_usage_before_the_price_list_is_priced_as_of_its_first_day(tmp_path):
    """An export from 2018 (the official Logic Apps samples): every price takes effect in 2020, so no
    price was read and the analyses failed inside Ibis. Such usage is priced as of the list's first day."""
    from flowscope.analysis.pricing import PRICES, price_day, price_rows

    first = min(p.effective for p in PRICES)
    assert price_day(dt.date(2018, 8, 10)) == first and price_rows(dt.date(2018, 8, 10)) == price_rows(first)
    old = make_store(tmp_path / "old", rows("legacy", start=dt.datetime(2018, 8, 1, tzinfo=UTC)))
    result = runner.invoke(app, ["analyze", "--store", old, "--since", "2018-07-31", "--until", "2018-08-03",
                                 "--format", "json"])
    assert result.exit_code == ExitCode.OK, result.output
    assert json.loads(result.stdout)["counts"]["executions"] == 20


def test_output_closed_early_is_not_the_findings_code(tmp_path):
    """`flowscope doctor | head -1` (a reader that stops early) exited 1, the code `--fail-on` gives
    findings, so a script reading the exit status saw findings that nobody found. It is 141, what a
    shell reports for a command stopped by SIGPIPE."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "flowscope.cli", "doctor", "--store", str(tmp_path / "s")],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    proc.stdout.close()                          # the reader is gone before the first line is written
    assert proc.wait(60) == 141


def test_json_help_says_when_stdout_holds_no_object(payments):
    """The help said `--format json` "always prints one object"; a typo'd filter (exit 2) prints none, and
    a reader piping to jq read empty input: the help now says stdout holds the object unless exit 2 or 5."""
    result = runner.invoke(app, ["analyze", "--store", payments, "--format", "json", "--workflow", "paymnts"])
    assert result.exit_code == ExitCode.USAGE and result.stdout == ""
    text = " ".join(runner.invoke(app, ["analyze", "--help"], terminal_width=200).output.split())
    assert "always prints" not in text
    assert "--format json prints one object on stdout whenever the analysis ran (exit 0, 1 or 3; nothing for" in text


def test_doctor_does_not_page_on_an_import_done_days_ago(tmp_path):
    """An import-only store (no scheduler, no [[sources]]) was "no sync of 1 scope(s) for 2 d 23 h or more:
    is the scheduler ... still running?" and exit 3 from the day after its import, for ever; its rows
    read "last sync of import:aws". An import is said as one, and its age is no stopped scheduler."""
    now = dt.datetime.now(UTC)
    store = make_store(tmp_path / "s", rows("a", failing=False),
                       Batch(collection_runs=[run_row("import:aws", "succeeded", at=now - dt.timedelta(days=3))]))
    result = runner.invoke(app, ["doctor", "--store", store])
    text = " ".join(result.output.split())
    assert result.exit_code == ExitCode.OK, result.output
    assert "last import of aws: succeeded at" in text and "last sync of import" not in text
    assert "no sync of" not in text


def test_csv_without_findings_still_says_what_it_read(payments):
    """`analyze --format csv` of a healthy window without findings wrote nothing at all, on stdout or
    stderr (exit 0): a spreadsheet or script read an empty file as a failed run (pandas: "No columns to
    parse"). It writes the header row, and says on stderr what was analysed, as the table does."""
    result = runner.invoke(app, ["analyze", "--store", payments, *WINDOW, "--workflow", "orders-express",
                                 "--format", "csv"])
    assert result.exit_code == ExitCode.OK, result.output
    records = list(csv.DictReader(io.StringIO(result.stdout)))
    assert records == [] and result.stdout.startswith("id,kind,severity,cloud,workflow"), result.stdout
    assert "no findings in this window (20 executions of 1 workflow(s)" in " ".join(result.stderr.split())


def test_the_notebook_api_quotes_a_failed_collection_error_as_stored(tmp_path):
    """flowscope.analyze rewrote its whole warning by regular expressions to name its own arguments, the
    cloud's error text included: an error quoting a command line ("--since 2026-11-01 --until ...") read
    "since='2026-11-01', until=..." in the notebook. The notes are built in the notebook's words now,
    and what the cloud said is left as it was said."""
    said_by_cloud = "ValidationException: bad request: --since 2026-11-01 --until 2026-11-02 --cloud aws"
    path = make_store(tmp_path / "s", rows("payments-standard"),
                      Batch(collection_runs=[run_row("aws:1/r1", "failed", error=said_by_cloud,
                                                     at=T0 + dt.timedelta(days=1))]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        flowscope.analyze(path, since="2026-11-09", until="2026-11-12")
    text = "\n".join(str(w.message) for w in caught if w.category is UserWarning)
    assert said_by_cloud in text, text


def test_a_workflow_of_another_cloud_than_the_cloud_filter_is_a_usage_error(tmp_path):
    """`--cloud gcp --workflow orders-standard` (an aws workflow) selected nothing and said "no executions
    for --cloud gcp and --workflow orders-standard" with exit 3, as if the data were missing: a cron job so
    written read as a collection problem for ever. It is a usage error naming the workflow's cloud and the
    selected cloud's workflows; in the notebook a ValueError."""
    path = make_store(tmp_path / "s", rows("orders-standard", failing=False),
                      rows("etl-nightly", cloud="gcp", failing=False))
    result = runner.invoke(app, ["analyze", "--store", path, *WINDOW, "--cloud", "gcp",
                                 "--workflow", "orders-standard"])
    text = " ".join(result.output.split())
    assert result.exit_code == ExitCode.USAGE, result.output
    assert ("workflow 'orders-standard' is in aws, not in gcp; workflows of gcp (closest first): "
            "etl-nightly") in text, text
    with pytest.raises(ValueError, match="'orders-standard' is in aws, not in gcp"):
        flowscope.open(path).executions(cloud="gcp", workflow="orders-standard")
    both = runner.invoke(app, ["analyze", "--store", path, *WINDOW, "--cloud", "gcp", "--cloud", "aws",
                               "--workflow", "orders-standard"])
    assert both.exit_code == ExitCode.OK, both.output
