"""Reports: HTML / PDF / Markdown / CSV / Parquet / Excel exports of one window, findings history, notifications.

    content = build_content(store, since="7d")     # analysis layer only (content.py)
    history.record(store, content)                 # new / ongoing / resolved since the last report
    write_report(content, "html", Path("r.html"))  # lay it out

Every module loads its heavy dependencies (Jinja2, vl-convert, Playwright, openpyxl) on first use.
"""

from __future__ import annotations

from pathlib import Path

from flowscope.report.content import ReportContent, build_content
from flowscope.report.files import write_text_whole, write_whole

FORMATS = ("html", "pdf", "md", "csv", "parquet", "xlsx")
FILE_SUFFIXES = {"html": (".html", ".htm"), "pdf": (".pdf",), "md": (".md", ".markdown", ".txt"), "xlsx": (".xlsx",)}
"""The names each file format is written under, its own first (csv and parquet write a folder of files)."""
SUFFIX = {fmt: FILE_SUFFIXES[fmt][0] if fmt in FILE_SUFFIXES else "" for fmt in FORMATS}
"""File name suffix of each format ("" for a folder of files)."""
FORMAT_ALIASES = {suffix[1:]: fmt for fmt, suffixes in FILE_SUFFIXES.items()
                  for suffix in suffixes if suffix[1:] != fmt}
"""A format by the other names its files take ("markdown", "htm"): `--out r.markdown` wrote Markdown, and
`--format markdown` (or `write_report(..., "markdown", ...)`) was refused as no format."""

__all__ = ["FORMATS", "ReportContent", "build_content", "check_out", "format_named", "write_report"]


def format_named(word: str) -> str:
    """The format `word` names: one of FORMATS, or the format whose files it names (FORMAT_ALIASES)."""
    return FORMAT_ALIASES.get(word, word)


def check_out(fmt: str, out: Path) -> None:
    """ValueError when `out` is taken by the other kind (a folder where a file goes, or the reverse) or
    by what is not a file (a device, a pipe): `report` asks before any work, rather than failing at the
    end on a temporary file's name."""
    folder = not SUFFIX[fmt]
    if out.exists() and not out.is_file() and not out.is_dir():
        # written beside and renamed over, a device or a pipe was replaced (as root, /dev/full by a workbook)
        raise ValueError(f"{out}: not a regular file (a device, a pipe or a socket): name the file to write")
    if folder and out.exists() and not out.is_dir():
        raise ValueError(f"{out}: --format {fmt} writes a folder of files (one per table), and a file is there")
    if not folder and out.is_dir():
        raise ValueError(f"{out}: --format {fmt} writes one file, and a folder is there: name the file, "
                         f"e.g. {out / ('report' + SUFFIX[fmt])}")


def write_report(content: ReportContent, fmt: str, out: Path, *, charts: str = "inline") -> list[Path]:
    """Write one format (`format_named`); returns the files written. Raises ValueError for an unknown format or
    a taken path."""
    fmt = format_named(fmt)
    if fmt not in FORMATS:
        raise ValueError(f"the format must be one of {', '.join(FORMATS)} (or {', '.join(FORMAT_ALIASES)}), "
                         f"not {fmt!r}")
    out = Path(out)
    check_out(fmt, out)
    if fmt == "html":
        from flowscope.report.html import render_html

        write_text_whole(out, render_html(content, charts=charts))
        return [out]
    if fmt == "md":
        from flowscope.report.markdown import render_markdown

        write_text_whole(out, render_markdown(content))
        return [out]
    if fmt == "pdf":
        from flowscope.report.html import render_html
        from flowscope.report.pdf import html_to_pdf

        page = render_html(content, charts="inline")
        write_whole(out, lambda tmp: html_to_pdf(page, tmp, charts=page.count('<div class="chart"')))
        return [out]
    from flowscope.report.tables import write_tables

    out.parent.mkdir(parents=True, exist_ok=True)
    return write_tables(content, out, fmt)
