"""The one transition rule: which step a visit came from.

A visit's source is its previous step in the same branch (`previous_step_key`); the first step of a
Map item, a branch or a loop body has none and comes from its container (`parent_step_key`); an
execution's first step comes from nowhere (a null source). A visit that starts its container's body
and has the container's name is the container's own work, not a transition: GCP Workflows gives a
`try`/`retry` around a call as two step entries of one name (STEP_TRY_RETRY_EXCEPT, then the call
inside it), one step of the definition, entered once through the container's edge.
`cost.edge_costs` (dollars per edge, in the analyses) and the dashboard's Workflows graph
(`tables.edge_counts`, DuckDB SQL) both read it from here: the analyses as an Ibis expression, the
dashboard as the SQL Ibis compiles it to.
"""

from __future__ import annotations

import functools
from collections.abc import Collection

import ibis
import ibis.expr.types as ir
import pandas as pd

from flowscope.model import STEPS, C

COLUMNS = (C.cloud, C.workflow_id, C.execution_id, C.step_key, C.previous_step_key, C.parent_step_key, C.name)
"""The steps' columns the rule reads."""

START_EDGE = "(start)"
"""The source shown for a visit with none (an execution's first step, or a step before the window)."""

SOURCE = "source"
"""The column `with_sources` adds: the name of the step a visit came from (null: none)."""


CONTAINER = "container_key"
"""The column `visits` adds: the step key of the container whose own work a visit is (null: the visit is a
transition of its own)."""


def _is_own_work(first: ir.BooleanValue, container_name: ir.StringValue, name: ir.StringValue) -> ir.BooleanValue:
    """Whether a visit is its container's own work: it starts the container's body (`first`: no previous
    step) and has the container's name. The rule `_self_joined` and `own_work` both apply."""
    return (first & (container_name == name)).fill_null(False)


def _self_joined(steps: ir.Table, one_cloud: bool, into: Collection[str] | None = None) -> ir.Table:
    """`steps`' visits (`into`: only those of steps of these names) joined to the step each came from (its
    previous step, else its container: `_src`, looked up among all of `steps`), with `_own`
    (`_is_own_work`). One self-join on the execution and coalesce(previous, parent): one join per key cost
    a quarter more (Workflows page, 30 days of the 1M dashboard bench store: 142 against 115 ms)."""
    v = steps if into is None else steps.filter(steps[C.name].isin(sorted(into)))
    s = v.select(C.cloud, C.workflow_id, C.execution_id, C.step_key, C.name,
                 _src=ibis.coalesce(v[C.previous_step_key], v[C.parent_step_key]),
                 _first=v[C.previous_step_key].isnull())
    # the sources among every step (`into` narrows the visits, never where they came from)
    p = (s if into is None else steps).select(_p_cloud=C.cloud, _p_exec=C.execution_id, _p_key=C.step_key,
                                              _p_name=C.name)
    on = (s[C.execution_id] == p._p_exec) & (s._src == p._p_key)
    j = s.left_join(p, on if one_cloud else on & (s[C.cloud] == p._p_cloud))
    return j.mutate(_own=_is_own_work(j._first, j._p_name, j[C.name]))


def visits(steps: ir.Table, into: Collection[str] | None = None) -> ir.Table:
    """Every visit of `steps` (cloud, workflow_id, execution_id, step_key, name) with `source`, the name of
    the step it came from (null: an execution's first step, a source outside `steps` such as a previous
    step before the window, or a container's own work), and `container_key` (`CONTAINER`), the container
    whose own work it is (null for every other visit). `with_sources` and `own_work` from one self-join,
    for a caller that needs both (edge dollars: a container's own work costs on the container's edge).
    `into`: only the visits of steps of these names, the edges into them (their sources are still looked
    up among all of `steps`); a container's own work has the container's name, so it is kept with it."""
    j = _self_joined(steps, one_cloud=False, into=into)
    return j.select(C.cloud, C.workflow_id, C.execution_id, C.step_key, C.name,
                    **{SOURCE: ibis.ifelse(j._own, ibis.null(), j._p_name),
                       CONTAINER: ibis.ifelse(j._own, j._src, ibis.null())})


def with_sources(steps: ir.Table, one_cloud: bool = False) -> ir.Table:
    """`steps`' visits (cloud, workflow_id, execution_id, step_key, name) with `source`, the name of the
    step each came from: its previous step, else its container; null for an execution's first step and
    for a source outside `steps` (a previous step before the window). A container's own work is left out.
    `one_cloud`: the caller's steps are of one cloud (the dashboard's graph of one workflow), so the join
    leaves the cloud out (on that store 13 ms of 130)."""
    j = _self_joined(steps, one_cloud)
    j = j.filter(~j._own)
    return j.select(C.cloud, C.workflow_id, C.execution_id, C.step_key, C.name, **{SOURCE: j._p_name})


def own_work(steps: ir.Table) -> ir.Table:
    """(cloud, execution_id, step_key, container_key) of the visits `with_sources` leaves out as their
    container's own work (`_is_own_work`), so what they cost can be counted on the container's visit. Its
    own join of the first visits of a body to their containers, where `visits` joins every visit: the
    dashboard's edge costs read it beside `with_sources`, whose filter on the entered steps then reaches the
    files' scan (the `visits` form, one materialized join, was 0.05-0.15 s slower there on 30 days of the
    1M dashboard store)."""
    kid = steps.filter(steps[C.previous_step_key].isnull() & steps[C.parent_step_key].notnull())
    box = steps.select(_b_cloud=C.cloud, _b_exec=C.execution_id, _b_key=C.step_key, _b_name=C.name)
    j = kid.inner_join(box, (kid[C.cloud] == box._b_cloud) & (kid[C.execution_id] == box._b_exec)
                       & (kid[C.parent_step_key] == box._b_key))
    j = j.filter(_is_own_work(j[C.previous_step_key].isnull(), j._b_name, j[C.name]))
    return j.select(C.cloud, C.execution_id, C.step_key, **{CONTAINER: j._b_key})


def own_work_in_run(steps: pd.DataFrame) -> dict[str, str]:
    """`own_work` over one execution's steps held in pandas (the run page, Compare runs): {step_key:
    container_key}. The same rule as the Ibis form above (`tests/analysis/test_transitions.py` compares
    them on every run of a simulated GCP store); it exists because a run's few rows are already in pandas."""
    if steps.empty:
        return {}
    names = dict(zip(steps[C.step_key], steps[C.name], strict=True))
    first = steps[steps[C.previous_step_key].isna() & steps[C.parent_step_key].notna()]
    return {k: p for k, p, n in zip(first[C.step_key], first[C.parent_step_key], first[C.name], strict=True)
            if names.get(p) == n}


@functools.cache
def sql(table: str, one_cloud: bool = False) -> str:
    """`with_sources` over the table (or CTE) named `table`, which has `COLUMNS`, as DuckDB SQL (compiled
    once per process: it takes no parameters)."""
    schema = ibis.Schema.from_pyarrow(STEPS)
    steps = ibis.table({c: schema[c] for c in COLUMNS}, name=table)
    return str(ibis.to_sql(with_sources(steps, one_cloud), dialect="duckdb"))


@functools.cache
def own_work_sql(table: str) -> str:
    """`own_work` over the table (or CTE) named `table`, which has `COLUMNS`, as DuckDB SQL (compiled once
    per process)."""
    schema = ibis.Schema.from_pyarrow(STEPS)
    steps = ibis.table({c: schema[c] for c in COLUMNS}, name=table)
    return str(ibis.to_sql(own_work(steps), dialect="duckdb"))
