"""A GCP workflow export older than the revision an earlier `flowscope import` stored stays a past revision.

Each import dated the newest revision of its own files with its read time, so `gcloud workflows describe`
output saved last week and imported after today's made last week's revision the newest `seen_at`, which the
dashboard and the analyses read as the workflow's current revision (docs/model.md, workflows) until the next
sync. The import's current revision is now the newest of its files and the store (`workflows.import_options`,
by `revision_order`), so an older one is dated by its own creation, before the stored current one.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import yaml

from flowscope.analysis import tables
from flowscope.collectors.assemble import _current_revisions
from flowscope.collectors.importer import import_files
from flowscope.model import C
from flowscope.store import Store
from tests.gcp.test_revision_dates import CURRENT_SOURCE as SOURCE

UTC = dt.timezone.utc
WF = "projects/proj-1/locations/us-central1/workflows/orders"
# `gcloud workflows describe orders --location us-central1` (its default YAML), the Workflow resource's fields
NEW = {"name": WF, "description": "orders pipeline", "revisionId": "000003-c1f", "sourceContents": SOURCE,
       "state": "ACTIVE", "serviceAccount": "projects/proj-1/serviceAccounts/wf@proj-1.iam.gserviceaccount.com",
       "callLogLevel": "LOG_ERRORS_ONLY", "createTime": "2026-10-01T00:00:00.000000000Z",
       "updateTime": "2026-10-30T08:00:00.000000000Z", "revisionCreateTime": "2026-10-30T08:00:00.000000000Z"}
OLD = {**NEW, "revisionId": "000002-a7b", "sourceContents": SOURCE.replace("googleapis.bigquery.v2.jobs.query",
                                                                           "http.post"),
       "updateTime": "2026-10-20T08:00:00.000000000Z", "revisionCreateTime": "2026-10-20T08:00:00.000000000Z"}


def write(path: Path, doc: Any) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False) if path.suffix == ".yaml" else json.dumps(doc))
    return path


def current(store: Store) -> tuple[dict[str, dt.datetime], str]:
    """Each revision's seen_at, and the current revision as the dashboard's workflow page reads it
    (`tables.workflow_definition`, the newest seen_at), checked against the store's own rule."""
    rows = store.read_rows("workflows")
    picked = tables.workflow_definition(tables.prepare(Store.open(store.path).connect().cursor()), "gcp", WF)
    assert picked is not None
    assert _current_revisions(rows) == {("gcp", WF, picked[C.revision])}      # one current, no tie
    return {r[C.revision]: r[C.seen_at] for r in rows}, picked[C.revision]


def test_an_older_export_imported_after_a_newer_one_stays_a_past_revision(tmp_path):
    store = Store(tmp_path / "s")
    import_files(store, [write(tmp_path / "today.yaml", NEW)])
    first, _ = current(store)
    import_files(store, [write(tmp_path / "last-week.yaml", OLD)])
    seen, revision = current(store)
    assert revision == "000003-c1f"                # was 000002-a7b: the older export's read time was newest
    assert seen == {"000003-c1f": first["000003-c1f"], "000002-a7b": dt.datetime(2026, 10, 20, 8, tzinfo=UTC)}


def test_a_newer_export_imported_after_an_older_one_becomes_current(tmp_path):
    store = Store(tmp_path / "s")
    import_files(store, [write(tmp_path / "last-week.json", OLD)])
    import_files(store, [write(tmp_path / "today.json", NEW)])
    _, revision = current(store)
    assert revision == "000003-c1f"


def test_importing_the_same_files_again_changes_nothing(tmp_path):
    store = Store(tmp_path / "s")
    newer, older = write(tmp_path / "today.json", NEW), write(tmp_path / "last-week.json", OLD)
    import_files(store, [newer])
    import_files(store, [older])
    before = store.read_rows("workflows")
    for path in (older, newer, older):
        result = import_files(store, [path])
        assert result.written.get("workflows", 0) == 0
    assert store.read_rows("workflows") == before


def test_a_revisions_list_beside_a_newer_stored_revision(tmp_path):
    """`gcloud workflows revisions list` saved before the newest revision was made: every revision in it is past."""
    store = Store(tmp_path / "s")
    import_files(store, [write(tmp_path / "today.json", NEW)])
    first = {"revisionId": "000001-e02", "revisionCreateTime": "2026-10-01T00:00:00Z"}
    import_files(store, [write(tmp_path / "revisions.json", [OLD, {**OLD, **first}])])
    seen, revision = current(store)
    assert revision == "000003-c1f"
    assert seen["000001-e02"] == dt.datetime(2026, 10, 1, tzinfo=UTC)


def test_a_past_revision_with_no_time_is_dated_before_the_stored_current_one(tmp_path):
    """Neither revision carries a time (a trimmed export): the older one is dated just before the stored
    current revision's seen_at, where the import's own time made it newest."""
    bare = ("name", "revisionId", "sourceContents")
    store = Store(tmp_path / "s")
    import_files(store, [write(tmp_path / "today.json", {k: NEW[k] for k in bare})])
    first, _ = current(store)
    import_files(store, [write(tmp_path / "last-week.json", {k: OLD[k] for k in bare})])
    seen, revision = current(store)
    assert revision == "000003-c1f"
    assert seen["000002-a7b"] == first["000003-c1f"] - dt.timedelta(microseconds=1)


# the workflow deleted and created again under its name: GCP numbers its revisions from 000001 again
RECREATED = {**NEW, "revisionId": "000001-e42", "createTime": "2026-11-02T00:00:00.000000000Z",
             "updateTime": "2026-11-02T00:00:00.000000000Z", "revisionCreateTime": "2026-11-02T00:00:00.000000000Z"}


def test_a_workflow_created_again_is_current_though_its_revisions_start_again_at_1(tmp_path):
    """The old workflow's 000003 has the higher ordinal, but the new one's 000001 was created after it."""
    store = Store(tmp_path / "s")
    import_files(store, [write(tmp_path / "before-delete.json", NEW)])
    import_files(store, [write(tmp_path / "after-create.json", RECREATED)])
    _, revision = current(store)
    assert revision == "000001-e42"                 # was 000003-c1f: the old workflow's ordinal came first


def test_an_export_of_the_deleted_workflow_imported_later_stays_past(tmp_path):
    store = Store(tmp_path / "s")
    import_files(store, [write(tmp_path / "after-create.json", RECREATED)])
    first, _ = current(store)
    import_files(store, [write(tmp_path / "before-delete.json", NEW)])
    seen, revision = current(store)
    assert revision == "000001-e42"
    assert seen["000001-e42"] == first["000001-e42"]
    assert seen["000003-c1f"] == dt.datetime(2026, 10, 30, 8, tzinfo=UTC)      # dated by its own creation


def test_one_export_holding_both_workflows_names_the_new_one_current(tmp_path):
    """A revisions listing saved across the delete (or two files in one import): the last created is current."""
    store = Store(tmp_path / "s")
    import_files(store, [write(tmp_path / "both.json", {"workflows": [NEW, RECREATED]})])
    _, revision = current(store)
    assert revision == "000001-e42"
