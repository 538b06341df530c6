"""`flowscope import` and `flowscope sync`: the two commands that collect executions into a store, from
exported files or from the clouds' APIs, and say what they wrote, skipped and could not read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from flowscope.cli.loading import _settings, config_fail
from flowscope.cli.options import (
    ConfigOpt,
    StoreOpt,
    _arn_given,
    _cloud_spelt,
    _import_format_given,
    _import_path,
)
from flowscope.cli.output import err, fail, literal, note, shown, status, tagged
from flowscope.cli.root import app
from flowscope.cli.store_folder import _refuse_foreign
from flowscope.exitcodes import ExitCode
from flowscope.format import fmt_count


@app.command("import")
def import_(
    files: Annotated[list[Path], typer.Argument(
        help="Exported files (JSON, JSON Lines, YAML, optionally .gz), or folders: every file under them.",
        parser=_import_path)],
    store: StoreOpt = None,
    config: ConfigOpt = None,
    cloud: Annotated[Optional[str], typer.Option(help="Force the cloud: aws, azure, gcp.",
                                                 callback=_cloud_spelt)] = None,
    format: Annotated[Optional[str], typer.Option(
        "--format", help="Force the format, e.g. aws.history or gcp.step_entries (a wrong one lists all).",
        callback=_import_format_given)] = None,
    execution_arn: Annotated[Optional[str], typer.Option(
        help="Execution ARN of a bare get-execution-history file.", callback=_arn_given)] = None,
) -> None:
    """Load histories exported from the clouds, in their native formats (detected from content)."""
    from flowscope.collectors.importer import NothingImportedError, import_files
    from flowscope.collectors.native import NativeFormatError
    from flowscope.model import Cloud
    from flowscope.store import StoreError

    def print_skips(skips: list) -> None:
        # a skip's location and reason quote the file's text (a record's id, an exception's message):
        # credentials and escapes out in `tagged` (`shown`)
        for skip in skips[:20]:
            tagged("skipped", f"{skip.source}: {skip.location}: {skip.reason}")
        if len(skips) > 20:
            tagged("skipped", f"{len(skips) - 20} more record(s)")

    if cloud is not None and cloud not in {c.value for c in Cloud}:
        raise fail(f"--cloud must be one of aws, azure, gcp, not {cloud!r}")
    settings = _settings(config, store)
    _refuse_foreign(settings.store_path, "a new store is not written among them", new_store_only=True)
    try:
        with status("importing") as update:
            # the path, not Store(path): the store is created only once every file has been read; how far it is
            # said on the spinner (a 10M-record export takes minutes), a path as text, never as markup
            result = import_files(settings.store_path, list(files), cloud=cloud, fmt=format,
                                  execution_id=execution_arn, say=note,
                                  progress=lambda text: update(escape(f"importing {shown(text)}")))
    except NothingImportedError as exc:
        print_skips(exc.skips)
        raise fail(f"{exc} (nothing was written)", ExitCode.NO_DATA) from None
    except (NativeFormatError, StoreError, ValueError) as exc:
        # a streamed file that failed part way says itself what it stored (PartlyImportedError)
        suffix = "" if getattr(exc, "executions_written", 0) else " (nothing was written)"
        raise fail(f"{exc}{suffix}") from None
    except OSError as exc:   # the store path cannot be created (a file there, no permission)
        raise fail(f"{settings.store_path}: cannot write a store there: "
                   f"{exc.strerror or exc} (nothing was written)") from None
    written = ", ".join(f"{fmt_count(n)} {t}" for t, n in result.written.items() if t != "collection_runs") or "nothing"
    formats = ", ".join(f"{n} {f}" for f, n in sorted(result.formats.items()))
    fresh = result.new_executions + result.changed_executions
    if result.unchanged_executions and not fresh:
        summary = f"nothing new: {result.unchanged_executions} execution(s) already stored unchanged"
    else:
        summary = (f"{result.new_executions} new, {result.changed_executions} changed, "
                   f"{result.unchanged_executions} unchanged execution(s)"
                   + (f", {fmt_count(result.trigger_polls)} trigger poll(s) that started no run (billed)"
                      if result.trigger_polls else "") + f"; rows written: {written}")
    err.print(f"imported {result.files} file(s) ({formats}) into {escape(str(settings.store_path))}: {summary}",
              highlight=False, soft_wrap=True)
    print_skips(result.skips)
    if result.skips:
        err.print(f"{len(result.skips)} record(s) skipped", highlight=False)
    for warning in result.warnings:
        tagged("warning:", warning)
    if result.runless_executions:
        tagged("warning:", f"{result.runless_executions} execution(s) have steps or usage but no run record in "
                           "these files or the store (an export of actions or step entries without its runs): "
                           "runs, run failure rates and durations count them once their run is imported "
                           "(Logic Apps: the runs list or get; Workflows: executions list or get; Step "
                           "Functions: describe-execution, or log records from ExecutionStarted)")
    for line in result.upgraded.lines():     # what the one-off upgrades of an earlier flowscope's store did
        err.print(line, highlight=False, soft_wrap=True)
    if result.upkeep:
        note(result.upkeep)
    if result.unknown_event_types:
        kinds = ", ".join(f"{k} x{v}" for k, v in sorted(result.unknown_event_types.items()))
        tagged("read but not understood (nothing of them stored):", kinds)


SYNC_HELP = literal(
    "Collect every configured source into the store; a second run collects only what is new.\n\n"
    "Exit codes: 0 every scope collected, completely or partially (a partial scope's errors are recorded "
    "in collection_runs and shown); 2 configuration error (also: no [[sources]] "
    "for --cloud, a --since in the future or without a unit); 3 a scope failed (its error is recorded in "
    "collection_runs and shown), or a scope's name globs matched none of the workflows it listed (\"0 of 7 "
    "workflows match ['ordrs-*']\": nothing of it collected).")


@app.command(help=SYNC_HELP)
def sync(
    store: StoreOpt = None,
    config: ConfigOpt = None,
    since: Annotated[Optional[str], typer.Option(
        help="Bound the first sync of a scope: 30d, or an ISO date; on a later sync, re-read back to it (a backfill "
             "of every scope: leave it out of a scheduled sync).")] = None,
    cloud: Annotated[Optional[str], typer.Option(help="Only sources of this cloud.", callback=_cloud_spelt)] = None,
) -> None:
    """Collect every configured source into the store (`SYNC_HELP`)."""
    from flowscope.collectors.sync import run_sync
    from flowscope.settings import ConfigError
    from flowscope.store import StoreError

    settings = _settings(config, store)
    _refuse_foreign(settings.store_path, "a new store is not written among them", new_store_only=True)
    try:
        with status("syncing"):
            report = run_sync(settings, since=since, clouds=[cloud] if cloud else None, say=note)
    except (ConfigError, StoreError, ValueError) as exc:
        raise config_fail(settings, str(exc)) from None
    for line in report.summary_lines():
        note(line)
    raise typer.Exit(report.exit_code)
