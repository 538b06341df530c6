"""Which Logic Apps format a document or record is: by ARM `type`, else by the shape of its `id`.

Documents are read exactly as the management REST API returns them: one resource object, or a
`{"value": [...]}` page; a `{"parameters", "responses": {"200": {"body": ...}}}` REST example
wrapper is unwrapped too.
"""

from __future__ import annotations

from typing import Any

from flowscope.collectors.azure.transform import diagnostic_logs
from flowscope.collectors.azure.transform.ids import ArmId
from flowscope.collectors.native import ImportContext, NativeFormatError

# ARM types (lower-case) -> format name
_TYPES: dict[str, str] = {
    "microsoft.logic/workflows": "azure.workflow",
    "microsoft.logic/workflows/versions": "azure.workflow",
    "microsoft.web/sites/workflows": "azure.workflow",
    "microsoft.web/sites/slots/workflows": "azure.workflow",
    "microsoft.logic/workflows/runs": "azure.runs",
    "microsoft.logic/workflows/runs/actions": "azure.run_actions",
    "microsoft.logic/workflows/runs/actions/repetitions": "azure.action_repetitions",
    "microsoft.logic/workflows/runs/actions/scoperepetitions": "azure.scope_repetitions",
    "microsoft.logic/workflows/runs/actions/requesthistories": "azure.request_histories",
    "microsoft.logic/workflows/runs/actions/repetitions/requesthistories": "azure.request_histories",
    "microsoft.logic/workflows/triggers/histories": "azure.trigger_histories",
}
# id shape (last collection segments) -> format name, for records without `type`
_SHAPES: list[tuple[tuple[str, ...], str]] = [
    (("actions", "repetitions", "requesthistories"), "azure.request_histories"),
    (("actions", "requesthistories"), "azure.request_histories"),
    (("actions", "scoperepetitions"), "azure.scope_repetitions"),
    (("actions", "repetitions"), "azure.action_repetitions"),
    (("runs", "actions"), "azure.run_actions"),
    (("triggers", "histories"), "azure.trigger_histories"),
    (("workflows", "runs"), "azure.runs"),
    (("workflows", "versions"), "azure.workflow"),
]


def _unwrap(doc: Any) -> Any:
    """A REST example file (`{"parameters", "responses": {"200": {"body": ...}}}`) -> its body."""
    if isinstance(doc, dict) and "responses" in doc and "id" not in doc:
        responses = doc.get("responses")
        if isinstance(responses, dict):
            ok = responses.get("200") or responses.get(200)
            if isinstance(ok, dict) and "body" in ok:
                return ok["body"]
    return doc


def record_format(rec: Any) -> str | None:
    """Format name of one record, by ARM `type`, else by the shape of its `id`."""
    if not isinstance(rec, dict):
        return None
    rtype = rec.get("type")
    if isinstance(rtype, str):
        hit = _TYPES.get(rtype.lower())
        if hit is not None:
            return hit
        if rtype.lower().startswith("microsoft.logic/") or rtype.lower().startswith("microsoft.web/sites/workflows"):
            return None
    rid = rec.get("id")
    if not isinstance(rid, str):
        return None
    try:
        shape = ArmId(rid).shape
    except ValueError:
        return None
    for tail, fmt in _SHAPES:
        if shape[-len(tail):] == tail:
            return fmt
    if shape and shape[-1] == "workflows" and isinstance(rec.get("properties"), dict) \
            and ("definition" in rec["properties"] or "files" in rec["properties"]):
        return "azure.workflow"
    return None


def records_of(doc: Any, ctx: ImportContext) -> tuple[list[Any], bool]:
    doc = _unwrap(doc)
    if isinstance(doc, dict) and isinstance(doc.get("value"), list):
        return doc["value"], True
    if isinstance(doc, dict):
        return [doc], False
    if isinstance(doc, list):
        return doc, True
    raise NativeFormatError(ctx.source_name, "$", f"expected a JSON object, got {type(doc).__name__}")


def detect(doc: Any) -> str | None:
    """The format of an Azure Logic Apps document, or None when it is not one."""
    try:
        doc = _unwrap(doc)
    except Exception:  # noqa: BLE001 - detection never raises
        return None
    if diagnostic_logs.records_of(doc) is not None:
        return diagnostic_logs.FORMAT
    if isinstance(doc, dict) and isinstance(doc.get("value"), list):
        items = doc["value"]
    elif isinstance(doc, dict):
        items = [doc]
    elif isinstance(doc, list):
        items = doc
    else:
        return None
    for rec in items[:50]:
        fmt = record_format(rec)
        if fmt is not None:
            return fmt
    return None

