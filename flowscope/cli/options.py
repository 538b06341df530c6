"""The options the commands share (`StoreOpt`, `SinceOpt`, `CloudsOpt`, ...) and the parsers and
callbacks that read a flag's value: a blank value (a script's unset variable) is exit 2, a word from a
fixed list is read in any case, a cloud or a workflow given twice counts once.

One place, so a flag is worded and read the same way by every command that takes it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Optional

import typer

from flowscope.cli.output import fail

StoreOpt = Annotated[Optional[str], typer.Option(
    "--store", help="Store folder (default: config, FLOWSCOPE_STORE, ~/.flowscope).")]
ReadStoreOpt = Annotated[Optional[str], typer.Option(
    "--store", help="Store folder to read (default: config, FLOWSCOPE_STORE, ~/.flowscope); it must exist: "
                    "only demo, import and sync create a store.")]
DemoStoreOpt = Annotated[Optional[str], typer.Option(
    "--store", help="Store folder (default: ~/.flowscope-demo; the demo never writes into the store of your "
                    "config or FLOWSCOPE_STORE unless --store says so).")]
ConfigOpt = Annotated[Optional[Path], typer.Option("--config", help="Config file (default ./flowscope.toml).")]
SinceOpt = Annotated[str, typer.Option(help="Window start: 7d or 24h (counted back from --until, default now), "
                                              "or an ISO date; not in the future.")]
UntilOpt = Annotated[Optional[str], typer.Option(help="Window end (default: now).")]
def _not_blank(name: str, values: list[str | None]) -> None:
    """Exit 2 for a filter given an empty value (`--workflow "$WF"` with WF unset): it read as a typo'd
    name, "unknown workflow ''; workflows in the store ..."."""
    from flowscope.dialect import CLI

    if any(value is not None and not value.strip() for value in values):
        raise fail(CLI.empty_filter(name))


def _cloud_spelt(value: str | None) -> str | None:
    """--cloud AWS is --cloud aws (`model.cloud_spelling`); a name of no cloud stays, for its error."""
    from flowscope.model import cloud_spelling

    _not_blank("cloud", [value])
    return cloud_spelling(value)


def _clouds_spelt(values: list[str] | None) -> list[str] | None:
    from flowscope.session import clouds_list

    _not_blank("cloud", list(values or []))
    # once each, in the order given: `--cloud aws --cloud AWS` listed "clouds": ["aws", "aws"] in the JSON
    return clouds_list(values)


def _refuse_blank(flag: str, value: str | None, then: str) -> None:
    """Exit 2 for a flag given only white space, as a script's unset variable gives it (`--out "$OUT"`):
    "FLAG is empty (an unset variable in FLAG "$VAR"?): THEN", THEN saying what to give instead."""
    if value is not None and not str(value).strip():
        raise fail(f'{flag} is empty (an unset variable in {flag} "$VAR"?): {then}')


def _arn_given(value: str | None) -> str | None:
    """`--execution-arn "$ARN"` with ARN unset read as no ARN ("import each history with --execution-arn")."""
    _refuse_blank("--execution-arn", value, "name the execution's ARN, or leave --execution-arn out for histories "
                  "paired with their execution")
    return value


def _import_format_given(value: str | None) -> str | None:
    """`import --format "$FMT"` with FMT unset detected each file's format as without --format, where a
    blank --execution-arn or filter is exit 2; a format is read in any case, as every flag word is."""
    _refuse_blank("--format", value, "name a format, or leave --format out to detect each file's format")
    return _word(value)


def _path_flag(flag: str) -> Callable[[str], Path]:
    """A parser of a path flag that refuses a blank value: Typer reads "" as "." (the working folder), so
    `--out "$OUT"` with OUT unset wrote a csv report's files there."""
    def parse(value: str) -> Path:
        _refuse_blank(flag, value, f"name the {'folder' if flag == '--report-dir' else 'file'} to write")
        return Path(value)
    return parse


def _import_path(value: str) -> Path:
    """A file or folder to import: a blank one (an unset variable) read every file under the working folder."""
    if not str(value).strip():
        raise fail('a file to import is empty (an unset variable in "$FILE"?): name the exported files or folders')
    return Path(value)


def _workflows_given(values: list[str] | None) -> list[str] | None:
    """Each workflow once, in the order given: `--workflow a --workflow a` (a script adding its default to
    the user's) listed "workflows": ["a", "a"] in analyze's JSON filters, as `--cloud` did."""
    from flowscope.session import workflows_list

    _not_blank("workflow", list(values or []))
    return workflows_list(values)


def _word(value: str | None) -> str | None:
    """A flag's value from a fixed list as the list spells it (--fail-on High, --format JSON)."""
    return value.strip().lower() if isinstance(value, str) else value


PortOpt = Annotated[int, typer.Option(min=1, max=65535, help="Dashboard port (1-65535).")]
"""A port a server can bind: 99999 reached Streamlit, which printed a traceback, and the command exited 0."""
CloudsOpt = Annotated[Optional[list[str]], typer.Option(help="Only these clouds (repeatable): aws, azure, gcp.",
                                                        callback=_clouds_spelt)]
WorkflowsOpt = Annotated[Optional[list[str]], typer.Option(help="Only these workflows, by name or id (repeatable).",
                                                           callback=_workflows_given)]
FailOnOpt = Annotated[Optional[str], typer.Option(
    help="Exit 1 when a finding is at least this severe (for cron alerts).", callback=_word)]
"""The window and filter options `analyze` and `report` share (one wording, one default)."""
