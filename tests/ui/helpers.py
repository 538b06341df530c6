"""Small, deterministic model rows for the dashboard tests: three clouds, known numbers.

Written straight as model rows (a `flowscope.model.Batch`), so the dashboard tests do not depend
on the simulators. Each workflow has a stored definition in its cloud's format; steps carry
previous/parent keys (a Map with iterations on AWS), work steps have attempts (with retries and
a lockstep retry delay on one step), usage rows carry each cloud's meters, and one collection
scope failed. APP is the dashboard's entry script, N the size of the three-cloud store fixture.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from dataclasses import dataclass
from pathlib import Path

from flowscope.model import (
    UTC,
    Batch,
    C,
    Cloud,
    Kind,
    Meter,
    RunStatus,
    Status,
    StepType,
)

APP = str(Path(__file__).resolve().parents[2] / "app.py")
N = 300

ASL = {
    "Comment": "orders",
    "StartAt": "ValidateOrder",
    "States": {
        "ValidateOrder": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111:function:validate",
                          "Next": "ChargeCard"},
        "ChargeCard": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                       "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 2, "MaxAttempts": 3}],
                       "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "PaymentFailed"}],
                       "Next": "InStock"},
        "InStock": {"Type": "Choice", "Choices": [{"Variable": "$.stock", "BooleanEquals": True,
                                                   "Next": "ReserveItems"}], "Default": "Backorder"},
        "Backorder": {"Type": "Pass", "Next": "ReserveItems"},
        "ReserveItems": {"Type": "Map", "ItemProcessor": {"StartAt": "ReserveItem", "States": {
            "ReserveItem": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem", "End": True}}},
            "Next": "WaitForShipping"},
        "WaitForShipping": {"Type": "Wait", "Seconds": 5, "Next": "Done"},
        "PaymentFailed": {"Type": "Fail", "Error": "PaymentFailed"},
        "Done": {"Type": "Succeed"},
    },
}

LOGICAPP = {
    "$schema": "https://schema.management.azure.com/providers/Microsoft.Logic/schemas/2016-06-01/"
               "workflowdefinition.json#",
    "triggers": {"manual": {"type": "Request", "kind": "Http"}},
    "actions": {
        "Get_invoice": {"type": "ApiConnection", "runAfter": {},
                        "inputs": {"host": {"connection": {"name": "@parameters('$connections')['sql']"}}}},
        "Check_amount": {"type": "If", "runAfter": {"Get_invoice": ["Succeeded"]},
                         "expression": {"and": [{"greater": ["@body('Get_invoice')?['amount']", 1000]}]},
                         "actions": {"Request_approval": {"type": "Http", "runAfter": {},
                                                          "inputs": {"uri": "https://approvals.example.com"}}},
                         "else": {"actions": {"Auto_approve": {"type": "Compose", "runAfter": {}}}}},
        "Send_email": {"type": "ApiConnection", "runAfter": {"Check_amount": ["Succeeded"]}},
        "Notify_failure": {"type": "Http", "runAfter": {"Get_invoice": ["Failed", "TimedOut"]}},
    },
}

GCP_YAML = """\
main:
  params: [args]
  steps:
    - init:
        assign:
          - rows: 0
    - fetch:
        call: http.get
        args:
          url: https://api.partner.example.com/export
        result: export
    - transform:
        call: googleapis.run.v2.projects.locations.jobs.run
        args:
          name: transform
    - check:
        switch:
          - condition: ${export.body.count > 0}
            next: load
        next: done
    - load:
        call: googleapis.bigquery.v2.jobs.insert
        args:
          projectId: p
    - done:
        return: ${rows}
"""


@dataclass(frozen=True)
class WorkflowSpec:
    cloud: Cloud
    workflow_id: str
    name: str
    kind: Kind
    region: str
    definition: str
    definition_format: str


WORKFLOWS = [
    WorkflowSpec(Cloud.AWS, "arn:aws:states:us-east-1:111:stateMachine:orders", "orders", Kind.SFN_STANDARD,
                 "us-east-1", json.dumps(ASL), "asl-json"),
    WorkflowSpec(Cloud.AZURE, "/subscriptions/s1/resourcegroups/rg/providers/microsoft.logic/workflows/invoices",
                 "invoices", Kind.LOGICAPP_CONSUMPTION, "westeurope", json.dumps(LOGICAPP), "logicapp-json"),
    WorkflowSpec(Cloud.GCP, "projects/p1/locations/us-central1/workflows/etl", "etl", Kind.GCP_WORKFLOWS,
                 "us-central1", GCP_YAML, "gcp-yaml"),
]

# (name, type, resource, meter, fail probability, retry probability, lockstep retry delay ms or None)
PATHS = {
    Cloud.AWS: [("ValidateOrder", StepType.TASK, "lambda:validate", 0.0, 0.02, None),
                ("ChargeCard", StepType.TASK, "lambda:invoke", 0.08, 0.3, 2000),
                ("InStock", StepType.CHOICE, None, 0.0, 0.0, None),
                ("ReserveItems", StepType.MAP, None, 0.0, 0.0, None),
                ("WaitForShipping", StepType.WAIT, None, 0.0, 0.0, None),
                ("Done", StepType.SUCCEED, None, 0.0, 0.0, None)],
    Cloud.AZURE: [("manual", StepType.TRIGGER, None, 0.0, 0.0, None),
                  ("Get_invoice", StepType.TASK, "sql", 0.05, 0.2, None),
                  ("Check_amount", StepType.CHOICE, None, 0.0, 0.0, None),
                  ("Send_email", StepType.TASK, "office365", 0.0, 0.05, None)],
    Cloud.GCP: [("init", StepType.PASS, None, 0.0, 0.0, None),
                ("fetch", StepType.TASK, "api.partner.example.com", 0.04, 0.1, None),
                ("transform", StepType.TASK, "run.googleapis.com", 0.0, 0.0, None),
                ("check", StepType.CHOICE, None, 0.0, 0.0, None),
                ("load", StepType.TASK, "bigquery.googleapis.com", 0.0, 0.0, None),
                ("done", StepType.RETURN, None, 0.0, 0.0, None)],
}
ERRORS = {Cloud.AWS: ("Payment.Declined", "card declined by issuer (code 51)"),
          Cloud.AZURE: ("BadGateway", "The SQL connector returned 502"),
          Cloud.GCP: ("HttpError", "HTTP server responded with error code 503")}
FAILED_SCOPE = "gcp:projects/p2/locations/europe-west1"


def _meter(cloud: Cloud, step_type: StepType, resource: str | None) -> str:
    if cloud is Cloud.AWS:
        return Meter.AWS_SFN_STATE_TRANSITION.value
    if cloud is Cloud.AZURE:
        if step_type is StepType.TRIGGER:
            return Meter.AZURE_LOGIC_BUILTIN_TRIGGER.value
        return (Meter.AZURE_LOGIC_STANDARD_CONNECTOR if resource in {"sql", "office365"}
                else Meter.AZURE_LOGIC_BUILTIN_ACTION).value
    external = resource is not None and not resource.endswith("googleapis.com")
    return (Meter.GCP_WORKFLOWS_EXTERNAL_STEP if external else Meter.GCP_WORKFLOWS_INTERNAL_STEP).value


def build(executions: int = 300, *, end: dt.datetime | None = None, days: int = 7, seed: int = 3,
          clouds: tuple[Cloud, ...] = (Cloud.AWS, Cloud.AZURE, Cloud.GCP), failed_scope: bool = True) -> Batch:
    """`executions` runs spread over `days` before `end`, split evenly across `clouds`."""
    rnd = random.Random(seed)
    end = end or dt.datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = end - dt.timedelta(days=days)
    batch = Batch()
    specs = [w for w in WORKFLOWS if w.cloud in clouds]
    for w in specs:
        batch.workflows.append({C.cloud: w.cloud.value, C.account: "acct", C.region: w.region,
                                C.workflow_id: w.workflow_id, C.name: w.name, C.kind: w.kind.value,
                                C.revision: "1", C.definition: w.definition,
                                C.definition_format: w.definition_format, C.attributes: "{}", C.seen_at: end})
    for i in range(executions):
        w = specs[i % len(specs)]
        started = start + dt.timedelta(seconds=rnd.uniform(0, (end - start).total_seconds() - 600))
        _execution(batch, rnd, w, f"{w.workflow_id}:exec-{i:06d}", started, running=(i == executions - 1))
    scopes = sorted({(w.cloud.value, f"{w.cloud.value}:acct/{w.region}") for w in specs})
    for n, (cloud, scope) in enumerate(scopes):
        batch.collection_runs.append({C.run_id: f"run-{n}", C.cloud: cloud, C.scope: scope,
                                      C.started_at: end - dt.timedelta(minutes=5),
                                      C.ended_at: end - dt.timedelta(minutes=4), C.status: RunStatus.SUCCEEDED.value,
                                      C.watermark: end - dt.timedelta(minutes=10), C.counts: '{"executions": 1}',
                                      C.error: None, C.details: "{}"})
    if failed_scope:
        batch.collection_runs.append({C.run_id: "run-failed", C.cloud: Cloud.GCP.value, C.scope: FAILED_SCOPE,
                                      C.started_at: end - dt.timedelta(minutes=5),
                                      C.ended_at: end - dt.timedelta(minutes=5), C.status: RunStatus.FAILED.value,
                                      C.watermark: None, C.counts: "{}",
                                      C.error: "PermissionDenied: 403 workflows.executions.list denied",
                                      C.details: "{}"})
    return batch


def _execution(batch: Batch, rnd: random.Random, w: WorkflowSpec, eid: str, started: dt.datetime,
               running: bool) -> None:
    base = {C.cloud: w.cloud.value, C.workflow_id: w.workflow_id, C.execution_id: eid,
            C.start_date: started.date()}
    t = started
    prev_key: str | None = None
    status = Status.SUCCEEDED
    error = cause = None
    for index, (name, step_type, resource, p_fail, p_retry, lockstep) in enumerate(PATHS[w.cloud]):
        key = f"{index:03d}:{name}"
        tries = 1
        if step_type is StepType.TASK and rnd.random() < p_retry:
            tries = rnd.randint(2, 3)
        failed = rnd.random() < p_fail
        step_start = t
        attempt_rows = []
        for attempt in range(1, tries + 1):
            dur = rnd.randint(80, 900) if step_type in (StepType.TASK, StepType.TRIGGER) else rnd.randint(1, 20)
            a_end = t + dt.timedelta(milliseconds=dur)
            last = attempt == tries
            a_status = (Status.FAILED if failed else Status.SUCCEEDED) if last else Status.FAILED
            attempt_rows.append({**base, C.step_key: key, C.attempt: attempt, C.started_at: t, C.ended_at: a_end,
                                 C.duration_ms: dur, C.status: a_status.value,
                                 C.error: None if a_status is Status.SUCCEEDED else ERRORS[w.cloud][0],
                                 C.cause: None})
            delay = lockstep if lockstep is not None else rnd.randint(500, 4000)
            t = a_end + (dt.timedelta(milliseconds=delay) if not last else dt.timedelta(0))
        if step_type is StepType.WAIT:
            t += dt.timedelta(seconds=5)
        if step_type is StepType.MAP:
            for item in range(3):
                child_key = f"{index:03d}:{name}/{item}:ReserveItem"
                c_start = t + dt.timedelta(milliseconds=item * 5)
                c_end = c_start + dt.timedelta(milliseconds=rnd.randint(50, 300))
                batch.steps.append({**base, C.step_key: child_key, C.previous_step_key: None,
                                    C.parent_step_key: key, C.iteration: item, C.name: "ReserveItem",
                                    C.type: StepType.TASK.value, C.native_type: "Task", C.resource: "dynamodb",
                                    C.status: Status.SUCCEEDED.value, C.started_at: c_start, C.ended_at: c_end,
                                    C.duration_ms: (c_end - c_start) // dt.timedelta(milliseconds=1),
                                    C.attempts: 1, C.error: None, C.cause: None})
                batch.attempts.append({**base, C.step_key: child_key, C.attempt: 1, C.started_at: c_start,
                                       C.ended_at: c_end, C.duration_ms: None, C.status: Status.SUCCEEDED.value})
                batch.usage.append({**base, C.region: w.region, C.step_key: child_key,
                                    C.meter: _meter(w.cloud, StepType.TASK, "dynamodb"), C.quantity: 1.0,
                                    C.started_at: c_start})
            t += dt.timedelta(milliseconds=400)
        step_status = Status.FAILED if failed else Status.SUCCEEDED
        batch.steps.append({**base, C.step_key: key, C.previous_step_key: prev_key, C.parent_step_key: None,
                            C.iteration: None, C.name: name, C.type: step_type.value, C.native_type: name,
                            C.resource: resource, C.status: step_status.value, C.started_at: step_start,
                            C.ended_at: t, C.duration_ms: (t - step_start) // dt.timedelta(milliseconds=1),
                            C.attempts: tries, C.error: ERRORS[w.cloud][0] if failed else None,
                            C.cause: ERRORS[w.cloud][1] if failed else None})
        if step_type in (StepType.TASK, StepType.TRIGGER):
            batch.attempts.extend(attempt_rows)
        batch.usage.append({**base, C.region: w.region, C.step_key: key, C.meter: _meter(w.cloud, step_type, resource),
                            C.quantity: float(tries), C.started_at: step_start})
        prev_key = key
        if failed:
            status, (error, cause) = Status.FAILED, ERRORS[w.cloud]
            break
    if running:
        status = Status.RUNNING
    ended = None if running else t
    duration_ms = None if ended is None else (ended - started) // dt.timedelta(milliseconds=1)
    batch.executions.append({**base, C.account: "acct", C.region: w.region, C.workflow_name: w.name,
                             C.kind: w.kind.value, C.revision: "1", C.name: eid.rsplit(":", 1)[-1],
                             C.status: status.value, C.native_status: status.value, C.started_at: started,
                             C.ended_at: ended,
                             C.duration_ms: duration_ms,
                             C.error: error, C.cause: cause, C.redrive_count: 0, C.source: "simulate",
                             C.collected_at: started})


def shown_ms(value: object) -> float:
    """A table cell's duration in ms, whether the table shows it in one unit (a number) or in units per
    cell (a timedelta: `readable.per_cell_durations`)."""
    import pandas as pd

    if isinstance(value, pd.Timedelta):
        return float(value / pd.Timedelta(milliseconds=1))
    return float(value)  # type: ignore[arg-type]


@dataclass
class DrawnChart:
    """A chart as a page drew it (AppTest): its key and its spec, rows included (`charts.spec` keeps them in
    each layer, where Streamlit leaves them)."""

    key: str | None
    spec: dict

    @property
    def title(self) -> str:
        title = self.spec.get("title")
        return title.get("text", "") if isinstance(title, dict) else str(title or "")


def drawn_charts(at: object, *, preload: bool = False) -> list[DrawnChart]:
    """The page's Vega-Lite charts, in order, found by the key `components.plot` puts in `usermeta`; without
    `preload`, not the hidden chart that loads the renderer (`chart_preload`)."""
    from flowscope.ui import chart_preload

    out = []
    for element in at.get("vega_lite_chart"):  # type: ignore[attr-defined]
        spec = json.loads(element.proto.spec)
        key = (spec.get("usermeta") or {}).get("key")
        if key != chart_preload.CHART_KEY or preload:
            out.append(DrawnChart(key, spec))
    return out


def mark_of(layer: dict) -> str:
    mark = layer.get("mark")
    return mark.get("type", "") if isinstance(mark, dict) else str(mark or "")


def chart_layers(chart: dict, mark: str | None = None) -> list[dict]:
    """A chart's layers (`mark`: only those of that mark type)."""
    from flowscope.ui.charts import layers

    return [layer for layer in layers(chart) if mark is None or mark_of(layer) == mark]


def chart_rows(chart: dict, mark: str | None = None) -> list[dict]:
    """The rows of a chart's layers of `mark` (all layers when None), in order."""
    return [row for layer in chart_layers(chart, mark) for row in layer.get("data", {}).get("values", [])]


def chart_texts(chart: dict) -> list[str]:
    """Every text a chart draws as a mark (labels of shaded spans, messages), not counting its title."""
    return [str(row[layer["encoding"]["text"]["field"]]) for layer in chart_layers(chart, "text")
            for row in layer.get("data", {}).get("values", [])
            if row.get(layer["encoding"]["text"]["field"]) is not None]
