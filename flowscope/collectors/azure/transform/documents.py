"""A Logic Apps document of any mix of records -> model rows, each record by its format's module.

Records of one run can arrive in any order, in separate documents and imports: every row is
keyed from the ids the record carries alone, and `assemble` settles what needs the whole run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flowscope.collectors.azure.transform import diagnostic_logs
from flowscope.collectors.azure.transform.actions import read_action
from flowscope.collectors.azure.transform.detect import record_format, records_of
from flowscope.collectors.azure.transform.request_histories import read_request_history
from flowscope.collectors.azure.transform.runs import read_run
from flowscope.collectors.azure.transform.scope_repetitions import read_scope_repetition
from flowscope.collectors.azure.transform.trigger_histories import read_trigger_history
from flowscope.collectors.azure.transform.workflows import read_workflow
from flowscope.collectors.native import FormatHandler, ImportContext, NativeFormatError
from flowscope.model import Batch, Skip

_RECORD_HANDLERS: dict[str, Callable[[dict[str, Any], ImportContext, Batch], None]] = {
    "azure.workflow": read_workflow,
    "azure.runs": read_run,
    "azure.run_actions": read_action,
    "azure.action_repetitions": read_action,
    "azure.scope_repetitions": read_scope_repetition,
    "azure.trigger_histories": read_trigger_history,
    "azure.request_histories": read_request_history,
}
"""Every format is read record by record."""


def transform(doc: Any, ctx: ImportContext | None = None) -> Batch:
    """Rows of every record in a document, whatever Logic Apps record types it holds.

    A Logic Apps record of a type not read is counted in `unknown_event_types`; a record that
    cannot be read, or is none of Logic Apps (another cloud's), becomes a `Skip`; a document with
    no Logic Apps record raises `NativeFormatError` naming the file (never "0 skipped").
    """
    ctx = ctx or ImportContext()
    records, is_list = records_of(doc, ctx)
    prefix = "" if isinstance(doc, list) else "value"      # a top-level list (JSON Lines): skips by line
    batch = Batch()
    recognised = 0
    for i, rec in enumerate(records):
        location = f"{prefix}[{i}]" if is_list else "$"
        fmt = record_format(rec)
        if fmt is None:
            recognised += _unrecognised(rec, location, ctx, batch)
            continue
        recognised += 1
        try:
            _RECORD_HANDLERS[fmt](rec, ctx, batch)   # handlers append only once a record is whole
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            batch.skips.append(Skip(ctx.source_name, f"{location} {rec.get('id', '')}".strip(),
                                    f"{fmt}: {exc}"))
    if not is_list and recognised == 0:
        raise NativeFormatError(ctx.source_name, "$",
                                f"not an Azure Logic Apps management API record ({_what(records[0])})")
    if is_list and records and recognised == 0 and not batch.steps:
        raise NativeFormatError(ctx.source_name, prefix or "$", f"none of its {len(records)} record(s) is an "
                                f"Azure Logic Apps record (the first: {_what(records[0])})")
    return batch


_LOGIC_APPS_TYPES = ("microsoft.logic/", "microsoft.web/sites")
"""ARM types of Logic Apps resources, Standard apps (`Microsoft.Web/sites`) and their workflows and slots
included: a record of one flowscope does not read is still a Logic Apps record."""


def _unrecognised(rec: Any, location: str, ctx: ImportContext, batch: Batch) -> int:
    """Count a Logic Apps record of a type not read (1: it is a record); skip any other record (0).
    Not any record with a string `type`: a file of another cloud's records (an AWS log record has
    one) read as unknown types only, and its import said "0 record(s) skipped", naming no file."""
    rtype = rec.get("type") if isinstance(rec, dict) else None
    if isinstance(rtype, str) and rtype.lower().startswith(_LOGIC_APPS_TYPES):
        batch.unknown_event_types[rtype] = batch.unknown_event_types.get(rtype, 0) + 1
        return 1
    batch.skips.append(Skip(ctx.source_name, location, f"not a Logic Apps record ({_what(rec)})"))
    return 0


def _what(rec: Any) -> str:
    """What a record that is none of Logic Apps holds instead, for its skip or the file's refusal."""
    rtype = rec.get("type") if isinstance(rec, dict) else None
    if isinstance(rtype, str):
        return f"type {rtype[:80]!r}"
    return "no Logic Apps type, no Logic Apps id" if isinstance(rec, dict) else f"a {type(rec).__name__}"


def transform_diagnostic_logs(doc: Any, ctx: ImportContext | None = None) -> Batch:
    """Runtime events a diagnostic setting archived (`diagnostic_logs`) -> model rows: the records the
    events describe, read like any other, with the events that could not be read as skips."""
    ctx = ctx or ImportContext()
    records, skips, warnings = diagnostic_logs.read(doc, ctx)
    batch = transform({"value": records}, ctx) if records else Batch()
    batch.skips[:0] = skips
    batch.warnings.extend(warnings)
    return batch


def _handler(fmt: str) -> FormatHandler:
    def handle(doc: Any, ctx: ImportContext) -> Batch:
        return transform(doc, ctx)
    handle.__name__ = "transform_" + fmt.split(".", 1)[1]
    handle.__doc__ = f"`{fmt}` documents -> model rows (any Logic Apps record they hold is read)."
    return handle


FORMATS: dict[str, FormatHandler] = {
    **{fmt: _handler(fmt) for fmt in (
        "azure.workflow", "azure.runs", "azure.run_actions", "azure.action_repetitions",
        "azure.scope_repetitions", "azure.request_histories", "azure.trigger_histories")},
    diagnostic_logs.FORMAT: transform_diagnostic_logs,
}
