"""Google Cloud Workflows resource names: the ids rows are keyed by.

``workflow_id`` is ``projects/P/locations/L/workflows/W``, ``execution_id`` is
``.../executions/E``; a step entry's name adds ``/stepEntries/N`` (its ``entryId``).
"""

from __future__ import annotations

import re
from typing import Any

_NAME_RE = re.compile(
    r"^projects/(?P<p>[^/]+)/locations/(?P<l>[^/]+)/workflows/(?P<w>[^/]+)"
    r"(?:/executions/(?P<e>[^/]+)(?:/stepEntries/(?P<s>[^/]+))?)?$"
)



def parse_name(name: Any) -> dict[str, str] | None:
    """Split a Workflows resource name into project, location, workflow, execution, entry."""
    if not isinstance(name, str):
        return None
    m = _NAME_RE.match(name)
    return m.groupdict() if m else None


def workflow_id(project: str, location: str, workflow: str) -> str:
    return f"projects/{project}/locations/{location}/workflows/{workflow}"


def execution_id(project: str, location: str, workflow: str, execution: str) -> str:
    return f"{workflow_id(project, location, workflow)}/executions/{execution}"


def region_of(wf_id: str | None) -> str | None:
    parts = parse_name(wf_id.split("/executions/", 1)[0]) if wf_id else None
    return parts["l"] if parts else None

