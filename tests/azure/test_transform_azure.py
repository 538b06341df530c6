"""Azure Logic Apps transforms against the real REST examples in shared/samples/azure."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from flowscope.collectors.azure import transform as t
from flowscope.collectors.native import ImportContext, NativeFormatError
from flowscope.model import C, Meter, Status, to_arrow

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "samples" / "azure"
if not SAMPLES.exists():
    SAMPLES = Path("/work/shared/samples/azure")
UTC = dt.timezone.utc
SUB = "34adfa4f-cedf-4dc0-ba29-b6d1a69ab345"
WF1 = f"/subscriptions/{SUB}/resourcegroups/test-resource-group/providers/microsoft.logic/workflows/test-workflow"
RUN1 = WF1 + "/runs/08586676746934337772206998657cu22"
WF2 = f"/subscriptions/{SUB}/resourcegroups/testresourcegroup/providers/microsoft.logic/workflows/testflow"
RUN2 = WF2 + "/runs/08586776228332053161046300351"
CTX = ImportContext(source_name="sample.json")


def body(name: str):
    return json.loads((SAMPLES / f"{name}.json").read_text())["responses"]["200"]["body"]


def run(name: str):
    doc = body(name)
    fmt = t.detect(doc)
    batch = t.FORMATS[fmt](doc, CTX)
    assert not batch.skips and not batch.unknown_event_types
    return fmt, batch


def ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def step(execution, key, name, started, ended, dur, **kw):
    row = {C.cloud: "azure", C.workflow_id: execution.rsplit("/runs/", 1)[0], C.execution_id: execution,
           C.step_key: key, C.previous_step_key: None, C.parent_step_key: None, C.iteration: None,
           C.name: name, C.type: "task", C.native_type: None, C.resource: None, C.status: "SUCCEEDED",
           C.started_at: ts(started), C.ended_at: ts(ended), C.duration_ms: dur, C.attempts: 1,
           C.error: None, C.cause: None, C.start_date: ts(started).date()}
    row.update(kw)
    return row


def test_runs_whole_row():
    for name in ("WorkflowRuns_Get", "WorkflowRuns_List"):
        fmt, b = run(name)
        assert fmt == "azure.runs"
        assert b.executions == [{
            C.cloud: "azure", C.account: SUB, C.region: None, C.workflow_id: WF1, C.workflow_name: "test-workflow",
            C.kind: "logicapp-consumption", C.revision: "08586676754160363885", C.execution_id: RUN1,
            C.name: "08586676746934337772206998657CU22", C.status: "SUCCEEDED", C.native_status: "Succeeded",
            C.started_at: ts("2018-08-10T20:16:32.044238"), C.ended_at: ts("2018-08-10T20:16:32.577999"),
            C.duration_ms: 533, C.error: None, C.cause: None, C.redrive_count: None, C.parent_execution_id: None,
            C.billed_duration_ms: None, C.billed_memory_mb: None, C.input_bytes: None, C.output_bytes: None,
            C.input_sha256: None, C.event_count: None,
            C.attributes: json.dumps({"client_tracking_id": "08586676746934337772206998657CU22",
                                      "scheduled_time": "2018-08-10T20:16:31.6344174Z", "trigger": "Recurrence",
                                      "wait_end_time": "2018-08-10T20:16:32.044238Z"}, sort_keys=True),
            C.source: "import", C.collected_at: None, C.start_date: dt.date(2018, 8, 10)}]
        assert b.steps == [step(RUN1, "@recurrence", "Recurrence", "2018-08-10T20:16:32.038792",
                                "2018-08-10T20:16:32.038792", 0, **{C.type: "trigger"})]
        to_arrow("executions", b.executions)
        to_arrow("steps", b.steps)


def test_actions_whole_row():
    for name in ("WorkflowRunActions_Get", "WorkflowRunActions_List"):
        fmt, b = run(name)
        assert fmt == "azure.run_actions"
        expected = step(RUN1, "http", "HTTP", "2018-08-10T20:16:32.305236", "2018-08-10T20:16:32.545062", 239)
        assert b.steps == [expected]
        assert b.attempts == [{C.cloud: "azure", C.workflow_id: WF1, C.execution_id: RUN1, C.step_key: "http",
                               C.attempt: 1, C.started_at: expected[C.started_at], C.ended_at: expected[C.ended_at],
                               C.duration_ms: 239, C.status: "SUCCEEDED", C.error: None, C.cause: None,
                               C.start_date: dt.date(2018, 8, 10)}]


def test_action_repetitions_whole_rows():
    fmt, b = run("WorkflowRunActionRepetitions_List")
    assert fmt == "azure.action_repetitions"
    assert b.steps == [
        step(RUN2, "testaction#for_each:0", "testAction", "2018-04-18T17:05:57.217991",
             "2018-04-18T17:05:57.226483", 8, **{C.parent_step_key: "for_each", C.iteration: 0}),
        step(RUN2, "testaction#for_each:1", "testAction", "2018-04-18T17:05:57.092991",
             "2018-04-18T17:05:57.101542", 8, **{C.parent_step_key: "for_each", C.iteration: 1}),
    ]
    # the Get example's id has an `api/management/` prefix: same canonical ids
    _, got = run("WorkflowRunActionRepetitions_Get")
    assert got.steps == [b.steps[1]]


def test_scope_repetitions_whole_rows():
    fmt, b = run("WorkflowRunActionScopeRepetitions_List")
    assert fmt == "azure.scope_repetitions"
    common = {C.type: "scope", C.native_type: "ScopeRepetition", C.parent_step_key: "for_each"}
    assert b.steps == [
        step(RUN2, "for_each#for_each:0", "for_each", "2018-04-18T17:05:57.209588",
             "2018-04-18T17:05:57.624096", 414, **common, **{C.iteration: 0}),
        step(RUN2, "for_each#for_each:1", "for_each", "2018-04-18T17:05:57.068680",
             "2018-04-18T17:05:57.227279", 158, **common, **{C.iteration: 1}),
    ]
    assert b.attempts == []


def test_request_histories_whole_row():
    fmt, b = run("WorkflowRunActionRequestHistories_List")
    assert fmt == "azure.request_histories"
    run_id = (f"/subscriptions/{SUB}/resourcegroups/test-resource-group/providers/microsoft.logic/workflows/"
              "test-workflow/runs/08586611142736787787412824395cu21")
    assert b.attempts == [{C.cloud: "azure", C.workflow_id: WF1, C.execution_id: run_id,
                           C.step_key: "http_webhook", C.attempt: 0,     # a request: placed in a try by assemble
                           C.started_at: ts("2018-10-25T18:36:51.920673"), C.ended_at: ts("2018-10-25T18:36:52.186303"),
                           C.duration_ms: 265, C.status: "SUCCEEDED", C.error: None, C.cause: None,
                           C.start_date: dt.date(2018, 10, 25)}]


def test_trigger_history_links_to_its_run():
    fmt, b = run("WorkflowTriggerHistories_List")
    assert fmt == "azure.trigger_histories"
    assert b.steps[0][C.execution_id].endswith("/workflows/testworkflowname/runs/08586676746934337772206998657cu22")
    assert b.steps[0][C.step_key] == "@testtriggername"


def test_no_sas_signature_reaches_any_row():
    for path in SAMPLES.glob("*.json"):
        doc = json.loads(path.read_text())["responses"]["200"]["body"]
        b = t.FORMATS[t.detect(doc)](doc, CTX)
        for table in ("workflows", "executions", "steps", "attempts", "usage"):
            assert "sig=" not in repr(b.rows(table))
    assert "sig=" in (SAMPLES / "WorkflowRunActionRepetitions_List.json").read_text()


# ---------------------------------------------------------------- a hand-written definition

BASE = "/subscriptions/s1/resourceGroups/RG/providers/Microsoft.Logic/workflows/Orders"
RUN = BASE + "/runs/R1"
MANAGED_APIS = "/subscriptions/s1/providers/Microsoft.Web/locations/westeurope/managedApis"
T0 = dt.datetime(2025, 1, 6, 9, 0, tzinfo=UTC)


def conn(key):
    return {"host": {"connection": {"name": f"@parameters('$connections')['{key}']['connectionId']"}}}


DEFINITION = {
    "triggers": {"manual": {"type": "Request", "kind": "Http"}},
    "actions": {
        "For_each": {"type": "Foreach", "foreach": "@x", "runAfter": {}, "actions": {
            "Call_api": {"type": "Http", "inputs": {"method": "GET", "uri": "https://api.example/x?sig=SECRET"}},
            "Send_mail": {"type": "ApiConnection", "inputs": conn("office365_1"),
                          "runAfter": {"Call_api": ["Succeeded"]}},
            "Post_sap": {"type": "ApiConnection", "inputs": conn("sap"), "runAfter": {"Send_mail": ["Succeeded"]}},
        }},
        "Until_done": {"type": "Until", "expression": "@true", "runAfter": {"For_each": ["Succeeded"]},
                       "actions": {"Poll": {"type": "Http", "inputs": {"method": "GET", "uri": "https://p.example"}}}},
        "Try": {"type": "Scope", "runAfter": {"Until_done": ["Succeeded"]}, "actions": {
            "Risky": {"type": "Http", "inputs": {"method": "GET", "uri": "https://r.example"}},
        }},
        "Handle": {"type": "Scope", "runAfter": {"Try": ["Failed"]}, "actions": {
            "Log": {"type": "Compose", "inputs": "x"}}},
        "Done": {"type": "Response", "runAfter": {"Handle": ["Succeeded", "Skipped"]}},
    },
}
WORKFLOW_DOC = {"id": BASE, "name": "Orders", "type": "Microsoft.Logic/workflows", "location": "West Europe",
                "properties": {"version": "V1", "state": "Enabled", "sku": {"name": "Standard"},
                               "definition": DEFINITION, "parameters": {"$connections": {"value": {
                                   "office365_1": {"id": MANAGED_APIS + "/office365"},
                                   "sap": {"id": MANAGED_APIS + "/sap"}}}}}}


def iso(seconds: float) -> str:
    return (T0 + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def act(name, s, e, status="Succeeded", idx=None, rep=None, scope=False, **props):
    kind = "scopeRepetitions" if scope else "repetitions"
    rid = f"{RUN}/actions/{name}" + (f"/{kind}/{rep:06d}" if rep is not None else "")
    p = {"startTime": iso(s), "endTime": iso(e), "status": status, "code": "OK",
         "outputsLink": {"uri": "https://x.example/out?sig=SECRET", "contentSize": 5}, **props}
    if idx is not None:
        p["repetitionIndexes"] = idx
    typ = "Microsoft.Logic/workflows/runs/actions" + (f"/{kind}" if rep is not None else "")
    return {"id": rid, "name": rid.rsplit("/", 1)[-1], "type": typ, "properties": p}


def documents(items=10, risky_retries=2):
    runs = {"value": [{"id": RUN, "name": "R1", "type": "Microsoft.Logic/workflows/runs", "properties": {
        "startTime": iso(0), "endTime": iso(100), "status": "Succeeded",
        "workflow": {"name": "V1"}, "trigger": {"name": "manual", "startTime": iso(0), "endTime": iso(0),
                                                 "status": "Succeeded", "outputsLink": {"contentSize": 42, "uri": "https://h?sig=S"}}}}]}
    actions = [act("For_each", 1, 20), act("Call_api", 1, 20), act("Send_mail", 1, 20), act("Post_sap", 1, 20),
               act("Until_done", 21, 30), act("Poll", 21, 30),
               act("Try", 31, 40, "Failed"),
               act("Risky", 31, 40, "Failed", error={"code": "BadRequest", "message": "boom"},
                   retryHistory=[{"startTime": iso(31 + k), "endTime": iso(31.5 + k), "code": "TooManyRequests",
                                  "error": {"code": "TooManyRequests", "message": "429"}}
                                 for k in range(risky_retries)]),
               act("Handle", 41, 42), act("Log", 41, 42), act("Done", 43, 44)]
    reps = []
    for name in ("Call_api", "Send_mail", "Post_sap"):
        reps.append({"value": [act(name, 1 + i, 1.5 + i, idx=[{"scopeName": "For_each", "itemIndex": i}], rep=i)
                               for i in range(items)]})
    reps.append({"value": [act("Poll", 21 + i, 22 + i, idx=[{"scopeName": "Until_done", "itemIndex": i}], rep=i)
                           for i in range(3)]})
    scopes = {"value": [act("For_each", 1 + i, 2 + i, idx=[{"scopeName": "For_each", "itemIndex": i}], rep=i,
                            scope=True)
                        for i in range(items)]}
    return [WORKFLOW_DOC, runs, {"value": actions}, *reps, scopes]


def load(docs):
    from flowscope.model import Batch
    batch = Batch()
    for doc in docs:
        batch.extend(t.FORMATS[t.detect(doc)](doc, CTX))
    assert not batch.skips
    return batch


def assembled(batch, with_workflow=True):
    wf = batch.workflows[0] if (with_workflow and batch.workflows) else None
    ex = batch.executions[0]
    return t.assemble(ex, [s for s in batch.steps if s[C.execution_id] == ex[C.execution_id]],
                      [a for a in batch.attempts if a[C.execution_id] == ex[C.execution_id]], wf)


def test_definition_classifies_and_bills():
    steps, attempts, usage = assembled(load(documents()))
    by = {s[C.step_key]: s for s in steps}
    assert "call_api" not in by and "send_mail" not in by          # aggregates dropped for repetitions
    assert "for_each" in by and by["for_each"][C.type] == "loop"
    assert by["call_api#for_each:3"][C.parent_step_key] == "for_each"
    assert by["call_api#for_each:3"][C.iteration] == 3
    assert by["send_mail#for_each:3"][C.previous_step_key] == "call_api#for_each:3"
    assert (by["send_mail#for_each:0"][C.resource], by["post_sap#for_each:0"][C.resource]) == ("office365", "sap")
    assert by["call_api#for_each:0"][C.resource] == "api.example"
    assert by["risky"][C.parent_step_key] == "try" and by["log"][C.parent_step_key] == "handle"
    assert by["try"][C.status] == Status.CAUGHT and by["risky"][C.status] == Status.CAUGHT
    assert by["for_each"][C.previous_step_key] == "@manual"
    meters = {u[C.step_key]: (u[C.meter], u[C.quantity]) for u in usage}
    assert meters["send_mail#for_each:0"] == (Meter.AZURE_LOGIC_STANDARD_CONNECTOR, 1.0)
    assert meters["post_sap#for_each:0"] == (Meter.AZURE_LOGIC_ENTERPRISE_CONNECTOR, 1.0)
    assert meters["@manual"] == (Meter.AZURE_LOGIC_BUILTIN_TRIGGER, 1.0)
    assert meters["risky"] == (Meter.AZURE_LOGIC_BUILTIN_ACTION, 3.0)  # 2 retries + final try
    assert not any("#for_each:" in k and k.startswith("for_each#") for k in meters)  # iterations free
    assert all(u[C.region] == "westeurope" for u in usage)
    assert "sig=" not in repr((steps, attempts, usage))


def test_ten_item_loop_is_eleven_action_executions():
    definition = {"triggers": {"manual": {"type": "Request"}},
                  "actions": {"For_each": {"type": "Foreach", "runAfter": {},
                                           "actions": {"Compose": {"type": "Compose"}}}}}
    wf_doc = {"id": BASE, "type": "Microsoft.Logic/workflows", "properties": {"definition": definition}}
    runs = {"value": [{"id": RUN, "type": "Microsoft.Logic/workflows/runs",
                       "properties": {"startTime": iso(0), "endTime": iso(9), "status": "Succeeded"}}]}
    docs = [wf_doc, runs, {"value": [act("For_each", 0, 9), act("Compose", 0, 9)]},
            {"value": [act("Compose", i, i, idx=[{"scopeName": "For_each", "itemIndex": i}], rep=i)
                       for i in range(10)]}]
    _, _, usage = assembled(load(docs))
    assert sum(u[C.quantity] for u in usage if u[C.meter] == Meter.AZURE_LOGIC_BUILTIN_ACTION) == 11


def test_retries_are_attempts():
    steps, attempts, usage = assembled(load(documents(risky_retries=3)))
    risky = [a for a in attempts if a[C.step_key] == "risky"]
    assert [a[C.attempt] for a in risky] == [1, 2, 3, 4]
    assert [a[C.status] for a in risky] == ["FAILED"] * 4
    assert risky[0][C.error] == "TooManyRequests" and risky[-1][C.error] == "BadRequest"
    assert {s[C.step_key]: s for s in steps}["risky"][C.attempts] == 4
    assert not any(a[C.step_key] in ("log", "try", "for_each") for a in attempts)  # containers, Compose


def test_actions_before_workflow_then_reclassified():
    batch = load(documents()[1:])
    steps, _, usage = assembled(batch, with_workflow=False)
    assert {u[C.meter] for u in usage} == {Meter.AZURE_LOGIC_UNCLASSIFIED_ACTION}
    assert {s[C.step_key]: s for s in steps}["for_each"][C.type] == "loop"      # inferred from repetitions
    wf = load([WORKFLOW_DOC]).workflows[0]
    steps2, attempts2, usage2 = t.assemble(batch.executions[0], steps, _, wf)
    full = assembled(load(documents()))
    assert (steps2, attempts2, usage2) == full


def test_assemble_is_idempotent_and_order_free():
    batch = load(documents())
    once = assembled(batch)
    twice = t.assemble(batch.executions[0], once[0], once[1], batch.workflows[0])
    assert twice == once
    reversed_docs = load(list(reversed(documents())))
    assert assembled(reversed_docs) == once


def test_workflow_row():
    b = load([WORKFLOW_DOC])
    row = b.workflows[0]
    assert row[C.workflow_id] == "/subscriptions/s1/resourcegroups/rg/providers/microsoft.logic/workflows/orders"
    assert (row[C.name], row[C.kind], row[C.revision], row[C.region]) == \
        ("Orders", "logicapp-consumption", "V1", "westeurope")
    assert json.loads(row[C.definition]) == json.loads(json.dumps(DEFINITION).replace("sig=SECRET", "sig=REDACTED"))
    assert json.loads(row[C.attributes])["connections"] == {"office365_1": "office365", "sap": "sap"}
    std = {"id": "/subscriptions/s1/resourceGroups/RG/providers/Microsoft.Web/sites/App/workflows/Ledger",
           "name": "App/Ledger", "type": "Microsoft.Web/sites/workflows", "kind": "Stateful",
           "properties": {"files": {"workflow.json": {"definition": DEFINITION}}}}
    row = load([std]).workflows[0]
    assert (row[C.kind], row[C.name]) == ("logicapp-standard", "Ledger")
    assert row[C.workflow_id] == \
        "/subscriptions/s1/resourcegroups/rg/providers/microsoft.web/sites/app/workflows/ledger"
    assert len(row[C.revision]) == 20                     # a definition hash when there is no version


def test_bad_inputs():
    with pytest.raises(NativeFormatError, match="sample.json"):
        t.transform({"hello": "world"}, CTX)
    with pytest.raises(NativeFormatError):
        t.transform("nope", CTX)
    assert t.detect({"hello": 1}) is None and t.detect([1, 2]) is None
    good = body("WorkflowRunActions_List")["value"][0]
    doc = {"value": [good, {"id": RUN + "/actions/X", "type": "Microsoft.Logic/workflows/runs/actions",
                            "properties": {"startTime": "garbage"}},
                     {"id": "x", "type": "Microsoft.Logic/workflows/somethingNew"}]}
    b = t.transform(doc, CTX)
    assert len(b.steps) == 1
    assert len(b.skips) == 1 and b.skips[0].source == "sample.json" and b.skips[0].location.startswith("value[1]")
    assert b.unknown_event_types == {"Microsoft.Logic/workflows/somethingNew": 1}


def test_skipped_free_and_unfired_poll_billed():
    hist = {"value": [{"id": BASE + "/triggers/Poll/histories/H1",
                       "type": "Microsoft.Logic/workflows/triggers/histories",
                       "properties": {"startTime": iso(0), "endTime": iso(1), "status": "Skipped", "fired": False}}]}
    b = load([hist])
    steps, _, usage = t.assemble(None, b.steps, b.attempts, None)
    assert steps[0][C.status] == "SKIPPED" and usage[0][C.quantity] == 1.0
    assert usage[0][C.execution_id].endswith("/triggers/poll/histories/h1")
    skipped = load([{"value": [act("Done", 1, 1, "Skipped")]}])
    steps, attempts, usage = t.assemble(None, skipped.steps, skipped.attempts, None)
    assert steps[0][C.attempts] == 0 and attempts == [] and usage == []


def test_request_histories_merge_with_retry_history():
    docs = documents(risky_retries=1)
    hist = {"value": [{"id": f"{RUN}/actions/Risky/requestHistories/{n}", "type":
                       "Microsoft.Logic/workflows/runs/actions/requestHistories",
                       "properties": {"startTime": iso(s), "endTime": iso(s + 0.5), "response": {"statusCode": c}}}
                      for n, s, c in (("b", 35, 400), ("a", 31, 429))]}
    steps, attempts, _ = assembled(load(docs + [hist]))
    risky = [a for a in attempts if a[C.step_key] == "risky"]
    assert len(risky) == 2 and risky[1][C.started_at] == T0 + dt.timedelta(seconds=35)


def test_request_histories_are_requests_not_tries():
    """A request history is one HTTP request an action made (the sample: an HTTP Webhook's
    subscription, answered 302), not a try: a webhook subscribes and unsubscribes, an asynchronous
    HTTP action polls its Location, all in one try. Numbered as tries by start time, every extra
    request was an extra attempt (attempts inflated, a retry storm that never was). A request now
    only gives the try it falls in its start time (the final try of a retried action has none)."""
    docs = documents(risky_retries=1)            # Risky: one retry at 31-31.5 s, the final try ends at 40 s
    hist = {"value": [{"id": f"{RUN}/actions/Risky/requestHistories/{n}", "type":
                       "Microsoft.Logic/workflows/runs/actions/requestHistories",
                       "properties": {"startTime": iso(s), "endTime": iso(s + 0.5), "response": {"statusCode": c}}}
                      for n, s, c in (("a", 31, 429), ("b", 35, 202), ("c", 37, 202), ("d", 39, 400))]}
    steps, attempts, _ = assembled(load(docs + [hist]))
    risky = [a for a in attempts if a[C.step_key] == "risky"]
    assert [a[C.attempt] for a in risky] == [1, 2]
    assert risky[1][C.started_at] == T0 + dt.timedelta(seconds=35)
    assert risky[1][C.status] == "FAILED" and risky[0][C.started_at] == T0 + dt.timedelta(seconds=31)
    assert next(s for s in steps if s[C.step_key] == "risky")[C.attempts] == 2
    execution = load(docs).executions[0]
    assert t.assemble(execution, steps, attempts, load(docs).workflows[0])[1] == attempts   # idempotent


@pytest.mark.parametrize("where", ["action", "trigger"])
def test_a_record_skipped_for_a_bad_try_leaves_no_row_behind(where):
    """A record whose retryHistory held a bad time was reported skipped, yet its step (an action)
    or its execution (a run's trigger) had already been added: the import said "skipped" and stored
    the record anyway, with its tries missing (a retried action counted one try). A skipped record
    now adds nothing."""
    bad_try = [{"startTime": "not a time", "endTime": iso(1)}]
    if where == "action":
        rec = {"id": f"{RUN}/actions/Risky", "name": "Risky", "type": "Microsoft.Logic/workflows/runs/actions",
               "properties": {"startTime": iso(0), "endTime": iso(2), "status": "Succeeded", "retryHistory": bad_try}}
    else:
        rec = {"id": RUN, "name": "R1", "type": "Microsoft.Logic/workflows/runs",
               "properties": {"startTime": iso(0), "endTime": iso(2), "status": "Succeeded",
                              "trigger": {"name": "manual", "startTime": iso(0), "endTime": iso(0),
                                          "status": "Succeeded", "retryHistory": bad_try}}}
    batch = t.transform({"value": [rec]}, CTX)
    assert len(batch.skips) == 1 and "not a time" in batch.skips[0].reason, batch.skips
    assert (batch.executions, batch.steps, batch.attempts) == ([], [], [])


def test_a_record_whose_properties_are_not_an_object_is_skipped_saying_so():
    """`"properties": "x"` was skipped with Python's own words ('str' object has no attribute 'get'),
    which tell a user nothing about the file; the skip now names the field and what it holds."""
    recs = [{"id": RUN, "name": "R1", "type": "Microsoft.Logic/workflows/runs", "properties": "x"},
            {"id": f"{RUN}/actions/Risky", "name": "Risky", "type": "Microsoft.Logic/workflows/runs/actions",
             "properties": [1]}]
    batch = t.transform({"value": recs}, CTX)
    reasons = [s.reason for s in batch.skips]
    assert len(reasons) == 2 and all("properties is " in r and "not an object" in r for r in reasons), reasons


def test_retries_inside_a_loops_visit_are_that_visits_tries_and_billed():
    """A repetition's own retryHistory: each retry a try of that visit (not of the action's
    aggregate, which the repetitions replace), each try billed as an action execution."""
    docs = documents(items=3)
    rep = docs[3]["value"][2]                      # Call_api, For_each item 2
    rep["properties"]["retryHistory"] = [{"startTime": iso(2.90 + k / 100), "endTime": iso(2.905 + k / 100),
                                          "code": "TooManyRequests",
                                          "error": {"code": "TooManyRequests", "message": "429"}} for k in range(2)]
    steps, attempts, usage = assembled(load(docs))
    visit = {s[C.step_key]: s for s in steps}["call_api#for_each:2"]
    tries = sorted((a[C.attempt], a[C.status]) for a in attempts if a[C.step_key] == "call_api#for_each:2")
    assert visit[C.attempts] == 3 and tries == [(1, "FAILED"), (2, "FAILED"), (3, "SUCCEEDED")]
    assert [u[C.quantity] for u in usage if u[C.step_key] == "call_api#for_each:2"] == [3.0]
    assert [u[C.quantity] for u in usage if u[C.step_key] == "call_api#for_each:1"] == [1.0]


def test_credentials_written_into_a_definition_are_not_stored():
    """A definition quotes what its author typed in: another Logic App's callback URL with its `sig`
    (whoever holds it can run that workflow), a Functions `code`, an Authorization header, a Basic
    password, a SecureString's default. They were stored as they came, in the workflows table the
    dashboard reads and exports. The stored definition keeps its shape (types, runAfter, hosts, the
    expressions that name a parameter) without them."""
    secret = "Zk9mR2x4bVRzS2Vj"
    callback = ("https://prod-07.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke"
                f"?api-version=2016-10-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={secret}")
    definition = {
        "parameters": {"pwd": {"type": "SecureString", "defaultValue": secret},
                       "region": {"type": "String", "defaultValue": "westeurope"}},
        "triggers": {"manual": {"type": "Request", "kind": "Http", "inputs": {}}},
        "actions": {
            "Call": {"type": "Http", "runAfter": {}, "inputs": {
                "method": "POST", "uri": callback,
                "headers": {"Authorization": f"Bearer {secret}", "x-functions-key": secret,
                            "Ocp-Apim-Subscription-Key": "@parameters('apimKey')", "Accept": "application/json"},
                "authentication": {"type": "Basic", "username": "svc", "password": secret}}},
            "Fn": {"type": "Http", "runAfter": {"Call": ["Succeeded"]},
                   "inputs": {"method": "GET", "uri": f"https://fn.azurewebsites.net/api/x?code={secret}=="}},
        }}
    doc = {"id": "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Logic/workflows/orders",
           "name": "orders", "type": "Microsoft.Logic/workflows", "location": "westeurope",
           "properties": {"definition": definition}}
    row = load([doc]).workflows[0]
    stored = json.loads(row[C.definition])
    assert secret not in row[C.definition], row[C.definition]
    call = stored["actions"]["Call"]["inputs"]
    assert call["uri"].endswith("&sv=1.0&sig=REDACTED") and call["uri"].startswith("https://prod-07.westeurope")
    assert call["headers"] == {"Authorization": "REDACTED", "x-functions-key": "REDACTED",
                               "Ocp-Apim-Subscription-Key": "@parameters('apimKey')", "Accept": "application/json"}
    assert call["authentication"] == {"type": "Basic", "username": "svc", "password": "REDACTED"}
    assert stored["actions"]["Fn"]["inputs"]["uri"] == "https://fn.azurewebsites.net/api/x?code=REDACTED"
    assert stored["actions"]["Fn"]["runAfter"] == {"Call": ["Succeeded"]}
    assert stored["parameters"] == {"pwd": {"type": "SecureString", "defaultValue": "REDACTED"},
                                    "region": {"type": "String", "defaultValue": "westeurope"}}


def test_a_runs_client_tracking_id_is_capped_as_other_cloud_texts():
    """A caller sets a run's clientTrackingId (the `x-ms-client-tracking-id` header) to any length: it was
    stored whole in the run's attributes, read on every page; it is capped as errors and causes are."""
    from flowscope.model import MAX_TEXT_CHARS, truncate

    doc = body("WorkflowRuns_Get")
    doc["properties"]["correlation"] = {"clientTrackingId": "t" * 200_000}
    batch = t.FORMATS[t.detect(doc)](doc, CTX)
    (row,) = batch.executions
    tracking = json.loads(row[C.attributes])["client_tracking_id"]
    assert len(tracking) == MAX_TEXT_CHARS and tracking == truncate("t" * 200_000)


def test_a_runs_attribute_texts_are_stored_without_credentials_then_cut():
    """Whoever calls a workflow sets its run's clientTrackingId (any text): one holding a URL's `user:pass@`
    or a `sig=` was stored as it came in the run's attributes, which no later pass cleans. Every text the
    attributes take from a run is cleaned of credentials, then cut (`native.cleaned`); a value that is no
    text (an object a hand-made file holds) keeps its texts cleaned the same way (`native.cleaned_texts`)."""
    doc = body("WorkflowRuns_Get")
    props = doc["properties"]
    props["correlation"] = {"clientTrackingId": "https://svc:Pa55w0rd@hooks.example/x?sig=Zk9mR2x4bVRz&a=1"}
    props["waitEndTime"] = "https://u:p4ss@h.example/"
    props["trigger"]["scheduledTime"] = {"uri": "https://u:p4ss@h.example/"}
    props["trigger"]["name"] = "Recurrence?token=abcdefgh"
    props["correlation"]["clientTrackingId"] += "t" * 200_000 + "https://u:p4ss@late.example/"
    (row,) = t.FORMATS[t.detect(doc)](doc, CTX).executions
    attributes = json.loads(row[C.attributes])
    assert "Pa55w0rd" not in row[C.attributes] and "Zk9mR2x4bVRz" not in row[C.attributes]
    assert "p4ss" not in row[C.attributes] and "abcdefgh" not in row[C.attributes]
    assert attributes["client_tracking_id"].startswith("https://REDACTED@hooks.example/x?sig=REDACTED&a=1")
    assert attributes["wait_end_time"] == "https://REDACTED@h.example/"
    assert attributes["trigger"] == "Recurrence?token=REDACTED"
    assert attributes["scheduled_time"] == {"uri": "https://REDACTED@h.example/"}


def test_a_deployment_slots_workflow_is_its_own_workflow_not_the_production_ones():
    """A Standard logic app's deployment slot holds workflows of its own (`.../sites/<app>/slots/<slot>/
    workflows/<wf>`, an ARM resource: App Service's WebApps_GetInstanceWorkflowSlot). The id reader skipped
    `slots/<slot>`, so a staging slot's runs were stored as the production workflow's, its failures counted
    as production's. The slot stays in the workflow and run ids (and the run links that slot's workflow)."""
    from flowscope.analysis.runs import console_url

    site = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Web/sites/la-std"

    def standard_run(workflow: str) -> dict:
        return {"id": f"{workflow}/runs/0858", "name": "0858", "type": "Microsoft.Logic/workflows/runs",
                "properties": {"status": "Failed", "startTime": "2026-11-20T10:00:00Z",
                               "endTime": "2026-11-20T10:00:01Z"}}

    batch = load([standard_run(f"{site}/workflows/orders"), standard_run(f"{site}/slots/Staging/workflows/orders")])
    assert not batch.skips
    production, staging = batch.executions
    assert production[C.workflow_id] == f"{site.lower()}/workflows/orders"
    assert staging[C.workflow_id] == f"{site.lower()}/slots/staging/workflows/orders"
    assert staging[C.execution_id] == staging[C.workflow_id] + "/runs/0858"
    assert staging[C.workflow_name] == "orders" and staging[C.kind] == "logicapp-standard"
    assert console_url(staging) == f"https://portal.azure.com/#resource{staging[C.workflow_id]}"
    workflow = {"id": f"{site}/slots/Staging/workflows/orders", "name": "la-std/Staging/orders",
                "type": "Microsoft.Web/sites/slots/workflows", "kind": "Stateful",
                "properties": {"files": {"workflow.json": {"definition": {"triggers": {}, "actions": {}}}}}}
    (row,) = load([workflow]).workflows
    assert row[C.workflow_id] == staging[C.workflow_id] and row[C.name] == "orders"


def test_a_timed_out_action_in_a_handled_scope_is_caught_as_a_failed_one_is():
    """Risky timed out inside the Try scope, which failed; Handle runs after Try `Failed` and the run
    went on. A Failed action there was CAUGHT, a TimedOut one stayed TIMED_OUT: counted as an uncaught
    failure that ended a run that succeeded (`measures.STEP_UNCAUGHT`). A timeout handled through its
    container is CAUGHT, as one handled directly (`runAfter: TimedOut`) already was; its try keeps
    the TimedOut it ended with."""
    docs = documents(risky_retries=0)
    risky = next(a for a in docs[2]["value"] if a["name"] == "Risky")
    risky["properties"].update(status="TimedOut", code="ActionTimedOut",
                               error={"code": "ActionTimedOut", "message": "timed out after PT10S"})
    steps, attempts, usage = assembled(load(docs))
    by = {s[C.step_key]: s for s in steps}
    assert by["risky"] == step(RUN.lower(), "risky", "Risky", iso(31)[:-2], iso(40)[:-2], 9000, **{
        C.workflow_id: BASE.lower(), C.parent_step_key: "try", C.native_type: "Http", C.resource: "r.example",
        C.status: "CAUGHT", C.error: "ActionTimedOut", C.cause: "timed out after PT10S"})
    assert (by["try"][C.status], by["handle"][C.status]) == ("CAUGHT", "SUCCEEDED")
    assert [(a[C.attempt], a[C.status], a[C.error]) for a in attempts if a[C.step_key] == "risky"] == \
        [(1, "TIMED_OUT", "ActionTimedOut")]
    assert [u[C.quantity] for u in usage if u[C.step_key] == "risky"] == [1.0]
    batch = load(docs)
    assert t.assemble(batch.executions[0], steps, attempts, batch.workflows[0]) == (steps, attempts, usage)
