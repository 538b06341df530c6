"""describe-execution / list-executions / start-sync-execution output -> executions rows (no steps):
what is known of a run before, or instead of, its history."""

from __future__ import annotations

from typing import Any

from flowscope.collectors.aws import events as E
from flowscope.collectors.aws.transform.assemble import assemble
from flowscope.collectors.aws.transform.builder import HistoryBuilder
from flowscope.collectors.aws.transform.names import NATIVE_STATUS
from flowscope.collectors.aws.transform.rows import history_rows
from flowscope.collectors.aws.transform.values import as_doc
from flowscope.collectors.native import ImportContext, NativeFormatError
from flowscope.model import Batch, C, Skip


def transform_execution(doc: Any, ctx: ImportContext) -> Batch:
    """describe-execution / list-executions / start-sync-execution output -> executions rows
    (no steps). ``mapRunArn`` (a Distributed Map child) is kept in ``attributes``; the assembly
    links the child to its parent execution from it (`parents.link_parents`)."""
    doc = as_doc(doc, ctx)
    if isinstance(doc, dict) and isinstance(doc.get("executions"), list):
        items, where = doc["executions"], "executions"
    elif isinstance(doc, dict) and "executionArn" in doc:
        items, where = [doc], "$"
    elif isinstance(doc, list):
        items, where = doc, ""
    else:
        raise NativeFormatError(ctx.source_name, "$", "not describe-execution / list-executions output")
    batch = Batch()
    for i, item in enumerate(items):
        loc = f"{where}[{i}]" if where != "$" else "$"
        if not isinstance(item, dict) or E.parse_arn(item.get("executionArn") or "") is None \
                or not item.get("startDate"):
            batch.skips.append(Skip(ctx.source_name, loc, "execution item without executionArn / startDate"))
            continue
        status = item.get("status")
        if status is not None and (not isinstance(status, str) or status not in NATIVE_STATUS):
            # stored RUNNING it was a run that never ends, without a word
            batch.skips.append(Skip(ctx.source_name, loc, f"status {status!r} is not a Step Functions execution "
                                                          f"status ({', '.join(NATIVE_STATUS)})"))
            continue
        try:
            builder = HistoryBuilder(item["executionArn"], ctx.source_name)
            builder.has_started_event = True
            builder.event_count = 0
            execution, _, _ = history_rows(builder, ctx, item)
        except (TypeError, ValueError) as exc:
            batch.skips.append(Skip(ctx.source_name, loc, f"unreadable execution item: {exc}"))
            continue
        if execution is None:
            continue
        execution[C.event_count] = None   # not known without the history
        if item.get("stateMachineArn") and "stateMachineArn" in item and ":express:" not in item["executionArn"]:
            execution[C.workflow_id] = E.state_machine_arn(item["stateMachineArn"]) or execution[C.workflow_id]
        batch.executions.append(execution)
        steps, attempts, usage = assemble(execution, [], [], None)
        batch.usage.extend(usage)
    return batch
