"""Cost and retry queries against plain SQL joins on a small store.

The dashboard groups usage by its `name` column instead of joining usage to steps, costs edges
visit by visit only for steps entered from several places, and prices summed quantities. These
tests check that the numbers equal the straightforward joins (usage x steps x steps, priced row
by row), on a store whose usage rows carry `name` and on one written before that column existed.
"""

from __future__ import annotations

import copy
import datetime as dt

import pandas as pd
import pytest

from flowscope.analysis import tables as q
from flowscope.model import UTC, C
from flowscope.store import Store
from tests.ui.helpers import build

END = dt.datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def _named(batch):
    """The same batch with usage.name filled from the steps (what collectors write now)."""
    out = copy.deepcopy(batch)
    names = {(s[C.cloud], s[C.execution_id], s[C.step_key]): s[C.name] for s in out.steps}
    for row in out.usage:
        row[C.name] = names.get((row[C.cloud], row[C.execution_id], row[C.step_key]))
    return out


def _skips(batch):
    """Every other execution skips a step (its next step's previous is the one before): that
    next step is then entered from two places, which edge_cost costs visit by visit."""
    by_key = {(s[C.cloud], s[C.execution_id], s[C.step_key]): s for s in batch.steps}
    executions = sorted({(s[C.cloud], s[C.execution_id]) for s in batch.steps})
    for cloud, execution_id in executions[::2]:
        for step in batch.steps:
            if (step[C.cloud], step[C.execution_id]) != (cloud, execution_id) or not step[C.previous_step_key]:
                continue
            before = by_key.get((cloud, execution_id, step[C.previous_step_key]))
            if before is not None and before[C.previous_step_key]:
                step[C.previous_step_key] = before[C.previous_step_key]
                break
    return batch


@pytest.fixture(scope="module", params=["named", "null-names"])
def con(request, tmp_path_factory):
    batch = _skips(build(120, end=END, days=6, seed=11))
    if request.param == "named":
        batch = _named(batch)
    else:
        assert all(row.get(C.name) is None for row in batch.usage)
    path = tmp_path_factory.mktemp(f"cost-{request.param}")
    Store(path).write(batch)
    connection = q.prepare(Store(path).connect())
    # the store reads usage.name whether or not it was written
    assert "name" in connection.execute("SELECT * FROM usage LIMIT 0").df().columns
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def window():
    return q.Filters(END - dt.timedelta(days=8), END + dt.timedelta(hours=1))


def _plain(con, f: q.Filters, sql: str) -> pd.DataFrame:
    """A plain join over usage priced row by row (priced_usage_sql) and the whole steps table."""
    return q.run(con, q.q(sql, priced=q.priced_usage_sql(f)), f.params())


def _close(left: pd.DataFrame, right: pd.DataFrame, keys: list[str], cols: list[str]) -> None:
    merged = left.merge(right, on=keys, how="outer", suffixes=("", "_ref"), indicator=True)
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"]
    for col in cols:
        assert merged[col].to_numpy() == pytest.approx(merged[f"{col}_ref"].to_numpy(), rel=1e-9, abs=1e-12), col


def test_cost_by_step_equals_the_plain_join(con, window):
    ref = _plain(con, window, """
        SELECT u.{cloud}, u.{workflow_id}, coalesce(s.{name}, '(per execution)') AS step, u.{meter},
               sum(u.{quantity}) AS quantity, sum(u.usd) AS cost_usd,
               sum(CASE WHEN s.{attempts} > 1 THEN u.usd * (s.{attempts} - 1) / s.{attempts} ELSE 0 END) AS retry_usd
        FROM ({priced}) u LEFT JOIN steps s
             ON s.{cloud} = u.{cloud} AND s.{execution_id} = u.{execution_id} AND s.{step_key} = u.{step_key}
        GROUP BY ALL""")
    assert len(ref) > 10 and ref["retry_usd"].sum() > 0 and ref["cost_usd"].sum() > 0
    got = q.cost_drivers(con, window, limit=10_000)
    keys = [C.cloud, C.workflow_id, "step", C.meter]
    _close(got[keys + ["quantity", "cost_usd", "retry_usd"]], ref, keys, ["quantity", "cost_usd", "retry_usd"])
    assert got["share"].sum() == pytest.approx(1.0)
    top = q.cost_drivers(con, window, limit=3)
    assert top["total_retry_usd"].iloc[0] == pytest.approx(ref["retry_usd"].sum()), "all retries, not the top 3"
    assert list(got["cost_usd"]) == sorted(got["cost_usd"], reverse=True)
    assert q.cost_drivers(con, window, limit=5)["cost_usd"].tolist() == got["cost_usd"].head(5).tolist()


def test_cost_drivers_count_executions_exactly(con, window):
    """The costly-steps table (dashboard and report) counted a step's executions with HyperLogLog: a few
    percent off the exact count, which the finding about the same step shows (1,266 against 1,231)."""
    ref = _plain(con, window, """
        SELECT u.{cloud}, u.{workflow_id}, coalesce(s.{name}, '(per execution)') AS step, u.{meter},
               count(DISTINCT u.{execution_id}) AS exact
        FROM ({priced}) u LEFT JOIN steps s
             ON s.{cloud} = u.{cloud} AND s.{execution_id} = u.{execution_id} AND s.{step_key} = u.{step_key}
        GROUP BY ALL""")
    keys = [C.cloud, C.workflow_id, "step", C.meter]
    for limit in (10_000, 5):
        got = q.cost_drivers(con, window, limit=limit).merge(ref, on=keys, how="left")
        assert len(got) and got["executions"].tolist() == got["exact"].tolist()
        assert got["executions"].dtype == "int64"


def test_cost_totals_equal_the_plain_sum(con, window):
    ref = _plain(con, window, "SELECT {cloud}, sum(usd) AS cost_usd FROM ({priced}) GROUP BY ALL")
    over = q.overview_by_cloud(con, window)
    _close(over[over[C.cloud] != "total"][[C.cloud, "cost_usd"]], ref, [C.cloud], ["cost_usd"])
    for by in ("cloud", "workflow", "meter", "step"):
        series = q.cost_over_time(con, window, by)
        assert series["cost_usd"].sum() == pytest.approx(ref["cost_usd"].sum(), rel=1e-9), by
    steps = q.cost_over_time(con, window, "step", top=3)
    assert steps["key"].nunique() == 4 and "other" in set(steps["key"])


def test_step_metrics_cost_equals_the_plain_join(con, window):
    for cloud, workflow_id in q.run(con, "SELECT DISTINCT cloud, workflow_id FROM steps").itertuples(index=False):
        ref = _plain(con, window, f"""
            SELECT s.{{name}} AS step, sum(u.usd) AS cost_usd
            FROM ({{priced}}) u JOIN steps s ON s.{{cloud}} = u.{{cloud}} AND s.{{execution_id}} = u.{{execution_id}}
                 AND s.{{step_key}} = u.{{step_key}}
            WHERE u.{{cloud}} = '{cloud}' AND u.{{workflow_id}} = '{workflow_id}' GROUP BY ALL""")
        got = q.step_metrics(con, window, cloud, workflow_id)
        _close(got[got["cost_usd"] > 0][["step", "cost_usd"]], ref, ["step"], ["cost_usd"])


def test_edge_cost_equals_the_plain_join(con, window):
    """The edge rule written out by hand: a visit comes from its previous step, else its container; the
    work a container of the same name wraps (a GCP try's call) is the container's visit, not an edge."""
    ref = _plain(con, window, """
        WITH own AS (SELECT k.{cloud}, k.{execution_id}, k.{step_key}, b.{step_key} AS box
                     FROM steps k JOIN steps b ON b.{cloud} = k.{cloud} AND b.{execution_id} = k.{execution_id}
                                                AND b.{step_key} = k.{parent_step_key} AND b.{name} = k.{name}
                     WHERE k.{previous_step_key} IS NULL)
        SELECT s.{cloud}, s.{workflow_id}, coalesce(p.{name}, '(start)') AS source, s.{name} AS target,
               count(DISTINCT (s.{execution_id}, s.{step_key})) AS transitions, sum(u.usd) AS cost_usd
        FROM ({priced}) u
        LEFT JOIN own o ON o.{cloud} = u.{cloud} AND o.{execution_id} = u.{execution_id} AND o.{step_key} = u.{step_key}
        JOIN steps s ON s.{cloud} = u.{cloud} AND s.{execution_id} = u.{execution_id}
                    AND s.{step_key} = coalesce(o.box, u.{step_key})
        LEFT JOIN steps p ON p.{cloud} = s.{cloud} AND p.{execution_id} = s.{execution_id}
                         AND p.{step_key} = coalesce(s.{previous_step_key}, s.{parent_step_key})
        GROUP BY ALL""")
    targets = ref.groupby([C.cloud, C.workflow_id, "target"])["source"].nunique()
    assert (targets > 1).any(), "the store has a step entered from several places (Choice -> join)"
    got = q.edge_cost(con, window, limit=10_000)
    keys = [C.cloud, C.workflow_id, "source", "target"]
    _close(got[keys + ["transitions", "cost_usd"]], ref, keys, ["transitions", "cost_usd"])
    top = q.edge_cost(con, window, limit=3)
    assert top["cost_usd"].tolist() == got["cost_usd"].head(3).tolist()


def test_retry_delays_equal_the_plain_window(con, window):
    ref = q.run(con, q.q("""
        WITH d AS (SELECT {cloud}, {workflow_id}, {execution_id}, {step_key}, {started_at}, {attempt},
                          epoch_ms({started_at}) - epoch_ms(lag({ended_at}) OVER (
                              PARTITION BY {cloud}, {execution_id}, {step_key} ORDER BY {attempt})) AS delay_ms
                   FROM attempts)
        SELECT d.{cloud}, d.{workflow_id}, s.{name} AS step, d.{attempt} AS retry, count(*) AS samples,
               avg(delay_ms) AS mean_delay_ms, stddev_pop(delay_ms) AS std_delay_ms
        FROM d JOIN steps s USING ({cloud}, {execution_id}, {step_key})
        WHERE delay_ms IS NOT NULL GROUP BY ALL HAVING count(*) >= 2"""))
    assert not ref.empty
    got = q.retry_delays(con, window, limit=10_000)
    keys = [C.cloud, C.workflow_id, "step", "retry"]
    _close(got[keys + ["samples", "mean_delay_ms"]], ref[keys + ["samples", "mean_delay_ms"]], keys,
           ["samples", "mean_delay_ms"])
    row = ref.iloc[0]
    one = q.step_retry_delays(con, window, row[C.cloud], row[C.workflow_id], row["step"], int(row["retry"]))
    assert len(one) == row["samples"] and one["delay_ms"].mean() == pytest.approx(row["mean_delay_ms"])
