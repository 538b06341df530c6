"""The dashboard prices usage on the day the analyses do: the window's end (analysis/cost.py prices
with `on=ctx.until.date()`), not today. A price change after the window ends must not move the
window's spend on the page, and a change inside it applies to the whole window, as in the engine."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pandas as pd
import pytest

from flowscope.analysis import cost, pricing
from flowscope.analysis import tables as q
from flowscope.analysis.suite import build_context
from flowscope.model import TABLES, UTC, C, Meter
from flowscope.store import Store
from flowscope.ui.components import tile_usd
from flowscope.ui.filters import STATE_FILTERS
from tests.ui.helpers import build
from tests.ui.test_pages import app, no_exception, open_page

END = dt.datetime(2026, 6, 1, 0, 0, tzinfo=UTC)    # the data ends months before today


def changed_prices(after_end: dt.date, inside: dt.date) -> tuple[pricing.Price, ...]:
    """Today's list plus two dated changes: AWS transitions x10 after the window ends, GCP internal
    steps x3 from a day inside it."""
    return (*pricing.PRICES,
            pricing.Price(Meter.AWS_SFN_STATE_TRANSITION, after_end, 0.25 / 1000, free_per_month=4000),
            pricing.Price(Meter.GCP_WORKFLOWS_INTERNAL_STEP, inside, 0.03 / 1000, free_per_month=5000))


@pytest.fixture(scope="module")
def dated_store(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("ui-price-date")
    Store(path).write(build(120, end=END, days=6, seed=21, failed_scope=False))
    return str(path)


@pytest.fixture()
def new_prices(monkeypatch):
    monkeypatch.setattr(pricing, "PRICES", changed_prices(END.date() + dt.timedelta(days=20),
                                                          END.date() - dt.timedelta(days=2)))


def engine_costs(path: str, f: q.Filters) -> pd.DataFrame:
    """The analyses' spend per workflow for the same window (Ibis over the store's tables)."""
    store = Store.open(path)
    ctx = build_context({name: store.table(name) for name in TABLES}, since=f.since, until=f.until,
                        clouds=list(f.clouds) or None)
    costs = cost.workflow_costs(ctx)
    return costs.groupby([C.cloud, C.workflow_id], as_index=False)["usd"].sum()


def today_priced(path: str, f: q.Filters) -> float:
    """What the old rule (today's price list) gives for the same window: the figure that must differ."""
    store = Store.open(path)
    ctx = build_context({name: store.table(name) for name in TABLES}, since=f.since, until=f.until)
    usage = pricing.priced_usage(ctx.in_window(ctx.table("usage")), cost.kinds_table(ctx), on=dt.date.today())
    return float(usage.aggregate(total=usage.usd.sum()).execute()["total"].iloc[0])


def test_dated_price_rows_equal_the_list_of_each_day(new_prices):
    frame = q.dated_price_frame()
    for day in (dt.date(2021, 5, 1), END.date() - dt.timedelta(days=2), END.date(),
                END.date() + dt.timedelta(days=20), dt.date(2099, 1, 1)):
        valid = frame[(frame["p_from"] <= day) & (day < frame["p_to"])]
        picked = valid.drop(columns=["p_from", "p_to"]).sort_values(["p_meter", "p_region"]).reset_index(drop=True)
        expected = q.price_frame(day).sort_values(["p_meter", "p_region"]).reset_index(drop=True)
        pd.testing.assert_frame_equal(picked, expected, check_dtype=False)


def test_window_spend_is_priced_at_the_windows_end_like_the_analyses(dated_store, new_prices):
    f = q.Filters(END - dt.timedelta(days=7), END)
    con = q.prepare(Store.open(dated_store).connect().cursor())
    page = q.workflow_table(con, f).set_index([C.cloud, C.workflow_id])["cost_usd"]
    engine = engine_costs(dated_store, f).set_index([C.cloud, C.workflow_id])["usd"]
    assert page.to_dict() == pytest.approx(engine.to_dict(), rel=1e-12)
    total = q.overview_by_cloud(con, f).iloc[-1]["cost_usd"]
    assert total == pytest.approx(engine.sum(), rel=1e-12)
    # the old rule (today's list) prices AWS ten times higher: it disagreed with the engine
    assert abs(today_priced(dated_store, f) - engine.sum()) > 0.01 * engine.sum()
    # a change inside the window applies to all of it (the analyses' rule), the one after it to none
    gcp = q.cost_drivers(con, dataclasses.replace(f, clouds=("gcp",)))
    internal = gcp[gcp[C.meter] == Meter.GCP_WORKFLOWS_INTERNAL_STEP.value]
    expected = (internal[C.quantity] * 0.03 / 1000).tolist()
    assert len(internal) and internal["cost_usd"].tolist() == pytest.approx(expected)
    aws = q.cost_drivers(con, dataclasses.replace(f, clouds=("aws",)))
    assert len(aws) and aws["cost_usd"].tolist() == pytest.approx((aws[C.quantity] * 0.025 / 1000).tolist())


def test_a_later_window_gets_the_later_price(dated_store, new_prices):
    late = q.Filters(END - dt.timedelta(days=7), END + dt.timedelta(days=30))
    con = q.prepare(Store.open(dated_store).connect().cursor())
    aws = q.cost_drivers(con, dataclasses.replace(late, clouds=("aws",)))
    assert len(aws) and aws["cost_usd"].tolist() == pytest.approx((aws[C.quantity] * 0.25 / 1000).tolist())
    engine = engine_costs(dated_store, late)
    assert q.overview_by_cloud(con, late).iloc[-1]["cost_usd"] == pytest.approx(engine["usd"].sum(), rel=1e-12)


def test_overview_spend_is_the_engines_after_a_price_change(dated_store, new_prices, monkeypatch):
    at = open_page(app(dated_store, monkeypatch), "overview")
    no_exception(at)
    f = at.session_state[STATE_FILTERS]
    assert f.until.date() < END.date() + dt.timedelta(days=20), "the window ends before the change"
    spend = [m.value for m in at.metric if m.label == "Spend in window"][-1]
    assert spend == tile_usd(engine_costs(dated_store, f)["usd"].sum())
    assert spend != tile_usd(today_priced(dated_store, f))
