"""A local Azure Resource Manager for the Logic Apps management API (loopback only, free port).

There is no Logic Apps emulator, so the Azure collector tests and the bench talk to this server. It
serves whatever records it is loaded with (the official REST examples in shared/samples/azure, the
simulator's documents), exactly as loaded, keyed by their ARM ids (case-insensitive, as ARM is):

- GET of a collection (`.../runs`, `.../actions`, `.../repetitions`, `.../scopeRepetitions`,
  `.../triggers`, `.../histories`, and the workflows of a subscription or resource group) answers
  `{"value": [...], "nextLink": ...}` pages of `page_size`; runs and histories newest first, with
  `$filter=startTime ge <time>` applied;
- GET of a resource answers the record, 404 with ARM's error body when it is not there;
- `api-version=2019-05-01` is required; the bearer token must be `token` (401 otherwise, and after
  `expire_after` requests, like an expired token mid-sync);
- faults on chosen paths: 429 with Retry-After, 5xx, slow answers; and optionally ARM's read bucket
  (250 burst, 25/s) enforced with 429 + Retry-After and `x-ms-ratelimit-remaining-subscription-reads`;
- every request is counted by kind (`counts`) and method (`methods`): a write never gets past 405.
"""

from __future__ import annotations

import bisect
import collections
import datetime as dt
import json
import math
import re
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from tests import loopback
from tests.loopback import LoopbackServer, send

API_VERSION = "2019-05-01"
WEB_API_VERSION = "2024-04-01"
_SITES = re.compile(r"^/subscriptions/[^/]+(/resourcegroups/[^/]+)?/providers/microsoft\.web/sites$")
_HOSTRUNTIME_ID = re.compile(r"/providers/Microsoft\.Web/sites/[^/]+/hostruntime/runtime/webhooks/workflow/api/"
                             r"management/workflows/", re.IGNORECASE)
_SLOT_WORKFLOW = re.compile(r"(/providers/Microsoft\.Web/sites/[^/]+)/slots/[^/]+(/workflows/[^/]+)$", re.IGNORECASE)
_SUB_ID = re.compile(r"^/subscriptions/[^/]+(/resourcegroups/[^/]+)?/providers/microsoft\.logic/workflows$")
_FILTER = re.compile(r"^\s*starttime\s+ge\s+(\S+)\s*$", re.IGNORECASE)
_KINDS = [
    ("repetitions", "repetitions"), ("scoperepetitions", "scopeRepetitions"), ("histories", "histories"),
    ("requesthistories", "requestHistories"),
    ("triggers", "triggers"), ("actions", "actions"), ("runs", "runs"), ("versions", "versions"),
    ("workflows", "workflows"), ("serverfarms", "serverfarms"), ("slots", "slots"),
]
_BATCH = re.compile(r"^/subscriptions/[^/]+/metrics:getbatch$", re.IGNORECASE)
BATCH_API_VERSION = "2024-02-01"
_METRICS_PATH = "/providers/microsoft.insights/metrics"


def canonical(raw: str) -> str:
    """An ARM id or path, lower-case from `/subscriptions/` on (ARM ids are case-insensitive)."""
    low = raw.lower()
    cut = low.find("/subscriptions/")
    if cut == -1 and low.startswith("subscriptions/"):
        return "/" + low.rstrip("/")
    return low[cut:].rstrip("/") if cut != -1 else low.rstrip("/")


def kind_of(path: str) -> str:
    """`runs.list`, `actions.list`, `runs.get`, ... for counting (the collector's operation names)."""
    if canonical(path).endswith(_METRICS_PATH):
        return "metrics.get"
    if re.match(r"^/v1/workspaces/[^/]+/query$", path):
        return "logs.query"
    if _BATCH.match(path):
        return "metrics.getBatch"
    if _SITES.match(canonical(path)):
        return "sites.list"
    segs = canonical(path).strip("/").split("/")
    if segs and segs[-1] == "workflows":
        return "workflows.list"
    for name, label in _KINDS:
        if segs and segs[-1] == name:
            return f"{label}.list"
        if len(segs) > 1 and segs[-2] == name:
            return f"{label}.get"
    return "other"


def _time(text: str) -> dt.datetime | None:
    text = text.strip().strip("'")
    if text.endswith("Z"):
        text = text[:-1]
    head, _, frac = text.partition(".")
    try:
        value = dt.datetime.fromisoformat(head + ("." + (frac + "000000")[:6] if frac else ""))
    except ValueError:
        return None
    return value.replace(tzinfo=dt.timezone.utc)


def _start(record: dict[str, Any]) -> dt.datetime:
    props = record.get("properties") or {}
    return _time(str(props.get("startTime") or "")) or dt.datetime.min.replace(tzinfo=dt.timezone.utc)


@dataclass
class Fault:
    """Answer requests whose path matches `pattern` with `status` (or delay them), `times` times."""

    pattern: str
    status: int | None = None
    times: int = 1
    retry_after: float | str | None = None
    """Seconds, or any text (an HTTP date, a proxy's `soon`), sent as the Retry-After header."""
    delay_s: float = 0.0
    hits: int = 0
    body: Any = None
    """When set, the answer's JSON body (with `status`, 200 when None): a proxy's or a broken server's page."""


class ArmServer(LoopbackServer):
    """The local ARM; use as a context manager. `endpoint` is `http://127.0.0.1:<port>`."""

    thread_name = "arm-server"

    def __init__(self, *, token: str = "test-token", page_size: int = 50,
                 read_bucket: tuple[float, float] | None = None) -> None:
        self.token = token
        self.page_size = page_size
        self.items: dict[str, dict[str, Any]] = {}
        self.children: dict[str, dict[str, dict[str, Any]]] = collections.defaultdict(dict)
        self.faults: list[Fault] = []
        self.counts: collections.Counter[str] = collections.Counter()
        self.methods: collections.Counter[str] = collections.Counter()
        self.statuses: collections.Counter[int] = collections.Counter()
        self.paths: list[str] = []
        self.expire_after: int | None = None
        self.metric_points: dict[tuple[str, str], list[tuple[str, float]]] = {}
        """(canonical workflow id, metric name) -> [(timeStamp, value)] served by both metrics APIs."""
        self.la_rows: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
        """workspace id -> LogicAppWorkflowRuntime rows (COLUMNS of flowscope's query) it answers with."""
        self.la_partial_over: dt.timedelta | None = None
        """Answer PARTIAL (half the rows and a PartialError) for a query over a longer slice than this."""
        self.la_queries: list[tuple[dt.datetime, dt.datetime]] = []
        self._la_cache: dict[str, Any] = {}
        self.batch_requests: list[dict[str, Any]] = []
        """Each metrics:getBatch request: its query parameters and resource ids."""
        self.empty_pages: dict[str, int] = {}
        """Collection path regex -> empty pages (`value: []` with a nextLink) served before its first
        real page, as ARM does when a filtered listing scans partitions that hold nothing."""
        self.stuck_next_link: str | None = None
        """Collection path regex whose pages name themselves as their nextLink (a server bug)."""
        self.requests = 0
        self.lock = threading.Lock()
        self._bucket = read_bucket
        self._tokens = read_bucket[0] if read_bucket else 0.0
        self._stamp = time.monotonic()
        super().__init__()

    # ------------------------------------------------------------ data

    def load(self, records: Iterable[dict[str, Any]]) -> None:
        """Serve these records (anything with an ARM `id`), each under its parent collection."""
        with self.lock:
            for record in records:
                key = canonical(record["id"])
                self.items[key] = record
                self.children[key.rsplit("/", 1)[0]][key] = record

    def load_documents(self, docs: Iterable[Any]) -> None:
        """Records of `{"value": [...]}` pages, single records, or (format, document) pairs."""
        for doc in docs:
            if isinstance(doc, tuple):
                doc = doc[1]
            if isinstance(doc, dict) and "responses" in doc:
                doc = doc["responses"]["200"]["body"]
            self.load(doc["value"] if isinstance(doc, dict) and "value" in doc else [doc])
        self.add_missing_triggers()

    def add_missing_triggers(self) -> None:
        """A trigger resource for every trigger that has histories (the `.../triggers` listing)."""
        triggers = {key.rsplit("/histories", 1)[0] for key in list(self.children)
                    if key.endswith("/histories") and "/triggers/" in key}
        for key in triggers:
            if key not in self.items:
                name = key.rsplit("/", 1)[-1]
                self.load([{"id": key, "name": name, "type": "Microsoft.Logic/workflows/triggers",
                            "properties": {"provisioningState": "Succeeded", "state": "Enabled"}}])

    def delete(self, resource_id: str) -> None:
        """Forget a resource and everything under it (a run deleted between list and get)."""
        key = canonical(resource_id)
        with self.lock:
            for k in [k for k in self.items if k == key or k.startswith(key + "/")]:
                record = self.items.pop(k)
                self.children[k.rsplit("/", 1)[0]].pop(k, None)
                del record

    def fault(self, pattern: str, status: int | None = None, *, times: int = 1,
              retry_after: float | str | None = None, delay_s: float = 0.0, body: Any = None) -> Fault:
        fault = Fault(pattern, status, times, retry_after, delay_s, body=body)
        with self.lock:
            self.faults.append(fault)
        return fault

    # ------------------------------------------------------------ answering

    def handle(self, handler: Any, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        parts = urlsplit(handler.path)
        path = canonical(parts.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        if parts.path == "/__stats":                 # for a bench running this server in another process
            return self._reply(handler, 200, self.stats(reset=query.get("reset") == "1"))
        with self.lock:
            self.requests += 1
            n = self.requests
            self.methods[method] += 1
            self.counts[kind_of(path)] += 1
            self.paths.append(parts.path)
        la_query = method == "POST" and re.match(r"^/v1/workspaces/[^/]+/query$", parts.path)
        batch = method == "POST" and _BATCH.match(parts.path)
        if method != "GET" and not la_query and not batch:
            return self._reply(handler, 405, _error("MethodNotAllowed", f"{method} is not served here"))
        auth = handler.headers.get("Authorization")
        if auth != f"Bearer {self.token}" or (self.expire_after is not None and n > self.expire_after):
            return self._reply(handler, 401, _error("ExpiredAuthenticationToken", "The access token expiry UTC "
                                                    "time is earlier than current UTC time."))
        throttled = self._take_read()
        if throttled is not None:
            return self._reply(handler, 429, _error("SubscriptionRequestsThrottled", "Number of read requests "
                                                    "for subscription exceeded the limit."),
                               {"Retry-After": str(throttled)})
        fault = self._fault_for(parts.path)
        if fault is not None:
            if fault.delay_s:
                time.sleep(fault.delay_s)
            if fault.body is not None:
                return self._reply(handler, fault.status or 200, fault.body)
            if fault.status is not None:
                headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
                return self._reply(handler, fault.status, _error("Injected", f"HTTP {fault.status} (injected)"),
                                   headers)
        if la_query:
            return self._reply(handler, *self._log_query(parts.path.split("/")[3], body))
        if batch:
            return self._reply(handler, *self._metrics_batch(query, body))
        if path.endswith(_METRICS_PATH):
            return self._reply(handler, *self._metrics(path, query))
        wanted = WEB_API_VERSION if "/microsoft.web/" in path else API_VERSION
        if query.get("api-version") != wanted:
            return self._reply(handler, 400, _error("InvalidApiVersionParameter", f"api-version must be {wanted}"))
        status, body = self._answer(path, query, parts.path)
        self._reply(handler, status, body)

    def _take_read(self) -> int | None:
        """None when a read token was taken; else the Retry-After seconds (ARM's read bucket)."""
        if self._bucket is None:
            return None
        burst, rate = self._bucket
        with self.lock:
            now = time.monotonic()
            self._tokens = min(burst, self._tokens + (now - self._stamp) * rate)
            self._stamp = now
            if self._tokens >= 1:
                self._tokens -= 1
                return None
            return max(1, math.ceil((1 - self._tokens) / rate))

    def _fault_for(self, raw_path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.hits < fault.times and re.search(fault.pattern, raw_path, re.IGNORECASE):
                    fault.hits += 1
                    return fault
        return None

    def _answer(self, path: str, query: dict[str, str], raw_path: str) -> tuple[int, Any]:
        with self.lock:
            if path in self.items and not _SUB_ID.match(path):
                return 200, _as_served(self.items[path])
            if _SITES.match(path):
                prefix = path.rsplit("/providers/", 1)[0]
                records = [r for k, r in self.items.items() if k.startswith(prefix + "/")
                           and re.match(r"^/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.web/sites/"
                                        r"[^/]+$", k)]
            elif _SUB_ID.match(path):
                prefix = path.rsplit("/providers/", 1)[0]
                records = [r for k, r in self.items.items() if k.startswith(prefix + "/")
                           and re.match(r"^/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.logic/"
                                        r"workflows/[^/]+$", k)]
            elif path in self.children:
                records = list(self.children[path].values())
            elif kind_of(path).endswith(".list") and path.rsplit("/", 1)[0] in self.items:
                records = []                          # an existing parent with an empty collection
            else:
                return 404, _error("ResourceNotFound", f"The resource '{raw_path[:200]}' was not found.")
        if kind_of(path) in ("runs.list", "histories.list"):
            records.sort(key=_start, reverse=True)
            match = _FILTER.match(query.get("$filter", ""))
            if match:
                bound = _time(match.group(1))
                if bound is not None:
                    records = [r for r in records if _start(r) >= bound]
        else:
            records.sort(key=lambda r: str(r.get("id")).lower())
        empties = next((n for pattern, n in self.empty_pages.items() if re.search(pattern, raw_path, re.I)), 0)
        empty = int(query.get("$emptypage") or 0)
        if empty < empties:
            nxt = {**query, "$emptypage": str(empty + 1)}
            return 200, {"value": [], "nextLink": f"{self.endpoint}{raw_path}?{urlencode(nxt)}"}
        skip = int(query.get("$skiptoken") or 0)
        page = records[skip:skip + self.page_size]
        body: dict[str, Any] = {"value": [_as_served(r) for r in page]}
        if self.stuck_next_link and re.search(self.stuck_next_link, raw_path, re.IGNORECASE):
            body["nextLink"] = f"{self.endpoint}{raw_path}?{urlencode(query)}"
        elif skip + self.page_size < len(records):
            nxt = {**query, "$skiptoken": str(skip + self.page_size)}
            body["nextLink"] = f"{self.endpoint}{raw_path}?{urlencode(nxt)}"
        return 200, body

    def _log_query(self, workspace: str, body: bytes) -> tuple[int, Any]:
        """The Log Analytics query API, for flowscope's own query: it cannot run KQL, so it reads the
        slice bounds and workflow ids from the query text and filters its rows by them."""
        try:
            doc = json.loads(body)
            text = doc["query"]
            start = _time(re.search(r"let _start = datetime\(([^)]+)\)", text).group(1))  # type: ignore[union-attr]
            end = _time(re.search(r"let _end = datetime\(([^)]+)\)", text).group(1))  # type: ignore[union-attr]
            ids = set(re.findall(r'"([^"]+)"', re.search(r"dynamic\(\[(.*?)\]\)", text).group(1)))  # type: ignore[union-attr]
            columns = [c.strip() for c in text.rsplit("| project ", 1)[1].split(",")]
        except (ValueError, KeyError, AttributeError, IndexError):
            return 400, _error("BadArgumentError", "the query could not be parsed")
        assert start is not None and end is not None
        with self.lock:
            self.la_queries.append((start, end))
            stamps, indexed = self._la_index(workspace)
        lo, hi = bisect.bisect_left(stamps, start), bisect.bisect_left(stamps, end)
        rows = [r for r in indexed[lo:hi] if r["ResourceId"] in ids]
        types = {"StartTime": "datetime", "EndTime": "datetime", "TimeGenerated": "datetime"}
        out: dict[str, Any] = {}
        if self.la_partial_over is not None and end - start > self.la_partial_over:
            rows = rows[: len(rows) // 2]
            out["error"] = {"code": "PartialError", "message": "There were some errors when processing your query.",
                            "details": [{"code": "EngineError", "message": "Query exceeded a resource limit"}]}
        out["tables"] = [{"name": "PrimaryResult",
                          "columns": [{"name": c, "type": types.get(c, "string")} for c in columns],
                          "rows": [[r.get(c) for c in columns] for r in rows]}]
        return 200, out

    def _la_index(self, workspace: str) -> tuple[list[dt.datetime], list[dict[str, Any]]]:
        """A workspace's rows sorted by TimeGenerated (rebuilt when rows were added)."""
        rows = self.la_rows.get(workspace, [])
        cached = self._la_cache.get(workspace)
        if cached is None or cached[0] != len(rows):
            ordered = sorted(rows, key=lambda r: _time(r["TimeGenerated"]))  # type: ignore[arg-type, return-value]
            cached = (len(rows), [_time(r["TimeGenerated"]) for r in ordered], ordered)  # type: ignore[misc]
            self._la_cache[workspace] = cached
        return cached[1], cached[2]

    def _metrics(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        """The ARM metrics GET (api-version 2018-01-01): every asked metric, the points loaded for it."""
        if query.get("api-version") != "2018-01-01":
            return 400, _error("BadRequest", "api-version must be 2018-01-01 for metrics")
        resource = path.rsplit(_METRICS_PATH, 1)[0]
        if resource not in self.items:
            return 404, _error("ResourceNotFound", "no such resource")
        value = self._metric_values(resource, (query.get("metricnames") or "").split(","))
        return 200, {"cost": 0, "timespan": query.get("timespan"), "interval": query.get("interval"),
                     "namespace": "Microsoft.Logic/workflows", "resourceregion": "brazilsouth", "value": value}

    def _metric_values(self, resource: str, names: Iterable[str]) -> list[dict[str, Any]]:
        value = []
        for name in names:
            points = self.metric_points.get((resource, name), [])
            data = [{"timeStamp": stamp, "total": v, "average": v} for stamp, v in points]
            value.append({"id": f"{resource}/providers/Microsoft.Insights/metrics/{name}",
                          "type": "Microsoft.Insights/metrics", "name": {"value": name, "localizedValue": name},
                          "unit": "Seconds" if name.endswith("Latency") else "Count", "errorCode": "Success",
                          "timeseries": [{"metadatavalues": [], "data": data}]})
        return value

    def _metrics_batch(self, query: dict[str, str], body: bytes) -> tuple[int, Any]:
        """The metrics batch API (`POST /subscriptions/{sub}/metrics:getBatch`, api-version 2024-02-01,
        the REST reference's shape): per asked resource id, every asked metric, the points loaded for it."""
        if query.get("api-version") != BATCH_API_VERSION:
            return 400, _error("BadRequest", f"api-version must be {BATCH_API_VERSION} for metrics:getBatch")
        missing = [k for k in ("metricnamespace", "metricnames", "starttime", "endtime") if not query.get(k)]
        if missing:
            return 400, _error("BadRequest", f"missing {', '.join(missing)}")
        try:
            ids = json.loads(body or b"{}")["resourceids"]
        except (ValueError, KeyError, TypeError):
            return 400, _error("BadRequest", "body must be {\"resourceids\": [...]}")
        if not isinstance(ids, list) or not 0 < len(ids) <= 50:
            return 400, _error("BadRequest", "resourceids: 1 to 50 resource ids")
        with self.lock:
            self.batch_requests.append({"query": dict(query), "resourceids": list(ids)})
        values = [{"starttime": query["starttime"], "endtime": query["endtime"], "interval": query.get("interval"),
                   "namespace": query["metricnamespace"], "resourceregion": "brazilsouth", "resourceid": rid,
                   "value": self._metric_values(canonical(rid), query["metricnames"].split(","))}
                  for rid in ids]
        return 200, {"values": values}

    def _reply(self, handler: Any, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        with self.lock:
            self.statuses[status] += 1
            remaining = int(self._tokens) if self._bucket else None
        extra = {"x-ms-ratelimit-remaining-subscription-reads": str(remaining)} if remaining is not None else {}
        send(handler, status, body, headers={**extra, **(headers or {})})

    def stats(self, *, reset: bool = False) -> dict[str, Any]:
        """Requests by kind and status so far (then cleared when `reset`)."""
        with self.lock:
            out = {"counts": dict(self.counts), "statuses": {str(k): v for k, v in self.statuses.items()},
                   "run_detail_calls": self.run_detail_calls()}
            if reset:
                self.counts.clear()
                self.statuses.clear()
        return out

    def run_detail_calls(self) -> int:
        """Calls about one run (its actions, repetitions, iterations, or the run itself)."""
        return sum(n for kind, n in self.counts.items()
                   if kind in ("actions.list", "actions.get", "repetitions.list", "scopeRepetitions.list", "runs.get",
                               "requestHistories.list"))

    def records(self) -> Iterator[dict[str, Any]]:
        with self.lock:
            return iter(list(self.items.values()))


def _as_served(record: dict[str, Any]) -> dict[str, Any]:
    """A record as ARM answers it: a Standard app's runs, actions and trigger histories come from
    the site's workflow management API with ids *without* the site
    (`.../providers/Microsoft.Web/workflows/{name}/runs/..`, as the App Service REST examples show), and a
    slot's workflows ids without their slot."""
    rid = str(record.get("id", ""))
    if _SLOT_WORKFLOW.search(rid):
        # a slot's workflows listing answers ids without the slot, as WebApps_ListInstanceWorkflowsSlot's
        # example does (azure-rest-api-specs, Microsoft.Web 2024-04-01, examples/ListWorkflows.json)
        return {**record, "id": _SLOT_WORKFLOW.sub(r"\1\2", rid)}
    if not _HOSTRUNTIME_ID.search(rid):
        return record
    out = {**record, "id": _HOSTRUNTIME_ID.sub("/providers/Microsoft.Web/workflows/", rid)}
    props = record.get("properties")
    if isinstance(props, dict) and isinstance(props.get("run"), dict) and "id" in props["run"]:
        out["properties"] = {**props, "run": {**props["run"],
                                              "id": _HOSTRUNTIME_ID.sub("/providers/Microsoft.Web/workflows/",
                                                                        props["run"]["id"])}}
    return out


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


# ---------------------------------------------------------------- corpora the tests and the bench serve

SAMPLE_SUB = "34adfa4f-cedf-4dc0-ba29-b6d1a69ab345"
SCHEMA = "https://schema.management.azure.com/providers/Microsoft.Logic/schemas/2016-06-01/workflowdefinition.json#"


def samples_dir() -> Any:
    from pathlib import Path

    path = Path(__file__).resolve().parents[3] / "shared" / "samples" / "azure"
    return path if path.exists() else Path("/work/shared/samples/azure")


def sample_body(name: str) -> Any:
    return json.loads((samples_dir() / f"{name}.json").read_text())["responses"]["200"]["body"]


def _workflow(rg: str, name: str, version: str, definition: dict[str, Any]) -> dict[str, Any]:
    """A workflow resource as Workflows_Get answers it (azure-rest-api-specs, logic 2019-05-01)."""
    wid = f"/subscriptions/{SAMPLE_SUB}/resourceGroups/{rg}/providers/Microsoft.Logic/workflows/{name}"
    return {"id": wid, "name": name, "type": "Microsoft.Logic/workflows", "location": "brazilsouth", "tags": {},
            "properties": {"provisioningState": "Succeeded", "createdTime": "2018-04-25T23:52:41.8256869Z",
                           "changedTime": "2018-08-10T20:10:57.5683562Z", "state": "Enabled", "version": version,
                           "accessEndpoint": f"https://prod-00.brazilsouth.logic.azure.com:443/workflows/{name}",
                           "definition": definition, "parameters": {}}}


def _run(wid: str, run: str, version: str, trigger: str, start: str, end: str) -> dict[str, Any]:
    body = json.loads(json.dumps(sample_body("WorkflowRuns_Get")))
    props = body["properties"]
    props.update({"startTime": start, "waitEndTime": start, "endTime": end})
    props["workflow"] = {"id": f"{wid}/versions/{version}", "name": version,
                         "type": "Microsoft.Logic/workflows/versions"}
    props["trigger"].update({"name": trigger, "startTime": start, "endTime": start})
    props["correlation"] = {"clientTrackingId": run}
    body.update({"id": f"{wid}/runs/{run}", "name": run})
    return body


def _aggregate(run_id: str, name: str, start: str, end: str) -> dict[str, Any]:
    return {"properties": {"startTime": start, "endTime": end, "status": "Succeeded", "code": "OK",
                           "correlation": {"actionTrackingId": f"agg-{name}"}},
            "id": f"{run_id}/actions/{name}", "name": name, "type": "Microsoft.Logic/workflows/runs/actions"}


def sample_corpus() -> list[dict[str, Any]]:
    """The official examples as one consistent subscription: the records they show, plus the few
    that tie them together (the workflows with their definitions, the run the loop examples belong
    to, the trigger's run, and a poll that fired nothing)."""
    base = f"/subscriptions/{SAMPLE_SUB}/resourceGroups"
    records: list[dict[str, Any]] = []
    # test-workflow: WorkflowRuns_List + WorkflowRunActions_List as they are
    records.append(_workflow("test-resource-group", "test-workflow", "08586676754160363885", {
        "$schema": SCHEMA, "contentVersion": "1.0.0.0",
        "triggers": {"Recurrence": {"type": "Recurrence", "recurrence": {"frequency": "Minute", "interval": 5}}},
        "actions": {"HTTP": {"type": "Http", "inputs": {"method": "GET", "uri": "http://tempuri.org"},
                             "runAfter": {}}}}))
    records += sample_body("WorkflowRuns_List")["value"]
    records += sample_body("WorkflowRunActions_List")["value"]
    # testFlow: the loop examples (WorkflowRunActionRepetitions_List, ..ScopeRepetitions_List)
    flow = f"{base}/testResourceGroup/providers/Microsoft.Logic/workflows/testFlow"
    records.append(_workflow("testResourceGroup", "testFlow", "08586776228332053161046300000", {
        "$schema": SCHEMA, "contentVersion": "1.0.0.0",
        "triggers": {"manual": {"type": "Request", "kind": "Http", "inputs": {}}},
        "actions": {"For_each": {"type": "Foreach", "foreach": "@triggerBody()", "runAfter": {},
                                 "actions": {"testAction": {"type": "Http", "runAfter": {},
                                                            "inputs": {"method": "GET", "uri": "http://tempuri.org"}}}}}}))
    run = "08586776228332053161046300351"
    records.append(_run(flow, run, "08586776228332053161046300000", "manual",
                        "2018-04-18T17:05:56.9000000Z", "2018-04-18T17:05:57.7000000Z"))
    records.append(_aggregate(f"{flow}/runs/{run}", "For_each", "2018-04-18T17:05:57.0686808Z",
                              "2018-04-18T17:05:57.6240967Z"))
    records.append(_aggregate(f"{flow}/runs/{run}", "testAction", "2018-04-18T17:05:57.0929911Z",
                              "2018-04-18T17:05:57.2264835Z"))
    records += sample_body("WorkflowRunActionRepetitions_List")["value"]
    records += sample_body("WorkflowRunActionScopeRepetitions_List")["value"]
    # testWorkflowName: WorkflowTriggerHistories_List (a fired poll), its run, and a poll that fired nothing
    named = f"{base}/testResourceGroup/providers/Microsoft.Logic/workflows/testWorkflowName"
    records.append(_workflow("testResourceGroup", "testWorkflowName", "08586676754160363886", {
        "$schema": SCHEMA, "contentVersion": "1.0.0.0",
        "triggers": {"testTriggerName": {"type": "Recurrence",
                                         "recurrence": {"frequency": "Minute", "interval": 1}}},
        "actions": {}}))
    records.append(_run(named, "08586676746934337772206998657CU22", "08586676754160363886", "testTriggerName",
                        "2018-08-10T20:16:32.0387927Z", "2018-08-10T20:16:32.5779999Z"))
    histories = sample_body("WorkflowTriggerHistories_List")["value"]
    records += histories
    skipped = json.loads(json.dumps(histories[0]))
    skipped["properties"].update({"fired": False, "status": "Skipped", "code": "Skipped",
                                  "startTime": "2018-08-10T20:17:32.0387927Z",
                                  "endTime": "2018-08-10T20:17:32.1387927Z"})
    skipped["properties"].pop("run")
    skipped["id"] = skipped["id"].rsplit("/", 1)[0] + "/08586676746334337772206998657CU22"
    skipped["name"] = "08586676746334337772206998657CU22"
    records.append(skipped)
    return records


def simulated_corpus(executions: int = 60, seed: int = 7, *, days: int = 2,
                     end: dt.datetime | None = None, standard: bool = False) -> list[dict[str, Any]]:
    """The simulator's Consumption workflows as records; with `standard`, its Standard app too
    (the site of kind workflowapp, its workflow, and its runs under the site's hostruntime API)."""
    from flowscope.simulate.azure import simulate
    from flowscope.simulate.base import SimSpec

    end = end or dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
    sim = simulate(SimSpec(start=end - dt.timedelta(days=days), end=end, executions=executions, seed=seed))
    records: list[dict[str, Any]] = []
    for _, doc in sim.documents:
        for record in (doc["value"] if "value" in doc else [doc]):
            if standard or "/microsoft.web/" not in record["id"].lower():
                records.append(record)
    if standard:
        from flowscope.simulate.azure import RESOURCE_GROUP, SITE, SUBSCRIPTION

        group = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/Microsoft.Web"
        records.append({"id": f"{group}/sites/{SITE}", "name": SITE, "type": "Microsoft.Web/sites",
                        "kind": "functionapp,workflowapp", "location": "West Europe",
                        "properties": {"state": "Running", "serverFarmId": f"{group}/serverfarms/{SITE}-plan"}})
    return records


def server_farm(site_id: str, name: str, sku: str = "WS2", *, workers: int = 3, capacity: int = 1) -> dict[str, Any]:
    """An App Service plan (`Microsoft.Web/serverfarms`, the REST reference's shape) in the site's group."""
    group = site_id.lower().split("/providers/", 1)[0]
    return {"id": f"{group}/providers/Microsoft.Web/serverfarms/{name}", "name": name,
            "type": "Microsoft.Web/serverfarms", "kind": "elastic", "location": "West Europe",
            "sku": {"name": sku, "tier": "WorkflowStandard", "size": sku, "family": "WS", "capacity": capacity},
            "properties": {"status": "Ready", "numberOfWorkers": workers, "maximumElasticWorkerCount": 20,
                           "numberOfSites": 1, "elasticScaleEnabled": True}}


def import_reference(records: list[dict[str, Any]], path: Any) -> Any:
    """The same records through the offline import path (transform -> assemble -> store): what a
    live collection of them must equal."""
    from flowscope.collectors.assemble import assemble_batch
    from flowscope.collectors.azure import transform
    from flowscope.collectors.native import ImportContext
    from flowscope.collectors.registry import transforms_for
    from flowscope.store import Store

    store = Store(path)
    batch = transform.transform({"value": records}, ImportContext(source_name="reference"))
    store.write(assemble_batch(batch, store, transforms_for=transforms_for))
    return store


def store_with_running_slot_run(folder: Any, slot: str) -> Any:
    """A store in `folder/s` holding one running run of the deployment slot `slot` (`.../sites/{site}/slots/
    {name}`), imported as a runs list (`folder/slot.json`): a slot's runs reach the store only by import."""
    from flowscope.collectors.importer import import_files
    from flowscope.store import Store

    slot_run = {"id": f"{slot}/workflows/ledger-standard/runs/08585", "name": "08585",
                "type": "Microsoft.Logic/workflows/runs",
                "properties": {"status": "Running", "startTime": "2026-11-01T10:00:00Z"}}
    (folder / "slot.json").write_text(json.dumps({"value": [slot_run]}))
    store = Store(folder / "s")
    import_files(store, [folder / "slot.json"])
    return store


def snapshot(store: Any) -> dict[str, list[str]]:
    """Model rows minus when and how they were collected, sorted: two stores compare equal."""
    return loopback.snapshot(store, {"workflows": {"seen_at"}, "executions": {"collected_at", "source"}})


def la_rows_from(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The LogicAppWorkflowRuntime rows Azure would log for these management-API records (runs,
    their triggers and actions; no loops: the log has no iteration index)."""
    rows: list[dict[str, Any]] = []
    names = {canonical(r["id"]).split("/runs/")[0]: r["id"].split("/runs/")[0].rsplit("/", 1)[-1]
             for r in records if "/runs/" in r["id"]}

    def row(wf: str, op: str, run: str, props: dict[str, Any], **extra: Any) -> None:
        err = props.get("error") if isinstance(props.get("error"), dict) else {}
        rows.append({"ResourceId": wf, "WorkflowName": names.get(wf, wf.rsplit("/", 1)[-1]), "RunId": run,
                     "ActionName": "", "TriggerName": "", "OperationName": f"Microsoft.Logic/workflows/{op}",
                     "Status": props.get("status") or "", "StartTime": props.get("startTime"),
                     "EndTime": props.get("endTime") if op.endswith("Completed") else None,
                     "Code": props.get("code") or err.get("code") or "", "Error": err.get("message") or "",
                     "RetryHistory": "", "TimeGenerated": props.get("endTime") or props.get("startTime"), **extra})

    for rec in records:
        rid, kind = canonical(rec["id"]), str(rec.get("type", "")).lower()
        props = rec.get("properties") or {}
        if kind == "microsoft.logic/workflows/runs":
            wf, run = rid.split("/runs/")[0], rec["name"]
            row(wf, "workflowRunStarted", run, {**props, "status": "Running"}, TimeGenerated=props["startTime"])
            if props.get("endTime"):
                row(wf, "workflowRunCompleted", run, props)
            trigger = props.get("trigger") or {}
            if trigger.get("name"):
                row(wf, "workflowTriggerCompleted", run, trigger, TriggerName=trigger["name"])
        elif kind == "microsoft.logic/workflows/runs/actions":
            wf = rid.split("/runs/")[0]
            run = rec["id"].split("/runs/")[1].split("/")[0]
            op = "workflowActionCompleted" if props.get("endTime") else "workflowActionStarted"
            retries = json.dumps(props["retryHistory"]) if props.get("retryHistory") else ""
            row(wf, op, run, props, ActionName=rec["name"], RetryHistory=retries)
        elif kind == "microsoft.logic/workflows/triggers/histories" and not props.get("fired"):
            wf = rid.split("/triggers/")[0]
            trigger_name = rec["id"].split("/triggers/")[1].split("/")[0]
            row(wf, "workflowTriggerCompleted", rec["name"], props, TriggerName=trigger_name)
    return rows
