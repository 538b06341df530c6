"""The shared read of the steps: per workflow, step name and window, type, visits, attempts, retries and
failures (`step_window_stats`, `step_stats`), grouped by failure bucket too while that stays small, so
the failure episodes take their buckets from it (`failure_buckets`).

One read cached on the context that the cost analyses, retries.py and failures.py share, instead of a
scan of the steps each.
"""

from __future__ import annotations

import ibis
import pandas as pd

from flowscope.analysis import step_rank
from flowscope.analysis.base import (
    CONTAINER_TYPES,
    FAILED_VALUES,
    NOT_WORK,
    UNCAUGHT_FAILED_VALUES,
    Context,
    bucket_expr,
    bucket_index,
    bucket_span,
    execute,
    lit_ts,
)
from flowscope.model import C

STEP_STATS_COLUMNS = ["type", "visits", "attempts", "retries"]


def step_window_stats(ctx: Context) -> pd.DataFrame:
    """Per workflow, step name and window (`current`: this window, else the previous one): the one
    read of the steps that `step_stats` (cost, retries) and failures.py share, cached on the context.

    Over the rows that stand for the step (`step_rank`: a GCP try's call, not the try; a loop's entries,
    not its iterations): type, visits, attempts, retries (distinct executions and loop membership only
    for the steps a finding names: `_flagged_steps`). Over the visits that do work (no containers, no Fail
    states): f_visits, failures, uncaught, and the first and last failed visit (first_seen, last_seen).
    """
    def compute() -> pd.DataFrame:
        df = _step_window_groups(ctx)
        if "bucket" in df.columns:
            df = _fold_buckets(df)
        return _one_type_per_step(_standing_rows(ctx, _work_only(_by_failure(df))))
    return ctx.cached("step_window_stats", compute)


def failure_bucket_s(ctx: Context) -> int:
    """Seconds of a failure bucket (`Thresholds.failure_bucket_hours`): the failure episodes' scan, the
    wasted runs' split into its buckets and the shared step read's buckets are the same."""
    return int(ctx.thresholds.failure_bucket_hours * 3600)


FOLDED_BUCKETS_MAX = 20_000
"""The shared step read is grouped by failure bucket too (`failure_buckets`) while the window's failure
buckets times the workflows analysed stay within this: its rows grow with steps x buckets (the bench's 1M
store: 50 workflows x 120 buckets, 126k rows). Past it, the failure episodes read their candidates' visits
in a query of their own (`failures._episodes`), as a long window over many workflows should."""


def _buckets_folded(ctx: Context) -> bool:
    first, last = bucket_span(ctx.since, ctx.until, failure_bucket_s(ctx))
    return (last - first + 1) * max(len(ctx.workflows), 1) <= FOLDED_BUCKETS_MAX


def _step_window_groups(ctx: Context) -> pd.DataFrame:
    """The one read of the steps behind `step_window_stats` and `failure_buckets`: visits, attempts,
    retries and the first and last visit per (cloud, workflow, step name, window, type, status). When the
    buckets are folded in (`_buckets_folded`) the window's key is `bucket`, this window's visits' failure
    bucket (null for the previous window's), so the failure episodes need no scan of their own (0.6 s of
    CPU at 1M executions against 0.25-0.35 s more for this read); otherwise it is `current`."""
    def compute() -> pd.DataFrame:
        s = ctx.in_window(ctx.table("steps"), both=True)
        current = s[C.started_at] >= lit_ts(ctx.since)
        if _buckets_folded(ctx):
            window = ibis.ifelse(current, bucket_expr(s, C.started_at, failure_bucket_s(ctx)),
                                 ibis.null("int64")).name("bucket")
        else:
            window = current.name("current")
        # Grouped by type too, not max(type): a string max over every visit cost 0.2 s of CPU at 1M
        # executions, more than one more key; a step whose type changed is folded back below. With the
        # type a key, whether a group's visits do work is the group's: `_work_only` applies it to the
        # sums instead of a filter on every row (0.3 s of CPU at 1M executions). The status likewise:
        # which statuses failed is decided on the groups (`_by_failure`), not by two string tests and
        # two filtered extremes on every visit (0.59 to 0.54 s for this read at 1M executions).
        # A store whose every visit has 1 attempt or more (the Delta log's statistics: `_retries_are_extra`)
        # counts a group's retries as its attempts less its visits: the same whole numbers without a
        # clipped sum over every visit (0.18 s of CPU of this read's 1.4 s on the 1M bench store).
        extra = _retries_are_extra(ctx)
        sums = {"visits": s.count(), "attempts": s[C.attempts].sum()}
        if not extra:
            sums["retries"] = (s[C.attempts] - 1).clip(lower=0).sum()
        df = execute(s.group_by([C.cloud, C.workflow_id, C.name, window, C.type, C.status]).aggregate(
            **sums, first=s[C.started_at].min(), last=s[C.started_at].max()))
        if extra:
            df.insert(df.columns.get_loc("attempts") + 1, "retries", df["attempts"] - df["visits"])
        return df
    return ctx.cached("step_window_groups", compute)


def _this_window(df: pd.DataFrame) -> pd.Series:
    """Which rows of `_step_window_groups`' read are this window's, not the previous one's: those with a failure
    bucket when the buckets are folded in, else those it marks `current`."""
    return df["bucket"].notna() if "bucket" in df.columns else df["current"].astype(bool)


def _retries_are_extra(ctx: Context) -> bool:
    """Whether no visit of the store's steps has a null or fewer than 1 attempt (`Context.least`, from the
    Delta log's statistics): then a visit's retries, max(attempts - 1, 0), are its attempts less one."""
    least = ctx.least("steps", C.attempts)
    return least is not None and least >= 1


def _fold_buckets(df: pd.DataFrame) -> pd.DataFrame:
    """`_step_window_groups`' rows per failure bucket summed per window (`current`): what the read grouped
    by the window alone returns. A sum is null only where every bucket's is (a sum of nulls), and whole
    counts stay int64 where no sum is null, as the engine's own aggregate returns them."""
    df = df.assign(current=_this_window(df)).drop(columns="bucket")
    grouped = df.groupby(_GROUP_KEYS, sort=False, dropna=False)
    sums = grouped[["visits", "attempts", "retries"]].sum(min_count=1)
    out = pd.concat([sums, grouped["first"].min(), grouped["last"].max()], axis=1).reset_index()
    for col in ("visits", "attempts", "retries"):
        if not out[col].isna().any():
            out[col] = out[col].astype("int64")
    return out


def failure_buckets(ctx: Context, steps: pd.DataFrame) -> pd.DataFrame | None:
    """Per step of `steps` (cloud, workflow_id, name; a null key matches none) and failure bucket of this
    window (`bucket_index` numbers): the visits that do work (no containers, no Fail states, a type) and
    their failures, from the shared step read; None when that read is not grouped by bucket
    (`_buckets_folded`). The steps are picked first: 126k bucket rows filtered and summed whole cost
    0.09 s at 1M executions, the 50 candidates' 6,000 first 0.025 s."""
    df = _step_window_groups(ctx)
    if "bucket" not in df.columns:
        return None
    keys = [C.cloud, C.workflow_id, C.name]
    df = df.merge(steps[keys].dropna().drop_duplicates(), on=keys)
    work = df[_this_window(df) & ~_idle(df)]
    work = work.assign(failures=work["visits"].where(work[C.status].isin(FAILED_VALUES), 0))
    out = work.groupby([*keys, "bucket"], sort=False)[["visits", "failures"]].sum().reset_index()
    out["bucket"] = bucket_index(out["bucket"], failure_bucket_s(ctx))
    return out


_STATS_KEYS = [C.cloud, C.workflow_id, C.name, "current", C.type]
_GROUP_KEYS = [*_STATS_KEYS, C.status]     # the shared step read's keys, its window read as `current`


def _by_failure(df: pd.DataFrame) -> pd.DataFrame:
    """`step_window_stats`' groups per status folded into one per (step, window, type): visits, attempts,
    retries; failures and uncaught (the visits of the failed and uncaught statuses, `measures`), and the
    first and last failed visit (null without one)."""
    failed = df[C.status].isin(FAILED_VALUES)
    df = df.assign(failures=df["visits"].where(failed, 0),
                   uncaught=df["visits"].where(df[C.status].isin(UNCAUGHT_FAILED_VALUES), 0),
                   first_seen=df["first"].where(failed), last_seen=df["last"].where(failed))
    grouped = df.groupby(_STATS_KEYS, sort=False, dropna=False)
    return grouped.agg(visits=("visits", "sum"), attempts=("attempts", "sum"), retries=("retries", "sum"),
                       failures=("failures", "sum"), uncaught=("uncaught", "sum"),
                       first_seen=("first_seen", "min"), last_seen=("last_seen", "max")).reset_index()


_WORK_ONLY = ["failures", "uncaught", "first_seen", "last_seen"]


def _idle(df: pd.DataFrame) -> pd.Series:
    """The groups of the shared step read whose visits do no work: a type that does none (a container, a
    Fail state) or no type. One rule for `_work_only` and `failure_buckets`."""
    return df[C.type].isna() | df[C.type].isin(NOT_WORK)


def _work_only(df: pd.DataFrame) -> pd.DataFrame:
    """`f_visits` and the failure columns over the visits that do work: a group whose type does none
    (or has no type) counts no visit and has no failure sums or dates (nulls, as a filtered aggregate
    over no rows gives)."""
    idle = _idle(df)
    df.insert(df.columns.get_loc("failures"), "f_visits", df["visits"].where(~idle, 0))
    if idle.any():
        for col in _WORK_ONLY:
            df[col] = df[col].where(~idle)
    return df


_WINDOW_STATS_FOLD = {C.type: "max", "visits": "sum", "attempts": "sum", "retries": "sum",
                      "f_visits": "sum", "failures": "sum", "uncaught": "sum", "first_seen": "min",
                      "last_seen": "max"}


def _standing_rows(ctx: Context, df: pd.DataFrame) -> pd.DataFrame:
    """Per step name and window, the groups of the rows that stand for the step (`step_rank`): a GCP try
    around a call counts the call's visits and tries (the try's one attempt beside them halved the cost
    per attempt and a retry storm's amplification), an Azure or GCP loop its entries, not its iterations
    (36 "visits" per run for a loop entered once). Only containers are ranked apart, by a read of the
    container rows alone (`_container_ranks`): the rank as a key of the shared read cost 0.3-0.5 s of
    CPU at 1M executions, the container rows' own read 0.02 s. Containers do no work, so no failure goes."""
    boxed = df[C.type].isin(CONTAINER_TYPES)
    if not boxed.any():
        return df
    ranked = _container_ranks(ctx)
    for col in df.columns:
        if col not in ranked.columns:
            ranked[col] = df[col].iloc[:0].reindex(ranked.index)   # nulls of the column's type (failures, dates)
    ranked["f_visits"] = 0
    rows = pd.concat([df[~boxed].assign(**{step_rank.RANK: step_rank.WORK}), ranked[[*df.columns, step_rank.RANK]]],
                     ignore_index=True)
    return step_rank.lowest_rank(rows, [C.cloud, C.workflow_id, C.name, "current"])


def _container_ranks(ctx: Context) -> pd.DataFrame:
    """`step_window_stats`' sums over the container rows only, by rank (`step_rank.rank`)."""
    s = ctx.in_window(ctx.table("steps"), both=True)
    s = s.filter(s[C.type].isin(list(CONTAINER_TYPES)))
    current = (s[C.started_at] >= lit_ts(ctx.since)).name("current")
    return execute(s.group_by([C.cloud, C.workflow_id, C.name, current, C.type, step_rank.rank(s)]).aggregate(
        visits=s.count(), attempts=s[C.attempts].sum(),
        retries=(s[C.attempts] - 1).clip(lower=0).sum()))


def _one_type_per_step(df: pd.DataFrame) -> pd.DataFrame:
    """`step_window_stats` rows per (workflow, step name, window, type) as one row per step and window:
    a step whose type changed between definitions keeps the greatest type (what max(type) said) and
    the sums, extremes and flags of all its visits. The engine's nulls stay null (a sum of nothing)."""
    keys = [C.cloud, C.workflow_id, C.name, "current"]
    if df.empty or not df.duplicated(keys).any():
        return df
    grouped = df.groupby(keys, sort=False, dropna=False)
    folded = {col: (grouped[col].sum(min_count=1) if how == "sum" else grouped[col].agg(how))
              for col, how in _WINDOW_STATS_FOLD.items()}
    return pd.DataFrame(folded).reset_index()[list(df.columns)]


def step_stats(ctx: Context) -> pd.DataFrame:
    """Per workflow and step name in the window: type, visits, attempts, retries."""
    def compute() -> pd.DataFrame:
        df = step_window_stats(ctx)
        return df.loc[df["current"].astype(bool), [C.cloud, C.workflow_id, C.name, *STEP_STATS_COLUMNS]] \
            .reset_index(drop=True)
    return ctx.cached("step_stats", compute)
