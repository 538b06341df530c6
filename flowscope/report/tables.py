"""CSV / Parquet / Excel exports: the findings and the aggregates behind the charts (never raw events).

One frame per sheet or file: summary (overview per cloud, this window and the previous one), trend,
findings, costly steps, slowest steps, failing steps, retried steps, collection health, resolved.
Every text cell goes through `textsafety.csv_safe_frame` (a cell starting with = + - @ tab or CR
gets a leading apostrophe), in all three formats: a Parquet file is often opened in a spreadsheet
too. Times are UTC (naive in Excel, which has no time zones). In Excel each column shows in its
unit (dollars, percentages, counts; `sheet_format`), the header frozen: the values stay the numbers.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from flowscope.analysis.suite import _json_default, with_dollars_is
from flowscope.format import is_missing
from flowscope.model import C
from flowscope.report.content import ReportContent
from flowscope.report.files import write_files_whole, write_whole
from flowscope.textsafety import csv_safe_frame
from flowscope.ui.readable import COUNT, DURATION_MINUTES, DURATION_MS, MONEY, SHARE, column_kind

TABLE_FORMATS = ("csv", "parquet", "xlsx")


def _summary(c: ReportContent) -> pd.DataFrame:
    """The overview per cloud of the window, with its data status (`Coverage.status`) and why, and when
    the data covers it, of the previous period."""
    # the window's data status beside its figures: zeros and an empty findings table read as an all-clear
    periods = [c.overview.assign(period="window", since=c.filters.since, until=c.filters.until,
                                 data_status=c.coverage.status, data_status_note=c.status_note())]
    if c.previous_has_data:      # the HTML's and the dashboard's rule: never a period the data half covers
        periods.append(c.previous.assign(period="previous", since=c.filters.previous().since, until=c.filters.since))
    return pd.concat(periods, ignore_index=True)


def _findings(c: ReportContent) -> pd.DataFrame:
    """The findings, their evidence as JSON and their state in the history; the same columns without
    findings (a daily folder read as one dataset changed its schema on quiet days)."""
    findings = c.findings.copy()
    if not findings.empty:
        findings["evidence"] = [json.dumps(e, default=_json_default, sort_keys=True) for e in findings["evidence"]]
        findings["sample_execution_ids"] = [" ".join(map(str, ids)) for ids in findings["sample_execution_ids"]]
    findings.insert(1, C.state, [c.state_of(i) for i in findings["id"]])
    with_dollars_is(findings)
    return findings


SOURCES: dict[str, Callable[[ReportContent], pd.DataFrame | None]] = {
    "summary": _summary,
    "trend": lambda c: c.trend,
    "findings": _findings,
    "costly_steps": lambda c: c.cost_drivers,
    "slowest_steps": lambda c: c.slowest_steps,
    "failing_steps": lambda c: c.failing_steps,
    "retried_steps": lambda c: c.retried_steps,
    "collection_health": lambda c: c.collection_health,
    "resolved": lambda c: c.history.resolved if c.history is not None else None,
}
"""Each exported table by name, in order, and how it is read from a report (None: not in this one)."""
TABLES = tuple(SOURCES)
"""Every table a report may export (`resolved` only with a findings history); a folder's stale files."""


def frames(c: ReportContent) -> dict[str, pd.DataFrame]:
    """The exported frames by name, text cells made safe for spreadsheets."""
    out = {name: read(c) for name, read in SOURCES.items()}
    return {name: csv_safe_frame(frame.reset_index(drop=True)) for name, frame in out.items() if frame is not None}


def _naive_utc(frame: pd.DataFrame) -> pd.DataFrame:
    """Excel keeps no time zone: times as naive UTC."""
    out = frame.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.DatetimeTZDtype):
            out[col] = out[col].dt.tz_convert("UTC").dt.tz_localize(None)
    return out


SHEET_FORMATS = {DURATION_MS: "#,##0", DURATION_MINUTES: "#,##0.0", MONEY: '"$"#,##0.00##', COUNT: "#,##0",
                 SHARE: "0.0%"}
"""A sheet's number format per column kind (`readable.column_kind`, the dashboard tables' rule)."""
MAX_SHEET_WIDTH = 60


def sheet_format(column: str, values: pd.Series) -> str | None:
    """The number format a spreadsheet shows a column in: dollars, milliseconds, a share as a percentage,
    counts with thousands separators, other numbers to the cent, times to the minute; None leaves it as
    written (text)."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return "yyyy-mm-dd hh:mm"
    kind = column_kind(column, values)
    if kind == SHARE:
        return _share_format(values)
    if kind is not None:
        return SHEET_FORMATS[kind]
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    return "#,##0.00" if numeric else None


def _share_format(values: pd.Series) -> str:
    """A share column's percentage format: one decimal, and as many more (up to 6) as its smallest share above
    zero needs to read as more than zero: 1 failed visit in 100,000 read "0.0%" in the sheet, an all-clear
    that is not one (the dashboard and the text formats say "0.001%" and "<0.1%")."""
    shares = pd.to_numeric(values, errors="coerce")
    smallest = shares[shares > 0].min() if (shares > 0).any() else None
    extra = 0
    while smallest is not None and extra < 5 and round(float(smallest) * 100, 1 + extra) == 0:
        extra += 1
    return "0.0" + "#" * extra + "%" if extra else SHEET_FORMATS[SHARE]


def _dress(sheet: Any, frame: pd.DataFrame) -> None:
    """A sheet a person can read: the header frozen and bold, each column in its unit's number format
    (`sheet_format`), widths to fit (up to MAX_SHEET_WIDTH characters)."""
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    sheet.freeze_panes = "A2"
    for i, column in enumerate(frame.columns, start=1):
        letter = get_column_letter(i)
        sheet[f"{letter}1"].font = Font(bold=True)
        number_format = sheet_format(str(column), frame[column])
        if number_format:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=i, max_col=i):
                cell.number_format = number_format
        sample = frame[column].head(200).map(lambda v: len(str(v)) if not is_missing(v) else 0)
        widest = max([len(str(column)), *sample.tolist()]) if len(sample) else len(str(column))
        sheet.column_dimensions[letter].width = min(widest + 2, MAX_SHEET_WIDTH)


def write_tables(c: ReportContent, out: Path, fmt: str) -> list[Path]:
    """CSV or Parquet: a folder `out` with one file per frame; xlsx: one workbook, a sheet per frame."""
    if fmt not in TABLE_FORMATS:
        raise ValueError(f"table format must be one of {', '.join(TABLE_FORMATS)}, not {fmt!r}")
    data = frames(c)
    if fmt == "xlsx":
        def workbook(tmp: Path) -> None:
            with pd.ExcelWriter(tmp, engine="openpyxl") as book:
                for name, frame in data.items():
                    _naive_utc(frame).to_excel(book, sheet_name=name[:31], index=False)
                    _dress(book.sheets[name[:31]], frame)

        write_whole(out, workbook)
        return [out]
    writer = pd.DataFrame.to_csv if fmt == "csv" else pd.DataFrame.to_parquet
    return write_files_whole(
        out, {f"{name}.{fmt}": functools.partial(writer, frame, index=False) for name, frame in data.items()},
        stale=[f"{name}.{fmt}" for name in TABLES])
