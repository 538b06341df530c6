"""A local GCP Workflows server on loopback: Workflows v1, Workflow Executions v1, Cloud Logging.

It speaks the REST surface the collector calls, shaped by the official discovery documents in
shared/samples/gcp (tests/gcp/test_collector_server.py checks every response against them):

- Workflows v1: `projects.locations.list`, `workflows.list` (pageToken paging), `workflows.get`
  (with `revisionId`).
- Workflow Executions v1: `executions.list` (`filter` on startTime with >=, >, <, <=, `view`
  BASIC/FULL, newest createTime first, pageToken paging), `executions.get` (`view`),
  `executions.stepEntries.list` (pageToken paging, entry order).
- Cloud Logging v2: `POST /v2/entries:list` (resourceNames, a filter on timestamp and resource
  labels, pageToken).
- Cloud Monitoring v3: `metricDescriptors.list` (a `starts_with` filter) and `timeSeries.list`
  (finished executions per status and execution times, aligned to the asked period, computed
  from the executions it holds).

Faults, for the fault tests: `fail(path_part, status, times)` answers matching requests with a
Google error body; `slow(path_part, delay_s, times)` answers them late; `throttle_every = n`
answers every n-th request with 429 RESOURCE_EXHAUSTED; `delay_s` slows every answer;
`short_pages = n` caps each page at n items (shorter than asked, with a next token);
`cut(path_part, times)` drops the connection half-way through a 200's body;
`revoke(token)` makes a bearer token answer 401;
`delete_execution(name)` makes an execution (and its entries) 404, e.g. from `on_request`,
a callback run before each answer. Every request is recorded in `requests`.
"""

from __future__ import annotations

import bisect
import datetime as dt
import http.server
import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests import loopback
from tests.loopback import LoopbackServer, send

TOKEN = "test-token-0123456789"
BASIC_FIELDS = ("name", "startTime", "endTime", "duration", "state", "workflowRevisionId")
DEFAULT_PAGE = {"workflows": 500, "executions": 100, "stepEntries": 1000, "locations": 100, "entries": 50,
                "metricDescriptors": 100, "timeSeries": 100}
MAX_PAGE = {"workflows": 1000, "executions": 1000, "stepEntries": 1000, "locations": 1000, "entries": 1000,
            "metricDescriptors": 1000, "timeSeries": 1000}

_WF = r"/v1/projects/(?P<p>[^/]+)/locations/(?P<l>[^/]+)/workflows/(?P<w>[^/:]+)"
ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(r"^/v1/projects/(?P<p>[^/]+)/locations$"), "locations"),
    ("GET", re.compile(r"^/v1/projects/(?P<p>[^/]+)/locations/(?P<l>[^/]+)/workflows$"), "workflows_list"),
    ("GET", re.compile(rf"^{_WF}$"), "workflows_get"),
    ("GET", re.compile(rf"^{_WF}/executions$"), "executions_list"),
    ("GET", re.compile(rf"^{_WF}/executions/(?P<e>[^/:]+)$"), "executions_get"),
    ("GET", re.compile(rf"^{_WF}/executions/(?P<e>[^/:]+)/stepEntries$"), "step_entries"),
    ("POST", re.compile(r"^/v2/entries:list$"), "entries_list"),
    ("GET", re.compile(r"^/v3/projects/(?P<p>[^/]+)/metricDescriptors$"), "descriptors"),
    ("GET", re.compile(r"^/v3/projects/(?P<p>[^/]+)/timeSeries$"), "time_series"),
]
DESCRIPTORS: list[dict[str, Any]] = [
    {"name": "projects/{p}/metricDescriptors/workflows.googleapis.com/finished_execution_count",
     "type": "workflows.googleapis.com/finished_execution_count", "metricKind": "DELTA", "valueType": "INT64",
     "unit": "1", "labels": [{"key": "status"}]},
    {"name": "projects/{p}/metricDescriptors/workflows.googleapis.com/execution_times",
     "type": "workflows.googleapis.com/execution_times", "metricKind": "DELTA", "valueType": "DISTRIBUTION",
     "unit": "s"},
    {"name": "projects/{p}/metricDescriptors/workflows.googleapis.com/revision_label",
     "type": "workflows.googleapis.com/revision_label", "metricKind": "GAUGE", "valueType": "STRING"},
]


def parse_time(text: str) -> dt.datetime:
    """RFC 3339 with up to nanoseconds, as the API writes it."""
    m = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$", text)
    if not m:
        raise ValueError(f"bad timestamp {text!r}")
    base = dt.datetime.fromisoformat(m.group(1) + (m.group(3) if m.group(3) != "Z" else "+00:00"))
    frac = (m.group(2) or "0")[:6].ljust(6, "0")
    return base.replace(microsecond=int(frac)).astimezone(dt.timezone.utc)


_FILTER = re.compile(r'^\s*(startTime|createTime|timestamp)\s*(>=|<=|>|<|=)\s*"([^"]+)"\s*$')


def matches_filter(doc: dict[str, Any], flt: str | None) -> bool:
    """The subset of AIP-160 the collector sends: comparisons of a time field joined by AND."""
    if not flt:
        return True
    for clause in re.split(r"\s+AND\s+", flt.strip()):
        m = _FILTER.match(clause)
        if not m:
            raise ValueError(f"unsupported filter clause {clause!r}")
        field_name, op, value = m.groups()
        have = doc.get(field_name)
        if field_name == "createTime" and not have:
            have = doc.get("startTime")     # the API always sets createTime: a fixture without started at once
        if not have:
            return False
        a, b = parse_time(have), parse_time(value)
        ok = {">=": a >= b, "<=": a <= b, ">": a > b, "<": a < b, "=": a == b}[op]
        if not ok:
            return False
    return True


@dataclass
class Fault:
    path_part: str
    status: int
    times: int
    method: str | None = None
    delay_s: float = 0.0
    retry_after: float | None = None
    until: float = 0.0


class GcpServer(LoopbackServer):
    """In-memory Workflows data served on 127.0.0.1 (free port) in a daemon thread."""

    def __init__(self, *, token: str = TOKEN) -> None:
        self.tokens = {token}
        self.workflows: dict[str, dict[str, Any]] = {}            # name -> current revision
        self.revisions: dict[tuple[str, str], dict[str, Any]] = {}  # (name, revisionId) -> doc
        self.executions: dict[str, dict[str, Any]] = {}           # name -> FULL execution
        self.entries: dict[str, list[dict[str, Any]]] = {}        # execution name -> step entries
        self.log_entries: list[dict[str, Any]] = []
        self._log_sorted: tuple[list[dict[str, Any]], list[dt.datetime]] | None = None
        self._log_cache: tuple[Any, list[dict[str, Any]]] | None = None
        self.extra_locations: dict[str, set[str]] = {}
        self.requests: list[tuple[str, str, dict[str, list[str]]]] = []
        self.faults: list[Fault] = []
        self.throttle_every = 0
        self.delay_s = 0.0
        self.short_pages = 0
        self.on_request: Callable[[str, str], None] | None = None
        self.project_numbers: dict[str, str] = {}
        """project id -> project number: the Workflow Executions API names executions and step entries
        by the project *number* (`projects/123456789012/...`), whichever form the request used, and
        answers requests made with either form."""
        self.injected = 0
        self.cuts: list[list[Any]] = []
        """[path part, times]: answers cut off mid-body (`cut`)."""
        self._n = 0
        self.lock = threading.RLock()
        super().__init__()
        self.start()

    # ------------------------------------------------------------ data

    def add_workflow(self, doc: dict[str, Any], *, current: bool = True) -> None:
        with self.lock:
            self.revisions[(doc["name"], doc["revisionId"])] = doc
            if current:
                self.workflows[doc["name"]] = doc

    def add_execution(self, doc: dict[str, Any], entries: Iterable[dict[str, Any]] = ()) -> None:
        with self.lock:
            self.executions[doc["name"]] = doc
            self.entries[doc["name"]] = sorted(entries, key=lambda e: int(e["entryId"]))

    def load(self, documents: Iterable[tuple[str, Any]]) -> None:
        """Native documents as the simulator (or an export) gives them."""
        for fmt, doc in documents:
            if fmt == "gcp.workflow":
                for wf in doc.get("workflows", [doc]):
                    self.add_workflow(wf)
            elif fmt == "gcp.executions":
                for ex in doc.get("executions", [doc]):
                    self.executions[ex["name"]] = ex
                    self.entries.setdefault(ex["name"], [])
            elif fmt == "gcp.step_entries":
                for entry in doc.get("stepEntries", []):
                    exec_name = entry["name"].split("/stepEntries/", 1)[0]
                    self.entries.setdefault(exec_name, []).append(entry)
            elif fmt == "gcp.log_entries":
                self.log_entries.extend(doc.get("entries", doc) if isinstance(doc, dict) else doc)
        for entries in self.entries.values():
            entries.sort(key=lambda e: int(e["entryId"]))

    def delete_execution(self, name: str) -> None:
        with self.lock:
            self.executions.pop(name, None)
            self.entries.pop(name, None)

    def fail(self, path_part: str, status: int, times: int = 1, method: str | None = None) -> None:
        with self.lock:
            self.faults.append(Fault(path_part, status, times, method))

    def unavailable_for(self, path_part: str, seconds: float, status: int = 503) -> None:
        """Matching requests are answered `status` with `Retry-After: <seconds>` until that many
        seconds have passed since the first one (a call made earlier than told is refused again)."""
        with self.lock:
            self.faults.append(Fault(path_part, status, 10**9, None, 0.0, seconds))

    def slow(self, path_part: str, delay_s: float, times: int = 1) -> None:
        """The next `times` matching requests are answered (normally) after `delay_s`."""
        with self.lock:
            self.faults.append(Fault(path_part, 0, times, None, delay_s))

    def revoke(self, token: str = TOKEN) -> None:
        with self.lock:
            self.tokens.discard(token)

    def count(self, route_part: str, method: str = "GET") -> int:
        with self.lock:
            return sum(1 for m, p, _ in self.requests if m == method and route_part in p)

    def calls_to(self, name: str) -> int:
        """Requests whose route is `name` (see ROUTES)."""
        with self.lock:
            return sum(1 for m, p, _ in self.requests if _route(m, p)[0] == name)

    # ------------------------------------------------------------ HTTP

    def handle(self, h: http.server.BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(h.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        with self.lock:
            self.requests.append((method, parts.path, query))
            self._n += 1
            n = self._n
            fault = next((f for f in self.faults if f.path_part in parts.path and f.times > 0
                          and (f.method is None or f.method == method)), None)
            if fault and fault.retry_after is not None:
                now = time.monotonic()
                fault.until = fault.until or now + fault.retry_after
                if now >= fault.until:
                    self.faults.remove(fault)
                    fault = None
            elif fault:
                fault.times -= 1
        if self.on_request:
            self.on_request(method, parts.path)
        if self.delay_s:
            time.sleep(self.delay_s)
        auth = h.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            return self._error(h, 401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        if fault and fault.delay_s:
            time.sleep(fault.delay_s)
            fault = None
        if fault:
            self.injected += 1
            word = {429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE", 500: "INTERNAL", 404: "NOT_FOUND",
                    403: "PERMISSION_DENIED"}
            headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else None
            return self._error(h, fault.status, word.get(fault.status, "UNKNOWN"), "injected fault", headers)
        if self.throttle_every and n % self.throttle_every == 0:
            self.injected += 1
            return self._error(h, 429, "RESOURCE_EXHAUSTED", "Quota exceeded (injected)")
        name, m = _route(method, parts.path)
        if name is None or m is None:
            return self._error(h, 404 if method in ("GET", "POST") else 405, "NOT_FOUND",
                               f"no route for {method} {parts.path}")
        groups = m.groupdict()
        ids = {number: pid for pid, number in self.project_numbers.items()}
        if groups.get("p") in ids:
            groups["p"] = ids[groups["p"]]
        try:
            status, doc = getattr(self, f"_r_{name}")(groups, query, body)
            if name in ("executions_list", "executions_get", "step_entries") and status == 200:
                doc = self._numbered(doc)
        except ValueError as exc:
            return self._error(h, 400, "INVALID_ARGUMENT", str(exc))
        if status != 200:
            return self._error(h, status, doc["status"], doc["message"])
        self._send_ok(h, parts.path, doc)

    def _send_ok(self, h: http.server.BaseHTTPRequestHandler, path: str, doc: dict[str, Any]) -> None:
        """A 200 with `doc`, or, when a `cut` matches `path`, one cut off mid-body."""
        if self._take_cut(path):
            return self._send_cut(h, doc)
        self._send(h, 200, doc)

    def cut(self, path_part: str, times: int = 1) -> None:
        """The next `times` matching answers are 200s whose connection drops half-way through the
        body (a reset mid-page: `Content-Length` says more than arrives)."""
        with self.lock:
            self.cuts.append([path_part, times])

    def _take_cut(self, path: str) -> bool:
        with self.lock:
            for cut in self.cuts:
                if cut[0] in path and cut[1] > 0:
                    cut[1] -= 1
                    self.injected += 1
                    return True
        return False

    def _send_cut(self, h: http.server.BaseHTTPRequestHandler, doc: dict[str, Any]) -> None:
        data = json.dumps(doc).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json; charset=UTF-8")
        h.send_header("Content-Length", str(len(data)))
        h.send_header("Connection", "close")
        h.end_headers()
        h.wfile.write(data[: len(data) // 2])
        h.wfile.flush()
        h.close_connection = True

    def _send(self, h: http.server.BaseHTTPRequestHandler, status: int, doc: dict[str, Any],
              headers: dict[str, str] | None = None) -> None:
        send(h, status, doc, content_type="application/json; charset=UTF-8", headers=headers)

    def _error(self, h: http.server.BaseHTTPRequestHandler, status: int, word: str, message: str,
               headers: dict[str, str] | None = None) -> None:
        self._send(h, status, {"error": {"code": status, "message": message, "status": word}}, headers)

    # ------------------------------------------------------------ paging

    def _page(self, items: list[Any], key: str, query: dict[str, list[str]], extra: dict[str, Any] | None = None,
              size: int | None = None, token: str | None = None) -> dict[str, Any]:
        if size is None:
            raw = (query.get("pageSize") or [""])[0]
            size = int(raw) if raw else DEFAULT_PAGE[key]
        size = max(1, min(size, MAX_PAGE[key]))
        if self.short_pages:
            size = min(size, self.short_pages)
        token = token if token is not None else (query.get("pageToken") or [""])[0]
        start = int(token.removeprefix("tok-")) if token else 0
        out: dict[str, Any] = {key: items[start:start + size], **(extra or {})}
        if start + size < len(items):
            out["nextPageToken"] = f"tok-{start + size}"
        return out

    # ------------------------------------------------------------ routes

    def _r_locations(self, g: dict[str, str], query: dict[str, list[str]], _body: bytes) -> tuple[int, dict]:
        with self.lock:
            locs = {n.split("/")[3] for n in self.workflows if n.split("/")[1] == g["p"]}
            locs |= self.extra_locations.get(g["p"], set())
        items = [{"name": f"projects/{g['p']}/locations/{loc}", "locationId": loc} for loc in sorted(locs)]
        return 200, self._page(items, "locations", query)

    def _r_workflows_list(self, g: dict[str, str], query: dict[str, list[str]], _body: bytes) -> tuple[int, dict]:
        parent = f"projects/{g['p']}/locations/{g['l']}/"
        with self.lock:
            items = [w for n, w in sorted(self.workflows.items()) if n.startswith(parent)]
        return 200, self._page(items, "workflows", query)

    def _r_workflows_get(self, g: dict[str, str], query: dict[str, list[str]], _body: bytes) -> tuple[int, dict]:
        name = f"projects/{g['p']}/locations/{g['l']}/workflows/{g['w']}"
        revision = (query.get("revisionId") or [""])[0]
        with self.lock:
            doc = self.revisions.get((name, revision)) if revision else self.workflows.get(name)
        if doc is None:
            return 404, {"status": "NOT_FOUND", "message": f"Resource '{name}' was not found"}
        return 200, doc

    def _numbered(self, doc: dict[str, Any]) -> dict[str, Any]:
        """An Executions API answer with its resource names under the project number (`project_numbers`)."""
        def renamed(item: Any) -> Any:
            name = item.get("name") if isinstance(item, dict) else None
            project = name.split("/")[1] if isinstance(name, str) and name.startswith("projects/") else None
            if project not in self.project_numbers:
                return item
            return {**item, "name": f"projects/{self.project_numbers[project]}/{name.split('/', 2)[2]}"}

        out = renamed(doc)
        for key in ("executions", "stepEntries"):
            if isinstance(out.get(key), list):
                out = {**out, key: [renamed(i) for i in out[key]]}
        return out

    def _view(self, doc: dict[str, Any], query: dict[str, list[str]]) -> dict[str, Any]:
        view = (query.get("view") or ["BASIC"])[0]
        if view == "FULL":
            return doc
        return {k: doc[k] for k in BASIC_FIELDS if k in doc}

    def _r_executions_list(self, g: dict[str, str], query: dict[str, list[str]], _body: bytes) -> tuple[int, dict]:
        parent = f"projects/{g['p']}/locations/{g['l']}/workflows/{g['w']}"
        flt = (query.get("filter") or [""])[0]
        with self.lock:
            if parent not in self.workflows:
                return 404, {"status": "NOT_FOUND", "message": f"Resource '{parent}' was not found"}
            items = [e for n, e in self.executions.items() if n.startswith(parent + "/executions/")]
        items = [e for e in items if matches_filter(e, flt)]
        items.sort(key=lambda e: (parse_time(e.get("createTime") or e.get("startTime") or "1970-01-01T00:00:00Z"),
                                 e["name"]), reverse=True)
        return 200, self._page([self._view(e, query) for e in items], "executions", query)

    def _r_executions_get(self, g: dict[str, str], query: dict[str, list[str]], _body: bytes) -> tuple[int, dict]:
        name = f"projects/{g['p']}/locations/{g['l']}/workflows/{g['w']}/executions/{g['e']}"
        with self.lock:
            doc = self.executions.get(name)
        if doc is None:
            return 404, {"status": "NOT_FOUND", "message": f"Resource '{name}' was not found"}
        return 200, self._view(doc, {"view": (query.get("view") or ["FULL"])})

    def _r_step_entries(self, g: dict[str, str], query: dict[str, list[str]], _body: bytes) -> tuple[int, dict]:
        name = f"projects/{g['p']}/locations/{g['l']}/workflows/{g['w']}/executions/{g['e']}"
        with self.lock:
            if name not in self.executions:
                return 404, {"status": "NOT_FOUND", "message": f"Resource '{name}' was not found"}
            items = list(self.entries.get(name, []))
        page = self._page(items, "stepEntries", query)
        page["totalSize"] = len(items)
        return 200, page

    def _r_entries_list(self, _g: dict[str, str], _query: dict[str, list[str]], body: bytes) -> tuple[int, dict]:
        request = json.loads(body or b"{}")
        projects = tuple(sorted(r.split("/", 1)[1] for r in request.get("resourceNames", [])
                                if r.startswith("projects/")))
        flt = request.get("filter") or ""
        items = self._log_query(projects, flt)
        return 200, self._page(items, "entries", {}, size=int(request.get("pageSize") or DEFAULT_PAGE["entries"]),
                               token=request.get("pageToken") or "")

    def _r_descriptors(self, g: dict[str, str], query: dict[str, list[str]], _body: bytes) -> tuple[int, dict]:
        return _r_descriptors_impl(self, g, query)

    def _r_time_series(self, g: dict[str, str], query: dict[str, list[str]], _body: bytes) -> tuple[int, dict]:
        return _r_time_series_impl(self, g, query)

    def _log_query(self, projects: tuple[str, ...], flt: str) -> list[dict[str, Any]]:
        """Entries of the projects matching the filter's time range and resource labels, oldest
        first (cached per query: a listing pages through one result)."""
        with self.lock:
            key = (projects, flt, len(self.log_entries))
            if self._log_cache and self._log_cache[0] == key:
                return self._log_cache[1]
            if self._log_sorted is None or len(self._log_sorted[0]) != len(self.log_entries):
                ordered = sorted(self.log_entries, key=lambda e: (parse_time(e["timestamp"]), e.get("insertId", "")))
                self._log_sorted = (ordered, [parse_time(e["timestamp"]) for e in ordered])
            ordered, stamps = self._log_sorted
        lo, hi = 0, len(ordered)
        for op, value in re.findall(r'timestamp\s*(>=|<=|>|<)\s*"([^"]+)"', flt):
            when = parse_time(value)
            if op in (">=", ">"):
                lo = max(lo, (bisect.bisect_left if op == ">=" else bisect.bisect_right)(stamps, when))
            else:
                hi = min(hi, (bisect.bisect_right if op == "<=" else bisect.bisect_left)(stamps, when))
        labels = dict(re.findall(r'resource\.labels\.(\w+)="([^"]*)"', flt))
        items = [e for e in ordered[lo:hi]
                 if (e.get("resource") or {}).get("labels", {}).get("project_id") in projects
                 and all((e.get("resource") or {}).get("labels", {}).get(k) == v for k, v in labels.items())]
        with self.lock:
            self._log_cache = (key, items)
        return items


def _r_descriptors_impl(server: GcpServer, g: dict[str, str], query: dict[str, list[str]]) -> tuple[int, dict]:
    flt = (query.get("filter") or [""])[0]
    m = re.search(r'starts_with\("([^"]*)"\)', flt)
    prefix = m.group(1) if m else ""
    items = [{**d, "name": str(d["name"]).format(p=g["p"])} for d in DESCRIPTORS if str(d["type"]).startswith(prefix)]
    return 200, server._page(items, "metricDescriptors", query)


def _r_time_series_impl(server: GcpServer, g: dict[str, str], query: dict[str, list[str]]) -> tuple[int, dict]:
    """Finished executions per workflow, status and aligned period (counts), and their durations
    (distributions), computed from the server's executions."""
    flt = (query.get("filter") or [""])[0]
    metric_type = re.search(r'metric\.type\s*=\s*"([^"]+)"', flt)
    start = parse_time(query["interval.startTime"][0])
    end = parse_time(query["interval.endTime"][0])
    period = int(query.get("aggregation.alignmentPeriod", ["60s"])[0].rstrip("s"))
    kind = metric_type.group(1).rsplit("/", 1)[-1] if metric_type else ""
    buckets: dict[tuple[str, str, dt.datetime], list[float]] = {}
    with server.lock:
        executions = list(server.executions.values())
    for ex in executions:
        if not ex.get("endTime") or not ex["name"].startswith(f"projects/{g['p']}/"):
            continue
        ended = parse_time(ex["endTime"])
        if not start <= ended < end:
            continue
        epoch = int(ended.timestamp())
        bucket = dt.datetime.fromtimestamp(epoch - epoch % period, tz=dt.timezone.utc)
        wf = ex["name"].split("/executions/")[0]
        seconds = (ended - parse_time(ex.get("startTime") or ex.get("createTime") or ex["endTime"])).total_seconds()
        buckets.setdefault((wf, ex["state"], bucket), []).append(seconds)
    series: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for (wf, state, bucket), values in sorted(buckets.items(), key=lambda kv: kv[0][2], reverse=True):
        interval = {"startTime": bucket.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "endTime": (bucket + dt.timedelta(seconds=period)).strftime("%Y-%m-%dT%H:%M:%SZ")}
        if kind == "finished_execution_count":
            series.setdefault((wf, state), []).append({"interval": interval, "value": {"int64Value": str(len(values))}})
        elif kind == "execution_times":
            series.setdefault((wf, ""), []).append({"interval": interval, "value": {"distributionValue": {
                "count": str(len(values)), "mean": sum(values) / len(values)}}})
    out = []
    for (wf, state), points in sorted(series.items()):
        _, project, _, location, _, workflow = wf.split("/")
        out.append({"metric": {"type": metric_type.group(1) if metric_type else "",
                               **({"labels": {"status": state}} if state else {})},
                    "resource": {"type": "workflows.googleapis.com/Workflow",
                                 "labels": {"project_id": project, "location": location, "workflow_id": workflow}},
                    "metricKind": "DELTA", "valueType": "INT64" if state else "DISTRIBUTION", "points": points})
    return 200, server._page(out, "timeSeries", query)


def _route(method: str, path: str) -> tuple[str | None, re.Match[str] | None]:
    for verb, pattern, name in ROUTES:
        m = pattern.match(path)
        if m and verb == method:
            return name, m
    return None, None


# ---------------------------------------------------------------- helpers the tests and the bench share

FULL_STATES = frozenset({"FAILED", "CANCELLED", "UNAVAILABLE"})


def served_documents(server: GcpServer) -> list[tuple[str, Any]]:
    """The documents a collector reads from `server`: workflows, executions (BASIC, FULL when they
    failed or were cancelled) and step entries; what an export of the same calls would hold."""
    docs: list[tuple[str, Any]] = [("gcp.workflow", {"workflows": list(server.workflows.values())})]
    for name, ex in server.executions.items():
        view = ex if ex.get("state") in FULL_STATES else {k: ex[k] for k in BASIC_FIELDS if k in ex}
        docs.append(("gcp.executions", {"executions": [view]}))
        docs.append(("gcp.step_entries", {"stepEntries": [
            {k: v for k, v in e.items() if k != "variableData"} for e in server.entries.get(name, [])]}))
    return docs


@contextmanager
def simulated_server(monkeypatch: Any, spec: Any = None) -> Iterator[GcpServer]:
    """A GcpServer serving the simulator's documents for `spec` (none without one), with the test
    token set and the collector's retry backoff shortened (for a pytest fixture)."""
    from flowscope.collectors.gcp import clients as gcp_clients
    from flowscope.simulate.gcp import simulate

    monkeypatch.setenv(gcp_clients.TOKEN_ENV, TOKEN)
    monkeypatch.setattr(gcp_clients, "BACKOFF_S", 0.01)
    with GcpServer() as srv:
        if spec is not None:
            srv.load(simulate(spec).documents)
        yield srv


def source_of(server: GcpServer, project: str, **extra: object) -> dict[str, Any]:
    """A `[[sources]]` entry for this server."""
    return {"cloud": "gcp", "project": project, "endpoint": server.endpoint, **extra}


def snapshot(store: Any, drop: frozenset[str] = frozenset({"seen_at", "collected_at", "source"})) -> dict[str, list]:
    """Model rows minus the columns that say when and how they were collected, sorted."""
    return loopback.snapshot(store, {table: drop for table in loopback.MODEL_TABLES})


CALLEES = {"STEP_CALL": "http.get", "STEP_CONNECTOR_CALL": "googleapis.bigquery.v2.jobs.query",
           "STEP_STD_LIB_CALL": "sys.log", "STEP_SUBWORKFLOW_CALL": "save_order"}


def call_logs_from_entries(server: GcpServer, names: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """EngineCallLog entries (BEGUN, then SUCCEEDED or EXCEPTION_RAISED) for the call step entries
    of the server's executions, as a workflow logging all calls writes them."""
    out: list[dict[str, Any]] = []
    for name in sorted(names if names is not None else server.executions):
        _, project, _, location, _, workflow, _, short = name.split("/")
        for entry in server.entries.get(name, []):
            callee = CALLEES.get(entry.get("stepType", ""))
            if callee is None or entry.get("state") not in ("STATE_SUCCEEDED", "STATE_FAILED"):
                continue
            begun, ended = entry["createTime"], entry["updateTime"]
            end_state, key = (("SUCCEEDED", "succeeded") if entry["state"] == "STATE_SUCCEEDED"
                              else ("EXCEPTION_RAISED", "exceptionRaised"))
            detail: dict[str, Any] = {"callStartTime": begun}
            if key == "exceptionRaised":
                detail.update(exception='{"message":"call failed"}', origin=entry["step"])
            # as Workflows logs it: an HTTP call's BEGUN record carries its arguments (the URL)
            args = {"namedArgs": {"url": f"https://status.example.com/v1/check?execution={short}"}} \
                if callee.startswith("http.") else {}
            halves: tuple[tuple[str, str, dict[str, Any]], ...] = (("BEGUN", begun, {"begun": args}),
                                                                   (end_state, ended, {key: detail}))
            for n, (state, when, extra) in enumerate(halves):
                out.append({
                    "insertId": f"{short}-{entry['entryId']}-{n}",
                    "logName": f"projects/{project}/logs/workflows.googleapis.com%2Fcall_log",
                    "resource": {"type": "workflows.googleapis.com/Workflow",
                                 "labels": {"project_id": project, "location": location, "workflow_id": workflow}},
                    "labels": {"workflows.googleapis.com/execution_id": short}, "timestamp": when,
                    "severity": "INFO",
                    "jsonPayload": {"@type": "type.googleapis.com/google.cloud.workflows.type.EngineCallLog",
                                    "executionId": short, "activityTime": when, "state": state,
                                    "step": entry["step"], "routine": entry.get("routine", "main"),
                                    "callee": callee, **extra}})
    return out


def load_simulation(server: GcpServer, executions: int, days: int, seed: int, *, call_logs: bool) -> dt.datetime:
    """A simulated project (flowscope.simulate.gcp) on the server, its workflows logging all calls
    when `call_logs` (with call logs of every finished execution); returns the workload's end."""
    from flowscope.simulate.base import SimSpec
    from flowscope.simulate.gcp import simulate

    start = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
    spec = SimSpec(start, start + dt.timedelta(days=days), executions, seed=seed)
    server.load(simulate(spec).documents)
    if call_logs:
        for doc in server.workflows.values():
            doc["callLogLevel"] = "LOG_ALL_CALLS"
        server.log_entries.extend(call_logs_from_entries(
            server, [name for name, ex in server.executions.items() if ex["state"] != "ACTIVE"]))
    return spec.end


def main() -> None:
    """Serve a simulated project in its own process (benchmarks: no GIL shared with the client).

    Prints one JSON line (endpoint, counts, end of the workload), then serves until stdin closes."""
    import argparse
    import sys

    parser = argparse.ArgumentParser()
    parser.add_argument("--executions", type=int, default=1000)
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--call-logs", action="store_true")
    args = parser.parse_args()
    server = GcpServer()
    end = load_simulation(server, args.executions, args.days, args.seed, call_logs=args.call_logs)
    print(json.dumps({"endpoint": server.endpoint, "executions": len(server.executions),
                      "step_entries": sum(len(v) for v in server.entries.values()),
                      "log_entries": len(server.log_entries),
                      "running": sum(1 for e in server.executions.values() if e["state"] == "ACTIVE"),
                      "end": end.isoformat()}), flush=True)
    sys.stdin.read()
    server.close()


if __name__ == "__main__":
    main()
