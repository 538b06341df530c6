"""Evidence on existing findings: per-edge cost, retries' share of cost, critical-path latency and
callback waits. Tiny worlds in, expected evidence out."""

import datetime as dt

import pandas as pd
import pytest

from flowscope.analysis import analyze, build_context
from flowscope.analysis.cost import edge_costs, retry_shares
from flowscope.analysis.latency import critical_path
from flowscope.model import Kind, Meter, StepType
from tests.analysis.helpers import T0, World, at

DAY = dt.timedelta(days=1)
UNTIL = T0 + 2 * DAY
MONTHLY = 30 / 2                       # the 2-day window projected to 30 days
SFN_UNIT = 0.025 / 1000                # $ per state transition
TOKEN = "arn:aws:states:::sqs:sendMessage.waitForTaskToken"


def run(world: World, **kw) -> pd.DataFrame:
    return analyze(world.tables(), since=T0, until=UNTIL, now=UNTIL, **kw)


def ctx_of(world: World, since=T0):
    return build_context(world.tables(), since=since, until=UNTIL, now=UNTIL)


def of(df, kind):
    return df[df["kind"] == kind]


def ms(t, n):
    return t + dt.timedelta(milliseconds=n)


# ---------------------------------------------------------------- 1. per-edge cost

def map_world(executions=40, items=10):
    """Start -> Items (Map over `items` Item visits) -> Done; every state is one transition."""
    w = World()
    wf = w.workflow("ingest")
    T = Meter.AWS_SFN_STATE_TRANSITION
    for e in range(executions):
        t = at(minutes=30 * e)
        ex = w.execution(wf, t)
        w.step(ex, "Start", t, key="1", meter=T)
        w.step(ex, "Items", ms(t, 100), key="2", prev="1", type=StepType.MAP, meter=T)
        for i in range(items):
            w.step(ex, "Item", ms(t, 110 + i), key=f"3.{i}", parent="2", iteration=i, meter=T)
        w.step(ex, "Done", ms(t, 900), key="4", prev="2", type=StepType.SUCCEED, meter=T)
    return w


def polling_world(executions=4, polls=6):
    """Start -> (Wait -> Check -> IsReady) x polls -> Done, each state one transition."""
    w = World()
    wf = w.workflow("poller")
    T = Meter.AWS_SFN_STATE_TRANSITION
    for e in range(executions):
        t = at(minutes=60 * e)
        ex = w.execution(wf, t, duration_ms=polls * 30_000 + 1000)
        w.step(ex, "Start", t, key="s", meter=T)
        prev = "s"
        for p in range(polls):
            base = ms(t, 500 + p * 30_000)
            w.step(ex, "Wait", base, key=f"w{p}", prev=prev, type=StepType.WAIT, duration_ms=29_000, meter=T)
            w.step(ex, "Check", ms(base, 29_000), key=f"c{p}", prev=f"w{p}", meter=T)
            w.step(ex, "IsReady", ms(base, 29_200), key=f"r{p}", prev=f"c{p}", type=StepType.CHOICE, meter=T)
            prev = f"r{p}"
        w.step(ex, "Done", ms(t, polls * 30_000 + 600), key="d", prev=prev, type=StepType.SUCCEED, meter=T)
    return w


def gcp_try_polling_world(executions=4, polls=6):
    """start -> (wait -> check -> is_done) x polls on GCP, where check is a try around an http call:
    two step entries named check (the try, not billed; the call inside it, an external step)."""
    w = World()
    wf = w.workflow("poller", cloud="gcp", kind=Kind.GCP_WORKFLOWS)
    external, internal = Meter.GCP_WORKFLOWS_EXTERNAL_STEP, Meter.GCP_WORKFLOWS_INTERNAL_STEP
    for e in range(executions):
        t = at(minutes=60 * e)
        ex = w.execution(wf, t, cloud="gcp", duration_ms=polls * 30_000 + 1000)
        w.step(ex, "start", t, key="s", meter=internal)
        prev = "s"
        for p in range(polls):
            base = ms(t, 500 + p * 30_000)
            w.step(ex, "wait", base, key=f"w{p}", prev=prev, type=StepType.WAIT, duration_ms=29_000, meter=internal)
            w.step(ex, "check", ms(base, 29_000), key=f"c{p}", prev=f"w{p}", type=StepType.SCOPE,
                   native_type="STEP_TRY_RETRY_EXCEPT")
            w.step(ex, "check", ms(base, 29_000), key=f"c{p}.call", parent=f"c{p}", meter=external,
                   native_type="STEP_STD_LIB_CALL")
            w.step(ex, "is_done", ms(base, 29_200), key=f"r{p}", prev=f"c{p}", type=StepType.CHOICE, meter=internal)
            prev = f"r{p}"
    return w


def test_a_gcp_try_around_a_call_is_one_step_of_the_loop():
    """No check -> check edge: the call is the try's own work, and its dollars are the edge's into check."""
    f = of(run(gcp_try_polling_world()), "polling_loop")
    assert len(f) == 1
    edges = {(e["from"], e["to"]): e for e in f.iloc[0].evidence["edges"]}
    assert set(edges) == {("wait", "check"), ("check", "is_done"), ("is_done", "wait"), ("start", "wait")}
    assert edges[("wait", "check")]["transitions"] == 24
    # the calls' external steps, counted on the try's edge, cost more than is_done's internal ones
    assert edges[("wait", "check")]["monthly_usd"] > edges[("check", "is_done")]["monthly_usd"] > 0


def edge(frm, to, n):
    return {"from": frm, "to": to, "transitions": n, "monthly_usd": pytest.approx(n * SFN_UNIT * MONTHLY)}


@pytest.mark.parametrize("world, kind, step, expected", [
    # A Map item's first state comes from its container: the edge is Map -> item.
    (map_world(), "costly_step", "Item", [edge("Items", "Item", 400)]),
    # A polling loop's edges are its cycle's (and the way in), most expensive first; ties by name.
    (polling_world(), "polling_loop", "Check",
     [edge("Check", "IsReady", 24), edge("Wait", "Check", 24), edge("IsReady", "Wait", 20), edge("Start", "Wait", 4)]),
], ids=["map-item", "polling-cycle"])
def test_edges_on_cost_findings(world, kind, step, expected):
    f = of(run(world), kind)
    assert len(f) == 1 and f.iloc[0].step == step
    assert f.iloc[0].evidence["edges"] == expected


def test_edges_are_at_most_five_and_count_retries_in_dollars():
    w = World()
    wf = w.workflow("fan")
    T = Meter.AWS_SFN_STATE_TRANSITION
    for e in range(40):
        t = at(minutes=30 * e)
        ex = w.execution(wf, t)
        # Hot is entered from 7 different steps, 6 times each per execution; from S0 with 3 attempts.
        for k in range(7):
            w.step(ex, f"S{k}", ms(t, 10 * k), key=f"s{k}", meter=T)
            for v in range(6):
                att = 3 if k == 0 else 1
                w.step(ex, "Hot", ms(t, 10 * k + v), key=f"h{k}.{v}", prev=f"s{k}", attempts=att, meter=T,
                       quantity=att)
    f = of(run(w), "costly_step")
    assert len(f) == 1 and f.iloc[0].step == "Hot"
    edges = f.iloc[0].evidence["edges"]
    assert len(edges) == 5
    assert edges[0] == edge("S0", "Hot", 240) | {"monthly_usd": pytest.approx(240 * 3 * SFN_UNIT * MONTHLY)}
    assert [e["from"] for e in edges[1:]] == ["S1", "S2", "S3", "S4"]


def two_meter_world(meters):
    """Start -> Hot in each of 10 executions, Hot billed on each of `meters` (one usage row per meter)."""
    w = World()
    wf = w.workflow("billed")
    for e in range(10):
        t = at(minutes=30 * e)
        ex = w.execution(wf, t)
        w.step(ex, "Start", t, key="s", meter=Meter.AWS_SFN_STATE_TRANSITION)
        w.step(ex, "Hot", ms(t, 10), key="h", prev="s")
        for m in meters:
            w.usage(ex, "h", m, 2, name="Hot")
    return w, wf


def test_an_edge_counts_visits_and_sums_every_meter_of_them():
    """A visit billed on two meters is one transition, and its edge's dollars are both meters' (the usage rows
    are summed per edge, the visits counted apart: session 46)."""
    one, both = Meter.AWS_SFN_STATE_TRANSITION, Meter.AWS_SFN_EXPRESS_GB_SECOND
    got = {}
    for meters in ([one], [both], [one, both]):
        w, wf = two_meter_world(meters)
        row = edge_costs(ctx_of(w), [("aws", wf)]).set_index(["from", "to"]).loc[("Start", "Hot")]
        got[len(meters), meters[-1]] = (int(row["transitions"]), float(row["usd"]))
    assert {k: n for k, (n, _) in got.items()} == {(1, one): 10, (1, both): 10, (2, both): 10}
    assert got[1, one][1] > 0 and got[1, both][1] > 0
    assert got[2, both][1] == pytest.approx(got[1, one][1] + got[1, both][1])



@pytest.mark.parametrize("world, into", [
    (map_world(), {"Item"}), (polling_world(), {"Wait", "Check", "IsReady"}),
    (gcp_try_polling_world(), {"check"}), (gcp_try_polling_world(), {"is_done", "start"}),
], ids=["map-item", "polling-cycle", "gcp-try", "gcp-not-the-try"])
def test_edges_into_some_steps_are_those_of_the_whole_read(world, into):
    """`edge_costs(..., into)` (what `add_edges` reads: the visits entering the findings' steps) gives the
    edges into those steps with the transitions and dollars of the read of every edge, to the bit."""
    ctx = ctx_of(world)
    wfs = [(r["cloud"], r["workflow_id"]) for r in world.rows["workflows"]]
    order = ["cloud", "workflow_id", "from", "to"]
    whole = edge_costs(ctx, wfs)
    whole = whole[whole["to"].isin(into)].sort_values(order).reset_index(drop=True)
    got = edge_costs(ctx, wfs, into).sort_values(order).reset_index(drop=True)
    assert not whole.empty
    pd.testing.assert_frame_equal(got, whole, check_exact=True, check_dtype=False)


def test_a_try_entered_through_the_narrowed_read_keeps_its_calls_dollars():
    """The narrowed read must still find a container's own work: the GCP try named check costs nothing of
    its own, the http call inside it (its own work, also named check) is what the wait -> check edge costs."""
    w = gcp_try_polling_world()
    wf = w.rows["workflows"][0]["workflow_id"]
    got = edge_costs(ctx_of(w), [("gcp", wf)], {"check"}).set_index(["from", "to"])
    assert list(got.index) == [("wait", "check")] and int(got.loc[("wait", "check"), "transitions"]) == 24
    assert float(got.loc[("wait", "check"), "usd"]) > 0, "the try has no usage of its own: the calls' is the edge's"

def test_add_edges_reads_only_the_edges_into_the_findings_steps(monkeypatch):
    """`add_edges` asks `edge_costs` for the edges into the flagged steps (and loops' cycles), not every edge."""
    from flowscope.analysis import cost
    asked = []
    whole = cost.edge_costs
    monkeypatch.setattr("flowscope.analysis.cost_evidence.edge_costs",
                        lambda ctx, wfs, into=None: asked.append(into) or whole(ctx, wfs, into))
    f = of(run(polling_world()), "polling_loop")
    assert asked == [{"Wait", "Check", "IsReady"}]
    assert [(e["from"], e["to"]) for e in f.iloc[0].evidence["edges"]] == \
        [("Check", "IsReady"), ("Wait", "Check"), ("IsReady", "Wait"), ("Start", "Wait")]


# ---------------------------------------------------------------- 2. retries' share of cost

def retry_world(kind, cloud, meter, attempts, executions=10):
    """Each execution visits one step per entry of `attempts`, billed `attempts` units (the collectors'
    rule); Express workflows are billed per request instead."""
    w = World()
    wf = w.workflow("wf", cloud=cloud, kind=kind)
    for e in range(executions):
        t = at(minutes=30 * e)
        ex = w.execution(wf, t, cloud=cloud)
        for k, a in enumerate(attempts):
            w.step(ex, f"S{k}", ms(t, 10 * k), attempts=a, meter=meter, quantity=a)
        if kind == Kind.SFN_EXPRESS:
            w.usage(ex, None, Meter.AWS_SFN_EXPRESS_REQUEST, 1)
    return w, wf


@pytest.mark.parametrize("kind, cloud, meter, attempts, share, retry_units", [
    (Kind.SFN_STANDARD, "aws", Meter.AWS_SFN_STATE_TRANSITION, [1, 3], 0.5, 20),
    (Kind.GCP_WORKFLOWS, "gcp", Meter.GCP_WORKFLOWS_INTERNAL_STEP, [1, 1, 2, 1], 0.2, 10),
    (Kind.LOGICAPP_CONSUMPTION, "azure", Meter.AZURE_LOGIC_BUILTIN_ACTION, [2, 1], 1 / 3, 10),
    (Kind.SFN_STANDARD, "aws", Meter.AWS_SFN_STATE_TRANSITION, [1] * 9 + [2], 1 / 11, 10),
    (Kind.SFN_STANDARD, "aws", Meter.AWS_SFN_STATE_TRANSITION, [1, 1], 0.0, 0),
    # Express bills requests and duration: a retry adds no billable unit.
    (Kind.SFN_EXPRESS, "aws", None, [1, 3], 0.0, 0),
], ids=["sfn-standard", "gcp", "logicapp-consumption", "under-10pct", "no-retries", "express"])
def test_retry_share_per_cloud(kind, cloud, meter, attempts, share, retry_units):
    w, wf = retry_world(kind, cloud, meter, attempts)
    entry = retry_shares(ctx_of(w))[(cloud, wf)]
    assert entry["share"] == pytest.approx(share)
    assert entry["retry_units"] == pytest.approx(retry_units)


@pytest.mark.parametrize("attempts, mentioned", [([1, 3], "retries are 50% of its billable units"),
                                                 ([1] * 9 + [2], None)])
def test_retry_share_on_cost_findings_and_in_title(attempts, mentioned):
    w, _ = retry_world(Kind.SFN_STANDARD, "aws", Meter.AWS_SFN_STATE_TRANSITION, attempts, executions=40)
    df = run(w, thresholds={"costly_step_min_visits_per_execution": 0, "costly_step_share": 0.1,
                            "costly_step_min_monthly_usd": 0})
    f = of(df, "costly_step")
    assert not f.empty
    for r in f.itertuples():
        retries = 40 * sum(a - 1 for a in attempts)
        assert r.evidence["retry_share"] == pytest.approx(retries / (40 * sum(attempts)), abs=1e-6)
        assert r.evidence["retry_monthly_usd"] == pytest.approx(retries * SFN_UNIT * MONTHLY)
        assert (mentioned in r.title) if mentioned else ("retries are" not in r.title)


def test_retry_share_on_retry_storms():
    w = World()
    wf = w.workflow("storming")
    for i in range(200):
        t = at(hours=20) + dt.timedelta(minutes=i)
        ex = w.execution(wf, t)
        w.step(ex, "Before", t, meter=Meter.AWS_SFN_STATE_TRANSITION)
        a = 3 if i >= 150 else 1                      # the last 50 executions retry twice
        s = w.step(ex, "Call", ms(t, 100), attempts=a, meter=Meter.AWS_SFN_STATE_TRANSITION, quantity=a)
        for n in range(1, a):
            w.attempt(s, n, ms(t, 100 + 2000 * (n - 1)), error="Lambda.TooManyRequestsException")
        if a > 1:
            w.attempt(s, a, ms(t, 100 + 2000 * (a - 1)), status="SUCCEEDED")
    f = of(run(w), "retry_storm")
    assert len(f) == 1
    ev = f.iloc[0].evidence
    assert ev["retry_units"] == 100 and ev["retry_share"] == pytest.approx(100 / 500)
    assert "retries are 20% of its billable units" in f.iloc[0].title


# ---------------------------------------------------------------- 3. critical path and callbacks

def one(world_rows, cloud="aws", kind=Kind.SFN_STANDARD, executions=3):
    """A workflow whose executions each get the steps `world_rows(w, ex, t)` adds."""
    w = World()
    wf = w.workflow("wf", cloud=cloud, kind=kind)
    for e in range(executions):
        t = at(minutes=60 * e)
        ex = w.execution(wf, t, cloud=cloud)
        world_rows(w, ex, t)
    return w, (cloud, wf)


def seq(w, ex, t):
    w.step(ex, "A", t, key="a", duration_ms=100)
    w.step(ex, "B", ms(t, 100), key="b", prev="a", duration_ms=300)


def parallel(w, ex, t):
    w.step(ex, "A", t, key="a", duration_ms=100)
    w.step(ex, "P", ms(t, 100), key="p", prev="a", type=StepType.PARALLEL, duration_ms=300)
    w.step(ex, "X", ms(t, 100), key="x", parent="p", iteration=0, duration_ms=200)
    w.step(ex, "Y", ms(t, 300), key="y", prev="x", parent="p", iteration=0, duration_ms=100)
    w.step(ex, "Z", ms(t, 100), key="z", parent="p", iteration=1, duration_ms=250)


def map_items(w, ex, t):
    w.step(ex, "M", t, key="m", type=StepType.MAP, duration_ms=400)
    for i, d in enumerate((50, 400, 100)):
        w.step(ex, "Item", t, key=f"i{i}", parent="m", iteration=i, duration_ms=d)
    w.step(ex, "B", ms(t, 400), key="b", prev="m", duration_ms=100)


def loop(w, ex, t):
    w.step(ex, "A", t, key="a", duration_ms=100)
    w.step(ex, "L", ms(t, 100), key="l", prev="a", type=StepType.LOOP, duration_ms=300)
    for i in range(3):
        w.step(ex, "Body", ms(t, 100 + 100 * i), key=f"b{i}", parent="l", iteration=i, duration_ms=100)


def token(w, ex, t):
    w.step(ex, "A", t, key="a", duration_ms=100)
    w.step(ex, "Await", ms(t, 100), key="w", prev="a", resource=TOKEN, duration_ms=2_400_000)
    w.step(ex, "B", ms(t, 2_400_100), key="b", prev="w", duration_ms=100)


def webhook(w, ex, t):
    w.step(ex, "Approve", t, key="h", native_type="HttpWebhook", duration_ms=900)
    w.step(ex, "Post", ms(t, 900), key="p", prev="h", native_type="Http", duration_ms=100)


def steps(*pairs):
    return [{"step": s, "share": pytest.approx(share), "ms_per_execution": pytest.approx(per)}
            for s, share, per in pairs]


@pytest.mark.parametrize("rows, cloud, dominant, callbacks", [
    (seq, "aws", steps(("B", 0.75, 300), ("A", 0.25, 100)), []),
    # Parallel: only the slowest branch (X + Y = 300 > Z = 250) is on the critical path.
    (parallel, "aws", steps(("X", 0.5, 200), ("A", 0.25, 100), ("Y", 0.25, 100)), []),
    # Map: only the slowest item per visit, not the sum of the items.
    (map_items, "aws", steps(("Item", 0.8, 400), ("B", 0.2, 100)), []),
    # A loop's iterations run one after another: all of them count.
    (loop, "aws", steps(("Body", 0.75, 300), ("A", 0.25, 100)), []),
    # A .waitForTaskToken wait is reported apart from the steps that work.
    (token, "aws", steps(("A", 100 / 2_400_200, 100), ("B", 100 / 2_400_200, 100)),
     steps(("Await", 2_400_000 / 2_400_200, 2_400_000))),
    (webhook, "azure", steps(("Post", 0.1, 100)), steps(("Approve", 0.9, 900))),
], ids=["sequence", "parallel", "map", "loop", "waitForTaskToken", "logicapps-webhook"])
def test_critical_path(rows, cloud, dominant, callbacks):
    kind = Kind.LOGICAPP_CONSUMPTION if cloud == "azure" else Kind.SFN_STANDARD
    w, key = one(rows, cloud=cloud, kind=kind)
    got = critical_path(ctx_of(w), [key])[key]
    assert got["dominant_steps"] == dominant
    assert got["callback_waits"] == callbacks


def callback_latency_world(slow_ms, *, callback, w: World | None = None, name="approvals"):
    """A step every 10 minutes for 2 days, 800-980 ms normally, `slow_ms` from day 1 06:00 to 12:00."""
    w = w or World()
    wf = w.workflow(name)
    for i in range(48 * 6):
        t = at(minutes=10 * i)
        slow = dt.timedelta(days=1, hours=6) <= t - T0 < dt.timedelta(days=1, hours=12)
        d = slow_ms if slow else 800 + (i % 7) * 30
        ex = w.execution(wf, t, duration_ms=d + 200)
        w.step(ex, "Prepare", t, key="p", duration_ms=100)
        w.step(ex, "Approve", ms(t, 100), key="a", prev="p", duration_ms=d, resource=TOKEN if callback else None)
    return w


@pytest.mark.parametrize("slow_ms, callback, flagged", [
    (3_000, False, True),       # 3x the usual p95: a slow task
    (3_000, True, False),       # the same for a callback is within its normal spread
    (9_000, True, True),        # 9x: a callback far beyond its usual wait is still slow
    (9_000, False, True),
], ids=["task-3x", "callback-3x", "callback-9x", "task-9x"])
def test_slow_step_allows_for_callback_spread(slow_ms, callback, flagged):
    f = of(analyze(callback_latency_world(slow_ms, callback=callback).tables(), since=T0, until=UNTIL, now=UNTIL),
           "slow_step")
    assert (len(f) == 1) == flagged
    if flagged:
        ev = f.iloc[0].evidence
        assert f.iloc[0].step == "Approve" and ev["callback"] == callback
        names = [d["step"] for d in ev["dominant_steps"]] + [d["step"] for d in ev["callback_waits"]]
        assert sorted(names) == ["Approve", "Prepare"]
        assert [d["step"] for d in ev["callback_waits"]] == (["Approve"] if callback else [])


def drift_world(w: World | None = None) -> World:
    """approvals: 1 s approvals in the previous 2 days, 3 s in the window (a .waitForTaskToken wait)."""
    w = w or World()
    wf = w.workflow("approvals")
    for i in range(96):                          # previous window: 1 s runs; window: 3 s runs
        t = T0 - 2 * DAY + dt.timedelta(minutes=60 * i)
        d = 3000 if t >= T0 else 1000
        ex = w.execution(wf, t, duration_ms=d + 500)
        w.step(ex, "Prepare", t, key="p", duration_ms=500)
        w.step(ex, "Approve", ms(t, 500), key="a", prev="p", duration_ms=d, resource=TOKEN)
    return w


def test_latency_drift_reports_dominant_steps_and_callback_waits():
    f = of(run(drift_world()), "latency_drift")
    assert len(f) == 1
    ev = f.iloc[0].evidence
    assert ev["dominant_steps"] == steps(("Prepare", 500 / 3500, 500))
    assert ev["callback_waits"] == steps(("Approve", 3000 / 3500, 3000))
    assert ev["grown_steps"][0]["step"] == "Approve"


def test_critical_path_is_read_once_for_slow_steps_and_drift(monkeypatch):
    """A slow step in one workflow and drift in another: one read of the critical path serves both,
    and each finding's path is the one its workflow has alone."""
    from flowscope.analysis import latency

    alone = {kind: of(run(world), kind).iloc[0].evidence for kind, world in [
        ("slow_step", callback_latency_world(3_000, callback=False, name="checkout")),
        ("latency_drift", drift_world())]}
    calls = []
    real = latency.critical_path
    monkeypatch.setattr(latency, "critical_path", lambda ctx, wfs: calls.append(sorted(set(wfs))) or real(ctx, wfs))
    both = run(drift_world(callback_latency_world(3_000, callback=False, name="checkout")))
    assert [len(c) for c in calls] == [2]
    for kind in ("slow_step", "latency_drift"):
        got = of(both, kind)
        assert len(got) == 1
        for key in ("dominant_steps", "callback_waits"):
            assert got.iloc[0].evidence[key] == alone[kind][key]


def test_critical_path_reads_the_steps_once(monkeypatch):
    """The critical path's four readers of the window's steps (the visits, their branches, the containers,
    the parents) share one read (`execute(..., shared_reads=True)`: one common table expression, which
    DuckDB materializes once), where Ibis's select fusion folded it into each reader: four scans."""
    import contextlib

    import ibis

    from flowscope.analysis import base, latency
    w, key = one(parallel)
    compiled = []
    real = latency.execute

    def spy(expr, **kw):
        with base._select_fusion_off() if kw.get("shared_reads") else contextlib.nullcontext():
            compiled.append(str(ibis.to_sql(expr, dialect="duckdb")))
        return real(expr, **kw)

    monkeypatch.setattr(latency, "execute", spy)
    got = critical_path(ctx_of(w), [key])[key]
    assert [s["step"] for s in got["dominant_steps"]] == ["X", "A", "Y"]
    assert len(compiled) == 1 and compiled[0].count('FROM "steps"') == 1


def test_select_fusion_comes_back_after_nested_failing_and_concurrent_blocks():
    """`shared_reads` turns a process-wide Ibis option off: it is restored when the last block leaves, whether
    blocks nest, fail or overlap in two threads."""
    import threading

    import ibis

    from flowscope.analysis import base
    assert ibis.options.sql.fuse_selects is True
    with pytest.raises(RuntimeError), base._select_fusion_off():
        with base._select_fusion_off():
            assert ibis.options.sql.fuse_selects is False
        assert ibis.options.sql.fuse_selects is False
        raise RuntimeError("a query failed")
    assert ibis.options.sql.fuse_selects is True
    inside, leave = threading.Event(), threading.Event()

    def other():
        with base._select_fusion_off():
            inside.set()
            leave.wait(5)

    t = threading.Thread(target=other)
    t.start()
    inside.wait(5)
    with base._select_fusion_off():
        pass
    assert ibis.options.sql.fuse_selects is False, "the other thread's block is still open"
    leave.set()
    t.join(5)
    assert ibis.options.sql.fuse_selects is True
