"""Tiny worlds in, verdicts out: one scenario per analysis and edge."""

import datetime as dt
import json

import pandas as pd
import pytest

from flowscope.analysis import FINDING_COLUMNS, Thresholds, analyze, findings_to_json
from flowscope.model import C, Kind, Meter, RunStatus, Status, StepType
from tests.analysis.helpers import ARN, T0, World, at, transitions

DAY = dt.timedelta(days=1)


def run(world: World, since=T0, until=None, **kw) -> pd.DataFrame:
    return analyze(world.tables(), since=since, until=until or T0 + 2 * DAY, now=until or T0 + 2 * DAY, **kw)


def kinds(df: pd.DataFrame) -> list[tuple]:
    return sorted((r.kind, r.workflow, r.step) for r in df.itertuples())


def of(df, kind):
    return df[df["kind"] == kind]


# ---------------------------------------------------------------- edges

def test_no_data_gives_no_findings_and_the_documented_columns():
    df = run(World())
    assert df.empty and list(df.columns) == FINDING_COLUMNS
    assert json.loads(findings_to_json(df)) == []


def test_one_healthy_execution_gives_nothing():
    w = World()
    wf = w.workflow("orders")
    ex = w.execution(wf, at(minutes=1))
    w.step(ex, "Charge", at(minutes=1), meter=Meter.AWS_SFN_STATE_TRANSITION)
    assert run(w).empty


def failing_world(n=40, fail_every=2, status=Status.FAILED, start=T0):
    w = World()
    wf = w.workflow("orders")
    for i in range(n):
        t = start + dt.timedelta(minutes=10 * i)
        bad = i % fail_every == 0
        ex = w.execution(wf, t, status=Status.FAILED if bad and status == Status.FAILED else Status.SUCCEEDED)
        w.step(ex, "Validate", t, meter=Meter.AWS_SFN_STATE_TRANSITION)
        w.step(ex, "Charge", t + dt.timedelta(seconds=1), status=status if bad else Status.SUCCEEDED,
               error="PaymentDeclined" if bad else None,
               cause=f"card {1000 + i} declined for order 3f2a9c1e-1111-2222-3333-44445555{i:04d}" if bad else None,
               meter=Meter.AWS_SFN_STATE_TRANSITION)
    return w


def test_failing_step_found_with_templates_and_samples():
    df = run(failing_world())
    f = of(df, "failing_step")
    assert len(f) == 1
    row = f.iloc[0]
    assert (row.workflow, row.step, row.severity) == ("orders", "Charge", "critical")
    ev = row.evidence
    assert ev["failures"] == 20 and ev["visits"] == 40 and ev["uncaught"] == 20
    assert ev["top_errors"][0]["template"] == "card <n> declined for order <uuid>"
    assert ev["top_errors"][0]["count"] == 20
    assert row.executions_affected == 20 and 1 <= len(row.sample_execution_ids) <= 5
    assert "Retry" in row.recommendation and "Catch" in row.recommendation


def test_lambda_error_template_is_its_message_not_the_json():
    """Step Functions reports a failed Lambda task's cause as JSON (errorMessage, errorType, requestId,
    stackTrace): its template is the message, masked; a cause that is not that JSON stays as it is."""
    w = World()
    wf = w.workflow("orders")
    for i in range(40):
        t = T0 + dt.timedelta(minutes=10 * i)
        bad = i % 2 == 0
        ex = w.execution(wf, t, status=Status.FAILED if bad else Status.SUCCEEDED)
        cause = (f'{{"errorMessage": "Card declined for order ord-{i}: issuer \\"bank {i}\\"", "errorType": '
                 f'"CardError", "requestId": "3f2a9c1e-1111-2222-3333-44445555{i:04d}", "stackTrace": ["at x:{i}"]}}'
                 if i % 4 == 0 else f"card {i} declined")
        w.step(ex, "Charge", t, status=Status.FAILED if bad else Status.SUCCEEDED,
               error="CardError" if bad else None, cause=cause if bad else None, meter=Meter.AWS_SFN_STATE_TRANSITION)
    templates = {e["template"]: e["count"] for e in of(run(w), "failing_step").iloc[0].evidence["top_errors"]}
    assert templates == {'Card declined for order ord-<n>: issuer \\"bank <n>\\"': 10, "card <n> declined": 10}


def test_all_failing():
    df = run(failing_world(fail_every=1))
    f = of(df, "failing_step").iloc[0]
    assert f.evidence["failure_rate"] == 1.0 and f.severity == "critical"


def test_caught_failures_are_low_severity():
    f = of(run(failing_world(status=Status.CAUGHT)), "failing_step").iloc[0]
    assert f.severity == "low" and f.evidence["caught"] == 20 and f.evidence["uncaught"] == 0


def test_below_thresholds_is_not_a_finding():
    assert of(run(failing_world(fail_every=40)), "failing_step").empty     # 1 of 40
    df = run(failing_world(), thresholds={"failure_min_count": 50})
    assert of(df, "failing_step").empty


def test_window_filtering():
    w = failing_world(start=T0 - 5 * DAY)           # all of it before the window
    assert of(run(w), "failing_step").empty
    assert not of(run(w, since=T0 - 6 * DAY), "failing_step").empty


def test_workflow_and_cloud_filters():
    w = failing_world()
    assert not of(run(w, workflows=["orders"]), "failing_step").empty
    assert of(run(w, workflows=["other"]), "failing_step").empty
    assert of(run(w, clouds=["gcp"]), "failing_step").empty


def test_clock_skew_is_ignored_not_fatal():
    w = World()
    wf = w.workflow("skewed")
    for i in range(30):
        t = at(minutes=i)
        ex = w.execution(wf, t, duration_ms=-5000, ended_at=t - dt.timedelta(seconds=5))
        w.step(ex, "A", t, duration_ms=-100)
    df = run(w)
    assert of(df, "slow_step").empty and of(df, "latency_drift").empty and of(df, "stuck_execution").empty


def test_ids_are_stable_across_runs_and_windows():
    w = failing_world()
    a = run(w)
    b = analyze(w.tables(), since=T0 - DAY, until=T0 + 3 * DAY, now=T0 + 3 * DAY)
    assert set(of(a, "failing_step")["id"]) == set(of(b, "failing_step")["id"])
    assert a["id"].is_unique


def test_json_shape():
    df = run(failing_world())
    data = json.loads(findings_to_json(df))
    assert data and set(data[0]) == {*FINDING_COLUMNS, "monthly_usd_is"}
    rec = data[0]
    assert rec["window_start"].endswith("Z") and isinstance(rec["evidence"], dict)
    assert isinstance(rec["sample_execution_ids"], list) and isinstance(rec["monthly_usd"], float)
    dt.datetime.fromisoformat(rec["window_start"].replace("Z", "+00:00"))


def test_sorted_most_severe_then_most_expensive():
    w = failing_world()
    wf2 = w.workflow("cheap")
    for i in range(20):
        ex = w.execution(wf2, at(minutes=i), status=Status.SUCCEEDED)
        w.step(ex, "X", at(minutes=i), status=Status.CAUGHT, error="E")
    df = run(w)
    ranks = df["severity"].map({"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}).tolist()
    assert ranks == sorted(ranks)


# ---------------------------------------------------------------- retries

def storm_world(storm=True, jitter=True):
    """Steady background retries every hour for 2 days; a burst on day 2 at 10:00."""
    w = World()
    wf = w.workflow("ingest")
    import random
    rnd = random.Random(1)
    for i in range(48 * 4):                        # one execution every 15 min
        t = at(minutes=15 * i)
        burst = storm and dt.timedelta(days=1, hours=10) <= t - T0 < dt.timedelta(days=1, hours=11)
        for k in range(30 if burst else 1):
            ex = w.execution(wf, t + dt.timedelta(seconds=k))
            tries = 4 if burst else (2 if i % 4 == 0 else 1)
            st = w.step(ex, "CallApi", t + dt.timedelta(seconds=k), attempts=tries,
                        meter=Meter.AWS_SFN_STATE_TRANSITION, quantity=tries)
            start = t + dt.timedelta(seconds=k)
            for n in range(1, tries + 1):
                w.attempt(st, n, start, status=Status.FAILED if n < tries else Status.SUCCEEDED,
                          error="ThrottlingException" if n < tries else None)
                delay = 2000 * (rnd.uniform(0.2, 1.8) if jitter else 1.0)
                start = start + dt.timedelta(milliseconds=50 + delay)
    return w


def test_retry_storm_found_and_windowed():
    df = run(storm_world())
    s = of(df, "retry_storm")
    assert len(s) == 1
    row = s.iloc[0]
    assert row.step == "CallApi" and row.evidence["throttling"] is True
    assert row.window_start >= pd.Timestamp(T0 + DAY + dt.timedelta(hours=9, minutes=45))
    assert row.window_end <= pd.Timestamp(T0 + DAY + dt.timedelta(hours=11, minutes=15))
    assert row.evidence["amplification"] > 1 and row.monthly_usd > 0
    assert "JitterStrategy FULL" in row.recommendation


def test_no_storm_on_steady_retries():
    assert of(run(storm_world(storm=False)), "retry_storm").empty


def test_synchronized_retries_without_jitter():
    df = run(storm_world(storm=True, jitter=False))
    s = of(df, "synchronized_retries")
    assert len(s) == 1 and s.iloc[0].step == "CallApi"
    assert s.iloc[0].evidence["min_cv"] < 0.1
    storm = of(df, "retry_storm").iloc[0]
    assert (s.iloc[0].window_start, s.iloc[0].window_end) == (storm.window_start, storm.window_end)
    assert of(run(storm_world(storm=True, jitter=True)), "synchronized_retries").empty


def test_sporadic_retries_without_jitter_are_not_synchronized():
    # Fixed delays, but the failures are independent and never coincide: nothing retries in lockstep.
    assert of(run(storm_world(storm=False, jitter=False)), "synchronized_retries").empty


# ---------------------------------------------------------------- cost

def polling_world(polls=8, wait=True):
    w = World()
    wf = w.workflow("export")
    for i in range(10):
        t = at(hours=i)
        ex = w.execution(wf, t, duration_ms=600_000)
        w.step(ex, "Start", t, meter=Meter.AWS_SFN_STATE_TRANSITION)
        for p in range(polls):
            tp = t + dt.timedelta(minutes=p + 1)
            if wait:
                w.step(ex, "WaitABit", tp, type=StepType.WAIT, duration_ms=30_000,
                       meter=Meter.AWS_SFN_STATE_TRANSITION)
            w.step(ex, "CheckStatus", tp + dt.timedelta(seconds=30), meter=Meter.AWS_SFN_STATE_TRANSITION)
            w.step(ex, "IsDone", tp + dt.timedelta(seconds=31), type=StepType.CHOICE,
                   meter=Meter.AWS_SFN_STATE_TRANSITION)
    return w


def test_polling_loop():
    df = run(polling_world())
    p = of(df, "polling_loop")
    assert len(p) == 1 and p.iloc[0].step == "CheckStatus"
    assert set(p.iloc[0].evidence["cycle"]) == {"WaitABit", "CheckStatus", "IsDone"}
    assert ".waitForTaskToken" in p.iloc[0].recommendation
    assert of(df, "costly_step").empty          # the loop is not also reported as a costly step


@pytest.mark.parametrize("scale, severity", [(1, "low"), (200, "medium"), (2000, "high")])
def test_polling_loop_severity_follows_its_dollars(scale, severity):
    """A polling loop of pennies a month is low, as a costly step of pennies is: it was medium at any cost and
    ranked above dearer findings."""
    w = polling_world()
    for u in w.rows["usage"]:
        u[C.quantity] *= scale
    p = of(run(w), "polling_loop")
    assert [(r.severity, r.monthly_usd >= 10, r.monthly_usd >= 100) for r in p.itertuples()] == [
        (severity, scale >= 200, scale >= 2000)]


def test_no_polling_without_wait_or_few_visits():
    assert of(run(polling_world(wait=False)), "polling_loop").empty
    assert of(run(polling_world(polls=2)), "polling_loop").empty


def foreach_world(items=20):
    w = World()
    wf = w.workflow("sync-crm", cloud="azure", kind=Kind.LOGICAPP_CONSUMPTION)
    for i in range(200):
        t = at(minutes=5 * i)
        ex = w.execution(wf, t, cloud="azure")
        w.step(ex, "manual", t, type=StepType.TRIGGER, meter=Meter.AZURE_LOGIC_BUILTIN_TRIGGER)
        loop = w.step(ex, "For_each", t, type=StepType.LOOP, meter=Meter.AZURE_LOGIC_BUILTIN_ACTION)
        for k in range(items):
            w.step(ex, "Update_record", t, iteration=k, parent=loop[C.step_key],
                   meter=Meter.AZURE_LOGIC_ENTERPRISE_CONNECTOR)
    return w


def test_costly_step_in_a_loop():
    df = run(foreach_world())
    c = of(df, "costly_step")
    assert len(c) == 1 and c.iloc[0].step == "Update_record" and c.iloc[0].cloud == "azure"
    # 200 runs x 20 items x $0.001 over 2 days -> x15 for a month
    assert c.iloc[0].monthly_usd == pytest.approx(200 * 20 * 0.001 * 15, rel=1e-6)
    assert "For_each" in c.iloc[0].recommendation


def test_costly_step_samples_the_runs_that_visit_it_most():
    """A costly step's finding lists runs to open (it listed none): those with the most visits first."""
    w = foreach_world()
    wf = w.rows["workflows"][0][C.workflow_id]
    busiest = w.execution(wf, at(hours=20), cloud="azure")
    loop = w.step(busiest, "For_each", at(hours=20), type=StepType.LOOP, meter=Meter.AZURE_LOGIC_BUILTIN_ACTION)
    for k in range(60):
        w.step(busiest, "Update_record", at(hours=20), iteration=k, parent=loop[C.step_key],
               meter=Meter.AZURE_LOGIC_ENTERPRISE_CONNECTOR)
    c = of(run(w), "costly_step").iloc[0]
    assert len(c.sample_execution_ids) == 5 and c.sample_execution_ids[0] == busiest[C.execution_id]
    runs = {e[C.execution_id] for e in w.rows["executions"]}
    assert set(c.sample_execution_ids) <= runs and c.executions_affected == 201


def branches_world(*, in_map: bool) -> World:
    """A Standard machine whose hot Task runs in the branches of a Parallel (itself in a Map when
    `in_map`): every branch visit carries its branch index as `iteration`, as the AWS transform writes."""
    w = World()
    wf = w.workflow("fan-out")
    for i in range(100):
        t = at(minutes=5 * i)
        ex = w.execution(wf, t)
        w.step(ex, "Start", t, type=StepType.PASS, meter=Meter.AWS_SFN_STATE_TRANSITION)
        outer = w.step(ex, "Items", t, type=StepType.MAP, native_type="Map",
                       meter=Meter.AWS_SFN_STATE_TRANSITION) if in_map else None
        for item in range(3 if in_map else 1):
            fork = w.step(ex, "Fork", t, type=StepType.PARALLEL, native_type="Parallel",
                          iteration=item if in_map else None, parent=outer[C.step_key] if outer else None,
                          meter=Meter.AWS_SFN_STATE_TRANSITION)
            for branch in range(8):
                w.step(ex, "Enrich", t, iteration=branch, parent=fork[C.step_key],
                       meter=Meter.AWS_SFN_STATE_TRANSITION, quantity=20)
    return w


@pytest.mark.parametrize("in_map", [False, True])
def test_costly_step_in_parallel_branches_is_in_a_loop_only_inside_a_map(in_map):
    """A Parallel's branches are not loop iterations: the Map advice (move per-item work to an Express
    child, ItemBatcher) is wrong for a Task that runs once per branch, and right once the Parallel is
    itself inside a Map."""
    c = of(run(branches_world(in_map=in_map)), "costly_step")
    assert list(c.step) == ["Enrich"]
    f = c.iloc[0]
    assert f.evidence["in_loop"] is in_map
    assert ("Map iteration" in f.recommendation) is in_map


def busy_consumption_world() -> World:
    """A Logic Apps Consumption workflow of 100 runs of 20,000 built-in operations each: a plan pays."""
    w = World()
    wf = w.workflow("busy", cloud="azure", kind=Kind.LOGICAPP_CONSUMPTION)
    for i in range(100):
        ex = w.execution(wf, at(minutes=i), cloud="azure")
        w.step(ex, "Compose", at(minutes=i), type=StepType.PASS, meter=Meter.AZURE_LOGIC_BUILTIN_ACTION,
               quantity=20_000)
    return w


def test_plan_what_if_for_busy_consumption_app():
    w = busy_consumption_world()
    df = run(w)
    p = of(df, "plan_what_if")
    assert len(p) == 1 and p.iloc[0].evidence["what_if_plan"] == "Standard"
    # 2,000,000 built-in actions in 2 days -> 30M/month -> $750; Standard WS1 for the same 30 days ~ $173.
    assert p.iloc[0].evidence["current_monthly_usd"] == pytest.approx(750.0)
    assert p.iloc[0].monthly_usd == pytest.approx(750.0 - (0.192 + 3.5 * 0.0137) * 720)


def express_world(n=2000, duration_ms=2000, resource=None):
    w = World()
    wf = w.workflow("thumbs")
    for i in range(n):
        t = at(seconds=60 * i)
        ex = w.execution(wf, t, duration_ms=duration_ms)
        w.step(ex, "Resize", t, resource=resource)
        transitions(w, ex, 20)
    return w


def test_express_candidate():
    df = run(express_world(), thresholds={"express_min_monthly_executions": 1000,
                                          "express_min_monthly_saving_usd": 0.5})
    e = of(df, "express_candidate")
    assert len(e) == 1
    ev = e.iloc[0].evidence
    # 2000 runs x 20 transitions x $0.000025 over 2 days, x15: $15/month Standard
    assert ev["standard_monthly_usd"] == pytest.approx(15.0)
    assert ev["express_monthly_usd"] == pytest.approx(30_000 * (1e-6 + 2.0 * 0.0625 * 0.00001667), rel=1e-4)
    assert e.iloc[0].monthly_usd == pytest.approx(ev["standard_monthly_usd"] - ev["express_monthly_usd"], rel=1e-4)


def test_no_express_candidate_when_long_or_callback():
    th = {"express_min_monthly_executions": 1000, "express_min_monthly_saving_usd": 0.5}
    assert of(run(express_world(duration_ms=400_000), thresholds=th), "express_candidate").empty
    # p99 short, but 10 of 2,000 runs took 6 minutes: Express would stop each of them at 5.
    w = express_world()
    for ex in w.rows["executions"][::200]:
        ex[C.duration_ms] = 360_000
        ex[C.ended_at] = ex[C.started_at] + dt.timedelta(minutes=6)
    assert of(run(w, thresholds=th), "express_candidate").empty
    w = express_world()
    for ex in w.rows["executions"][::200]:
        ex[C.duration_ms] = 290_000                # under the limit: still a candidate
        ex[C.ended_at] = ex[C.started_at] + dt.timedelta(seconds=290)
    assert len(of(run(w, thresholds=th), "express_candidate")) == 1
    assert of(run(express_world(resource="arn:aws:states:::sqs:sendMessage.waitForTaskToken"), thresholds=th),
              "express_candidate").empty


# ---------------------------------------------------------------- latency

def latency_world(slow=True):
    w = World()
    wf = w.workflow("api", cloud="gcp", kind=Kind.GCP_WORKFLOWS)
    for i in range(48 * 6):                     # every 10 minutes for 2 days
        t = at(minutes=10 * i)
        in_slow = slow and dt.timedelta(days=1, hours=6) <= t - T0 < dt.timedelta(days=1, hours=12)
        ms = 9000 if in_slow else 800 + (i % 7) * 30
        ex = w.execution(wf, t, cloud="gcp", duration_ms=ms + 100)
        w.step(ex, "callBackend", t, duration_ms=ms, meter=Meter.GCP_WORKFLOWS_EXTERNAL_STEP)
    return w


def test_slow_step_found_in_its_window():
    df = run(latency_world())
    s = of(df, "slow_step")
    assert len(s) == 1
    row = s.iloc[0]
    assert row.step == "callBackend" and row.evidence["ratio"] > 5
    assert row.window_start == pd.Timestamp(T0 + DAY + dt.timedelta(hours=6))
    assert row.window_end == pd.Timestamp(T0 + DAY + dt.timedelta(hours=12))
    assert of(run(latency_world(slow=False)), "slow_step").empty


def test_latency_drift_vs_previous_window():
    w = latency_world(slow=False)
    wf = "gcp/api"
    for i in range(40):
        t = T0 + 2 * DAY + dt.timedelta(minutes=30 * i)
        ex = w.execution(wf, t, cloud="gcp", duration_ms=5000)
        w.step(ex, "callBackend", t, duration_ms=4900)
    df = analyze(w.tables(), since=T0 + 2 * DAY, until=T0 + 4 * DAY, now=T0 + 4 * DAY)
    d = of(df, "latency_drift")
    assert len(d) == 1 and d.iloc[0].evidence["dominant_steps"][0]["step"] == "callBackend"


@pytest.mark.parametrize("previous_hours, drifts", [(48, True), (44, True), (40, False), (4, False)])
def test_latency_drift_only_against_a_previous_window_its_runs_cover(previous_hours, drifts):
    """Fast runs over the last `previous_hours` of the 48 before the window, slow runs in it: the p95
    of a sliver of the previous window (a store imported a few hours earlier) is no baseline. The rule is
    measures.previous_covered (90% of the previous window), the one the dashboard and reports use."""
    w = World()
    wf = w.workflow("api", cloud="gcp", kind=Kind.GCP_WORKFLOWS)
    since = T0 + 2 * DAY
    for i in range(24):
        t = since - dt.timedelta(hours=previous_hours) + dt.timedelta(hours=previous_hours) * i / 24
        ex = w.execution(wf, t, cloud="gcp", duration_ms=1000)
        w.step(ex, "callBackend", t, duration_ms=900)
    for i in range(40):
        t = since + dt.timedelta(minutes=30 * i)
        ex = w.execution(wf, t, cloud="gcp", duration_ms=5000)
        w.step(ex, "callBackend", t, duration_ms=4900)
    df = analyze(w.tables(), since=since, until=since + 2 * DAY, now=since + 2 * DAY)
    assert len(of(df, "latency_drift")) == (1 if drifts else 0)


@pytest.mark.parametrize("previous_hours, compared", [(48, True), (4, False)])
def test_failing_step_compares_its_rate_only_with_a_covered_previous_window(previous_hours, compared):
    """The failure rate's change is evidence against the previous window only where the workflow's runs
    cover it; otherwise the previous figures are absent (None), not a sliver's."""
    w = World()
    wf = w.workflow("orders")
    since = T0 + 2 * DAY
    for i in range(24):
        t = since - dt.timedelta(hours=previous_hours) + dt.timedelta(hours=previous_hours) * i / 24
        w.step(w.execution(wf, t), "Charge", t)
    for i in range(40):
        t = since + dt.timedelta(minutes=30 * i)
        bad = i % 2 == 0
        ex = w.execution(wf, t, status=Status.FAILED if bad else Status.SUCCEEDED)
        w.step(ex, "Charge", t, status=Status.FAILED if bad else Status.SUCCEEDED,
               error="PaymentDeclined" if bad else None)
    f = of(analyze(w.tables(), since=since, until=since + 2 * DAY, now=since + 2 * DAY), "failing_step").iloc[0]
    if compared:
        assert f.evidence["previous_visits"] == 24 and f.evidence["previous_failure_rate"] == 0.0
        assert f.evidence["rate_change"] == pytest.approx(0.5)
    else:
        assert f.evidence["previous_visits"] is None and f.evidence["previous_failure_rate"] is None
        assert f.evidence["rate_change"] is None


# ---------------------------------------------------------------- stuck and at-risk

def test_express_run_without_its_end_is_a_gap_in_the_logs_not_a_stuck_run():
    """Express stops every run at 5 minutes, so one seen RUNNING for longer ended and its end record
    never arrived (log delivery is best effort): a stuck-execution page for it was a false alarm. It is
    said as a collection gap of the workflow, with the runs; a run under 5 minutes is neither."""
    w = World()
    wf = w.workflow("ingest", kind=Kind.SFN_EXPRESS)
    for i in range(50):
        w.execution(wf, at(minutes=10 * i), duration_ms=2_000)
    lost = [w.execution(wf, at(hours=h), status=Status.RUNNING, collected_at=at(hours=9)) for h in (2, 3)]
    w.step(lost[0], "Transform", at(hours=2), duration_ms=None, status=Status.RUNNING)
    w.execution(wf, at(hours=8, minutes=58), status=Status.RUNNING, collected_at=at(hours=9))   # 2 min old
    w.execution(wf, at(hours=9), duration_ms=1)
    df = run(w)
    assert of(df, "stuck_execution").empty
    gap = of(df, "collection_gap")
    assert len(gap) == 1
    g = gap.iloc[0]
    assert g.workflow == "ingest" and g.severity == "medium" and g.executions_affected == 2
    assert sorted(g.sample_execution_ids) == sorted(e[C.execution_id] for e in lost)
    assert g.evidence["runs_without_end"] == 2 and "5 minutes" in g.title


def test_express_runs_without_end_join_the_logging_level_gap_of_their_machine():
    """One finding per workflow and kind (the id is kind, cloud, workflow, step): a machine that logs
    below ALL and has runs without an end says both in one collection gap."""
    w = World()
    attrs = json.dumps({"loggingConfiguration": {"level": "ERROR"}})
    wf = w.workflow("ingest", kind=Kind.SFN_EXPRESS, attributes=attrs)
    for i in range(10):
        w.execution(wf, at(minutes=10 * i), duration_ms=2_000)
    w.execution(wf, at(hours=2), status=Status.RUNNING, collected_at=at(hours=9))
    gap = of(run(w), "collection_gap")
    assert len(gap) == 1 and gap.iloc[0].evidence["level"] == "ERROR"
    assert gap.iloc[0].evidence["runs_without_end"] == 1 and gap.iloc[0].executions_affected == 1


def test_stuck_execution_vs_p99_and_running_ones_not_flagged_early():
    """Both running runs were seen by the sync at the store's clock (`collected_at`): a run without it is timed
    to the window's end, as the executions search times it (tests/analysis/test_stuck_age.py)."""
    w = World()
    wf = w.workflow("approve")
    for i in range(50):
        w.execution(wf, at(minutes=10 * i), duration_ms=60_000)
    clock = at(hours=9, minutes=11)                                           # the store's clock
    stuck = w.execution(wf, at(hours=2), status=Status.RUNNING, collected_at=clock)
    w.step(stuck, "WaitForHuman", at(hours=2), duration_ms=None, status=Status.RUNNING)
    fresh = w.execution(wf, at(hours=9, minutes=10), status=Status.RUNNING,   # 1 minute before the clock
                        collected_at=clock)
    w.execution(wf, clock, duration_ms=1)
    df = run(w)
    s = of(df, "stuck_execution")
    assert len(s) == 1
    assert s.iloc[0].sample_execution_ids == [stuck[C.execution_id]]
    assert s.iloc[0].step == "WaitForHuman" and fresh[C.execution_id] not in s.iloc[0].sample_execution_ids


def test_history_limit_risk():
    w = World()
    wf = w.workflow("big")
    w.execution(wf, at(minutes=1), event_count=24_000)
    w.execution(wf, at(minutes=2), event_count=1_000)
    h = of(run(w), "history_limit_risk")
    assert len(h) == 1 and h.iloc[0].severity == "critical" and h.iloc[0].executions_affected == 1


def test_map_failure_budget():
    asl = json.dumps({"StartAt": "M", "States": {"M": {"Type": "Map", "ToleratedFailurePercentage": 10,
                                                       "ItemProcessor": {"StartAt": "P", "States": {
                                                           "P": {"Type": "Task", "End": True}}}, "End": True}}})
    w = World()
    wf = w.workflow("batch", definition=asl)
    ex = w.execution(wf, at(minutes=1))
    m = w.step(ex, "M", at(minutes=1), type=StepType.MAP)
    for k in range(10):
        w.step(ex, "P", at(minutes=1), iteration=k, parent=m[C.step_key],
               status=Status.FAILED if k < 1 else Status.SUCCEEDED)
    f = of(run(w), "map_failure_budget")
    assert len(f) == 1 and f.iloc[0].step == "M" and f.iloc[0].evidence["max_failed_percent"] == 10


@pytest.mark.parametrize(("failed", "percentage", "count", "verdict"), [
    (9, 10, 0, "medium"),     # 9 of 100 items, 10% tolerated: near the budget
    (12, 10, 0, "high"),      # over it
    (17, 0, 20, "medium"),    # count budget of 20: near
    (3, 10, 0, None),         # far below
    (5, 0, 0, None),          # no tolerance set: a failing step, not a budget
])
def test_distributed_map_run_budget(failed, percentage, count, verdict):
    w = World()
    wf = w.workflow("fanout")
    ex = w.execution(wf, at(minutes=1))
    ex[C.attributes] = json.dumps({"map_runs": [{
        "map_run_arn": "arn:aws:states:us-east-1:1:mapRun:fanout/Fan:1", "state_name": "Fan",
        "tolerated_failure_percentage": percentage, "tolerated_failure_count": count,
        "item_counts": {"total": 100, "succeeded": 100 - failed, "failed": failed, "timedOut": 0, "aborted": 0}}]})
    f = of(run(w), "map_failure_budget")
    if verdict is None:
        assert f.empty
    else:
        assert list(f["severity"]) == [verdict] and f.iloc[0].step == "Fan"
        assert f.iloc[0].sample_execution_ids == [ex[C.execution_id]]


# ---------------------------------------------------------------- collection

def test_collection_gap_on_failed_and_partial_latest_runs():
    w = World()
    w.collection_run("aws:123:us-east-1", at(minutes=1), RunStatus.FAILED, error="AccessDenied")
    w.collection_run("aws:123:us-east-1", at(minutes=30), RunStatus.FAILED, error="AccessDenied")
    w.collection_run("gcp:proj", at(minutes=1), RunStatus.FAILED, cloud="gcp")
    w.collection_run("gcp:proj", at(minutes=30), RunStatus.SUCCEEDED, cloud="gcp")
    w.collection_run("azure:sub", at(minutes=30), RunStatus.PARTIAL, cloud="azure")
    g = of(run(w), "collection_gap")
    assert sorted(zip(g["workflow_id"], g["severity"], strict=True)) == [("aws:123:us-east-1", "critical"),
                                                                         ("azure:sub", "high")]


def test_collection_gap_for_express_without_all_logging():
    w = World()
    w.workflow("events", kind=Kind.SFN_EXPRESS, attributes=json.dumps({"logging_level": "ERROR"}))
    w.workflow("fine", kind=Kind.SFN_EXPRESS, attributes=json.dumps({"logging_level": "ALL"}))
    g = of(run(w), "collection_gap")
    assert g["workflow"].tolist() == ["events"] and g.iloc[0].severity == "high"


@pytest.mark.parametrize("kinds,found", [
    ((Kind.SFN_EXPRESS,), True), ((Kind.SFN_STANDARD, Kind.SFN_EXPRESS), True), ((Kind.SFN_STANDARD,), False),
    ((), True),                               # machines the store has no row of: said, not assumed Standard
])
def test_a_missing_log_group_of_an_express_machine_is_a_gap(kinds, found):
    """A log group an Express machine names that does not exist: the sync succeeded with a warning, and the
    machine's executions reached no store, so analyze read the workflow as quiet with nothing said. A group
    only Standard machines log to is no gap: their runs are read by GetExecutionHistory."""
    w = World()
    names = [f"m{i}" for i in range(len(kinds))]
    for name, kind in zip(names, kinds, strict=True):
        w.workflow(name, kind=kind)
    group = "/aws/vendedlogs/states/never-created"
    w.collection_run("aws:123:us-east-1", at(minutes=1), RunStatus.SUCCEEDED,
                     details=json.dumps({"log_groups_missing": {group: names or ["gone"]}}))
    g = of(run(w), "collection_gap")
    if not found:
        assert g.empty
        return
    assert len(g) == 1 and g.iloc[0].severity == "high" and group in g.iloc[0].title
    assert g.iloc[0].evidence["state_machines"] == (names or ["gone"])


# ---------------------------------------------------------------- thresholds

def test_thresholds_from_mapping():
    th = Thresholds.from_mapping({"failure_rate": 0.1, "failure_min_count": 3})
    assert th.failure_rate == 0.1 and th.failure_min_count == 3
    with pytest.raises(ValueError, match="unknown threshold.*nope"):
        Thresholds.from_mapping({"nope": 1})
    with pytest.raises(ValueError, match=r"unknown threshold\(s\) failure_rat \(did you mean failure_rate\?\);"):
        Thresholds.from_mapping({"failure_rat": 0.2})       # a typo's closest name, before 40 others
    with pytest.raises(ValueError, match="failure_min_count"):
        Thresholds.from_mapping({"failure_min_count": 2.5})
    with pytest.raises(ValueError, match="number"):
        Thresholds.from_mapping({"failure_rate": "high"})


@pytest.mark.parametrize("name", ["retry_bucket_minutes", "failure_bucket_hours", "latency_bucket_hours",
                                  "monthly_days"])
def test_thresholds_that_must_be_positive_refuse_zero(name):
    """A bucket width of 0 failed every analysis with a DuckDB conversion error (a traceback, exit 5), and a
    0-day month made every projection $0: both are configuration errors, said by name."""
    with pytest.raises(ValueError, match=f"threshold {name} must be greater than 0, got 0"):
        Thresholds.from_mapping({name: 0})
    with pytest.raises(ValueError, match=f"threshold {name} must be greater than 0"):
        Thresholds(**{name: 0})
    assert getattr(Thresholds.from_mapping({name: 1}), name) == 1


@pytest.mark.parametrize(("name", "value", "said"), [
    ("failure_bucket_hours", 0.0001, "must be at least 1 second"),
    ("latency_bucket_hours", 1e-9, "must be at least 1 second"),
    ("failure_bucket_hours", 1e18, "must be at most 2,016,144 hours"),
    ("latency_bucket_hours", 1e18, "must be at most"),
    ("retry_bucket_minutes", 10**18, "must be at most 120,968,640 minutes"),
    ("retry_baseline_days", 1e6, "must be at most 84,006 days"),
    ("express_memory_mb", 10**18, "must be at most 1,048,576"),       # the billed units' int64 overflowed
])
def test_time_thresholds_refuse_spans_no_analysis_can_take(name, value, said):
    """A bucket under a second (the analyses take whole seconds: 0 s, a ZeroDivisionError) or a span longer
    than the supported times (int64 overflow in Ibis, a baseline before year 1) failed every analysis with an
    engine's error, exit 5 ("a bug"); refused by name, in `thresholds=` as in flowscope.toml. The edges pass."""
    with pytest.raises(ValueError, match=f"threshold {name} {said}"):
        Thresholds.from_mapping({name: value})
    with pytest.raises(ValueError, match=f"threshold {name} "):
        Thresholds(**{name: value})
    with pytest.raises(ValueError, match=f"threshold {name} "):
        run(World(), thresholds={name: value})
    Thresholds.from_mapping({"failure_bucket_hours": 1 / 3600, "retry_baseline_days": 84_006,
                             "latency_bucket_hours": 2_016_144, "retry_bucket_minutes": 120_968_640,
                             "express_memory_mb": 1 << 20})


# ---------------------------------------------------------------- episodes (scan statistic, storm extent)

def test_bernoulli_scan_finds_a_burst_and_ignores_steady_rates():
    from flowscope.analysis.base import bernoulli_scan

    n = [20] * 40
    k = [0] * 40
    for i in range(10, 16):
        k[i] = 4                                      # 20% failures for six buckets, none elsewhere
    eps = bernoulli_scan(n, k, min_hits=5, min_rate=0.05, min_llr=12)
    assert [(e.first, e.last) for e in eps] == [(10, 15)] and eps[0].rate == 0.2
    steady = [1 if i % 5 == 0 else 0 for i in range(40)]
    assert bernoulli_scan(n, steady, min_hits=5, min_rate=0.05, min_llr=12) == []


def test_sparse_storm_is_one_segment():
    import numpy as np

    from flowscope.analysis.base import Thresholds
    from flowscope.analysis.retries import storm_segments

    dense = np.zeros(96 * 14)                         # two weeks of 15-min buckets
    start = 96 * 10
    for i in range(start, start + 96, 7):             # a day of bursts separated by quiet buckets
        dense[i] = 12
    dense[::200] += 1                                 # sporadic background
    segs = storm_segments(dense, 96 * 7, 96 * 7, Thresholds())
    assert len(segs) == 1 and segs[0][0] == start and segs[0][1] >= start + 90


def test_no_express_candidate_when_a_run_still_running_is_past_five_minutes():
    """A run still RUNNING has no duration, but one seen running for an hour is a run Express would stop at 5
    minutes: its finished runs' durations alone advised Express."""
    th = {"express_min_monthly_executions": 1000, "express_min_monthly_saving_usd": 0.5}
    end = T0 + 2 * DAY
    for age, found in ((dt.timedelta(hours=1), 0), (dt.timedelta(minutes=4), 1)):
        w = express_world()
        wf = w.rows["workflows"][0][C.workflow_id]
        w.execution(wf, end - age, status=Status.RUNNING, collected_at=end)
        assert len(of(run(w, thresholds=th), "express_candidate")) == found, age


def test_failing_step_top_error_ties_go_by_name_not_by_the_engines_order():
    """Two errors as common: the title and recommendation name the first by name (the engine's group
    order broke the tie, and may differ between runs, threads and engines)."""
    w = World()
    wf = w.workflow("orders")
    for i in range(40):
        t = at(minutes=10 * i)
        err = ("Zeta" if i % 4 == 0 else "Alpha") if i % 2 == 0 else None
        ex = w.execution(wf, t, status=Status.FAILED if err else Status.SUCCEEDED)
        w.step(ex, "Charge", t, status=Status.FAILED if err else Status.SUCCEEDED, error=err,
               meter=Meter.AWS_SFN_STATE_TRANSITION)
    row = of(run(w), "failing_step").iloc[0]
    assert ([e["error"] for e in row.evidence["top_errors"]], row.title.rsplit(": ", 1)[1]) == (["Alpha", "Zeta"],
                                                                                              "Alpha")
    assert "Fix the cause of Alpha first" in row.recommendation


def test_failing_step_without_an_error_name_says_none():
    """Failures with no error name (nor cause): the title ended ": nan" and the recommendation read "Fix the
    cause of nan first"; now they name no error."""
    w = World()
    wf = w.workflow("orders")
    for i in range(30):
        ex = w.execution(wf, at(minutes=10 * i), status=Status.FAILED)
        w.step(ex, "Charge", at(minutes=10 * i), status=Status.FAILED, meter=Meter.AWS_SFN_STATE_TRANSITION)
    row = of(run(w), "failing_step").iloc[0]
    assert (row.title, row.evidence["top_errors"]) == ("Charge in orders fails 100% of 30 visits (30 uncaught)",
                                                       [{"error": None, "template": "", "count": 30}])
    assert row.recommendation.startswith("Fix the cause of the failures first.")


def test_cost_evidence_gives_the_days_its_projection_divides_by():
    """A window starting 28 days before the data's first run projects over the 2 days of data (measures.md
    "Projected monthly spend"); the evidence said only window_days 30, so step_usd x 30 / window_days was
    a fifteenth of the finding's monthly_usd."""
    c = of(run(foreach_world(), since=T0 - 28 * DAY), "costly_step").iloc[0]
    ev = c.evidence
    assert (ev["window_days"], ev["measured_days"]) == (30.0, pytest.approx(2.0))
    assert c.monthly_usd == pytest.approx(ev["step_usd"] * 30 / ev["measured_days"]) == pytest.approx(60.0)


def test_polling_loop_in_an_express_workflow_is_not_told_to_use_a_task_token():
    """Express state machines support neither .waitForTaskToken nor .sync and pay per request and duration:
    the recommendation told an Express loop to use a task token since "each loop turn costs state
    transitions"."""
    w = polling_world().as_express()
    rec = of(run(w), "polling_loop").iloc[0].recommendation
    assert rec.startswith("Express workflows support neither .waitForTaskToken nor .sync")
    assert "state transitions" not in rec and "billed duration" in rec
    assert of(run(polling_world()), "polling_loop").iloc[0].recommendation.startswith(
        "Replace the Wait -> check -> Choice polling loop with a callback")


@pytest.mark.parametrize("cloud, kind, said", [
    ("aws", Kind.SFN_STANDARD, "the failures are caught, but each still costs transitions."),
    ("aws", Kind.SFN_EXPRESS, "the failures are caught, but each still costs billed duration."),
    ("azure", Kind.LOGICAPP_CONSUMPTION, "the failures are handled by runAfter, but each retry is a billed execution."),
    ("azure", Kind.LOGICAPP_STANDARD, "the failures are handled by runAfter, but each retry of a managed connector"
                                      " is a billed call (built-in actions are paid in plan hours)."),
])
def test_caught_failures_cost_what_the_workflows_kind_pays(cloud, kind, said):
    """An Express machine's caught failures were said to cost transitions, a Standard logic app's built-in
    action's retries billed executions: neither bills those."""
    w = World()
    wf = w.workflow("orders", cloud=cloud, kind=kind)
    for i in range(20):
        ex = w.execution(wf, at(minutes=10 * i), cloud=cloud)
        w.step(ex, "Charge", at(minutes=10 * i), status=Status.CAUGHT, error="Declined")
    assert said in of(run(w), "failing_step").iloc[0].recommendation


def test_no_express_candidate_when_its_definition_has_a_callback_no_run_took():
    """The callback step is on a branch no run of the window took (an approval for large orders): the
    window's steps have no .waitForTaskToken, but the definition does, and Express cannot run it."""
    th = {"express_min_monthly_executions": 1000, "express_min_monthly_saving_usd": 0.5}
    asl = {"StartAt": "Resize", "States": {
        "Resize": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "Big?"},
        "Big?": {"Type": "Choice", "Choices": [{"Variable": "$.big", "BooleanEquals": True, "Next": "Approve"}],
                 "Default": "Done"},
        "Approve": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken", "End": True},
        "Done": {"Type": "Succeed"}}}
    for definition, found in ((json.dumps(asl), 0), (None, 1)):
        w = express_world()
        w.rows["workflows"][0][C.definition] = definition
        assert len(of(run(w, thresholds=th), "express_candidate")) == found


@pytest.mark.parametrize("resource, blocked", [
    ("arn:aws:states:::sqs:sendMessage.waitForTaskToken", True),
    ("arn:aws:states:::states:startExecution.sync:2", True), ("arn:aws:states:::ecs:runTask.sync", True),
    ("arn:aws:states:us-east-1:123456789012:activity:approve", True),
    ("arn:aws:lambda:us-east-1:123456789012:function:resync", False),       # held ".sync", read as a job
    ("arn:aws:lambda:us-east-1:123456789012:function:sync-contacts", False),
    ("arn:aws:states:::lambda:invoke", False), (None, False),
])
def test_what_blocks_express_is_a_resource_pattern_not_a_substring(resource, blocked):
    """A definition whose text held ".sync" anywhere (a Comment, a parameter's URL) blocked the Express
    advice though none of its Tasks waits for a job; a blocker is a Task's Resource that ends in
    .waitForTaskToken, .sync or .sync:N, or names an activity."""
    from flowscope.analysis.cost import blocks_express

    assert blocks_express(resource) is blocked
    th = {"express_min_monthly_executions": 1000, "express_min_monthly_saving_usd": 0.5}
    w = express_world()
    w.rows["workflows"][0][C.definition] = json.dumps({
        "Comment": "calls a .sync job only in v2", "StartAt": "Resize",
        "States": {"Resize": {"Type": "Task", "Resource": resource or "arn:aws:states:::lambda:invoke", "End": True}}})
    assert len(of(run(w, thresholds=th), "express_candidate")) == (0 if blocked else 1)


@pytest.mark.parametrize("per_run, severity", [(2, "low"), (20, "medium"), (200, "high")])
def test_express_saving_severity_follows_its_dollars_as_every_saving_does(per_run, severity):
    """An Express saving of $15 a month was low beside a $15 polling loop (medium): every saving kind now
    ranks by the same dollar bands (high from $100, medium from $10)."""
    th = {"express_min_monthly_executions": 1000, "express_min_monthly_saving_usd": 0.5}
    w = World()
    wf = w.workflow("thumbs")
    for i in range(2000):
        ex = w.execution(wf, at(seconds=60 * i), duration_ms=2000)
        w.step(ex, "Resize", at(seconds=60 * i))
        transitions(w, ex, per_run)
    e = of(run(w, thresholds=th), "express_candidate")
    assert [(r.severity, r.monthly_usd >= 10, r.monthly_usd >= 100) for r in e.itertuples()] == [
        (severity, per_run >= 20, per_run >= 200)]
    poll = polling_world()
    for u in poll.rows["usage"]:
        u[C.quantity] *= 200                     # a loop of about $18 a month
    assert of(run(poll), "polling_loop").iloc[0].severity == "medium"


def test_plan_saving_severity_follows_its_dollars_one_band_lower_when_its_fee_is_assumed():
    p = of(run(busy_consumption_world()), "plan_what_if").iloc[0]
    assert (p.severity, p.monthly_usd > 100) == ("high", True)
    w = World()                                  # a Standard app whose plan is assumed: $173 saved, medium
    wf = w.workflow("ledger", cloud="azure", kind=Kind.LOGICAPP_STANDARD)
    ex = w.execution(wf, at(minutes=1), cloud="azure")
    w.step(ex, "Compose", at(minutes=1), type=StepType.PASS, meter=Meter.AZURE_LOGIC_BUILTIN_ACTION, quantity=10)
    p = of(run(w), "plan_what_if").iloc[0]
    assert (p.severity, p.evidence["assumed_current_plan"], p.monthly_usd > 100) == ("medium", True, True)


def test_a_run_redriven_to_success_wasted_nothing():
    """A run whose Charge failed and that was redriven to success (Step Functions resumes at the failed
    state: one row, SUCCEEDED, redrive_count 1, the failed visit and the redriven one). Its failure counts
    (it ran, ended the run then, and was billed), uncaught; its cost is not wasted: the failing_step's
    `wasted_usd` held the whole cost of the 10 redriven runs beside the 10 that stayed failed."""
    w = failing_world()
    redriven = [e for e in w.rows["executions"] if e[C.status] == Status.FAILED][:10]
    for ex in redriven:
        ex[C.status], ex[C.redrive_count] = str(Status.SUCCEEDED), 1
        t = ex[C.started_at] + dt.timedelta(minutes=5)
        w.step(ex, "Charge", t, meter=Meter.AWS_SFN_STATE_TRANSITION)
    f = of(run(w), "failing_step").iloc[0]
    ev = f.evidence
    assert (ev["visits"], ev["failures"], ev["uncaught"], f.executions_affected) == (50, 20, 20, 20)
    assert ev["wasted_usd"] == pytest.approx(10 * 2 * 0.000025)       # the 10 runs still failed: 2 transitions each



def test_wasted_runs_are_priced_from_the_flagged_workflows_usage_only(monkeypatch):
    """The wasted runs' cost reads the usage of the failing steps' workflows (`execution_costs(ctx,
    workflow_ids)`), not every run's of the window; the findings are those of the read of every run."""
    from flowscope.analysis import cost, failures
    w = failing_world()
    other = w.workflow("quiet")
    for i in range(20):
        ex = w.execution(other, T0 + dt.timedelta(minutes=10 * i), status=Status.FAILED)
        w.step(ex, "Work", T0 + dt.timedelta(minutes=10 * i), meter=Meter.AWS_SFN_STATE_TRANSITION, quantity=50)
    asked = []
    monkeypatch.setattr(failures, "execution_costs", lambda ctx, workflow_ids=None: asked.append(workflow_ids)
                        or cost.execution_costs(ctx, workflow_ids))
    narrow = run(w)
    assert asked == [{ARN + "orders"}]
    monkeypatch.setattr(failures, "execution_costs", lambda ctx, workflow_ids=None: cost.execution_costs(ctx))
    whole = run(w)
    assert of(narrow, "failing_step").iloc[0].evidence["wasted_usd"] == pytest.approx(20 * 2 * 0.000025)
    assert findings_to_json(narrow) == findings_to_json(whole)


@pytest.mark.parametrize(("percentage", "count", "failed", "verdict", "said"), [
    (None, 2, 2, "medium", "tolerated 2 items"),     # a count budget alone was not read: no finding
    (None, 2, 3, "high", "tolerated 2 items"),
    (50, 1, 2, "high", "tolerated 50% or 1 item"),   # the count is reached first: it read 20% of 50%, nothing
    (50, None, 2, None, None),
])
def test_map_failure_budget_reads_the_tolerated_count(percentage, count, failed, verdict, said):
    """Step Functions fails a Map at ToleratedFailurePercentage or ToleratedFailureCount, whichever is reached
    first; the definition's count was not read, so a Map one failure from failing said nothing."""
    state = {"Type": "Map", "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Task", "End": True}}},
             "End": True}
    if percentage is not None:
        state["ToleratedFailurePercentage"] = percentage
    if count is not None:
        state["ToleratedFailureCount"] = count
    w = World()
    wf = w.workflow("batch", definition=json.dumps({"StartAt": "M", "States": {"M": state}}))
    ex = w.execution(wf, at(minutes=1))
    m = w.step(ex, "M", at(minutes=1), type=StepType.MAP)
    for k in range(10):
        w.step(ex, "P", at(minutes=1), iteration=k, parent=m[C.step_key],
               status=Status.FAILED if k < failed else Status.SUCCEEDED)
    f = of(run(w), "map_failure_budget")
    if verdict is None:
        assert f.empty
        return
    assert list(f["severity"]) == [verdict] and said in f.iloc[0].title
    assert f.iloc[0].evidence["tolerated_count"] == count


def test_express_what_if_prices_express_in_the_workflows_region(monkeypatch):
    """A Standard machine in Sao Paulo (transitions at $0.0375 per 1,000) was set against Express at the
    default (US East) rates whatever its region: `express_cost` took no region. Express is priced by the
    price list's row for the machine's region when it has one, and the evidence says which region's
    Express rates were used (None: the default list rates, no regional row)."""
    import dataclasses

    from flowscope.analysis import pricing

    th = {"express_min_monthly_executions": 1000, "express_min_monthly_saving_usd": 0.5}
    w = World()
    wf = w.workflow("thumbs", wf_id="arn:aws:states:sa-east-1:123456789012:stateMachine:thumbs", region="sa-east-1")
    for i in range(2000):
        ex = w.execution(wf, at(seconds=60 * i), duration_ms=2000, region="sa-east-1")
        w.step(ex, "Resize", at(seconds=60 * i))
        transitions(w, ex, 20)
    ev = of(run(w, thresholds=th), "express_candidate").iloc[0].evidence
    assert ev["standard_monthly_usd"] == pytest.approx(15.0 * 0.0375 / 0.025)
    assert (ev["region"], ev["express_price_region"]) == ("sa-east-1", None)
    default_usd = ev["express_monthly_usd"]
    regional = tuple(dataclasses.replace(p, region="sa-east-1", unit_usd=p.unit_usd * 2,
                                         tiers=tuple((upto, usd * 2) for upto, usd in p.tiers))
                     for p in pricing.PRICES
                     if p.meter in (Meter.AWS_SFN_EXPRESS_REQUEST, Meter.AWS_SFN_EXPRESS_GB_SECOND))
    monkeypatch.setattr(pricing, "PRICES", pricing.PRICES + regional)
    ev = of(run(w, thresholds=th), "express_candidate").iloc[0].evidence
    assert ev["express_price_region"] == "sa-east-1"
    assert ev["express_monthly_usd"] == pytest.approx(2 * default_usd, rel=1e-4)


def redriven_world():
    """An AWS Standard machine run every 30 minutes for 4 days, each run 1 s; in the second 2 days, 8 runs
    failed and were redriven to success a day later: Step Functions keeps a redriven run's start date, so
    each of those runs' rows spans a day (its failure, the wait, its redriven life)."""
    w = World()
    wf = w.workflow("orders")
    for i in range(4 * 48):
        t = T0 + dt.timedelta(minutes=30 * i)
        redriven = i >= 2 * 48 and i % 10 == 0
        ex = w.execution(wf, t, duration_ms=DAY // dt.timedelta(milliseconds=1) if redriven else 1000)
        ex[C.redrive_count] = 1 if redriven else 0
        w.step(ex, "Charge", t, duration_ms=900, meter=Meter.AWS_SFN_STATE_TRANSITION)
    return w


def test_a_redriven_runs_wait_before_its_redrive_is_no_duration():
    """Eight runs redriven a day after they failed read as runs of a day: the window's p95 and p99 were a
    day, the machine "got slower" (latency_drift, 1 s to 1 d), and a run running for hours was within the
    stuck baseline. A redriven run's duration is left out of the duration quantiles (analyses and the
    dashboard's Latency table alike): it measures the wait for someone to redrive, not a run."""
    from flowscope.analysis import tables as q
    from tests.analysis.helpers import tables_from_rows

    w = redriven_world()
    since, until = T0 + 2 * DAY, T0 + 4 * DAY
    df = analyze(w.tables(), since=since, until=until, now=until)
    assert of(df, "latency_drift").empty
    f = q.Filters(since, until)
    t = tables_from_rows(w.rows)
    lat = q.execution_latency(q.prepare(t["executions"].get_backend().con), f).iloc[0]
    assert (lat["p95_ms"], lat["p99_ms"]) == (1000.0, 1000.0)


def test_a_what_ifs_dollars_read_as_a_saving_not_a_cost():
    """A plan what-if's `monthly_usd` ($172 on the demo, beside a spend of $1.20) read as a monthly cost in
    findings tables and JSON: nothing said it was a saving. The JSON names what each finding's dollars are
    (`monthly_usd_is`: saving, cost, spend, or null for a kind that prices nothing, from the check's
    metadata) and the what-ifs' titles say "would save"."""
    p = of(run(busy_consumption_world()), "plan_what_if")
    rec = json.loads(findings_to_json(p))[0]
    assert rec["monthly_usd_is"] == "saving"
    assert f"would save ${rec['monthly_usd']:,.0f}/month" in rec["title"]
    f = json.loads(findings_to_json(run(failing_world())))
    assert {r["kind"]: r["monthly_usd_is"] for r in f}["failing_step"] == "cost"
    e = of(run(express_world(), thresholds={"express_min_monthly_executions": 1000,
                                            "express_min_monthly_saving_usd": 0.5}), "express_candidate")
    assert "would save" in e.iloc[0].title
    assert json.loads(findings_to_json(run(latency_world())))[0]["monthly_usd_is"] is None


def test_no_express_candidate_when_its_runs_are_redriven():
    """RedriveExecution "is not supported by EXPRESS state machines" (AWS API reference): a machine whose
    failed runs were redriven in the window relies on it, and was advised to move to Express when its
    redrives came quickly (a span under 5 minutes). A redriven run in the window blocks the advice."""
    th = {"express_min_monthly_executions": 1000, "express_min_monthly_saving_usd": 0.5}
    w = express_world()
    assert len(of(run(w, thresholds=th), "express_candidate")) == 1
    ex = w.rows["executions"][100]
    ex[C.redrive_count] = 1
    ex[C.duration_ms] = 120_000                  # failed, redriven a minute later, done: under 5 minutes
    ex[C.ended_at] = ex[C.started_at] + dt.timedelta(minutes=2)
    assert of(run(w, thresholds=th), "express_candidate").empty


def test_a_retry_storms_dollars_are_what_it_cost_not_a_monthly_rate():
    """A storm is an episode: one hour of retries on day 2 of a 2-day window was projected to a month as if it
    came back every two days (x15: a storm of $0.0x read as 15 times its cost "per month", and over a 1-day
    window 30 times). Its `monthly_usd` is what it cost (`evidence.retry_usd`), whatever the window."""
    s = of(run(storm_world()), "retry_storm").iloc[0]
    assert s.evidence["retry_usd"] > 0
    assert s.monthly_usd == pytest.approx(s.evidence["retry_usd"], abs=1e-4)
    rec = next(r for r in json.loads(findings_to_json(run(storm_world()))) if r["kind"] == "retry_storm")
    assert rec["monthly_usd_is"] == "cost_once"          # no monthly rate: JSON says so


def test_lockstep_retries_cost_what_their_storms_cost():
    """A synchronized_retries finding prices the retries of the storms it was found in: it projected them
    to a month (x15 over a 2-day window) while the storms said what they cost, so the same retries read two
    amounts. Both now say what the storms' retries cost."""
    df = run(storm_world(jitter=False))
    sync = of(df, "synchronized_retries").iloc[0]
    storms = of(df, "retry_storm")
    storms = storms[storms["step"] == sync.step]
    assert sync.evidence["retry_usd"] > 0
    assert sync.monthly_usd == pytest.approx(sync.evidence["retry_usd"], abs=1e-4)
    assert sync.monthly_usd == pytest.approx(storms["monthly_usd"].sum(), abs=1e-4)


def test_a_redriven_runs_wait_does_not_hide_a_stuck_run():
    """The stuck baseline (p99 of finished runs) took redriven runs' spans: 8 runs redriven a day later made
    a run of 1-second runs running for 3 hours look normal (p99 of a day). Their durations are left out."""
    w = redriven_world()
    until = T0 + 4 * DAY
    ex = w.execution("arn:aws:states:us-east-1:123456789012:stateMachine:orders", until - dt.timedelta(hours=3),
                     status=Status.RUNNING, collected_at=until)
    w.step(ex, "Charge", ex[C.started_at], status=Status.RUNNING, duration_ms=None)
    stuck = of(analyze(w.tables(), since=T0 + 2 * DAY, until=until, now=until), "stuck_execution")
    assert len(stuck) == 1 and stuck.iloc[0].evidence["p99_ms"] == pytest.approx(1000.0)
