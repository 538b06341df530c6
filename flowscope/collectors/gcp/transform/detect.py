"""Which GCP format a parsed JSON document is (`detect`), by its list key and resource names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flowscope.collectors.gcp.transform.log_entries import is_workflows_entry
from flowscope.collectors.gcp.transform.names import parse_name


def _is_gcp_name(value: Any, *, execution: bool | None = None, entry: bool = False) -> bool:
    parts = parse_name(value)
    if not parts:
        return False
    if entry:
        return bool(parts["s"])
    if execution is None:
        return True
    return bool(parts["e"]) == execution and not parts["s"]


_LIST_EXTRA_KEYS = frozenset({"nextPageToken", "totalSize", "unreachable"})


_LISTS: tuple[tuple[str, str, Callable[[dict[str, Any]], bool]], ...] = (
    ("stepEntries", "gcp.step_entries", lambda x: _is_gcp_name(x.get("name"), entry=True)),
    ("executions", "gcp.executions", lambda x: _is_gcp_name(x.get("name"), execution=True)),
    ("workflows", "gcp.workflow", lambda x: _is_gcp_name(x.get("name"), execution=False)),
)
"""List response key, format, and how one of its resources is told by its name."""


def detect(doc: Any) -> str | None:
    """The GCP format of a parsed JSON document, or None when it is not a GCP Workflows one.

    A top-level list is what `gcloud logging read` and gcloud's list commands print with
    ``--format=json`` (`gcloud workflows executions list`, `gcloud workflows list`): log entries,
    or resources told apart by their names.
    """
    if isinstance(doc, list):
        head = [x for x in doc[:50] if isinstance(x, dict)]
        if any(is_workflows_entry(x) for x in head):
            return "gcp.log_entries"
        return next((fmt for _, fmt, check in _LISTS if any(check(x) for x in head)), None)
    if not isinstance(doc, dict):
        return None
    for key, fmt, check in _LISTS:
        items = doc.get(key)
        if not isinstance(items, list):
            continue
        if not items:
            if set(doc) <= _LIST_EXTRA_KEYS | {key} and (key == "stepEntries" or set(doc) & _LIST_EXTRA_KEYS):
                return fmt
            continue
        if any(check(x) for x in items[:50] if isinstance(x, dict)):
            return fmt
    if isinstance(doc.get("entries"), list) and any(is_workflows_entry(x) for x in doc["entries"][:50]):
        return "gcp.log_entries"
    if is_workflows_entry(doc):
        return "gcp.log_entries"
    name = doc.get("name")
    if _is_gcp_name(name, entry=True):
        return "gcp.step_entries"
    if _is_gcp_name(name, execution=True):
        return "gcp.executions"
    if _is_gcp_name(name, execution=False) and ("revisionId" in doc or "sourceContents" in doc):
        return "gcp.workflow"
    return None

