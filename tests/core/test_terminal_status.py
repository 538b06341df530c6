"""A terminal status never goes back: an older RUNNING snapshot of an execution, imported after,
before or together with its finished snapshot (any file order), leaves it finished.

Each cloud's snapshots are its own export format: GCP `executions describe` (state ACTIVE vs
FAILED), AWS `describe-execution` (RUNNING vs FAILED), Azure `runs/get` (Running vs Failed; the
finished one is shared/samples/azure/WorkflowRuns_Get.json with a failure).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from flowscope.collectors.importer import import_files
from flowscope.model import UTC, C, Cloud, Status
from flowscope.store import Store

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples"
if not SAMPLES.is_dir():
    SAMPLES = Path("/work/shared/samples")

STARTED = dt.datetime(2026, 11, 2, 10, 0, 0, tzinfo=UTC)
ENDED = dt.datetime(2026, 11, 2, 10, 5, 30, tzinfo=UTC)
ERROR, CAUSE = "PaymentDeclined", "card expired"


def _gcp() -> tuple[dict[str, Any], dict[str, Any]]:
    name = "projects/acme/locations/europe-west1/workflows/orders/executions/0b5e3c1a-7d0e-4f5a-9b1c-000000000001"
    running = {"name": name, "startTime": "2026-11-02T10:00:00.000000Z", "state": "ACTIVE",
               "workflowRevisionId": "000001-abc", "duration": "12.5s", "argument": "{}",
               "status": {"currentSteps": [{"routine": "main", "step": "charge"}]}}
    done = dict(running, state="FAILED", endTime="2026-11-02T10:05:30.000000Z", duration="330s",
                error={"payload": ERROR, "context": CAUSE})
    del done["status"]
    return running, done


def _aws() -> tuple[dict[str, Any], dict[str, Any]]:
    arn = "arn:aws:states:eu-west-1:111111111111:execution:payments:run-0001"
    running = {"executionArn": arn, "name": "run-0001", "redriveCount": 0,
               "stateMachineArn": "arn:aws:states:eu-west-1:111111111111:stateMachine:payments",
               "status": "RUNNING", "startDate": "2026-11-02T10:00:00.000Z", "input": "{}"}
    done = dict(running, status="FAILED", stopDate="2026-11-02T10:05:30.000Z", error=ERROR, cause=CAUSE)
    return running, done


def _azure() -> tuple[dict[str, Any], dict[str, Any]]:
    sample = json.loads((SAMPLES / "azure" / "WorkflowRuns_Get.json").read_text())["responses"]["200"]["body"]
    done = copy.deepcopy(sample)
    props = done["properties"]
    props.update(startTime="2026-11-02T10:00:00Z", endTime="2026-11-02T10:05:30Z", status="Failed",
                 error={"code": ERROR, "message": CAUSE})
    props["trigger"].update(startTime="2026-11-02T10:00:00Z", endTime="2026-11-02T10:00:00Z")
    running = copy.deepcopy(done)
    props = running["properties"]
    props["status"] = "Running"
    for key in ("endTime", "error"):
        props.pop(key)
    return running, done


SNAPSHOTS = {Cloud.GCP: _gcp, Cloud.AWS: _aws, Cloud.AZURE: _azure}


def _files(folder: Path, cloud: Cloud) -> tuple[Path, Path]:
    running, done = SNAPSHOTS[cloud]()
    folder.mkdir(parents=True, exist_ok=True)
    old, new = folder / f"{cloud}-running.json", folder / f"{cloud}-finished.json"
    old.write_text(json.dumps(running))
    new.write_text(json.dumps(done))
    return old, new


def _stored_execution(store: Store) -> dict[str, Any]:
    rows = store.read_rows("executions")
    assert len(rows) == 1, rows
    return rows[0]


ORDERS = {
    "old-then-new, two imports": lambda old, new: [[old], [new]],
    "new-then-old, two imports": lambda old, new: [[new], [old]],
    "one import, old file first": lambda old, new: [[old, new]],
    "one import, new file first": lambda old, new: [[new, old]],
}


@pytest.mark.parametrize("order", list(ORDERS))
@pytest.mark.parametrize("cloud", list(SNAPSHOTS))
def test_a_finished_execution_stays_finished_whatever_the_order(tmp_path, cloud, order):
    old, new = _files(tmp_path / "files", cloud)
    store = Store(tmp_path / "store")
    for paths in ORDERS[order](old, new):
        import_files(store, paths)
    row = _stored_execution(store)
    assert row[C.status] == Status.FAILED.value
    assert row[C.ended_at] == ENDED
    assert row[C.duration_ms] == int((ENDED - STARTED).total_seconds() * 1000)
    assert row[C.error] == ERROR
    assert row[C.cause] == CAUSE


# ---------------------------------------------------------------------- AWS steps never go back

HISTORY_ARN = "arn:aws:states:eu-west-1:111111111111:execution:OrderFlow:run-0001"


def _aws_history() -> list[dict[str, Any]]:
    """The recorded Lambda task with three failed retries (shared/samples, LocalStack snapshot of
    real AWS), with increasing timestamps 1 s apart."""
    snapshot = json.loads((SAMPLES / "aws" / "localstack_snapshots" /
                           "scenarios_test_base_scenarios.snapshot.json").read_text())
    (entry,) = [v for k, v in snapshot.items() if k.endswith("::test_lambda_invoke_with_retry_base")]
    events = copy.deepcopy(entry["recorded-content"]["get_execution_history"]["events"])
    for i, event in enumerate(events):
        event["timestamp"] = (STARTED + dt.timedelta(seconds=i)).isoformat()
    return events


def _history_files(folder: Path, cut: int) -> tuple[Path, Path]:
    """The finished history, and the partial one of the same run while it was still running
    (its first `cut` events: what get-execution-history returned then)."""
    events = _aws_history()
    folder.mkdir(parents=True, exist_ok=True)
    partial, finished = folder / "history-running.json", folder / "history-finished.json"
    partial.write_text(json.dumps({"events": events[:cut]}))
    finished.write_text(json.dumps({"events": events}))
    return partial, finished


def _rows(store: Store, table: str, *ignored: str) -> list[dict[str, Any]]:
    rows = [{k: v for k, v in row.items() if k not in ignored} for row in store.read_rows(table)]
    return sorted(rows, key=lambda r: (str(r.get(C.step_key)), str(r.get(C.attempt)), str(r.get(C.meter))))


# cut 10: the Task is running its third try; cut 16: the Task has finished, the Pass state is running
@pytest.mark.parametrize("cut", [10, 16])
@pytest.mark.parametrize("order", list(ORDERS))
def test_finished_aws_steps_stay_finished_whatever_the_order(tmp_path, order, cut):
    partial, finished = _history_files(tmp_path / "files", cut)
    clean = Store(tmp_path / "clean")
    import_files(clean, [finished], execution_id=HISTORY_ARN)
    store = Store(tmp_path / "store")
    for paths in ORDERS[order](partial, finished):
        import_files(store, paths, execution_id=HISTORY_ARN)

    steps = _rows(store, "steps")
    assert [row[C.step_key] for row in steps] == ["16", "2"]             # no duplicated step
    assert [(r[C.status], r[C.ended_at], r[C.attempts]) for r in steps] == \
        [(r[C.status], r[C.ended_at], r[C.attempts]) for r in _rows(clean, "steps")]
    assert steps == _rows(clean, "steps")
    assert _rows(store, "attempts") == _rows(clean, "attempts")
    assert _rows(store, "usage") == _rows(clean, "usage")
    assert _rows(store, "executions", C.collected_at) == _rows(clean, "executions", C.collected_at)
