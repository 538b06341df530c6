"""A workflow revision read again as stored is not written again (`assemble._changed_workflows`): every sync and
import wrote each workflow's row anew to move its `seen_at` alone, a Delta commit and a file of the workflows
table each time. What readers take from `seen_at` still holds: the newest is the current revision (an older one
read again is written, current once more), and it is at most a day behind the last read (`SEEN_AT_REFRESH`)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from flowscope.collectors.assemble import SEEN_AT_REFRESH, assemble_batch
from flowscope.collectors.importer import import_files
from flowscope.collectors.registry import transforms_for
from flowscope.model import Batch, C
from flowscope.store import Store

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 11, 1, 8, tzinfo=UTC)
ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:orders"


def row(revision: str, seen_at: dt.datetime, **changed: Any) -> dict[str, Any]:
    return {C.cloud: "aws", C.account: "123456789012", C.region: "us-east-1", C.workflow_id: ARN,
            C.name: "orders", C.kind: "sfn-standard", C.revision: revision,
            C.definition: json.dumps({"StartAt": revision, "States": {revision: {"Type": "Pass", "End": True}}}),
            C.definition_format: "asl-json", C.attributes: "{}", C.seen_at: seen_at, **changed}


def stored(tmp_path: Path, *rows: dict[str, Any]) -> Store:
    store = Store(tmp_path / "store")
    store.write(Batch(workflows=list(rows)))
    return store


def written(store: Store, *incoming: dict[str, Any]) -> list[tuple[str, dt.datetime]]:
    """(revision, seen_at) of the workflows rows a write of `incoming` would hold."""
    out = assemble_batch(Batch(workflows=[dict(r) for r in incoming]), store, transforms_for=transforms_for)
    return [(r[C.revision], r[C.seen_at]) for r in out.workflows]


@pytest.mark.parametrize("later", [dt.timedelta(0), dt.timedelta(minutes=5), SEEN_AT_REFRESH - dt.timedelta(seconds=1)])
def test_the_current_revision_read_again_unchanged_within_a_day_is_not_written(tmp_path, later):
    store = stored(tmp_path, row("r1", T0))
    assert written(store, row("r1", T0 + later)) == []


def test_it_is_written_again_once_its_seen_at_is_a_day_old(tmp_path):
    store = stored(tmp_path, row("r1", T0))
    assert written(store, row("r1", T0 + SEEN_AT_REFRESH)) == [("r1", T0 + SEEN_AT_REFRESH)]


@pytest.mark.parametrize("changed", [{C.definition: "{}"}, {C.attributes: '{"logging_level": "ALL"}'},
                                     {C.kind: "sfn-express"}, {C.region: None}])
def test_any_other_column_changed_is_written_at_once(tmp_path, changed):
    store = stored(tmp_path, row("r1", T0))
    assert written(store, row("r1", T0 + dt.timedelta(minutes=5), **changed)) == [("r1", T0 + dt.timedelta(minutes=5))]


def test_an_older_revision_read_again_is_written_and_current_once_more(tmp_path):
    """Rolled back to a definition stored before (its revision hashed from the text): skipped, the newest
    `seen_at` would still name the revision rolled back from."""
    store = stored(tmp_path, row("r1", T0), row("r2", T0 + dt.timedelta(hours=1)))
    back = T0 + dt.timedelta(hours=2)
    assert written(store, row("r1", back)) == [("r1", back)]
    assert written(store, row("r2", back)) == []


def test_a_tie_between_revisions_is_settled_by_the_one_read_again(tmp_path):
    store = stored(tmp_path, row("r1", T0), row("r2", T0))
    assert written(store, row("r2", T0 + dt.timedelta(minutes=5))) == [("r2", T0 + dt.timedelta(minutes=5))]


def test_an_older_revision_carrying_its_own_time_is_not_written_again(tmp_path):
    """An older Logic Apps version is dated by its own change time: read again, it is the same row."""
    store = stored(tmp_path, row("r1", T0), row("r2", T0 + dt.timedelta(hours=1)))
    assert written(store, row("r1", T0)) == []


def test_a_revision_given_twice_is_judged_by_the_later_row(tmp_path):
    store = stored(tmp_path, row("r1", T0))
    later = T0 + dt.timedelta(minutes=5)
    assert written(store, row("r1", later), row("r1", later, **{C.attributes: '{"a": 1}'})) \
        == [("r1", later), ("r1", later)]
    assert written(store, row("r1", later, **{C.attributes: '{"a": 1}'}), row("r1", later)) == []


def test_importing_the_same_state_machine_again_writes_nothing(tmp_path):
    """A re-import of a describe-state-machine file: no commit to the workflows table, nothing counted written."""
    doc = {"stateMachineArn": ARN, "name": "orders", "type": "STANDARD", "revisionId": "r1",
           "definition": row("r1", T0)[C.definition], "creationDate": "2026-11-01T08:00:00Z", "roleArn": "r"}
    path = tmp_path / "describe.json"
    path.write_text(json.dumps(doc))
    store = Store(tmp_path / "store")
    assert import_files(store, [path]).written.get("workflows") == 1
    version, files = store.version()["workflows"], set((store.path / "workflows").rglob("*.parquet"))

    again = import_files(store, [path])

    assert "workflows" not in again.written, again.written
    assert store.version()["workflows"] == version
    assert set((store.path / "workflows").rglob("*.parquet")) == files
