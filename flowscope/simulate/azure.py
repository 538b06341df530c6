"""Simulated Azure Logic Apps: management-API documents for four workflows, with ground truth.

Deterministic from `spec.seed`. Documents are exactly what `collectors/azure/transform/`
reads (`{"value": [...]}` pages and single resources, ARM ids consistent across them):

- `invoice-sync` (Consumption, healthy): Request trigger, Http, a Condition (If) with an
  ApiConnection to `sql` / a Compose, Response.
- `crm-export` (Consumption): Recurrence; a For_each over 20-50 contacts with a `salesforce`
  ApiConnection per item (costly_step), then `Post_summary` (Http) failing often (failing_step).
- `order-router` (Consumption, the busiest, mostly built-in actions) with a
  window of 429s on `Call_fulfilment` retried by a fixed-interval policy (retry_storm,
  synchronized_retries: retries land exactly 20 s apart, no jitter).
- `ledger-standard` (Standard, stateful): Recurrence, ServiceProvider actions; a slow_step
  window on `Write_ledger` and two runs stuck in Running (stuck_execution). Its few hundred
  runs a month pay for a whole WS1 plan: Consumption would be far cheaper (plan_what_if).
"""

from __future__ import annotations

import bisect
import datetime as dt
import random
import sys
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

SUBSCRIPTION = "5f1e0c2a-7b3d-4e8f-9a10-b2c3d4e5f601"
RESOURCE_GROUP = "flowscope-sim"
LOCATION = "westeurope"
SITE = "ledger-app"
PAGE = 250
_LINK = f"https://prod-00.{LOCATION}.logic.azure.com:443/workflows/0/contents/"
_HOURLY = [1, 1, 1, 1, 1, 2, 4, 7, 10, 12, 12, 11, 10, 11, 12, 12, 10, 8, 6, 4, 3, 2, 2, 1]
_SHARES = {"order-router": 0.58, "invoice-sync": 0.25, "ledger-standard": 0.12, "crm-export": 0.05}
STORM_ACTION = "Call_fulfilment"
STORM_INTERVAL_S = 20
CRM_FAILURE_RATE = 0.35
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def _wf_id(name: str) -> str:
    base = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers"
    if name == "ledger-standard":
        return f"{base}/Microsoft.Web/sites/{SITE}/workflows/{name}"
    return f"{base}/Microsoft.Logic/workflows/{name}"


def _run_base(name: str) -> str:
    """Where a workflow's runs live: Standard runs come from the site's hostruntime API."""
    if name == "ledger-standard":
        return (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/Microsoft.Web/"
                f"sites/{SITE}/hostruntime/runtime/webhooks/workflow/api/management/workflows/{name}")
    return _wf_id(name)


def _conn(key: str) -> dict[str, Any]:
    return {"host": {"connection": {"name": f"@parameters('$connections')['{key}']['connectionId']"}},
            "method": "post", "path": "/items"}


def _definitions() -> dict[str, dict[str, Any]]:
    schema = "https://schema.management.azure.com/providers/Microsoft.Logic/schemas/2016-06-01/workflowdefinition.json#"
    http = {"method": "GET", "uri": "https://api.contoso.example/v1/items"}
    return {
        "invoice-sync": {"$schema": schema, "contentVersion": "1.0.0.0",
            "triggers": {"manual": {"type": "Request", "kind": "Http", "inputs": {}}},
            "actions": {
                "Get_invoice": {"type": "Http", "inputs": http, "runAfter": {}},
                "Is_paid": {"type": "If", "expression": {"and": []}, "runAfter": {"Get_invoice": ["Succeeded"]},
                            "actions": {"Upsert_row": {"type": "ApiConnection", "inputs": _conn("sql"),
                                                       "runAfter": {}}},
                            "else": {"actions": {"Compose_reminder": {"type": "Compose", "inputs": "x",
                                                                      "runAfter": {}}}}},
                "Response": {"type": "Response", "inputs": {"statusCode": 200}, "runAfter": {"Is_paid": ["Succeeded"]}},
            }},
        "crm-export": {"$schema": schema, "contentVersion": "1.0.0.0",
            "triggers": {"Recurrence": {"type": "Recurrence", "recurrence": {"frequency": "Hour", "interval": 1}}},
            "actions": {
                "List_contacts": {"type": "Http", "inputs": http, "runAfter": {}},
                "For_each_contact": {"type": "Foreach", "foreach": "@body('List_contacts')",
                                     "runAfter": {"List_contacts": ["Succeeded"]},
                                     "actions": {"Upsert_contact": {"type": "ApiConnection",
                                                                    "inputs": _conn("salesforce"), "runAfter": {}}}},
                "Post_summary": {"type": "Http",
                                 "inputs": {"method": "POST", "uri": "https://hooks.contoso.example/summary"},
                                 "runAfter": {"For_each_contact": ["Succeeded"]}},
            }},
        "order-router": {"$schema": schema, "contentVersion": "1.0.0.0",
            "triggers": {"manual": {"type": "Request", "kind": "Http", "inputs": {}}},
            "actions": {
                "Parse_order": {"type": "ParseJson", "inputs": {}, "runAfter": {}},
                "Init_total": {"type": "InitializeVariable", "inputs": {},
                               "runAfter": {"Parse_order": ["Succeeded"]}},
                "Route": {"type": "Switch", "expression": "@body('Parse_order')?['region']",
                          "runAfter": {"Init_total": ["Succeeded"]},
                          "cases": {"eu": {"case": "eu", "actions": {"Compose_eu": {"type": "Compose", "inputs": "eu",
                                                                                    "runAfter": {}}}},
                                    "us": {"case": "us", "actions": {"Compose_us": {"type": "Compose", "inputs": "us",
                                                                                    "runAfter": {}}}}},
                          "default": {"actions": {"Compose_other": {"type": "Compose", "inputs": "other",
                                                                    "runAfter": {}}}}},
                "Set_total": {"type": "SetVariable", "inputs": {}, "runAfter": {"Route": ["Succeeded"]}},
                STORM_ACTION: {"type": "Http", "runAfter": {"Set_total": ["Succeeded"]},
                               "inputs": {"method": "POST", "uri": "https://fulfilment.contoso.example/orders",
                                          "retryPolicy": {"type": "fixed", "count": 4,
                                                          "interval": f"PT{STORM_INTERVAL_S}S"}}},
                "Response": {"type": "Response", "inputs": {"statusCode": 202},
                             "runAfter": {STORM_ACTION: ["Succeeded"]}},
            }},
        "ledger-standard": {"$schema": schema, "contentVersion": "1.0.0.0",
            "triggers": {"Recurrence": {"type": "Recurrence", "recurrence": {"frequency": "Minute", "interval": 15}}},
            "actions": {
                "Read_ledger": {"type": "ServiceProvider", "runAfter": {},
                                "inputs": {"serviceProviderConfiguration": {
                                    "connectionName": "sql", "operationId": "executeQuery",
                                    "serviceProviderId": "/serviceProviders/sql"}}},
                "Transform": {"type": "Compose", "inputs": "@body('Read_ledger')",
                              "runAfter": {"Read_ledger": ["Succeeded"]}},
                "Write_ledger": {"type": "ServiceProvider", "runAfter": {"Transform": ["Succeeded"]},
                                 "inputs": {"serviceProviderConfiguration": {
                                     "connectionName": "serviceBus", "operationId": "sendMessage",
                                     "serviceProviderId": "/serviceProviders/serviceBus"}}},
            }},
    }


def _iso(t: dt.datetime) -> str:
    return t.replace(tzinfo=None).isoformat(timespec="microseconds") + "0Z"   # 7 fractional digits, like the API


class _Gen:
    """Writes one workflow's runs of one chunk: its random stream and the run sequence number
    (global over the range, so run names are unique whatever the chunking)."""

    def __init__(self, rng: random.Random, seq: int) -> None:
        self.rng = rng
        self.docs: list[tuple[str, Any]] = []
        self.seq = seq

    def run_name(self) -> str:
        self.seq += 1
        return f"08584{self.seq:022d}CU{self.seq % 97:02d}"

    def link(self, base: str, what: str) -> dict[str, Any]:
        return {"uri": _LINK + what + "?api-version=2016-10-01&sp=%2Fread&sv=1.0&sig=SIMULATEDsecret" + base[-12:],
                "contentVersion": "x==", "contentSize": 120 + self.seq % 50,
                "contentHash": {"algorithm": "md5", "value": "x=="}}

    def action(self, run_id: str, name: str, start: dt.datetime, ms: float, status: str = "Succeeded",
               code: str = "OK", error: dict | None = None, retries: list | None = None,
               sub: str = "", indexes: list | None = None, kind: str = "actions") -> dict[str, Any]:
        end = start + dt.timedelta(milliseconds=ms)
        rid = f"{run_id}/actions/{name}" + sub
        props: dict[str, Any] = {"startTime": _iso(start), "endTime": _iso(end), "status": status, "code": code,
                                 "correlation": {"actionTrackingId": f"t-{self.seq}"}}
        if kind != "scopeRepetitions" and status != "Skipped":
            props["outputsLink"] = self.link(rid, "ActionOutputs")
        if error:
            props["error"] = error
        if retries:
            props["retryHistory"] = retries
        if indexes is not None:
            props["repetitionIndexes"] = indexes
        rtype = {"actions": "Microsoft.Logic/workflows/runs/actions",
                 "repetitions": "Microsoft.Logic/workflows/runs/actions/repetitions",
                 "scopeRepetitions": "Microsoft.Logic/workflows/runs/actions/scopeRepetitions"}[kind]
        return {"properties": props, "id": rid, "name": rid.rsplit("/", 1)[-1], "type": rtype}


@dataclass
class _Plan(SimPlan):
    storm: tuple[dt.datetime, dt.datetime] = (_EPOCH, _EPOCH)
    slow: tuple[dt.datetime, dt.datetime] = (_EPOCH, _EPOCH)
    starts: dict[str, list[dt.datetime]] = field(default_factory=dict)    # sorted
    seq0: dict[str, int] = field(default_factory=dict)                     # run numbers before each workflow
    stuck: frozenset[int] = frozenset()                                    # indexes of stuck ledger runs


def _workflow_doc(name: str, definition: dict[str, Any], spec: SimSpec) -> dict[str, Any]:
    if name == "ledger-standard":
        return {"id": _wf_id(name), "name": f"{SITE}/{name}", "type": "Microsoft.Web/sites/workflows",
                "kind": "Stateful", "location": "West Europe",
                "properties": {"flowState": "Enabled", "health": {"state": "Healthy"},
                               "files": {"workflow.json": {"definition": definition, "kind": "Stateful"}}}}
    conns = {}
    for key in ("sql", "salesforce"):
        conns[key] = {"connectionId": (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}"
                                       f"/providers/Microsoft.Web/connections/{key}"),
                      "connectionName": key,
                      "id": (f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Web/locations/{LOCATION}"
                             f"/managedApis/{key}")}
    return {"id": _wf_id(name), "name": name, "type": "Microsoft.Logic/workflows", "location": LOCATION,
            "properties": {"provisioningState": "Succeeded", "state": "Enabled",
                           "version": f"0858600000000000{len(name):04d}",
                           "createdTime": _iso(spec.start - dt.timedelta(days=30)),
                           "changedTime": _iso(spec.start - dt.timedelta(days=1)),
                           "definition": definition,
                           "parameters": {"$connections": {"value": conns}}}}


def plan(spec: SimSpec) -> _Plan:
    """Anomaly windows, ground truth and every run's start time (from the seed alone)."""
    rng = random.Random(spec.seed)
    defs = _definitions()
    span = (spec.end - spec.start).total_seconds()

    # anomaly windows (fractions of the range, deterministic)
    def window(a: float, b: float) -> tuple[dt.datetime, dt.datetime]:
        return spec.start + dt.timedelta(seconds=span * a), spec.start + dt.timedelta(seconds=span * b)

    storm = window(0.40, 0.46)
    slow = window(0.65, 0.75)
    head: list[tuple[str, Any]] = [("azure.workflow", _workflow_doc(name, d, spec)) for name, d in defs.items()]

    # start times: day-of-range uniform, hour of day by a business-hours curve
    hours = max(int(span // 3600), 1)
    hour_weights = [_HOURLY[(spec.start + dt.timedelta(hours=h)).hour] for h in range(hours)]
    starts: dict[str, list[dt.datetime]] = {}
    seq0: dict[str, int] = {}
    seq = 0
    for name, share in _SHARES.items():
        n = max(int(round(spec.executions * share)), 3)
        picks = rng.choices(range(hours), weights=hour_weights, k=n)
        starts[name] = sorted(t for t in (spec.start + dt.timedelta(hours=h, seconds=rng.random() * 3599)
                                          for h in picks) if t < spec.end)
        seq0[name] = seq
        seq += len(starts[name])
    ledger = starts["ledger-standard"]
    first_stuck = bisect.bisect_left(ledger, ledger[len(ledger) // 5]) if ledger else 0

    truth = [
        Anomaly(AnomalyKind.COSTLY_STEP, Cloud.AZURE, "crm-export", "Upsert_contact", spec.start, spec.end,
                {"connector": "salesforce", "items_per_run": [20, 50]}),
        Anomaly(AnomalyKind.FAILING_STEP, Cloud.AZURE, "crm-export", "Post_summary", spec.start, spec.end,
                {"failure_rate": CRM_FAILURE_RATE}),
        Anomaly(AnomalyKind.PLAN_WHAT_IF, Cloud.AZURE, "ledger-standard", None, spec.start, spec.end,
                {"recommendation": "logicapp-consumption",
                 "reason": "a whole Standard plan for a few hundred runs a month"}),
        Anomaly(AnomalyKind.RETRY_STORM, Cloud.AZURE, "order-router", STORM_ACTION, storm[0], storm[1],
                {"status_code": 429, "retry_policy": "fixed"}),
        Anomaly(AnomalyKind.SYNCHRONIZED_RETRIES, Cloud.AZURE, "order-router", STORM_ACTION, storm[0], storm[1],
                {"interval_s": STORM_INTERVAL_S, "jitter": False}),
        Anomaly(AnomalyKind.SLOW_STEP, Cloud.AZURE, "ledger-standard", "Write_ledger", slow[0], slow[1],
                {"slowdown": 10}),
        Anomaly(AnomalyKind.STUCK_EXECUTION, Cloud.AZURE, "ledger-standard", None,
                spec.start + dt.timedelta(seconds=span * 0.2), spec.end, {"runs": 2}),
    ]
    return _Plan(Cloud.AZURE, spec, head, truth, list(defs), ["invoice-sync"], chunk_windows(spec),
                 storm=storm, slow=slow, starts=starts, seq0=seq0,
                 stuck=frozenset(range(first_stuck, min(first_stuck + 2, len(ledger)))))


def chunk(p: _Plan, index: int) -> Chunk:
    """The runs starting in chunk `index`, with their actions, repetitions and histories."""
    lo, hi = (dt.datetime.fromtimestamp(t, dt.timezone.utc) for t in p.chunks[index])
    defs = _definitions()
    out = Chunk()
    for name in _SHARES:
        starts = p.starts[name]
        first, last = bisect.bisect_left(starts, lo), bisect.bisect_left(starts, hi)
        g = _Gen(chunk_rng(p.spec, f"azure:{name}", int(lo.timestamp())), p.seq0[name] + first)
        sampler = Sampler(p.spec.native_share, chunk_rng(p.spec, f"azure:{name}:clones", int(lo.timestamp())))
        fate = chunk_rng(p.spec, f"azure:{name}:fate", int(lo.timestamp()))
        _emit_workflow(g, name, p, starts[first:last], first, defs[name], sampler, fate)
        out.clones.extend(sampler.clones())
        out.documents.extend(g.docs)
    return out


def simulate(spec: SimSpec) -> SimulatedCloud:
    """Native Logic Apps documents for spec.start..spec.end (about spec.executions runs) and truth."""
    return simulate_all(sys.modules[__name__], spec)


@dataclass
class _RunDraft:
    """One run being generated: the clock, the action records so far, and how the run ends."""

    run_id: str
    start: dt.datetime
    t: dt.datetime
    acts: list[dict[str, Any]] = field(default_factory=list)
    extra: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    status: str = "Succeeded"
    error: dict[str, Any] | None = None
    stuck: bool = False


def _special(name: str, p: _Plan, index: int, start: dt.datetime) -> bool:
    """Does this run carry an injected anomaly (never cloned)?"""
    if name == "order-router":
        return p.storm[0] <= start < p.storm[1]
    if name == "ledger-standard":
        return index in p.stuck or p.slow[0] <= start < p.slow[1]
    return False


def _emit_workflow(g: _Gen, name: str, p: _Plan, starts: list[dt.datetime], first: int,
                   definition: dict[str, Any], sampler: Sampler, fate: random.Random) -> None:
    base = _run_base(name)
    version = f"0858600000000000{len(name):04d}"
    runs: list[dict[str, Any]] = []
    trig_hist: list[dict[str, Any]] = []
    trigger = next(iter(definition["triggers"]))
    for index, start in enumerate(starts, start=first):
        run = g.run_name()
        # Whether a crm-export run fails is drawn first, from its own stream: a failure is never a clone.
        fails = name == "crm-export" and fate.random() < CRM_FAILURE_RATE
        if not (fails or _special(name, p, index, start)) and not sampler.native(run, _epoch_us(start)):
            continue
        r = _RunDraft(run_id=f"{base}/runs/{run}", start=start, t=start + dt.timedelta(milliseconds=5))
        if name == "invoice-sync":
            _invoice_sync_actions(g, r)
        elif name == "crm-export":
            _crm_export_actions(g, r, fails)
        elif name == "order-router":
            _order_router_actions(g, r, p.storm)
        else:   # ledger-standard
            _ledger_standard_actions(g, r, p.slow, index in p.stuck)
        trig = {"name": trigger, "startTime": _iso(start), "endTime": _iso(start + dt.timedelta(milliseconds=3)),
                "correlation": {"clientTrackingId": run}, "code": "OK", "status": "Succeeded",
                "outputsLink": g.link(r.run_id, "TriggerOutputs")}
        runs.append(_run_record(name, version, run, r, trig))
        if trigger == "Recurrence":
            trig_hist.append(_trigger_history(base, trigger, run, r.run_id, trig))
        g.docs.append(("azure.run_actions", {"value": r.acts}))
        g.docs.extend(r.extra)
    for i in range(0, len(runs), PAGE):
        g.docs.append(("azure.runs", {"value": runs[i:i + PAGE]}))
    for i in range(0, len(trig_hist), PAGE):
        g.docs.append(("azure.trigger_histories", {"value": trig_hist[i:i + PAGE]}))


def _epoch_us(t: dt.datetime) -> int:
    return (t - _EPOCH) // dt.timedelta(microseconds=1)


def _run_record(name: str, version: str, run: str, r: _RunDraft, trig: dict[str, Any]) -> dict[str, Any]:
    """The runs-page entry of a generated run (a stuck run has no end time)."""
    props: dict[str, Any] = {"waitEndTime": _iso(r.start), "startTime": _iso(r.start),
                             "status": "Running" if r.stuck else r.status,
                             "correlation": {"clientTrackingId": run},
                             "workflow": {"id": f"{_wf_id(name)}/versions/{version}", "name": version,
                                          "type": "Microsoft.Logic/workflows/versions"},
                             "trigger": trig, "outputs": {}}
    if not r.stuck:
        props["endTime"] = _iso(r.t)
    if r.error:
        props["error"] = r.error
    return {"properties": props, "id": r.run_id, "name": run, "type": "Microsoft.Logic/workflows/runs"}


def _trigger_history(base: str, trigger: str, run: str, run_id: str, trig: dict[str, Any]) -> dict[str, Any]:
    """The trigger-history entry of a scheduled (Recurrence) run."""
    return {"properties": {"startTime": trig["startTime"], "endTime": trig["endTime"],
                           "scheduledTime": trig["startTime"], "status": "Succeeded", "code": "OK",
                           "fired": True, "run": {"name": run, "id": run_id,
                                                  "type": "Microsoft.Logic/workflows/runs"}},
            "id": f"{base}/triggers/{trigger}/histories/{run}", "name": run,
            "type": "Microsoft.Logic/workflows/triggers/histories"}


def _invoice_sync_actions(g: _Gen, r: _RunDraft) -> None:
    rng, run_id = g.rng, r.run_id
    r.acts.append(g.action(run_id, "Get_invoice", r.t, rng.uniform(80, 300)))
    r.t += dt.timedelta(milliseconds=320)
    paid = rng.random() < 0.7
    r.acts.append(g.action(run_id, "Is_paid", r.t, 400))
    r.acts.append(g.action(run_id, "Upsert_row", r.t, rng.uniform(100, 350), "Succeeded" if paid else "Skipped",
                           "OK" if paid else "ActionConditionFailed"))
    r.acts.append(g.action(run_id, "Compose_reminder", r.t, 2, "Skipped" if paid else "Succeeded",
                           "ActionConditionFailed" if paid else "OK"))
    r.t += dt.timedelta(milliseconds=410)
    r.acts.append(g.action(run_id, "Response", r.t, 3))
    r.t += dt.timedelta(milliseconds=5)


def _crm_export_actions(g: _Gen, r: _RunDraft, fails: bool) -> None:
    rng, run_id = g.rng, r.run_id
    r.acts.append(g.action(run_id, "List_contacts", r.t, rng.uniform(200, 600)))
    r.t += dt.timedelta(milliseconds=620)
    items = rng.randint(20, 50)
    loop_start = r.t
    reps, scopes = [], []
    for i in range(items):
        ms = rng.uniform(150, 500)
        idx = [{"scopeName": "For_each_contact", "itemIndex": i}]
        sub = f"/repetitions/{i:06d}"
        reps.append(g.action(run_id, "Upsert_contact", r.t, ms, sub=sub, indexes=idx, kind="repetitions"))
        scopes.append(g.action(run_id, "For_each_contact", r.t, ms + 2, sub=f"/scopeRepetitions/{i:06d}",
                               indexes=idx, kind="scopeRepetitions"))
        r.t += dt.timedelta(milliseconds=ms + 3)
    loop_ms = (r.t - loop_start).total_seconds() * 1000
    r.acts.append(g.action(run_id, "For_each_contact", loop_start, loop_ms))
    r.acts.append(g.action(run_id, "Upsert_contact", loop_start, loop_ms))
    r.extra.append(("azure.action_repetitions", {"value": reps}))
    r.extra.append(("azure.scope_repetitions", {"value": scopes}))
    err = {"code": "BadGateway", "message": "summary endpoint returned 502"} if fails else None
    r.acts.append(g.action(run_id, "Post_summary", r.t, rng.uniform(100, 400), "Failed" if fails else "Succeeded",
                           "BadGateway" if fails else "OK", err))
    r.t += dt.timedelta(milliseconds=410)
    if fails:
        r.status = "Failed"
        r.error = {"code": "ActionFailed", "message": "An action failed. No dependent actions succeeded."}


def _order_router_actions(g: _Gen, r: _RunDraft, storm: tuple) -> None:
    rng, run_id = g.rng, r.run_id
    for act, ms in (("Parse_order", 4), ("Init_total", 2)):
        r.acts.append(g.action(run_id, act, r.t, ms))
        r.t += dt.timedelta(milliseconds=ms + 1)
    region = rng.choice(["eu", "us", "other"])
    r.acts.append(g.action(run_id, "Route", r.t, 6))
    for case in ("eu", "us", "other"):
        ran = case == region
        r.acts.append(g.action(run_id, f"Compose_{case}", r.t, 1, "Succeeded" if ran else "Skipped",
                               "OK" if ran else "ActionBranchingConditionNotSatisfied"))
    r.t += dt.timedelta(milliseconds=8)
    r.acts.append(g.action(run_id, "Set_total", r.t, 2))
    r.t += dt.timedelta(milliseconds=3)
    if storm[0] <= r.start < storm[1] and rng.random() < 0.8:
        _throttled_call(g, r)
    else:
        r.acts.append(g.action(run_id, STORM_ACTION, r.t, rng.uniform(40, 120)))
        r.t += dt.timedelta(milliseconds=125)
    r.acts.append(g.action(run_id, "Response", r.t, 2))
    r.t += dt.timedelta(milliseconds=3)


def _throttled_call(g: _Gen, r: _RunDraft) -> None:
    """STORM_ACTION answered 429 two to four times, retried every STORM_INTERVAL_S without jitter, then 200:
    the action with its retry history, and its request histories."""
    run_id = r.run_id
    retries: list[dict[str, Any]] = []
    for _ in range(g.rng.randint(2, 4)):
        end = r.t + dt.timedelta(milliseconds=60)
        retries.append({"startTime": _iso(r.t), "endTime": _iso(end), "code": "TooManyRequests",
                        "clientRequestId": f"c-{g.seq}", "serviceRequestId": f"s-{g.seq}",
                        "error": {"code": "TooManyRequests",
                                  "message": "Rate limit is exceeded. Try again in 20 seconds."}})
        r.t = r.t + dt.timedelta(seconds=STORM_INTERVAL_S)
    first = dt.datetime.fromisoformat(retries[0]["startTime"][:26] + "+00:00")
    r.acts.append(g.action(run_id, STORM_ACTION, first, (r.t - first).total_seconds() * 1000 + 90, retries=retries))
    success = {"startTime": _iso(r.t), "endTime": _iso(r.t + dt.timedelta(milliseconds=90))}
    history = []
    for k, attempt in enumerate(retries + [success]):
        code = 429 if k < len(retries) else 200
        history.append({"id": f"{run_id}/actions/{STORM_ACTION}/requestHistories/0858{k:016d}",
                        "name": f"0858{k:016d}", "type": "Microsoft.Logic/workflows/runs/actions/requestHistories",
                        "properties": {"startTime": attempt["startTime"], "endTime": attempt["endTime"],
                                       "request": {"uri": "https://fulfilment.contoso.example/orders",
                                                   "method": "POST"},
                                       "response": {"statusCode": code}}})
    r.extra.append(("azure.request_histories", {"value": history}))
    r.t += dt.timedelta(milliseconds=95)


def _ledger_standard_actions(g: _Gen, r: _RunDraft, slow: tuple, stuck: bool) -> None:
    rng, run_id = g.rng, r.run_id
    r.acts.append(g.action(run_id, "Read_ledger", r.t, rng.uniform(50, 150)))
    r.t += dt.timedelta(milliseconds=160)
    r.acts.append(g.action(run_id, "Transform", r.t, 2))
    r.t += dt.timedelta(milliseconds=3)
    ms = rng.uniform(80, 200) * (10 if slow[0] <= r.start < slow[1] else 1)
    if stuck:
        r.stuck = True
        rec = g.action(run_id, "Write_ledger", r.t, 0, "Running", "NotSpecified")
        del rec["properties"]["endTime"]
        r.acts.append(rec)
    else:
        r.acts.append(g.action(run_id, "Write_ledger", r.t, ms))
        r.t += dt.timedelta(milliseconds=ms + 1)
