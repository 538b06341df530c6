"""GCP Workflows transforms, on fixtures built from the REST discovery documents and protos."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import re
from pathlib import Path

import pytest

from flowscope.collectors.gcp import transform as t
from flowscope.collectors.native import ImportContext, NativeFormatError
from flowscope.model import C, Meter, Status, to_arrow

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples" / "gcp"
if not SAMPLES.is_dir():  # a checkout elsewhere than beside shared/
    SAMPLES = Path("/work/shared/samples/gcp")
UTC = dt.timezone.utc
P, L, W = "acme-prod", "europe-west1", "orders"
WF = f"projects/{P}/locations/{L}/workflows/{W}"
EX = f"{WF}/executions/7c1d2e3f-0000-4000-8000-000000000001"
SEEN = dt.datetime(2026, 11, 2, tzinfo=UTC)
CTX = ImportContext(source_name="fixture.json", seen_at=SEEN)

SOURCE = """\
main:
  params: [input]
  steps:
    - init:
        assign:
          - items: ${input.items}
          - total: 0
    - per_item:
        for:
          value: item
          in: ${items}
          steps:
            - add:
                assign:
                  - total: ${total + item}
    - fan_out:
        parallel:
          branches:
            - left:
                steps:
                  - ping_left:
                      call: http.get
                      args:
                        url: https://left.example.org/ping
            - right:
                steps:
                  - ping_right:
                      call: http.get
                      args:
                        url: https://storage.googleapis.com/storage/v1/b/bucket
    - charge:
        try:
          call: http.post
          args:
            url: https://api.payments.example.com/charge
        retry:
          predicate: ${http.default_retry_predicate}
          max_retries: 5
          backoff:
            initial_delay: 1
            max_delay: 8
            multiplier: 2
    - notify:
        try:
          call: http.post
          args:
            url: https://hooks.example.net/notify
        except:
          as: e
          steps:
            - note_failure:
                assign:
                  - notified: false
    - save:
        call: save_order
        args:
          total: ${total}
        result: saved
    - check:
        switch:
          - condition: ${total > 100}
            next: too_big
    - done:
        return: ${saved}
    - too_big:
        raise: "order too big"

save_order:
  params: [total]
  steps:
    - write:
        call: googleapis.firestore.v1.projects.databases.documents.createDocument
        args:
          collectionId: orders
    - audit:
        call: http.post
        args:
          url: https://audit-x7k2-ew.a.run.app/log
    - finish:
        return: ok
"""

WORKFLOW = {
    "name": WF, "revisionId": "000002-b7c", "sourceContents": SOURCE, "state": "ACTIVE",
    "createTime": "2026-10-01T08:00:00.000000001Z", "updateTime": "2026-10-30T08:00:00.000000002Z",
    "revisionCreateTime": "2026-10-30T08:00:00.000000002Z", "callLogLevel": "LOG_ERRORS_ONLY",
    "serviceAccount": f"projects/{P}/serviceAccounts/wf@{P}.iam.gserviceaccount.com",
    "labels": {"team": "orders"},
}
RAISED = '{"message":"order too big","tags":["RaisedError"]}'
HTTP_503 = '{"message":"HTTP server responded with error code 503","code":503,"tags":["HttpError"]}'
E503 = {"error": "HttpError 503", "cause": "HTTP server responded with error code 503"}   # as stored: name, message
ERAISED = {"error": "RaisedError", "cause": "order too big"}
EXECUTION = {
    "name": EX, "state": "FAILED", "startTime": "2026-11-01T10:00:00.123456789Z",
    "endTime": "2026-11-01T10:00:26.000000000Z", "duration": "25.876543211s",
    "createTime": "2026-11-01T10:00:00.123456789Z", "argument": '{"items":[40,70]}',
    "workflowRevisionId": "000002-b7c", "callLogLevel": "LOG_ERRORS_ONLY",
    "error": {"payload": RAISED, "context": "RaisedError: in step \"too_big\", routine \"main\", line: 77",
              "stackTrace": {"elements": [{"step": "too_big", "routine": "main",
                                           "position": {"line": "77", "column": "9", "length": "22"}}]}},
    "status": {"currentSteps": [{"routine": "main", "step": "too_big"}]},
}


def ts(n: int, frac: str = "123456789") -> str:
    return f"2026-11-01T10:00:{n:02d}.{frac}Z"


def at(n: int, micros: int = 123456) -> dt.datetime:
    return dt.datetime(2026, 11, 1, 10, 0, n, micros, tzinfo=UTC)


def entry(n: int, step: str, step_type: str, state: str = "STATE_SUCCEEDED", *, routine: str = "main",
          parent: int | None = None, previous: int | None = None, meta: dict | None = None,
          exception: str | None = None) -> dict:
    nav = {}
    if parent is not None:
        nav["parent"] = str(parent)
    if previous is not None:
        nav["previous"] = str(previous)
    doc = {"name": f"{EX}/stepEntries/{n}", "entryId": str(n), "step": step, "routine": routine,
           "stepType": step_type, "state": state, "createTime": ts(n), "updateTime": ts(n, "623456789"),
           "navigationInfo": nav, "variableData": {"variables": {"secret": "never stored"}}}
    if meta:
        doc["stepEntryMetadata"] = meta
    if exception:
        doc["exception"] = {"payload": exception}
    return doc


def retry(k: int) -> dict:
    return {"progressType": "PROGRESS_TYPE_RETRY", "progressNumber": str(k)}


ENTRIES = [
    entry(1, "init", "STEP_ASSIGN"),
    entry(2, "per_item", "STEP_FOR", previous=1),
    entry(3, "per_item", "STEP_FOR_ITERATION", parent=2,
          meta={"progressType": "PROGRESS_TYPE_FOR", "progressNumber": "1", "expectedIteration": "2"}),
    entry(4, "add", "STEP_ASSIGN", parent=3),
    entry(5, "per_item", "STEP_FOR_ITERATION", parent=2,
          meta={"progressType": "PROGRESS_TYPE_FOR", "progressNumber": "2", "expectedIteration": "2"}),
    entry(6, "add", "STEP_ASSIGN", parent=5),
    entry(7, "fan_out", "STEP_PARALLEL_BRANCH", previous=2),
    entry(8, "left", "STEP_PARALLEL_BRANCH_ENTRY", parent=7,
          meta={"progressType": "PROGRESS_TYPE_PARALLEL_BRANCH", "progressNumber": "1", "threadId": "1"}),
    entry(9, "right", "STEP_PARALLEL_BRANCH_ENTRY", parent=7,
          meta={"progressType": "PROGRESS_TYPE_PARALLEL_BRANCH", "progressNumber": "2", "threadId": "2"}),
    entry(10, "ping_left", "STEP_STD_LIB_CALL", parent=8, meta={"threadId": "1"}),
    entry(11, "ping_right", "STEP_STD_LIB_CALL", parent=9, meta={"threadId": "2"}),
    entry(12, "charge", "STEP_TRY_RETRY_EXCEPT", previous=7),
    entry(13, "charge", "STEP_STD_LIB_CALL", "STATE_FAILED", parent=12, meta=retry(1), exception=HTTP_503),
    entry(14, "charge", "STEP_STD_LIB_CALL", "STATE_FAILED", parent=12, previous=13, meta=retry(2),
          exception=HTTP_503),
    entry(15, "charge", "STEP_STD_LIB_CALL", parent=12, previous=14, meta=retry(3)),
    entry(16, "notify", "STEP_TRY_RETRY_EXCEPT", previous=12),
    entry(17, "notify", "STEP_STD_LIB_CALL", "STATE_FAILED", parent=16, exception=HTTP_503),
    entry(18, "notify", "STEP_EXCEPT", parent=16),
    entry(19, "note_failure", "STEP_ASSIGN", parent=18),
    entry(20, "save", "STEP_SUBWORKFLOW_CALL", previous=16),
    entry(21, "write", "STEP_CONNECTOR_CALL", routine="save_order", parent=20),
    entry(22, "audit", "STEP_STD_LIB_CALL", routine="save_order", parent=20, previous=21),
    entry(23, "finish", "STEP_RETURN", routine="save_order", parent=20, previous=22),
    entry(24, "check", "STEP_SWITCH", previous=20),
    entry(25, "too_big", "STEP_RAISE", "STATE_FAILED", previous=24, exception=RAISED),
]


# ---------------------------------------------------------------- fixtures follow the real API

def _discovery(name: str) -> dict:
    return json.loads((SAMPLES / name).read_text())["schemas"]


def _check_keys(value, schema_name: str, schemas: dict, path: str) -> None:
    schema = schemas[schema_name]
    props = schema.get("properties", {})
    assert isinstance(value, dict), path
    for key, item in value.items():
        assert key in props, f"{path}.{key} is not a property of {schema_name}"
        prop = props[key]
        ref = prop.get("$ref") or (prop.get("items", {}).get("$ref") if prop.get("type") == "array" else None)
        if ref:
            for i, sub in enumerate(item if prop.get("type") == "array" else [item]):
                _check_keys(sub, ref, schemas, f"{path}.{key}[{i}]")
        elif "enum" in prop:
            assert item in prop["enum"], f"{path}.{key}={item!r} not in enum"


def _proto_fields(name: str) -> set[str]:
    text = (SAMPLES / name).read_text()
    snake = re.findall(r"^\s*(?:repeated\s+)?(?:map<[^>]+>|[\w.]+)\s+(\w+)\s*=\s*\d+;", text, re.M)
    return {re.sub(r"_(\w)", lambda m: m.group(1).upper(), s) for s in snake}


def test_fixtures_use_only_fields_of_the_discovery_documents():
    wf_schemas, ex_schemas = _discovery("workflows.v1.json"), _discovery("workflowexecutions.v1.json")
    _check_keys(WORKFLOW, "Workflow", wf_schemas, "workflow")
    _check_keys({"workflows": [WORKFLOW], "nextPageToken": "x"}, "ListWorkflowsResponse", wf_schemas, "list")
    _check_keys({"executions": EXECUTIONS}, "ListExecutionsResponse", ex_schemas, "executions")
    _check_keys({"stepEntries": ENTRIES, "totalSize": 25}, "ListStepEntriesResponse", ex_schemas, "entries")
    call_fields = _proto_fields("engine_call.proto") | {"@type", "routine"}
    system_fields = _proto_fields("executions_system.proto") | {"@type"}
    for log in LOGS:
        payload = log["jsonPayload"]
        allowed = call_fields if payload["@type"].endswith("EngineCallLog") else system_fields
        for key, value in payload.items():
            assert key in allowed, key
            if isinstance(value, dict):
                assert set(value) <= allowed, value


# ---------------------------------------------------------------- expected rows

def step(key, name, type_, native, *, status="SUCCEEDED", prev=None, parent=None, iteration=None,
         resource=None, start=None, end=None, attempts=1, error=None, cause=None) -> dict:
    start = start if start is not None else int(key)
    end = end if end is not None else int(key)
    started, ended = at(start), (at(end, 623456) if status != "RUNNING" else None)
    return {C.cloud: "gcp", C.workflow_id: WF, C.execution_id: EX, C.step_key: str(key),
            C.previous_step_key: prev, C.parent_step_key: parent, C.iteration: iteration, C.name: name,
            C.type: type_, C.native_type: native, C.resource: resource, C.status: status,
            C.started_at: started, C.ended_at: ended,
            C.duration_ms: (ended - started) // dt.timedelta(milliseconds=1) if ended else None,
            C.attempts: attempts, C.error: error, C.cause: cause, C.start_date: dt.date(2026, 11, 1)}


def attempt(key, n, status="SUCCEEDED", *, at_n=None, error=None, cause=None) -> dict:
    n_at = at_n if at_n is not None else int(key)
    return {C.cloud: "gcp", C.workflow_id: WF, C.execution_id: EX, C.step_key: str(key), C.attempt: n,
            C.started_at: at(n_at), C.ended_at: at(n_at, 623456), C.duration_ms: 500, C.status: status,
            C.error: error, C.cause: cause, C.start_date: dt.date(2026, 11, 1)}


def usage(key, meter: Meter, quantity: float, n=None) -> dict:
    return {C.cloud: "gcp", C.region: L, C.workflow_id: WF, C.execution_id: EX, C.step_key: str(key),
            C.meter: meter.value, C.quantity: quantity, C.started_at: at(n if n is not None else int(key)),
            C.start_date: dt.date(2026, 11, 1)}


IN, OUT = Meter.GCP_WORKFLOWS_INTERNAL_STEP, Meter.GCP_WORKFLOWS_EXTERNAL_STEP
EXPECTED_STEPS = [
    step(1, "init", "pass", "STEP_ASSIGN"),
    step(2, "per_item", "loop", "STEP_FOR", prev="1"),
    step(3, "per_item", "loop", "STEP_FOR_ITERATION", parent="2", iteration=1),
    step(4, "add", "pass", "STEP_ASSIGN", parent="3", iteration=1),
    step(5, "per_item", "loop", "STEP_FOR_ITERATION", parent="2", iteration=2),
    step(6, "add", "pass", "STEP_ASSIGN", parent="5", iteration=2),
    step(7, "fan_out", "parallel", "STEP_PARALLEL_BRANCH", prev="2"),
    step(8, "left", "parallel", "STEP_PARALLEL_BRANCH_ENTRY", parent="7", iteration=1),
    step(9, "right", "parallel", "STEP_PARALLEL_BRANCH_ENTRY", parent="7", iteration=2),
    step(10, "ping_left", "task", "STEP_STD_LIB_CALL", parent="8", iteration=1,
         resource="http.get https://left.example.org"),
    step(11, "ping_right", "task", "STEP_STD_LIB_CALL", parent="9", iteration=2,
         resource="http.get https://storage.googleapis.com"),
    step(12, "charge", "scope", "STEP_TRY_RETRY_EXCEPT", prev="7"),
    step(15, "charge", "task", "STEP_STD_LIB_CALL", parent="12", start=13, end=15, attempts=3,
         resource="http.post https://api.payments.example.com"),
    step(16, "notify", "scope", "STEP_TRY_RETRY_EXCEPT", prev="12"),
    step(17, "notify", "task", "STEP_STD_LIB_CALL", parent="16", status="CAUGHT", **E503,
         resource="http.post https://hooks.example.net"),
    step(18, "notify", "scope", "STEP_EXCEPT", parent="16"),
    step(19, "note_failure", "pass", "STEP_ASSIGN", parent="18"),
    step(20, "save", "task", "STEP_SUBWORKFLOW_CALL", prev="16", resource="save_order"),
    step(21, "save_order/write", "task", "STEP_CONNECTOR_CALL", parent="20",
         resource="googleapis.firestore.v1.projects.databases.documents.createDocument"),
    step(22, "save_order/audit", "task", "STEP_STD_LIB_CALL", parent="20", prev="21",
         resource="http.post https://audit-x7k2-ew.a.run.app"),
    step(23, "save_order/finish", "return", "STEP_RETURN", parent="20", prev="22"),
    step(24, "check", "choice", "STEP_SWITCH", prev="20"),
    step(25, "too_big", "fail", "STEP_RAISE", prev="24", status="FAILED", **ERAISED),
]
EXPECTED_ATTEMPTS = [
    attempt(10, 1), attempt(11, 1),
    attempt(15, 1, "FAILED", at_n=13, **E503), attempt(15, 2, "FAILED", at_n=14, **E503),
    attempt(15, 3, at_n=15),
    attempt(17, 1, "FAILED", **E503), attempt(20, 1), attempt(21, 1), attempt(22, 1),
]
EXPECTED_USAGE = [
    usage(1, IN, 2.0), usage(2, IN, 1.0), usage(4, IN, 1.0), usage(6, IN, 1.0), usage(10, OUT, 1.0),
    usage(11, IN, 1.0), usage(15, OUT, 3.0, n=13), usage(17, OUT, 1.0), usage(19, IN, 1.0),
    usage(20, IN, 1.0), usage(21, IN, 1.0), usage(22, IN, 1.0), usage(23, IN, 1.0), usage(24, IN, 1.0),
    usage(25, IN, 1.0),
]


def _all(*docs):
    batch = t.Batch()
    for doc in docs:
        batch.extend(t.FORMATS[t.detect(doc)](doc, CTX))
    return batch


def _assemble(batch, workflow=True):
    wf = t.transform_workflows(WORKFLOW, CTX).workflows[0] if workflow else None
    execution = batch.executions[0] if batch.executions else None
    return t.assemble(execution, batch.steps, batch.attempts, wf)


# ---------------------------------------------------------------- workflows and executions

def test_workflow_row():
    batch = t.transform_workflows({"workflows": [WORKFLOW], "nextPageToken": "n"}, CTX)
    assert batch.workflows == [{
        C.cloud: "gcp", C.account: P, C.region: L, C.workflow_id: WF, C.name: W, C.kind: "gcp-workflows",
        C.revision: "000002-b7c", C.definition: SOURCE, C.definition_format: "gcp-yaml",
        C.attributes: json.dumps({"callLogLevel": "LOG_ERRORS_ONLY", "labels": {"team": "orders"},
                                  "revisionCreateTime": "2026-10-30T08:00:00.000000002Z",
                                  "serviceAccount": f"projects/{P}/serviceAccounts/wf@{P}.iam.gserviceaccount.com",
                                  "state": "ACTIVE"}, sort_keys=True),
        C.seen_at: SEEN,
    }]
    to_arrow("workflows", batch.workflows)


def test_credentials_written_into_a_workflow_source_are_not_stored():
    """A workflow's source quotes what its author typed: an API key in a URL, a bearer token or a Basic
    header, a password. It was stored as it came in workflows.definition, which the dashboard reads
    and exports (AWS definitions already lose them, by the store's SECRET_RULES). The stored source
    keeps its steps, hosts and the expressions that fetch a secret (`${...}`), without them; the
    definition still reads (internal and external calls are told apart by host)."""
    secret = "Zk9mR2x4bVRzS2Vj"
    source = SOURCE + (
        "    - notify:\n"
        "        call: http.post\n"
        "        args:\n"
        f"          url: https://hooks.example.com/run?key={secret}&x=1\n"
        "          headers:\n"
        f"            Authorization: \"Basic {secret}\"\n"
        f"            X-Api-Key: {secret}\n"
        "            X-Token: ${sys.get_env(\"TOKEN\")}\n"
        f"          auth_url: https://svc:{secret}@internal.example.com/login\n"
        f"          body: {{password: '{secret}', user: svc}}\n"
        f"          raw: Bearer {secret}.{secret}\n")
    batch = t.transform_workflows({**WORKFLOW, "sourceContents": source}, CTX)
    stored = batch.workflows[0][C.definition]
    assert secret not in stored, stored
    assert "url: https://hooks.example.com/run?key=REDACTED&x=1" in stored
    assert 'Authorization: "REDACTED"' in stored and "X-Api-Key: REDACTED" in stored
    assert 'X-Token: ${sys.get_env("TOKEN")}' in stored and "raw: Bearer REDACTED" in stored
    assert "https://REDACTED@internal.example.com/login" in stored
    assert stored.startswith(SOURCE) and batch.warnings == []


def _exec(state, n, **extra):
    doc = {"name": f"{WF}/executions/e{n}", "state": state, "startTime": ts(n), "workflowRevisionId": "000002-b7c"}
    doc.update(extra)
    return doc


EXECUTIONS = [
    EXECUTION,
    _exec("ACTIVE", 2),
    {"name": f"{WF}/executions/e3", "state": "QUEUED", "createTime": ts(3)},
    _exec("SUCCEEDED", 4, endTime=ts(9), result='{"ok":true}', argument="{}"),
    _exec("CANCELLED", 5, endTime=ts(6), error={"payload": "cancelled by user"}),
    _exec("UNAVAILABLE", 6, stateError={"details": "KMS key disabled", "type": "KMS_ERROR"}),
]


def test_execution_rows_whole():
    batch = t.transform_executions({"executions": EXECUTIONS, "nextPageToken": "abc"}, CTX)
    assert not batch.skips
    assert batch.executions[0] == {
        C.cloud: "gcp", C.account: P, C.region: L, C.workflow_id: WF, C.workflow_name: W,
        C.kind: "gcp-workflows", C.revision: "000002-b7c", C.execution_id: EX,
        C.name: "7c1d2e3f-0000-4000-8000-000000000001", C.status: "FAILED", C.native_status: "FAILED",
        C.started_at: at(0), C.ended_at: dt.datetime(2026, 11, 1, 10, 0, 26, tzinfo=UTC), C.duration_ms: 25876,
        C.error: "RaisedError", C.cause: "order too big; " + EXECUTION["error"]["context"], C.redrive_count: None,
        C.parent_execution_id: None, C.billed_duration_ms: None, C.billed_memory_mb: None,
        C.input_bytes: 17, C.output_bytes: None,
        C.input_sha256: hashlib.sha256(b'{"items":[40,70]}').hexdigest(),
        C.event_count: None,
        C.attributes: json.dumps({"callLogLevel": "LOG_ERRORS_ONLY", "createTime": "2026-11-01T10:00:00.123456789Z",
                                  "currentSteps": [{"routine": "main", "step": "too_big"}]}, sort_keys=True),
        C.source: "import", C.collected_at: SEEN, C.start_date: dt.date(2026, 11, 1),
    }
    got = [(e[C.name], e[C.status], e[C.native_status], e[C.started_at], e[C.ended_at], e[C.error],
            e[C.output_bytes]) for e in batch.executions[1:]]
    assert got == [
        ("e2", "RUNNING", "ACTIVE", at(2), None, None, None),
        ("e3", "RUNNING", "QUEUED", at(3), None, None, None),
        ("e4", "SUCCEEDED", "SUCCEEDED", at(4), at(9), None, 11),
        ("e5", "ABORTED", "CANCELLED", at(5), at(6), "cancelled by user", None),
        ("e6", "FAILED", "UNAVAILABLE", at(6), None, "UNAVAILABLE KMS_ERROR", None),
    ]
    to_arrow("executions", batch.executions)
    assert "never" not in json.dumps(batch.executions, default=str)


# ---------------------------------------------------------------- steps, attempts, usage

def test_whole_execution_assembled_with_definition():
    steps, attempts, use = _assemble(_all({"executions": [EXECUTION]}, {"stepEntries": ENTRIES}))
    assert steps == EXPECTED_STEPS
    assert attempts == EXPECTED_ATTEMPTS
    assert use == EXPECTED_USAGE
    for table, rows in (("steps", steps), ("attempts", attempts), ("usage", use)):
        to_arrow(table, rows)
    assert "never stored" not in repr(steps)


def test_for_loop_iterations_and_parallel_branches():
    steps = {s[C.step_key]: s for s in _assemble(_all({"stepEntries": ENTRIES}))[0]}
    assert [(steps[k][C.iteration], steps[k][C.type]) for k in ("3", "4", "5", "6")] == \
        [(1, "loop"), (1, "pass"), (2, "loop"), (2, "pass")]
    assert [(steps[k][C.name], steps[k][C.iteration]) for k in ("8", "9", "10", "11")] == \
        [("left", 1), ("right", 2), ("ping_left", 1), ("ping_right", 2)]


def test_raise_fails_the_execution_and_except_catches():
    batch = _all({"executions": [EXECUTION]}, {"stepEntries": ENTRIES})
    assert batch.executions[0][C.status] == Status.FAILED
    steps = {s[C.step_key]: s for s in _assemble(batch)[0]}
    assert steps["17"][C.status] == Status.CAUGHT
    assert steps["25"][C.status] == Status.FAILED


def test_entries_across_pages_and_out_of_order_give_the_same_rows():
    page1 = {"stepEntries": ENTRIES[13:][::-1], "nextPageToken": "p2"}
    page2 = {"stepEntries": ENTRIES[:13][::-1], "totalSize": 25}
    batch = _all({"executions": [EXECUTION]}, page1)
    wf = t.transform_workflows(WORKFLOW, CTX).workflows[0]
    partial = t.assemble(batch.executions[0], batch.steps, batch.attempts, wf)
    # a later import brings page 2 (retry attempts 1 and 2 among them); stored rows come first
    late = _all(page2)
    steps, attempts, use = t.assemble(batch.executions[0], partial[0] + late.steps, partial[1] + late.attempts, wf)
    assert (steps, attempts, use) == (EXPECTED_STEPS, EXPECTED_ATTEMPTS, EXPECTED_USAGE)


def test_reimport_over_assembled_rows_is_stable():
    batch = _all({"executions": [EXECUTION]}, {"stepEntries": ENTRIES})
    first = _assemble(batch)
    # the importer merges stored rows with re-imported ones by key, newer winning
    merged_steps = {s[C.step_key]: s for s in first[0]}
    merged_steps.update({s[C.step_key]: s for s in batch.steps})
    merged_atts = {(a[C.step_key], a[C.attempt]): a for a in first[1]}
    merged_atts.update({(a[C.step_key], a[C.attempt]): a for a in batch.attempts})
    again = t.assemble(batch.executions[0], list(merged_steps.values()), list(merged_atts.values()),
                       t.transform_workflows(WORKFLOW, CTX).workflows[0])
    assert again == first


def test_step_entries_before_the_workflow_then_reclassified():
    batch = _all({"executions": [EXECUTION]}, {"stepEntries": ENTRIES})
    steps, attempts, use = _assemble(batch, workflow=False)
    by_key = {s[C.step_key]: s for s in steps}
    assert by_key["15"][C.resource] == t.UNKNOWN_RESOURCE and by_key["15"][C.type] == "task"
    assert by_key["15"][C.attempts] == 3
    # calls with no known target are billed external (an upper bound, definition.call_is_external),
    # connector and subworkflow calls internal by their step type, everything else internal
    native = {s[C.step_key]: s[C.native_type] for s in steps}
    assert {u[C.step_key]: u[C.meter] for u in use} == {
        u[C.step_key]: (OUT if native[u[C.step_key]] in ("STEP_STD_LIB_CALL", "STEP_CALL") else IN).value
        for u in use}
    assert {u[C.step_key] for u in use if u[C.meter] == OUT.value} >= {"10", "11", "15", "17", "22"}
    assert [u[C.quantity] for u in use if u[C.step_key] == "1"] == [1.0]      # assignments unknown
    assert _assemble_again(steps, attempts, batch) == (EXPECTED_STEPS, EXPECTED_ATTEMPTS, EXPECTED_USAGE)


def _assemble_again(steps, attempts, batch):
    wf = t.transform_workflows(WORKFLOW, CTX).workflows[0]
    return t.assemble(batch.executions[0], steps, attempts, wf)


def test_assemble_is_idempotent_and_pure():
    batch = _all({"executions": [EXECUTION]}, {"stepEntries": ENTRIES})
    before = copy.deepcopy(batch.steps)
    once = _assemble(batch)
    assert batch.steps == before
    wf = t.transform_workflows(WORKFLOW, CTX).workflows[0]
    assert t.assemble(batch.executions[0], once[0], once[1], wf) == once
    without = _assemble(batch, workflow=False)
    assert t.assemble(batch.executions[0], without[0], without[1], None) == without


# ---------------------------------------------------------------- Cloud Logging path

def _log(payload: dict, n: int, execution: str = "e9") -> dict:
    kind = "EngineCallLog" if "callee" in payload or "step" in payload else "ExecutionsSystemLog"
    log = "executions_system" if kind == "ExecutionsSystemLog" else "call_log"
    return {"insertId": f"i{n}", "logName": f"projects/{P}/logs/workflows.googleapis.com%2F{log}",
            "resource": {"type": "workflows.googleapis.com/Workflow",
                         "labels": {"project_id": P, "location": L, "workflow_id": W}},
            "labels": {"workflows.googleapis.com/execution_id": execution}, "timestamp": ts(n),
            "severity": "INFO",
            "jsonPayload": {"@type": f"type.googleapis.com/google.cloud.workflows.type.{kind}", **payload}}


LOGS = [
    _log({"message": "Execution started", "activityTime": ts(1), "state": "ACTIVE",
          "start": {"argument": '{"items":[1]}'}}, 1),
    _log({"executionId": "e9", "activityTime": ts(2), "state": "BEGUN", "step": "charge", "callee": "http.post",
          "begun": {"namedArgs": {"url": "https://api.payments.example.com/charge", "body": "secret"}}}, 2),
    _log({"executionId": "e9", "activityTime": ts(3), "state": "EXCEPTION_RAISED", "step": "charge",
          "callee": "http.post", "exceptionRaised": {"callStartTime": ts(2), "exception": HTTP_503,
                                                     "origin": "charge"}}, 3),
    _log({"executionId": "e9", "activityTime": ts(4), "state": "BEGUN", "step": "write", "callee":
          "googleapis.firestore.v1.projects.databases.documents.createDocument", "begun": {}}, 4),
    _log({"executionId": "e9", "activityTime": ts(5), "state": "SUCCEEDED", "step": "write",
          "callee": "googleapis.firestore.v1.projects.databases.documents.createDocument",
          "succeeded": {"callStartTime": ts(4), "response": "{}"}}, 5),
    _log({"message": "Execution failed", "activityTime": ts(6), "state": "FAILED",
          "failure": {"exception": HTTP_503, "source": "main.charge"}}, 6),
]


def test_log_entries_rebuild_execution_and_call_steps():
    assert t.detect(LOGS) == "gcp.log_entries" and t.detect({"entries": LOGS}) == "gcp.log_entries"
    batch = t.transform_log_entries({"entries": LOGS}, CTX)
    assert not batch.skips and not batch.unknown_event_types
    ex_id = f"{WF}/executions/e9"
    (execution,) = batch.executions
    assert (execution[C.execution_id], execution[C.status], execution[C.started_at], execution[C.ended_at],
            execution[C.error], execution[C.cause], execution[C.input_bytes]) == \
        (ex_id, "FAILED", at(1), at(6), E503["error"], E503["cause"] + "; main.charge", 13)
    steps, attempts, use = t.assemble(execution, batch.steps, batch.attempts, None)
    key = f"charge@{at(2).isoformat()}"
    assert steps[0] == {
        C.cloud: "gcp", C.workflow_id: WF, C.execution_id: ex_id, C.step_key: key, C.previous_step_key: None,
        C.parent_step_key: None, C.iteration: None, C.name: "charge", C.type: "task",
        C.native_type: t.CALL_LOG_NATIVE_TYPE, C.resource: "http.post https://api.payments.example.com",
        C.status: "FAILED", C.started_at: at(2), C.ended_at: at(3), C.duration_ms: 1000, C.attempts: 1,
        C.error: E503["error"], C.cause: E503["cause"] + "; charge", C.start_date: dt.date(2026, 11, 1)}
    assert [(s[C.name], s[C.status]) for s in steps] == [("charge", "FAILED"), ("write", "SUCCEEDED")]
    assert [(u[C.meter], u[C.quantity]) for u in use] == [(OUT.value, 1.0), (IN.value, 1.0)]
    assert len(attempts) == 2
    assert "secret" not in repr((steps, attempts, use, batch.executions))


def test_call_log_halves_in_two_files_meet():
    a = t.transform_log_entries(LOGS[:2], CTX)
    b = t.transform_log_entries(LOGS[2:], CTX)
    assert any(s.reason.startswith("execution end logged") for s in b.skips)
    steps, _, _ = t.assemble(a.executions[0], a.steps + b.steps, a.attempts + b.attempts, None)
    charge = steps[0]
    assert (charge[C.status], charge[C.resource], charge[C.ended_at]) == \
        ("FAILED", "http.post https://api.payments.example.com", at(3))


# ---------------------------------------------------------------- bad inputs

def test_bad_records_are_skipped_and_unknown_types_counted():
    bad = [entry(30, "x", "STEP_FROM_THE_FUTURE"), {"name": "nope"}, "text",
           {**entry(31, "y", "STEP_ASSIGN"), "createTime": None}, {**entry(32, "z", "STEP_ASSIGN"), "entryId": "abc"}]
    batch = t.transform_step_entries({"stepEntries": ENTRIES[:2] + bad}, CTX)
    assert [s[C.step_key] for s in batch.steps] == ["1", "2", "30"]
    assert batch.steps[-1][C.type] == "other"
    assert batch.unknown_event_types == {"stepType:STEP_FROM_THE_FUTURE": 1}
    assert [(s.source, s.location) for s in batch.skips] == \
        [("fixture.json", "stepEntries[3]"), ("fixture.json", "stepEntries[4]"),
         ("fixture.json", "stepEntries[5]"), ("fixture.json", "stepEntries[6]")]
    _, _, use = t.assemble(None, batch.steps, batch.attempts, None)
    assert [u[C.step_key] for u in use] == ["1", "2", "30"]               # unknown types are billed

    ex = t.transform_executions({"executions": [EXECUTION, {"name": EX}, {"state": "ACTIVE"}, 3]}, CTX)
    assert len(ex.executions) == 1 and [s.location for s in ex.skips] == \
        ["executions[1]", "executions[2]", "executions[3]"]
    logs = t.transform_log_entries({"entries": LOGS[:1] + [{**LOGS[1], "jsonPayload": {"foo": 1}},
                                                           {"resource": {"type": "gce_instance"}}, {"a": 1},
                                                           {"resource": "flat"}]}, CTX)
    # a Workflows entry of a kind not read is an unknown type; a record that is no Workflows entry is a skip
    assert logs.unknown_event_types == {"log.payload:foo": 1}
    assert [(s.location, s.reason) for s in logs.skips] == [
        ("entries[2]", "not a Workflows log entry (resource.type 'gce_instance')"),
        ("entries[3]", "not a Workflows log entry (no resource.type)"),
        ("entries[4]", "not a Workflows log entry (resource is str, not an object)")]


def test_unknown_documents_and_wrong_shapes():
    for doc in ({"value": []}, [], {"events": []}, {"executions": [{"executionArn": "arn:aws:states:x"}]}, 42):
        assert t.detect(doc) is None
        with pytest.raises(NativeFormatError) as caught:
            t.transform(doc, CTX)
        assert caught.value.source_name == "fixture.json" and caught.value.location == "$"
    with pytest.raises(NativeFormatError, match="fixture.json: stepEntries"):
        t.transform_step_entries({"stepEntries": {"a": 1}}, CTX)
    assert t.detect(WORKFLOW) == "gcp.workflow"
    assert t.detect(EXECUTION) == "gcp.executions"
    assert t.detect(ENTRIES[0]) == "gcp.step_entries"
    assert t.detect({"stepEntries": []}) == "gcp.step_entries"


def test_executions_and_step_entries_named_by_project_number_are_said_on_import():
    """gcloud and the Executions API name executions and step entries `projects/<number>/...`;
    the workflows, Cloud Logging and a live sync name the project by its id. Imported as they are,
    such rows join no workflow and the same executions imported from logs are stored twice: the
    import says so, once per project number, instead of passing in silence."""
    numbered = EX.replace(f"projects/{P}/", "projects/123456789012/")
    execution = {"name": numbered, "state": "SUCCEEDED", "startTime": "2026-11-01T10:00:00.000000000Z",
                 "endTime": "2026-11-01T10:00:01.000000000Z"}
    entry = {"name": f"{numbered}/stepEntries/1", "entryId": "1", "step": "init", "routine": "main",
             "stepType": "STEP_ASSIGN", "state": "STATE_SUCCEEDED", "createTime": "2026-11-01T10:00:00.100000000Z",
             "updateTime": "2026-11-01T10:00:00.200000000Z"}
    for batch in (t.transform_executions({"executions": [execution, execution]}, CTX),
                  t.transform_step_entries({"stepEntries": [entry]}, CTX)):
        assert len(batch.warnings) == 1, batch.warnings
        assert "project number 123456789012" in batch.warnings[0] and "project id" in batch.warnings[0]
    by_id = {**execution, "name": EX}
    assert t.transform_executions({"executions": [by_id]}, CTX).warnings == []


def test_a_running_execution_has_no_duration_as_on_every_cloud():
    """docs/model.md: `duration_ms` is ended_at - started_at, null while running (as Azure and AWS
    leave it). A running GCP execution carried the API's elapsed-so-far `duration`, so a duration
    measure mixed finished runs with a running one's time so far (frozen at the collection)."""
    running = {"name": f"{WF}/executions/r1", "state": "ACTIVE", "startTime": ts(1), "duration": "12.500s"}
    [row] = t.transform_executions({"executions": [running]}, CTX).executions
    assert (row[C.status], row[C.duration_ms]) == ("RUNNING", None)
    finished_without_end = {"name": f"{WF}/executions/f1", "state": "SUCCEEDED", "startTime": ts(1),
                            "duration": "2.500s"}
    [row] = t.transform_executions({"executions": [finished_without_end]}, CTX).executions
    assert (row[C.status], row[C.duration_ms]) == ("SUCCEEDED", 2500)


def test_an_unavailable_execution_says_why():
    """UNAVAILABLE: "Execution data is unavailable. See the `state_error` field" (discovery doc), e.g.
    its KMS key was disabled. Counted with the failures, it had no error and no cause: listed as a
    failure of nothing, the reason hidden in attributes. Its error names the state and the
    stateError type, its cause the stateError's details."""
    doc = _exec("UNAVAILABLE", 6, stateError={"details": "KMS key disabled", "type": "KMS_ERROR"})
    [row] = t.transform_executions({"executions": [doc]}, CTX).executions
    assert (row[C.error], row[C.cause]) == ("UNAVAILABLE KMS_ERROR", "execution data unavailable: KMS key disabled")


def test_a_source_and_a_definition_take_out_the_same_credential_keys():
    """The Logic Apps definitions and the Cloud Workflows sources had a list of credential keys each, and they
    had drifted: `access_token: ...` in a workflow's YAML was stored as written where a Logic Apps header of
    that name was REDACTED. One list now (textsafety.CREDENTIAL_KEYS)."""
    from flowscope.collectors.azure.transform.secrets import stored_definition
    from flowscope.collectors.gcp.transform.secrets import stored_source
    from flowscope.textsafety import CREDENTIAL_KEYS, REDACTED

    for key in sorted(CREDENTIAL_KEYS):
        assert stored_source(f"args:\n  {key}: s3cr3t-value\n") == f"args:\n  {key}: {REDACTED}\n", key
        assert stored_definition({"headers": {key: "s3cr3t-value"}}) == {"headers": {key: REDACTED}}, key


def test_attribute_texts_are_stored_without_credentials_then_cut():
    """A workflow's description and labels (its author's text) and an execution's stateError details were
    stored whole in `attributes`, credentials included: nothing cleans that column later. Every text in
    them is cleaned, then cut (`native.cleaned_texts`)."""
    wf = {**WORKFLOW, "description": "calls https://svc:hunter22@api.example/x?sig=s1gnature " + "d" * 5000,
          "labels": {"team": "orders", "note": "Bearer abcdefgh12345678"}}
    (row,) = t.transform_workflows({"workflows": [wf]}, CTX).workflows
    attributes = json.loads(row[C.attributes])
    assert "hunter22" not in row[C.attributes] and "s1gnature" not in row[C.attributes]
    assert attributes["description"].startswith("calls https://REDACTED@api.example/x?sig=REDACTED")
    assert len(attributes["description"]) == 1024
    assert attributes["labels"] == {"team": "orders", "note": "Bearer REDACTED"}
    ex = {**EXECUTIONS[0], "stateError": {"type": "KMS_ERROR",
                                          "details": "key at https://u:p4ssw0rd@kms.example/ refused"}}
    (erow,) = t.transform_executions({"executions": [ex]}, CTX).executions
    assert "p4ssw0rd" not in erow[C.attributes]
    assert json.loads(erow[C.attributes])["stateError"]["details"] == "key at https://REDACTED@kms.example/ refused"
