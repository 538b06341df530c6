"""What a notification says, built once from a report's content: pure, no I/O.

Each channel (slack.py, teams.py, webhook.py, email.py) turns a `Message` into its own payload and
escapes the cloud-originated text for its own markup. Nothing secret goes in: no payloads (the store
keeps none), no URLs of webhooks, no credentials; the report's location only when configured.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from flowscope.analysis.base import Severity
from flowscope.analysis.checks import dollars_text
from flowscope.format import is_missing
from flowscope.report.content import ReportContent
from flowscope.report.history import ALERT_STATES, status_alert

MAX_FINDINGS = 10
"""Findings listed in one message (the rest are counted; the report has them all)."""


@dataclass(frozen=True)
class MessageFinding:
    id: str
    severity: str
    state: str | None
    kind: str
    title: str
    cloud: str | None
    workflow: str | None
    step: str | None
    monthly_usd: float

    @property
    def monthly(self) -> str:
        """'$12.34/month', '$3.20 once' or 'no cost measured' (`checks.dollars_text`)."""
        return dollars_text(self.monthly_usd, self.kind)


@dataclass(frozen=True)
class Message:
    """A notification's content: plain values, untrusted text still raw (channels escape it)."""

    title: str
    summary: str                      # ReportContent.summary_line()
    status: str                       # coverage status: ok | no_data | collection_failed | stale
    status_text: str | None           # why, when not ok
    changes: str | None               # '3 new, 5 ongoing, 2 resolved since the last report'
    counts: dict[str, int]            # findings per state (and 'total')
    findings: list[MessageFinding] = field(default_factory=list)
    more: int = 0                     # selected findings beyond MAX_FINDINGS
    more_ids: tuple[str, ...] = ()    # their ids: counted, so told too (`told`)
    min_severity: str = "high"
    report: str | None = None         # where the report is (a path or a configured URL)
    window: dict[str, str] = field(default_factory=dict)
    gap: str | None = None            # the data ends well before the window does (Coverage.gap_note)
    alert: str = "ok"                 # the status as a change is measured (history.status_alert)
    status_due: bool = False          # the status is news to this target: it started, changed or ended
    ended: str | None = None          # the alert this target was last told, now over (the data is complete)
    resolved: list[MessageFinding] = field(default_factory=list)   # findings it was told of, now over
    resolved_more_ids: tuple[str, ...] = ()                          # those beyond MAX_FINDINGS (counted)

    @property
    def headline(self) -> str:
        if self.status == "no_data":
            return f"{self.title}: no data in the window"
        if self.ended:
            head = f"{self.title}: the data is complete again"
        elif self.status == "collection_failed":
            head = f"{self.title}: the last collection failed"
        elif self.gap:
            head = f"{self.title}: the data ends before the window does"
        else:
            head = self.title
        new = len(self.findings) + self.more
        over = f"; {self.resolved_count} resolved" if self.resolved_count else ""
        return f"{head}: {new} finding(s) at or above {self.min_severity} to look at{over}"

    @property
    def resolved_count(self) -> int:
        return len(self.resolved) + len(self.resolved_more_ids)

    @property
    def told(self) -> list[str]:
        """The ids of every finding this message tells its target of: the listed ones and those it
        counts ("and 3 more in the report"). Recorded as sent, all of them: recorded without the counted
        ones, a scheduler's retry of the same hour sent them in a message of their own, and so did
        every next run while more were left."""
        return ([f.id for f in self.findings] + list(self.more_ids) + [f.id for f in self.resolved]
                + list(self.resolved_more_ids))

    def to_dict(self) -> dict[str, Any]:
        """The generic webhook's JSON (documented in docs/reports.md)."""
        return {
            "source": "flowscope", "title": self.title, "headline": self.headline, "summary": self.summary,
            "status": self.status, "status_text": self.status_text, "window": self.window, "changes": self.changes,
            "counts": self.counts, "min_severity": self.min_severity, "more": self.more, "report": self.report,
            "gap": self.gap, "alert": self.alert, "ended": self.ended,
            "findings": [f.__dict__ for f in self.findings],
            "resolved": [f.__dict__ for f in self.resolved], "resolved_more": len(self.resolved_more_ids),
        }


def at_least(severity: str, minimum: str) -> bool:
    try:
        return Severity(severity).rank <= Severity(minimum).rank
    except ValueError:
        return False


def _text(value: Any) -> str | None:
    return None if value is None or is_missing(value) or value == "" else str(value)


def select(content: ReportContent, *, min_severity: str, only_changes: bool,
           target: str | None = None) -> list[dict[str, Any]]:
    """The findings a notification names: at or above `min_severity` and, by default, only those this
    target has not been told: new, worsened or reopened since the last report (so a daily job does not
    repeat yesterday's alert) and not yet sent to it since (by this very report run, a scheduler's retry,
    or by a newer window's run when this one reports an older window),
    or still open but never delivered to it (its delivery failed last time, or `flowscope report` saw
    the finding first and sent nothing). Without a history every finding counts as new."""
    out = []
    history = content.history
    for row in content.findings.to_dict("records"):
        if not at_least(str(row["severity"]), min_severity):
            continue
        fid = str(row["id"])
        state = content.state_of(fid)
        if only_changes and state is not None and history is not None:
            if state in ALERT_STATES:
                # told since it changed, by this run or another: a run of an older window reports a newer
                # run's rows as recorded ("new"), and re-sent what that run had told
                if target and not history.never_sent(fid, target):
                    continue
            elif not (target and history.never_sent(fid, target)):
                continue
        out.append(row)
    return out


def _finding(row: dict[str, Any], state: str | None) -> MessageFinding:
    return MessageFinding(id=str(row["id"]), severity=str(row["severity"]), state=state, kind=str(row["kind"]),
                          title=str(row["title"]), cloud=_text(row["cloud"]), workflow=_text(row["workflow"]),
                          step=_text(row["step"]),
                          monthly_usd=0.0 if is_missing(row["monthly_usd"]) else float(row["monthly_usd"] or 0.0))


SYNC_FAILED = ("the sync of this run failed for a scope, or a scope's name globs matched no workflow: see "
               "collection health")


def build_message(content: ReportContent, *, min_severity: str = "high", only_changes: bool = True,
                  report: str | None = None, target: str | None = None, sync_failed: bool = False,
                  renotify: bool = False) -> Message:
    """`sync_failed`: a scope failed in the sync just run (`flowscope run`), or its globs matched nothing
    (`SyncReport.exit_code`), which the window's coverage may not show. `renotify`: forget what this
    target was told (every open finding, and the status unless it is ok)."""
    chosen = select(content, min_severity=min_severity, only_changes=only_changes and not renotify, target=target)
    counts = {"total": len(content.findings)}
    if content.history is not None:
        for state in ("new", "reopened", "worsened", "ongoing"):
            counts[state] = content.history.count(state)
        counts["resolved"] = len(content.history.resolved)
    cov = content.coverage
    failed = content.failed_text()
    status = "collection_failed" if sync_failed and cov.status == "ok" else cov.status
    # every reason, not the first: an empty window's message hid the failed collection that emptied it,
    # and a stale or empty window hid that this run's own sync failed
    reasons = [*content.data_reasons(), *([SYNC_FAILED] if sync_failed and not failed else [])]
    status_text = "; ".join(reasons) or None
    gap = cov.gap_note() if status != "no_data" else None
    if gap and status_text is None:       # a sync that succeeds but brings nothing is news too
        status_text = gap
    alert = status_alert(status, [str(f["scope"]) for f in cov.failed_collections])
    said = content.history.alert_said(target) if content.history is not None and target else "ok"
    # the findings it was told of that are over: told once (`RESOLUTION_OWED`), whatever `send` says
    over = content.history.resolutions_owed(target) if content.history is not None and target else []
    if renotify or content.history is None or not target:
        due = status != "ok"
    else:       # a later window's run told it a newer status (this is a backfill): not news
        due = alert != said and not content.history.status_told_later(target)
    return Message(
        title=content.title, summary=content.summary_line(), status=status, status_text=status_text,
        changes=content.history.summary() if content.history is not None else None, counts=counts,
        findings=[_finding(r, content.state_of(str(r["id"]))) for r in chosen[:MAX_FINDINGS]],
        more=max(0, len(chosen) - MAX_FINDINGS), more_ids=tuple(str(r["id"]) for r in chosen[MAX_FINDINGS:]),
        min_severity=min_severity, report=report,
        window={"since": cov.since.isoformat(), "until": cov.until.isoformat()}, gap=gap,
        alert=alert, status_due=due, ended=said if due and status == "ok" else None,
        resolved=[_finding(r, "resolved") for r in over[:MAX_FINDINGS]],
        resolved_more_ids=tuple(str(r["id"]) for r in over[MAX_FINDINGS:]),
    )


def worth_sending(message: Message) -> bool:
    """Something to say: findings to look at, findings it was told of now resolved, or a status that is
    news to the target: data missing or incomplete (never a silent all-clear), another problem than the
    one it was told, or its end. The same problem again at the next scheduled run is not news (`run`
    still exits 3 for it)."""
    return bool(message.findings) or message.status_due or bool(message.resolved)


def report_address(where: str) -> str | None:
    """The report's address as a link takes it (Teams' Action.OpenUrl, Slack's `<url|text>`), or None (it
    is then a line of text): http(s) with a host, its spaces and other characters a URL cannot hold
    percent-encoded (what is already encoded stays; a `%` that starts no escape, as in "100%.html", is
    `%25`: kept, the url was one no browser reads). A url Teams cannot read broke the whole card on the
    desktop client (microsoft/AdaptiveCards#3538); a line break or control character is no address at all."""
    from urllib.parse import quote, urlsplit

    if not re.match(r"https?://", where) or any(ch < " " or ch == "\x7f" for ch in where):
        return None
    try:
        if not urlsplit(where).hostname:
            return None
    except ValueError:             # a bracketed host that is no IPv6 address, a port that is no number
        return None
    return quote(re.sub(r"%(?![0-9A-Fa-f]{2})", "%25", where), safe=":/?#[]@!$&'()*+,;=%~")
