"""Latency: p50/p95/p99 per workflow and step, slow steps, drift vs the previous window.

- `slow_step`: a step's p95 in a time bucket (default 6 h) far above its baseline (the median of
  its bucket p95s over the window and the previous window); consecutive slow buckets merge.
- `latency_drift`: a workflow's end-to-end p95 in the window vs the previous window, with the
  steps whose time grew the most; only where the workflow's runs cover the previous window
  (`measures.previous_covered`).

Both carry `evidence["dominant_steps"]`: the steps that dominate the workflow's end-to-end time,
as shares of the summed duration on the critical path (top-level steps in sequence; inside a
Parallel or Map visit only its slowest branch counts; loop and scope bodies run in sequence), and
`evidence["callback_waits"]`: callbacks waiting on people or systems (`.waitForTaskToken` tasks,
Logic Apps webhook actions, GCP await_callback), reported apart so a 40-minute human approval
is not called a slow step. A callback's own slow_step limit allows for its wide normal spread
(`slow_callback_ratio` x its usual p95).

Exact quantiles (DuckDB quantile_cont); backends without them compile Ibis' quantile to their
approximate percentile.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from flowscope.analysis.base import (
    CONTAINER_TYPES,
    QUANTILES,
    Context,
    Finding,
    FindingKind,
    Severity,
    bernoulli_scan,
    bucket_expr,
    bucket_index,
    bucket_span,
    execute,
    lit_ts,
    picked_ids,
    quantiles,
    sample_rank,
    sample_rows,
    split_quantiles,
)
from flowscope.analysis.cost import workflow_durations, workflow_executions
from flowscope.format import fmt_duration
from flowscope.model import UTC, C, Cloud, StepType

EXCLUDED_TYPES = [*CONTAINER_TYPES, str(StepType.WAIT)]   # waiting and containers are slow by design
CALLBACK_NATIVE_TYPES = ["ApiConnectionWebhook", "HttpWebhook"]        # Logic Apps webhook actions
CALLBACK_RESOURCE_MARKERS = ("waitForTaskToken", "events.await_callback")
ITERATION_MARKERS = ["ScopeRepetition"]   # Logic Apps per-iteration rows: their time is their actions'
SEQUENTIAL_CONTAINERS = [str(StepType.LOOP), str(StepType.SCOPE)]     # children run one after another
TOP_DOMINANT = 3


def is_callback(t: ibis.Table) -> ibis.Value:
    """A step that waits for a callback from a person or another system (in the engine)."""
    res = t[C.resource]
    hit = t[C.native_type].isin(CALLBACK_NATIVE_TYPES).fill_null(False)
    for marker in CALLBACK_RESOURCE_MARKERS:
        hit = hit | res.contains(marker).fill_null(False)
    return hit


def run(ctx: Context) -> list[Finding]:
    """Slow steps, then latency drift. Both describe their workflows' critical path: it is read
    once for the workflows of both (a self-join of the window's steps, 0.2-1 s a read)."""
    episodes = slow_episodes(ctx)
    drifted = drifted_workflows(ctx)
    flagged = [*zip(episodes["cloud"], episodes["workflow_id"], strict=True),
               *zip(drifted[C.cloud], drifted[C.workflow_id], strict=True)]
    paths = critical_path(ctx, flagged)
    return slow_step_findings(ctx, episodes, paths) + drift_findings(ctx, drifted, paths)


def _over_limit(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The rows of the steps with at least 4 buckets and one bucket whose `top` quantile passes `limit`."""
    over = (df["top"] >= df["limit"]).groupby([df[k] for k in keys]).transform("any")
    return df[(df["buckets"] >= 4) & over]


def slow_episodes(ctx: Context) -> pd.DataFrame:
    """Episodes where a step's visits are often far slower than usual (a row each, `EPISODE_COLUMNS`).

    A visit is slow when it takes at least `slow_step_ratio` x the step's usual p95 and
    `slow_step_min_delta_ms` more than its usual median (usual: the median over time buckets of
    each bucket's p95 / p50, robust to the episode itself). Slow visits per bucket then go through
    the same scan as failure bursts (base.bernoulli_scan): an episode is a run of buckets where the
    share of slow visits is far above the rest of the series. A slowdown that hits a third of the
    visits is found even though the median never moves.

    Only visits that succeeded at the first attempt count: a retried visit's time is mostly retry
    delays, which `retry_storm` reports.
    """
    th = ctx.thresholds
    width = int(th.latency_bucket_hours * 3600)
    s = ctx.in_window(ctx.table("steps"), both=True)
    s = s.filter(s[C.duration_ms].notnull() & (s[C.duration_ms] >= 0) & ~s[C.type].isin(EXCLUDED_TYPES)
                 & (s[C.attempts] <= 1))
    s = s.mutate(bucket=bucket_expr(s, C.started_at, width))
    keys = [C.cloud, C.workflow_id, C.name]
    # The durations' quantiles of the whole numbers as stored, not of a cast to float64: the engine interpolates
    # the same two neighbours in float64 either way (values equal to the bit), and sorts integers for less (the
    # 7 days of the 1M dashboard store: 0.299 to 0.282 s of CPU for this read, raw SQL alternated 11 times).
    df = execute(split_quantiles(s.group_by([*keys, "bucket"]).aggregate(
        n=s.count(), **{QUANTILES: quantiles(s[C.duration_ms], [0.95, 0.5, 1.0 - th.slow_step_min_share])}),
        ["p95", "p50", "top"]))
    if df.empty:
        return pd.DataFrame(columns=EPISODE_COLUMNS)
    df["bucket"] = bucket_index(df["bucket"], width)
    grouped = df.groupby(keys)
    df = df.assign(buckets=grouped["n"].transform("size"), base50=grouped["p50"].transform("median"),
                   base95=grouped["p95"].transform("median"))
    df["limit"] = np.maximum(th.slow_step_ratio * df["base95"], df["base50"] + th.slow_step_min_delta_ms)
    # An episode needs a bucket where at least `slow_step_min_share` of the visits are slow, i.e.
    # whose (1 - share) quantile passes the limit: only those steps go to pass 2.
    cand = _over_limit(df, keys)
    if cand.empty:
        return pd.DataFrame(columns=EPISODE_COLUMNS)
    # A callback's time is someone else's response time, with a wide normal spread: only a wait far
    # beyond its usual p95 is slow. That only raises a limit, so only the steps over the plain limit
    # can be callbacks that matter, and only theirs are read (in pass 1 the flag read every visit's
    # resource: 0.2 s of CPU at 1M executions). Pass 2 reads their visits once for both: the callback
    # flag and the slow visits at either limit (a read of its own for the flag cost as much as pass 2,
    # 0.77 s on a 1M store's 30 days).
    cand["cb_limit"] = np.maximum(cand["limit"], th.slow_callback_ratio * cand["base95"])
    both = cand.groupby(keys, as_index=False)[["limit", "cb_limit"]].first()
    lt = ibis.memtable(both.rename(columns={C.cloud: "l_cloud", C.workflow_id: "l_wf", C.name: "l_name"}))
    j = s.inner_join(lt, (s[C.cloud] == lt.l_cloud) & (s[C.workflow_id] == lt.l_wf) & (s[C.name] == lt.l_name))
    # `*_in`: the visits from `since` on. The bucket that straddles `since` holds visits of the previous
    # window too; the scan reads all of them, an episode's figures only those in the window (a slow bucket
    # half before the window read 36 slow visits beside 18 executions).
    cur, plain, cb_slow = j[C.started_at] >= lit_ts(ctx.since), j[C.duration_ms] >= j["limit"], \
        j[C.duration_ms] >= j["cb_limit"]
    slow = execute(j.group_by([*keys, "bucket"]).aggregate(
        n=j.count(), slow_plain=plain.cast("int64").sum(), slow_cb=cb_slow.cast("int64").sum(),
        n_in=cur.cast("int64").sum(), slow_plain_in=(plain & cur).cast("int64").sum(),
        slow_cb_in=(cb_slow & cur).cast("int64").sum(), cb=is_callback(j).cast("int8").max()))
    flags = {tuple(k): bool(v > 0) for k, v in slow.groupby(keys)["cb"].max().items()}
    cand["callback"] = [flags.get(tuple(k), False) for k in cand[keys].itertuples(index=False)]
    cand["limit"] = np.where(cand["callback"], cand["cb_limit"], cand["limit"])
    cand = _over_limit(cand.drop(columns="cb_limit"), keys)
    if cand.empty:
        return pd.DataFrame(columns=EPISODE_COLUMNS)
    limits = cand.groupby(keys, as_index=False)[["limit", "base50", "base95", "buckets", "callback"]].first()
    # Only the steps still over their limit (a callback under its raised one is gone), each counted at it.
    slow = slow.merge(limits[[*keys, "callback"]], on=keys)
    slow["slow"] = np.where(slow["callback"], slow["slow_cb"], slow["slow_plain"])
    slow["slow_in"] = np.where(slow["callback"], slow["slow_cb_in"], slow["slow_plain_in"])
    slow["bucket"] = bucket_index(slow["bucket"], width)
    first, last = bucket_span(ctx.prev_since, ctx.until, width)
    win_first = bucket_span(ctx.since, ctx.until, width)[0] - first
    size = last - first + 1
    lim = {tuple(r[:3]): r[3:] for r in limits[[*keys, "limit", "base50", "base95", "buckets"]].itertuples(index=False)}
    callbacks = {tuple(k): bool(v) for k, v in cand.groupby(keys)["callback"].max().items()}
    p95s = {k: g.set_index("bucket")["p95"] for k, g in cand.groupby(keys)}
    since_b0 = first + win_first if int(ctx.since.timestamp()) % width else None   # a bucket straddles since
    found = []
    for key, g in slow.groupby(keys):
        key = tuple(key)
        # Only the buckets that hold visits: the scan's memory follows the data, not the window.
        idx = g["bucket"].to_numpy(dtype=np.int64) - first
        ok = (idx >= 0) & (idx < size)
        idx, n, k = idx[ok], g["n"].to_numpy(dtype=float)[ok], g["slow"].to_numpy(dtype=float)[ok]
        n_in, k_in = g["n_in"].to_numpy(dtype=float)[ok], g["slow_in"].to_numpy(dtype=float)[ok]
        if not ((k > 0) & (k >= th.slow_step_min_share * n)).any() or k.sum() < th.slow_step_min_slow_visits:
            continue                                  # no bucket is slow often enough to start an episode
        limit, base50, base95, buckets = lim[key]
        for e in bernoulli_scan(n, k, index=idx, min_hits=th.slow_step_min_slow_visits,
                                min_rate=th.slow_step_min_share, min_llr=th.episode_min_llr):
            if e.last < win_first or (e.last - e.first + 1) > buckets / 2:
                continue                              # before the window, or slow most of the time
            lo = max(e.first, win_first)
            b0, b1 = first + lo, first + e.last
            # the episode's part in the window: its buckets (and visits) before it are the previous window's
            inside = (idx >= lo) & (idx <= e.last)
            bp = p95s[key]
            straddles = since_b0 is not None and b0 == since_b0
            whole = bp[(bp.index >= b0 + int(straddles)) & (bp.index <= b1)].to_numpy(dtype=float)
            if straddles:        # the bucket that straddles `since`: the p95 of its visits in the window
                whole = np.append(whole, _p95_between(s, key, ctx.since,
                                                      dt.datetime.fromtimestamp((b0 + 1) * width, UTC)))
            p95 = float(np.nanmax(whole)) if (~np.isnan(whole)).any() else float("nan")
            visits, slow_visits = float(n_in[inside].sum()), float(k_in[inside].sum())
            start, end = ctx.clip(dt.datetime.fromtimestamp(b0 * width, UTC),
                                  dt.datetime.fromtimestamp((b1 + 1) * width, UTC))
            found.append({"cloud": key[0], "workflow_id": key[1], "step": key[2],
                          "start": start, "end": end, "bucket_start": dt.datetime.fromtimestamp(b0 * width, UTC),
                          "p95": p95, "visits": visits, "slow_visits": slow_visits,
                          "slow_share": slow_visits / visits if visits else 0.0,
                          "baseline_slow_share": e.out_rate, "baseline_p95": base95, "baseline_p50": base50,
                          "limit": limit, "buckets": e.last - lo + 1, "llr": e.llr,
                          "callback": bool(callbacks.get(key, False))})
    return pd.DataFrame(found, columns=EPISODE_COLUMNS)


def _p95_between(s: ir.Table, key: tuple, start: dt.datetime, end: dt.datetime) -> float:
    """p95 of one step's visits (`s`: the scanned visits) started in [start, end), NaN without any: an
    episode starting in the bucket that straddles `since` read that bucket's p95, the previous window's
    visits included (20 s where the window's own took 9 s). Read for that bucket alone, when it is one."""
    t = s.filter((s[C.cloud] == key[0]) & (s[C.workflow_id] == key[1]) & (s[C.name] == key[2])
                 & (s[C.started_at] >= lit_ts(start)) & (s[C.started_at] < lit_ts(end)))
    value = execute(t.aggregate(p95=t[C.duration_ms].cast("float64").quantile(0.95)))["p95"].iloc[0]
    return float("nan") if pd.isna(value) else float(value)


EPISODE_COLUMNS = ["cloud", "workflow_id", "step", "start", "end", "bucket_start", "p95", "visits", "slow_visits",
                   "slow_share", "baseline_slow_share", "baseline_p95", "baseline_p50", "limit", "buckets", "llr",
                   "callback"]


def slow_step_findings(ctx: Context, fd: pd.DataFrame, paths: dict[tuple, dict[str, list[dict]]]) -> list[Finding]:
    """A `slow_step` finding per episode, with its slow executions and its workflow's critical path."""
    if fd.empty:
        return []
    th = ctx.thresholds
    fd = fd.assign(sid=range(len(fd)))
    details = _slow_details(ctx, fd)
    out = []
    for f in fd.to_dict("records"):
        path = paths.get((f["cloud"], f["workflow_id"]), {})
        n_slow, ids = details.get(f["sid"], (0, []))
        ratio = f["p95"] / f["baseline_p95"] if f["baseline_p95"] else None
        wf_name = ctx.workflow_name(f["cloud"], f["workflow_id"])
        out.append(Finding(
            kind=FindingKind.SLOW_STEP,
            severity=Severity.HIGH if (ratio or 0) >= 5 and f["slow_share"] >= 0.5 else Severity.MEDIUM,
            cloud=f["cloud"], workflow=wf_name, workflow_id=f["workflow_id"], step=f["step"],
            window_start=f["start"], window_end=f["end"],
            title=(f"{f['step']} in {wf_name} slowed down: {f['slow_share']:.0%} of visits took over "
                   f"{fmt_duration(f['limit'])} (usually {f['baseline_slow_share']:.1%}); "
                   f"p95 {fmt_duration(f['p95'])} vs "
                   f"baseline {fmt_duration(f['baseline_p95'])}" + (f" ({ratio:.1f}x)" if ratio else "")),
            evidence={"p95_ms": f["p95"], "baseline_p95_ms": f["baseline_p95"],
                      "baseline_p50_ms": f["baseline_p50"], "ratio": ratio, "slow_limit_ms": f["limit"],
                      "visits": f["visits"], "slow_visits": f["slow_visits"], "slow_share": f["slow_share"],
                      "baseline_slow_share": f["baseline_slow_share"], "log_likelihood_ratio": f["llr"],
                      "bucket_hours": th.latency_bucket_hours, "slow_buckets": f["buckets"],
                      "callback": f["callback"], "dominant_steps": path.get("dominant_steps", []),
                      "callback_waits": path.get("callback_waits", [])},
            recommendation=_slow_recommendation(f["cloud"]),
            monthly_usd=0.0, executions_affected=n_slow, sample_execution_ids=ids, id_bucket=f["bucket_start"],
        ))
    return out


def _slow_details(ctx: Context, fd: pd.DataFrame) -> dict[int, tuple[int, list[str]]]:
    """Per slow episode: executions with a slow visit, and samples."""
    m = ibis.memtable(pd.DataFrame({
        "sid": fd["sid"].astype("int64"), "m_cloud": fd["cloud"].astype(str), "m_wf": fd["workflow_id"].astype(str),
        "m_step": fd["step"].astype(str), "m_start": pd.to_datetime(fd["start"], utc=True),
        "m_end": pd.to_datetime(fd["end"], utc=True), "m_limit": fd["limit"].astype("float64"),
    }))
    s = ctx.in_window(ctx.table("steps"))
    j = s.inner_join(m, (s[C.cloud] == m.m_cloud) & (s[C.workflow_id] == m.m_wf) & (s[C.name] == m.m_step)
                     & (s[C.started_at] >= m.m_start) & (s[C.started_at] < m.m_end)
                     & (s[C.duration_ms] >= m.m_limit))
    # the samples (the slowest visits' runs) in the same query
    j = sample_rank(j, ["sid"], order_by=C.duration_ms, name="_rank")
    counts = execute(j.group_by("sid").aggregate(n=j[C.execution_id].nunique(), samples=sample_rows(j, "_rank")))
    return {int(r.sid): (int(r.n), picked_ids([r.samples])) for r in counts.itertuples(index=False)}


def drifted_workflows(ctx: Context) -> pd.DataFrame:
    """Workflows whose end-to-end p95 grew past `latency_drift_ratio` since the previous window (a row
    each: both windows' n, p50, p95, p99, the previous window's suffixed `_prev`)."""
    th = ctx.thresholds
    df = workflow_durations(ctx)[[C.cloud, C.workflow_id, "current", "n", "p50", "p95", "p99"]]
    cur = df[df["current"]].drop(columns="current")
    prev = df[~df["current"]].drop(columns="current")
    m = cur.merge(prev, on=[C.cloud, C.workflow_id], suffixes=("", "_prev"))
    m = m[ctx.previous_covered(m)]      # a previous window the data barely covers is no baseline
    m = m[(m["n"] >= th.latency_drift_min_executions) & (m["n_prev"] >= th.latency_drift_min_executions)
          & (m["p95_prev"] > 0)]
    return m[(m["p95"] / m["p95_prev"] >= th.latency_drift_ratio)
             & (m["p95"] - m["p95_prev"] >= th.slow_step_min_delta_ms)].reset_index(drop=True)


def drift_findings(ctx: Context, m: pd.DataFrame, paths: dict[tuple, dict[str, list[dict]]]) -> list[Finding]:
    """A `latency_drift` finding per drifted workflow, with the steps that grew and its critical path."""
    if m.empty:
        return []
    grown = _grown_steps(ctx, m[[C.cloud, C.workflow_id]])
    out = []
    for r in m.itertuples(index=False):
        wf_name = ctx.workflow_name(r.cloud, r.workflow_id)
        ratio = r.p95 / r.p95_prev
        dom = grown.get((r.cloud, r.workflow_id), [])
        path = paths.get((r.cloud, r.workflow_id), {})
        out.append(Finding(
            kind=FindingKind.LATENCY_DRIFT, severity=Severity.MEDIUM if ratio >= 2 else Severity.LOW,
            cloud=r.cloud, workflow=wf_name, workflow_id=r.workflow_id, step=dom[0]["step"] if dom else None,
            window_start=ctx.since, window_end=ctx.until,
            title=(f"{wf_name} got slower: p95 {fmt_duration(r.p95)} vs {fmt_duration(r.p95_prev)} "
                   "in the previous window"
                   + (f", mostly in {dom[0]['step']}" if dom else "")),
            evidence={"p50_ms": r.p50, "p95_ms": r.p95, "p99_ms": r.p99, "previous_p50_ms": r.p50_prev,
                      "previous_p95_ms": r.p95_prev, "previous_p99_ms": r.p99_prev, "ratio": ratio,
                      "executions": int(r.n), "previous_executions": int(r.n_prev), "grown_steps": dom,
                      "dominant_steps": path.get("dominant_steps", []),
                      "callback_waits": path.get("callback_waits", [])},
            recommendation=_slow_recommendation(r.cloud),
            monthly_usd=0.0, executions_affected=int(r.n),
        ))
    return out


def critical_path(ctx: Context, workflows: list[tuple[str, str]]) -> dict[tuple, dict[str, list[dict]]]:
    """Per workflow: the steps that dominate end-to-end time over the window, on the critical path.

    Each execution's critical path is its top-level steps in sequence; inside a Parallel or Map
    visit only the slowest branch (iteration) counts, inside a loop or scope every child does (they
    run one after another). A container's time is its children's; a container with no recorded
    children counts its own. Each step's share is its time on the path over the workflow's summed
    path time. Branches are chosen one level at a time: inside a nested container, the slowest
    inner branch counts even when its outer branch was not the slowest (an overestimate for
    nested Parallel/Map only).

    Returns {(cloud, workflow_id): {"dominant_steps": [...], "callback_waits": [...]}}, each a
    list of {step, share, ms_per_execution}; dominant_steps excludes callbacks (top 3 by share).
    """
    workflows = sorted(set(workflows))
    if not workflows:
        return {}
    ids = sorted({w for _, w in workflows})
    s = ctx.in_window(ctx.table("steps"))
    s = s.filter(s[C.workflow_id].isin(ids) & s[C.duration_ms].notnull() & (s[C.duration_ms] >= 0)
                 & ~s[C.native_type].isin(ITERATION_MARKERS).fill_null(False))
    s = s.select(C.cloud, C.workflow_id, C.execution_id, C.step_key, C.parent_step_key, C.name, C.type,
                 branch=ibis.coalesce(s[C.iteration].cast("int64"), ibis.literal(-1, "int64")),
                 ms=s[C.duration_ms].cast("float64"), cb=is_callback(s))
    kids = s.filter(s[C.parent_step_key].notnull())
    br = kids.group_by([C.cloud, C.execution_id, C.parent_step_key, "branch"]).aggregate(ms=kids.ms.sum())
    win = ibis.window(group_by=[br[C.cloud], br[C.execution_id], br[C.parent_step_key]],
                      order_by=[ibis.desc(br.ms), br.branch])
    br = br.mutate(rn=ibis.row_number().over(win))
    cont = s.filter(s[C.type].isin(CONTAINER_TYPES)).select(
        c_cloud=C.cloud, c_exec=C.execution_id, c_key=C.step_key, c_type=C.type)
    br = br.left_join(cont, (br[C.cloud] == cont.c_cloud) & (br[C.execution_id] == cont.c_exec)
                      & (br[C.parent_step_key] == cont.c_key))
    keep = br.filter((br.rn == 0) | br.c_type.isin(SEQUENTIAL_CONTAINERS).fill_null(False)).select(
        k_cloud=C.cloud, k_exec=C.execution_id, k_parent=C.parent_step_key, k_branch="branch")
    parents = kids.select(p_cloud=C.cloud, p_exec=C.execution_id, p_key=C.parent_step_key).distinct()
    j = s.left_join(keep, (s[C.cloud] == keep.k_cloud) & (s[C.execution_id] == keep.k_exec)
                    & (s[C.parent_step_key] == keep.k_parent) & (s.branch == keep.k_branch))
    j = j.left_join(parents, (j[C.cloud] == parents.p_cloud) & (j[C.execution_id] == parents.p_exec)
                    & (j[C.step_key] == parents.p_key))
    on_path = j[C.parent_step_key].isnull() | j.k_exec.notnull()
    leaf = ~j[C.type].isin(CONTAINER_TYPES) | j.p_exec.isnull()
    j = j.filter(on_path & leaf)
    df = execute(j.group_by([C.cloud, C.workflow_id, C.name]).aggregate(
        ms=j.ms.sum(), callback=j.cb.cast("int8").max()), shared_reads=True)   # `s`: read once, four readers
    if df.empty:
        return {}
    wfe = workflow_executions_in_window(ctx)
    out: dict[tuple, dict[str, list[dict]]] = {}
    wanted = set(workflows)
    for (cloud, wf), g in df.groupby([C.cloud, C.workflow_id]):
        if (cloud, wf) not in wanted:
            continue
        total = float(g["ms"].sum())
        execs = max(int(wfe.get((cloud, wf), 0)), 1)
        g = g.sort_values(["ms", C.name], ascending=[False, True])
        rows = [{"step": r[C.name], "share": (float(r["ms"]) / total) if total > 0 else 0.0,
                 "ms_per_execution": float(r["ms"]) / execs, "callback": bool(r["callback"])}
                for r in g.to_dict("records")]
        out[(cloud, wf)] = {
            "dominant_steps": [{k: v for k, v in r.items() if k != "callback"}
                               for r in rows if not r["callback"]][:TOP_DOMINANT],
            "callback_waits": [{k: v for k, v in r.items() if k != "callback"} for r in rows if r["callback"]],
        }
    return out


def workflow_executions_in_window(ctx: Context) -> dict[tuple, int]:
    """Executions per workflow started in the window (from cost's cached per-workflow table)."""
    wfe = workflow_executions(ctx)
    return {(r.cloud, r.workflow_id): int(r.executions) for r in wfe.itertuples(index=False)}


def _grown_steps(ctx: Context, wfs: pd.DataFrame) -> dict[tuple, list[dict]]:
    """Steps whose mean time per execution grew most between the windows (top 3 per workflow)."""
    ids = wfs[C.workflow_id].tolist()
    s = ctx.in_window(ctx.table("steps"), both=True)
    s = s.filter(s[C.workflow_id].isin(ids) & s[C.duration_ms].notnull() & (s[C.duration_ms] >= 0)
                 & ~s[C.type].isin(CONTAINER_TYPES))
    current = (s[C.started_at] >= lit_ts(ctx.since)).name("current")
    df = execute(s.group_by([C.cloud, C.workflow_id, C.name, current]).aggregate(
        total=s[C.duration_ms].sum(), execs=s[C.execution_id].nunique()))
    out: dict[tuple, list[dict]] = {}
    if df.empty:
        return out
    df["per_exec"] = df["total"] / df["execs"].clip(lower=1)
    piv = df.pivot_table(index=[C.cloud, C.workflow_id, C.name], columns="current", values="per_exec",
                         aggfunc="sum").fillna(0.0)
    piv.columns = ["prev" if not c else "cur" for c in piv.columns]
    for col in ("prev", "cur"):
        if col not in piv:
            piv[col] = 0.0
    piv["growth"] = piv["cur"] - piv["prev"]
    for (cloud, wf, name), r in piv.sort_values("growth", ascending=False).iterrows():
        lst = out.setdefault((cloud, wf), [])
        if len(lst) < 3 and r["growth"] > 0:
            lst.append({"step": name, "ms_per_execution": r["cur"], "previous_ms_per_execution": r["prev"]})
    return out


def _slow_recommendation(cloud: str) -> str:
    if cloud == Cloud.AWS:
        return ("Look at the task's downstream (Lambda duration and cold starts, throttling, the called "
                "service's latency); set TimeoutSeconds and HeartbeatSeconds on the Task so slow calls fail "
                "fast and retry, and check the CloudWatch metrics of the resource for the same window.")
    if cloud == Cloud.AZURE:
        return ("Check the connector's or endpoint's latency and throttling in the run history; set the "
                "action's timeout (limit.timeout) and an exponential retry policy, and for long work use the "
                "asynchronous 202 pattern or a webhook action.")
    return ("Check the called service's latency for the window; set a timeout on the http call and a retry "
            "with backoff, and for long work use a callback (events.await_callback) instead of a blocking call.")
