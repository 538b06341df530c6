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


def under_project_of(name: Any, asked: str) -> Any:
    """`name` with the project part of `asked`, the resource name a call was made with.

    The Workflow Executions API names executions and step entries by the project *number*
    (`projects/123456789012/...`) whatever the request said, while workflows, the source's
    `project`, Cloud Logging's labels and the stored rows use the project id: an answer's names
    are put back under the project the call asked about (the same project), so one execution
    has one id whichever API or file it came from. Anything that is not such a name is returned
    unchanged."""
    if not isinstance(name, str) or not name.startswith("projects/") or not asked.startswith("projects/"):
        return name
    project, rest = name[9:].partition("/")[::2]
    wanted = asked[9:].partition("/")[0]
    return f"projects/{wanted}/{rest}" if project and rest and wanted and project != wanted else name


def numbered_project_warnings(projects: set[str]) -> list[str]:
    """What an import says of rows named by project number (`projects/123456789012/...`, as
    gcloud and the Executions API answer): a project id starts with a letter, so an all-digit
    project is a number. Those rows join no workflow (named by id) and the same executions from
    Cloud Logging or a live sync (named by id) are stored again, apart."""
    return [f"executions named by project number {p} (as gcloud and the Executions API name them): "
            "workflows, Cloud Logging and `flowscope sync` name the project by its project id, so these "
            "do not join their workflows and the same executions from logs or a sync are stored twice; "
            "collect them with `flowscope sync` (which names them by project id) instead"
            for p in sorted(p for p in projects if p.isdigit())]


def workflow_id(project: str, location: str, workflow: str) -> str:
    return f"projects/{project}/locations/{location}/workflows/{workflow}"


def execution_id(project: str, location: str, workflow: str, execution: str) -> str:
    return f"{workflow_id(project, location, workflow)}/executions/{execution}"


def region_of(wf_id: str | None) -> str | None:
    parts = parse_name(wf_id.split("/executions/", 1)[0]) if wf_id else None
    return parts["l"] if parts else None

