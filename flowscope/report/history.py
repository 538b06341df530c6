"""Findings history: which findings are new, ongoing, worsened, reopened or resolved since the last report.

The store keeps one `findings` row per stable finding id (analysis/base.py `Finding.id`): first and
last seen, state, the report window that last touched it. `changes` is the pure transform (stored
rows + this report's findings -> rows to write + what changed); `record` reads, transforms and
writes in one visible step. Times are the report windows' ends, never the wall clock, so re-running
the same report for the same window finds every row already at that window and writes nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from flowscope.analysis.base import FindingKind, Severity, utc
from flowscope.model import C, FindingState
from flowscope.report.content import CHANGE_OWED, RESOLUTION_OWED, HistoryChange, ReportContent

_CARRIED = (C.kind, C.severity, C.cloud, C.workflow_id, C.workflow, C.step, C.title, C.monthly_usd)
ALERT_STATES = (FindingState.NEW.value, FindingState.WORSENED.value, FindingState.REOPENED.value)
"""States a notification sends by default: what a daily job has not said before."""


def status_alert(status: str, failed_scopes: Collection[str] = ()) -> str:
    """What a message's status says, as a change is measured: the status and, for a failed collection,
    which scopes failed. The same scopes failing again an hour later is no news (their error texts and
    times are not part of it); another scope failing is."""
    if status == "collection_failed":
        return f"{status}: {', '.join(sorted(set(failed_scopes))) or 'this run of the sync'}"
    return status


def run_id(since: dt.datetime, until: dt.datetime, clouds: Sequence[str], workflows: Sequence[str]) -> str:
    """The report run's id: the same window and filters give the same id (re-runs are one run). The
    filters are sets, as `alert_scope` reads them: `--cloud aws --cloud aws` is `--cloud aws`."""
    key = "|".join([since.isoformat(), until.isoformat(), ",".join(sorted(set(clouds))),
                    ",".join(sorted(set(workflows)))])
    return f"report-{until:%Y%m%dT%H%M%SZ}-{hashlib.sha1(key.encode()).hexdigest()[:8]}"


ALL_SCOPES = "all"
"""The alert scope of a report without cloud or workflow filters."""


def alert_scope(clouds: Sequence[str], workflows: Sequence[str]) -> str:
    """What a status alert is kept under beside its target: the report's filters. Two scheduled runs
    with different filters sending to one target each tell it their own status; kept under the target
    alone, one's "collection failed" and the other's "ok" flipped it on every run."""
    if not clouds and not workflows:
        return ALL_SCOPES
    return "; ".join(f"{name}={','.join(sorted(set(values)))}"
                     for name, values in (("clouds", clouds), ("workflows", workflows)) if values)


def stored_alerts(store: Any, scope: str) -> dict[str, dict[str, Any]]:
    """Per target, the `alerts` row of this scope. Rows without a scope (written before alerts had one)
    belong to none: each target is told its status once more rather than never."""
    return {str(r[C.target]): r for r in store.read_rows("alerts") if r.get(C.scope) == scope}


def _in_scope(row: dict[str, Any], clouds: Sequence[str], workflows: Sequence[str]) -> bool:
    """Whether a stored finding belongs to a report of these filters (only those can be resolved by it)."""
    if clouds and row.get(C.cloud) not in clouds:
        return False
    return not workflows or row.get(C.workflow_id) in workflows


def _more_severe(now: str, before: str) -> bool:
    try:
        return Severity(now).rank < Severity(before).rank
    except ValueError:
        return False


def changes(stored: Sequence[dict[str, Any]], findings: pd.DataFrame, *, since: dt.datetime, until: dt.datetime,
            clouds: Sequence[str] = (), workflows: Sequence[str] = (),
            observed: Collection[str] | None = None,
            observed_workflows: Collection[tuple[str, str]] | None = None,
            runs: Sequence[dict[str, Any]] = (),
            ) -> tuple[list[dict[str, Any]], HistoryChange]:
    """Pure: the history rows this report writes and the change it reports.

    A stored row already at this window (or a later one) is not touched: a re-run, or an older report
    run after a newer one, never rewinds the history; its state is reported as recorded.
    A finding not found again is resolved only where this report looked (`_looked_at`):
    `observed`, the clouds with executions in this window, and `observed_workflows`, the
    (cloud, workflow_id) with executions in it (None: everything was looked at).
    `runs`: the stored `report_runs` rows, so a scope that never had a finding knows its last report.
    """
    rid = run_id(since, until, clouds, workflows)
    scope = alert_scope(clouds, workflows)
    by_id = {str(r[C.id]): r for r in stored}
    # the last report before this one: any recorded time earlier than this window's end (on a re-run
    # the rows already carry this window, but their first or last seen still says when it was before),
    # and the end of every earlier report run of this scope (one that found nothing left no finding)
    earlier = [t for r in stored if _in_scope(r, clouds, workflows)
               for t in (utc(r[C.window_end]), utc(r[C.last_seen]), utc(r[C.first_seen])) if t < until]
    earlier += [t for r in runs if r.get(C.scope) == scope for t in (utc(r[C.window_end]),) if t < until]
    # a newer report of this scope, when this window ends before it (an older window run after a newer one)
    later = [t for r in stored if _in_scope(r, clouds, workflows) for t in (utc(r[C.window_end]),) if t > until]
    later += [t for r in runs if r.get(C.scope) == scope for t in (utc(r[C.window_end]),) if t > until]
    change = HistoryChange(previous_report=max(earlier) if earlier else None, run_id=rid, until=until,
                           later_report=max(later) if later else None,
                           notified={i: _notified(r) for i, r in by_id.items()}, alert_scope=scope)
    writes: list[dict[str, Any]] = []
    seen: set[str] = set()
    for row in findings.to_dict("records"):
        fid = str(row["id"])
        seen.add(fid)
        old = by_id.get(fid)
        if old is not None and utc(old[C.window_end]) >= until:
            state = old[C.state] if old[C.state] != FindingState.RESOLVED.value else FindingState.ONGOING.value
            change.states[fid] = state
            change.first_seen[fid] = utc(old[C.first_seen])
            continue
        if old is None:
            state, first = FindingState.NEW.value, until
        elif old[C.state] == FindingState.RESOLVED.value:
            state, first = FindingState.REOPENED.value, utc(old[C.first_seen])
        elif _more_severe(str(row["severity"]), str(old[C.severity])):
            state, first = FindingState.WORSENED.value, utc(old[C.first_seen])
        else:
            state, first = FindingState.ONGOING.value, utc(old[C.first_seen])
        change.states[fid] = state
        change.first_seen[fid] = first
        notified = old.get(C.notified) if old is not None else None
        if state in (FindingState.WORSENED.value, FindingState.REOPENED.value) and old is not None:
            owed = {target: CHANGE_OWED for target in _notified(old)}    # what each target was told is old news
            notified = json.dumps(owed, sort_keys=True) if owed else notified
            change.notified[fid] = owed
        writes.append({C.id: fid, **{k: _plain(row.get(k)) for k in _CARRIED}, C.first_seen: first,
                       C.last_seen: until, C.state: state, C.window_start: since, C.window_end: until,
                       C.run_id: rid, C.notified: notified})
    resolved = []
    for fid, old in by_id.items():
        if fid in seen or not _in_scope(old, clouds, workflows):
            continue
        if not _looked_at(old, observed, observed_workflows):
            continue
        end = utc(old[C.window_end])
        if end < until and old[C.state] != FindingState.RESOLVED.value:
            owed = _resolution_owed(old)
            new = {**old, C.state: FindingState.RESOLVED.value, C.window_start: since, C.window_end: until,
                   C.run_id: rid, C.notified: json.dumps(owed, sort_keys=True) if owed else old.get(C.notified)}
            writes.append(new)
            resolved.append(new)
            change.notified[fid] = owed or change.notified.get(fid, {})
        elif end == until and old[C.state] == FindingState.RESOLVED.value and old[C.run_id] == rid:
            resolved.append(old)          # resolved by this very report, run before
    change.resolved = pd.DataFrame(resolved, columns=list(_history_columns()))
    written = {str(w[C.id]): w for w in writes}
    change.unannounced = [row for fid, row in ({**by_id, **written}).items()
                          if row[C.state] == FindingState.RESOLVED.value and _in_scope(row, clouds, workflows)
                          and RESOLUTION_OWED in _notified(row).values()]
    return writes, change


def _resolution_owed(row: dict[str, Any]) -> dict[str, str]:
    """The finding's `notified` with every target told of it owed its resolution ({} when none was told)."""
    return {target: RESOLUTION_OWED for target in _notified(row)}


def _looked_at(row: dict[str, Any], clouds: Collection[str] | None,
               workflows: Collection[tuple[str, str]] | None) -> bool:
    """Whether this report looked where a stored finding was, so its absence means it is over. Absence
    where nothing ran resolves nothing (an empty window, a collector that stopped: a cloud's, or one
    region's or resource group's while the rest of the cloud ran, said "resolved" of a step failing 43%
    of the time and re-alerted it as "reopened" once data was back). A collection gap is resolved by the
    collection runs; a stuck run by its cloud's sync (its run has no newer executions to look at); a
    finding about a workflow by that workflow's runs in the window; any other by its cloud's."""
    if row.get(C.kind) == FindingKind.COLLECTION_GAP:
        return True
    workflow = row.get(C.workflow_id)
    by_workflow = isinstance(workflow, str) and workflow and row.get(C.kind) != FindingKind.STUCK_EXECUTION
    if workflows is not None and by_workflow:
        return (str(row.get(C.cloud)), str(workflow)) in workflows
    return clouds is None or row.get(C.cloud) in clouds


def _notified(row: dict[str, Any]) -> dict[str, str]:
    try:
        value = json.loads(row.get(C.notified) or "{}")
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def mark_delivered(store: Any, change: HistoryChange, sent: dict[str, Sequence[str]],
                   said: dict[str, tuple[str, str]]) -> int:
    """Record what each target's delivered message said, in one write (findings and alerts together,
    so a failed write leaves neither half): the findings it named (target -> finding ids), so a re-run
    of the same window (a scheduler's retry) does not send them again, and the status it said (target
    -> (status, status_alert)), so a status is sent when it starts, changes or ends, not on every run.
    A target whose delivery reached no one is in neither: the next run tells it (an e-mail some recipients
    took is in both, `Delivery.partly`). Returns rows written."""
    findings = _notified_rows(store, change, sent)
    alerts = _alert_rows(change, said)
    batch = {name: rows for name, rows in (("findings", findings), ("alerts", alerts)) if rows}
    if batch:
        store.write(batch)
        change.alerts.update({str(w[C.target]): w for w in alerts})
    return len(findings) + len(alerts)


def mark_notified(store: Any, change: HistoryChange, sent: dict[str, Sequence[str]]) -> int:
    """`mark_delivered` of the findings each target's message named, no status."""
    return mark_delivered(store, change, sent, {})


def _notified_rows(store: Any, change: HistoryChange, sent: dict[str, Sequence[str]]) -> list[dict[str, Any]]:
    """The stored findings named in `sent` with each target's run id added to their `notified`; those
    whose `notified` did not change are left out. Fills `change.notified`."""
    ids = {i for named in sent.values() for i in named}
    if not ids:
        return []
    rows = {str(r[C.id]): r for r in store.read_rows("findings") if str(r[C.id]) in ids}
    writes = []
    for fid, row in rows.items():
        notified = _notified(row)
        for target, named in sent.items():
            if fid in named:
                notified[target] = change.run_id
        value = json.dumps(notified, sort_keys=True)
        if value != row.get(C.notified):
            writes.append({**row, C.notified: value})
        change.notified[fid] = notified
    return writes


def _alert_rows(change: HistoryChange, said: dict[str, tuple[str, str]]) -> list[dict[str, Any]]:
    """An `alerts` row per target whose said status differs from what it was last told, unless a later
    window's run told it (`HistoryChange.status_told_later`): an older window never rewinds it."""
    if change.until is None:
        return []
    return [{C.target: target, C.scope: change.alert_scope, C.status: status, C.alert: alert,
             C.window_end: change.until, C.run_id: change.run_id} for target, (status, alert) in sorted(said.items())
            if change.alert_said(target) != alert and not change.status_told_later(target)]


def _history_columns() -> list[str]:
    from flowscope.model import TABLES

    return list(TABLES["findings"].schema.names)


def _plain(value: Any) -> Any:
    """None for pandas' missing values; numbers as Python numbers."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def record(store: Any, content: ReportContent, *, write: bool = True,
           as_of: dt.datetime | None = None) -> HistoryChange:
    """Read the stored history, work out what changed, write it (unless `write` is off), and attach
    the change to the report's content. One visible sync: get -> transform -> load.

    A write the store refuses raises (StoreError, OSError) with the change attached all the same and
    `not_recorded` set: what changed against the stored history is still known, so a message tells only
    that (without it, every open finding read as new and was sent again on every run).

    A window that ends after the report was made (a month-to-date `--until` at the month's end) is
    recorded as ending then: recorded at its future end, every scheduled run before that date found the
    rows "at a later window", left them as they were (sending "new" ones again on each run) and resolved
    none of them. `as_of`: when that is (default: when the report was made; `flowscope run`: the start of
    its hour, so the scheduler's retry in that hour is the same report run and writes nothing)."""
    f = content.filters
    until = min(utc(f.until), utc(as_of or content.generated_at))
    stored = store.read_rows("findings")
    runs = store.read_rows("report_runs")
    looked = content.coverage.observed          # the workflows with runs in the window, and so their clouds
    writes, change = changes(stored, content.findings, since=f.since, until=until, clouds=f.clouds,
                             workflows=f.workflows, observed={cloud for cloud, _ in looked},
                             observed_workflows=looked, runs=runs)
    change.alerts = stored_alerts(store, change.alert_scope)
    this_run = [] if any(r[C.run_id] == change.run_id for r in runs) else [
        {C.run_id: change.run_id, C.scope: change.alert_scope, C.window_start: f.since, C.window_end: until}]
    batch = {name: rows for name, rows in (("findings", writes), ("report_runs", this_run)) if rows}
    content.history = change
    if batch and write:
        try:
            store.write(batch)           # findings and the run together: a failed write leaves neither half
        except Exception as exc:
            change.not_recorded = str(exc) or type(exc).__name__
            raise
        change.recorded = True
    return change


HISTORY_LOCK = Path("_flowscope") / "history.lock"
"""Beside the store's writer lock (`store.layout.META_DIR`), a lock of its own: held for minutes while
messages are sent, the writer's would stop every sync meanwhile."""
HISTORY_LOCK_TIMEOUT_S = 900.0
"""How long a report or run waits for another to finish with the history: a run's deliveries, retried,
wait up to a minute each (Slack's Retry-After)."""


@contextlib.contextmanager
def history_lock(store: Any, timeout: float | None = None) -> Iterator[None]:
    """Hold the findings history from reading it to recording what was told of it: two runs at once
    (a cron job and a manual run, or an hour's run that overran) both read it before either wrote,
    both found the same findings new and sent them twice, and the second `notified` wrote over the
    first. The second now waits, then reads what the first recorded. StoreLockedError (naming the
    holder's pid) after `timeout` (default `HISTORY_LOCK_TIMEOUT_S`). A store this process cannot
    create the lock in (read-only) is not locked: nothing of it will be written either (the history's
    write fails and says so)."""
    from flowscope.store.lock import WriterLock

    root = Path(store.path)
    lock = WriterLock(root / HISTORY_LOCK, str(root))
    try:
        lock.acquire(HISTORY_LOCK_TIMEOUT_S if timeout is None else timeout)
        held = True
    except OSError:
        held = False
    try:
        yield
    finally:
        if held:
            lock.release()


def finding_history(store: Any, finding_id: str) -> dict[str, Any] | None:
    """One finding's stored history row (first seen, last seen, state), or None."""
    rows = [r for r in store.read_rows("findings") if r[C.id] == finding_id]
    return rows[0] if rows else None
