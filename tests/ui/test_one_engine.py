"""One engine for every number: each page's headline figures equal the analysis layer's for the same
filters, for all clouds and for one cloud (issue 11)."""

from __future__ import annotations

from typing import Any

import pytest

from flowscope.analysis import analyze, measures
from flowscope.analysis import tables as q
from flowscope.analysis.base import Thresholds
from flowscope.format import fmt_pct
from flowscope.model import TABLES
from flowscope.store import Store
from flowscope.ui.components import tile_usd
from flowscope.ui.filters import STATE_FILTERS
from tests.ui.test_pages import app, no_exception, open_page

SCOPES = [pytest.param({}, id="all-clouds"), pytest.param({"cloud": "aws"}, id="one-cloud")]


class Engine:
    """The analysis layer over the page's store and filters, called directly (no Streamlit)."""

    def __init__(self, path: str, f: q.Filters) -> None:
        self.store, self.f = Store.open(path), f
        self.con = q.prepare(self.store.connect().cursor())

    def findings(self) -> Any:
        f = self.f
        return analyze({name: self.store.table(name) for name in TABLES}, since=f.since, until=f.until,
                       clouds=list(f.clouds) or None, workflows=list(f.workflows) or None)

    def savings(self, kinds: tuple[str, ...] = measures.SAVING_KINDS) -> float:
        found = self.findings()
        return measures.potential_savings(found[found["kind"].isin(list(kinds))].to_dict("records"))


def shown(page: str, store: str, monkeypatch, params: dict[str, str]) -> tuple[Any, Engine]:
    at = open_page(app(store, monkeypatch, **params), page)
    no_exception(at)
    f = at.session_state[STATE_FILTERS]
    assert f.clouds == tuple(params.get("cloud", "").split(",")) if params else f.clouds == ()
    return at, Engine(store, f)


def last_metric(at: Any, label: str) -> str:
    values = [m.value for m in at.metric if m.label == label]
    assert values, f"no metric {label!r}: {[m.label for m in at.metric]}"
    return values[-1]


@pytest.mark.parametrize("params", SCOPES)
def test_overview_headlines_are_the_engines(params, three_cloud_store, monkeypatch):
    at, engine = shown("overview", three_cloud_store, monkeypatch, params)
    total = q.overview_by_cloud(engine.con, engine.f).iloc[-1]
    assert last_metric(at, "Executions") == f"{int(total['executions']):,}"
    assert last_metric(at, "Run failure rate") == fmt_pct(total["failure_rate"])
    assert last_metric(at, "Retries") == f"{int(total['retries']):,}"
    assert last_metric(at, "Spend in window") == tile_usd(total["cost_usd"])
    assert last_metric(at, "Projected monthly spend") == tile_usd(total["cost_usd"] * engine.f.monthly_factor)
    assert last_metric(at, "Potential savings per month") == tile_usd(engine.savings())
    assert not any(m.label == "Monthly dollars at stake" for m in at.metric), "no sum of unlike figures"


@pytest.mark.parametrize("params", SCOPES)
def test_workflows_headlines_are_the_engines(params, three_cloud_store, monkeypatch):
    at, engine = shown("workflows", three_cloud_store, monkeypatch, params)
    table = q.workflow_table(engine.con, engine.f)
    assert last_metric(at, "Workflows") == f"{len(table):,}"
    assert last_metric(at, "Runs") == f"{int(table['runs'].sum()):,}"
    assert last_metric(at, "Workflows with failures") == f"{int((table['failed'] > 0).sum()):,}"
    assert last_metric(at, "Spend in window") == tile_usd(table["cost_usd"].sum())


@pytest.mark.parametrize("params", SCOPES)
def test_retries_headlines_are_the_engines(params, three_cloud_store, monkeypatch):
    at, engine = shown("retries", three_cloud_store, monkeypatch, params)
    over = q.retries_over_time(engine.con, engine.f)
    delays = q.mark_lockstep(q.retry_delays(engine.con, engine.f), Thresholds())
    found = engine.findings()
    assert last_metric(at, "Retries") == f"{int(over['retries'].sum()):,}"
    assert last_metric(at, "Retry storms") == f"{int((found['kind'] == 'retry_storm').sum()):,}"
    ticked = next(df.value for df in at.dataframe if "lockstep" in df.value.columns)
    assert last_metric(at, "Steps retrying in lockstep") == f"{q.lockstep_steps(delays):,}"
    ticked_steps = ticked.loc[ticked["lockstep"], ["cloud", "workflow", "step"]].drop_duplicates()
    assert last_metric(at, "Steps retrying in lockstep") == f"{len(ticked_steps):,}", \
        "the count is the steps the table ticks"


@pytest.mark.parametrize("params", SCOPES)
def test_cost_headlines_are_the_engines(params, three_cloud_store, monkeypatch):
    at, engine = shown("cost", three_cloud_store, monkeypatch, params)
    total = q.overview_by_cloud(engine.con, engine.f).iloc[-1]
    drivers = q.cost_drivers(engine.con, engine.f)
    assert last_metric(at, "Spend in window") == tile_usd(total["cost_usd"])
    assert last_metric(at, "Projected monthly spend") == tile_usd(total["cost_usd"] * engine.f.monthly_factor)
    assert last_metric(at, "Spent on retries") == tile_usd(drivers["total_retry_usd"].iloc[0])
    savings = engine.savings()
    if savings:
        assert last_metric(at, "Savings the analyses found") == f"{tile_usd(savings)}/month"


@pytest.mark.parametrize("params", SCOPES)
def test_step_failure_rate_is_the_findings(params, three_cloud_store, monkeypatch):
    """The failing_step finding and the per-step tables report one measure: failed visits (caught
    included) over visits, for the same window."""
    _at, engine = shown("failures", three_cloud_store, monkeypatch, params)
    found = engine.findings()
    steps = q.failing_steps(engine.con, engine.f, limit=1000).set_index(["cloud", "workflow_id", "step"])
    checked = 0
    for r in found[found["kind"] == "failing_step"].itertuples(index=False):
        ev = r.evidence if isinstance(r.evidence, dict) else q.parse_json(r.evidence)
        row = steps.loc[(r.cloud, r.workflow_id, r.step)]
        assert (int(row["visits"]), int(row["failures"])) == (ev["visits"], ev["failures"])
        assert row["failure_rate"] == pytest.approx(ev["failure_rate"])
        checked += 1
    assert checked, "the synthetic store has failing steps"


def test_projection_uses_the_analyses_month(three_cloud_store):
    f = q.Filters(*_window(three_cloud_store), month_days=28.0)
    assert f.monthly_factor == pytest.approx(measures.monthly_factor(f.days, 28.0))
    assert f.previous().month_days == 28.0


def _window(path: str) -> tuple[Any, Any]:
    summary = q.store_summary(q.prepare(Store.open(path).connect().cursor()))
    return summary["first"], summary["last"]


def test_savings_are_counted_once():
    found = [
        {"kind": "costly_step", "cloud": "aws", "workflow_id": "w1", "step": "A", "monthly_usd": 5.0},
        {"kind": "polling_loop", "cloud": "aws", "workflow_id": "w1", "step": "A", "monthly_usd": 3.0},
        {"kind": "costly_step", "cloud": "aws", "workflow_id": "w1", "step": "B", "monthly_usd": 2.0},
        {"kind": "express_candidate", "cloud": "aws", "workflow_id": "w1", "step": None, "monthly_usd": 4.0},
        {"kind": "plan_what_if", "cloud": "azure", "workflow_id": "w2", "step": None, "monthly_usd": 50.0},
        {"kind": "costly_step", "cloud": "azure", "workflow_id": "w2", "step": "C", "monthly_usd": 1.0},
        {"kind": "retry_storm", "cloud": "gcp", "workflow_id": "w3", "step": "D", "monthly_usd": 9.0},
        {"kind": "plan_what_if", "cloud": "azure", "workflow_id": "w4", "step": None, "monthly_usd": 175.0,
         "evidence": {"assumed_current_plan": True}},
    ]
    # w1: per step the largest saving (A: the polling loop's 3; a costly step's monthly_usd is its spend,
    # not a saving) = 3, beaten by its workflow-level 4; w2: 50 (its costly step is spend); retries are
    # spend; w4's saving is a plan fee assumed, not measured: listed, never summed into the headline.
    assert measures.potential_savings(found) == pytest.approx(54.0)
    found.append({"kind": "polling_loop", "cloud": "aws", "workflow_id": "w1", "step": "B", "monthly_usd": 2.5})
    assert measures.potential_savings(found) == pytest.approx(55.5)        # w1: steps 3 + 2.5 beat the 4


def test_a_window_wider_than_the_data_projects_over_the_data(three_cloud_store, monkeypatch):
    """A 30-day window over a store of 6 days: the month is projected from the days the data speaks for
    (`measures.measured_days`), on the Cost page and in the analyses alike. Both divided by the 30 days,
    so a store imported from a short history read a fifth of its monthly spend."""
    import datetime as dt

    from flowscope.analysis.suite import build_context

    at = open_page(app(three_cloud_store, monkeypatch, window="30d"), "cost")
    no_exception(at)
    f = at.session_state[STATE_FILTERS]
    first = _window(three_cloud_store)[0]
    assert first - f.since > dt.timedelta(days=20)                  # the window begins weeks before the data
    engine = Engine(three_cloud_store, f)
    ctx = build_context({name: engine.store.table(name) for name in TABLES}, since=f.since, until=f.until)
    data_days = (f.until - first).total_seconds() / 86400
    assert ctx.monthly_factor == pytest.approx(f.monthly_factor) == pytest.approx(30 / data_days)
    total = q.overview_by_cloud(engine.con, f).iloc[-1]
    assert last_metric(at, "Projected monthly spend") == tile_usd(total["cost_usd"] * 30 / data_days)


@pytest.mark.parametrize("params", SCOPES)
def test_cost_per_execution_is_the_engines(params, three_cloud_store, monkeypatch):
    """The Cost page divided spend by executions itself; the measure is `measures.per_execution`."""
    at, engine = shown("cost", three_cloud_store, monkeypatch, params)
    total = q.overview_by_cloud(engine.con, engine.f).iloc[-1]
    per_run = measures.per_execution(total["cost_usd"], total["executions"])
    assert per_run is not None and per_run > 0
    assert last_metric(at, "Cost per execution") == tile_usd(per_run)


def test_per_execution_and_amplification_have_no_value_without_a_run_or_a_try():
    assert measures.per_execution(0.0, 0) is None, "no run: no cost per run, never $0.00 as if runs were free"
    assert measures.per_execution(3.0, 4) == 0.75
    assert measures.amplification(0, 0) is None, "no try: no amplification, never an impossible 0.00x"
    assert measures.amplification(30, 20) == 1.5


@pytest.mark.parametrize("params", SCOPES)
def test_retry_amplification_is_the_engines(params, three_cloud_store, monkeypatch):
    """The Retries page computed its amplification from tries and retries itself (tries / first tries):
    the engine's `tables.retry_totals` now says it, and the per-step column is the same measure."""
    at, engine = shown("retries", three_cloud_store, monkeypatch, params)
    totals = q.retry_totals(q.retries_over_time(engine.con, engine.f))
    assert totals.amplification is not None and totals.amplification > 1
    assert last_metric(at, "Retries") == f"{totals.retries:,}"
    assert last_metric(at, "Amplification") == f"{totals.amplification:.2f}×"
    steps = q.amplification(engine.con, engine.f, 1000)
    assert steps["amplification"].tolist() == [measures.amplification(t, v) for t, v in
                                               zip(steps["tries"], steps["visits"], strict=True)]


@pytest.mark.parametrize("params", SCOPES)
def test_steps_slower_is_the_engines(params, three_cloud_store, monkeypatch):
    """The Latency page picked its "Steps slower than last window" rows itself (drift >= the ratio):
    the engine's `tables.slower_steps` now does, with the analyses' latency_drift_ratio."""
    at = open_page(app(three_cloud_store, monkeypatch, window="24h", **params), "latency")   # 6 days: compared
    no_exception(at)
    engine = Engine(three_cloud_store, at.session_state[STATE_FILTERS])
    ratio = Thresholds().latency_drift_ratio
    steps = q.latency_by_step(engine.con, engine.f, 2000, compare=True)
    slower = q.slower_steps(steps, ratio)
    assert steps["drift"].notna().any() and set(slower.index) <= set(steps.index)
    assert (slower["drift"] >= ratio).all() and not (steps.drop(slower.index)["drift"] >= ratio).any()
    assert last_metric(at, f"Steps slower than last window (≥{ratio:g}× p95)") == f"{len(slower):,}"


@pytest.mark.parametrize("params", SCOPES)
def test_cost_retry_figures_are_the_engines(params, three_cloud_store, monkeypatch):
    """The Cost page projected its retry spend itself (retry dollars x the month's factor, summed per step
    for its chart, times the slider's cut for the what-if): `tables.retry_spend` is the engine's."""
    at, engine = shown("cost", three_cloud_store, monkeypatch, params)
    drivers = q.cost_drivers(engine.con, engine.f)
    spend = q.retry_spend(drivers, engine.f)
    assert spend.usd > 0 and spend.monthly_usd == pytest.approx(spend.usd * engine.f.monthly_factor)
    assert last_metric(at, "Spent on retries") == tile_usd(spend.usd)
    assert last_metric(at, "Monthly saving from fewer retries") == tile_usd(spend.monthly_usd * 50 / 100)
    by_step = spend.by_step.set_index("label")["monthly_usd"]
    assert by_step.sum() == pytest.approx(drivers["retry_usd"].sum() * engine.f.monthly_factor)


def test_a_retry_not_ticked_as_lockstep_says_why(three_cloud_store, monkeypatch):
    """The Retries table ticked some retries "lockstep" and left others blank with no reason, so a row with
    a cv of 0.02 and no tick (too few runs) read as contradicting the count above. Every row not ticked now
    says why (`measures.lockstep_verdict`, the one rule the tick and the finding use); a ticked row says
    nothing."""
    at, _engine = shown("retries", three_cloud_store, monkeypatch, {})
    table = next(df.value for df in at.dataframe if "lockstep" in df.value.columns)
    assert "why_not_lockstep" in table.columns, table.columns
    unticked, ticked = table[~table["lockstep"]], table[table["lockstep"]]
    assert len(unticked) and len(ticked), "the fixture has both"
    assert (ticked["why_not_lockstep"] == "—").all()
    assert unticked["why_not_lockstep"].map(lambda s: isinstance(s, str) and s not in ("", "—")).all()
    th = Thresholds()
    few = measures.lockstep_verdict(0.01, 3, 2, 2_000.0, max_cv=th.sync_retry_max_cv,
                                    min_samples=th.sync_retry_min_samples,
                                    min_executions=th.sync_retry_min_executions)
    assert few == f"3 retries (fewer than {th.sync_retry_min_samples}); 2 runs (fewer than 5)", few
    assert measures.lockstep_verdict(0.4, 50, 50, 2_000.0, max_cv=0.1, min_samples=20,
                                     min_executions=5) == "delays spread (cv 0.40, at least 0.10): jittered"
    assert measures.lockstep_verdict(float("nan"), 50, 50, 0.0, max_cv=0.1, min_samples=20,
                                     min_executions=5) == "no delay to spread (mean 0 ms, under 100 ms)"
    assert measures.lockstep_verdict(0.01, 50, 50, 2_000.0, max_cv=0.1, min_samples=20, min_executions=5) is None
