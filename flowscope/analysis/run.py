"""Run the analyses over a store: the glue behind `flowscope analyze` and `flowscope.analyze()`.

Besides the findings, it says what the findings stand on (`Coverage`): the window, the filters,
how many executions and workflows it holds, the store's data range for the same filters and which
in-scope collections last failed. "No findings" over nothing is not "healthy", and every surface
(CLI, JSON, dashboard, reports) tells the two apart from this one definition.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import ibis.expr.types as ir
import pandas as pd

from flowscope.analysis.base import Thresholds, execute, to_utc
from flowscope.analysis.collection import latest_runs, runs_before
from flowscope.analysis.measures import DATA_GAP_SHARE
from flowscope.analysis.suite import (
    TableOfWindow,
    _json_default,
    analyze_context,
    build_context,
    findings_to_records,
    known_workflows,
    runs_of,
    shown_name,
    workflows_named,
)
from flowscope.dialect import CLI, Dialect
from flowscope.format import fmt_duration, fmt_time
from flowscope.model import COLLECTED_STATUSES, TABLES, C, Cloud, RunStatus, superseded_failures
from flowscope.timewindow import STALE_AFTER, known_end, parse_window

NEXT_STEP = "run `flowscope demo --no-serve`, `flowscope import FILE` or `flowscope sync`"
"""What to do with a store that holds nothing yet (analyze, doctor and the notebook say the same)."""
MAX_NAMES_SHOWN = 10


def analyze_store(
    store: Any,
    *,
    since: str | dt.datetime | None = None,
    until: str | dt.datetime | None = None,
    now: dt.datetime | None = None,
    clouds: list[str] | None = None,
    workflows: list[str] | None = None,
    thresholds: Thresholds | Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Findings over a store (anything with `.table(name) -> ibis.Table`); since/until may be '7d' or ISO.

    Raises ValueError naming what exists for an unknown cloud or workflow (a typo is not "no findings").
    """
    return analyze_report(store, since=since, until=until, now=now, clouds=clouds, workflows=workflows,
                          thresholds=thresholds).findings




@dataclass(frozen=True)
class Coverage:
    """What a window of the store holds, for the same filters the findings used."""

    since: dt.datetime
    until: dt.datetime
    now: dt.datetime
    clouds: list[str] | None
    workflow_filter: list[str] | None
    executions: int                      # started in [since, until)
    workflows: int                       # distinct workflows with an execution in the window
    first: dt.datetime | None            # first and last execution start for the filters, any time
    last: dt.datetime | None
    store_executions: int                # the whole store, no filter
    store_clouds: list[str]              # clouds the store holds executions of
    until_given: bool = False
    failed_collections: list[dict[str, Any]] = field(default_factory=list)
    """scope, cloud, ended_at, error of each in-scope scope whose last collection (before `until`) failed."""
    collected_to: dt.datetime | None = None
    """The latest watermark of a successful sync of the selected clouds: data up to it was looked for (a
    quiet workflow after its last run is known quiet, not missing); imports record none."""
    observed: frozenset[tuple[str, str]] = frozenset()
    """(cloud, workflow_id) of the workflows with an execution in the window: the analyses looked at
    their runs, so a finding about one of them that is not found again is over (`report.history`)."""

    @property
    def status(self) -> str:
        """'no_data' (nothing ran in the window), 'collection_failed', 'stale' (what the store knows ends
        well before the window does: `gap_note`) or 'ok'. Any but 'ok' is exit 3: a sync that succeeds and
        brings nothing for days, or a report of a window the data stops short of, is no all-clear."""
        if self.executions == 0:
            return "no_data"
        if self.failed_collections:
            return "collection_failed"
        return "stale" if self.gap_note() else "ok"

    def _filter_text(self, words: Dialect = CLI) -> str:
        parts = []
        if self.clouds:
            parts.append(words.selection("cloud", self.clouds))
        if self.workflow_filter:
            parts.append(words.selection("workflow", self.workflow_filter))
        return " for " + " and ".join(parts) if parts else ""

    def message(self, words: Dialect = CLI) -> str | None:
        """Why the window holds nothing, and what to type instead (in the caller's `words`: the commands'
        flags or the notebook API's arguments); None when it holds executions."""
        if self.executions:
            return None
        if self.store_executions == 0:
            return f"the store holds no executions yet: {NEXT_STEP}"
        if self.first is None or self.last is None:
            return (f"no executions{self._filter_text(words)} in the store (it holds executions of "
                    f"{', '.join(self.store_clouds)})")
        since = ("since", self.first.date())
        until = ("until", (self.last + dt.timedelta(days=1)).date())
        if self.until_given or self.last >= self.until:
            flag = words.options(since, until)
        else:
            days = math.ceil((self.now - self.first) / dt.timedelta(days=1))
            # or end the window where the data ends: a relative --since counts back from --until
            flag = f"{words.options(since)} (or {words.options(('since', f'{days}d'))}), or {words.options(until)}"
        return (f"the window {_iso(self.since)} .. {_iso(self.until)} is empty: no executions"
                f"{self._filter_text(words)}; the store's executions run from {_iso(self.first)} to "
                f"{_iso(self.last)}: use {flag}")

    def failed_notes(self) -> list[str]:
        """One sentence per in-scope scope whose last collection failed, "last collection of SCOPE failed at
        TIME: ERROR": what the commands, the notebook, the reports and the notifications all say (each wrote
        its own, with the time or without, so one failure read differently on each). Plain text: the scope
        and the error are the cloud's, which each surface escapes for its medium."""
        return [failed_collection_note(f["scope"], f.get("ended_at"), f.get("error")) for f in self.failed_collections]

    def gap_note(self, words: Dialect = CLI) -> str | None:
        """When what the store knows ends well before the window does (at least a day, and a tenth of the
        window): the data's last start, or a successful sync's watermark past it (`collected_to`: a sync
        that found nothing new knows the time was quiet). The window's spend is then projected over days
        nobody looked at, so say where the data ends and how to end the window there (in the caller's
        `words`); None otherwise."""
        if not self.executions or self.last is None:
            return None
        known = known_end(self.last, self.collected_to) or self.last
        gap, span = self.until - known, self.until - self.since
        if gap < STALE_AFTER or gap < span * DATA_GAP_SHARE:
            return None
        until = ("until", (known + dt.timedelta(days=1) - dt.timedelta(microseconds=1)).date())
        return (f"the data{self._filter_text(words)} ends at {_iso(self.last)} and nothing was collected after "
                f"{_iso(known)}, {fmt_duration(gap)} before the window's end: monthly projections spread "
                f"its spend over all {fmt_duration(span)} of the window; use {words.options(until)} to end it "
                "where the data ends")

    def to_dict(self, words: Dialect = CLI) -> dict[str, Any]:
        """The JSON-ready header of `flowscope analyze --format json` (findings go beside it); its message and
        note name the caller's options (`words`: the commands' --until, the notebook's until=)."""
        return {
            "window": {"since": _iso(self.since), "until": _iso(self.until)},
            "filters": {"clouds": self.clouds, "workflows": self.workflow_filter},
            "counts": {"executions": self.executions, "workflows": self.workflows,
                       "store_executions": self.store_executions},
            "data_range": {"first": _iso(self.first), "last": _iso(self.last)},
            "failed_collections": [{**f, "ended_at": _iso(f["ended_at"])} for f in self.failed_collections],
            "status": self.status,
            "message": self.message(words),
            "note": self.gap_note(words),
        }


@dataclass(frozen=True)
class AnalysisReport:
    findings: pd.DataFrame
    coverage: Coverage

    def header(self, words: Dialect = CLI) -> dict[str, Any]:
        """The coverage with the findings' count: the JSON's header, and a notebook frame's attrs['coverage']."""
        doc = self.coverage.to_dict(words)
        doc["counts"]["findings"] = len(self.findings)
        return doc

    def to_json(self, *, indent: int | None = 2) -> str:
        """The documented `flowscope analyze --format json` object: the coverage, then the findings."""
        doc = self.header()
        doc["findings"] = findings_to_records(self.findings)
        return json.dumps(doc, indent=indent, default=_json_default)


def failed_collection_note(scope: str, ended_at: Any, error: str | None) -> str:
    """"last collection of SCOPE failed at TIME: ERROR", the one sentence for a scope whose last collection
    failed (`Coverage.failed_notes`; the dashboard's banner says it from the collection health row it reads).
    Plain text: the scope and the error are the cloud's, which each surface escapes for its medium."""
    at = fmt_time(ended_at) or (str(ended_at) if ended_at is not None else None)
    return f"last collection of {scope} failed" + (f" at {at}" if at else "") + f": {error or 'no error recorded'}"


def _tables_of(source: Any) -> tuple[dict[str, Any], dict[str, Any], TableOfWindow | None]:
    """The model tables of one snapshot: a Store's current one (`Store.pinned`: the tables taken together, with
    what the Delta log's statistics say of their columns and its reads of a window's files), the same of a
    snapshot a caller pinned (a report reads its findings and measures from one), or those of an Ibis backend
    (another engine; nothing known of its columns or files)."""
    from flowscope.store import Store
    from flowscope.store.store import PinnedSnapshot

    if isinstance(source, Store):
        source = source.pinned(TABLES)
    if isinstance(source, PinnedSnapshot):
        return source.tables, source.facts, source.window
    return {name: source.table(name) for name in TABLES}, {}, None


def analyze_report(
    store: Any,
    *,
    since: str | dt.datetime | None = None,
    until: str | dt.datetime | None = None,
    now: dt.datetime | None = None,
    clouds: list[str] | None = None,
    workflows: list[str] | None = None,
    thresholds: Thresholds | Mapping[str, Any] | None = None,
    collections_as_of: dt.datetime | None = None,
) -> AnalysisReport:
    """Findings and the coverage they stand on, from one context (the same window and filters).

    collections_as_of: the failed collections said are each scope's last before this time (default:
    the window's end); a window ended where the data ends (`timewindow.default_end`) asks as of now,
    since the syncs that failed after the data are why it ends there."""
    tables, facts, window_tables = _tables_of(store)
    try:
        ctx = _context(tables, since=since, until=until, now=now, clouds=clouds, workflows=workflows,
                       thresholds=thresholds, collections_as_of=collections_as_of, column_facts=facts,
                       window_tables=window_tables)
        return AnalysisReport(analyze_context(ctx), _coverage(ctx, tables, clouds, workflows, until is not None))
    except Exception as exc:
        # a damaged data page fails a query with an engine error that names no file: the store, when it
        # can, finds the file (`Store.damaged_error`); otherwise the error is ours and goes on as it is
        damaged = getattr(store, "damaged_error", None)
        said = damaged(exc) if callable(damaged) else None
        if said is not None:
            raise said from exc
        raise


def window_coverage(
    store: Any,
    *,
    since: str | dt.datetime | None = None,
    until: str | dt.datetime | None = None,
    now: dt.datetime | None = None,
    clouds: list[str] | None = None,
    workflows: list[str] | None = None,
) -> Coverage:
    """The coverage alone (no analysis run): for a dashboard banner or a report header."""
    tables, _facts, _windows = _tables_of(store)
    ctx = _context(tables, since=since, until=until, now=now, clouds=clouds, workflows=workflows, thresholds=None)
    return _coverage(ctx, tables, clouds, workflows, until is not None)


def _context(tables: Mapping[str, ir.Table], *, since: Any, until: Any, now: dt.datetime | None,
             clouds: list[str] | None, workflows: list[str] | None, thresholds: Any,
             collections_as_of: dt.datetime | None = None,
             column_facts: Mapping[str, Any] | None = None, window_tables: TableOfWindow | None = None) -> Any:
    since_at, until_at = parse_window(since, until, now)
    check_filters(tables, clouds=clouds, workflows=workflows)
    return build_context(tables, since=since_at, until=until_at, now=now, clouds=clouds, workflows=workflows,
                         thresholds=thresholds, collections_as_of=collections_as_of, column_facts=column_facts,
                         window_tables=window_tables)


def check_filters(tables: Mapping[str, ir.Table], *, clouds: Sequence[str] | None = None,
                  workflows: Sequence[str] | None = None) -> list[str]:
    """Raise ValueError naming what exists for a cloud that is not one, or a workflow the store never saw;
    return the ids of the workflows `workflows` selects in the clouds chosen (in any cloud without a cloud
    filter; none without a workflow filter).

    A valid cloud without data is not a typo (the caller reports "no data"); a workflow matches by
    name or id, as stored or as shown (`suite.workflows_named`), among the chosen clouds' workflows, as the
    analyses' context (`suite.build_context`) and the reports' tables (`content.workflow_ids`) match it:
    matched as stored across every cloud first, an Azure "café" hid the AWS workflow shown so and the
    filter `--cloud aws --workflow café` was refused. A workflow only in other clouds is refused naming
    them. `tables` needs only executions and workflows.
    """
    known_clouds = [c.value for c in Cloud]
    for cloud in clouds or []:
        if str(cloud) not in known_clouds:
            raise ValueError(f"unknown cloud {cloud!r}; clouds: {', '.join(known_clouds)}")
    if not workflows:
        return []
    dim = known_workflows({name: tables[name] for name in ("executions", "workflows") if name in tables})
    selected = [str(c) for c in clouds or []]
    scope = dim[dim[C.cloud].isin(selected)] if selected else dim
    ids: set[str] = set()
    for wanted in map(str, workflows):
        hit = workflows_named(scope, wanted)
        if not hit.any():
            raise ValueError(_not_selected(dim, scope, wanted, selected))
        ids.update(str(i) for i in scope.loc[hit, C.workflow_id])
    return sorted(ids)


def _not_selected(dim: pd.DataFrame, scope: pd.DataFrame, wanted: str, selected: list[str]) -> str:
    """Why `wanted` selects no workflow of the chosen clouds: the clouds that hold it (the window held "no
    executions" for ever, exit 3), else a typo ("unknown workflow", the store's names closest first)."""
    homes = [cloud for cloud in sorted({str(c) for c in dim[C.cloud]}) if cloud not in selected
             and _names_any(dim[dim[C.cloud] == cloud], wanted)] if selected else []
    if not homes:
        return unknown_workflow_message(wanted, sorted({str(n) for n in dim[C.workflow_name].dropna()}))
    there = sorted({str(n) for n in scope[C.workflow_name].dropna()})
    chosen = ", ".join(selected)
    said = (f"workflows of {chosen} (closest first): {closest(wanted, there)}" if there else
            f"the store holds no workflows of {chosen}")
    return f"workflow {wanted!r} is in {', '.join(homes)}, not in {chosen}; {said}"


def _names_any(dim: pd.DataFrame, wanted: str) -> bool:
    """Whether `wanted` names a workflow of `dim` (two it names alike count: it is there)."""
    try:
        return bool(workflows_named(dim, wanted).any())
    except ValueError:
        return True


def unknown_workflow_message(wanted: str, names: Sequence[str]) -> str:
    """'unknown workflow X; workflows in the store: closest first ...', compared without case: by case
    alone `PAYMENTS-STANDARD` ranked payments-standard ninth of twelve. A name that differs only in case
    is named first and said to be one (names are matched as the cloud spells them). Names are compared as
    shown (`suite.shown_name`): `EVILRED-WF` got no hint for a stored `evil<ESC>]0;x<BEL>red-wf`, listed as
    evilred-wf."""
    if not names:
        return f"unknown workflow {wanted!r}; the store holds no workflows yet"
    folded = str(shown_name(wanted)).casefold()
    case = sorted({str(shown_name(n)) for n in names if str(shown_name(n)).casefold() == folded})
    hint = f" ({', '.join(map(repr, case))} differs only in case: names match as spelt)" if case else ""
    return f"unknown workflow {wanted!r}{hint}; workflows in the store (closest first): {closest(wanted, names)}"


def closest(wanted: str, names: Sequence[str]) -> str:
    """`names`, closest to `wanted` first (compared without case, as shown), the first MAX_NAMES_SHOWN and how
    many more."""
    folded = str(shown_name(wanted)).casefold()
    ranked = sorted(names, key=lambda n: (-difflib.SequenceMatcher(None, folded, str(shown_name(n)).casefold()).ratio(),
                                          n))
    more = f" and {len(ranked) - MAX_NAMES_SHOWN} more" if len(ranked) > MAX_NAMES_SHOWN else ""
    return ", ".join(ranked[:MAX_NAMES_SHOWN]) + more


def _coverage(ctx: Any, tables: Mapping[str, ir.Table], clouds: list[str] | None,
              workflows: list[str] | None, until_given: bool) -> Coverage:
    """What the window holds, from the runs per workflow the context read (`suite.runs_per_workflow`);
    only the store's runs per cloud under a cloud filter need a read of their own."""
    runs = runs_of(ctx.runs, ctx.workflows if workflows else None)
    if clouds:
        everything = tables["executions"]
        per_cloud = execute(everything.group_by(C.cloud).aggregate(n=everything.count()))
    else:
        per_cloud = ctx.runs.groupby(C.cloud, as_index=False)["runs"].sum().rename(columns={"runs": "n"})
    return Coverage(
        since=ctx.since, until=ctx.until, now=ctx.now,
        clouds=[str(c) for c in clouds] if clouds else None,
        workflow_filter=[str(w) for w in workflows] if workflows else None,
        executions=int(runs["in_window"].sum()),
        workflows=int(runs.loc[runs["in_window"] > 0, C.workflow_id].nunique()),
        first=_ts(runs["first"].min()) if not runs.empty else None,
        last=_ts(runs["last"].max()) if not runs.empty else None,
        store_executions=int(per_cloud["n"].sum()) if not per_cloud.empty else 0,
        store_clouds=sorted(str(c) for c in per_cloud[C.cloud]),
        until_given=until_given,
        failed_collections=_failed_collections(latest_runs(ctx)),
        collected_to=_collected_to(runs_before(ctx), ctx.until),
        observed=frozenset((str(c), str(w)) for c, w, n in zip(runs[C.cloud], runs[C.workflow_id], runs["in_window"],
                                                                 strict=True) if n > 0),
    )


def _collected_to(runs: pd.DataFrame, until: dt.datetime) -> dt.datetime | None:
    """The latest watermark (no later than `until`) of a sync that started before `until` and succeeded or
    partly succeeded, of `runs` (`collection.runs_before`: already narrowed to the clouds, started before a
    moment no earlier than `until`); None when none has one (an imported or demo-less store)."""
    done = runs[runs[C.status].isin(list(COLLECTED_STATUSES)) & runs[C.watermark].notna()
                & (runs[C.started_at] < until)]
    value = done[C.watermark].max()
    return None if _missing(value) else min(_ts(value) or until, until)


def _failed_collections(latest: pd.DataFrame) -> list[dict[str, Any]]:
    """Scopes whose last collection (`collection.latest_runs`: narrowed to the clouds, started before the
    coverage's moment, the runs the collection_gap findings judge) failed, but for a failure a later run of
    the same source superseded (`model.superseded_failures`). By scope."""
    rows = latest.sort_values(C.scope, kind="stable").to_dict("records")
    superseded = superseded_failures(rows)     # a later run of the same source collected
    return [{"scope": str(r[C.scope]), "cloud": str(r[C.cloud]), "ended_at": _ts(r[C.ended_at]),
             "error": None if _missing(r[C.error]) else str(r[C.error])}
            for r in rows if r[C.status] == RunStatus.FAILED.value and str(r[C.run_id]) not in superseded]


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _ts(value: Any) -> dt.datetime | None:
    return None if _missing(value) else to_utc(value)


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")
