"""`gcp.workflow`: a Workflow resource, or ``{"workflows": [...]}`` (ListWorkflows /
ListWorkflowRevisions) -> workflows rows, one per revision seen, the source stored without the
credentials written into it (`secrets.stored_source`)."""

from __future__ import annotations

from typing import Any

from flowscope.collectors.gcp.definition import definition_problem
from flowscope.collectors.gcp.transform.names import parse_name, workflow_id
from flowscope.collectors.gcp.transform.records import CLOUD, KIND, json_attrs, records_of
from flowscope.collectors.gcp.transform.secrets import stored_source
from flowscope.collectors.native import ImportContext, definition_too_large, text_field
from flowscope.model import Batch, C, Skip, utc

DEFINITION_FORMAT = "gcp-yaml"


def transform_workflows(doc: Any, ctx: ImportContext) -> Batch:
    """Workflow resources -> workflows rows (one per revision seen)."""
    batch = Batch()
    items, where = records_of(doc, "workflows", ctx, "gcp.workflow")
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
        seen = ctx.seen_at or utc(wf.get("revisionCreateTime")) or utc(wf.get("updateTime")) \
            or utc(wf.get("createTime"))
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

