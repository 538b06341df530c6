"""`flowscope analyze`: the findings of one window printed as a table, JSON or CSV, on DuckDB or Spark."""

from __future__ import annotations

import gc
import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from flowscope import DEFAULT_SINCE
from flowscope.analysis.checks import dollars_text
from flowscope.cli.loading import _open_store, _settings, _thresholds
from flowscope.cli.options import CloudsOpt, ConfigOpt, FailOnOpt, ReadStoreOpt, SinceOpt, UntilOpt, WorkflowsOpt, _word
from flowscope.cli.outcome import SEVERITY_RANK, _coverage_notes, verdict
from flowscope.cli.output import _Console, _stdout_written, fail, literal, note, out, status
from flowscope.cli.root import app
from flowscope.exitcodes import exit_code_table
from flowscope.extras import install_command
from flowscope.format import fmt_count
from flowscope.textsafety import terminal_text

if TYPE_CHECKING:
    import pandas as pd

    from flowscope.analysis.run import Coverage
    from flowscope.store import Store


ANALYZE_HELP = (
    "Print findings, most severe and most expensive first.\n\n"
    f"Exit codes ({exit_code_table()}): 1 when a finding is at or above --fail-on (this wins: the "
    "findings are real whatever else); otherwise 3 when the store or the window holds no executions "
    "for the filters, the last collection (before the window's end) of a scope in the selected "
    "clouds failed, or what the store knows ends well before the window does (the note); 2 for a bad "
    "flag, a typo'd --cloud or --workflow, a time out of range or a path "
    "that is not a store or a damaged store (the message names the file); 0 otherwise.\n\n"
    "Messages go to stderr; --format json prints one object on stdout whenever the analysis ran (exit 0, 1 "
    "or 3; nothing for exit 2 or 5, whose one-line error is on stderr): window, filters, counts, "
    "data_range, failed_collections, status (ok, no_data, collection_failed, stale), message, note (the data "
    "ends well before the window does), findings."
)


@app.command(help=ANALYZE_HELP)
def analyze(
    store: ReadStoreOpt = None,
    config: ConfigOpt = None,
    since: SinceOpt = DEFAULT_SINCE,
    until: UntilOpt = None,
    cloud: CloudsOpt = None,
    workflow: WorkflowsOpt = None,
    format: Annotated[str, typer.Option("--format", help="table, json or csv.", callback=_word)] = "table",
    fail_on: FailOnOpt = None,
    engine: Annotated[str, typer.Option(
        help=literal("duckdb (in-process) or spark (local PySpark, flowscope[spark])."), callback=_word)] = "duckdb",
) -> None:
    from flowscope.analysis.run import analyze_report
    from flowscope.store import StoreError

    if format not in {"table", "json", "csv"}:
        raise fail(f"--format must be table, json or csv, not {format!r}")
    if fail_on is not None and fail_on not in SEVERITY_RANK:
        raise fail(f"--fail-on must be one of {', '.join(SEVERITY_RANK)}, not {fail_on!r}")
    if engine not in {"duckdb", "spark"}:
        raise fail(f"--engine must be duckdb or spark, not {engine!r}")
    settings = _settings(config, store)
    thresholds = _thresholds(settings)
    target = _open_store(settings.store_path)
    # a one-shot process: what it imported and opened lives to its end, so the analyses' collections need not walk
    # it (30k demo: 3.20 s to 2.93 s wall, farm-bench, 8 pairs; docs/analysis-performance.md, session 50)
    gc.freeze()
    try:
        if engine == "spark":
            target = _spark_tables(target)
        with status("analysing"):
            report = analyze_report(target, since=since, until=until,
                                    clouds=cloud, workflows=workflow, thresholds=thresholds)
    except (StoreError, ValueError) as exc:
        raise fail(str(exc)) from None
    findings, coverage = report.findings, report.coverage
    with _stdout_written():
        if format == "json":
            typer.echo(report.to_json())
        elif format == "csv":
            _print_csv(findings, header=coverage.status != "no_data")
        else:
            _print_findings(findings, coverage)
    if format == "csv" and findings.empty and coverage.status != "no_data":
        note(f"no findings in this window ({_analysed(coverage)})")
    _coverage_notes(coverage)
    raise typer.Exit(verdict(findings["severity"], coverage.status, fail_on))


def _print_csv(findings: "pd.DataFrame", *, header: bool = True) -> None:
    """Findings as CSV, cells a spreadsheet would run neutralised. None: the header row alone (an empty file
    read as a failed run), or nothing at all without `header` (a window without data, said on stderr)."""
    from flowscope.analysis import findings_to_records
    from flowscope.analysis.suite import with_dollars_is
    from flowscope.textsafety import csv_safe_frame

    if findings.empty:
        if header:
            typer.echo(csv_safe_frame(findings.iloc[:0]).to_csv(index=False), nl=False)
        return
    frame = findings.copy()
    frame["evidence"] = [json.dumps(r["evidence"]) for r in findings_to_records(findings)]
    with_dollars_is(frame)
    frame["sample_execution_ids"] = [" ".join(ids) for ids in frame["sample_execution_ids"]]
    typer.echo(csv_safe_frame(frame).to_csv(index=False), nl=False)


class _TableSource:
    """Tables of another engine, behind the `.table(name)` that analyze_store reads."""

    def __init__(self, tables: dict) -> None:
        self.tables = tables

    def table(self, name: str):  # noqa: ANN201 - an Ibis table of the chosen backend
        return self.tables[name]


def _java_missing() -> str | None:
    """Why Spark would find no Java, as its launcher looks (JAVA_HOME's bin/java, else java on PATH), or
    None: without it Spark failed with "[JAVA_GATEWAY_EXITED]", said as a bug in flowscope (exit 5)."""
    home = os.environ.get("JAVA_HOME")
    if home:
        return None if os.access(Path(home) / "bin" / "java", os.X_OK) else \
            f"JAVA_HOME is {home}, which holds no bin/java"
    return None if shutil.which("java") else "no java on PATH and JAVA_HOME is not set"


def _spark_tables(store: "Store") -> _TableSource:
    from importlib.util import find_spec

    if find_spec("pyspark") is None:
        raise fail(f"--engine spark needs PySpark: {install_command('spark')} (and a Java runtime)")
    missing = _java_missing()
    if missing:
        raise fail(f"--engine spark needs a Java runtime: {missing}; install Java 17 or use --engine duckdb")
    from flowscope.analysis.engines import spark_tables

    return _TableSource(spark_tables(store))


def _text(value: object) -> str:
    """Cell text; None and NaN (pandas' missing) print as empty."""
    return "" if value is None or value != value else str(value)


def _analysed(coverage: "Coverage") -> str:
    """What an analysis read: "2,028 executions of 12 workflow(s) from ... to ... UTC"."""
    return (f"{fmt_count(coverage.executions)} executions of {fmt_count(coverage.workflows)} workflow(s) "
            f"from {coverage.since:%Y-%m-%d %H:%M} to {coverage.until:%Y-%m-%d %H:%M} UTC")


def _print_findings(findings: "pd.DataFrame", coverage: "Coverage") -> None:
    """A Rich table whose cells are plain Text: names from the clouds are never markup or escapes."""
    from rich.table import Table
    from rich.text import Text

    analysed = _analysed(coverage)
    if findings.empty:
        if coverage.status != "no_data":
            note(f"no findings in this window ({analysed})", console=out)
        return
    table = Table(show_lines=False)
    for column in ("severity", "kind", "cloud", "workflow", "step"):
        table.add_column(column, no_wrap=True)
    table.add_column("title", overflow="fold", min_width=40)
    table.add_column("dollars", justify="right", no_wrap=True)
    for row in findings.itertuples(index=False):
        cells = (row.severity, row.kind, row.cloud, row.workflow, row.step, row.title)
        table.add_row(*(Text(terminal_text(_text(v))) for v in cells),
                      dollars_text(row.monthly_usd, row.kind))
    console = out if out.is_terminal else _Console(width=200)
    console.print(table)
    note(f"{fmt_count(len(findings))} finding(s) in {analysed}", console=out)
