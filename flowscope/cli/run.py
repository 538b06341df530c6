"""`flowscope run`, for schedulers: sync, analyse, write the dated reports and send the notifications in
one step, its window ending at the hour, every config table checked before any of it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from flowscope.cli.loading import _configured_scopes, _open_store, _settings, config_fail
from flowscope.cli.options import ConfigOpt, StoreOpt, _path_flag, _word
from flowscope.cli.outcome import _coverage_notes, verdict
from flowscope.cli.output import fail, literal, note, status
from flowscope.cli.report_content import _history_held, _report_content, _unrecorded
from flowscope.cli.report_files import (
    _check_chart_libraries,
    _check_outside_store,
    _check_pdf_printer,
    _check_report_dir,
    _write,
    _written,
)
from flowscope.cli.report_options import CHARTS_HELP, PLOTLY_HELP, _charts_mode, _format_words, _run_options
from flowscope.cli.root import app
from flowscope.cli.store_folder import _refuse_foreign
from flowscope.exitcodes import exit_code_table

if TYPE_CHECKING:
    from flowscope.store import Store


RUN_HELP = literal(
    "For schedulers: sync every configured source, analyse, write the reports with dated file names and "
    "send the [[notify]] notifications, in one step. The window ends at the start of the current hour "
    "(or --until), so a re-run in the same hour writes the same files and changes no history.\n\n"
    f"Exit codes ({exit_code_table()}): 1 a finding at or above --fail-on (it wins); else 3 no executions in "
    "the window, a failed collection (a failed sync included) or data ending well before the window does "
    "(syncs that succeed but bring nothing); else 4 a notification could not be delivered after its retries; "
    "else 6 the store refused the findings history (or the record of what a notification told); else 0. "
    "2: a bad flag or configuration."
)


def _this_hour() -> dt.datetime:
    """The start of the current hour (UTC)."""
    return dt.datetime.now(dt.timezone.utc).replace(minute=0, second=0, microsecond=0)


def _run_window(settings: Any, since: str, until: str | None, *, configured: bool,
                hour: dt.datetime | None = None) -> tuple[dt.datetime | None, dt.datetime]:
    """(start, end) of run's window: it ends at the start of this hour, or --until, a relative one counted back
    from that hour (`--until 1d`: the same window, and the same file names, all hour long; counted from the
    second, each retry wrote files of its own, "flowscope-...T084944.083343Z.html"). A since that leaves no
    window is exit 2 before the sync, naming the config file's line when [report] gave it (`configured`):
    "the window is empty" named neither, where every other refusal of [report] since names both. `hour`: the
    run's hour (default: this one), which its findings history is recorded as of too."""
    from flowscope.timewindow import check_order, parse_window

    hour = hour or _this_hour()
    try:
        end = parse_window(None, hour if until is None else until, now=hour)[1] or hour
    except ValueError as exc:
        raise fail(str(exc)) from None
    try:
        start = parse_window(since, end)[0]
        check_order(start, end)
    except ValueError as exc:
        raise (config_fail(settings, f"[report] since: {exc}") if configured else fail(str(exc))) from None
    return start, end


def _run_sync(settings: Any, do_sync: bool) -> bool:
    """Sync every configured source; True when a scope failed (recorded in collection_runs, said here)."""
    from flowscope.collectors.sync import run_sync
    from flowscope.settings import ConfigError
    from flowscope.store import StoreError

    if not do_sync:
        note("sync skipped (--no-sync)")
        return False
    if not settings.sources:
        note("no [[sources]] configured: nothing to sync, reporting on the store as it is")
        return False
    _refuse_foreign(settings.store_path, "a new store is not written among them", new_store_only=True)
    try:
        with status("syncing"):
            result = run_sync(settings, say=note)
    except (ConfigError, StoreError, ValueError) as exc:
        raise config_fail(settings, str(exc)) from None
    for line in result.summary_lines():
        note(line)
    return bool(result.exit_code)


def _mark_notified(target: "Store", content: Any, deliveries: list[Any]) -> None:
    """Remember what each target was sent by this report run (its findings, and the status its message
    said), so a re-run does not send them again and a status is sent when it starts, changes or ends.
    A write the store refuses is an error (exit 6, `_unrecorded`): the next run repeats those messages."""
    from flowscope.report.history import mark_delivered
    from flowscope.store import StoreError

    sent = {d.target: d.finding_ids for d in deliveries if d.sent and d.finding_ids}
    said = {d.target: d.said for d in deliveries if d.sent and d.said}
    if content.history is None:
        return
    try:
        mark_delivered(target, content.history, sent, said)
    except (StoreError, OSError) as exc:
        content.history.not_recorded = str(exc) or type(exc).__name__
        fail(f"notifications sent but not recorded (the next run repeats them): {exc}")


def _file_stamp(end: dt.datetime) -> str:
    """A run's file names' time: its window's end in UTC to the minute, to the second (and beyond)
    when it ends between minutes: two windows ending in one minute wrote one file over the other."""
    end = end.astimezone(dt.timezone.utc)
    if end.microsecond:
        return f"{end:%Y-%m-%dT%H%M%S.%f}Z"
    return f"{end:%Y-%m-%dT%H%M%S}Z" if end.second else f"{end:%Y-%m-%dT%H%M}Z"


@app.command("run", help=RUN_HELP)
def run_(
    report_dir: Annotated[Path, typer.Option("--report-dir", help="Folder for the dated report files.",
                                             parser=_path_flag("--report-dir"))],
    config: ConfigOpt = None,
    store: StoreOpt = None,
    since: Annotated[Optional[str], typer.Option(
        help=literal("Window start (default: [report] since, else 7d)."))] = None,
    until: Annotated[Optional[str], typer.Option(help="Window end (default: the start of this hour).")] = None,
    format: Annotated[Optional[list[str]], typer.Option(
        "--format", help=literal("Formats to write (repeatable; default: [report] formats, else html)."),
        callback=_format_words)] = None,
    fail_on: Annotated[Optional[str], typer.Option(help="Exit 1 when a finding is at least this severe.",
                                                   callback=_word)] = None,
    charts: Annotated[Optional[str], typer.Option(help=CHARTS_HELP, callback=_word)] = None,
    plotly: Annotated[Optional[str], typer.Option(help=PLOTLY_HELP, callback=_word, hidden=True)] = None,
    do_sync: Annotated[bool, typer.Option("--sync/--no-sync", help="Sync the configured sources first.")] = True,
    notify: Annotated[bool, typer.Option("--notify/--no-notify", help=literal("Send the [[notify]] messages."))] = True,
    renotify: Annotated[bool, typer.Option("--renotify", help=literal(
        "Send every target the status and every open finding at or above its min_severity again, "
        "even if it was told already."))] = False,
) -> None:
    from flowscope.model import UTC
    from flowscope.report import SUFFIX
    from flowscope.report.notify import deliver, parse_targets

    if renotify and not notify:     # it sent nothing, exit 0: the --renotify silently dropped
        raise fail("--renotify and --no-notify contradict each other: --renotify sends every target everything "
                   "again, --no-notify sends nothing; pass one")
    settings = _settings(config, store)
    formats, since_text, fail_on, charts_mode, title = _run_options(settings, format, since, fail_on,
                                                                    _charts_mode(charts, plotly))
    # every table is checked whatever the flags: a typo'd [[notify]] or [[sources]] in a cron job's
    # `run --no-notify --no-sync` was found only on the day they were switched back on
    _configured_scopes(settings)
    try:
        targets = parse_targets(settings.notify)
    except ValueError as exc:
        raise config_fail(settings, str(exc)) from None
    if not notify:
        targets = []
    # before the sync: it took minutes, then the window was refused
    hour = _this_hour()     # the run's hour: its window's default end, and what its history is recorded as of
    start, end = _run_window(settings, since_text, until, configured=since is None and "since" in settings.report,
                             hour=hour)
    names = {fmt: f"flowscope-{_file_stamp(end)}{SUFFIX[fmt] or '-' + fmt}" for fmt in formats}
    _check_report_dir(report_dir, names)
    _check_outside_store(report_dir, settings.store_path, folder=True)
    if "pdf" in names:
        _check_pdf_printer()
    _check_chart_libraries(names.keys(), charts_mode)     # charts_mode: the flag's, or [report] charts
    sync_failed = _run_sync(settings, do_sync)
    target = _open_store(settings.store_path)
    with _history_held(target):      # from reading the history to recording what the messages told
        # the window ends at the hour; the sync just run (after it) says how each scope stands now
        # a window ending in the future (month-to-date) is recorded as of this hour: as of the second, every
        # retry in the hour was another report run, rewrote the history and said "ongoing" of the new findings
        content = _report_content(target, settings, since=start, until=end, cloud=None, workflow=None, title=title,
                                  history=True, collections_as_of=None if until else dt.datetime.now(UTC),
                                  history_as_of=hour)
        written: list[Path] = []
        shown: list[str] = []                    # what the folder holds now: a file, or a folder of tables
        unwritten: typer.Exit | None = None      # said by _write; the other formats and the alerts still go out
        for fmt, name in names.items():
            try:
                files = _write(content, fmt, report_dir / name, charts_mode)
            except typer.Exit as exc:
                unwritten = exc
                continue
            written += files
            shown.append(_written(Path(name), fmt, files))
        note(f"reports written to {report_dir}: {', '.join(shown)}" if shown else f"no report written to {report_dir}")
        note(content.summary_line())
        if content.history is not None:
            note(f"findings: {content.history.summary()}")
        _coverage_notes(content.coverage)
        with status("notifying"):
            deliveries = deliver(targets, content, written, sync_failed=sync_failed, renotify=renotify)
        for d in deliveries:
            note(d.line())
        _mark_notified(target, content, deliveries)
    if unwritten is not None:
        raise unwritten
    # a scope that failed in this very sync counts even when it started after the window's end
    data = "collection_failed" if sync_failed and content.coverage.status == "ok" else content.coverage.status
    raise typer.Exit(verdict(content.findings["severity"], data, fail_on,
                             delivery_failed=any(d.failed for d in deliveries), history_failed=_unrecorded(content)))
