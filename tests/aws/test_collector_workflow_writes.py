"""A sync that reads the state machines as stored writes nothing to the workflows table: it rewrote every
machine's row each time to move its `seen_at` alone, a Delta commit and a file per sync (an hourly sync: 24 a
day), and said "wrote 3 workflows". A changed machine is still written at once, and an unchanged one once a day
(`assemble.SEEN_AT_REFRESH`), so `seen_at` still says when it was last seen."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

from flowscope.collectors.sync import SyncReport, sync_store
from flowscope.model import C, RunStatus
from flowscope.store import Store
from tests.aws.sfn_fake import ACCOUNT, FakeSfn, described_machine, machine_handlers

UTC = dt.timezone.utc
NAMES = ("orders", "billing", "shipping")
ARNS = {name: f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:{name}" for name in NAMES}


def definition(state: str) -> str:
    return json.dumps({"StartAt": state, "States": {state: {"Type": "Pass", "End": True}}})


class Machines:
    """Three Standard machines behind a fake Step Functions; `update` changes one's definition and revision."""

    def __init__(self) -> None:
        self.created = time.time() - 3600
        self.described = {arn: {"definition": definition("P"), "revisionId": "rev-1"} for arn in ARNS.values()}

    def update(self, name: str) -> None:
        self.described[ARNS[name]] = {"definition": definition("Q"), "revisionId": "rev-2"}

    def handlers(self) -> dict[str, Any]:
        def describe(body: dict[str, Any]) -> dict[str, Any]:
            arn = body["stateMachineArn"]
            return described_machine(arn, "STANDARD", self.created, **self.described[arn])

        return {**machine_handlers(ARNS, "STANDARD", self.created, describe=describe),
                "ListExecutions": lambda _body: {"executions": []}}


def sync(machines: Machines, store: Store, now: dt.datetime) -> SyncReport:
    with FakeSfn(machines.handlers()) as fake:
        source = {"cloud": "aws", "regions": ["us-east-1"], "endpoint_url": fake.endpoint, "metrics": False,
                  "max_attempts": 1}
        report = sync_store(store, [source], now=now)
    assert [r.status for r in report.results] == [RunStatus.SUCCEEDED], [r.row() for r in report.results]
    return report


def workflows_table(store: Store) -> tuple[int, set[Path]]:
    """The workflows table's version and every Parquet file in its folder (live or replaced, not yet vacuumed)."""
    return store.version()["workflows"], set((store.path / "workflows").rglob("*.parquet"))


def seen(store: Store) -> dict[tuple[str, str], dt.datetime]:
    return {(r[C.workflow_id], r[C.revision]): r[C.seen_at] for r in store.read_rows("workflows")}


def test_a_sync_that_reads_nothing_new_writes_no_workflows_and_says_so(_aws_env, store):
    machines, start = Machines(), dt.datetime.now(UTC).replace(microsecond=0)
    first = sync(machines, store, start)
    assert "wrote 3 workflows" in first.summary_lines()[0]
    before, seen_before = workflows_table(store), seen(store)

    for hours in (1, 2):
        again = sync(machines, store, start + dt.timedelta(hours=hours))
        assert workflows_table(store) == before                  # no commit, no new file
        assert seen(store) == seen_before == {(arn, "rev-1"): start for arn in ARNS.values()}
        line = again.summary_lines()[0]
        assert "wrote" not in line and line.endswith("succeeded, nothing new to store"), line
        assert not any(k.startswith("written_") for k in again.results[0].counts), again.results[0].counts


def test_a_changed_definition_is_written_and_becomes_the_current_revision(_aws_env, store):
    machines, start = Machines(), dt.datetime.now(UTC).replace(microsecond=0)
    sync(machines, store, start)
    version, _ = workflows_table(store)

    machines.update("billing")
    later = start + dt.timedelta(hours=1)
    report = sync(machines, store, later)

    assert "wrote 1 workflows" in report.summary_lines()[0], report.summary_lines()
    assert workflows_table(store)[0] == version + 1
    rows = seen(store)
    assert rows[(ARNS["billing"], "rev-2")] == later
    assert rows[(ARNS["billing"], "rev-1")] == rows[(ARNS["orders"], "rev-1")] == start
    current = max((r for r in store.read_rows("workflows") if r[C.workflow_id] == ARNS["billing"]),
                  key=lambda r: r[C.seen_at])
    assert current[C.revision] == "rev-2" and json.loads(current[C.definition])["StartAt"] == "Q"


def test_an_unchanged_machine_is_seen_again_once_a_day(_aws_env, store):
    """A day on, the row is written again (its versions and aliases are listed again then too), so `seen_at`
    stays within a day of the last sync that saw the machine."""
    machines, start = Machines(), dt.datetime.now(UTC).replace(microsecond=0)
    sync(machines, store, start)
    version, _ = workflows_table(store)
    day_on = start + dt.timedelta(days=1, hours=1)
    report = sync(machines, store, day_on)
    assert "wrote 3 workflows" in report.summary_lines()[0]
    assert workflows_table(store)[0] == version + 1
    assert set(seen(store).values()) == {day_on}
