"""Cloud Logging v2 `entries.list` (I/O only), through google-cloud-logging over HTTP.

The client library is given the collector's transport (`GcpClients.http_for`): its calls are
read-only checked (entries:list is a POST that only reads), paced by the Logging quota bucket,
retried with backoff and jitter, and counted like every other call. Entries come back as the
API's own JSON (`LogEntry.to_api_repr()`), the shape the pure `gcp.log_entries` transform reads.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Sequence
from typing import Any

from flowscope.collectors.gcp.clients import GcpClients, service_root

SERVICE = "logging"
API = "logging.entries.list"
PAGE = 1000                   # the API's maximum page size
MAX_IDS_PER_FILTER = 100      # a Logging filter is at most 20,000 characters
BULK_EXECUTIONS = 1000        # executions per time slice on the logs path
WORKFLOW_RESOURCE = 'resource.type="workflows.googleapis.com/Workflow"'
EXECUTION_LABEL = "workflows.googleapis.com/execution_id"
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


def list_entries(clients: GcpClients, project: str, flt: str, *, page_size: int = PAGE) -> Iterator[dict[str, Any]]:
    """Every entry matching `flt` in the project's logs (all pages), as LogEntry JSON."""
    from google.cloud import logging as cloud_logging

    client = cloud_logging.Client(project=project, credentials=clients.session.credentials,
                                  _http=clients.http_for(API), _use_grpc=False,
                                  client_options={"api_endpoint": service_root(clients.endpoint, SERVICE)})
    for entry in client.list_entries(resource_names=[f"projects/{project}"], filter_=flt, page_size=page_size):
        yield entry.to_api_repr()
