"""Simulated Google Cloud Workflows: native REST documents plus labelled anomalies.

Three workflows in one project and region, their executions spread over spec.start..spec.end
with daily patterns:

- ``etl-nightly`` (healthy): a ``for`` loop over tables, each calling the BigQuery connector.
- ``image-pipeline``: downloads an image over HTTP from an external CDN inside try/retry (a
  transient 503 now and then), classifies it with an external API that fails often (HTTP 500,
  caught by ``except``: failing_step), then calls a subworkflow that writes to Firestore and
  notifies a Cloud Run service. In a window the download's latency p95 jumps (slow_step).
- ``status-checker``: starts a job on an external API, then polls it (call + switch +
  ``sys.sleep``, repeated: polling_loop). In a window the API answers HTTP 429 and the
  retry policy retries with a fixed delay and no jitter (retry_storm, synchronized_retries).
  A couple of executions stay ACTIVE (stuck_execution).

Documents are what the GCP transforms read: ``gcp.workflow`` (ListWorkflows with real
Workflows YAML in sourceContents), ``gcp.executions`` pages and ``gcp.step_entries`` pages
(one execution's entries per page, as ListStepEntries returns them).
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import random
import sys
import uuid
from dataclasses import dataclass, field
from typing import Any

from flowscope.model import Cloud
from flowscope.simulate.base import (
    Anomaly,
    AnomalyKind,
    Chunk,
    Sampler,
    SimPlan,
    SimSpec,
    SimulatedCloud,
    chunk_rng,
    chunk_windows,
    simulate_all,
)

PROJECT = "flowscope-demo"
LOCATION = "us-central1"
REVISION = "000003-1a2"
EXECUTIONS_PAGE = 1000
STEP_ENTRIES_PAGE = 100
NS = 1_000_000_000
MS = 1_000_000

ETL = "etl-nightly"
IMAGES = "image-pipeline"
STATUS = "status-checker"

ETL_SOURCE = """\
main:
  params: [args]
  steps:
    - init:
        assign:
          - project: ${sys.get_env("GOOGLE_CLOUD_PROJECT_ID")}
          - tables: ${args.tables}
    - load_tables:
        for:
          value: table
          in: ${tables}
          steps:
            - run_query:
                call: googleapis.bigquery.v2.jobs.query
                args:
                  projectId: ${project}
                  body:
                    query: ${"INSERT INTO warehouse." + table + " SELECT * FROM staging." + table}
                    useLegacySql: false
                result: query_result
    - done:
        return: ${len(tables)}
"""

IMAGES_SOURCE = """\
main:
  params: [event]
  steps:
    - init:
        assign:
          - image_id: ${event.image_id}
    - fetch_image:
        try:
          steps:
            - download:
                call: http.get
                args:
                  url: https://images.example-cdn.com/v1/images
                  query:
                    id: ${image_id}
                result: image
        retry:
          predicate: ${http.default_retry_predicate}
          max_retries: 3
          backoff:
            initial_delay: 1
            max_delay: 10
            multiplier: 2
    - classify:
        try:
          call: http.post
          args:
            url: https://api.vision-partner.io/v2/classify
            body:
              image: ${image.body.uri}
          result: labels
        except:
          as: e
          steps:
            - record_failure:
                assign:
                  - labels: null
    - store:
        call: process_result
        args:
          image_id: ${image_id}
          labels: ${labels}
        result: stored
    - done:
        return: ${stored}

process_result:
  params: [image_id, labels]
  steps:
    - write:
        call: googleapis.firestore.v1.projects.databases.documents.createDocument
        args:
          collectionId: images
          parent: ${"projects/" + sys.get_env("GOOGLE_CLOUD_PROJECT_ID") + "/databases/(default)/documents"}
          body:
            fields:
              id:
                stringValue: ${image_id}
    - notify:
        call: http.post
        args:
          url: https://notify-7f3k2a-uc.a.run.app/notify
          auth:
            type: OIDC
          body:
            image_id: ${image_id}
    - finish:
        return: ${image_id}
"""

STATUS_SOURCE = """\
main:
  params: [job]
  steps:
    - start_job:
        call: http.post
        args:
          url: https://jobs.partner-api.com/v1/jobs
          body: ${job}
        result: started
    - check_status:
        try:
          call: http.get
          args:
            url: ${"https://jobs.partner-api.com/v1/jobs/" + started.body.id}
          result: status
        retry:
          predicate: ${http.default_retry_predicate}
          max_retries: 5
          backoff:
            initial_delay: 2
            max_delay: 2
            multiplier: 1
    - is_done:
        switch:
          - condition: ${status.body.state == "DONE"}
            next: finish
    - wait:
        call: sys.sleep
        args:
          seconds: 10
        next: check_status
    - finish:
        return: ${status.body}
"""

SOURCES = {ETL: ETL_SOURCE, IMAGES: IMAGES_SOURCE, STATUS: STATUS_SOURCE}
SHARES = {ETL: 0.15, IMAGES: 0.50, STATUS: 0.35}
HOUR_WEIGHTS: dict[str, list[float]] = {
    ETL: [8, 10, 10, 8, 4, 1] + [0.2] * 18,
    IMAGES: [1, 1, 1, 1, 1, 2, 3, 5, 8, 10, 10, 10, 9, 10, 10, 9, 8, 6, 4, 3, 2, 2, 1, 1],
    STATUS: [4] * 24,
}
CLASSIFY_FAILURE_RATE = 0.30
DOWNLOAD_TRANSIENT_RATE = 0.05
SLOW_SHARE = 0.30
STORM_DELAY_S = 2
POLL_SLEEP_S = 10
STUCK_EXECUTIONS = 2

_HTTP_ERROR = '{{"message":"HTTP server responded with error code {code}","code":{code},"tags":["HttpError"]}}'


def _wf_name(wf: str) -> str:
    return f"projects/{PROJECT}/locations/{LOCATION}/workflows/{wf}"


class _Clock:
    """Fast RFC 3339 timestamps with 9 fractional digits, as the Workflows API writes them."""

    def __init__(self) -> None:
        self._days: dict[int, str] = {}
        self._secs: dict[int, str] = {}

    def ts(self, ns: int) -> str:
        sec, frac = divmod(ns, NS)
        prefix = self._secs.get(sec)
        if prefix is None:
            if len(self._secs) > 200_000:
                self._secs.clear()
            day, rem = divmod(sec, 86400)
            date = self._days.get(day)
            if date is None:
                date = (dt.date(1970, 1, 1) + dt.timedelta(days=day)).isoformat()
                self._days[day] = date
            h, rem = divmod(rem, 3600)
            m, s = divmod(rem, 60)
            prefix = self._secs[sec] = f"{date}T{h:02d}:{m:02d}:{s:02d}."
        return f"{prefix}{frac:09d}Z"


class _Run:
    """Step entries of one execution, built in order."""

    __slots__ = ("name", "clock", "t", "entries", "next_id", "rng")

    def __init__(self, name: str, start_ns: int, clock: _Clock, rng: random.Random) -> None:
        self.name = name
        self.clock = clock
        self.t = start_ns
        self.entries: list[dict[str, Any]] = []
        self.next_id = 1
        self.rng = rng

    def open(self, step: str, step_type: str, *, parent: int | None = None, previous: int | None = None,
             routine: str = "main", meta: dict[str, str] | None = None) -> dict[str, Any]:
        """An entry whose end is set later (containers, calls)."""
        eid = self.next_id
        self.next_id += 1
        self.t += int(self.rng.random() * 3 + 1) * MS
        nav: dict[str, str] = {}
        if parent is not None:
            nav["parent"] = str(parent)
        if previous is not None:
            nav["previous"] = str(previous)
        entry: dict[str, Any] = {
            "name": f"{self.name}/stepEntries/{eid}",
            "entryId": str(eid),
            "step": step,
            "routine": routine,
            "stepType": step_type,
            "state": "STATE_IN_PROGRESS",
            "createTime": self.clock.ts(self.t),
            "updateTime": None,
            "navigationInfo": nav,
        }
        if meta:
            entry["stepEntryMetadata"] = meta
        self.entries.append(entry)
        return entry

    def close(self, entry: dict[str, Any], state: str = "STATE_SUCCEEDED", error: str | None = None) -> int:
        entry["state"] = state
        entry["updateTime"] = self.clock.ts(self.t)
        if error is not None:
            entry["exception"] = {"payload": error}
        return int(entry["entryId"])

    def step(self, step: str, step_type: str, dur_ns: int, state: str = "STATE_SUCCEEDED", *,
             error: str | None = None, **kw: Any) -> int:
        entry = self.open(step, step_type, **kw)
        self.t += dur_ns
        return self.close(entry, state, error)


def _lognormal_ms(rng: random.Random, median_ms: float, sigma: float) -> int:
    return int(rng.lognormvariate(0.0, sigma) * median_ms * MS)


def _etl(run: _Run, rng: random.Random) -> tuple[str, str | None]:
    tables = rng.randint(3, 6)
    init = run.step("init", "STEP_ASSIGN", 2 * MS)
    loop = run.open("load_tables", "STEP_FOR", previous=init)
    loop_id = int(loop["entryId"])
    for i in range(1, tables + 1):
        it = run.open("load_tables", "STEP_FOR_ITERATION", parent=loop_id, meta={
            "progressType": "PROGRESS_TYPE_FOR", "progressNumber": str(i), "expectedIteration": str(tables)})
        run.step("run_query", "STEP_CONNECTOR_CALL", _lognormal_ms(rng, 2500, 0.3), parent=int(it["entryId"]))
        run.close(it)
    run.close(loop)
    run.step("done", "STEP_RETURN", 1 * MS, previous=loop_id)
    return "SUCCEEDED", None


def _images(run: _Run, rng: random.Random, slow: bool, fate: tuple[bool, bool]) -> tuple[str, str | None]:
    """`fate`: (the download fails once, the classification fails), drawn before by the caller."""
    init = run.step("init", "STEP_ASSIGN", 1 * MS)
    block = run.open("fetch_image", "STEP_TRY_RETRY_EXCEPT", previous=init)
    block_id = int(block["entryId"])
    tried = run.open("fetch_image", "STEP_TRY", parent=block_id)
    tried_id = int(tried["entryId"])
    attempts = 2 if fate[0] else 1
    previous = None
    for k in range(1, attempts + 1):
        meta = {"progressType": "PROGRESS_TYPE_RETRY", "progressNumber": str(k)}
        if k < attempts:
            previous = run.step("download", "STEP_STD_LIB_CALL", _lognormal_ms(rng, 120, 0.4), "STATE_FAILED",
                                error=_HTTP_ERROR.format(code=503), parent=tried_id, previous=previous, meta=meta)
            run.t += 1 * NS                                 # initial_delay 1 s
        else:
            dur = (rng.randint(4000, 8000) * MS) if slow and rng.random() < SLOW_SHARE \
                else _lognormal_ms(rng, 250, 0.35)
            previous = run.step("download", "STEP_STD_LIB_CALL", dur, parent=tried_id, previous=previous, meta=meta)
    run.close(tried)
    run.close(block)
    block2 = run.open("classify", "STEP_TRY_RETRY_EXCEPT", previous=block_id)
    block2_id = int(block2["entryId"])
    if fate[1]:
        run.step("classify", "STEP_STD_LIB_CALL", _lognormal_ms(rng, 300, 0.3), "STATE_FAILED",
                 error=_HTTP_ERROR.format(code=500), parent=block2_id)
        exc = run.open("classify", "STEP_EXCEPT", parent=block2_id)
        run.step("record_failure", "STEP_ASSIGN", 1 * MS, parent=int(exc["entryId"]))
        run.close(exc)
    else:
        run.step("classify", "STEP_STD_LIB_CALL", _lognormal_ms(rng, 450, 0.3), parent=block2_id)
    run.close(block2)
    call = run.open("store", "STEP_SUBWORKFLOW_CALL", previous=block2_id)
    call_id = int(call["entryId"])
    w = run.step("write", "STEP_CONNECTOR_CALL", _lognormal_ms(rng, 80, 0.3), routine="process_result", parent=call_id)
    n = run.step("notify", "STEP_STD_LIB_CALL", _lognormal_ms(rng, 60, 0.3), routine="process_result",
                 parent=call_id, previous=w)
    run.step("finish", "STEP_RETURN", 1 * MS, routine="process_result", parent=call_id, previous=n)
    run.close(call)
    run.step("done", "STEP_RETURN", 1 * MS, previous=call_id)
    return "SUCCEEDED", None


def _status(run: _Run, rng: random.Random, storm: bool, stuck: bool) -> tuple[str, str | None]:
    previous = run.step("start_job", "STEP_STD_LIB_CALL", _lognormal_ms(rng, 200, 0.3))
    polls = rng.randint(3, 10) if not stuck else rng.randint(40, 60)
    for p in range(1, polls + 1):
        block = run.open("check_status", "STEP_TRY_RETRY_EXCEPT", previous=previous)
        block_id = int(block["entryId"])
        attempts = rng.randint(3, 6) if storm else 1
        last = None
        for k in range(1, attempts + 1):
            meta = {"progressType": "PROGRESS_TYPE_RETRY", "progressNumber": str(k)}
            if k < attempts:
                last = run.step("check_status", "STEP_STD_LIB_CALL", _lognormal_ms(rng, 40, 0.2), "STATE_FAILED",
                                error=_HTTP_ERROR.format(code=429), parent=block_id, previous=last, meta=meta)
                run.t += STORM_DELAY_S * NS                 # fixed delay, no jitter
            else:
                last = run.step("check_status", "STEP_STD_LIB_CALL", _lognormal_ms(rng, 150, 0.3),
                                parent=block_id, previous=last, meta=meta)
        run.close(block)
        switch = run.step("is_done", "STEP_SWITCH", 1 * MS, previous=block_id)
        if p == polls and not stuck:
            run.step("finish", "STEP_RETURN", 1 * MS, previous=switch)
            return "SUCCEEDED", None
        if p == polls:                                      # stuck: sleeping when the history was read
            waiting = run.open("wait", "STEP_STD_LIB_CALL", previous=switch)
            waiting["updateTime"] = waiting["createTime"]
            return "ACTIVE", "wait"
        previous = run.step("wait", "STEP_STD_LIB_CALL", POLL_SLEEP_S * NS, previous=switch)
    raise AssertionError("unreachable")


def _start_times(rng: random.Random, wf: str, count: int, start: dt.datetime, end: dt.datetime) -> list[int]:
    start_ns = int(start.timestamp()) * NS
    end_ns = int(end.timestamp()) * NS
    day0 = start_ns - (start_ns % (86400 * NS))
    days = max(1, -(-(end_ns - day0) // (86400 * NS)))
    weights = HOUR_WEIGHTS[wf]
    hours = list(range(24))
    last_ns = max(start_ns + NS, end_ns - 600 * NS)    # leave runs time to finish inside the range
    out: list[int] = []
    while len(out) < count:
        need = count - len(out)
        for hour in rng.choices(hours, weights=weights, k=need):
            t = day0 + rng.randrange(days) * 86400 * NS + hour * 3600 * NS + rng.randrange(3600 * 1000) * MS
            if start_ns <= t < last_ns:
                out.append(t)
    out.sort()
    return out


@dataclass
class _Plan(SimPlan):
    slow_ns: tuple[int, int] = (0, 0)
    storm_ns: tuple[int, int] = (0, 0)
    times: dict[str, list[int]] = field(default_factory=dict)       # start times (epoch ns), sorted
    stuck: dict[int, str] = field(default_factory=dict)             # stuck executions: start time -> id


def plan(spec: SimSpec) -> _Plan:
    """Anomaly windows, ground truth and every start time of the range (from the seed alone)."""
    rng = random.Random(spec.seed)
    clock = _Clock()
    start, end = spec.start, spec.end
    span = end - start
    slow_window = (start + span * 0.40, start + span * 0.55)
    storm_window = (start + span * 0.60, start + span * 0.65)

    workflows_doc = {"workflows": [{
        "name": _wf_name(wf),
        "description": f"flowscope simulated workflow {wf}",
        "state": "ACTIVE",
        "revisionId": REVISION,
        "createTime": clock.ts(int((start - dt.timedelta(days=30)).timestamp()) * NS),
        "updateTime": clock.ts(int((start - dt.timedelta(days=1)).timestamp()) * NS),
        "revisionCreateTime": clock.ts(int((start - dt.timedelta(days=1)).timestamp()) * NS),
        "serviceAccount": f"projects/{PROJECT}/serviceAccounts/workflows@{PROJECT}.iam.gserviceaccount.com",
        "sourceContents": SOURCES[wf],
        "callLogLevel": "LOG_ERRORS_ONLY",
        "executionHistoryLevel": "EXECUTION_HISTORY_DETAILED",
        "labels": {"team": "data" if wf == ETL else "platform"},
    } for wf in SOURCES]}
    times: dict[str, list[int]] = {}
    stuck: list[int] = []
    for wf, share in SHARES.items():
        count = max(1, round(spec.executions * share)) - (STUCK_EXECUTIONS if wf == STATUS else 0)
        times[wf] = _start_times(rng, wf, max(count, 1), start, end)
        if wf == STATUS:
            stuck = [int((start + span * f).timestamp()) * NS for f in (0.10, 0.25)][:STUCK_EXECUTIONS]
            times[wf] = sorted(times[wf] + stuck)

    stuck_ids = {t0: str(uuid.UUID(int=rng.getrandbits(128), version=4)) for t0 in stuck}
    truth = [Anomaly(AnomalyKind.STUCK_EXECUTION, Cloud.GCP, STATUS, None,
                     dt.datetime.fromtimestamp(t0 / NS, dt.timezone.utc), end,
                     {"execution_id": f"{_wf_name(STATUS)}/executions/{short}", "state": "ACTIVE",
                      "current_step": "wait"}) for t0, short in stuck_ids.items()]
    truth.extend([
        Anomaly(AnomalyKind.FAILING_STEP, Cloud.GCP, IMAGES, "classify", start, end,
                {"error": "HttpError 500", "rate": CLASSIFY_FAILURE_RATE, "status": "CAUGHT"}),
        Anomaly(AnomalyKind.SLOW_STEP, Cloud.GCP, IMAGES, "download", slow_window[0], slow_window[1],
                {"share_slow": SLOW_SHARE, "slow_ms": [4000, 8000], "baseline_median_ms": 250}),
        Anomaly(AnomalyKind.POLLING_LOOP, Cloud.GCP, STATUS, "check_status", start, end,
                {"cycle": ["check_status", "is_done", "wait"], "polls": [3, 10], "sleep_s": POLL_SLEEP_S}),
        Anomaly(AnomalyKind.RETRY_STORM, Cloud.GCP, STATUS, "check_status", storm_window[0], storm_window[1],
                {"error": "HttpError 429", "attempts": [3, 6]}),
        Anomaly(AnomalyKind.SYNCHRONIZED_RETRIES, Cloud.GCP, STATUS, "check_status", storm_window[0],
                storm_window[1], {"delay_s": STORM_DELAY_S, "multiplier": 1, "jitter": False}),
    ])
    return _Plan(Cloud.GCP, spec, [("gcp.workflow", workflows_doc)], truth, list(SOURCES), [ETL],
                 chunk_windows(spec),
                 slow_ns=(int(slow_window[0].timestamp() * NS), int(slow_window[1].timestamp() * NS)),
                 storm_ns=(int(storm_window[0].timestamp() * NS), int(storm_window[1].timestamp() * NS)),
                 times=times, stuck=stuck_ids)


def chunk(p: _Plan, index: int) -> Chunk:
    """The executions starting in chunk `index`: their pages, then their step entries' pages."""
    lo, hi = p.chunks[index]
    clock = _Clock()
    out = Chunk()
    step_docs: list[tuple[str, Any]] = []
    for wf in SHARES:
        times = p.times[wf]
        rng = chunk_rng(p.spec, f"gcp:{wf}", lo)
        sampler = Sampler(p.spec.native_share, chunk_rng(p.spec, f"gcp:{wf}:clones", lo))
        fates = chunk_rng(p.spec, f"gcp:{wf}:fate", lo)
        executions: list[dict[str, Any]] = []
        for t0 in times[bisect.bisect_left(times, lo * NS):bisect.bisect_left(times, hi * NS)]:
            stuck = t0 in p.stuck
            exec_short = p.stuck[t0] if stuck else str(uuid.UUID(int=rng.getrandbits(128), version=4))
            slow = wf == IMAGES and p.slow_ns[0] <= t0 < p.slow_ns[1]
            storm = wf == STATUS and p.storm_ns[0] <= t0 < p.storm_ns[1]
            # An image's failures are drawn first, from their own stream: a failure is never a clone.
            fate = ((fates.random() < DOWNLOAD_TRANSIENT_RATE, fates.random() < CLASSIFY_FAILURE_RATE)
                    if wf == IMAGES else (False, False))
            if not (stuck or slow or storm or any(fate)) and not sampler.native(exec_short, t0 // 1000):
                continue
            ex, entries = _execution(wf, exec_short, t0, rng, clock, slow=slow, storm=storm, stuck=stuck, fate=fate)
            executions.append(ex)
            for i in range(0, len(entries), STEP_ENTRIES_PAGE):
                page: dict[str, Any] = {"stepEntries": entries[i:i + STEP_ENTRIES_PAGE]}
                if i + STEP_ENTRIES_PAGE < len(entries):
                    page["nextPageToken"] = f"{exec_short}:{i + STEP_ENTRIES_PAGE}"
                if i == 0:
                    page["totalSize"] = len(entries)
                step_docs.append(("gcp.step_entries", page))
        out.clones.extend(sampler.clones())
        executions.reverse()                                # ListExecutions: newest first
        for i in range(0, len(executions), EXECUTIONS_PAGE):
            page = {"executions": executions[i:i + EXECUTIONS_PAGE]}
            if i + EXECUTIONS_PAGE < len(executions):
                page["nextPageToken"] = f"{wf}:{lo}:{i + EXECUTIONS_PAGE}"
            out.documents.append(("gcp.executions", page))
    out.documents.extend(step_docs)
    return out


def _execution(wf: str, exec_short: str, t0: int, rng: random.Random, clock: _Clock, *, slow: bool, storm: bool,
               stuck: bool, fate: tuple[bool, bool]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One execution resource and its step entries."""
    exec_name = f"{_wf_name(wf)}/executions/{exec_short}"
    run = _Run(exec_name, t0, clock, rng)
    if wf == ETL:
        state, current = _etl(run, rng)
        argument = json.dumps({"tables": ["orders", "customers", "items", "events"]})
    elif wf == IMAGES:
        state, current = _images(run, rng, slow, fate)
        argument = json.dumps({"image_id": f"img-{rng.randrange(10**8):08d}"})
    else:
        state, current = _status(run, rng, storm, stuck)
        argument = json.dumps({"job": {"kind": "export", "size": rng.randrange(1, 500)}})
    last = run.entries[-1]
    ex: dict[str, Any] = {
        "name": exec_name,
        "startTime": clock.ts(t0),
        "createTime": clock.ts(t0),
        "state": state,
        "argument": argument,
        "workflowRevisionId": REVISION,
        "callLogLevel": "LOG_ERRORS_ONLY",
        "executionHistoryLevel": "EXECUTION_HISTORY_DETAILED",
        "status": {"currentSteps": [{"routine": last["routine"], "step": current or last["step"]}]},
        "labels": {"trigger": "scheduler" if wf != IMAGES else "eventarc"},
    }
    if state == "SUCCEEDED":
        t_end = run.t + 2 * MS
        ex["endTime"] = clock.ts(t_end)
        dur = t_end - t0
        ex["duration"] = f"{dur // NS}.{dur % NS:09d}s"
        ex["result"] = json.dumps({"ok": True})
    return ex, run.entries


def simulate(spec: SimSpec) -> SimulatedCloud:
    """Native GCP Workflows documents for spec.start..spec.end and the anomalies injected."""
    return simulate_all(sys.modules[__name__], spec)
