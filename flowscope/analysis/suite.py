"""The suite: every analysis run over one context (window, filters, thresholds) into findings.

`ANALYSES` lists them in order; `analyze(tables, since=..., ...)` builds the context and runs them;
`findings_to_json` / `findings_to_records` give the documented JSON shape.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import ibis.expr.types as ir
import pandas as pd

from flowscope.analysis import checks, collection, cost, failures, lanes, latency, retries, stuck
from flowscope.analysis.base import (
    FINDING_COLUMNS,
    Context,
    Finding,
    FindingKind,
    Thresholds,
    WindowRead,
    ensure_tables,
    execute,
    findings_frame,
    lit_ts,
    to_utc,
    utc,
)
from flowscope.model import UTC, C, Status
from flowscope.textsafety import one_line
from flowscope.timewindow import check_order

if TYPE_CHECKING:
    from flowscope.store.reader import ColumnFacts

TableOfWindow = Callable[[str, dt.datetime, dt.datetime], ir.Table]
"""(table name, start, end) -> the table read from only the files that can hold rows started in [start, end)
(`Store.pinned`'s `window`)."""

ANALYSES: tuple[Callable[[Context], list[Finding]], ...] = (
    collection.run,
    failures.run,
    retries.run,
    cost.run,
    latency.run,
    stuck.run,
)

SECOND_LANE = frozenset({retries.run, latency.run, stuck.run})
"""The analyses run in the second lane (`lanes`), beside the others: about half of a run either way. Which
half matters little (1M bench store, 4 runs each: 3.2-3.3 s at best for three balanced splits, 3.5 s with
one lane); retries reads cost's shared results last, when the first lane has most often computed them."""


def analyze(
    tables: Mapping[str, ir.Table],
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    now: dt.datetime | None = None,
    clouds: list[str] | None = None,
    workflows: list[str] | None = None,
    thresholds: Thresholds | Mapping[str, Any] | None = None,
    collections_as_of: dt.datetime | None = None,
    column_facts: Mapping[str, ColumnFacts] | None = None,
    window_tables: TableOfWindow | None = None,
) -> pd.DataFrame:
    """Every finding over [since, until), most severe and most expensive first.

    since: start of the window (None: the earliest execution). until: end (None: now).
    now: the wall clock (None: the current time). clouds / workflows: keep only these
    (workflows match by name or id). thresholds: a `Thresholds` or a mapping of overrides.
    collections_as_of: a failed collection is a finding when it is its scope's last before this moment
    or the window's end, whichever is later (`Context.collections_until`).
    column_facts: what the store's Delta log says of the tables' columns (`Store.tables_and_facts`), which
    lets a query leave out work no row needs; the same findings without it.
    window_tables: the store's reads of a window (`Store.pinned`'s `window`), so a read of the window opens only
    the files that can hold its rows; the same findings without it.
    """
    ctx = build_context(tables, since=since, until=until, now=now, clouds=clouds, workflows=workflows,
                        thresholds=thresholds, collections_as_of=collections_as_of, column_facts=column_facts,
                        window_tables=window_tables)
    return analyze_context(ctx)


def analyze_context(ctx: Context) -> pd.DataFrame:
    """Every analysis over an already built context (callers that also need its coverage), in two lanes
    where the engine allows (`lanes`): the same findings, sooner."""
    calls = [functools.partial(analysis, ctx) for analysis in ANALYSES]
    in_second = [analysis in SECOND_LANE for analysis in ANALYSES]
    return findings_frame(lanes.run_lanes(calls, in_second, lanes.second_lane(ctx.tables)))


def select_findings(frame: pd.DataFrame, *, clouds: Sequence[str] = (),
                    workflow_ids: Sequence[str] = ()) -> pd.DataFrame:
    """The findings of a filtered analysis, taken from the unfiltered one of the same window.

    Every analysis judges one workflow (or one step, execution or collection scope) on its own
    data, so `analyze(..., clouds=c, workflows=w)` finds exactly the findings of `analyze(...)`
    whose cloud is in `c` and whose workflow is in `w`, plus the collection-scope findings of
    those clouds (a failed collection has no workflow: `workflow` is empty and `workflow_id`
    names the scope; they stay under a workflow filter, as the filtered analysis keeps them).
    The dashboard computes one analysis per window and filters it with this rule; a test
    proves the rule against filtered analyses for every cloud and workflow of a store.
    """
    keep = pd.Series(True, index=frame.index)
    if clouds:
        keep &= frame["cloud"].isin(list(clouds))
    if workflow_ids:
        scope_level = frame["workflow"].isna() & (frame["kind"] == str(FindingKind.COLLECTION_GAP))
        keep &= frame["workflow_id"].isin(list(workflow_ids)) | scope_level
    return frame[keep].reset_index(drop=True)


def build_context(
    tables: Mapping[str, ir.Table],
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    now: dt.datetime | None = None,
    clouds: list[str] | None = None,
    workflows: list[str] | None = None,
    thresholds: Thresholds | Mapping[str, Any] | None = None,
    collections_as_of: dt.datetime | None = None,
    column_facts: Mapping[str, ColumnFacts] | None = None,
    window_tables: TableOfWindow | None = None,
) -> Context:
    if thresholds is None:
        thresholds = Thresholds()
    elif not isinstance(thresholds, Thresholds):
        thresholds = Thresholds.from_mapping(thresholds)
    now = to_utc(now) or dt.datetime.now(UTC)
    until = to_utc(until) or now
    t = ensure_tables(tables)
    wanted_clouds = [str(c) for c in clouds] if clouds else None
    if wanted_clouds:
        t = _only(t, C.cloud, wanted_clouds)
    runs = runs_per_workflow(t["executions"], since=to_utc(since), until=until)
    wf = _workflow_dim(t, runs)
    unfiltered, all_workflows = (t, wf) if workflows else (None, None)
    ids: list[str] | None = None
    if workflows:
        wf = wf[named_any(wf, workflows)]
        ids = sorted(wf[C.workflow_id].unique().tolist())
        t = _only(t, C.workflow_id, ids)
    start = to_utc(since) or _first_start(runs_of(runs, wf if workflows else None)) or until - dt.timedelta(days=30)
    check_order(start, until)
    window_read = None if window_tables is None else _window_read(window_tables, set(tables), wanted_clouds, ids)
    return Context(tables=t, since=start, until=until, now=now, thresholds=thresholds, workflows=wf, runs=runs,
                   collections_as_of=to_utc(collections_as_of), unfiltered=unfiltered, all_workflows=all_workflows,
                   column_facts=dict(column_facts or {}), window_read=window_read)


def _window_read(window_tables: TableOfWindow, given: set[str], clouds: list[str] | None,
                 ids: list[str] | None) -> WindowRead:
    """`Context.window_read` over the store's `window_tables`: each read filtered as `build_context` filters the
    context's tables (the clouds, then the workflows unless the caller reads the tables before that filter)."""
    def read(name: str, start: dt.datetime, end: dt.datetime, whole: bool) -> ir.Table | None:
        if name not in given:      # an empty stand-in (`ensure_tables`): nothing to leave out
            return None
        tables = {name: window_tables(name, start, end)}
        if clouds:
            tables = _only(tables, C.cloud, clouds)
        if ids is not None and not whole:
            tables = _only(tables, C.workflow_id, ids)
        return tables[name]
    return read


def _only(tables: Mapping[str, ir.Table], column: str, wanted: list[str]) -> dict[str, ir.Table]:
    """Each table's rows whose `column` is one of `wanted` (a table without the column as it is)."""
    return {name: (tbl.filter(tbl[column].isin(wanted)) if column in tbl.columns else tbl)
            for name, tbl in tables.items()}


def workflows_named(dim: pd.DataFrame, wanted: str) -> pd.Series:
    """The rows of `dim` (one per workflow: its workflow_id and workflow_name) that a typed `wanted` selects:
    those whose name or id is `wanted` as stored; failing that, those whose name or id is `wanted` as
    flowscope shows it (`shown_name`, both sides). A name holding escape sequences or control
    characters is listed cleaned (`evil<ESC>]0;x<BEL>red-wf` as `evilred-wf`) and that cleaned name, typed
    back, selected nothing: the workflow could not be named. The one rule of every workflow filter
    (analyze's check and context, the reports' tables, the notebook's readers).

    Two different stored names or ids shown alike are a ValueError naming them with their escapes: selecting
    both would merge two workflows without a word, and neither could be told apart by its shown name."""
    ids, names = dim[C.workflow_id], dim[C.workflow_name]
    exact = ids.isin([wanted]) | names.isin([wanted])
    target = shown_name(wanted)
    if exact.any() or not target:
        return exact
    by_id, by_name = ids.map(shown_name).eq(target), names.map(shown_name).eq(target)
    hit = by_id | by_name
    if names[by_name].astype(str).combine_first(ids[hit].astype(str)).nunique() > 1:   # each row as it matched
        rows = dim[hit]
        listed = ", ".join(f"{str(n)!r} (id {str(i)!r})"
                           for n, i in zip(rows[C.workflow_name], rows[C.workflow_id], strict=True))
        raise ValueError(f"{len(rows)} workflows show as {target!r}: {listed}; name one by its id as stored "
                         "(the escapes as written here; a shell reads them in $'...')")
    return hit


def named_any(dim: pd.DataFrame, wanted: Sequence[str]) -> pd.Series:
    """The rows of `dim` any of `wanted` selects (`workflows_named`)."""
    keep = pd.Series(False, index=dim.index)
    for one in wanted:
        keep |= workflows_named(dim, str(one))
    return keep


def shown_name(value: Any) -> str | None:
    """A name or id as the surfaces show it (`textsafety.one_line`), in Unicode's composed form (NFC): a
    name stored decomposed (`cafe` + U+0301) reads as the `café` a keyboard types, which was refused.
    None for a missing one (never the text "None")."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    return unicodedata.normalize("NFC", one_line(value))


RUNS_COLUMNS = [C.cloud, C.workflow_id, C.workflow_name, C.kind, C.region, "runs", "in_window", "first", "last",
                "running"]


def runs_per_workflow(ex: ir.Table, *, since: dt.datetime | None = None,
                      until: dt.datetime | None = None) -> pd.DataFrame:
    """Per workflow with runs (cloud, workflow_id): its name, kind and region as the runs say, its runs,
    those started in [since, until) (a bound not given: unbounded on that side), and its first and last
    start. One read of the executions for the workflow dimension, the default window's start and the
    coverage a report states (`run._coverage`: two reads of the executions before, 0.17 s of CPU on a 1M
    store). `running`: its runs still going that started before `until`, which the stuck runs' check counts
    before it reads them (`stuck._running_ages`: a read of every file of its own, 0.17 s of a 7-day analysis on a
    year of daily files)."""
    started = ex[C.started_at]
    before_end = started.notnull() if until is None else started < lit_ts(until)
    in_window = before_end if since is None else before_end & (started >= lit_ts(since))
    running = before_end & (ex[C.status] == str(Status.RUNNING))
    return execute(ex.group_by([C.cloud, C.workflow_id]).aggregate(
        **{C.workflow_name: ex[C.workflow_name].max(), C.kind: ex[C.kind].max(), C.region: ex[C.region].max()},
        runs=ex.count(), in_window=in_window.cast("int64").sum(), first=started.min(), last=started.max(),
        running=running.fill_null(False).cast("int64").sum(),
    ))[RUNS_COLUMNS]


def runs_of(runs: pd.DataFrame, workflows: pd.DataFrame | None) -> pd.DataFrame:
    """`runs` of the workflows kept by a workflow filter (its ids, in any cloud, as the tables are
    filtered); all of them when there is none."""
    if workflows is None:
        return runs
    return runs[runs[C.workflow_id].isin(set(workflows[C.workflow_id]))]


def _first_start(runs: pd.DataFrame) -> dt.datetime | None:
    """When the earliest execution started: the default window start (None when there are no executions)."""
    first = runs["first"].min() if not runs.empty else None
    return to_utc(first) if first is not None and not pd.isna(first) else None


def known_workflows(tables: Mapping[str, ir.Table]) -> pd.DataFrame:
    """cloud, workflow_id, workflow_name, kind, region of every workflow in the tables (runs and definitions)."""
    t = ensure_tables(tables)
    return _workflow_dim(t, runs_per_workflow(t["executions"]))


def _workflow_dim(t: Mapping[str, ir.Table], from_runs: pd.DataFrame) -> pd.DataFrame:
    """cloud, workflow_id, workflow_name, kind, region: one row per workflow, from its runs
    (`runs_per_workflow`) and definitions."""
    w = t["workflows"]
    latest = w.group_by([C.cloud, C.workflow_id]).aggregate(
        **{C.workflow_name: w[C.name].argmax(w[C.seen_at]), C.kind: w[C.kind].argmax(w[C.seen_at]),
           C.region: w[C.region].argmax(w[C.seen_at])})
    from_defs = execute(latest)
    both = pd.concat([from_defs, from_runs], ignore_index=True)
    cols = [C.cloud, C.workflow_id, C.workflow_name, C.kind, C.region]
    if both.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in cols})
    # Definitions first: their kind is authoritative; runs fill what definitions lack.
    both = both[cols].astype(object).where(both[cols].notna(), None)
    merged = both.groupby([C.cloud, C.workflow_id], sort=True, dropna=False).first().reset_index()
    merged[C.workflow_name] = merged[C.workflow_name].fillna(merged[C.workflow_id])
    return merged[cols]


MONTHLY_USD_IS = "monthly_usd_is"
"""The JSON field beside `monthly_usd` that says what it is (`findings_to_records`)."""


def with_dollars_is(frame: pd.DataFrame) -> None:
    """`frame` (findings) with `monthly_usd_is` beside `monthly_usd`, in place: the CSV and Excel exports
    say what the dollars are, as the JSON does (`findings_to_records`)."""
    if MONTHLY_USD_IS not in frame.columns and C.monthly_usd in frame.columns:
        frame.insert(frame.columns.get_loc(C.monthly_usd) + 1, MONTHLY_USD_IS,
                     pd.Series([checks.dollars_is(k) for k in frame[C.kind]], index=frame.index, dtype=object))


def findings_to_records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Findings as JSON-ready dicts: timestamps ISO 8601 UTC, evidence an object, and beside `monthly_usd`
    what it is (`monthly_usd_is`: "saving", "cost", "cost_once", "spend", or None for a kind that prices nothing; the
    check's metadata, `checks.Check.dollars`): a plan what-if's saving of $172 read as a monthly cost."""
    out = []
    for row in df.to_dict("records"):
        rec = {}
        for col in FINDING_COLUMNS:
            value = row.get(col)
            if col in ("window_start", "window_end"):
                ts = to_utc(value)
                value = ts.isoformat().replace("+00:00", "Z") if ts is not None else None
            elif col == "sample_execution_ids":
                value = [str(v) for v in (list(value) if value is not None else [])]
            elif col == "evidence":
                value = dict(value or {})
            elif col == "monthly_usd":
                value = float(value or 0.0)
            elif col == "executions_affected":
                value = int(value or 0)
            elif value is not None and not isinstance(value, str) and pd.isna(value):
                value = None
            rec[col] = value
            if col == "monthly_usd":
                rec[MONTHLY_USD_IS] = checks.dollars_is(row.get("kind"))
        out.append(rec)
    return out


def findings_to_json(df: pd.DataFrame, *, indent: int | None = 2) -> str:
    """Findings as a JSON array of objects (the documented shape of `flowscope analyze --format json`)."""
    return json.dumps(findings_to_records(df), indent=indent, default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.datetime, pd.Timestamp)):
        return utc(value).isoformat().replace("+00:00", "Z")
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)
