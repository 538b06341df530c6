"""Notifications against real loopback servers: Slack, Teams and a JSON webhook on a local HTTP server
(their documented shapes checked), e-mail through aiosmtpd with STARTTLS and a login; retries, failures
reported, secrets kept out of the file and out of every message."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import time
from pathlib import Path

import pytest

from flowscope.analysis import findings_to_records
from flowscope.report import build_content
from flowscope.report.history import mark_notified, record
from flowscope.report.notify import deliver, parse_targets, plan
from flowscope.report.notify.teams import CONTENT_TYPE
from flowscope.store import Store
from tests.report.conftest import SMTP_PASSWORD, SMTP_USER
from tests.report.helpers import END, HOSTILE, Receiver

SINCE = END - dt.timedelta(days=7)


@pytest.fixture(scope="module")
def content(hostile_store):
    return build_content(Store.open(hostile_store), since=SINCE, until=END, now=END)


@pytest.fixture()
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


def hook(kind: str, env: str = "HOOK_URL", **extra) -> dict:
    return {"type": kind, "url_env": env, "min_severity": "low", "backoff": 0, **extra}


def test_slack_gets_text_and_blocks_with_names_escaped(content, receiver, monkeypatch):
    monkeypatch.setenv("HOOK_URL", receiver.url + "/services/T000/B000/XXXX")
    [result] = deliver(parse_targets([hook("slack")]), content)
    assert result.sent and result.attempts == 1, result.line()
    [req] = receiver.requests
    assert req.path == "/services/T000/B000/XXXX" and req.headers["Content-Type"] == "application/json"
    body = req.body
    assert isinstance(body["text"], str) and body["text"]
    assert body["blocks"][0]["type"] == "header" and body["blocks"][0]["text"]["type"] == "plain_text"
    sections = [b for b in body["blocks"] if b["type"] == "section"]
    assert all(b["text"]["type"] == "mrkdwn" for b in sections) and len(sections) >= 2
    raw = json.dumps(body)
    assert "<!channel>" not in raw and "<script>" not in raw and "<img" not in raw and "<http" not in raw
    assert "&lt;!channel&gt;" in raw                 # shown, never a mention
    priced = {f["kind"]: f["monthly_usd"] for f in findings_to_records(content.findings)}
    assert priced.get("collection_gap") == 0.0, priced
    assert "no cost measured" in raw and "$0/month" not in raw   # the failed scope's finding prices nothing


def test_teams_gets_an_adaptive_card_attachment(content, receiver, monkeypatch):
    monkeypatch.setenv("HOOK_URL", receiver.url + "/workflows/abc/triggers/manual/paths/invoke")
    [result] = deliver(parse_targets([hook("teams")]), content)
    assert result.sent, result.line()
    body = receiver.requests[0].body
    assert body["type"] == "message" and len(body["attachments"]) == 1
    attachment = body["attachments"][0]
    assert attachment["contentType"] == CONTENT_TYPE == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4" and "adaptivecards.io" in card["$schema"]
    assert all(item["type"] in ("TextBlock", "Container") for item in card["body"])
    texts = json.dumps(card)
    assert "[click me](http" not in texts and r"\\[click me\\](http" in texts


def test_webhook_gets_the_summary_and_the_findings_as_data(content, receiver, monkeypatch):
    monkeypatch.setenv("HOOK_URL", receiver.url + "/hook")
    [result] = deliver(parse_targets([hook("webhook")]), content)
    assert result.sent
    body = receiver.requests[0].body
    assert body["source"] == "flowscope" and body["status"] == "collection_failed"
    assert body["window"] == {"since": SINCE.isoformat(), "until": END.isoformat()}
    assert {f["id"] for f in body["findings"]} <= set(content.findings["id"])
    assert any(HOSTILE["Get_invoice"] in (f["step"] or "") for f in body["findings"])   # JSON carries it as data


@pytest.mark.parametrize(("written", "said"), [
    (["out/flowscope-T-csv/summary.csv", "out/flowscope-T-csv/trend.csv", "out/flowscope-T.html"],
     "out/flowscope-T.html"),
    (["out/flowscope-T.md", "out/flowscope-T.pdf"], "out/flowscope-T.pdf"),
    (["out/flowscope-T-csv/summary.csv", "out/flowscope-T-csv/trend.csv"], "out/flowscope-T-csv"),
])
def test_a_message_names_the_readable_report_by_its_full_path(content, receiver, monkeypatch, tmp_path,
                                                              written, said):
    """`run --report-dir out` with formats csv and html sent "report": "out/flowscope-...-csv/summary.csv":
    one table of a folder, by a path relative to the scheduler's working directory, which no reader
    of the message has. It now names the page to read (html, else pdf, md, xlsx, else the folder of
    tables) by its absolute path."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOOK_URL", receiver.url + "/hook")
    [result] = deliver(parse_targets([hook("webhook")]), content, [Path(p) for p in written])
    assert result.sent
    assert receiver.requests[0].body["report"] == str(tmp_path / said)


def test_transient_failures_are_retried_and_a_permanent_one_is_reported(content, receiver, monkeypatch):
    monkeypatch.setenv("HOOK_URL", receiver.url + "/secret-token-path")
    receiver.statuses = [500, 429]
    [ok] = deliver(parse_targets([hook("slack", retries=3)]), content)
    assert ok.sent and ok.attempts == 3 and len(receiver.requests) == 3
    receiver.requests.clear()
    receiver.statuses = [404]
    [bad] = deliver(parse_targets([hook("slack", retries=3)]), content)
    assert bad.failed and bad.attempts == 1 and bad.error == "HTTP 404: error" and len(receiver.requests) == 1
    receiver.statuses = [503, 503]
    [gave_up] = deliver(parse_targets([hook("webhook", retries=2)]), content)
    assert gave_up.failed and gave_up.attempts == 2 and "FAILED after 2 attempt(s): HTTP 503" in gave_up.line()


@pytest.mark.slow  # waits out a Retry-After of 1 s
def test_a_429_is_retried_no_sooner_than_its_retry_after(content, receiver, monkeypatch):
    """Slack answers a burst with 429 and `Retry-After`; the retries came at the backoff's pace (here at
    once), were refused again, and the run failed its delivery (exit 4) while Slack only asked to wait."""
    monkeypatch.setenv("HOOK_URL", receiver.url + "/services/T0/B0/X")
    receiver.statuses, receiver.error_headers = [429], {"Retry-After": "1"}
    started = time.monotonic()
    [result] = deliver(parse_targets([hook("slack", retries=2)]), content)      # backoff = 0
    assert result.sent and result.attempts == 2, result.line()
    assert time.monotonic() - started >= 0.95


def test_an_unreachable_hook_fails_without_naming_its_secret_url(content, monkeypatch):
    monkeypatch.setenv("HOOK_URL", "http://127.0.0.1:9/services/T0/B0/very-secret")
    [result] = deliver(parse_targets([hook("slack", retries=2, timeout=2)]), content)
    assert result.failed and result.attempts == 2
    assert "very-secret" not in result.line() and "127.0.0.1" not in result.line()
    monkeypatch.delenv("HOOK_URL")
    [missing] = deliver(parse_targets([hook("slack")]), content)
    assert missing.failed and "environment variable HOOK_URL" in missing.error


def test_two_targets_of_one_name_are_a_config_error():
    """What each target was sent is kept under its name: a Slack and an e-mail entry both named 'ops'
    shared one record, so the mail whose delivery failed counted as sent by the Slack message and its
    findings were never mailed. Two entries of one name (given, or a default like slack#2) are refused."""
    with pytest.raises(ValueError, match=r"\[\[notify\]\] #2: name 'ops' is already the name of #1"):
        parse_targets([hook("slack", name="ops"), {"type": "email", "host": "127.0.0.1", "from": "a@example.com",
                                                     "to": "b@example.com", "name": "ops"}])
    with pytest.raises(ValueError, match="name 'slack#2' is already the name of #2"):
        parse_targets([hook("slack"), hook("slack"), hook("webhook", name="slack#2")])
    assert [t.name for t in parse_targets([hook("slack"), hook("slack")])] == ["slack#1", "slack#2"]


@pytest.mark.parametrize("entry, message", [
    ({"type": "slack", "url": "https://hooks.slack.com/services/x"}, "must not be written in the config file"),
    ({"type": "email", "host": "h", "from": "a@b", "to": ["c@d"], "password": "x"}, "must not be written"),
    ({"type": "pager"}, "type must be one of"),
    # a line break in an address made EmailMessage raise mid-run: a traceback and exit 5 after the reports
    ({"type": "email", "host": "h", "from": "a@b.c\nBcc: x@evil.example", "to": "c@d.e"}, "from: not one e-mail"),
    ({"type": "email", "host": "h", "from": "a@b.c", "to": ["c@d.e", "ops team"]}, "to: not one e-mail"),
    ({"type": "email", "host": "h", "from": "a@b.c", "to": ["c@d.e", 5]}, "to: not one e-mail"),
    ({"type": "slack"}, "url_env"),
    ({"type": "slack", "url_env": "X", "colour": "red"}, "unknown key"),
    ({"type": "slack", "url_env": "X", "min_severity": "urgent"}, "min_severity"),
    ({"type": "email", "host": "smtp.example.com", "from": "a@b", "to": "c@d", "starttls": False},
     "starttls = false"),
    # read as 1 try, 2 tries and 1 s
    ({"type": "slack", "url_env": "X", "retries": True}, "retries must be a whole number"),
    ({"type": "slack", "url_env": "X", "retries": 2.7}, "retries must be a whole number"),
    ({"type": "slack", "url_env": "X", "timeout": True}, "timeout must be a number of seconds"),
    ({"type": "slack", "url_env": "X", "backoff": "2"}, "backoff must be a number of seconds"),
])
def test_bad_notify_entries_are_config_errors(entry, message):
    with pytest.raises(ValueError, match=message):
        parse_targets([entry])


def test_notify_words_are_taken_in_any_case_as_fail_on_is():
    """min_severity = "High" was refused while [report] fail_on = "High" was taken."""
    [t] = parse_targets([{"type": "slack", "url_env": "X", "min_severity": "High", "send": "All", "retries": 2}])
    assert (t.min_severity, t.only_changes, t.retries) == ("high", False, 2)


def first_run_sent(path, receiver, monkeypatch):
    """A fresh store, a webhook target, and the first scheduled report recorded and sent:
    (store, targets, its content)."""
    from tests.report.helpers import make_store

    store = make_store(path, failed_scope=False)
    monkeypatch.setenv("HOOK_URL", receiver.url + "/hook")
    targets = parse_targets([hook("webhook")])
    first = build_content(store, since=SINCE, until=END, now=END)
    record(store, first)
    [sent] = deliver(targets, first)
    assert sent.sent
    mark_notified(store, first.history, {sent.target: sent.finding_ids})    # as `flowscope run` does
    return store, targets, first


def next_run(store, hours: float):
    """The report of a run `hours` after the first, recorded."""
    later = END + dt.timedelta(hours=hours)
    content = build_content(store, since=later - dt.timedelta(days=7), until=later, now=later)
    record(store, content)
    return content


@pytest.mark.slow  # three reports of a fresh store
def test_only_new_findings_are_sent_by_default(tmp_path, receiver, monkeypatch):
    store, targets, first = first_run_sent(tmp_path / "s", receiver, monkeypatch)
    assert len(receiver.requests[0].body["findings"]) == len(first.findings) > 0
    nxt = next_run(store, 1)        # the next run: the same findings, nothing new
    [skipped] = deliver(targets, nxt)
    assert skipped.skipped and len(receiver.requests) == 1
    every = parse_targets([hook("webhook", send="all")])
    assert plan(every, nxt)[0].send


@pytest.mark.slow  # three reports of a fresh store
def test_findings_counted_beyond_the_list_are_not_sent_again_by_a_rerun(tmp_path, receiver, monkeypatch):
    """A message lists 10 findings and counts the rest ("and 3 more in the report"); only the listed
    ones were recorded as sent, so the scheduler's retry of the same hour sent a second message with
    the 3, and the next hour a third ("ongoing", never sent). The counted ones are told too now."""
    from flowscope.report.notify import message

    monkeypatch.setattr(message, "MAX_FINDINGS", 1)
    store, targets, first = first_run_sent(tmp_path / "s", receiver, monkeypatch)
    body = receiver.requests[0].body
    assert len(body["findings"]) == 1 and body["more"] == len(first.findings) - 1 > 0
    again = build_content(store, since=SINCE, until=END, now=END)       # the same hour, re-run
    record(store, again)
    [rerun] = deliver(targets, again)
    assert rerun.skipped, rerun.line()
    [later] = deliver(targets, next_run(store, 1))
    assert later.skipped and len(receiver.requests) == 1, later.line()


@pytest.mark.slow  # three reports of a fresh store
def test_a_failed_delivery_is_sent_on_the_next_run_not_lost(tmp_path, receiver, monkeypatch):
    """One target's delivery failed; the next scheduled run (a new window) saw the findings 'ongoing'
    and sent that target nothing, ever: the alert was lost. Now it gets them, once."""
    from tests.report.helpers import make_store

    store = make_store(tmp_path / "s", failed_scope=False)
    monkeypatch.setenv("HOOK_URL", receiver.url + "/hook")
    targets = parse_targets([hook("webhook", name="ops"), hook("webhook", name="down")])
    receiver.statuses = [200, 400]                      # "down" refuses the first run's message
    first = build_content(store, since=SINCE, until=END, now=END)
    record(store, first)
    ops, down = deliver(targets, first)
    assert ops.sent and down.failed
    mark_notified(store, first.history, {ops.target: ops.finding_ids})
    ids = {f["id"] for f in receiver.requests[0].body["findings"]}

    nxt = next_run(store, 1)
    assert set(nxt.history.states.values()) == {"ongoing"}
    ops, down = deliver(targets, nxt)
    assert ops.skipped and down.sent, (ops.line(), down.line())
    body = receiver.requests[-1].body
    assert {f["id"] for f in body["findings"]} == ids and {f["state"] for f in body["findings"]} == {"ongoing"}
    mark_notified(store, nxt.history, {down.target: down.finding_ids})

    later = next_run(store, 2)
    assert all(d.skipped for d in deliver(targets, later)) and len(receiver.requests) == 3


@pytest.mark.slow  # two reports of a fresh store
def test_findings_first_recorded_by_a_report_are_still_sent_by_run(tmp_path, receiver, monkeypatch):
    """`flowscope report` records the history and sends nothing; the scheduled run an hour later saw every
    finding 'ongoing' and sent nothing either: an ad-hoc report swallowed the alerts."""
    from tests.report.helpers import make_store

    store = make_store(tmp_path / "s", failed_scope=False)
    monkeypatch.setenv("HOOK_URL", receiver.url + "/hook")
    adhoc = build_content(store, since=SINCE, until=END, now=END)
    record(store, adhoc)                                  # flowscope report: history written, nothing sent
    nxt = next_run(store, 1)
    [sent] = deliver(parse_targets([hook("webhook")]), nxt)
    assert sent.sent, sent.line()
    assert len(receiver.requests[0].body["findings"]) == len(adhoc.findings) > 0


def test_email_over_starttls_with_credentials_from_the_environment(content, smtp_server, tmp_path, monkeypatch):
    monkeypatch.setenv("SMTP_USER_VAR", SMTP_USER)
    monkeypatch.setenv("SMTP_PASSWORD_VAR", SMTP_PASSWORD)
    attachment = tmp_path / "flowscope-report.md"
    attachment.write_text("# report\n")
    target = {"type": "email", "host": "127.0.0.1", "port": smtp_server.port, "from": "flowscope@example.com",
              "to": ["ops@example.com"], "username_env": "SMTP_USER_VAR", "password_env": "SMTP_PASSWORD_VAR",
              "ca_file": smtp_server.ca_file, "min_severity": "low", "attach": True, "backoff": 0}
    [result] = deliver(parse_targets([target]), content, [attachment])
    assert result.sent, result.line()
    assert smtp_server.logins == [SMTP_USER]
    [envelope] = smtp_server.messages
    assert envelope.rcpt_tos == ["ops@example.com"]
    mail = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
    assert mail["Subject"].startswith("flowscope: ") and "<" not in mail["Subject"]
    text = mail.get_body(("plain",)).get_content()
    assert "Findings:" in text and SMTP_PASSWORD not in envelope.original_content.decode()
    assert [p.get_filename() for p in mail.iter_attachments()] == ["flowscope-report.md"]


@pytest.mark.parametrize("status, ended, said", [
    ("collection_failed", None, " - collection failed"), ("ok", "collection_failed: gcp:p", " - data complete again"),
    ("ok", None, "")])
def test_email_subject_says_the_status_and_its_end(status, ended, said):
    """The message that a failed collection is over had a subject of counts alone, read as routine."""
    from flowscope.report.notify.email import subject
    from flowscope.report.notify.message import Message

    message = Message(title="t", summary="s", status=status, status_text=None, changes=None, counts={},
                      ended=ended)
    assert subject(message) == f"flowscope: 0 finding(s) at or above high{said}"


def test_email_refused_credentials_are_a_reported_failure(content, smtp_server, monkeypatch):
    monkeypatch.setenv("SMTP_USER_VAR", SMTP_USER)
    monkeypatch.setenv("SMTP_PASSWORD_VAR", "wrong")
    target = {"type": "email", "host": "127.0.0.1", "port": smtp_server.port, "from": "a@example.com",
              "to": "b@example.com", "username_env": "SMTP_USER_VAR", "password_env": "SMTP_PASSWORD_VAR",
              "ca_file": smtp_server.ca_file, "min_severity": "low", "backoff": 0}
    [result] = deliver(parse_targets([target]), content)
    # the server's own words: "SMTP 535" alone read the same as a refused sender or a message refused as spam
    assert result.failed and result.error == "SMTP 535: 5.7.8 Authentication credentials invalid"
    assert not smtp_server.messages and "wrong" not in result.line()


def test_an_smtp_refusal_quotes_the_server_without_the_credentials():
    """What an SMTP server says when it refuses is quoted (one line, short, without terminal escapes),
    and never the user name or password, which some servers echo."""
    import smtplib

    from flowscope.report.notify import smtp_refusal

    exc = smtplib.SMTPSenderRefused(550, b"5.7.1 reporter@example.com may not send as\r\n a@example.com \x1b[31m",
                                    "a@example.com")
    assert smtp_refusal(exc, "reporter@example.com", "s3cret") == \
        "SMTP 550: 5.7.1 [the user name] may not send as a@example.com"
    exc = smtplib.SMTPAuthenticationError(535, b"bad password s3cret for reporter@example.com")
    assert smtp_refusal(exc, "reporter@example.com", "s3cret") == \
        "SMTP 535: bad password [the password] for [the user name]"
    assert smtp_refusal(smtplib.SMTPDataError(554, b""), None, None) == "SMTP 554"


@pytest.mark.slow  # two reports of a fresh store
def test_a_sync_that_brings_nothing_is_sent_not_silent(tmp_path, receiver, monkeypatch):
    """The syncs succeed but the data stopped days ago (logging turned off, a role that sees nothing new):
    with no new finding the run sent nothing, an all-clear by silence. The message says where the data ends."""
    store, targets, _first = first_run_sent(tmp_path / "s", receiver, monkeypatch)
    stale = next_run(store, 4 * 24)       # four days on: nothing new was collected
    assert stale.coverage.status == "stale" and stale.coverage.gap_note()
    [sent] = deliver(targets, stale)
    assert sent.sent, sent.line()
    body = receiver.requests[-1].body
    assert "the data ends before the window does: 0 finding(s) at or above low to look at" in body["headline"]
    assert body["gap"] == body["status_text"] and "before the window's end" in body["gap"]
    assert body["status"] == "stale"


def test_what_a_delivery_said_is_recorded_in_one_write():
    """The findings a message named and the status it said were two writes: one refused (a full disk,
    a lost lock) after the other left a target marked as told one and not the other, so the next run
    repeated half of the message. Now both are one batch, all or nothing."""
    from flowscope.report.content import HistoryChange
    from flowscope.report.history import mark_delivered

    class Recording:
        def __init__(self):
            self.batches = []
            self.findings = {"f1": {"id": "f1", "notified": None}, "f2": {"id": "f2", "notified": None}}

        def read_rows(self, table):
            return list(self.findings.values()) if table == "findings" else []

        def write(self, batch):
            self.batches.append({name: list(rows) for name, rows in batch.items()})
            self.findings.update({r["id"]: r for r in batch.get("findings", [])})

    store = Recording()
    change = HistoryChange(run_id="r1", until=END)
    written = mark_delivered(store, change, {"ops": ["f1"]}, {"ops": ("problem", "high")})
    assert written == 2 and len(store.batches) == 1
    [batch] = store.batches
    assert batch["findings"] == [{"id": "f1", "notified": '{"ops": "r1"}'}]
    assert [(r["target"], r["status"], r["alert"], r["run_id"]) for r in batch["alerts"]] == [
        ("ops", "problem", "high", "r1")]
    assert change.alert_said("ops") == "high" and change.notified == {"f1": {"ops": "r1"}}
    assert mark_delivered(store, change, {"ops": ["f1"]}, {"ops": ("problem", "high")}) == 0
    assert len(store.batches) == 1         # told already: nothing to write


def test_status_alerts_are_kept_per_report_scope(tmp_path):
    """Two scheduled runs, one with --cloud aws and one with --cloud azure, sending to one target: the
    status each last said was kept under the target alone, so aws's 'collection failed' and azure's
    'ok' replaced each other and every run told the target its status again. Each scope keeps its own."""
    from flowscope.report.content import HistoryChange
    from flowscope.report.history import alert_scope, mark_delivered, stored_alerts
    from flowscope.store import Store

    store = Store(tmp_path / "s")
    failed = ("collection_failed", "collection_failed: aws:1:us-east-1")

    def change(clouds, run):
        c = HistoryChange(run_id=run, until=END, alert_scope=alert_scope(clouds, []))
        c.alerts = stored_alerts(store, c.alert_scope)
        return c

    assert mark_delivered(store, change(["aws"], "r1"), {}, {"ops": failed}) == 1
    azure = change(["azure"], "r2")
    assert azure.alert_said("ops") == "ok"
    assert mark_delivered(store, azure, {}, {"ops": ("ok", "ok")}) == 0      # azure's ok is no news to it
    aws = change(["aws"], "r3")
    assert aws.alert_said("ops") == failed[1]                                 # aws's failure was not replaced
    assert mark_delivered(store, aws, {}, {"ops": failed}) == 0
    assert change([], "r4").alert_said("ops") == "ok"                         # an unfiltered run: its own
    rows = sorted((r["target"], r["scope"], r["alert"]) for r in store.read_rows("alerts"))
    assert rows == [("ops", "clouds=aws", failed[1])]
    assert alert_scope(["gcp", "aws", "aws"], ["orders"]) == "clouds=aws,gcp; workflows=orders"


@pytest.mark.parametrize("text, shown", [
    ("[click me](http://evil.example/y)", r"\[click me\](http://evil.example/y)"),
    ("3 finding(s) at or above high", "3 finding(s) at or above high"),
    ("orders (retried) ![x](http://evil.example/i.png)", r"orders (retried) !\[x\](http://evil.example/i.png)"),
    ("*etl* and _x_ `c` ~s~", r"\*etl\* and \_x\_ \`c\` \~s\~"),
    ("# heading", r"\# heading"), ("- item", r"\- item"), ("> quote", r"\> quote"), ("12. item", r"12\. item"),
    ("3) item", r"3\) item"),
    ("/srv/reports/flowscope-20261202T1400Z.html", "/srv/reports/flowscope-20261202T1400Z.html"),
    ("v1.2 - 3 + 4 # ok", "v1.2 - 3 + 4 # ok"),
])
def test_teams_escapes_what_would_render_as_markup_and_nothing_else(text, shown):
    """Every '.', '-', '#', '+' and '!' got a backslash ("flowscope\\-20261202T1400Z\\.html"), which Teams'
    mobile clients show as written; only what makes a link, emphasis or code, and a list, heading or
    quote at the start, is escaped now. Parentheses make nothing without the brackets before them: every
    "finding(s)" of the card's own headline read "finding\\(s\\)" on a phone. Compared as read: a host's dots
    and a scheme's colon are look-alikes (`teams.unlinked`, tests/report/test_notify_teams_links.py)."""
    from flowscope.report.notify.teams import COLON, DOT, escape

    assert escape(text).replace(DOT, ".").replace(COLON, ":") == shown


def test_teams_opens_a_report_address_with_a_button():
    """A configured report_url was a line of escaped text ("https://reports\\.example\\.com/..."); it is a
    button now, and a report on disk is still named in a line."""
    from flowscope.report.notify.message import Message
    from flowscope.report.notify.teams import card

    def message(report):
        return Message(title="flowscope", summary="s", status="ok", status_text=None, changes=None, counts={},
                       report=report)

    at_url = card(message("https://reports.example.com/r.html"))
    assert at_url["actions"] == [{"type": "Action.OpenUrl", "title": "Open the report",
                                  "url": "https://reports.example.com/r.html"}]
    on_disk = card(message("/srv/r.html"))
    assert "actions" not in on_disk and on_disk["body"][-1]["text"] == "report: /srv/r.html"


@pytest.mark.parametrize("sync_failed", [False, True])
def test_a_message_gives_every_reason_the_data_is_incomplete(report_store, sync_failed):
    """An empty window's message said why it was empty and not that the last collection had failed (the
    likely cause), and a run whose own sync failed said nothing of it when the window was stale or
    empty: the status text took the first reason only."""
    from flowscope.report.notify.message import SYNC_FAILED, build_message
    from flowscope.store import Store
    from tests.report.helpers import END

    content = build_content(Store.open(report_store), since=END + dt.timedelta(hours=1),
                            until=END + dt.timedelta(hours=5), now=END + dt.timedelta(hours=5))
    message = build_message(content, sync_failed=sync_failed)
    assert message.status == "no_data"
    assert "is empty: no executions" in message.status_text
    assert ("last collection of gcp:projects/p2/locations/europe-west1 failed at 2026-11-19 23:55 UTC: "
            "PermissionDenied") in message.status_text
    assert SYNC_FAILED not in message.status_text            # the failure is named: not said twice


def test_a_failed_sync_is_said_beside_an_empty_window(tmp_path):
    from flowscope.report.notify.message import SYNC_FAILED, build_message
    from tests.report.helpers import END, make_store

    store = make_store(tmp_path / "s", executions=30, failed_scope=False)
    content = build_content(store, since=END + dt.timedelta(hours=1), until=END + dt.timedelta(hours=5),
                            now=END + dt.timedelta(hours=5))
    quiet, failed = build_message(content), build_message(content, sync_failed=True)
    assert quiet.status == failed.status == "no_data"
    assert SYNC_FAILED not in quiet.status_text and failed.status_text.endswith(SYNC_FAILED)


def without(content, finding_id: str):
    """The content as if its analysis no longer found `finding_id` (the problem was fixed)."""
    import dataclasses

    findings = content.findings[content.findings["id"] != finding_id].reset_index(drop=True)
    content.analysis = dataclasses.replace(content.analysis, findings=findings)
    return content


def run_without(store, hours: float, finding_id: str):
    """`next_run`, with `finding_id` gone from the window's findings."""
    later = END + dt.timedelta(hours=hours)
    content = without(build_content(store, since=later - dt.timedelta(days=7), until=later, now=later), finding_id)
    record(store, content)
    return content


@pytest.mark.slow  # four reports of a fresh store
def test_a_target_told_of_a_finding_is_told_once_that_it_is_resolved(tmp_path, receiver, monkeypatch):
    """A finding sent to a target was fixed: the next report counted it '1 resolved' and the target
    heard nothing (no new finding, data complete), so its channel still showed the alert as open. The
    target told of it is now told it is resolved, once: not again by a re-run of the same hour, nor by
    the next run; a target that was never told of it is not told of its end."""
    store, targets, first = first_run_sent(tmp_path / "s", receiver, monkeypatch)
    gone = str(first.findings[first.findings["kind"] != "collection_gap"]["id"].iloc[0])
    newcomer = parse_targets([hook("webhook"), hook("webhook", name="new")])
    fixed = run_without(store, 1, gone)
    assert list(fixed.history.resolved["id"]) == [gone]
    told, new = deliver(newcomer, fixed)
    assert told.sent, told.line()
    body = receiver.requests[1].body
    assert [f["id"] for f in body["resolved"]] == [gone] and body["findings"] == []
    assert body["resolved"][0]["state"] == "resolved" and "1 resolved" in body["headline"]
    assert new.sent and receiver.requests[2].body["resolved"] == []      # never told of it: its open findings only
    mark_notified(store, fixed.history, {d.target: d.finding_ids for d in (told, new)})

    again = without(build_content(store, since=SINCE + dt.timedelta(hours=1), until=END + dt.timedelta(hours=1),
                                  now=END + dt.timedelta(hours=1)), gone)
    record(store, again)                                                    # the scheduler's retry of that hour
    assert all(d.skipped for d in deliver(newcomer, again))
    assert all(d.skipped for d in deliver(newcomer, run_without(store, 2, gone))) and len(receiver.requests) == 3


@pytest.mark.slow  # three reports of a fresh store
def test_a_resolution_whose_delivery_failed_is_told_by_the_next_run(tmp_path, receiver, monkeypatch):
    store, targets, first = first_run_sent(tmp_path / "s", receiver, monkeypatch)
    gone = str(first.findings[first.findings["kind"] != "collection_gap"]["id"].iloc[0])
    receiver.statuses = [400]
    [failed] = deliver(targets, run_without(store, 1, gone))
    assert failed.failed
    [sent] = deliver(targets, run_without(store, 2, gone))
    assert sent.sent and [f["id"] for f in receiver.requests[-1].body["resolved"]] == [gone]


def test_every_channel_says_which_findings_are_resolved_with_their_names_escaped():
    from flowscope.report.notify import email, slack, teams
    from flowscope.report.notify.message import Message, MessageFinding

    f = MessageFinding(id="f1", severity="high", state="resolved", kind="failing_step", title=HOSTILE["Get_invoice"],
                       cloud="aws", workflow=HOSTILE["etl"], step=None, monthly_usd=0.0)
    message = Message(title="t", summary="s", status="ok", status_text=None, changes=None, counts={},
                      resolved=[f], resolved_more_ids=("f2",))
    assert message.told == ["f1", "f2"] and message.headline.endswith("to look at; 2 resolved")
    raw = json.dumps(slack.payload(message))
    assert "(resolved)" in raw and "&lt;!channel&gt;" in raw and "<!channel>" not in raw and "1 more resolved" in raw
    raw = json.dumps(teams.payload(message))
    assert "(resolved)" in raw and r"\\[click me\\]" in raw and "1 more resolved" in raw
    text = email.body(message)
    assert "Resolved since you were told of them:" in text and "id f1" in text
    assert email.subject(message) == "flowscope: 0 finding(s) at or above high, 2 resolved"
    assert message.to_dict()["resolved"][0]["id"] == "f1" and message.to_dict()["resolved_more"] == 1


def smtps_target(server, **extra) -> dict:
    return {"type": "email", "host": "127.0.0.1", "port": server.port, "from": "flowscope@example.com",
            "to": ["ops@example.com"], "username_env": "SMTP_USER_VAR", "password_env": "SMTP_PASSWORD_VAR",
            "ca_file": server.ca_file, "min_severity": "low", "backoff": 0, "retries": 1, "timeout": 5, **extra}


def test_email_over_smtps_implicit_tls(content, smtps_server, monkeypatch):
    """A provider that offers only port 465 (TLS from the first byte, no STARTTLS) could not be used:
    flowscope spoke plain SMTP to it and timed out or failed. `tls = "implicit"` (the default on port
    465) connects with TLS, checks the certificate against ca_file and logs in."""
    monkeypatch.setenv("SMTP_USER_VAR", SMTP_USER)
    monkeypatch.setenv("SMTP_PASSWORD_VAR", SMTP_PASSWORD)
    [result] = deliver(parse_targets([smtps_target(smtps_server, tls="implicit")]), content)
    assert result.sent, result.line()
    assert smtps_server.logins == [SMTP_USER] and len(smtps_server.messages) == 1
    [starttls] = deliver(parse_targets([smtps_target(smtps_server, tls="starttls")]), content)
    assert starttls.failed and len(smtps_server.messages) == 1                  # plain first: refused


def test_smtps_checks_the_server_certificate(content, smtps_server, monkeypatch):
    monkeypatch.setenv("SMTP_USER_VAR", SMTP_USER)
    monkeypatch.setenv("SMTP_PASSWORD_VAR", SMTP_PASSWORD)
    target = smtps_target(smtps_server, tls="implicit")
    del target["ca_file"]                      # a self-signed certificate the system does not trust
    [result] = deliver(parse_targets([target]), content)
    assert result.failed and "CERTIFICATE_VERIFY_FAILED" in (result.error or "") and not smtps_server.logins


@pytest.mark.parametrize("entry, message", [
    ({"port": 465}, None),
    ({"tls": "ssl"}, "tls must be starttls or implicit"),
    ({"tls": "implicit", "starttls": False}, "starttls = false"),
])
def test_smtp_tls_and_port_entries_are_checked(entry, message):
    base = {"type": "email", "host": "127.0.0.1", "from": "a@example.com", "to": "b@example.com"}
    if message is None:
        [t] = parse_targets([{**base, **entry}])
        from flowscope.report.notify import smtp_tls

        assert smtp_tls(t) == "implicit"                                    # port 465 is SMTPS
        return
    with pytest.raises(ValueError, match=message):
        parse_targets([{**base, **entry}])


@pytest.mark.parametrize("port", ["smtp", 0, 70000, 25.5, True])
def test_a_bad_smtp_port_is_a_config_error(port):
    """port = "smtp" passed the checks and raised ValueError out of the delivery (70000 OverflowError), a traceback
    after the report was written; now the entry is refused before anything runs, naming it."""
    base = {"type": "email", "host": "127.0.0.1", "from": "a@example.com", "to": "b@example.com"}
    with pytest.raises(ValueError, match=r"\[\[notify\]\] #1: port must be a whole number from 1 to 65535"):
        parse_targets([{**base, "port": port}])


def worse(content, finding_id: str):
    """The content with `finding_id` now critical (it worsened)."""
    import dataclasses

    findings = content.findings.copy()
    findings.loc[findings["id"] == finding_id, "severity"] = "critical"
    content.analysis = dataclasses.replace(content.analysis, findings=findings)
    return content


@pytest.mark.slow  # four reports of a fresh store
def test_a_worsened_finding_whose_delivery_failed_is_sent_by_the_next_run(tmp_path, receiver, monkeypatch):
    """A finding told 'new' worsened; that message's delivery failed, and the next run saw it 'ongoing'
    and already told (of its old severity), so the target never heard it worsened. It is sent once
    now, by the next run."""
    store, targets, first = first_run_sent(tmp_path / "s", receiver, monkeypatch)
    fid = str(first.findings[first.findings["severity"] != "critical"]["id"].iloc[0])

    def run(hours: float):
        later = END + dt.timedelta(hours=hours)
        content = worse(build_content(store, since=later - dt.timedelta(days=7), until=later, now=later), fid)
        record(store, content)
        return content

    worsened = run(1)
    assert worsened.history.states[fid] == "worsened"
    receiver.statuses = [400]
    [failed] = deliver(targets, worsened)
    assert failed.failed
    nxt = run(2)
    assert nxt.history.states[fid] == "ongoing"
    [sent] = deliver(targets, nxt)
    assert sent.sent, sent.line()
    assert [f["id"] for f in receiver.requests[-1].body["findings"]] == [fid]
    mark_notified(store, nxt.history, {sent.target: sent.finding_ids})
    [quiet] = deliver(targets, run(3))
    assert quiet.skipped, quiet.line()


@pytest.mark.parametrize("key, value", [("attach", "no"), ("starttls", "false"), ("attach", 0)])
def test_an_email_switch_that_is_not_true_or_false_is_a_config_error(key, value):
    """attach = "no" attached every report file (a non-empty string is true), and starttls = "false"
    was read as true: a switch is true or false, or the entry is refused naming it."""
    base = {"type": "email", "host": "127.0.0.1", "from": "a@example.com", "to": "b@example.com"}
    with pytest.raises(ValueError, match=rf"\[\[notify\]\] #1: {key} must be true or false, not {value!r}"):
        parse_targets([{**base, key: value}])


def test_a_teams_card_stays_under_teams_28_kb_message_limit():
    """Ten findings and ten resolutions named with underscores (each escaped) made a card of over 28 KB,
    which Teams refuses (the delivery failed every run). The card lists fewer and counts the rest."""
    from flowscope.report.notify import teams
    from flowscope.report.notify.message import Message, MessageFinding

    name = "_" * 300
    listed = [MessageFinding(id=f"f{i}", severity="high", state="new", kind="failing_step", title=name, cloud="aws",
                             workflow=name, step=name, monthly_usd=1.0) for i in range(10)]
    message = Message(title="t", summary="s", status="ok", status_text=None, changes=None, counts={},
                      findings=listed, resolved=listed)
    body = teams.payload(message)
    size = len(json.dumps(body).encode())
    assert size <= teams.MAX_BYTES < 28 * 1024, size
    raw = json.dumps(body)
    assert "more in the report" in raw or "more resolved" in raw
    assert raw.count('"Container"') >= 1 and "t: 10 finding(s) at or above high" in raw


def test_an_email_ca_file_that_is_not_there_is_named_in_the_failure(content, tmp_path):
    """A ca_file path with a typo failed every scheduled run's e-mail with "FileNotFoundError: [Errno 2]
    No such file or directory", naming neither the file nor the key; the failure names both now (the
    documented examples name a path that need not exist where they are read, so it is not refused
    with the entry)."""
    missing = tmp_path / "private-ca.pem"
    target = {"type": "email", "host": "127.0.0.1", "port": 9, "from": "a@example.com", "to": "b@example.com",
              "ca_file": str(missing), "min_severity": "low", "backoff": 0}
    [result] = deliver(parse_targets([target]), content)
    assert result.failed and result.attempts == 1
    assert result.error == f"ca_file {str(missing)!r} is not a file (the CA certificates to trust, PEM)"


def _texts(node, kind: str) -> list[dict]:
    """Every text object of a Slack payload of the type `kind` (mrkdwn, plain_text)."""
    if isinstance(node, dict):
        own = [node] if node.get("type") == kind else []
        return own + [t for v in node.values() for t in _texts(v, kind)]
    return [t for v in node for t in _texts(v, kind)] if isinstance(node, list) else []


def _mrkdwn(node) -> list[dict]:
    return _texts(node, "mrkdwn")


def test_slack_reads_no_mention_channel_or_link_in_cloud_text():
    """Slack's mrkdwn, by default, turns a bare URL into a link and parses "@here" and "#channel" in
    plain text: a step named "@here http://evil.example" pinged the channel with a live link from
    flowscope. Every mrkdwn text is verbatim (Slack changes nothing of it); a configured report URL is
    an explicit link, the one link a message holds."""
    from flowscope.report.notify import slack
    from flowscope.report.notify.message import Message, MessageFinding

    f = MessageFinding(id="f1", severity="high", state="new", kind="failing_step", title="@here see http://evil.example",
                       cloud="aws", workflow=HOSTILE["etl"], step="#general", monthly_usd=1.0)
    message = Message(title="t", summary="s", status="stale", status_text="the data of @channel ends",
                      changes="1 new", counts={}, findings=[f], more=2, more_ids=("a", "b"),
                      resolved=[f], resolved_more_ids=("c",), report="https://reports.example.com/latest.html")
    body = slack.payload(message)
    texts = _mrkdwn(body["blocks"])
    assert len(texts) >= 6 and all(t.get("verbatim") is True for t in texts)
    assert "<https://reports.example.com/latest.html|open the report>" in json.dumps(body)
    local = slack.payload(Message(title="t", summary="s", status="ok", status_text=None, changes=None, counts={},
                                  report="/srv/reports/flowscope-2026.html"))
    assert "report: /srv/reports/flowscope-2026.html" in json.dumps(local)


def test_a_quiet_target_whose_variable_is_unset_is_a_failed_delivery(content, monkeypatch):
    """A scheduled run with nothing new to send skipped a target whose webhook variable the scheduler's
    environment did not set, and exited 0, hour after hour: the first finding worth sending was then
    the first to fail. A target that could not be told anything is a failed delivery every run."""
    from flowscope.report import notify

    monkeypatch.delenv("HOOK_URL", raising=False)
    monkeypatch.setattr(notify, "worth_sending", lambda message: False)
    [quiet] = deliver(parse_targets([hook("slack")]), content)
    assert quiet.failed and not quiet.skipped and quiet.attempts == 0
    said = "notify slack#1: FAILED: environment variable HOOK_URL (slack webhook URL) is not set"
    assert quiet.line().startswith(said), quiet.line()
    monkeypatch.setenv("HOOK_URL", "http://127.0.0.1:9/never-called")
    [ok] = deliver(parse_targets([hook("slack")]), content)
    assert ok.skipped and not ok.failed and "nothing to send" in ok.line()


def test_a_permanent_failure_after_retries_counts_every_attempt(content, receiver, monkeypatch):
    """A 503 retried, then a 400: the line said "FAILED after 1 attempt(s)" of a target tried twice."""
    monkeypatch.setenv("HOOK_URL", receiver.url + "/hook")
    receiver.statuses = [503, 400]
    [result] = deliver(parse_targets([hook("webhook", retries=3)]), content)
    assert result.failed and len(receiver.requests) == 2
    assert result.attempts == 2 and "FAILED after 2 attempt(s): HTTP 400" in result.line()


def test_a_password_smtplib_cannot_send_is_a_failed_delivery_of_its_own(content, smtps_server, receiver,
                                                                        monkeypatch):
    """smtplib sends credentials as ASCII only: a password with an "é" raised UnicodeEncodeError out of
    the delivery, a crash (exit 5) that left the targets after it unsent and nothing recorded."""
    monkeypatch.setenv("SMTP_USER_VAR", SMTP_USER)
    monkeypatch.setenv("SMTP_PASSWORD_VAR", "mot-de-passe-été")
    monkeypatch.setenv("HOOK_URL", receiver.url + "/hook")
    mail, hook_ = deliver(parse_targets([smtps_target(smtps_server, tls="implicit"), hook("webhook")]), content)
    assert mail.failed and "ASCII" in mail.error and "été" not in mail.line(), mail.line()
    assert hook_.sent and len(receiver.requests) == 1


def test_a_channel_that_breaks_unexpectedly_fails_alone(content, receiver, monkeypatch):
    """A bug in one channel's message builder raised out of `deliver`: the targets after it were never
    tried and the run ended as a crash. It is that target's failed delivery, naming no secret."""
    from flowscope.report.notify import slack

    def broken(message):
        raise KeyError(receiver.url)

    monkeypatch.setattr(slack, "payload", broken)
    monkeypatch.setenv("HOOK_URL", receiver.url + "/hook")
    first, second = deliver(parse_targets([hook("slack", name="chat"), hook("webhook")]), content)
    assert first.failed and "KeyError" in first.error and receiver.url not in first.line(), first.line()
    assert second.sent and len(receiver.requests) == 1


@pytest.mark.parametrize(("report", "url"), [
    ("https://sharepoint.example.com/sites/Ops/Shared Documents/report.html",
     "https://sharepoint.example.com/sites/Ops/Shared%20Documents/report.html"),
    ("https://reports.example.com/r.html?week=49#top", "https://reports.example.com/r.html?week=49#top"),
    ("https://reports.example.com/already%20quoted.html", "https://reports.example.com/already%20quoted.html"),
    ("https://reports.example.com/100%.html", "https://reports.example.com/100%25.html"),   # a % no escape starts
    ("https://reports.example.com/a%20b%zz%4.html", "https://reports.example.com/a%20b%25zz%254.html"),
    ("https://", None), ("https:///r.html", None), ("https://reports.example.com/\nr.html", None),
])
def test_teams_gives_its_button_only_a_url_a_card_can_hold(report, url):
    """An Action.OpenUrl whose url Teams cannot read breaks the whole card on the desktop client
    (microsoft/AdaptiveCards#3538): a report_url with a space (a SharePoint folder's name) or no host went
    to the button as written. A space is percent-encoded; one without a host, or with a line break, is a
    line of text."""
    from flowscope.report.notify.message import Message
    from flowscope.report.notify.teams import card

    built = card(Message(title="flowscope", summary="s", status="ok", status_text=None, changes=None, counts={},
                         report=report))
    if url is None:
        assert "actions" not in built and built["body"][-1]["text"].startswith("report: ")
    else:
        assert built["actions"][0]["url"] == url


def _plain(node) -> list[dict]:
    return _texts(node, "plain_text")


def test_slack_shows_cloud_text_as_written_never_as_mrkdwn():
    """Slack's mrkdwn has no escape for `*`, `_`, `~` or a backtick: a step named "*urgent* _pay_now_"
    showed "urgent" in bold and "pay_now" in italics, an error text with "~x~" was struck through and
    one backtick turned the rest of the line into code; a report folder like /srv/flow_reports/team_a/
    lost its underscores to italics. Cloud text (titles, names, error texts) and the report's path are
    now plain_text objects (no formatting, no mentions, emoji codes left as written; `&`, `<`, `>`
    escaped as Slack asks of every text object); mrkdwn holds flowscope's own words only."""
    from flowscope.report.notify import slack
    from flowscope.report.notify.message import Message, MessageFinding

    hostile = ["*urgent*", "_pay_now_", "~struck~", "`code", ":rotating_light:"]
    f = MessageFinding(id="f1", severity="high", state="new", kind="failing_step",
                       title="Step *urgent* fails: `code ~struck~", cloud="aws", workflow="_pay_now_ <!here>",
                       step=":rotating_light: & more", monthly_usd=1.0)
    message = Message(title="t", summary="s", status="collection_failed",
                      status_text="last collection failed: gcp:p: denied on *prod* _eu_", changes="1 new",
                      counts={}, findings=[f], resolved=[f], report="/srv/flow_reports/team_a/r.html")
    body = slack.payload(message)
    mrkdwn = " ".join(t["text"] for t in _mrkdwn(body["blocks"]))
    for part in [*hostile, "*prod*", "_eu_", "flow_reports", "team_a"]:
        assert part not in mrkdwn, (part, mrkdwn)
    plain = _plain(body["blocks"][1:])                  # the header is flowscope's title, plain_text already
    shown = " ".join(t["text"] for t in plain)
    for part in [*hostile, "denied on *prod* _eu_", "/srv/flow_reports/team_a/r.html", "&lt;!here&gt; ", "&amp; more"]:
        assert part in shown, (part, shown)
    assert all(t.get("emoji") is False for t in plain)
    assert "<!here>" not in json.dumps(body)
    sections = [b for b in body["blocks"] if b["type"] == "section" and "fields" in b]
    assert len(sections) == 2 and all(b["text"]["text"].startswith("*HIGH*") for b in sections)


@pytest.mark.parametrize("channel", ["slack", "teams"])
def test_chat_text_loses_bidi_controls_and_escape_sequences(channel):
    """A workflow named "invoice\\u202egnp.exe" read "invoiceexe.png" in the Slack and Teams message
    (a right-to-left override: "Trojan Source"), and an error text's ESC [31m and NUL went into the
    card as they were, while the e-mail and every report dropped them (`textsafety`)."""
    import importlib

    from flowscope.report.notify.message import Message, MessageFinding

    module = importlib.import_module(f"flowscope.report.notify.{channel}")
    f = MessageFinding(id="f1", severity="high", state="new", kind="failing_step",
                       title="fails \u2066x\u2069 \x1b[31mred\x00", cloud="aws", workflow="invoice\u202egnp.exe",
                       step="s\u200f", monthly_usd=1.0)
    message = Message(title="t", summary="s", status="collection_failed",
                      status_text="denied \x1b]8;;http://evil.example\x07here\x1b]8;;\x07", changes=None,
                      counts={}, findings=[f])
    raw = json.dumps(module.payload(message), ensure_ascii=False)
    for bad in ("\u202e", "\u2066", "\u2069", "\u200f", "\x1b", "\x00", "\x07", "evil.example"):
        assert bad not in raw, repr(bad)
    raw = raw.replace("\u2024", ".")      # a host's dot in a Teams card is a look-alike (`teams.unlinked`)
    assert "invoicegnp.exe" in raw and "red" in raw and "denied here" in raw


@pytest.mark.parametrize(("answer", "said"), [
    (b"invalid_blocks", "HTTP 400: invalid_blocks"),                 # Slack says why in a word
    (b"channel_is_archived\n", "HTTP 410: channel_is_archived"),
    (b'{"error": {"code": "TriggerInputSchemaMismatch", "message": "The input body for trigger \'manual\' '
     b'of type \'Request\' did not match its schema"}}',
     "HTTP 400: TriggerInputSchemaMismatch: The input body for trigger 'manual' of type 'Request' did not match "
     "its schema"),                                                    # a Teams workflow's JSON error
    (b"<html><body><h1>Bad Gateway</h1></body></html>", "HTTP 400"),  # a proxy's page: nothing to read
    (b"no such hook: /services/T0/B0/very-secret?sig=abc \x1b[31mred", "HTTP 400: no such hook: "
     "[the webhook URL] red"),                                        # never the secret URL, never a colour
])
def test_a_refused_message_says_why_the_receiver_refused_it(content, receiver, monkeypatch, answer, said):
    """Slack refuses a message with 400 and a word ("invalid_blocks", "no_text"), 403 "action_prohibited",
    404 "channel_not_found", 410 "channel_is_archived"; a Teams workflow with a JSON error. The run said
    only "FAILED after 1 attempt(s): HTTP 400", so whoever read the scheduler's log could not tell a
    deleted channel from a message flowscope built wrong. The reason is kept (one line, short, without
    the URL, which holds the secret, or terminal escapes)."""
    status = {"HTTP 410": 410}.get(said[:8], 400)
    monkeypatch.setenv("HOOK_URL", receiver.url + "/services/T0/B0/very-secret?sig=abc")
    receiver.statuses, receiver.error_body = [status], answer
    [result] = deliver(parse_targets([hook("slack", retries=1)]), content)
    assert result.failed and result.error == said, result.line()
    assert "very-secret" not in result.line() and "sig=abc" not in result.line()


def test_slack_text_fits_slack_s_limits_after_escaping():
    """Slack refuses a whole message (400 invalid_blocks) whose text object is over 3,000 characters
    (2,000 for a section field), counted as sent: escaped. Cloud text was cut to 1,000 characters and then
    escaped, so a failed collection's error of angle brackets (an HTML error page) or ampersands grew
    fourfold and no message went out. It is now cut after escaping, never inside an entity."""
    from flowscope.report.notify import slack
    from flowscope.report.notify.message import Message, MessageFinding

    f = MessageFinding(id="f1", severity="high", state="new", kind="failing_step", title="<" * 400,
                       cloud="aws", workflow="&" * 300, step=">" * 300, monthly_usd=1.0)
    message = Message(title="t", summary="s", status="collection_failed", status_text="<b>&" * 900,
                      changes=None, counts={}, findings=[f])
    body = slack.payload(message)
    for t in _plain(body["blocks"]) + _mrkdwn(body["blocks"]):
        assert len(t["text"]) <= 2000, len(t["text"])
        assert t["text"].count("&") == t["text"].count(";"), t["text"][-12:]     # every entity whole
    assert slack.escape("a<b", 6) == "a&lt;b" and slack.escape("a<b", 5) == "a&lt;" and slack.escape("a<b", 4) == "a"


def test_a_webhook_url_is_read_as_an_address(content, receiver, monkeypatch):
    """A URL put in a Kubernetes secret or an env file with its line break was posted to ".../XXXX%0A":
    Slack answered 404 and nothing said why. The variable's value loses surrounding white space, and one
    that holds no http(s) address fails once naming the variable (requests said "MissingSchema"), never
    the value."""
    monkeypatch.setenv("HOOK_URL", f" {receiver.url}/services/T0/B0/XXXX\n")
    [result] = deliver(parse_targets([hook("slack")]), content)
    assert result.sent and receiver.requests[0].path == "/services/T0/B0/XXXX", result.line()
    monkeypatch.setenv("HOOK_URL", "hooks.slack.com/services/T0/B0/very-secret")
    [bad] = deliver(parse_targets([hook("slack", retries=3)]), content)
    assert bad.failed and bad.attempts == 1, bad.line()
    assert bad.error == "environment variable HOOK_URL (slack webhook URL) holds no http:// or https:// address"


def test_a_long_title_keeps_the_slack_headers_counts():
    """Slack's header holds 150 characters: a long report title was cut there with the number of findings
    behind it; now the title is shortened and the counts stay whole."""
    from flowscope.report.notify import slack
    from flowscope.report.notify.message import Message

    title = "Nightly flowscope report for the payments platform's production accounts, " * 3
    message = Message(title=title.strip(), summary="s", status="ok", status_text=None, changes=None, counts={})
    header = slack.payload(message)["blocks"][0]["text"]["text"]
    assert len(header) <= slack.HEADER_CHARS
    assert header.endswith(": 0 finding(s) at or above high to look at") and "…" in header
    short = Message(title="nightly", summary="s", status="ok", status_text=None, changes=None, counts={})
    assert slack.payload(short)["blocks"][0]["text"]["text"] == short.headline


@pytest.mark.parametrize(("value", "problem"), [
    (None, "is not set"), ("", "is not set"), ("  \n", "is not set"),
    ("hooks.slack.com/services/T0/B0/very-secret", "holds no http:// or https:// address"),
    (" https://hooks.slack.com/services/T0/B0/very-secret\n", None),
])
def test_a_webhook_variable_has_one_rule_for_doctor_and_for_sending(value, problem, monkeypatch):
    """A variable holding only white space (a Kubernetes secret's "\\n") passed doctor's check ("configured,
    its variables set": set, and nothing to call an address once stripped) while every send failed on it.
    One rule now says what is wrong with it, and doctor and the send say the same, never the value."""
    from flowscope.report.notify import Permanent, _url, unaddressed_variables, unset_variables, url_problem

    if value is None:
        monkeypatch.delenv("HOOK_URL", raising=False)
    else:
        monkeypatch.setenv("HOOK_URL", value)
    [target] = parse_targets([hook("slack")])
    assert url_problem(target) == problem
    label = "HOOK_URL (slack webhook URL)"
    assert unset_variables(target) == ([label] if problem == "is not set" else [])
    assert unaddressed_variables(target) == ([label] if problem and problem != "is not set" else [])
    if problem is None:
        assert _url(target) == "https://hooks.slack.com/services/T0/B0/very-secret"
        return
    with pytest.raises(Permanent) as raised:
        _url(target)
    assert str(raised.value) == f"environment variable {label} {problem}"


def test_a_quiet_target_whose_variable_holds_white_space_is_a_failed_delivery(content, monkeypatch):
    """With nothing to send, a target whose variable held only a line break was skipped (exit 0) while
    it could send nothing: it is failed, as a variable not set is."""
    from flowscope.report import notify

    monkeypatch.setenv("HOOK_URL", "  \n")
    monkeypatch.setattr(notify, "worth_sending", lambda message: False)
    [quiet] = deliver(parse_targets([hook("slack")]), content)
    assert quiet.failed and not quiet.skipped, quiet.line()
    assert "HOOK_URL (slack webhook URL) is not set" in quiet.line()


def test_a_quiet_target_whose_variable_holds_no_address_is_a_failed_delivery(content, monkeypatch):
    """With nothing to send, a target whose variable held "hooks.slack.com/..." (no scheme) was skipped
    (exit 0) while doctor said it was not ready and every send would fail: it is failed, as an unset one
    is, naming the variable and never its value."""
    from flowscope.report import notify

    monkeypatch.setenv("HOOK_URL", "hooks.slack.com/services/T0/B0/very-secret")
    monkeypatch.setattr(notify, "worth_sending", lambda message: False)
    [quiet] = deliver(parse_targets([hook("slack")]), content)
    assert quiet.failed and not quiet.skipped and quiet.attempts == 0, quiet.line()
    assert quiet.line() == ("notify slack#1: FAILED: environment variable HOOK_URL (slack webhook URL) holds no "
                            "http:// or https:// address: nothing to send this run, and nothing could be sent")


def test_a_recipient_the_server_refuses_is_a_failed_delivery_naming_it(content):
    """smtplib raises only when the server refuses every recipient; for some it returns them and sends to the
    rest. `to = ["ops@example.com", "oncall@example.com"]` with oncall's mailbox gone said "sent (to 2
    recipient(s))", and oncall was never told, run after run (its findings recorded as told). A refused
    recipient is a failed delivery naming it and the server's reason; the others got the message, and it is
    recorded as told (`finding_ids`): recorded as told to nobody, every later run sent it to them again
    (tests/report/test_notify_partial.py)."""
    from tests.report.conftest import relay

    gone = "550 5.1.1 <oncall@example.com>: mailbox unavailable"
    with relay(lambda address: gone if address.startswith("oncall@") else None) as serving:
        target = {"type": "email", "host": "127.0.0.1", "port": serving.port, "starttls": False,
                  "from": "flowscope@example.com", "to": ["ops@example.com", "oncall@example.com"],
                  "min_severity": "low", "backoff": 0, "retries": 2}
        [result] = deliver(parse_targets([target]), content)
        [nobody] = deliver(parse_targets([{**target, "to": "oncall@example.com"}]), content)
    assert nobody.failed and nobody.error == ("SMTP refused 1 of 1 recipient(s): oncall@example.com: SMTP 550: "
                                              "5.1.1 <oncall@example.com>: mailbox unavailable"), nobody.error
    assert serving.received == [["ops@example.com"]]
    assert result.failed and result.partly and result.finding_ids, result.line()
    assert result.line().endswith("; recorded as sent to the 1 of 2 recipient(s) that took it: no later run sends "
                                  "it to them again"), result.line()
    assert result.attempts == 1, result.line()           # a refusal with 5xx is not retried (nor re-sent to ops)
    assert result.error == ("SMTP refused 1 of 2 recipient(s) (the others got the message): oncall@example.com: "
                            "SMTP 550: 5.1.1 <oncall@example.com>: mailbox unavailable"), result.error


@pytest.mark.parametrize(("report", "link"), [
    ("https://sharepoint.example.com/sites/Ops/Shared Documents/report.html",
     "<https://sharepoint.example.com/sites/Ops/Shared%20Documents/report.html|open the report>"),
    ("https://reports.example.com/r.html?week=49&team=ops",
     "<https://reports.example.com/r.html?week=49&amp;team=ops|open the report>"),
    ("https://reports.example.com/a|b>c.html", "<https://reports.example.com/a%7Cb%3Ec.html|open the report>"),
    ("https://reports.example.com/latest.html", "<https://reports.example.com/latest.html|open the report>"),
])
def test_slack_links_a_report_address_teams_would_open(report, link):
    """A report_url with a space (a SharePoint folder's name), a `|` or a `>` was a line of plain text in
    Slack where Teams made it a button: the link is the address Teams' button takes (`report_address`:
    percent-encoded once), its `&` escaped as Slack asks of every `&` that is not an entity of its own
    (a raw one read as the start of an entity)."""
    from flowscope.report.notify import slack
    from flowscope.report.notify.message import Message

    body = slack.payload(Message(title="t", summary="s", status="ok", status_text=None, changes=None, counts={},
                                 report=report))
    [element] = body["blocks"][-1]["elements"]
    assert element == {"type": "mrkdwn", "text": link, "verbatim": True}


def test_the_generic_webhook_sends_names_as_data_without_terminal_escapes_or_controls():
    """The generic webhook's JSON kept a name's `\\x1b]8;` hyperlink, `\\x1b[2J` and U+202E as the cloud wrote them,
    which the CLI, Slack, Teams and e-mail all take out; markup stays (the receiver escapes it as it shows it)."""
    from flowscope.report.notify import webhook
    from flowscope.report.notify.message import Message, MessageFinding

    hostile = "\x1b]8;;http://evil.example\x07click\x1b]8;;\x07 \x1b[2J<b>etl</b>\u202egnp.exe\r\nline two\tend"
    f = MessageFinding(id="f1", severity="high", state="new", kind="failing_step", title=hostile, cloud="aws",
                       workflow=hostile, step=hostile, monthly_usd=1.0)
    message = Message(title=hostile, summary="s", status="ok", status_text=hostile, changes=None, counts={},
                      findings=[f])
    body = webhook.payload(message)
    raw = json.dumps(body)
    assert "\\u001b" not in raw and "\\u202e" not in raw and "\\r" not in raw, raw
    expected = "click <b>etl</b>gnp.exe\nline two\tend"
    assert body["title"] == expected and body["status_text"] == expected
    assert body["findings"][0]["workflow"] == expected and body["findings"][0]["step"] == expected
    assert body["findings"][0]["monthly_usd"] == 1.0 and body["source"] == "flowscope"


def test_a_failing_target_stops_at_the_delivery_deadline_and_says_so(content, receiver, monkeypatch):
    """With `retries`, `timeout` and `backoff` at their most, a target failing for now held the run (and the
    findings history's lock) for about three hours. No attempt starts later than `DEADLINE_S` after the
    first: here 1 s, with waits of 0.2, 0.4 and 0.8 s, so the fourth attempt (at 1.4 s) is never made."""
    from flowscope.report import notify

    monkeypatch.setattr(notify, "DEADLINE_S", 1.0)
    monkeypatch.setenv("HOOK_URL", receiver.url + "/hook")
    receiver.statuses = [503] * 10
    started = time.monotonic()
    [result] = deliver(parse_targets([hook("webhook", retries=10, backoff=0.2)]), content)
    assert result.failed and result.attempts == 3 and len(receiver.requests) == 3, result.line()
    assert time.monotonic() - started < 1.0
    assert result.line() == ("notify webhook#1: FAILED after 3 attempt(s): HTTP 503: error (no attempt starts more "
                             "than 1 s after the first: 3 of 10 made)"), result.line()
    receiver.requests.clear()
    receiver.statuses = [503]            # within the deadline, the retries go on as before
    [ok] = deliver(parse_targets([hook("webhook", retries=10, backoff=0.2)]), content)
    assert ok.sent and ok.attempts == 2, ok.line()


@pytest.mark.parametrize(("kind", "holds"), [("slack", "slack webhook URL"), ("teams", "teams webhook URL"),
                                             ("webhook", "webhook URL")])
def test_a_variable_is_named_with_what_it_holds_once(kind, holds, monkeypatch):
    """A webhook target's unset variable read "HOOK_URL (webhook webhook URL)"."""
    from flowscope.report.notify import unset_variables

    monkeypatch.delenv("HOOK_URL", raising=False)
    [target] = parse_targets([hook(kind)])
    assert unset_variables(target) == [f"HOOK_URL ({holds})"]
