"""Notifications: `[[notify]]` targets in flowscope.toml (Slack, Teams, a JSON webhook, e-mail).

    targets = parse_targets(settings.notify)          # ValueError for a bad entry (a config error)
    results = deliver(targets, content, report_files)  # one Delivery per target, never raises

Payloads are built by pure functions (slack.py, teams.py, webhook.py, email.py); sending goes through
requests (webhooks) or smtplib (STARTTLS, or SMTPS on port 465), retried by tenacity on what may pass
(a dropped connection, HTTP 429 or 5xx, SMTP 4xx). A failed delivery is a `Delivery` with its error,
reported by the caller: it never hides the findings. Secrets (webhook URLs, SMTP credentials) come
from environment variables named in the config and never appear in a message, an error or a log line.

Here: the delivery (`plan`, `deliver`, the retries and their deadline). Each other job has a module:
targets.py (the [[notify]] entries and their checks), addresses.py (the environment variables and the
webhook URL checks doctor and the send share), posting.py (the HTTP POST, a receiver's reason, the URL's
secrets kept out), smtp.py (an e-mail target's SMTP attempts and refusals), failures.py (`Transient` and
`Permanent`, raised by all of them). What other code imports from here is re-exported (`__all__`); a
test patches a moved name on the module that defines it (`worth_sending`, `DEADLINE_S` and `deliver`, read
by the delivery here, are patched here).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowscope.report.content import ReportContent
from flowscope.report.notify.addresses import (
    ADDRESS_PROBLEMS,
    BAD_PORT,
    BLANKS,
    NO_ADDRESS,
    NO_HOST,
    REFUSED,
    UNREADABLE,
    _url,
    unaddressed_problems,
    unaddressed_variables,
    unset_variables,
    url_problem,
    variables,
)
from flowscope.report.notify.failures import Failure, Permanent, Transient
from flowscope.report.notify.message import Message, build_message, worth_sending
from flowscope.report.notify.posting import _post, refusal
from flowscope.report.notify.smtp import _smtp, smtp_refusal
from flowscope.report.notify.targets import (
    COMMON_KEYS,
    KEYS,
    Target,
    parse_targets,
    smtp_tls,
)

__all__ = [
    # the delivery, defined here
    "DEADLINE_S", "READABLE", "Delivery", "Plan", "deliver", "plan", "report_location", "worth_sending",
    # failures.py
    "Failure", "Permanent", "Transient",
    # targets.py
    "COMMON_KEYS", "KEYS", "Target", "parse_targets", "smtp_tls",
    # addresses.py
    "ADDRESS_PROBLEMS", "BAD_PORT", "BLANKS", "NO_ADDRESS", "NO_HOST", "REFUSED", "UNREADABLE", "_url",
    "unaddressed_problems", "unaddressed_variables", "unset_variables", "url_problem", "variables",
    # posting.py, smtp.py
    "refusal", "smtp_refusal",
]


@dataclass
class Delivery:
    target: str
    sent: bool
    skipped: bool = False
    attempts: int = 0
    error: str | None = None
    detail: str = ""
    finding_ids: list[str] = field(default_factory=list)   # the findings its message told (`Message.told`)
    said: tuple[str, str] | None = None                     # (status, status alert) its message said

    @property
    def failed(self) -> bool:
        """Not every receiver got it: nothing sent, or sent to some recipients only (`partly`)."""
        return not self.skipped and (not self.sent or self.error is not None)

    @property
    def partly(self) -> bool:
        """Sent to some of its recipients, refused for the others: recorded as told (`finding_ids`, `said`),
        so a later run does not send it again to those who have it, and a failure naming the others."""
        return self.sent and self.error is not None

    def line(self) -> str:
        if self.skipped:
            return f"notify {self.target}: nothing to send ({self.detail})"
        if self.partly:
            return (f"notify {self.target}: FAILED after {self.attempts} attempt(s): {self.error}; recorded as "
                    f"sent to the {self.detail} that took it: no later run sends it to them again")
        if self.sent:
            return f"notify {self.target}: sent ({self.detail}; {self.attempts} attempt(s))"
        if not self.attempts:        # nothing could be tried (a variable not set on a run with nothing to send)
            return f"notify {self.target}: FAILED: {self.error}"
        return f"notify {self.target}: FAILED after {self.attempts} attempt(s): {self.error}"


DEADLINE_S = 2400.0
"""No attempt of one delivery starts later than this after its first: 40 minutes, room for the 6 attempts a
backoff of 60 spreads over 31 minutes (a greylisting server's delay) even when each takes a while. With
`retries`, `timeout` and `backoff` at their most, the waits between attempts alone came to about two and a half
hours, the run holding the findings history's lock meanwhile. A delivery so stopped fails
naming the deadline; at most one attempt's `timeout` comes after it."""


def _sender(target: Target, message: Message, files: Sequence[Path]) -> Callable[[], str]:
    """The one attempt a target's delivery repeats."""
    if target.type == "email":
        return _smtp(target, message, files)
    from flowscope.report.notify import slack, teams, webhook

    build = {"slack": slack.payload, "teams": teams.payload, "webhook": webhook.payload}[target.type]
    body = build(message)

    def attempt() -> str:
        return _post(_url(target), body, target.timeout)

    return attempt


def _with_retries(target: Target, attempt: Callable[[], str]) -> tuple[str, int]:
    from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, stop_before_delay, wait_exponential

    from flowscope.collectors.throttle import RETRY_AFTER_MAX_S

    backoff = wait_exponential(multiplier=target.backoff, max=30 * max(target.backoff, 0.01))

    def wait(state: Any) -> float:
        """The backoff, or longer when the server asked (Slack's 429 `Retry-After`): a retry sooner is
        refused again, and the attempts ran out in a second or two while Slack asked for 30."""
        exc = state.outcome.exception() if state.outcome is not None else None
        asked = getattr(exc, "retry_after", None)
        waited = float(backoff(state))
        return max(waited, min(float(asked), RETRY_AFTER_MAX_S)) if asked is not None else waited

    tries = 0

    def counted() -> str:
        nonlocal tries
        tries += 1
        return attempt()

    retrying = Retrying(stop=stop_after_attempt(target.retries) | stop_before_delay(DEADLINE_S), reraise=True,
                        wait=wait, retry=retry_if_exception_type(Transient))
    try:
        detail = retrying(counted)
    except Failure as exc:
        exc.attempts = tries        # a 503 retried, then a 400: "after 1 attempt(s)" of a target tried twice
        if isinstance(exc, Transient) and tries < target.retries:
            deadline = f"{DEADLINE_S / 60:g} min" if DEADLINE_S >= 60 else f"{DEADLINE_S:g} s"
            exc.args = (f"{exc} (no attempt starts more than {deadline} after the first: {tries} of "
                        f"{target.retries} made)",)
        raise
    return detail, tries


@dataclass
class Plan:
    """What each target will say (built before anything is sent; tests read it)."""

    target: Target
    message: Message
    send: bool = field(default=True)


def plan(targets: Sequence[Target], content: ReportContent, report: str | None = None,
         sync_failed: bool = False, renotify: bool = False) -> list[Plan]:
    out = []
    for t in targets:
        where = t.options.get("report_url") or report
        message = build_message(content, min_severity=t.min_severity, only_changes=t.only_changes,
                                report=str(where) if where else None, target=t.name, sync_failed=sync_failed,
                                renotify=renotify)
        out.append(Plan(t, message, worth_sending(message) or not t.only_changes))
    return out


READABLE = (".html", ".pdf", ".md", ".xlsx")
"""The report files a message points to, the one to read first first (csv and parquet: their folder)."""


def report_location(files: Sequence[Path]) -> str | None:
    """The absolute path of the report a message names: the HTML page (else the PDF, the Markdown, the
    workbook), else the folder of csv or parquet tables. The first file written, by the scheduler's
    relative path, named one table of a folder where no reader of the message could find it."""
    if not files:
        return None
    for suffix in READABLE:
        for path in files:
            if path.suffix == suffix:
                return str(Path(path).absolute())
    return str(Path(files[0]).absolute().parent)


def deliver(targets: Sequence[Target], content: ReportContent, files: Sequence[Path] = (), *,
            sync_failed: bool = False, renotify: bool = False) -> list[Delivery]:
    """Send to every target; one Delivery each (sent, skipped or failed), never an exception. A target
    with nothing to send whose environment variables are not set is failed, not skipped."""
    results = []
    for p in plan(targets, content, report=report_location(files), sync_failed=sync_failed,
                  renotify=renotify):
        t = p.target
        unready = _unready(t)
        if not p.send and unready:
            # nothing to say this run, but nothing could be said: quiet hours of exit 0 hid a target whose
            # first finding worth sending was the first to fail
            results.append(Delivery(t.name, sent=False, error=f"{unready}: nothing to send this run, and "
                                    "nothing could be sent"))
            continue
        if not p.send:
            results.append(Delivery(t.name, sent=False, skipped=True, detail=_quiet(p.message)))
            continue
        attempts = 0
        try:
            detail, attempts = _with_retries(t, _sender(t, p.message, files))
            results.append(Delivery(t.name, sent=True, attempts=attempts, detail=detail,
                                    finding_ids=p.message.told,
                                    said=(p.message.status, p.message.alert)))
        except Failure as exc:
            tries = exc.attempts or attempts or _attempts(exc, t)
            if exc.told:     # some recipients have it: recorded as told, or every later run sent it them again
                results.append(Delivery(t.name, sent=True, attempts=tries, error=str(exc), detail=exc.told,
                                        finding_ids=p.message.told, said=(p.message.status, p.message.alert)))
            else:
                results.append(Delivery(t.name, sent=False, attempts=tries, error=str(exc)))
        except Exception as exc:        # noqa: BLE001 - a bug in one channel must not silence the others
            # only the type: its message or traceback could quote the target's URL, a secret
            results.append(Delivery(t.name, sent=False, attempts=max(attempts, 1),
                                    error=f"unexpected {type(exc).__name__} while sending (a flowscope bug: "
                                          "please report it)"))
    return results


def _unready(target: Target) -> str | None:
    """Why no message could reach the target in this environment (its variables, by the rules doctor
    and the send apply), or None: a variable holding no address was skipped on a quiet run (exit 0)."""
    problems = [f"environment variable {v}" for v in unaddressed_problems(target)]
    unset = unset_variables(target)
    if unset:
        said = f"variable {unset[0]} is" if len(unset) == 1 else f"variables {', '.join(unset)} are"
        problems.insert(0, f"environment {said} not set")
    return "; ".join(problems) or None


def _quiet(message: Message) -> str:
    """Why nothing is sent: no new finding, and the data complete or its problem already told."""
    head = f"no new finding at or above {message.min_severity}"
    if message.status == "ok":
        return f"{head}, data complete"
    return f"{head}; status {message.alert!r} already sent to it (flowscope run --renotify sends it again)"


def _attempts(exc: Exception, target: Target) -> int:
    """Attempts made before giving up: all of them for a transient error, one for a permanent one."""
    return target.retries if isinstance(exc, Transient) else 1
