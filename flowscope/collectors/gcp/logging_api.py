"""Cloud Logging v2 `entries.list` (I/O only): raw JSON pages through the collector's REST layer.

Each page is one `POST /v2/entries:list` made by `GcpClients.request`: read-only checked
(entries:list is the one POST allowed, and it only reads), paced by the Logging quota bucket,
retried with backoff and jitter on 429 / 5xx, and counted like every other call. The body is
decoded with orjson and its `entries` handed on as they are: the API's LogEntry JSON is already
the shape the pure `gcp.log_entries` transform reads.

google-cloud-logging is not used for this read: its REST path turns every entry into a
`LogEntry` object (a strptime per timestamp) and the collector turned it straight back into
JSON (`to_api_repr`), two thirds of the read's CPU for nothing, and lossy (nanoseconds cut,
fields the class does not know dropped). The request is the one that client sends (the same
body keys, filter and page size, `prettyPrint=false`), and the paging is the same (`nextPageToken` until absent).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Sequence
from typing import Any

from flowscope.collectors.gcp.clients import GcpApiError, GcpClients

SERVICE = "logging"
API = "logging.entries.list"
PATH = "v2/entries:list"
PAGE = 1000                   # the API's maximum page size
MAX_IDS_PER_FILTER = 100      # a Logging filter is at most 20,000 characters
BULK_EXECUTIONS = 1000        # executions per time slice on the logs path
WORKFLOW_RESOURCE = 'resource.type="workflows.googleapis.com/Workflow"'
EXECUTION_LABEL = "workflows.googleapis.com/execution_id"
COMPACT = {"prettyPrint": "false"}
"""What google-cloud-logging adds to each call: the API's JSON without indentation (fewer bytes)."""
_SAFE_ID = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


def _stamp(when: dt.datetime) -> str:
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def safe_id(value: str) -> bool:
    """Whether an execution id may go into a filter as is (ids are cloud text: never trust them)."""
    return bool(_SAFE_ID.match(value))


def executions_filter(short_ids: Sequence[str], start: dt.datetime, end: dt.datetime) -> str:
    """The log entries of some executions of Workflows within one time slice."""
    ids = " OR ".join(f'"{i}"' for i in short_ids if safe_id(i))
    return (f'{WORKFLOW_RESOURCE} AND labels."{EXECUTION_LABEL}"=({ids}) '
            f'AND timestamp>="{_stamp(start)}" AND timestamp<="{_stamp(end)}"')


def workflow_filter(location: str, workflow: str, start: dt.datetime, end: dt.datetime) -> str:
    """Every log entry of one workflow within one time slice (the logs path)."""
    if not (safe_id(location) and safe_id(workflow)):
        raise ValueError(f"location or workflow id not usable in a Logging filter: {location!r}/{workflow!r}")
    return (f'{WORKFLOW_RESOURCE} AND resource.labels.location="{location}" '
            f'AND resource.labels.workflow_id="{workflow}" '
            f'AND timestamp>="{_stamp(start)}" AND timestamp<="{_stamp(end)}"')


def entry_pages(clients: GcpClients, project: str, flt: str, *, page_size: int = PAGE) -> Iterator[list[Any]]:
    """The `entries` of every page matching `flt` in the project's logs, one list per page, as the
    API's JSON.

    Pages may hold fewer entries than asked for (even none) and still carry a next token: only a
    missing `nextPageToken` ends the listing; a token the server repeats is an error, not an
    endless loop. A page that is not a JSON object with a list of entries is a GcpApiError (a
    failed read, never an empty one).
    """
    if "timestamp" not in flt.lower():
        # google-cloud-logging silently narrowed such a filter to the last 24 hours; every filter
        # of the collector bounds its time range, so one that does not is a bug, said loudly
        raise ValueError("a Cloud Logging filter of the collector must bound `timestamp`")
    body: dict[str, Any] = {"resourceNames": [f"projects/{project}"], "filter": flt, "pageSize": page_size}
    seen: set[str] = set()
    while True:
        entries, token = _page(clients, body)
        yield entries
        if not token:
            return
        if token in seen:
            raise GcpApiError(f"{API}: the server repeated a page token", http_status=None, operation=API,
                              code="REPEATED_PAGE_TOKEN", target=PATH)
        seen.add(token)
        body = {**body, "pageToken": token}


def _page(clients: GcpClients, body: dict[str, Any]) -> tuple[list[Any], str | None]:
    """One entries:list call: its entries and next page token."""
    response = clients.request("POST", clients.url(SERVICE, PATH), api=API, target=PATH, json=body,
                               params=COMPACT)
    return decode_page(response.content, response.status_code)


def decode_page(content: bytes, http_status: int = 200) -> tuple[list[Any], str | None]:
    """One entries:list answer -> (its entries as the API's JSON, the next page token or None),
    decoded with orjson; GcpApiError (BAD_RESPONSE) when it is not such a page."""
    import orjson

    try:
        page = orjson.loads(content)
    except orjson.JSONDecodeError:
        raise _bad(http_status, "is not JSON") from None
    if not isinstance(page, dict):
        raise _bad(http_status, "is not a JSON object")
    entries, token = page.get("entries") or [], page.get("nextPageToken") or None
    if not isinstance(entries, list) or not (token is None or isinstance(token, str)):
        raise _bad(http_status, "is not a page of log entries")
    return entries, token


def _bad(http_status: int, what: str) -> GcpApiError:
    return GcpApiError(f"{API}: the response {what} (HTTP {http_status})", http_status=http_status,
                       operation=API, code="BAD_RESPONSE", target=PATH)


def list_entries(clients: GcpClients, project: str, flt: str, *, page_size: int = PAGE) -> Iterator[dict[str, Any]]:
    """Every entry matching `flt` in the project's logs (all pages), as the API's LogEntry JSON."""
    for entries in entry_pages(clients, project, flt, page_size=page_size):
        yield from entries
