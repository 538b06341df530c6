"""The Cost page's measures: spend over time, the cost drivers (workflow, step, meter) with their executions
and retry share, what retries cost, and the cost per transition edge.

All priced by `tables_usage`, the one rule of the dashboard's spend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from flowscope.analysis import transitions
from flowscope.analysis.tables_shared import (
    Filters,
    _bucket,
    _in,
    _lit,
    _with_names,
    bucket_seconds,
    q,
    run,
    workflows_seen,
)
from flowscope.analysis.tables_usage import _usage_rows, usage_cost_sql, usage_sql
from flowscope.model import C

# ---------------------------------------------------------------- cost

COST_DIMENSIONS = {"cloud": [C.cloud], "workflow": [C.cloud, C.workflow_id], "meter": [C.meter]}


def cost_over_time(con: Any, f: Filters, by: str = "cloud", top: int = 10) -> pd.DataFrame:
    """Cost per bucket by cloud, workflow, meter or step (the `top` steps; the rest as 'other'): bucket,
    key (the series' name), cost_usd; by workflow or step also the cloud, workflow_id and workflow of
    the series (null for 'other'), and by step its step."""
    b = bucket_seconds(f)
    if by == "step":
        per_step = usage_cost_sql(f"SELECT *, {_bucket(C.started_at, b)} AS bucket FROM ({usage_sql(con, f)})",
                                  ["bucket", C.cloud, C.workflow_id, "step"])
        # The top steps by (cloud, workflow id, step): two workflows sharing a name are two series, each
        # with its cloud and id so the dashboard can tell them apart; the rest is one 'other' series.
        return run(con, q("""
            WITH k AS (
                SELECT c.bucket, c.{cloud}, c.{workflow_id}, coalesce(n.{workflow_name}, c.{workflow_id}) AS workflow,
                       c.step, c.cost_usd
                FROM ({per_step}) c
                LEFT JOIN (SELECT {cloud}, {workflow_id}, any_value({workflow_name}) AS {workflow_name}
                           FROM ({names}) GROUP BY ALL) n USING ({cloud}, {workflow_id})),
            t AS (SELECT {cloud}, {workflow_id}, step, true AS top_step FROM k GROUP BY {cloud}, {workflow_id}, step
                  ORDER BY sum(cost_usd) DESC, any_value(workflow) || ' / ' || step, {workflow_id} LIMIT {top})
            SELECT k.bucket, CASE WHEN t.top_step THEN k.workflow || ' / ' || k.step ELSE 'other' END AS key,
                   sum(k.cost_usd) AS cost_usd,
                   CASE WHEN t.top_step THEN k.{cloud} END AS {cloud},
                   CASE WHEN t.top_step THEN k.{workflow_id} END AS {workflow_id},
                   CASE WHEN t.top_step THEN k.workflow END AS workflow,
                   CASE WHEN t.top_step THEN k.step END AS step
            FROM k LEFT JOIN t ON k.{cloud} = t.{cloud} AND k.{workflow_id} = t.{workflow_id} AND k.step = t.step
            GROUP BY ALL ORDER BY k.bucket, key, {workflow_id}
        """, per_step=per_step, names=f"SELECT * FROM {workflows_seen(con)}", top=int(top)), f.params())
    dims = COST_DIMENSIONS[by]
    frame = run(con, usage_cost_sql(f"SELECT *, {_bucket(C.started_at, b)} AS bucket FROM ({_usage_rows(f)})",
                                    ["bucket", *dims]) + " ORDER BY bucket", f.params())
    if by == "workflow":
        frame = _with_names(con, frame)
        frame["key"] = frame["workflow"]
        return frame[["bucket", "key", "cost_usd", C.cloud, C.workflow_id, "workflow"]]
    frame["key"] = frame[dims[0]]
    return frame[["bucket", "key", "cost_usd"]]


_DRIVER_KEYS = [C.cloud, C.workflow_id, "step", C.meter]


def _usage_executions(con: Any, f: Filters, top: pd.DataFrame) -> pd.DataFrame:
    """Exact distinct executions of the given (cloud, workflow_id, step, meter) rows' usage in the window.

    Counted for the top rows only: a HyperLogLog estimate over every group was up to a few percent off
    (1,266 executions of a step that 1,231 ran), so the costly-steps table disagreed with the finding
    naming the same step; an exact count over every group costs more than the rest of the query.
    The usage read is narrowed to the rows' workflows and meters before the join, and the distinct
    executions are counted per wanted row's number, not per its four text keys: on 30 days of the 1M
    bench store's AWS usage (2M rows) 0.21 s instead of 0.36-0.69 s, the Cost page's dearest read."""
    if top.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in _DRIVER_KEYS}
                            | {"executions": pd.Series(dtype="int64")})
    keys = top[_DRIVER_KEYS].drop_duplicates().astype(str).reset_index(drop=True)
    wanted = ", ".join(f"({i}, " + ", ".join(_lit(v) for v in row) + ")"
                       for i, row in enumerate(keys.itertuples(index=False)))
    narrow = f"AND {C.workflow_id} IN ({_in(sorted(set(keys[C.workflow_id])))}) " \
             f"AND {C.meter} IN ({_in(sorted(set(keys[C.meter])))})"
    counts = run(con, q("""
        SELECT t.t_row, count(DISTINCT u.{execution_id}) AS executions
        FROM ({usage}) u JOIN (VALUES {wanted}) AS t(t_row, t_cloud, t_workflow_id, t_step, t_meter)
             ON u.{cloud} = t.t_cloud AND u.{workflow_id} = t.t_workflow_id AND u.step = t.t_step
                AND u.{meter} = t.t_meter
        GROUP BY t.t_row
    """, usage=usage_sql(con, f, narrow), wanted=wanted), f.params())
    found = keys.join(counts.set_index("t_row")["executions"], how="inner")
    return found.reset_index(drop=True)


def cost_spend_drivers(con: Any, f: Filters, limit: int = 25) -> pd.DataFrame:
    """The most expensive (workflow, step, meter) in the window, with share and monthly projection;
    `total_retry_usd` (the same on every row) is spent on retries by all of them, not only these.

    Usage is grouped by its step name (no join); only the retried visits (attempts > 1, a small
    part of steps) are joined, for the share of each visit's cost spent on retries."""
    source = q("""
        SELECT u.*, CASE WHEN r.{attempts} > 1 THEN u.{quantity} * (r.{attempts} - 1) / r.{attempts}
                         ELSE 0.0 END AS retry_quantity
        FROM ({usage}) u
        LEFT JOIN (SELECT {cloud}, {execution_id}, {step_key}, {attempts} FROM steps
                   WHERE {where} AND {attempts} > 1) r
               ON r.{cloud} = u.{cloud} AND r.{execution_id} = u.{execution_id} AND r.{step_key} = u.{step_key}
    """, usage=usage_sql(con, f), where=f.where())
    frame = run(con, q("""
        SELECT *, cost_usd / nullif(sum(cost_usd) OVER (), 0) AS share,
               sum(retry_quantity_usd) OVER () AS total_retry_usd FROM ({cost})
        ORDER BY cost_usd DESC, {cloud}, {workflow_id}, step, {meter} LIMIT {limit}
    """, cost=usage_cost_sql(source, [C.cloud, C.workflow_id, "step", C.meter], (C.quantity, "retry_quantity")),
        limit=int(limit)), f.params())
    frame = frame.rename(columns={"retry_quantity_usd": "retry_usd"})
    frame["share"] = frame["share"].fillna(0.0)
    frame["monthly_usd"] = frame["cost_usd"] * f.monthly_factor
    frame = frame[[C.cloud, C.workflow_id, "step", C.meter, C.quantity, "cost_usd", "retry_usd",
                   "share", "monthly_usd", "total_retry_usd"]]
    return _with_names(con, frame.reset_index(drop=True))


def cost_drivers(con: Any, f: Filters, limit: int = 25) -> pd.DataFrame:
    """`cost_spend_drivers` with `executions`, the distinct executions behind each row (`with_executions`)."""
    spend = cost_spend_drivers(con, f, limit)
    return with_executions(spend, driver_executions(con, f, driver_keys(spend)))


def driver_keys(drivers: pd.DataFrame) -> tuple[tuple[str, ...], ...]:
    """The (cloud, workflow_id, step, meter) of cost driver rows, hashable (a cache key of the dashboard's)."""
    return tuple(tuple(str(v) for v in row) for row in drivers[_DRIVER_KEYS].itertuples(index=False)) \
        if not drivers.empty else ()


def driver_executions(con: Any, f: Filters, keys: tuple[tuple[str, ...], ...]) -> pd.DataFrame:
    """Distinct executions of each (cloud, workflow_id, step, meter) in `keys` (`_usage_executions`): apart
    from the spend so the Cost page draws its charts before it counts them (0.22 s of its 30-day read on
    the 1M bench store) and its table after."""
    return _usage_executions(con, f, pd.DataFrame(list(keys), columns=_DRIVER_KEYS))


def with_executions(drivers: pd.DataFrame, counts: pd.DataFrame) -> pd.DataFrame:
    """Cost driver rows with their `executions` (0 where none was counted) after `cost_usd`."""
    out = drivers.merge(counts, on=_DRIVER_KEYS, how="left") if not drivers.empty else \
        drivers.assign(executions=pd.Series(dtype="int64"))
    out["executions"] = out["executions"].fillna(0).astype("int64")
    return out[[*drivers.columns[:drivers.columns.get_loc("cost_usd") + 1], "executions",
                *drivers.columns[drivers.columns.get_loc("cost_usd") + 1:]]]


@dataclass(frozen=True)
class RetrySpend:
    """What retries cost in a window: `usd` by every step (not only the top drivers), `monthly_usd` its
    projection, `by_step` the top drivers that retried (label "workflow / step", retry_usd, monthly_usd)."""

    usd: float
    monthly_usd: float
    by_step: pd.DataFrame

    def saving(self, cut_pct: float) -> float:
        """Monthly dollars saved by `cut_pct` % fewer retries (the Cost page's what-if)."""
        return self.monthly_usd * cut_pct / 100


def retry_spend(drivers: pd.DataFrame, f: Filters) -> RetrySpend:
    """The Cost page's retry figures from `cost_drivers`' rows, projected by `f`'s month."""
    usd = float(drivers["total_retry_usd"].iloc[0]) if not drivers.empty else 0.0
    retried = drivers[drivers["retry_usd"] > 0] if not drivers.empty else drivers
    by_step = pd.DataFrame({"label": retried["workflow"] + " / " + retried["step"] if not retried.empty else [],
                            "retry_usd": retried["retry_usd"] if not retried.empty else []})
    by_step = by_step.groupby("label", as_index=False)["retry_usd"].sum()
    by_step["monthly_usd"] = by_step["retry_usd"] * f.monthly_factor
    return RetrySpend(usd, usd * f.monthly_factor, by_step)


def edge_cost(con: Any, f: Filters, limit: int = 25) -> pd.DataFrame:
    """Cost per transition edge (source step -> step): what entering a step costs, by where it came from.

    The source is `transitions`' rule, the one `cost.edge_costs` prices for the findings and the Workflows
    graph counts: the previous step, else the container (the first step of a Map item or loop body comes
    from its Map or loop); a container's own work (the call a GCP try wraps) is no transition, and its usage
    counts on the container's visit. A step entered from one place only costs the same on its one edge as in
    total, a group-by of usage by name; only steps entered from several places are costed visit by visit
    (their usage joined to their visits)."""
    p = f.params()
    edges = run(con, f"""
        WITH s AS (SELECT {', '.join(transitions.COLUMNS)} FROM steps WHERE {f.where()})
        SELECT {C.cloud}, {C.workflow_id}, coalesce({transitions.SOURCE}, {_lit(transitions.START_EDGE)}) AS source,
               {C.name} AS target, count(*) AS transitions
        FROM ({transitions.sql('s')}) GROUP BY ALL
    """, p)
    columns = [C.cloud, C.workflow_id, "source", "target", "transitions", "cost_usd"]
    if edges.empty:
        return _with_names(con, pd.DataFrame(columns=columns + ["monthly_usd"]))
    target = [C.cloud, C.workflow_id, "target"]
    sources = edges.groupby(target)["source"].transform("size")
    usage = usage_sql(con, f, f"AND {C.step_key} IS NOT NULL")
    single = run(con, usage_cost_sql(usage, [C.cloud, C.workflow_id, "step"]), p).rename(columns={"step": "target"})
    parts = [edges[sources == 1].merge(single, on=target)]
    multi = edges[sources > 1][target].drop_duplicates()
    if not multi.empty:
        named = [(_lit(c), _lit(w), _lit(n)) for c, w, n in multi.itertuples(index=False)]
        pick = " OR ".join(q("({cloud} = {c} AND {workflow_id} = {w} AND step = {n})", c=c, w=w, n=n)
                           for c, w, n in named)
        entered = " OR ".join(q("({cloud} = {c} AND {workflow_id} = {w} AND {name} = {n})", c=c, w=w, n=n)
                              for c, w, n in named)
        flows = " OR ".join(q("({cloud} = {c} AND {workflow_id} = {w})", c=_lit(c), w=_lit(w))
                            for c, w in multi[[C.cloud, C.workflow_id]].drop_duplicates().itertuples(index=False))
        visits = q("""
            WITH s AS (SELECT {columns} FROM steps WHERE {where} AND ({flows})),
                 o AS ({own}),
                 e AS (SELECT * FROM ({sources}) WHERE ({entered}))
            SELECT u.* EXCLUDE (visit_key), coalesce(e.{came_from}, {start}) AS source
            FROM (SELECT u.*, coalesce(o.{container}, u.{step_key}) AS visit_key
                  FROM (SELECT * FROM ({usage}) WHERE ({pick})) u
                  LEFT JOIN o ON o.{cloud} = u.{cloud} AND o.{execution_id} = u.{execution_id}
                             AND o.{step_key} = u.{step_key}) u
            JOIN e ON e.{cloud} = u.{cloud} AND e.{execution_id} = u.{execution_id} AND e.{step_key} = u.visit_key
        """, columns=", ".join(transitions.COLUMNS), where=f.where(), flows=flows,
            own=transitions.own_work_sql("s"), sources=transitions.sql("s"), came_from=transitions.SOURCE,
            container=transitions.CONTAINER,
            start=_lit(transitions.START_EDGE), usage=usage, pick=pick, entered=entered)
        by_edge = run(con, usage_cost_sql(visits, [C.cloud, C.workflow_id, "source", "step"]), p)
        parts.append(edges.merge(by_edge.rename(columns={"step": "target"}), on=target + ["source"]))
    frame = pd.concat(parts, ignore_index=True)[columns]
    frame = frame.sort_values(["cost_usd", C.cloud, C.workflow_id, "source", "target"],
                              ascending=[False, True, True, True, True]).head(limit).reset_index(drop=True)
    frame["monthly_usd"] = frame["cost_usd"] * f.monthly_factor
    return _with_names(con, frame)
