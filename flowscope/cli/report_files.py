"""A report's files, for `report` and `run`: where they go checked before any work (a folder, writable,
outside the store; the PDF printer and the charts' libraries there), then written, or printed on
standard output, and said as the folder holds them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Collection
from pathlib import Path
from typing import Any

import typer

from flowscope.cli.output import OUTPUT_CLOSED, _stdout_written, fail, status
from flowscope.cli.store_folder import _store_folder


def _write(content: Any, fmt: str, out: Path, charts: str) -> list[Path]:
    from flowscope.report import write_report
    from flowscope.report.pdf import PdfError

    try:
        with status(f"writing {fmt}"):
            return write_report(content, fmt, out, charts=charts)
    except OSError as exc:
        raise _cannot_write(out, exc) from None
    except (PdfError, ValueError) as exc:
        raise fail(f"{out}: {exc}") from None


def _cannot_write(out: Path, exc: OSError) -> typer.Exit:
    """Exit 2 for a report the system refused, before the work (`_check_writable`) or at its end (`_write`)."""
    return fail(f"{out}: cannot write it: {_os_reason(exc, out)}")


def _os_reason(exc: OSError, out: Path) -> str:
    """Why the system refused a report file, naming the path it refused unless that is `out` itself or the
    hidden temporary file (or folder) beside it the report is first written to ('.r.md.u0kkcpgj'), which the
    user never named."""
    if not exc.strerror:
        return str(exc)
    named = str(exc.filename or "")
    if not named or named == str(out) or Path(named).name.startswith(f".{out.name}."):
        return exc.strerror
    return f"{exc.strerror} ({named})"


STDOUT_FORMATS = ("md", "html")
"""The formats `report --out -` prints on standard output (one text; the others are binary or folders)."""


def _print_report(content: Any, fmt: str, charts: str) -> None:
    """The report on standard output (`--out -`): `--out - --format md | ...` wrote a file named "-"."""
    if fmt == "md":
        from flowscope.report.markdown import render_markdown

        text = render_markdown(content)
    else:
        from flowscope.report.html import render_html

        text = render_html(content, charts=charts)
    try:
        with _stdout_written():
            sys.stdout.write(text)
    except BrokenPipeError:         # `| head`: the reader stopped, as `analyze` says it
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise SystemExit(OUTPUT_CLOSED) from None


def _written(out: Path, fmt: str, files: list[Path]) -> str:
    """A report written, as its folder holds it: the file, or a csv or parquet folder and how many tables
    it holds ("six of its tables" listed the first ones and left the other reports unsaid)."""
    from flowscope.report import SUFFIX

    return str(out) if SUFFIX[fmt] else f"{out}/ ({len(files)} file{'' if len(files) == 1 else 's'})"


def _check_pdf_printer() -> None:
    """Exit 2 before any work when a PDF cannot be printed here (`pdf.check_printer`): it analysed the
    window and recorded the findings history first."""
    from flowscope.report.pdf import PdfError, check_printer

    try:
        check_printer()
    except PdfError as exc:
        raise fail(str(exc)) from None


CHARTED_FORMATS = frozenset({"html", "pdf"})
"""The report formats with charts (drawn by Vega, its libraries from vl-convert-python)."""


def _check_chart_libraries(formats: Collection[str], charts: str) -> None:
    """Exit 2 before any work when a format of `formats` has charts and their libraries are not installed, or
    when html's `--charts cdn` has no pinned files for this vl-convert (`vega.check_libraries`; the PDF always
    inlines them)."""
    from flowscope.report.vega import ChartsUnavailable, check_libraries

    if CHARTED_FORMATS.isdisjoint(formats):
        return
    try:
        check_libraries(charts if "html" in formats else "inline")
    except ChartsUnavailable as exc:
        raise fail(str(exc)) from None


def _file_in_the_way(path: Path, *, itself: bool = False) -> Path | None:
    """The file standing where a folder above `path` (or `path` itself) must be made, or None."""
    return next((p for p in ((path,) if itself else ()) + tuple(path.parents) if p.exists() and not p.is_dir()),
                None)


def _check_report_dir(report_dir: Path, names: dict[str, str]) -> None:
    """Exit 2 before any work when --report-dir, or a folder above it, is a file, or a report's name in it is
    taken by the other kind (`report.check_out`): it synced, analysed and recorded the findings history,
    then failed with "[Errno 17] File exists" on the first file."""
    from flowscope.report import check_out

    blocker = _file_in_the_way(report_dir, itself=True)
    if blocker is not None:
        raise fail(f"--report-dir {report_dir} is not a folder: {blocker} is a file; name a folder for the reports")
    for fmt, name in names.items():
        try:
            check_out(fmt, report_dir / name)
        except ValueError as exc:
            raise fail(str(exc)) from None
    _check_writable(report_dir)


def _check_outside_store(out: Path, store_path: str, *, folder: bool) -> None:
    """Exit 2 before any work when the report's files would go into the store's folder or one of its own
    folders (a table's, or _flowscope): the folder `out` is (`folder`), else the one it is in.
    `--out STORE/executions --format csv` dropped its tables among a Delta table's files, which a vacuum
    deletes as untracked; `--out STORE` dropped them beside the tables. Read from the path, so `run` asks
    before its sync, which may make the store."""
    from flowscope.model import TABLES
    from flowscope.store.layout import META_DIR

    root = _store_folder(store_path)
    if root is None:             # a URL or a path no store can be at: the store says so itself
        return
    where = out.resolve()
    place, resolved = where if folder else where.parent, root.resolve()
    own = next((name for name in (*TABLES, META_DIR) if place.is_relative_to(resolved / name)), None)
    if own is None and place != resolved:
        return
    why = f"{own}/ is flowscope's own" if own else "its folder holds only its tables and _flowscope/"
    raise fail(f"{out}: inside the store {root} ({why}): write the report elsewhere")


def _check_writable(out: Path) -> None:
    """Exit 2 before any work when no file can be made where the report goes (`files.check_writable`)."""
    from flowscope.report.files import check_writable

    try:
        check_writable(out)
    except OSError as exc:
        raise _cannot_write(out, exc) from None
