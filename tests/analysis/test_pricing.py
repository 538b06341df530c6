import datetime as dt

import pytest

from flowscope.analysis import pricing
from flowscope.analysis.pricing import (
    express_billed_gb_seconds,
    express_cost,
    price,
    unit_price,
)
from flowscope.model import Kind, Meter

ON = dt.date(2026, 3, 1)


@pytest.mark.parametrize("transitions, usd", [
    (3_000, 0.0),                       # inside the 4,000 free transitions
    (4_000, 0.0),
    (104_000, 2.50),                    # 100,000 billable x $0.025 / 1,000
    (1_004_000, 25.00),
])
def test_standard_transitions_with_free_tier(transitions, usd):
    assert price(Meter.AWS_SFN_STATE_TRANSITION, transitions, on=ON) == pytest.approx(usd)


def test_standard_regional_price():
    assert price(Meter.AWS_SFN_STATE_TRANSITION, 1000, region="sa-east-1", free_tier=False, on=ON) \
        == pytest.approx(0.0375)
    assert unit_price(Meter.AWS_SFN_STATE_TRANSITION, region="eu-west-1", on=ON) == pytest.approx(0.000025)


def test_express_duration_and_memory():
    # 1,000,000 runs of 1,250 ms at 100 MB: 1,300 ms billed x 128 MB (two 64 MB chunks).
    gb_s = express_billed_gb_seconds(1250, 100)
    assert gb_s == pytest.approx(1.3 * 0.125)
    total_gb_s = gb_s * 1_000_000                # 162,500 GB-s, inside the first 1,000 GB-hours tier
    usd = express_cost(1_000_000, total_gb_s, on=ON)
    assert usd == pytest.approx(1.00 + 162_500 * 0.00001667)


def test_express_gb_second_tiers():
    first = 1000 * 3600.0
    usd = price(Meter.AWS_SFN_EXPRESS_GB_SECOND, first + 3600.0, on=ON)
    assert usd == pytest.approx(first * 0.00001667 + 3600 * 0.00000833)


def test_logic_apps_loop_of_ten_items_is_eleven_executions():
    # A For_each over 10 items with one built-in action inside: 1 loop action + 10 inner = 11 executions.
    executions = 1 + 10
    assert price(Meter.AZURE_LOGIC_BUILTIN_ACTION, executions, free_tier=False, on=ON) \
        == pytest.approx(11 * 0.000025)
    # The same with a standard connector inside: 1 built-in (loop) + 10 connector calls.
    usd = (price(Meter.AZURE_LOGIC_BUILTIN_ACTION, 1, free_tier=False, on=ON)
           + price(Meter.AZURE_LOGIC_STANDARD_CONNECTOR, 10, on=ON))
    assert usd == pytest.approx(0.000025 + 10 * 0.000125)
    assert price(Meter.AZURE_LOGIC_ENTERPRISE_CONNECTOR, 10, on=ON) == pytest.approx(0.01)


def test_logic_apps_free_builtin_and_standard_plan():
    assert price(Meter.AZURE_LOGIC_BUILTIN_ACTION, 4_000, on=ON) == 0.0
    assert price(Meter.AZURE_LOGIC_BUILTIN_ACTION, 5_000, on=ON) == pytest.approx(1000 * 0.000025)
    # Standard-kind built-in actions cost nothing per action: the plan is billed per hour.
    assert price(Meter.AZURE_LOGIC_BUILTIN_ACTION, 1_000_000, kind=Kind.LOGICAPP_STANDARD, on=ON) == 0.0
    assert pricing.standard_plan_monthly(1, 3.5, on=ON) == pytest.approx((0.192 + 3.5 * 0.0137) * 730)


@pytest.mark.parametrize("meter, qty, usd", [
    (Meter.GCP_WORKFLOWS_INTERNAL_STEP, 5_000, 0.0),
    (Meter.GCP_WORKFLOWS_INTERNAL_STEP, 105_000, 1.00),
    (Meter.GCP_WORKFLOWS_EXTERNAL_STEP, 2_000, 0.0),
    (Meter.GCP_WORKFLOWS_EXTERNAL_STEP, 102_000, 2.50),
])
def test_gcp_steps(meter, qty, usd):
    assert price(meter, qty, on=ON) == pytest.approx(usd)


@pytest.mark.parametrize("meter, qty, usd", [
    (Meter.GCP_WORKFLOWS_INTERNAL_STEP, 5_001, 0.01),       # one step past the free tier: one increment
    (Meter.GCP_WORKFLOWS_INTERNAL_STEP, 6_000, 0.01),
    (Meter.GCP_WORKFLOWS_INTERNAL_STEP, 6_001, 0.02),
    (Meter.GCP_WORKFLOWS_EXTERNAL_STEP, 2_500, 0.025),
    (Meter.GCP_WORKFLOWS_EXTERNAL_STEP, 1_500, 0.0),
])
def test_gcp_steps_are_charged_in_increments_of_1000(meter, qty, usd):
    """[GCP-WF] "You incur charges for increments of 1,000 internal steps or external steps": 5,001 internal
    steps a month cost one increment, $0.01 (they read $0.00001, a thousandth of it)."""
    assert price(meter, qty, on=ON) == pytest.approx(usd)
    assert price(meter, 500, on=ON, free_tier=False) == pytest.approx(unit_price(meter, on=ON) * 1000)


def test_logic_apps_free_builtin_operations_are_shared_by_triggers_and_actions():
    """[AZ-LA] The free built-in operations are per subscription, triggers and actions together: 3,000 built-in
    trigger runs alone cost $0.075 (no free tier), and beside 3,000 built-in actions the month billed
    3,000 triggers where 2,000 operations are past the 4,000 free ones."""
    assert price(Meter.AZURE_LOGIC_BUILTIN_TRIGGER, 3_000, on=ON) == 0.0
    bill = pricing.monthly_bill({Meter.AZURE_LOGIC_BUILTIN_ACTION: 3_000, Meter.AZURE_LOGIC_BUILTIN_TRIGGER: 3_000},
                                on=ON)
    assert bill == pytest.approx(2_000 * 0.000025)
    # meters outside the pool keep their own terms
    assert pricing.monthly_bill({Meter.AZURE_LOGIC_BUILTIN_ACTION: 1_000, Meter.AZURE_LOGIC_STANDARD_CONNECTOR: 10},
                                on=ON) == pytest.approx(10 * 0.000125)
    assert pricing.monthly_bill({Meter.GCP_WORKFLOWS_INTERNAL_STEP: 5_001, Meter.AWS_SFN_STATE_TRANSITION: 5_000},
                                on=ON) == pytest.approx(0.01 + 1_000 * 0.000025)


def test_every_meter_has_a_price():
    for meter in Meter:
        assert unit_price(meter, on=ON) >= 0


def test_priced_usage_in_the_engine():
    import ibis
    import pandas as pd

    from flowscope.model import C
    usage = ibis.memtable(pd.DataFrame({
        C.cloud: ["aws", "aws", "azure", "azure"], C.region: ["us-east-1", "sa-east-1", None, None],
        C.workflow_id: ["a", "a", "la-c", "la-s"], C.execution_id: ["1", "2", "3", "4"],
        C.meter: [Meter.AWS_SFN_STATE_TRANSITION, Meter.AWS_SFN_STATE_TRANSITION,
                  Meter.AZURE_LOGIC_BUILTIN_ACTION, Meter.AZURE_LOGIC_BUILTIN_ACTION],
        C.quantity: [1000.0, 1000.0, 10.0, 10.0]}))
    kinds = ibis.memtable(pd.DataFrame({C.cloud: ["aws", "azure", "azure"], C.workflow_id: ["a", "la-c", "la-s"],
                                        C.kind: [Kind.SFN_STANDARD, Kind.LOGICAPP_CONSUMPTION,
                                                 Kind.LOGICAPP_STANDARD]}))
    df = pricing.priced_usage(usage, kinds, on=ON).execute().sort_values(C.execution_id)
    assert df["usd"].round(8).tolist() == [0.025, 0.0375, 0.00025, 0.0]


def test_express_billing_rule_is_the_same_in_python_and_in_the_engine():
    import ibis

    cases = [(0, None), (1, 1), (99, 64), (100, 65), (1250, 100), (61_000, 128), (250.5, 0)]
    t = ibis.memtable({"d": [float(d) for d, _ in cases], "m": [None if m is None else float(m) for _, m in cases]})
    units = t.select(u=pricing.express_billed_units_expr(t.d, t.m)).to_pandas()["u"].tolist()
    assert all(isinstance(u, int) for u in units), "whole units: their sums are exact in any order"
    engine = [u * pricing.EXPRESS_GB_SECONDS_PER_UNIT for u in units]
    assert engine == pytest.approx([express_billed_gb_seconds(d, m) for d, m in cases])
    assert express_billed_gb_seconds(0) == pytest.approx(0.1 * 0.0625)     # AWS bills 100 ms at least
    assert express_billed_gb_seconds(100, 65) == pytest.approx(0.1 * 0.125)


@pytest.mark.parametrize("day, usd", [
    (dt.date(2019, 6, 1), 0.025),       # before the price list's first day: priced as of that day
    (dt.date(2020, 1, 1), 0.025),
    (dt.date(2026, 6, 1), 0.025),
])
def test_the_dashboard_prices_a_window_as_the_analyses_do_whatever_its_date(day, usd):
    """1,000 Standard transitions in us-east-1: $0.025 on the dashboard's SQL and in the engine alike."""
    from flowscope.analysis import tables as q
    from flowscope.model import UTC, C, StepType
    from tests.analysis.helpers import World, tables_from_rows

    start = dt.datetime(day.year, day.month, day.day, tzinfo=UTC)
    w = World()
    ex = w.execution(w.workflow("orders"), start + dt.timedelta(hours=1))
    w.step(ex, "Charge", ex[C.started_at], type=StepType.TASK, meter=Meter.AWS_SFN_STATE_TRANSITION, quantity=1000)
    t = tables_from_rows(w.rows)
    f = q.Filters(start, start + dt.timedelta(days=1))
    dashboard = q.overview_by_cloud(q.prepare(t["usage"].get_backend().con), f).iloc[-1]["cost_usd"]
    engine = pricing.priced_usage(t["usage"], t["workflows"], on=f.until.date()).usd.sum().execute()
    assert (dashboard, engine) == (pytest.approx(usd), pytest.approx(usd))


@pytest.mark.parametrize("kind, defined, usd", [
    (Kind.LOGICAPP_STANDARD, False, 0.0),        # known from its runs only: still paid in plan hours
    (Kind.LOGICAPP_STANDARD, True, 0.0),
    (Kind.LOGICAPP_CONSUMPTION, False, 0.025),   # 1,000 built-in actions x $0.000025
])
def test_the_dashboard_takes_a_workflows_kind_as_the_analyses_do(kind, defined, usd):
    from flowscope.analysis import tables as q
    from flowscope.analysis.cost import workflow_costs
    from flowscope.analysis.suite import build_context
    from flowscope.model import UTC, C, StepType
    from tests.analysis.helpers import World, tables_from_rows

    start = dt.datetime(2026, 6, 1, tzinfo=UTC)
    w = World()
    wf = "/subscriptions/s/resourcegroups/rg/providers/microsoft.web/sites/app1/workflows/ledger"
    if defined:
        w.workflow("ledger", cloud="azure", kind=kind, wf_id=wf)
    ex = w.execution(wf, start + dt.timedelta(hours=1), cloud="azure", kind=kind, name="ledger")
    w.step(ex, "Compose", ex[C.started_at], type=StepType.PASS, meter=Meter.AZURE_LOGIC_BUILTIN_ACTION, quantity=1000)
    t = tables_from_rows(w.rows)
    f = q.Filters(start, start + dt.timedelta(days=1))
    dashboard = q.overview_by_cloud(q.prepare(t["usage"].get_backend().con), f).iloc[-1]["cost_usd"]
    engine = workflow_costs(build_context(t, since=f.since, until=f.until, now=f.until))["usd"].sum()
    assert (dashboard, engine) == (pytest.approx(usd), pytest.approx(usd))


def test_an_empty_store_prices_nothing_on_the_dashboard():
    from flowscope.analysis import tables as q
    from flowscope.model import UTC
    from tests.analysis.helpers import World, tables_from_rows

    t = tables_from_rows(World().rows)
    start = dt.datetime(2026, 6, 1, tzinfo=UTC)
    total = q.overview_by_cloud(q.prepare(t["usage"].get_backend().con), q.Filters(start, start + dt.timedelta(days=1)))
    assert total.empty or float(total.iloc[-1]["cost_usd"] or 0) == 0.0


def test_usage_of_a_meter_without_a_price_is_said_not_priced_at_zero():
    """A store written by a newer flowscope (or tables given to `analyze`) holds a meter this price list
    does not know: its usage was priced $0 with nothing said (10,000 calls of a Logic App: no finding, a
    spend of $0). It is a collection_gap naming the meter, its units and the runs that used it."""
    import datetime as dt

    from flowscope.analysis import analyze
    from tests.analysis.helpers import T0, World, at

    w = World()
    wf = w.workflow("la", cloud="azure", kind=Kind.LOGICAPP_CONSUMPTION)
    for i in range(200):
        ex = w.execution(wf, at(minutes=10 * i), cloud="azure")
        w.step(ex, "Call", at(minutes=10 * i), meter="azure.logic.future_meter", quantity=50)
        w.step(ex, "Compose", at(minutes=10 * i, seconds=1), meter=Meter.AZURE_LOGIC_BUILTIN_ACTION)
    until = T0 + dt.timedelta(days=2)
    df = analyze(w.tables(), since=T0, until=until, now=until)
    gaps = df[df["kind"] == "collection_gap"]
    assert len(gaps) == 1
    row = gaps.iloc[0]
    assert (row.workflow, row.executions_affected, len(row.sample_execution_ids)) == ("la", 200, 5)
    assert row.evidence["unpriced_units"] == {"azure.logic.future_meter": 10_000.0}
    assert "azure.logic.future_meter" in row.title and "no price" in row.title


def test_a_standard_apps_unclassified_actions_are_said_not_counted_free():
    """A Logic Apps Standard workflow whose actions were stored before its definition was read
    (`azure.logic.unclassified_action`) counted them $0 with nothing said: as built-in operations they are
    free on the plan, but a managed connector call among them is billed per call. They are a
    collection_gap naming the units; a Consumption app's (priced as built-in actions, the cheapest) are not."""
    import datetime as dt

    from flowscope.analysis import analyze
    from tests.analysis.helpers import T0, World, at

    w = World()
    std = w.workflow("std", cloud="azure", kind=Kind.LOGICAPP_STANDARD)
    cons = w.workflow("cons", cloud="azure", kind=Kind.LOGICAPP_CONSUMPTION)
    for i in range(100):
        for wf in (std, cons):
            ex = w.execution(wf, at(minutes=10 * i), cloud="azure")
            w.step(ex, "Call", at(minutes=10 * i), meter=Meter.AZURE_LOGIC_UNCLASSIFIED_ACTION, quantity=3)
            w.step(ex, "Compose", at(minutes=10 * i, seconds=1), meter=Meter.AZURE_LOGIC_BUILTIN_ACTION)
    until = T0 + dt.timedelta(days=2)
    df = analyze(w.tables(), since=T0, until=until, now=until)
    gaps = df[df["kind"] == "collection_gap"]
    assert gaps["workflow"].tolist() == ["std"]
    row = gaps.iloc[0]
    assert row.evidence["unpriced_units"] == {"azure.logic.unclassified_action": 300.0}
    assert row.executions_affected == 100
    assert "unknown type" in row.title
