"""`flowscope run`: sync, analyze, report and notify in one step for schedulers; dated files,
idempotent re-runs, exit codes (findings, failed collection, failed delivery)."""

from __future__ import annotations

import datetime as dt

import pytest
from typer.testing import CliRunner

from flowscope.cli import app
from flowscope.exitcodes import ExitCode
from flowscope.model import C, RunStatus
from flowscope.store import Store
from tests.report.helpers import END, Receiver, make_store
from tests.ui.helpers import FAILED_SCOPE

runner = CliRunner()
UNTIL = END.isoformat()
STAMP = f"{END:%Y-%m-%dT%H%MZ}"


@pytest.fixture()
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


def config(tmp_path, store, *, sources: str = "", notify: str = "", report: str = 'formats = ["html", "md", "xlsx"]'):
    path = tmp_path / "flowscope.toml"
    path.write_text(f'store = "{store}"\n{sources}\n[report]\ncharts = "cdn"\n{report}\n{notify}\n')
    return path


WEBHOOK = '[[notify]]\ntype = "webhook"\nurl_env = "FLOWSCOPE_TEST_HOOK"\nmin_severity = "low"\nbackoff = 0\n'


@pytest.mark.slow   # three runs over a fresh store, ~3 s each
def test_run_writes_dated_reports_notifies_once_and_is_idempotent(tmp_path, receiver, monkeypatch):
    store = make_store(tmp_path / "store", failed_scope=False)
    monkeypatch.setenv("FLOWSCOPE_TEST_HOOK", receiver.url + "/hook")
    cfg = config(tmp_path, tmp_path / "store", notify=WEBHOOK)
    out = tmp_path / "reports"
    args = ["run", "--config", str(cfg), "--report-dir", str(out), "--until", UNTIL, "--since", "7d"]
    first = runner.invoke(app, args)
    assert first.exit_code == ExitCode.OK, first.output
    assert sorted(p.name for p in out.iterdir()) == [f"flowscope-{STAMP}.html", f"flowscope-{STAMP}.md",
                                                     f"flowscope-{STAMP}.xlsx"]
    assert "no [[sources]] configured" in first.output and "notify webhook#1: sent" in first.output
    assert "new, 0 ongoing, 0 resolved" in first.output
    [sent] = receiver.requests
    assert sent.body["findings"] and sent.body["report"].endswith(f"flowscope-{STAMP}.html")
    version = Store.open(tmp_path / "store").version()

    again = runner.invoke(app, args)                       # a scheduler retry of the same hour
    assert again.exit_code == ExitCode.OK, again.output
    assert Store.open(tmp_path / "store").version() == version      # no history written
    assert len(list(out.iterdir())) == 3                             # the same files, rewritten
    assert "nothing to send" in again.output and len(receiver.requests) == 1
    assert first.output.split("findings: ")[1].splitlines()[0] == again.output.split("findings: ")[1].splitlines()[0]

    strict = runner.invoke(app, [*args, "--fail-on", "low", "--format", "md"])
    assert strict.exit_code == ExitCode.FINDINGS
    assert store.version() == version


def test_two_windows_ending_in_one_minute_get_files_of_their_own(tmp_path):
    """`--until 12:00:30` and `--until 12:00` both wrote flowscope-...T1200Z.md: the second window's
    report replaced the first's under a name that said neither. A window ending off the minute is
    named to the second; one on the minute keeps its documented name."""
    make_store(tmp_path / "store", failed_scope=False)
    cfg = config(tmp_path, tmp_path / "store", report='formats = ["md"]')
    out = tmp_path / "reports"
    base = ["run", "--config", str(cfg), "--report-dir", str(out), "--no-sync", "--no-notify"]
    odd = END - dt.timedelta(seconds=30)
    for until in (odd, END):
        result = runner.invoke(app, [*base, "--until", until.isoformat()])
        assert result.exit_code == ExitCode.OK, result.output
    assert sorted(p.name for p in out.iterdir()) == [f"flowscope-{odd:%Y-%m-%dT%H%M%S}Z.md", f"flowscope-{STAMP}.md"]


@pytest.mark.slow   # a report and a delivery retried against a closed port
def test_a_failed_delivery_exits_4_but_never_hides_findings(tmp_path, monkeypatch):
    make_store(tmp_path / "store", failed_scope=False)
    monkeypatch.setenv("FLOWSCOPE_TEST_HOOK", "http://127.0.0.1:9/secret-path")
    cfg = config(tmp_path, tmp_path / "store", notify=WEBHOOK + "retries = 2\ntimeout = 2\n", report='formats = ["md"]')
    args = ["run", "--config", str(cfg), "--report-dir", str(tmp_path / "r"), "--until", UNTIL, "--since", "7d"]
    result = runner.invoke(app, args)
    assert result.exit_code == ExitCode.DELIVERY_FAILED, result.output
    assert "notify webhook#1: FAILED after 2 attempt(s)" in result.output and "secret-path" not in result.output
    assert (tmp_path / "r" / f"flowscope-{STAMP}.md").is_file()
    result = runner.invoke(app, [*args, "--fail-on", "low"])
    assert result.exit_code == ExitCode.FINDINGS          # the findings' code wins over the delivery's


@pytest.mark.slow   # botocore retries a refused endpoint for ~15 s
def test_a_failed_sync_is_recorded_reported_and_exits_3(tmp_path, receiver, monkeypatch):
    make_store(tmp_path / "store", failed_scope=False)
    monkeypatch.setenv("FLOWSCOPE_TEST_HOOK", receiver.url + "/hook")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    source = '[[sources]]\ncloud = "aws"\nregions = ["us-east-1"]\nendpoint_url = "http://127.0.0.1:9"\n'
    cfg = config(tmp_path, tmp_path / "store", sources=source, report='formats = ["md"]',
                 notify=WEBHOOK.replace('"low"', '"critical"'))
    result = runner.invoke(app, ["run", "--config", str(cfg), "--report-dir", str(tmp_path / "r"),
                                 "--until", UNTIL, "--since", "7d"])
    assert result.exit_code == ExitCode.NO_DATA, result.output
    assert "failed" in result.output and (tmp_path / "r" / f"flowscope-{STAMP}.md").is_file()
    runs = Store.open(tmp_path / "store").latest_collection_runs()
    assert any(r["status"] == "failed" and r["cloud"] == "aws" for r in runs)
    # the message says so: this run's sync failed (never a silent all-clear)
    [sent] = receiver.requests
    assert sent.body["status"] == "collection_failed"
    assert {f["kind"] for f in sent.body["findings"]} <= {"collection_gap"}


def _collection(scope: str, cloud: str, at: dt.datetime, status: str, run: str) -> dict:
    return {C.run_id: run, C.cloud: cloud, C.scope: scope, C.started_at: at, C.ended_at: at, C.status: status,
            C.watermark: at if status == RunStatus.SUCCEEDED.value else None, C.counts: "{}",
            C.error: None if status == RunStatus.SUCCEEDED.value else "PermissionDenied: 403", C.details: "{}"}


@pytest.mark.slow   # six scheduled runs over a fresh store, ~3 s each
def test_a_status_is_sent_when_it_starts_changes_or_ends_not_on_every_run(tmp_path, receiver, monkeypatch):
    """A scope whose last collection failed sent 'the last collection failed' on every hourly run, the
    same message each hour, until someone muted the channel. Now: once when it starts, again when another
    scope fails too, once when it ends, and on request (--renotify); the exit code says it every run."""
    store = make_store(tmp_path / "store")                          # one GCP scope's last collection failed
    monkeypatch.setenv("FLOWSCOPE_TEST_HOOK", receiver.url + "/hook")
    cfg = config(tmp_path, tmp_path / "store", notify=WEBHOOK.replace('"low"', '"critical"'),
                 report='formats = ["md"]')

    def tick(hours: int, *extra: str):
        until = END + dt.timedelta(hours=hours)
        result = runner.invoke(app, ["run", "--config", str(cfg), "--report-dir", str(tmp_path / "r"),
                                     "--until", until.isoformat(), "--no-sync", *extra])
        return result, [r.body for r in receiver.requests]

    first, sent = tick(0)
    assert first.exit_code == ExitCode.NO_DATA and [b["status"] for b in sent] == ["collection_failed"]
    for hours in (1, 2):                                             # the same failure, the next hours
        again, sent = tick(hours)
        assert again.exit_code == ExitCode.NO_DATA, again.output     # still said by the exit code
        assert len(sent) == 1 and "already sent" in again.output and "--renotify" in again.output
    forced, sent = tick(2, "--renotify")
    assert len(sent) == 2 and sent[-1]["status"] == "collection_failed", forced.output

    other = END + dt.timedelta(hours=2, minutes=30)                   # another scope fails too: news
    store.write({"collection_runs": [_collection("aws:acct:eu-west-1", "aws", other, RunStatus.FAILED.value, "x")]})
    changed, sent = tick(3)
    assert len(sent) == 3 and "aws:acct:eu-west-1" in sent[-1]["alert"], changed.output

    fixed = END + dt.timedelta(hours=3, minutes=30)                   # both collect again: the end is news
    store.write({"collection_runs": [_collection("aws:acct:eu-west-1", "aws", fixed, RunStatus.SUCCEEDED.value, "x"),
                                     _collection(FAILED_SCOPE, "gcp", fixed, RunStatus.SUCCEEDED.value, "y")]})
    ended, sent = tick(4)
    assert ended.exit_code == ExitCode.OK, ended.output
    assert len(sent) == 4 and sent[-1]["status"] == "ok" and sent[-1]["ended"], ended.output
    assert "the data is complete again" in sent[-1]["headline"]
    quiet, sent = tick(5)
    assert quiet.exit_code == ExitCode.OK and len(sent) == 4, quiet.output


@pytest.mark.slow   # two runs over a fresh store, ~3 s each
def test_a_retry_in_the_hour_of_a_window_ending_in_the_future_changes_no_history(tmp_path):
    """A month-to-date run (`--until` the month's end) had its history recorded as of the second it ran:
    the scheduler's retry in the same hour was another report run, wrote every row again and a second
    `report_runs` row, and said "0 new, 2 ongoing since the last report" where the first said "2 new". A
    run's history is recorded as of the start of its hour, where its default window ends."""
    from flowscope.model import UTC

    store = make_store(tmp_path / "store", failed_scope=False)
    cfg = config(tmp_path, tmp_path / "store", report='formats = ["md"]')
    hour = dt.datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    args = ["run", "--config", str(cfg), "--report-dir", str(tmp_path / "r"), "--no-sync", "--no-notify",
            "--since", (END - dt.timedelta(days=7)).isoformat(), "--until", (hour + dt.timedelta(days=30)).isoformat()]
    first = runner.invoke(app, args)
    version = store.version()
    again = runner.invoke(app, args)                                 # the scheduler's retry of the hour
    if dt.datetime.now(UTC).replace(minute=0, second=0, microsecond=0) != hour:
        pytest.skip("the hour turned during the test: the retry is another hour's run")
    said = [[line for line in r.output.splitlines() if line.startswith("findings:")] for r in (first, again)]
    assert said[0] == said[1] and "new" in said[0][0], (first.output, again.output)
    assert store.version() == version and len(store.read_rows("report_runs")) == 1
    assert {r[C.window_end] for r in store.read_rows("findings")} == {hour}


@pytest.mark.slow   # three runs over a fresh store, ~3 s each
def test_a_run_of_an_older_window_does_not_rewind_the_status_a_target_was_told(tmp_path, receiver, monkeypatch):
    """A scope's collection failing now was told; a backfill (`--until` yesterday, before the failure) then
    sent "the data is complete again" while it was still failing, and the next scheduled run sent "the last
    collection failed" once more. A status told by a later window's run is newer than an older window's."""
    make_store(tmp_path / "store")                                  # one GCP scope's last collection failed
    monkeypatch.setenv("FLOWSCOPE_TEST_HOOK", receiver.url + "/hook")
    cfg = config(tmp_path, tmp_path / "store", notify=WEBHOOK.replace('"low"', '"critical"'),
                 report='formats = ["md"]')

    def tick(until: dt.datetime):
        result = runner.invoke(app, ["run", "--config", str(cfg), "--report-dir", str(tmp_path / "r"),
                                     "--until", until.isoformat(), "--no-sync"])
        return result, [r.body for r in receiver.requests]

    first, sent = tick(END)
    assert [b["status"] for b in sent] == ["collection_failed"], first.output
    backfill, sent = tick(END - dt.timedelta(days=1))                # its window ends before the failure
    assert backfill.exit_code == ExitCode.OK, backfill.output
    assert len(sent) == 1 and "nothing to send" in backfill.output, sent[-1]
    nxt, sent = tick(END + dt.timedelta(hours=1))                    # still failing: not news
    assert nxt.exit_code == ExitCode.NO_DATA and len(sent) == 1, nxt.output


@pytest.mark.parametrize("body, message", [
    ('[report]\nformats = ["docx"]\n', "[report] formats must be one of html"),
    ('[report]\nformats = 3\n', "[report] formats must be a list of formats"),
    ('[report]\nfail_on = "urgent"\n', "[report] fail_on must be one of critical"),
    ('[report]\nsince = 7\n', "[report] since must be a string"),
    ('[report]\ncolour = "red"\n', "unknown key(s) colour"),
    ('[[notify]]\ntype = "slack"\nurl = "https://hooks.slack.com/services/T/B/X"\n', "must not be written"),
])
def test_bad_configuration_exits_2_before_anything_runs(tmp_path, body, message):
    make_store(tmp_path / "store", executions=30, failed_scope=False)
    cfg = tmp_path / "flowscope.toml"
    cfg.write_text(f'store = "{tmp_path / "store"}"\n{body}')
    result = runner.invoke(app, ["run", "--config", str(cfg), "--report-dir", str(tmp_path / "r")])
    assert result.exit_code == ExitCode.USAGE and message in result.output
    assert not (tmp_path / "r").exists()


def test_report_table_values_are_read_as_the_flags_are():
    """`formats = "md"` ran as the formats m and d ("--format must be one of ..., not 'm'", a flag nobody
    passed) and `fail_on = "High"` was refused while --fail-on High is taken."""
    from types import SimpleNamespace

    from flowscope.cli import _run_options

    settings = SimpleNamespace(report={"formats": "MD", "fail_on": "High", "charts": "CDN"})
    assert _run_options(settings, None, None, None, None) == (["md"], "7d", "high", "cdn", "flowscope report")
    # the former name of `charts` still read (and said renamed); both at once is refused, naming the file
    settings = SimpleNamespace(report={"formats": "MD", "plotly": "CDN"})
    assert _run_options(settings, None, None, None, None)[3] == "cdn"
    settings = SimpleNamespace(report={"formats": ["html", " xlsx"]})
    assert _run_options(settings, ["pdf"], "1d", "low", None)[:4] == (["pdf"], "1d", "low", "inline")


def test_a_report_format_that_cannot_be_written_does_not_stop_the_alerts(tmp_path, receiver, monkeypatch):
    """Chromium broke after an update: the PDF failed, `run` exited 2 there and sent no notification,
    so a scheduled job that found problems told no one. The other formats are written, every target is
    notified, and the run still exits 2 naming the format that failed."""
    from flowscope.report import pdf

    def broken(*args, **kwargs):
        raise pdf.PdfError("Chromium could not print the report: crashed")

    monkeypatch.setattr(pdf, "html_to_pdf", broken)
    make_store(tmp_path / "store", failed_scope=False)
    monkeypatch.setenv("FLOWSCOPE_TEST_HOOK", receiver.url + "/hook")
    cfg = config(tmp_path, tmp_path / "store", notify=WEBHOOK, report='formats = ["pdf", "md"]')
    result = runner.invoke(app, ["run", "--config", str(cfg), "--report-dir", str(tmp_path / "r"), "--until", UNTIL,
                                 "--since", "7d", "--no-sync"])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "Chromium could not print the report" in result.output
    assert (tmp_path / "r" / f"flowscope-{STAMP}.md").is_file()
    assert not (tmp_path / "r" / f"flowscope-{STAMP}.pdf").exists()
    [sent] = receiver.requests
    assert sent.body["findings"] and sent.body["report"].endswith(f"flowscope-{STAMP}.md")


@pytest.mark.parametrize("taken", ["file", "inside a file"])
def test_a_report_dir_that_cannot_be_a_folder_exits_2_before_any_work(tmp_path, taken):
    """`--report-dir` naming a file synced, analysed and recorded the findings history, then failed with
    "[Errno 17] File exists" on the first report's name: it is refused first, in words, and the store
    is left as it was."""
    make_store(tmp_path / "store", executions=30, failed_scope=False)
    (tmp_path / "a-file").write_text("x")
    report_dir = tmp_path / "a-file" if taken == "file" else tmp_path / "a-file" / "reports"
    version = Store.open(tmp_path / "store").version()
    result = runner.invoke(app, ["run", "--store", str(tmp_path / "store"), "--report-dir", str(report_dir),
                                 "--no-sync", "--no-notify", "--until", UNTIL])
    assert result.exit_code == ExitCode.USAGE, result.output
    said = " ".join(result.output.split())
    assert f"--report-dir {report_dir}" in said and "not a folder" in said and "Errno" not in said, said
    assert Store.open(tmp_path / "store").version() == version


def test_a_configured_cdn_of_a_vl_convert_without_pinned_files_exits_2_before_any_work(tmp_path, monkeypatch):
    """`[report] charts = "cdn"` with a vl-convert-python this flowscope has no CDN files for would write
    reports that load unpinned scripts: refused before the sync and the history, as `report --charts cdn` is;
    `--charts inline` writes them."""
    from importlib.metadata import version

    from flowscope.report import vega

    monkeypatch.delitem(vega.CDN_FILES, version("vl-convert-python"))
    make_store(tmp_path / "store", executions=30, failed_scope=False)
    cfg = config(tmp_path, tmp_path / "store", report='formats = ["html", "md"]')
    before = Store.open(tmp_path / "store").version()
    args = ["run", "--config", str(cfg), "--report-dir", str(tmp_path / "r"), "--no-sync", "--no-notify",
            "--until", UNTIL]
    result = runner.invoke(app, args)
    assert result.exit_code == ExitCode.USAGE, result.output
    said = " ".join(result.output.split())
    assert "are not known to this flowscope" in said and "--charts inline" in said, said
    assert not (tmp_path / "r").exists() and Store.open(tmp_path / "store").version() == before
    result = runner.invoke(app, [*args, "--charts", "inline"])
    assert result.exit_code == ExitCode.OK, result.output
    assert (tmp_path / "r" / f"flowscope-{STAMP}.html").is_file()


def test_renotify_with_no_notify_is_a_usage_error(tmp_path):
    """`run --renotify --no-notify` asked to send everything again and to send nothing: it sent nothing,
    exit 0, the --renotify silently dropped. The contradiction is exit 2 before any work."""
    make_store(tmp_path / "store", executions=30, failed_scope=False)
    result = runner.invoke(app, ["run", "--store", str(tmp_path / "store"), "--report-dir", str(tmp_path / "r"),
                                 "--no-sync", "--no-notify", "--renotify", "--until", UNTIL])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "--renotify and --no-notify" in result.output and not (tmp_path / "r").exists()


@pytest.mark.slow   # three scheduled runs over a fresh store, ~3 s each
def test_a_history_that_cannot_be_written_is_an_error_and_no_flood(tmp_path, receiver, monkeypatch):
    """When the store refused the findings history, `run` warned and exited 0, and sent every open
    finding as new (it had no history to compare with): each hour, to every target. Now the message
    says only what changed against the stored history, and the run exits 6."""
    from flowscope.store import StoreError

    make_store(tmp_path / "store", failed_scope=False)
    monkeypatch.setenv("FLOWSCOPE_TEST_HOOK", receiver.url + "/hook")
    cfg = config(tmp_path, tmp_path / "store", notify=WEBHOOK, report='formats = ["md"]')

    def tick(hours: int):
        until = END + dt.timedelta(hours=hours)
        return runner.invoke(app, ["run", "--config", str(cfg), "--report-dir", str(tmp_path / "r"),
                                   "--until", until.isoformat(), "--since", "7d", "--no-sync"])

    first = tick(0)
    assert first.exit_code == ExitCode.OK and len(receiver.requests) == 1, first.output
    write = Store.write

    def refused(self, batch, *args, **kwargs):
        if "findings" in batch or "report_runs" in batch:
            raise StoreError("disk full")
        return write(self, batch, *args, **kwargs)

    monkeypatch.setattr(Store, "write", refused)
    failed = tick(1)
    assert failed.exit_code == ExitCode.HISTORY_NOT_RECORDED, failed.output
    assert "findings history not recorded" in failed.output and "disk full" in failed.output
    assert len(receiver.requests) == 1 and "nothing to send" in failed.output     # no finding sent again
    assert (tmp_path / "r").is_dir() and len(list((tmp_path / "r").iterdir())) == 2   # the report still written
    monkeypatch.setattr(Store, "write", write)
    back = tick(2)
    assert back.exit_code == ExitCode.OK and len(receiver.requests) == 1, back.output


def test_what_a_message_told_that_cannot_be_recorded_is_exit_6(tmp_path, receiver, monkeypatch):
    """Notifications sent but not recorded were a warning and exit 0: every re-run and scheduled run sent
    them again, and nothing a scheduler reads said why."""
    from flowscope.report import history
    from flowscope.store import StoreError

    def refused(*args, **kwargs):
        raise StoreError("disk full")

    make_store(tmp_path / "store", failed_scope=False)
    monkeypatch.setenv("FLOWSCOPE_TEST_HOOK", receiver.url + "/hook")
    monkeypatch.setattr(history, "mark_delivered", refused)
    cfg = config(tmp_path, tmp_path / "store", notify=WEBHOOK, report='formats = ["md"]')
    result = runner.invoke(app, ["run", "--config", str(cfg), "--report-dir", str(tmp_path / "r"),
                                 "--until", UNTIL, "--since", "7d", "--no-sync"])
    assert result.exit_code == ExitCode.HISTORY_NOT_RECORDED, result.output
    assert "sent but not recorded" in result.output and len(receiver.requests) == 1


def _history_is_free(store_path) -> bool:
    """Whether another process could take the findings history's lock now (a new lock, its own file
    descriptor: flock refuses it while any other holds the file, this process's included)."""
    from flowscope.report.history import HISTORY_LOCK
    from flowscope.store.errors import StoreLockedError
    from flowscope.store.lock import WriterLock

    lock = WriterLock(store_path / HISTORY_LOCK, str(store_path))
    try:
        lock.acquire(0)
    except StoreLockedError:
        return False
    lock.release()
    return True


def test_a_run_holds_the_findings_history_from_reading_it_to_recording_what_it_told(tmp_path, monkeypatch):
    """Two runs of one store at once (the cron job and someone's manual run, or an hour's run that
    overran into the next) both read the history before either recorded anything: both found the same
    findings new and both sent them, and the second record of `notified` wrote over the first. A run
    now holds the history's lock from reading it until what its messages told is recorded: a second
    run waits, then reads what the first recorded and sends nothing it was sent."""
    from flowscope.report import notify

    make_store(tmp_path / "store", failed_scope=False)
    monkeypatch.setenv("FLOWSCOPE_TEST_HOOK", "http://127.0.0.1:9/hook")
    cfg = config(tmp_path, tmp_path / "store", notify=WEBHOOK, report='formats = ["md"]')
    free: list[bool] = []
    real = notify.deliver

    def watched(*args, **kwargs):
        free.append(_history_is_free(tmp_path / "store"))
        return real(*args, **kwargs)

    monkeypatch.setattr(notify, "deliver", watched)
    done = runner.invoke(app, ["run", "--config", str(cfg), "--report-dir", str(tmp_path / "out"), "--until", UNTIL])
    assert done.exit_code == ExitCode.DELIVERY_FAILED, done.output   # port 9: nothing listens
    assert free == [False]
    assert _history_is_free(tmp_path / "store")                 # and let go at the end


def test_doctor_says_a_webhook_variable_that_holds_no_address(tmp_path, monkeypatch):
    """`doctor` said "configured, its variables set" of a webhook variable holding "hooks.slack.com/..."
    (no scheme: every scheduled run then failed to deliver, exit 4); it says the variable holds no http(s)
    address (never the value), and exit 2, as for a variable not set. White space around one is fine."""
    result = _doctor_with_hook(tmp_path, monkeypatch, WEBHOOK, "hooks.slack.com/services/T0/B0/very-secret")
    assert result.exit_code == ExitCode.USAGE, result.output
    assert ("notify webhook#1 (webhook, low and above, changes only): not ready: FLOWSCOPE_TEST_HOOK ("
            "webhook URL) holds no http:// or https:// address") in " ".join(result.output.split())
    assert "very-secret" not in result.output
    result = _doctor_with_hook(tmp_path, monkeypatch, WEBHOOK, " https://hooks.slack.com/services/T0/B0/very-secret\n")
    assert "configured, its variables set" in result.output and "very-secret" not in result.output


def _doctor_with_hook(tmp_path, monkeypatch, notify: str, value: str):
    """`flowscope doctor` of a store with no failed scope and the [[notify]] entry `notify`, whose variable
    FLOWSCOPE_TEST_HOOK holds `value`."""
    store = make_store(tmp_path / "store", failed_scope=False) if not (tmp_path / "store").exists() \
        else Store.open(str(tmp_path / "store"))
    cfg = config(tmp_path, tmp_path / "store", notify=notify)
    monkeypatch.setenv("FLOWSCOPE_TEST_HOOK", value)
    return runner.invoke(app, ["doctor", "--store", str(store.path), "--config", str(cfg)])


def test_doctor_says_a_webhook_variable_that_holds_only_white_space(tmp_path, monkeypatch):
    """A Slack variable holding only "  \\n" (a Kubernetes secret's line break) was "configured, its
    variables set" with exit 0 while every send failed ("holds no address"); doctor now says it is not
    set, as the send does, and exits 2."""
    result = _doctor_with_hook(tmp_path, monkeypatch,
                               '[[notify]]\ntype = "slack"\nurl_env = "FLOWSCOPE_TEST_HOOK"\n', "  \n")
    assert result.exit_code == ExitCode.USAGE, result.output
    assert ("notify slack#1 (slack, high and above, changes only): not ready: FLOWSCOPE_TEST_HOOK (slack "
            "webhook URL) not set here") in " ".join(result.output.split())


def test_a_report_that_waits_too_long_for_the_history_says_who_holds_it(tmp_path, monkeypatch):
    """A report whose store's history another process holds past the wait is exit 2 naming that
    process, nothing written; with --no-history (which writes none) it does not wait at all."""
    import os

    from flowscope.report import history
    from flowscope.store.lock import WriterLock

    make_store(tmp_path / "store", failed_scope=False)
    monkeypatch.setattr(history, "HISTORY_LOCK_TIMEOUT_S", 0.2)
    held = WriterLock(tmp_path / "store" / history.HISTORY_LOCK, "store")
    held.acquire(0)
    try:
        out = tmp_path / "r.md"
        args = ["report", "--store", str(tmp_path / "store"), "--out", str(out), "--until", UNTIL]
        result = runner.invoke(app, args)
        assert result.exit_code == ExitCode.USAGE, result.output
        text = " ".join(result.output.split())
        assert "another flowscope report or run has held this store's findings history" in text
        assert f"pid {os.getpid()}" in text and not out.exists()
        free = runner.invoke(app, [*args, "--no-history"])
        assert free.exit_code in (ExitCode.OK, ExitCode.NO_DATA) and out.exists(), free.output
    finally:
        held.release()


def test_a_relative_until_counts_back_from_the_hour_as_the_default_end_does(tmp_path):
    """`run --until 1d` counted back from the second, where the default end is the start of the hour: each
    retry in the hour was another window, its files named to the microsecond ("...T084944.083343Z.html")."""
    from flowscope.cli.run import _run_window

    hour = dt.datetime.now(dt.timezone.utc).replace(minute=0, second=0, microsecond=0)
    for until, end in (("1d", hour - dt.timedelta(days=1)), ("250d", hour - dt.timedelta(days=250)),
                       ("90m", hour - dt.timedelta(minutes=90)), (None, hour)):
        start, got = _run_window(None, "7d", until, configured=False)
        if got != end and dt.datetime.now(dt.timezone.utc) >= hour + dt.timedelta(hours=1):
            pytest.skip("the hour turned during the test")
        assert (start, got) == (end - dt.timedelta(days=7), end), until
    make_store(tmp_path / "store", failed_scope=False)
    cfg = config(tmp_path, tmp_path / "store", report='formats = ["md"]')
    out = tmp_path / "reports"
    for _ in range(2):
        runner.invoke(app, ["run", "--config", str(cfg), "--report-dir", str(out), "--no-sync", "--no-notify",
                            "--until", "1d"])
    names = sorted(p.name for p in out.iterdir())
    assert len(names) == 1 and names[0].endswith("00Z.md"), names     # one window, named to the hour
