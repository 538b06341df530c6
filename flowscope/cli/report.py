"""`flowscope report`: a report of one window written to a file or folder (or printed), with the findings
history recorded in the store.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from flowscope import DEFAULT_SINCE
from flowscope.cli.loading import _open_store, _settings
from flowscope.cli.options import (
    CloudsOpt,
    ConfigOpt,
    FailOnOpt,
    ReadStoreOpt,
    SinceOpt,
    UntilOpt,
    WorkflowsOpt,
    _path_flag,
    _word,
)
from flowscope.cli.outcome import _coverage_notes, verdict
from flowscope.cli.output import fail, note
from flowscope.cli.report_content import _history_held, _report_content, _unrecorded
from flowscope.cli.report_files import (
    STDOUT_FORMATS,
    _check_chart_libraries,
    _check_outside_store,
    _check_pdf_printer,
    _check_writable,
    _file_in_the_way,
    _print_report,
    _write,
    _written,
)
from flowscope.cli.report_options import (
    CHARTS_HELP,
    PLOTLY_HELP,
    _charts_mode,
    _check_report_flags,
    _format_word,
    _report_format,
)
from flowscope.cli.root import app
from flowscope.exitcodes import exit_code_table

REPORT_HELP = (
    "Write a report of one window: html (one self-contained file; --charts cdn for a small one), pdf, "
    "md, csv or parquet (a folder, one file per table) or xlsx (a sheet per table).\n\n"
    "The findings are kept in the store with their stable ids (--no-history: read only), so the report "
    "says what is new, ongoing and resolved since the last one; the same window again changes nothing.\n\n"
    f"Exit codes ({exit_code_table()}): as `analyze`: 1 a finding at or above --fail-on (it wins), "
    "else 3 no executions in the window, a failed last collection or data ending well before the window "
    "does, else 6 the store refused the findings history, else 0; 2 for a bad flag or path."
)


_SystemPath: Any = type(Path())


class _FolderNamed(_SystemPath):
    """An --out written as a folder ("reports/"), which a Path forgets (`_out_flag`)."""


def _out_flag(value: str) -> Path:
    """--out as every path flag reads it (`_path_flag`), remembering a name written as a folder: `--out reports/`
    for an HTML report, where no folder was there yet, lost its slash and wrote a file named `reports`."""
    path = _path_flag("--out")(value)
    return _FolderNamed(path) if value.endswith(("/", os.sep)) else path


@app.command(help=REPORT_HELP)
def report(
    out: Annotated[Path, typer.Option("--out", help="File to write (a folder for csv and parquet; - prints an "
                                                    "md or html report on standard output).",
                                      parser=_out_flag)],
    store: ReadStoreOpt = None,
    config: ConfigOpt = None,
    since: SinceOpt = DEFAULT_SINCE,
    until: UntilOpt = None,
    cloud: CloudsOpt = None,
    workflow: WorkflowsOpt = None,
    format: Annotated[Optional[str], typer.Option(
        "--format", help="html (or htm), pdf, md (or markdown, txt), csv, parquet or xlsx (default: the one "
                         "--out's name ends in, else html).", callback=_format_word)] = None,
    fail_on: FailOnOpt = None,
    charts: Annotated[Optional[str], typer.Option(help=CHARTS_HELP, callback=_word)] = None,
    plotly: Annotated[Optional[str], typer.Option(help=PLOTLY_HELP, callback=_word, hidden=True)] = None,
    history: Annotated[bool, typer.Option("--history/--no-history",
                                          help="Record the findings history in the store.")] = True,
    title: Annotated[str, typer.Option(help="The report's title.")] = "flowscope report",
) -> None:
    from flowscope.report import SUFFIX, check_out

    format = _report_format(format, out)
    if SUFFIX.get(format) and isinstance(out, _FolderNamed):     # refused as a folder already there is (check_out)
        raise fail(f"--out {out}/ names a folder, and --format {format} writes one file: name the file, e.g. "
                   f"{out / ('report' + SUFFIX[format])}")
    given = _charts_mode(charts, plotly)
    mode = "inline" if given is None else given        # `--charts ""` refused below, not read as the default
    _check_report_flags(format, fail_on, mode, title)
    to_stdout = str(out) == "-"
    if to_stdout and format not in STDOUT_FORMATS:
        raise fail(f"--out - writes the report to standard output, which takes --format md or html; "
                   f"name a {'folder' if format in ('csv', 'parquet') else 'file'} for {format}")
    try:
        if not to_stdout:
            check_out(format, out)
    except ValueError as exc:
        raise fail(str(exc)) from None
    blocker = None if to_stdout else _file_in_the_way(out)
    if blocker is not None:     # it failed after the analyses and the history, "[Errno 17] File exists"
        raise fail(f"--out {out}: {blocker} is a file, not a folder; name a file in a folder")
    if not to_stdout:
        _check_writable(out)
    if format == "pdf":
        _check_pdf_printer()
    _check_chart_libraries({format}, mode)
    settings = _settings(config, store)
    target = _open_store(settings.store_path)
    gc.freeze()    # as `analyze` does
    if not to_stdout:
        _check_outside_store(out, settings.store_path, folder=not SUFFIX[format])
    with _history_held(target, history):
        content = _report_content(target, settings, since=since, until=until, cloud=cloud, workflow=workflow,
                                  title=title, history=history)
    if to_stdout:
        _print_report(content, format, mode)
    else:
        note(f"report written: {_written(out, format, _write(content, format, out, mode))}")
    note(content.summary_line())
    if content.history is not None:
        note(f"findings: {content.history.summary()}")
    _coverage_notes(content.coverage)
    raise typer.Exit(verdict(content.findings["severity"], content.coverage.status, fail_on,
                             history_failed=_unrecorded(content)))
