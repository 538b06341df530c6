"""A scope whose account cannot be read (no credentials, STS unreachable) is named after the profile
(`aws:default:<region>`): its failure must not stay "the last sync" of a scope that no later
success ever replaces. It is recorded under the scope the same source last collected, and a
failure that a later run of the same source superseded (under another scope id) no longer reads
as the last word in doctor and analyze; it stays recorded as it was."""

from __future__ import annotations

import json
import time

import pytest
from typer.testing import CliRunner

from flowscope.cli import app
from flowscope.collectors.sync import sync_store
from flowscope.exitcodes import ExitCode
from flowscope.model import RunStatus
from tests.aws.sfn_fake import ACCOUNT, FakeSfn, machine_handlers

REGION = "us-east-1"
REAL = f"aws:{ACCOUNT}:{REGION}"
PHANTOM = f"aws:default:{REGION}"
runner = CliRunner()


SM = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:orders"
EX = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:orders:run-1"
T0 = time.time() - 600
HANDLERS = {   # one state machine with one execution: doctor's "no data yet" stays out of the way
    **machine_handlers({"orders": SM}, "STANDARD", T0 - 60,
                       definition=json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}})),
    "ListExecutions": lambda b: {"executions": [] if b.get("redriveFilter") else [
        {"executionArn": EX, "stateMachineArn": SM, "name": "run-1", "status": "SUCCEEDED",
         "startDate": T0, "stopDate": T0 + 1}]},
    "GetExecutionHistory": lambda b: {"events": [
        {"id": 1, "previousEventId": 0, "type": "ExecutionStarted", "timestamp": T0,
         "executionStartedEventDetails": {"roleArn": "r"}},
        {"id": 2, "previousEventId": 1, "type": "ExecutionSucceeded", "timestamp": T0 + 1,
         "executionSucceededEventDetails": {}}]},
}


@pytest.fixture
def fake(_aws_env):
    with FakeSfn(HANDLERS) as server:
        yield server


def _source(fake: FakeSfn) -> dict:
    return {"cloud": "aws", "regions": [REGION], "endpoint_url": fake.endpoint, "metrics": False,
            "max_attempts": 1, "read_timeout": 2}


def _no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)


def _runs(store) -> list[tuple[str, str]]:
    rows = sorted(store.read_rows("collection_runs"), key=lambda r: r["started_at"])
    return [(r["scope"], r["status"]) for r in rows]


def _doctor(store):
    return runner.invoke(app, ["doctor", "--store", str(store.path)])


def _failed_collections(store) -> list:
    result = runner.invoke(app, ["analyze", "--store", str(store.path), "--since", "1d", "--format", "json"])
    return json.loads(result.stdout)["failed_collections"]


def test_a_failure_to_read_the_account_is_recorded_under_the_scope_the_source_last_collected(
        fake, store, monkeypatch):
    assert sync_store(store, [_source(fake)]).exit_code == 0
    with monkeypatch.context() as m:
        _no_credentials(m)
        report = sync_store(store, [_source(fake)])
    [failed] = report.results
    assert failed.status == RunStatus.FAILED and report.exit_code == 3
    assert failed.scope == REAL                              # not aws:default:us-east-1
    assert "credentials" in failed.error
    assert _doctor(store).exit_code == ExitCode.NO_DATA      # the failure is the last sync: said
    assert [f["scope"] for f in _failed_collections(store)] == [REAL]

    assert sync_store(store, [_source(fake)]).exit_code == 0  # credentials back
    assert _runs(store) == [(REAL, "succeeded"), (REAL, "failed"), (REAL, "succeeded")]
    doctor = _doctor(store)
    assert doctor.exit_code == ExitCode.OK, doctor.output
    assert PHANTOM not in doctor.output
    assert _failed_collections(store) == []


def test_a_first_failure_under_the_profile_name_is_superseded_by_the_source_succeeding_later(
        fake, store, monkeypatch):
    with monkeypatch.context() as m:
        _no_credentials(m)
        [failed] = sync_store(store, [_source(fake)]).results
    assert failed.scope == PHANTOM and failed.status == RunStatus.FAILED    # never collected: no better name
    assert _doctor(store).exit_code == ExitCode.NO_DATA
    assert [f["scope"] for f in _failed_collections(store)] == [PHANTOM]

    assert sync_store(store, [_source(fake)]).exit_code == 0
    assert _runs(store) == [(PHANTOM, "failed"), (REAL, "succeeded")]     # the failure stays recorded
    doctor = _doctor(store)
    assert doctor.exit_code == ExitCode.OK, doctor.output
    said = " ".join(doctor.output.split())
    assert f"last sync of {PHANTOM}: failed" in said and f"superseded: the same source synced later as {REAL}" in said
    assert _failed_collections(store) == []

    # another source (other globs) failing is not superseded by this one's success
    other = {**_source(fake), "state_machines": ["orders-*"]}
    with monkeypatch.context() as m:
        _no_credentials(m)
        sync_store(store, [other])
    assert _doctor(store).exit_code == ExitCode.NO_DATA
    assert len(_failed_collections(store)) == 1


def test_a_failure_of_a_source_no_longer_configured_is_history(fake, store, monkeypatch):
    """A scope failed, then its name globs were changed: the new globs make a new scope id, which
    collects, while the old scope's failure stayed its newest run, so analyze, report and run said
    "collection failed" (exit 3) for ever after. A later sync whose configuration no longer names the
    source supersedes it; one that still names it does not."""
    globbed = {**_source(fake), "state_machines": ["ord*"]}
    both = sync_store(store, [globbed, _source(fake)])
    assert {r.status for r in both.results} == {RunStatus.SUCCEEDED}
    with monkeypatch.context() as m:
        _no_credentials(m)
        sync_store(store, [globbed, _source(fake)])
    assert len(_failed_collections(store)) == 2                 # both failed last, both still configured

    assert sync_store(store, [_source(fake)]).exit_code == 0    # the globbed source removed from the config
    assert _failed_collections(store) == []
    doctor = _doctor(store)
    assert doctor.exit_code == ExitCode.OK, doctor.output
    assert "superseded: no longer configured" in " ".join(doctor.output.split())
