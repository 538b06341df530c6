"""What a report says: every figure taken from the analysis layer, none computed here.

The findings and their coverage come from `analysis.run.analyze_report` (what `flowscope analyze`
prints), the aggregates from `analysis.tables` (what the dashboard shows) over one cursor of one
store snapshot, savings from `analysis.measures`. A report is a view of those, so its numbers are
the same as the dashboard's and `analyze`'s for the same window and filters.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from flowscope.analysis import measures
from flowscope.analysis import tables as q
from flowscope.analysis.base import Thresholds, utc
from flowscope.analysis.run import AnalysisReport, Coverage, analyze_report
from flowscope.analysis.suite import named_any
from flowscope.format import fmt_pct, fmt_usd
from flowscope.model import C
from flowscope.session import clouds_list, workflows_list

TOP = 10
"""Rows in each 'top' table of a report (costly steps, slowest steps, failing steps, retried steps)."""
NO_FINDINGS = ("No findings in this window.", "No findings: the window holds no executions to analyse.")
"""What an empty findings list says: of a window with data, and of an empty one (no all-clear)."""

RESOLUTION_OWED = "resolved: not yet told"
"""A target's `findings.notified` value on a resolved finding it was told of and not yet told is over.
Set when the finding is resolved (`history.changes`), replaced by the run id of the message that tells
it (`history.mark_delivered`): a target that heard a finding open hears it end, once, however many
runs its delivery takes. Findings resolved before this existed keep their run ids: nothing is owed."""

CHANGE_OWED = "worsened or reopened: not yet told"
"""A target's `findings.notified` value on a finding it was told of that has since worsened or reopened
(`history.changes`), until a message tells it (`history.mark_delivered`): when that message failed,
the next run saw the finding 'ongoing' and already told, and the target never heard it got worse."""


@dataclass
class HistoryChange:
    """What changed since the last report: the state of every finding in the report's scope."""

    states: dict[str, str] = field(default_factory=dict)              # finding id -> FindingState of this report
    first_seen: dict[str, dt.datetime] = field(default_factory=dict)  # finding id -> first seen
    resolved: pd.DataFrame = field(default_factory=pd.DataFrame)     # history rows resolved by this report
    recorded: bool = False                                            # history rows written by this report
    previous_report: dt.datetime | None = None                       # end of the previous report's window
    later_report: dt.datetime | None = None   # end of the newest report's window, when it ends after this one's
    run_id: str = ""                                                  # this report run (history.run_id)
    notified: dict[str, dict[str, str]] = field(default_factory=dict)  # finding id -> {target: run id}
    until: dt.datetime | None = None                                  # this report's window end
    alerts: dict[str, dict[str, Any]] = field(default_factory=dict)   # target -> its `alerts` row of this scope
    alert_scope: str = "all"                                          # the filters' scope (history.alert_scope)
    unannounced: list[dict[str, Any]] = field(default_factory=list)   # resolved rows a target is owed the end of
    not_recorded: str | None = None   # why the store refused this report's history rows (None: written, or none due)

    def resolutions_owed(self, target: str) -> list[dict[str, Any]]:
        """The resolved findings (history rows) in this scope that `target` was told of and not yet
        told are over (`RESOLUTION_OWED`)."""
        return [r for r in self.unannounced if self.notified.get(str(r[C.id]), {}).get(target) == RESOLUTION_OWED]

    def never_sent(self, finding_id: str, target: str) -> bool:
        """Whether no report run delivered this finding as it stands to `target`: never at all (its
        delivery failed, the finding was first recorded by `flowscope report`, which sends nothing, or
        the target is new), or not since it worsened or reopened (`CHANGE_OWED`: that message failed)."""
        told = self.notified.get(finding_id, {})
        return target not in told or told[target] == CHANGE_OWED

    def alert_said(self, target: str) -> str:
        """The status alert (`history.status_alert`) last delivered to `target`; 'ok' when none was
        (a target never told of a problem is taken as told that all is well)."""
        row = self.alerts.get(target)
        return str(row[C.alert]) if row else "ok"

    def status_told_later(self, target: str) -> bool:
        """Whether `target` was last told its status by the report of a later window than this one (an older
        window run after a newer one, a backfill): that status is newer than this window's, so this report's
        is no news to it and is not recorded over it (a backfill said "the data is complete again" of a
        collection still failing, and the next scheduled run said the failure again)."""
        row = self.alerts.get(target)
        return row is not None and self.until is not None and utc(row[C.window_end]) > utc(self.until)

    def count(self, *states: str) -> int:
        return sum(1 for s in self.states.values() if s in states) + (
            len(self.resolved) if "resolved" in states else 0)

    def summary(self) -> str:
        """'3 new, 5 ongoing, 2 resolved since the last report' (worsened and reopened said apart)."""
        parts = [f"{self.count('new')} new"]
        if self.count("reopened"):
            parts.append(f"{self.count('reopened')} reopened")
        if self.count("worsened"):
            parts.append(f"{self.count('worsened')} worsened")
        parts += [f"{self.count('ongoing')} ongoing", f"{len(self.resolved)} resolved"]
        if self.previous_report is not None:
            since = "since the last report"
        elif self.later_report is not None:   # an older window run after a newer one: its states, not new ones
            since = f"as recorded by the report of a later window (to {self.later_report:%Y-%m-%d %H:%M} UTC)"
        else:
            since = "(first report of this scope)"
        unsaved = "; not recorded in the findings history, so the next report says them again" \
            if self.not_recorded is not None else ""
        return ", ".join(parts) + " " + since + unsaved


@dataclass
class ReportContent:
    """Everything a report shows, as small frames and numbers (formats only lay them out)."""

    analysis: AnalysisReport
    filters: q.Filters
    generated_at: dt.datetime
    overview: pd.DataFrame            # tables.overview_by_cloud over the window (a 'total' row last)
    previous: pd.DataFrame            # the same over the previous window of the same length
    trend: pd.DataFrame               # tables.overview_and_trend (its trend)
    cost_drivers: pd.DataFrame        # tables.cost_drivers (top)
    slowest_steps: pd.DataFrame       # tables.latency_by_step, the top by p95
    failing_steps: pd.DataFrame       # tables.failing_steps (top)
    retried_steps: pd.DataFrame       # tables.amplification (top)
    collection_health: pd.DataFrame   # tables.collection_health
    potential_savings: float          # measures.potential_savings of the findings
    previous_covered: bool            # measures.previous_covered: the data covers the previous window
    title: str = "flowscope report"
    history: HistoryChange | None = None

    @property
    def findings(self) -> pd.DataFrame:
        return self.analysis.findings

    @property
    def coverage(self) -> Coverage:
        return self.analysis.coverage

    @property
    def bucket_seconds(self) -> int:
        return q.bucket_seconds(self.filters)

    @property
    def previous_has_data(self) -> bool:
        """Compare with the previous window only when the data covers it (`measures.previous_covered`,
        the dashboard's and the analyses' rule) and it holds executions (never against nothing)."""
        if not self.previous_covered:
            return False
        total = self.previous[self.previous[C.cloud] == "total"]
        return not total.empty and int(total["executions"].iloc[0]) > 0

    def no_comparison(self) -> str | None:
        """Why the window is not compared with the previous period (None when it is): the data begins
        inside that period (`measures.previous_covered`), or the period holds no executions. Said as
        "holds no executions" when it held days of them, it read as a workload that came from nothing."""
        if self.previous_has_data:
            return None
        first = self.coverage.first
        if self.previous_covered or first is None:
            return "the previous period holds no executions"
        begins = f"the data begins {first:%Y-%m-%d %H:%M} UTC"
        if first >= self.filters.since:
            return f"{begins}, inside this window: none of it is in the previous period"
        return f"{begins}, inside the previous period, which it does not cover"

    def failed_text(self) -> str | None:
        """The sentences of the scopes whose last collection failed (`Coverage.failed_notes`), joined by "; "
        (None when none did)."""
        return "; ".join(self.coverage.failed_notes()) or None

    def data_reasons(self) -> list[str]:
        """Why the window's data is not whole, every reason: what the coverage says (an empty or stale
        window) and the scopes whose last collection failed. What a notification and a table export say."""
        return [r for r in (self.coverage.message(), *self.coverage.failed_notes()) if r]

    def status_note(self) -> str | None:
        """`data_reasons` and where the data ends early, in one line; None when the data is whole. What a
        table export says beside its figures."""
        return "; ".join([*self.data_reasons(), *filter(None, [self.coverage.gap_note()])]) or None

    def no_findings_text(self) -> str:
        """What an empty findings list says (`NO_FINDINGS`): never an all-clear of an empty window."""
        return NO_FINDINGS[1] if self.coverage.status == "no_data" else NO_FINDINGS[0]

    def state_of(self, finding_id: str) -> str | None:
        return self.history.states.get(finding_id) if self.history is not None else None

    def retry_storms(self) -> pd.DataFrame:
        kinds = ("retry_storm", "synchronized_retries")
        return self.findings[self.findings["kind"].isin(kinds)] if not self.findings.empty else self.findings

    def summary_line(self) -> str:
        """One line for a chat message or a log: status, executions, failure rate, spend, findings."""
        cov = self.coverage
        total = self.overview[self.overview[C.cloud] == "total"].iloc[0] if not self.overview.empty else None
        head = (f"{window_time(cov.since)} .. {window_time(cov.until)} UTC: {cov.executions:,} executions of "
                f"{cov.workflows:,} workflow(s)")
        if total is not None and cov.executions:
            head += (f", run failure rate {fmt_pct(total['failure_rate'])}, spend {fmt_usd(total['cost_usd'])} "
                     f"({fmt_usd(total['monthly_usd'])}/month projected)")
        if cov.status == "no_data" and self.findings.empty:
            return head + "; no data, so no findings"    # "0 finding(s)" read as an all-clear in a chat preview
        head += f"; {len(self.findings)} finding(s)"
        if self.potential_savings:
            head += f", potential savings {fmt_usd(self.potential_savings)}/month"
        return head


def window_time(value: dt.datetime) -> str:
    """A report's moment as its headings show it: to the minute, to the second when it falls between
    minutes, as `run`'s file names do: two windows ending in one minute, in files named apart, read
    alike ("12:00") in their headings. Never to the microsecond: a report ending now read
    "18:00:13.235682"."""
    between = value.second or value.microsecond
    return value.strftime("%Y-%m-%d %H:%M:%S" if between else "%Y-%m-%d %H:%M")



def workflow_ids(con: Any, workflows: Sequence[str] | None, clouds: Sequence[str] = ()) -> tuple[str, ...]:
    """The ids of workflows named by name or id (the CLI's --workflow) among the `clouds` chosen (all without),
    as `tables.Filters` needs and `run.check_filters` selects them: matched in every cloud, an Azure "café"
    hid the AWS workflow shown so from a report of AWS, whose tables read nothing."""
    if not workflows:
        return ()
    options = q.workflow_options(con)
    if clouds:
        options = options[options[C.cloud].isin([str(c) for c in clouds])]
    hit = options[named_any(options, workflows)]      # the rule of every workflow filter
    return tuple(sorted(set(hit[C.workflow_id].astype(str))))


def build_content(
    store: Any,
    *,
    since: str | dt.datetime | None = "7d",
    until: str | dt.datetime | None = None,
    now: dt.datetime | None = None,
    clouds: str | Sequence[str] | None = None,
    workflows: str | Sequence[str] | None = None,
    thresholds: Thresholds | Mapping[str, Any] | None = None,
    title: str = "flowscope report",
    collections_as_of: dt.datetime | None = None,
) -> ReportContent:
    """Run the analyses and the dashboard's measures over one window and filters of a store.

    clouds, workflows: one or a list, read as `flowscope analyze` and the notebook read them (a cloud in any
    case, each once: `session.clouds_list`, `session.workflows_list`); `clouds=["AWS"]` was an unknown cloud
    and `clouds="aws"` the clouds 'a', 'w' and 's'.
    collections_as_of: as `analyze_report` (`run` asks as of now: its sync ran after the window's end).
    Raises ValueError (a typo'd cloud or workflow, a bad time) as `analyze` does.
    """
    clouds, workflows = clouds_list(clouds), workflows_list(workflows)
    thresholds = thresholds if isinstance(thresholds, Thresholds) else Thresholds.from_mapping(thresholds)
    now = now or dt.datetime.now(dt.timezone.utc)
    # One snapshot for the findings and the measures: a sync committing mid-report cannot split them.
    snapshot = store.pinned()
    report = analyze_report(snapshot, since=since, until=until, now=now, clouds=list(clouds) if clouds else None,
                            workflows=list(workflows) if workflows else None, thresholds=thresholds,
                            collections_as_of=collections_as_of)
    cov = report.coverage
    con = q.prepare(snapshot.con.cursor())
    try:
        f = q.Filters(since=cov.since, until=cov.until, clouds=tuple(clouds or ()),
                      workflows=workflow_ids(con, workflows, tuple(clouds or ())), month_days=thresholds.monthly_days,
                      data_since=cov.first)
        covered = measures.previous_covered(cov.first, cov.since, cov.until)
        latency = q.latency_by_step(con, f, compare=covered)
        overview, previous, trend = q.overview_and_trend(con, f, with_previous=True)
        assert previous is not None
        return ReportContent(
            analysis=report, filters=f, generated_at=now, title=title,
            overview=overview,
            previous=previous,
            trend=trend,
            cost_drivers=q.cost_drivers(con, f, limit=TOP),
            slowest_steps=latency.sort_values("p95_ms", ascending=False).head(TOP).reset_index(drop=True),
            failing_steps=q.failing_steps(con, f, limit=TOP),
            retried_steps=q.amplification(con, f, limit=TOP),
            collection_health=_health(q.collection_health(con, now), clouds),
            potential_savings=measures.potential_savings(report.findings.to_dict("records")),
            previous_covered=covered,
        )
    finally:
        con.close()


def _health(frame: pd.DataFrame, clouds: Sequence[str] | None) -> pd.DataFrame:
    """Collection health of the report's clouds only."""
    if clouds:
        frame = frame[frame[C.cloud].isin([str(c) for c in clouds])]
    return frame.reset_index(drop=True)
