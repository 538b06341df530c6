"""Evidence the cost findings carry, read once for all of them after they are found: the top transition
edges into a costly step or a polling loop's cycle with their dollars (`add_edges`), and retries' share of
the workflow's billable units (`add_retry_share`, on retries.py's findings too).

Apart from the analyses: added once to all their findings, after they are found (`edge_costs` reads only
the findings' workflows, and only the edges into their steps).
"""

from __future__ import annotations

from collections.abc import Collection
from collections.abc import Set as AbstractSet

import ibis
import pandas as pd

from flowscope.analysis import pricing, transitions
from flowscope.analysis.base import Context, Finding, execute
from flowscope.analysis.cost_reads import step_costs, step_meter_costs, window_usage
from flowscope.analysis.step_stats import step_stats
from flowscope.model import C

# ---------------------------------------------------------------- evidence: edges and retries' share

TOP_EDGES = 5


def edge_costs(ctx: Context, workflows: list[tuple[str, str]],
               into: Collection[str] | None = None) -> pd.DataFrame:
    """Transitions and dollars per edge (source step name -> step name) of the given workflows; `into`: only
    the edges into steps of these names (None: every edge), what the findings describe (`add_edges`).

    A visit's source is `transitions.with_sources`' (its previous step in the same branch, else its
    container); the first step of an execution comes from `transitions.START_EDGE`. Dollars are the usage of the
    step's visits entered through the edge (retries included; a container's own work, such as the call
    a GCP try wraps, counts on the container's visit, `transitions.own_work`). The self-join of steps
    only covers these workflows.
    Each usage row is joined to its visit's edge and summed per edge, and the visits are counted per edge apart
    (session 46): a sum of the usage per visit first was a group-by as large as the join (a visit has one usage
    row or few): 0.53-0.69 s CPU against 0.65-0.80 s on the 30k demo.
    Returns cloud, workflow_id, from, to, transitions, usd.
    """
    cols = [C.cloud, C.workflow_id, "from", "to", "transitions", "usd"]
    if not workflows:
        return pd.DataFrame(columns=cols)
    ids = sorted({w for _, w in workflows})
    clouds = sorted({c for c, _ in workflows})
    steps = ctx.in_window(ctx.table("steps"))
    steps = steps.filter(steps[C.workflow_id].isin(ids) & steps[C.cloud].isin(clouds))
    v = transitions.visits(steps, into)
    s = v.filter(v[transitions.CONTAINER].isnull())
    s = s.mutate(src_name=ibis.coalesce(s[transitions.SOURCE], ibis.literal(transitions.START_EDGE)))
    edge = [C.cloud, C.workflow_id, "src_name", C.name]
    own = v.filter(v[transitions.CONTAINER].notnull())
    own = own.select(_o_cloud=C.cloud, _o_exec=C.execution_id, _o_key=C.step_key, _o_box=transitions.CONTAINER)
    u = window_usage(ctx)
    u = u.filter(u[C.workflow_id].isin(ids) & u[C.cloud].isin(clouds) & u[C.step_key].notnull())
    u = u.left_join(own, (u[C.cloud] == own._o_cloud) & (u[C.execution_id] == own._o_exec)
                    & (u[C.step_key] == own._o_key))
    # `.view()`: the joins below start new join chains (each side is a projection of a join already)
    u = u.select(u_cloud=C.cloud, u_exec=C.execution_id, u_key=ibis.coalesce(u._o_box, u[C.step_key]),
                 u_usd="usd").view()
    e = s.select(C.execution_id, C.step_key, *edge).view()
    j = u.inner_join(e, (e[C.cloud] == u.u_cloud) & (e[C.execution_id] == u.u_exec) & (e[C.step_key] == u.u_key))
    d = j.group_by(edge).aggregate(usd=j.u_usd.sum())
    d = d.select(d_cloud=C.cloud, d_wf=C.workflow_id, d_src="src_name", d_name=C.name, d_usd="usd").view()
    t = s.group_by(edge).aggregate(transitions=s.count())
    r = t.left_join(d, (t[C.cloud] == d.d_cloud) & (t[C.workflow_id] == d.d_wf) & (t.src_name == d.d_src)
                    & (t[C.name] == d.d_name))
    df = execute(r.select(*edge, "transitions", usd=r.d_usd))
    df = df.rename(columns={"src_name": "from", C.name: "to"})
    df["usd"] = df["usd"].fillna(0.0).astype(float)
    return df[cols]


def add_edges(ctx: Context, findings: list[Finding]) -> None:
    """`evidence["edges"]`: the top edges into the flagged step (costly_step) or the loop's cycle
    (polling_loop), as {from, to, transitions, monthly_usd}, most expensive first."""
    if not findings:
        return
    into = {id(f): set(f.evidence.get("cycle") or []) or {f.step} for f in findings}
    # only the edges into the findings' steps are read: their visits, not all the workflows' (session 48: on
    # the 30k demo the targets hold 90% of the visits, add_edges 0.61 to 0.55 s of CPU)
    edges = edge_costs(ctx, [(f.cloud, f.workflow_id) for f in findings if f.workflow_id is not None],
                       into={n for names in into.values() for n in names if n is not None})
    by_wf = {k: g for k, g in edges.groupby([C.cloud, C.workflow_id])} if not edges.empty else {}
    factor = ctx.monthly_factor
    for f in findings:
        g = by_wf.get((f.cloud, f.workflow_id))
        targets = into[id(f)]
        if g is None:
            f.evidence["edges"] = []
            continue
        g = g[g["to"].isin(targets)].sort_values(["usd", "transitions", "from", "to"],
                                                 ascending=[False, False, True, True]).head(TOP_EDGES)
        f.evidence["edges"] = [{"from": r["from"], "to": r["to"], "transitions": int(r["transitions"]),
                                "monthly_usd": float(r["usd"]) * factor} for r in g.to_dict("records")]


def retry_shares(ctx: Context) -> dict[tuple[str, str], dict]:
    """Per workflow: billable units spent on retries (attempts beyond the first x the cloud's units
    per attempt, `pricing.retry_units_per_attempt`, by the step's meters), their share of the
    workflow's per-operation billable units (none of the units `pricing.free_per_unit` for its kind:
    a Logic Apps Standard workflow's retried built-in actions read as "retries are 15% of its
    billable units" when no unit of theirs is billed), and their dollars (each step's retries at its
    own price per attempt)."""
    def compute() -> dict[tuple[str, str], dict]:
        stats = step_stats(ctx)
        if stats.empty:
            return {}
        smc = step_meter_costs(ctx)
        operations = {str(m) for m in pricing.OPERATION_METERS}
        units: dict[tuple[str, str], float] = {}
        for m in smc.itertuples(index=False):
            key = (m.cloud, m.workflow_id)
            if m.meter in operations and not pricing.free_per_unit(m.meter, ctx.workflow_kind(*key)):
                units[key] = units.get(key, 0.0) + float(m.quantity or 0)
        sc = step_costs(ctx)
        usd = {(r.cloud, r.workflow_id, r.step): r.usd for r in sc.itertuples(index=False)}
        out: dict[tuple[str, str], dict] = {}
        for r in stats.itertuples(index=False):
            key = (r.cloud, r.workflow_id)
            retries = float(r.retries or 0)
            per = billable_retries(ctx, r.cloud, r.workflow_id, getattr(r, C.name), 1.0)
            entry = out.setdefault(key, {"retry_units": 0.0, "retry_usd": 0.0})
            entry["retry_units"] += retries * per
            attempts = float(r.attempts or 0)
            if retries and attempts and per:
                entry["retry_usd"] += retries * usd.get((r.cloud, r.workflow_id, getattr(r, C.name)), 0.0) / attempts
        for key, entry in out.items():
            total = float(units.get(key, 0.0))
            entry["billable_units"] = total
            entry["share"] = min(entry["retry_units"] / total, 1.0) if total > 0 else 0.0
        return out
    return ctx.cached("retry_shares", compute)


def _units_per_retry(kind: str | None, cloud: str, meters: AbstractSet[str] | None) -> float:
    """Billable units one retry of a step adds (`pricing.retry_units_per_attempt`), by the meters its usage
    is billed on when it has usage (the dearest), else by its workflow's kind."""
    if meters:
        return max(pricing.retry_units_per_attempt(kind, cloud, m) for m in meters)
    return pricing.retry_units_per_attempt(kind, cloud)


def retry_units_per_step(ctx: Context) -> dict[tuple[str, str, str], float]:
    """Per (cloud, workflow_id, step name) with usage in the window: billable units one retry adds
    (`_units_per_retry`); a step without usage is missing (its workflow's kind decides)."""
    def compute() -> dict[tuple[str, str, str], float]:
        meters: dict[tuple[str, str, str], set[str]] = {}
        for m in step_meter_costs(ctx).itertuples(index=False):
            meters.setdefault((m.cloud, m.workflow_id, m.step), set()).add(m.meter)
        return {key: _units_per_retry(ctx.workflow_kind(key[0], key[1]), key[0], ms) for key, ms in meters.items()}
    return ctx.cached("retry_units_per_step", compute)


def billable_retries(ctx: Context, cloud: str, workflow_id: str, step: str, retries: float) -> float:
    """The billable units `retries` retries of a step added: none for an Express workflow's or a Logic Apps
    Standard workflow's built-in action's, one each for a Standard state machine's (a state transition)."""
    per = retry_units_per_step(ctx).get((cloud, workflow_id, step))
    if per is None:
        per = _units_per_retry(ctx.workflow_kind(cloud, workflow_id), cloud, None)
    return retries * per


def add_retry_share(ctx: Context, findings: list[Finding]) -> None:
    """`evidence["retry_share"]` (and the units and dollars behind it) on each finding's workflow;
    the title says so when retries are at least `retry_share_title_min` of the billable units."""
    if not findings:
        return
    shares = retry_shares(ctx)
    for f in findings:
        entry = shares.get((f.cloud, f.workflow_id)) if f.workflow_id is not None else None
        if entry is None or "retry_share" in f.evidence:
            continue
        f.evidence["retry_share"] = entry["share"]
        f.evidence["retry_units"] = entry["retry_units"]
        f.evidence["retry_monthly_usd"] = entry["retry_usd"] * ctx.monthly_factor
        if entry["share"] >= ctx.thresholds.retry_share_title_min and entry["retry_units"] > 0:
            f.title += f"; retries are {entry['share']:.0%} of its billable units"
