"""`executions.stepEntries.list` (I/O only): every step entry of one execution, page after page.

The Python client does not expose step entries; they are read through the REST surface with
google-auth's authorized session (`clients.GcpClients`). Pages may be shorter than the size
asked for: only the absence of `nextPageToken` ends the listing. Variable data (payloads) is
dropped as soon as a page arrives: it is never kept, let alone stored.
"""

from __future__ import annotations

from typing import Any

from flowscope.collectors.gcp.clients import GcpClients
from flowscope.collectors.gcp.transform.names import under_project_of

SERVICE = "workflowexecutions"
API = "stepEntries.list"
PAGE = 1000                   # the documented default maximum
_PAYLOAD_KEYS = ("variableData",)


def list_step_entries(clients: GcpClients, execution_name: str, *, location: str,
                      page_size: int = PAGE) -> tuple[list[dict[str, Any]], int]:
    """(entries in entry order, pages read) of one execution, named under its project as asked
    (`under_project_of`: the API answers with the project number); GcpApiError (`.gone` on 404) otherwise."""
    entries: list[dict[str, Any]] = []
    pages = 0
    for page in clients.pages(SERVICE, f"v1/{execution_name}/stepEntries", api=API, location=location,
                              params={"pageSize": page_size}, target=execution_name):
        pages += 1
        for entry in clients.items(page, "stepEntries", api=API, target=execution_name):
            if isinstance(entry, dict):
                for key in _PAYLOAD_KEYS:
                    entry.pop(key, None)
                if "name" in entry:
                    entry["name"] = under_project_of(entry["name"], execution_name)
                entries.append(entry)
    return entries, pages
