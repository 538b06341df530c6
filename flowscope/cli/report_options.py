"""A report's values, from the flags of `report` and `run` or the config file's [report] table: the
format (from --format or the --out name), --fail-on, --charts (and its former name --plotly), --title and
[report] since, each read and refused by one rule (`doctor` reads [report] as `run` does).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from flowscope import DEFAULT_SINCE
from flowscope.cli.loading import config_fail
from flowscope.cli.options import _refuse_blank, _word
from flowscope.cli.outcome import SEVERITY_RANK
from flowscope.cli.output import fail, literal, tagged

CHARTS_HELP = literal("inline: the chart libraries in the file (opens offline, ~1 MB); cdn: loaded from "
                      "cdn.jsdelivr.net (a smaller file). Default: inline (run: [report] charts, else inline).")
PLOTLY_HELP = "The former name of --charts (the charts are no longer plotly's)."


REPORT_FLAGS = ("--format", "--fail-on", "--charts", "--title")
REPORT_KEYS = ("[report] formats", "[report] fail_on", "[report] charts", "[report] title")
"""What a refusal calls a report's values: the flags, or the config file's keys (`_check_report_flags`)."""


def _charts_mode(charts: str | None, plotly: str | None, names: tuple[str, str] = ("--charts", "--plotly"),
                 settings: Any = None) -> str | None:
    """The charts' mode from --charts, or from --plotly (its former name, said as such; both given is a
    contradiction, refused: which one meant it?). `names` and `settings`: the [report] keys, and the file."""
    if plotly is None:
        return charts
    if charts is not None:
        message = f"{names[1]} is the former name of {names[0]}: give {names[0]} only"
        raise fail(message) if settings is None else config_fail(settings, message)
    tagged("renamed:", f"{names[1]} is now {names[0]} (the charts are drawn by Vega, not plotly)")
    return plotly


def _check_report_flags(fmt: str, fail_on: str | None, charts: str, title: str | None = None,
                        names: tuple[str, ...] = REPORT_FLAGS, settings: Any = None) -> None:
    """The one rule of each report value, given by a flag or by [report] (`names` REPORT_KEYS, and
    `settings` names the file and line): `title = ""` headed a report "# " where `--title ''` was refused."""
    from flowscope.report import FORMAT_ALIASES, FORMATS

    def bad(message: str) -> typer.Exit:
        return fail(message) if settings is None else config_fail(settings, message)

    if fmt not in FORMATS:
        raise bad(f"{names[0]} must be one of {', '.join(FORMATS)} (or {', '.join(FORMAT_ALIASES)}, the other "
                  f"names of their files), not {fmt!r}")
    if fail_on is not None and fail_on not in SEVERITY_RANK:
        raise bad(f"{names[1]} must be one of {', '.join(SEVERITY_RANK)}, not {fail_on!r}")
    if charts not in ("inline", "cdn"):
        raise bad(f"{names[2]} must be inline or cdn, not {charts!r}")
    if title is not None and not title.strip():     # "# " in Markdown, ": 3 finding(s)" in a message
        then = f"name the report, or leave {names[3]} out for the default"
        if settings is None:                         # a flag: the rule of every blank flag
            _refuse_blank(names[3], title, then)
        raise bad(f"{names[3]} is empty: {then}")


def _format_word(value: str | None) -> str | None:
    """A report format as `report.FORMATS` names it, from any case and any name of its files."""
    from flowscope.report import format_named

    word = _word(value)
    return format_named(word) if word is not None else None


def _format_words(values: list[str] | None) -> list[str] | None:
    return None if values is None else [str(_format_word(v)) for v in values]


FORMAT_WORDS = {"html": "HTML", "pdf": "a PDF", "md": "Markdown", "xlsx": "a workbook"}
OTHER_SUFFIXES = frozenset({".docx", ".doc", ".odt", ".rtf", ".json", ".csv", ".tsv", ".xls", ".xlsm", ".ods",
                            ".pptx", ".png", ".jpg", ".jpeg", ".svg", ".zip", ".gz", ".parquet", ".xml", ".yaml"})
"""Names of files no report format writes: HTML saved as r.docx opened as a broken Word file. Other
suffixes are part of a name (a dated `r.2026.12.02`)."""


def _report_format(fmt: str | None, out: Path) -> str:
    """--format, else the format `--out`'s name says (`--out r.md` wrote HTML into r.md), else html; a
    name that says another format than --format is exit 2 naming the name to use, before any work."""
    from flowscope.report import FILE_SUFFIXES, FORMATS

    suffix = out.suffix.lower()
    named = next((f for f, suffixes in FILE_SUFFIXES.items() if suffix in suffixes), None)
    if fmt is None:
        if named is None and suffix in OTHER_SUFFIXES:
            raise fail(f"--out {out}: cannot tell the report's format from {suffix}: pass --format "
                       f"{', '.join(FORMATS[:-1])} or {FORMATS[-1]}")
        return named or "html"
    if fmt not in FILE_SUFFIXES:      # csv and parquet: a folder, not a file of a type
        if fmt in FORMATS and (named is not None or suffix in OTHER_SUFFIXES):
            raise fail(f"--format {fmt} writes a folder of files (one per table), and {out} names a {suffix} "
                       f"file: name a folder, e.g. {out.with_name(f'{out.stem}-{fmt}')}")
        return fmt
    if (named is not None and named != fmt) or (named is None and suffix in OTHER_SUFFIXES):
        raise fail(f"--out {out} names a {suffix} file, but --format {fmt} writes {FORMAT_WORDS[fmt]}: name it "
                   f"{out.with_suffix(FILE_SUFFIXES[fmt][0])}" + (f" or pass --format {named}" if named else ""))
    return fmt


def _run_options(settings: Any, formats: list[str] | None, since: str | None, fail_on: str | None,
                 charts: str | None) -> tuple[list[str], str, str | None, str, str]:
    """Flags over the config file's [report] table over defaults; a bad value of the table is exit 2
    naming the file and the line, whether or not a flag overrides it. A value given is used or refused,
    never replaced by the default: `plotly = ""` and `run --plotly ""` wrote the charts inline in silence."""
    from flowscope.timewindow import parse_window

    cfg = _report_table(settings)
    configured = _configured_formats(settings)
    # the file's values are read as the flags' are (--fail-on High, --format MD), by the flags' rules
    cfg_charts = _charts_mode(_word(cfg.get("charts")), _word(cfg.get("plotly")),
                              names=("[report] charts", "[report] plotly"), settings=settings)
    cfg_fail_on, cfg_charts = _word(cfg.get("fail_on")), str(cfg_charts if cfg_charts is not None else "inline")
    written = "plotly" if "plotly" in cfg else "charts"     # a refusal names the key the file has (and its line)
    keys = (*REPORT_KEYS[:2], f"[report] {written}", REPORT_KEYS[3])
    for fmt in configured:
        _check_report_flags(fmt, cfg_fail_on, cfg_charts, cfg.get("title"), names=keys, settings=settings)
    if "since" in cfg:
        try:
            parse_window(cfg["since"], None)    # the rule of run's own window: "0d" is a window of no length
        except ValueError as exc:   # said as the --since it stands for, without the file: "time '30' has no unit"
            raise config_fail(settings, f"[report] since: {exc}") from None
    chosen = formats or configured
    resolved_fail_on = fail_on if fail_on is not None else cfg_fail_on
    resolved_charts = charts if charts is not None else cfg_charts
    for fmt in chosen:
        _check_report_flags(fmt, resolved_fail_on, resolved_charts)
    return (chosen, cfg.get("since", DEFAULT_SINCE) if since is None else since, resolved_fail_on, resolved_charts,
            str(cfg.get("title", "flowscope report")))


def _report_table(settings: Any) -> dict[str, Any]:
    """The [report] table, its keys known and its single values strings (exit 2 naming the line)."""
    known = {"formats", "since", "fail_on", "charts", "plotly", "title"}     # plotly: the former name of charts
    unknown = sorted(set(settings.report) - known)
    if unknown:
        raise config_fail(settings, f"[report]: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    cfg: dict[str, Any] = settings.report
    for key in ("fail_on", "charts", "plotly", "since", "title"):
        if key in cfg and not isinstance(cfg[key], str):
            raise config_fail(settings, f"[report] {key} must be a string, not {cfg[key]!r}")
    return cfg


def _configured_formats(settings: Any) -> list[str]:
    """[report] formats as `--format` names them: a list, or one format (`formats = "md"`: not the letters
    m and d); an empty list names none, and fell back to html in silence."""
    configured = settings.report.get("formats", ["html"])
    if isinstance(configured, str):
        configured = [configured]
    if not isinstance(configured, list) or not all(isinstance(v, str) for v in configured):
        raise config_fail(settings, f'[report] formats must be a list of formats, e.g. ["html", "md"], '
                                    f'not {configured!r}')
    if not configured:
        raise config_fail(settings, '[report] formats is empty: name at least one, e.g. formats = ["html"], '
                                    "or leave formats out for html")
    return [str(_format_word(v)) for v in configured]
