"""Simulated AWS Step Functions workload, in the native formats the AWS transform reads.

`simulate(spec)` returns ``describe-state-machine`` documents (``aws.state_machine``) and
CloudWatch Logs execution records at level ALL (``aws.log_records``) for five state machines,
plus the ground truth of the anomalies injected into them:

=========================  ========  ==========================================================
state machine              type      behaviour
=========================  ========  ==========================================================
orders-standard            STANDARD  healthy: Lambda tasks with Retry, a Choice, an inline Map,
                                     a .waitForTaskToken callback from the warehouse (~40 min)
payments-standard          STANDARD  failing_step (ChargeCard fails ~15% in a window) and a
                                     retry storm: Authorize throttled for a few hours, retried
                                     with NO jitter (identical delays: synchronized_retries)
report-poller-standard     STANDARD  polling_loop (Wait/Choice loop), slow_step (FetchReport
                                     p95 far above normal in a window), stuck_execution
events-ingest-standard     STANDARD  express_candidate: short (< 5 s), high volume, an inline Map
                                     over 20-60 records: many transitions per run (costly_step)
clickstream-express        EXPRESS   healthy
=========================  ========  ==========================================================

Deterministic: everything derives from ``random.Random(spec.seed)``. Events follow the real
history's ``previousEventId`` chaining (see the LocalStack recordings in ``shared/samples``) so
the documents go through exactly the path live data takes.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import math
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

REGION = "us-east-1"
ACCOUNT = "123456789012"
_SM = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:"
_FN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/flowscope-sim-sfn"

ORDERS = "orders-standard"
PAYMENTS = "payments-standard"
POLLER = "report-poller-standard"
INGEST = "events-ingest-standard"
CLICKS = "clickstream-express"

WORKFLOWS = (ORDERS, PAYMENTS, POLLER, INGEST, CLICKS)
HEALTHY = (ORDERS, CLICKS)
SHARE = {ORDERS: 0.18, PAYMENTS: 0.20, POLLER: 0.07, INGEST: 0.35, CLICKS: 0.20}

# Hour-of-day weights (UTC): quiet nights, a business-hours hump peaking mid-afternoon.
_HOURLY = [0.25, 0.2, 0.18, 0.18, 0.2, 0.3, 0.5, 0.8, 1.1, 1.4, 1.6, 1.7,
           1.8, 1.9, 2.0, 1.9, 1.7, 1.5, 1.2, 1.0, 0.8, 0.6, 0.45, 0.3]
_WEEKDAY = [1.0, 1.05, 1.05, 1.0, 0.95, 0.55, 0.5]   # Monday .. Sunday

STORM_ERROR = "Lambda.TooManyRequestsException"
STORM_INTERVAL_S = 2
STORM_BACKOFF = 2.0
FAIL_RATE_IN_WINDOW = 0.15
FAIL_RATE_BASELINE = 0.004


# ---------------------------------------------------------------------- definitions

def _retry(errors: list[str], interval: int, attempts: int, backoff: float, jitter: str | None = None) -> dict:
    r: dict[str, Any] = {"ErrorEquals": errors, "IntervalSeconds": interval,
                         "MaxAttempts": attempts, "BackoffRate": backoff}
    if jitter:
        r["JitterStrategy"] = jitter
    return r


_LAMBDA_RETRY = _retry(["Lambda.ServiceException", "Lambda.AWSLambdaException",
                        "Lambda.SdkClientException", "Lambda.TooManyRequestsException"], 1, 3, 2.0, "FULL")


def _task(fn: str, nxt: str | None = None, retry: list | None = None, catch: list | None = None,
          timeout: int | None = None) -> dict:
    state: dict[str, Any] = {"Type": "Task", "Resource": _FN + fn}
    if timeout:
        state["TimeoutSeconds"] = timeout
    if retry:
        state["Retry"] = retry
    if catch:
        state["Catch"] = catch
    if nxt:
        state["Next"] = nxt
    else:
        state["End"] = True
    return state


DEFINITIONS: dict[str, dict] = {
    ORDERS: {
        "Comment": "Validate an order, reserve each item, confirm.",
        "StartAt": "ValidateOrder",
        "States": {
            "ValidateOrder": _task("orders-validate", "CheckInventory", [_LAMBDA_RETRY],
                                   [{"ErrorEquals": ["ValidationError"], "Next": "RejectOrder"}]),
            "CheckInventory": {"Type": "Choice", "Choices": [
                {"Variable": "$.inStock", "BooleanEquals": False, "Next": "NotifyBackorder"}],
                "Default": "ReserveItems"},
            "NotifyBackorder": _task("orders-backorder", "Done", [_LAMBDA_RETRY]),
            "ReserveItems": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1,
                             "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"},
                                               "StartAt": "ReserveItem",
                                               "States": {"ReserveItem": _task("orders-reserve-item", None,
                                                                               [_LAMBDA_RETRY])}},
                             "Next": "ConfirmOrder"},
            "ConfirmOrder": _task("orders-confirm", "AwaitWarehouse", [_LAMBDA_RETRY]),
            # A callback: the warehouse answers with SendTaskSuccess (not possible on Express).
            "AwaitWarehouse": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                               "Parameters": {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/picking",
                                              "MessageBody": {"TaskToken.$": "$$.Task.Token"}},
                               "HeartbeatSeconds": 3600, "Next": "Done"},
            "RejectOrder": {"Type": "Pass", "Next": "Done"},
            "Done": {"Type": "Succeed"},
        },
    },
    PAYMENTS: {
        "Comment": "Authorize then charge a card.",
        "StartAt": "Authorize",
        "States": {
            # No JitterStrategy: every throttled execution retries after exactly 2 s, then 4 s.
            "Authorize": _task("payments-authorize", "ChargeCard",
                               [_retry([STORM_ERROR, "ThrottlingException"], STORM_INTERVAL_S, 4, STORM_BACKOFF)]),
            "ChargeCard": _task("payments-charge", "Receipt",
                                [_retry(["Lambda.ServiceException"], 1, 2, 2.0, "FULL")], timeout=30),
            "Receipt": _task("payments-receipt", None, [_LAMBDA_RETRY]),
        },
    },
    POLLER: {
        "Comment": "Start a report, poll until it is ready, fetch it.",
        "StartAt": "StartReport",
        "States": {
            "StartReport": _task("reports-start", "WaitForReport", [_LAMBDA_RETRY]),
            "WaitForReport": {"Type": "Wait", "Seconds": 30, "Next": "CheckStatus"},
            "CheckStatus": _task("reports-status", "IsReady", [_LAMBDA_RETRY]),
            "IsReady": {"Type": "Choice", "Choices": [
                {"Variable": "$.status", "StringEquals": "READY", "Next": "FetchReport"}],
                "Default": "WaitForReport"},
            "FetchReport": _task("reports-fetch", "Done", [_LAMBDA_RETRY], timeout=300),
            "Done": {"Type": "Succeed"},
        },
    },
    INGEST: {
        "Comment": "Transform an event batch, normalise each record, store the batch.",
        "StartAt": "TransformEvent",
        "States": {
            "TransformEvent": _task("ingest-transform", "NormalizeRecords", [_LAMBDA_RETRY]),
            "NormalizeRecords": {"Type": "Map", "ItemsPath": "$.records",
                                 "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"},
                                                   "StartAt": "NormalizeRecord",
                                                   "States": {"NormalizeRecord": {"Type": "Pass", "End": True}}},
                                 "Next": "StoreEvent"},
            "StoreEvent": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem",
                           "Parameters": {"TableName": "events", "Item.$": "$.item"},
                           "Retry": [_LAMBDA_RETRY
                                     | {"ErrorEquals": ["DynamoDB.ProvisionedThroughputExceededException"]}],
                           "End": True},
        },
    },
    CLICKS: {
        "Comment": "Enrich a click and route it.",
        "StartAt": "Enrich",
        "States": {
            "Enrich": _task("clicks-enrich", "Route", [_LAMBDA_RETRY]),
            "Route": {"Type": "Choice", "Choices": [
                {"Variable": "$.kind", "StringEquals": "purchase", "Next": "PutPurchase"}],
                "Default": "PutClick"},
            "PutPurchase": _task("clicks-put-purchase", None, [_LAMBDA_RETRY]),
            "PutClick": _task("clicks-put", None, [_LAMBDA_RETRY]),
        },
    },
}


def _describe(name: str, express: bool, created: dt.datetime, rng: random.Random) -> dict:
    arn = _SM + name
    definition = json.dumps(DEFINITIONS[name], indent=2)
    return {
        "stateMachineArn": arn,
        "name": name,
        "status": "ACTIVE",
        "definition": definition,
        "roleArn": ROLE,
        "type": "EXPRESS" if express else "STANDARD",
        "creationDate": created.isoformat(),
        "revisionId": _uuid(rng),
        "loggingConfiguration": {
            "level": "ALL",
            "includeExecutionData": False,
            "destinations": [{"cloudWatchLogsLogGroup": {
                "logGroupArn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/vendedlogs/states/{name}:*"}}],
        },
        "tracingConfiguration": {"enabled": False},
    }


def _uuid(rng: random.Random) -> str:
    h = "%032x" % rng.getrandbits(128)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


# ---------------------------------------------------------------------- event writer

class _Run:
    """Writes one execution's log records, chaining previous_event_id like Step Functions does."""

    __slots__ = ("arn", "records", "n", "t")

    def __init__(self, arn: str, start_ms: int) -> None:
        self.arn = arn
        self.records: list[dict] = []
        self.n = 0
        self.t = start_ms

    def ev(self, etype: str, prev: int, details: dict | None = None, dt_ms: int = 0) -> int:
        self.t += dt_ms
        self.n += 1
        self.records.append({
            "id": str(self.n),
            "type": etype,
            "details": details or {},
            "previous_event_id": str(prev),
            "event_timestamp": str(self.t),
            "execution_arn": self.arn,
            "redrive_count": "0",
        })
        return self.n

    def task(self, prev: int, name: str, fn: str, rng: random.Random, ms: float,
             failures: list[tuple[str, str, int]] | None = None, resource: str | None = None,
             final_failure: tuple[str, str] | None = None) -> tuple[int, bool]:
        """A Task visit: tries that fail (error, cause, delay before the next try) then one that
        succeeds, or ``final_failure`` ending it. Returns (last event id, succeeded)."""
        res = resource or _FN + fn
        entered = self.ev("TaskStateEntered", prev, {"name": name}, rng.randint(5, 40))
        last = entered
        retry_gap = None
        for error, cause, delay_ms in failures or ():
            s = self.ev("LambdaFunctionScheduled", last, {"resource": res, "timeoutInSeconds": 60},
                        rng.randint(8, 25) if retry_gap is None else retry_gap)
            st = self.ev("LambdaFunctionStarted", s, None, rng.randint(10, 40))
            last = self.ev("LambdaFunctionFailed", st, {"error": error, "cause": cause}, rng.randint(20, 120))
            retry_gap = delay_ms      # Step Functions waits exactly the Retry interval (no jitter)
        s = self.ev("LambdaFunctionScheduled", last, {"resource": res, "timeoutInSeconds": 60},
                    rng.randint(8, 25) if retry_gap is None else retry_gap)
        st = self.ev("LambdaFunctionStarted", s, None, rng.randint(10, 40))
        if final_failure is not None:
            last = self.ev("LambdaFunctionFailed", st, {"error": final_failure[0], "cause": final_failure[1]},
                           max(1, int(ms)))
            return last, False
        done = self.ev("LambdaFunctionSucceeded", st, {}, max(1, int(ms)))
        return self.ev("TaskStateExited", done, {"name": name}, rng.randint(3, 15)), True

    def simple(self, prev: int, stype: str, name: str, rng: random.Random, wait_ms: int = 0) -> int:
        e = self.ev(stype + "StateEntered", prev, {"name": name}, rng.randint(3, 20))
        return self.ev(stype + "StateExited", e, {"name": name}, wait_ms or rng.randint(2, 10))


# ---------------------------------------------------------------------- workflows

def _lognormal(rng: random.Random, median_ms: float, sigma: float) -> float:
    return median_ms * math.exp(rng.gauss(0.0, sigma))


def _orders(run: _Run, rng: random.Random, ctx: dict) -> None:
    start = run.ev("ExecutionStarted", 0, {"roleArn": ROLE})
    last, _ = run.task(0, "ValidateOrder", "orders-validate", rng, _lognormal(rng, 180, 0.3))
    last = run.simple(last, "Choice", "CheckInventory", rng)
    if rng.random() < 0.08:
        last, _ = run.task(last, "NotifyBackorder", "orders-backorder", rng, _lognormal(rng, 120, 0.3))
    else:
        m = run.ev("MapStateEntered", last, {"name": "ReserveItems"}, rng.randint(3, 10))
        items = rng.randint(1, 5)
        ms = run.ev("MapStateStarted", m, {"length": items}, 5)
        prev = ms
        for i in range(items):
            it = run.ev("MapIterationStarted", prev, {"index": i, "name": "ReserveItems"}, 3)
            inner, _ = run.task(it, "ReserveItem", "orders-reserve-item", rng, _lognormal(rng, 90, 0.35))
            run.ev("MapIterationSucceeded", inner, {"index": i, "name": "ReserveItems"}, 2)
            prev = inner
        done = run.ev("MapStateSucceeded", prev, {}, 3)
        last = run.ev("MapStateExited", done - 1, {"name": "ReserveItems"}, 2)
        last, _ = run.task(last, "ConfirmOrder", "orders-confirm", rng, _lognormal(rng, 150, 0.3))
        last = _callback(run, last, "AwaitWarehouse", rng, _lognormal(rng, 40 * 60_000, 0.5))
    last = run.simple(last, "Succeed", "Done", rng)
    run.ev("ExecutionSucceeded", last, {}, 5)
    del start


def _payments(run: _Run, rng: random.Random, ctx: dict) -> None:
    run.ev("ExecutionStarted", 0, {"roleArn": ROLE})
    failures = []
    if ctx["storm"]:
        # Throttled: up to 3 failed tries, each retry after exactly 2 s * 2^n (no jitter).
        n = 1 if rng.random() < 0.35 else 2 if rng.random() < 0.7 else 3
        for k in range(n):
            failures.append((STORM_ERROR, "Rate Exceeded. (Service: Lambda, Status Code: 429, Request ID: "
                             f"{_uuid(rng)})", int(STORM_INTERVAL_S * 1000 * STORM_BACKOFF ** k)))
    last, _ = run.task(0, "Authorize", "payments-authorize", rng, _lognormal(rng, 250, 0.25), failures)
    if ctx["fail"]:
        order = rng.randint(100000, 999999)
        cause = json.dumps({"errorMessage": f"Card declined for order ord-{order}: issuer code 51",
                            "errorType": "States.TaskFailed", "requestId": _uuid(rng)})
        last, _ = run.task(last, "ChargeCard", "payments-charge", rng, _lognormal(rng, 400, 0.3),
                           final_failure=("States.TaskFailed", cause))
        run.ev("ExecutionFailed", last, {"error": "States.TaskFailed", "cause": cause}, 4)
        return
    last, _ = run.task(last, "ChargeCard", "payments-charge", rng, _lognormal(rng, 400, 0.3))
    last, _ = run.task(last, "Receipt", "payments-receipt", rng, _lognormal(rng, 120, 0.3))
    run.ev("ExecutionSucceeded", last, {}, 4)


def _poller(run: _Run, rng: random.Random, ctx: dict) -> None:
    run.ev("ExecutionStarted", 0, {"roleArn": ROLE})
    last, _ = run.task(0, "StartReport", "reports-start", rng, _lognormal(rng, 300, 0.3))
    if ctx.get("stuck"):
        # Stuck: waiting on a report that never becomes ready; nothing after this.
        run.ev("WaitStateEntered", last, {"name": "WaitForReport"}, 10)
        return
    polls = rng.randint(4, 22)
    for _ in range(polls):
        last = run.simple(last, "Wait", "WaitForReport", rng, wait_ms=30_000)
        last, _ = run.task(last, "CheckStatus", "reports-status", rng, _lognormal(rng, 80, 0.3))
        last = run.simple(last, "Choice", "IsReady", rng)
    slow = ctx["slow"] and rng.random() < 0.35
    fetch_ms = rng.uniform(25_000, 70_000) if slow else _lognormal(rng, 1_500, 0.3)
    last, _ = run.task(last, "FetchReport", "reports-fetch", rng, fetch_ms)
    last = run.simple(last, "Succeed", "Done", rng)
    run.ev("ExecutionSucceeded", last, {}, 5)


def _callback(run: _Run, prev: int, name: str, rng: random.Random, wait_ms: float) -> int:
    """A `.waitForTaskToken` task: the message is sent, then the callback arrives much later."""
    details = {"resource": "sendMessage.waitForTaskToken", "resourceType": "sqs"}
    entered = run.ev("TaskStateEntered", prev, {"name": name}, rng.randint(3, 12))
    scheduled = run.ev("TaskScheduled", entered, {**details, "region": REGION, "parameters": "{}"}, 5)
    started = run.ev("TaskStarted", scheduled, details, 8)
    submitted = run.ev("TaskSubmitted", started, {**details, "output": "{}"}, rng.randint(20, 60))
    done = run.ev("TaskSucceeded", submitted, {**details, "output": "{}"}, int(wait_ms) + 1)
    return run.ev("TaskStateExited", done, {"name": name}, 4)


def _ingest(run: _Run, rng: random.Random, ctx: dict) -> None:
    run.ev("ExecutionStarted", 0, {"roleArn": ROLE})
    last, _ = run.task(0, "TransformEvent", "ingest-transform", rng, _lognormal(rng, 220, 0.35))
    # An inline Map over the batch's records: many transitions per short run (Express pays per run).
    entered = run.ev("MapStateEntered", last, {"name": "NormalizeRecords"}, rng.randint(3, 8))
    items = rng.randint(20, 60)
    prev = run.ev("MapStateStarted", entered, {"length": items}, 3)
    for i in range(items):
        it = run.ev("MapIterationStarted", prev, {"index": i, "name": "NormalizeRecords"}, 1)
        inner = run.simple(it, "Pass", "NormalizeRecord", rng)
        run.ev("MapIterationSucceeded", inner, {"index": i, "name": "NormalizeRecords"}, 1)
        prev = inner
    done = run.ev("MapStateSucceeded", prev, {}, 2)
    last = run.ev("MapStateExited", done - 1, {"name": "NormalizeRecords"}, 2)
    # Service integration (DynamoDB putItem): Task* events, not LambdaFunction*.
    e = run.ev("TaskStateEntered", last, {"name": "StoreEvent"}, rng.randint(3, 12))
    s = run.ev("TaskScheduled", e, {"resource": "putItem", "resourceType": "dynamodb", "region": REGION,
                                     "parameters": "{}"}, 5)
    st = run.ev("TaskStarted", s, {"resource": "putItem", "resourceType": "dynamodb"}, 8)
    ok = run.ev("TaskSucceeded", st, {"resource": "putItem", "resourceType": "dynamodb"},
                int(_lognormal(rng, 40, 0.4)) + 1)
    last = run.ev("TaskStateExited", ok, {"name": "StoreEvent"}, 4)
    run.ev("ExecutionSucceeded", last, {}, 3)


def _clicks(run: _Run, rng: random.Random, ctx: dict) -> None:
    run.ev("ExecutionStarted", 0, {"roleArn": ROLE})
    last, _ = run.task(0, "Enrich", "clicks-enrich", rng, _lognormal(rng, 60, 0.3))
    last = run.simple(last, "Choice", "Route", rng)
    if rng.random() < 0.1:
        last, _ = run.task(last, "PutPurchase", "clicks-put-purchase", rng, _lognormal(rng, 45, 0.3))
    else:
        last, _ = run.task(last, "PutClick", "clicks-put", rng, _lognormal(rng, 30, 0.3))
    run.ev("ExecutionSucceeded", last, {}, 3)


_WRITERS = {ORDERS: _orders, PAYMENTS: _payments, POLLER: _poller, INGEST: _ingest, CLICKS: _clicks}


# ---------------------------------------------------------------------- time patterns

def _start_times(rng: random.Random, start: dt.datetime, end: dt.datetime, n: int) -> list[int]:
    """n start times (epoch ms, sorted) following weekday and hour-of-day weights."""
    t0 = int(start.timestamp() * 1000)
    t1 = int(end.timestamp() * 1000)
    if n <= 0 or t1 <= t0:
        return []
    hours = []
    h = start.replace(minute=0, second=0, microsecond=0)
    while h < end:
        hours.append(h)
        h += dt.timedelta(hours=1)
    weights = [_HOURLY[x.hour] * _WEEKDAY[x.weekday()] for x in hours]
    picks = rng.choices(range(len(hours)), weights=weights, k=n)
    out = []
    for i in picks:
        base = int(hours[i].timestamp() * 1000)
        t = base + rng.randrange(3_600_000)
        if t < t0 or t >= t1:
            t = rng.randrange(t0, t1)
        out.append(t)
    out.sort()
    return out


def _window(rng: random.Random, start: dt.datetime, end: dt.datetime, frac_lo: float, frac_hi: float,
            length: dt.timedelta) -> tuple[dt.datetime, dt.datetime]:
    span = end - start
    length = min(length, span / 2)
    offset = span * rng.uniform(frac_lo, frac_hi)
    ws = start + offset
    we = min(ws + length, end)
    return ws.replace(microsecond=0), we.replace(microsecond=0)


# ---------------------------------------------------------------------- entry point

@dataclass
class _Plan(SimPlan):
    storm_ms: tuple[float, float] = (0.0, 0.0)
    failing_ms: tuple[float, float] = (0.0, 0.0)
    slow_ms: tuple[float, float] = (0.0, 0.0)
    times: dict[str, list[int]] = field(default_factory=dict)        # start times (epoch ms), sorted
    stuck: list[tuple[int, str]] = field(default_factory=list)       # (start ms, execution ARN)


def plan(spec: SimSpec) -> _Plan:
    """Anomaly windows, ground truth and every start time of the range (from the seed alone)."""
    rng = random.Random(spec.seed)
    start, end = spec.start, spec.end
    span = end - start
    created = start - dt.timedelta(days=30)
    head: list[tuple[str, Any]] = [("aws.state_machine", _describe(name, name == CLICKS, created, rng))
                                   for name in WORKFLOWS]
    storm = _window(rng, start, end, 0.55, 0.7, dt.timedelta(hours=3))
    failing = _window(rng, start, end, 0.2, 0.3, max(span * 0.25, dt.timedelta(hours=1)))
    slow = _window(rng, start, end, 0.35, 0.5, max(span * 0.15, dt.timedelta(hours=1)))
    storm_ms = (storm[0].timestamp() * 1000, storm[1].timestamp() * 1000)

    truth: list[Anomaly] = [
        Anomaly(AnomalyKind.FAILING_STEP, Cloud.AWS, PAYMENTS, "ChargeCard", failing[0], failing[1],
                {"error": "States.TaskFailed", "failure_rate": FAIL_RATE_IN_WINDOW,
                 "baseline_failure_rate": FAIL_RATE_BASELINE}),
        Anomaly(AnomalyKind.RETRY_STORM, Cloud.AWS, PAYMENTS, "Authorize", storm[0], storm[1],
                {"error": STORM_ERROR}),
        Anomaly(AnomalyKind.SYNCHRONIZED_RETRIES, Cloud.AWS, PAYMENTS, "Authorize", storm[0], storm[1],
                {"error": STORM_ERROR, "interval_seconds": STORM_INTERVAL_S, "backoff_rate": STORM_BACKOFF,
                 "jitter": "NONE"}),
        Anomaly(AnomalyKind.POLLING_LOOP, Cloud.AWS, POLLER, "WaitForReport", start, end,
                {"loop": ["WaitForReport", "CheckStatus", "IsReady"], "polls_per_execution": [4, 22]}),
        Anomaly(AnomalyKind.SLOW_STEP, Cloud.AWS, POLLER, "FetchReport", slow[0], slow[1],
                {"normal_median_ms": 1500, "slow_ms": [25000, 70000], "slow_share": 0.35}),
        Anomaly(AnomalyKind.EXPRESS_CANDIDATE, Cloud.AWS, INGEST, None, start, end,
                {"max_duration_s": 5}),
        Anomaly(AnomalyKind.COSTLY_STEP, Cloud.AWS, INGEST, "NormalizeRecord", start, end,
                {"items_per_run": [20, 60], "why": "one state transition per record"}),
    ]

    counts = {name: max(1, round(spec.executions * SHARE[name])) for name in WORKFLOWS}
    times: dict[str, list[int]] = {}
    for name in WORKFLOWS:
        times[name] = _start_times(rng, start, end, counts[name])
        if name == PAYMENTS:
            # The storm comes with a traffic burst (a sale): extra executions inside the window.
            burst = max(30, counts[name] // 10)
            times[name] = sorted(times[name] + [rng.randrange(int(storm_ms[0]), int(storm_ms[1]))
                                                for _ in range(burst)])

    # Stuck executions: started days before the end, never finished.
    stuck: list[tuple[int, str]] = []
    for _ in range(3):
        back = dt.timedelta(days=2 + 1.5 * len(stuck), hours=rng.randint(0, 6))
        st = max(start, end - back)
        arn = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{POLLER}:{_uuid(rng)}"
        stuck.append((int(st.timestamp() * 1000), arn))
        truth.append(Anomaly(AnomalyKind.STUCK_EXECUTION, Cloud.AWS, POLLER, None, st.replace(microsecond=0),
                             end, {"execution_id": arn}))

    return _Plan(Cloud.AWS, spec, head, truth, list(WORKFLOWS), list(HEALTHY), chunk_windows(spec),
                 storm_ms=storm_ms, failing_ms=(failing[0].timestamp() * 1000, failing[1].timestamp() * 1000),
                 slow_ms=(slow[0].timestamp() * 1000, slow[1].timestamp() * 1000), times=times, stuck=stuck)


def chunk(p: _Plan, index: int) -> Chunk:
    """The log records of the executions starting in chunk `index`, one document per workflow and
    day; ordinary executions beyond the spec's native share become clones."""
    lo, hi = p.chunks[index]
    lo_ms, hi_ms = lo * 1000, hi * 1000
    out = Chunk()
    per_day: dict[tuple[str, str], list[dict]] = {}
    for name in WORKFLOWS:
        times = p.times[name]
        rng = chunk_rng(p.spec, f"aws:{name}", lo)
        express = name == CLICKS
        writer = _WRITERS[name]
        sampler = Sampler(p.spec.native_share, chunk_rng(p.spec, f"aws:{name}:clones", lo))
        fate = chunk_rng(p.spec, f"aws:{name}:fate", lo)
        prefix = (f"arn:aws:states:{REGION}:{ACCOUNT}:express:{name}:" if express
                  else f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{name}:")
        for t in times[bisect.bisect_left(times, lo_ms):bisect.bisect_left(times, hi_ms)]:
            ex_name = _uuid(rng)
            ctx = {"storm": p.storm_ms[0] <= t < p.storm_ms[1],
                   "failing": p.failing_ms[0] <= t < p.failing_ms[1],
                   "slow": p.slow_ms[0] <= t < p.slow_ms[1]}
            # Whether a payment fails is drawn first, from its own stream: a failure is never a clone.
            ctx["fail"] = name == PAYMENTS and fate.random() < (FAIL_RATE_IN_WINDOW if ctx["failing"]
                                                                 else FAIL_RATE_BASELINE)
            special = ctx["slow"] if name == POLLER else name == PAYMENTS and (ctx["storm"] or ctx["failing"]
                                                                               or ctx["fail"])
            if not special and not sampler.native(ex_name, t * 1000):
                continue
            run = _Run(prefix + ex_name + (":" + _uuid(rng) if express else ""), t)
            writer(run, rng, ctx)
            day = dt.datetime.fromtimestamp(t / 1000, dt.timezone.utc).date().isoformat()
            per_day.setdefault((name, day), []).extend(run.records)
        out.clones.extend(sampler.clones())
    for k, (t, arn) in enumerate(p.stuck):
        if lo_ms <= t < hi_ms:
            run = _Run(arn, t)
            _poller(run, chunk_rng(p.spec, f"aws:stuck:{k}", lo), {"storm": False, "failing": False,
                                                                    "slow": False, "stuck": True})
            day = dt.datetime.fromtimestamp(t / 1000, dt.timezone.utc).date().isoformat()
            per_day.setdefault((POLLER, day), []).extend(run.records)
    out.documents = [("aws.log_records", per_day[key]) for key in sorted(per_day)]
    return out


def simulate(spec: SimSpec) -> SimulatedCloud:
    """Native AWS documents for ``spec`` plus the labelled anomalies injected into them."""
    return simulate_all(sys.modules[__name__], spec)
