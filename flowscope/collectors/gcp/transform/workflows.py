"""`gcp.workflow`: a Workflow resource, or ``{"workflows": [...]}`` (ListWorkflows /
ListWorkflowRevisions) -> workflows rows, one per revision seen, the source stored without the
credentials written into it (`secrets.stored_source`), dated so that the newest `seen_at` of a
workflow is its current revision (`revision_seen_at`): the newest of the import's files and the store
(`import_options`), so an export older than what an earlier import stored stays a past revision."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from flowscope.collectors.gcp.definition import definition_problem
from flowscope.collectors.gcp.transform.names import parse_name, workflow_id
from flowscope.collectors.gcp.transform.records import CLOUD, KIND, json_attrs, records_of
from flowscope.collectors.gcp.transform.secrets import stored_source
from flowscope.collectors.native import (
    ImportContext,
    StoredRows,
    definition_too_large,
    nothing_stored,
    row_attributes,
    text_field,
)
from flowscope.model import Batch, C, Skip, utc_text

DEFINITION_FORMAT = "gcp-yaml"

CURRENT_WORKFLOWS = "current_workflows"
"""`ImportContext.options` key: the Workflow resources a listing (`workflows.list`, or `workflows.get` without a
revision) returned, i.e. each workflow's current revision. Any other revision of those workflows in the document
is a past one (`revision_seen_at`). A workflow it does not name takes the document's newest revision as current."""

_JUST_BEFORE = dt.timedelta(microseconds=1)
"""The store's resolution: a past revision is dated at least this much before the current one."""

_STORED_SEEN_AT = "flowscope:storedSeenAt"
"""A stored revision's (`stored_revision`) own `seen_at`: a past revision is dated before it too, also when no
revisionCreateTime was stored to date it by (no Workflow resource has the key)."""


def _time(doc: Mapping[str, Any], *keys: str) -> dt.datetime | None:
    """The first of `keys` holding a readable RFC 3339 time (a bad one is no time: the revision is still stored)."""
    for key in keys:
        try:
            found = utc_text(doc.get(key))
        except (TypeError, ValueError):
            continue
        if found is not None:
            return found
    return None


def _workflow_of(doc: Any) -> str | None:
    parts = parse_name(doc.get("name")) if isinstance(doc, dict) else None
    return workflow_id(parts["p"], parts["l"], parts["w"]) if parts and not parts["e"] else None


def revision_order(doc: Mapping[str, Any]) -> tuple[dt.datetime, int]:
    """How new a revision is: its revisionCreateTime, then its ordinal ("000003-1a2" -> 3). GCP has no rollback
    (deploying an older source makes a new revision), so the last created is the current one.

    The time comes first: a workflow deleted and created again under its name numbers its revisions from
    000001 again, so its old 000005 has the higher ordinal, but every revision of the new workflow was created
    after the old one was deleted. Within one workflow the two orders agree, and the ordinal breaks a tie (or
    orders revisions whose file holds no creation time, which sort before those that do: every Workflow
    resource of the API has one). An unreadable ordinal ("²", thousands of digits: a hostile file) is -1."""
    head = str(doc.get("revisionId") or "").partition("-")[0]
    ordinal = int(head) if head.isdecimal() and len(head) < 19 else -1
    return _time(doc, "revisionCreateTime") or dt.datetime.min.replace(tzinfo=dt.timezone.utc), ordinal


def workflow_records(doc: Any) -> list[Any]:
    """The records of a `gcp.workflow` document as the transform reads them (`records.records_of`): a list
    response's, a top-level list's, or the one resource; [] for a shape the transform refuses."""
    if isinstance(doc, dict):
        items = doc["workflows"] if "workflows" in doc else [doc]
        return items if isinstance(items, list) else []
    return doc if isinstance(doc, list) else []


def current_revisions(docs: Iterable[Any], listed: Iterable[Any] = ()) -> dict[str, Mapping[str, Any]]:
    """workflow_id -> the Workflow resource of its current revision: the listing's (`listed`), else the newest
    of `docs` (a ListWorkflowRevisions export holds them all, a ListWorkflows one the current ones alone).
    Records that are no workflow revision are left to the transform to skip."""
    found: dict[str, Mapping[str, Any]] = {}
    for doc in docs:
        wf = _workflow_of(doc)
        if wf and doc.get("revisionId") and (wf not in found or revision_order(doc) > revision_order(found[wf])):
            found[wf] = doc
    for doc in listed:
        wf = _workflow_of(doc)
        if wf and doc.get("revisionId"):
            found[wf] = doc
    return found


def stored_revision(row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored workflows row as the Workflow resource `revision_order` and `revision_seen_at` read: its name,
    revisionId and revisionCreateTime (kept in `attributes`), and its `seen_at` (`_STORED_SEEN_AT`)."""
    return {"name": row[C.workflow_id], "revisionId": row[C.revision],
            "revisionCreateTime": row_attributes(row).get("revisionCreateTime"), _STORED_SEEN_AT: row[C.seen_at]}


def import_options(docs: Iterable[tuple[str, Any]], stored: StoredRows = nothing_stored) -> dict[str, Any]:
    """The options every GCP document of one import is read with (`collectors.native`'s hook): each workflow's
    current revision, the newest any of its `gcp.workflow` files holds, or the store if it holds a newer one
    (`CURRENT_WORKFLOWS`). Another revision is a past one, dated by its own creation before it
    (`revision_seen_at`), not by the import's time: two files of one workflow exported at different times named
    no revision current (a tie), or the older one, and so did an older export imported after a newer one (a
    later `flowscope import`) until the next sync. The store is read only for an import holding workflows."""
    records = [r for fmt, doc in docs if fmt == "gcp.workflow" for r in workflow_records(doc)]
    named = {wf for r in records if (wf := _workflow_of(r))}
    kept = [stored_revision(row) for row in stored("workflows") if row[C.workflow_id] in named] if named else []
    current = current_revisions([*records, *kept])       # a stored revision wins only if strictly newer
    return {CURRENT_WORKFLOWS: list(current.values())} if current else {}


def revision_seen_at(revision: Mapping[str, Any], current: Mapping[str, Any] | None,
                     read_at: dt.datetime | None) -> dt.datetime | None:
    """`seen_at` of a revision's row, `current` being its workflow's current revision (None: it is current) and
    `read_at` when it was read. The newest `seen_at` names a workflow's current revision (docs/model.md), so
    only that one takes the read's time (else its revisionCreateTime, updateTime or createTime). A past
    revision, read because an execution ran on it, is dated by its own revisionCreateTime (else the
    workflow's createTime; never updateTime, which is workflow-wide and as late as the current revision),
    and at most just before the read, the current revision's creation and, a stored current one, its stored
    `seen_at`: it sorts before the current revision's row, also one stored a day earlier
    (`assemble.SEEN_AT_REFRESH`) or by an earlier import. None: nothing dates it."""
    if current is None or current.get("revisionId") == revision.get("revisionId"):
        return read_at or _time(revision, "revisionCreateTime", "updateTime", "createTime")
    current_at = [t for t in (read_at, _time(current, "revisionCreateTime"), _time(current, _STORED_SEEN_AT))
                  if t is not None]
    ceiling = min(current_at) if current_at else revision_seen_at(current, None, None)
    dates = [t for t in (_time(revision, "revisionCreateTime", "createTime"),
                         None if ceiling is None else ceiling - _JUST_BEFORE) if t is not None]
    return min(dates) if dates else None


def transform_workflows(doc: Any, ctx: ImportContext) -> Batch:
    """Workflow resources -> workflows rows (one per revision seen)."""
    batch = Batch()
    items, where = records_of(doc, "workflows", ctx, "gcp.workflow")
    currents = current_revisions(items, ctx.options.get(CURRENT_WORKFLOWS) or ())
    for i, wf in enumerate(items):
        loc = f"{where}[{i}]" if where != "$" else "$"
        if not isinstance(wf, dict):
            batch.skips.append(Skip(ctx.source_name, loc, "workflow is not an object"))
            continue
        parts = parse_name(wf.get("name"))
        if not parts or parts["e"]:
            batch.skips.append(Skip(ctx.source_name, loc, f"not a workflow resource name: {wf.get('name')!r}"))
            continue
        revision = wf.get("revisionId")
        if not revision:
            batch.skips.append(Skip(ctx.source_name, loc, "workflow without revisionId"))
            continue
        try:
            source = text_field(wf, "sourceContents")
        except ValueError as exc:
            batch.skips.append(Skip(ctx.source_name, loc, f"bad workflow: {exc}"))
            continue
        stored = None if source is None else stored_source(source)
        too_large = definition_too_large(stored)          # of the text a row would keep, as on AWS and Azure
        problem = definition_problem(source) if isinstance(source, str) and not too_large else None
        if too_large:
            batch.warnings.append(
                f"{ctx.source_name}: workflow {parts['w']} ({wf.get('name')}, revision {revision}): "
                f"its source is not stored ({too_large}); its call steps are billed as external steps "
                "(an upper bound)")
        if problem:
            batch.warnings.append(
                f"{ctx.source_name}: workflow {parts['w']} ({wf.get('name')}, revision {revision}): "
                f"its source could not be parsed ({problem}); its call steps are billed as external "
                "steps (an upper bound) until a readable revision is imported")
        seen = revision_seen_at(wf, currents.get(workflow_id(parts["p"], parts["l"], parts["w"])), ctx.seen_at)
        if seen is None:
            batch.skips.append(Skip(ctx.source_name, loc, "no time to date the revision (seen_at)"))
            continue
        batch.workflows.append({
            C.cloud: CLOUD,
            C.account: parts["p"],
            C.region: parts["l"],
            C.workflow_id: workflow_id(parts["p"], parts["l"], parts["w"]),
            C.name: parts["w"],
            C.kind: KIND,
            C.revision: str(revision),
            C.definition: None if too_large else stored,
            C.definition_format: DEFINITION_FORMAT if source is not None else None,
            C.attributes: json_attrs({
                "state": wf.get("state"),
                "description": wf.get("description"),
                "callLogLevel": wf.get("callLogLevel"),
                "executionHistoryLevel": wf.get("executionHistoryLevel"),
                "serviceAccount": wf.get("serviceAccount"),
                "revisionCreateTime": wf.get("revisionCreateTime"),
                "labels": wf.get("labels"),
                "definitionTooLarge": bool(too_large) or None,
            }),
            C.seen_at: seen,
        })
    return batch

