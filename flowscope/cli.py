"""The `flowscope` command: demo | import | sync | analyze | report | run | dashboard | doctor.

Each command is a thin shell over library calls; errors print one clear line and exit non-zero.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import json
import os
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape

from flowscope import DEFAULT_SINCE, aws_ids
from flowscope.analysis.checks import dollars_text
from flowscope.exitcodes import ExitCode, exit_code_table
from flowscope.extras import install_command
from flowscope.format import fmt_count, fmt_time
from flowscope.settings import DEMO_STORE
from flowscope.textsafety import terminal_text, without_secrets

if TYPE_CHECKING:
    import pandas as pd

    from flowscope.analysis.run import Coverage
    from flowscope.store import Store

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Observability and cost analysis for AWS Step Functions, Azure Logic Apps "
                       "and Google Cloud Workflows.")
OUTPUT_CLOSED = 141
"""Exit code when the reader of the output stopped early (`flowscope analyze | head -1`): what a shell
reports for a command killed by SIGPIPE. Rich and Click exit 1 there, which is `--fail-on`'s "findings"."""
INTERRUPTED = 130
"""Exit code after Ctrl-C (SIGINT), as shells report it."""


class _Console(Console):
    """A rich Console whose closed output ends the command with OUTPUT_CLOSED, not rich's exit 1."""

    def on_broken_pipe(self) -> None:
        if self.quiet:
            return
        devnull = os.open(os.devnull, os.O_WRONLY)      # as rich does: nothing more is written to the pipe
        os.dup2(devnull, sys.stdout.fileno())
        raise SystemExit(OUTPUT_CLOSED)


err = _Console(stderr=True)
out = _Console()

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


def _print_version(value: bool) -> None:
    if value:
        from flowscope import __version__

        typer.echo(f"flowscope {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True, help="Print the version and exit.")] = False) -> None:
    # `flowscope --version`: the first thing a bug report asks for ("No such option" before)
    pass


def literal(help_text: str) -> str:
    """Help text shown as written: Typer reads help as Rich markup, which would drop a config
    section name such as "[auth]" or "[[notify]]" as an unknown tag."""
    return escape(help_text)


def shown(message: Any) -> str:
    """Text for a line of the terminal, as every line the commands print is: without the credentials it
    quotes (a cloud's error, a record's id, an exception's text, a URL the user typed: `without_secrets`) and
    without escape sequences or control characters (`terminal_text`). Each caller cleaned its part or not:
    an import's warnings and errors quoting a record printed a `user:pass@` or a `sig=` as read."""
    return without_secrets(terminal_text(message))


def fail(message: str, code: ExitCode = ExitCode.USAGE) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(shown(message))}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def tagged(tag: str, message: str) -> None:
    """One stderr line: a yellow tag, then text that may hold cloud-originated names (`shown`, markup
    escaped)."""
    err.print(f"[yellow]{tag}[/] {escape(shown(message))}", highlight=False, soft_wrap=True)


def note(message: str, *, console: Console | None = None) -> None:
    """One line of text that may hold cloud-originated names (`shown`), no markup."""
    (console or err).print(shown(message), markup=False, highlight=False, soft_wrap=True)


def _open_store(path: str):  # noqa: ANN202 - Store, imported lazily
    """The store a reader reads: never created here; not a store -> one line naming the path, exit 2."""
    from flowscope.store import Store, StoreError

    try:
        return Store.open(path)
    except StoreError as exc:
        raise fail(str(exc)) from None


def config_fail(settings: Any, message: str) -> typer.Exit:
    """`fail` for a value read from the config file: the message names the file and the line
    (`settings.located`), so a user is sent to the line to fix, not left to guess which file was read."""
    from flowscope.settings import located

    return fail(located(message, settings.config_path))


def _thresholds(settings: Any) -> Any:
    """The [thresholds] table as the analyses read it; a bad one is exit 2 naming the file and the line."""
    from flowscope.analysis import Thresholds

    try:
        return Thresholds.from_mapping(settings.thresholds)
    except ValueError as exc:
        raise config_fail(settings, str(exc)) from None


def _settings(config: Path | None, store: str | None):  # noqa: ANN202 - Settings, imported lazily
    from flowscope.settings import ConfigError, load_settings

    try:
        return load_settings(config, store)
    except ConfigError as exc:
        raise fail(str(exc)) from None


@contextmanager
def status(message: str) -> Iterator[Callable[[str], None]]:
    """A spinner on a terminal; silence when output goes to a file or cron."""
    if not sys.stderr.isatty():
        yield lambda _text: None
        return
    with err.status(message) as spinner:
        yield lambda text: spinner.update(text)


DEMO_HELP = ("Fill a store with a simulated 30-day, three-cloud workload, then open the dashboard. A store "
             "holding an earlier demo only is built again; one holding synced or imported data is refused (exit 2).")
"""One line, not a docstring: `flowscope --help` lists a command's first paragraph with its line breaks."""


@app.command(help=DEMO_HELP)
def demo(
    store: DemoStoreOpt = None,
    config: ConfigOpt = None,
    days: Annotated[int, typer.Option(min=1, max=366, help="Days of history to simulate.")] = 30,
    executions: Annotated[int, typer.Option(min=10, help="Executions across the three clouds.")] = 30_000,
    seed: Annotated[int, typer.Option(help="Seed: the same seed and end give the same workload.")] = 7,
    end: Annotated[Optional[str], typer.Option(
        help="End of the simulated window (ISO time, not in the future; default: this hour).")] = None,
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Open the dashboard afterwards.")] = True,
    port: PortOpt = 8501,
) -> None:
    """Build the demo store and serve it (`DEMO_HELP`)."""
    from flowscope.simulate.demo import build_demo, holds_a_demo_only
    from flowscope.simulate.rebuild import clear_killed_builds, rebuild_beside
    from flowscope.store import Store, StoreError
    from flowscope.timewindow import parse_since

    settings = _settings(config, DEMO_STORE if store is None else store)
    if serve:                   # before the build: what the dashboard would refuse after it
        _thresholds(settings)
        _check_dashboard_environment()
    try:
        end_at = parse_since(end)
    except ValueError as exc:
        raise fail(f"--end: {exc}") from None
    if end_at is not None and end_at > dt.datetime.now(dt.timezone.utc):
        # executions that have not happened: every window the commands accept (none starts after now) misses them
        raise fail(f"--end: {end} is in the future ({end_at:%Y-%m-%d %H:%M} UTC): the demo simulates the past; "
                   "leave --end out for this hour")
    _refuse_foreign(settings.store_path, "the demo neither writes beside them nor deletes them")
    try:
        target = Store(settings.store_path)
        replacing = holds_a_demo_only(target)
        if replacing:
            err.print(f"replacing the demo built earlier in {target.path}", highlight=False, markup=False)
        with status("simulating") as say:
            def build(store: Any) -> Any:
                return build_demo(store, days=days, executions=executions, seed=seed, end=end_at, progress=say)

            if not replacing:       # a replacement clears them itself
                clear_killed_builds(settings.store_path, note)
            result = rebuild_beside(settings.store_path, build, say=note) if replacing else build(target)
    except StoreError as exc:
        raise fail(str(exc)) from None
    except OSError as exc:   # a file where the store folder goes, or no permission: was exit 5, "a bug"
        raise fail(f"{settings.store_path}: cannot write a store there: {exc.strerror or exc}") from None
    written = ", ".join(f"{fmt_count(n)} {t}" for t, n in result.written.items())
    err.print(f"demo store {settings.store_path}: {written}; "
              f"{len(result.truth)} injected anomalies (see _flowscope/demo_truth.json)", highlight=False,
              markup=False)
    if serve:
        _serve(settings.store_path, port, config=config)


def _check_dashboard_environment() -> None:
    """Exit 2 naming a dashboard variable the server would fail on (`ui.server.check_environment`)."""
    from importlib.util import find_spec

    if find_spec("streamlit") is None:
        return                  # `_serve` says what to install
    from flowscope.ui.server import check_environment

    try:
        check_environment(dict(os.environ))
    except ValueError as exc:
        raise fail(str(exc)) from None


def _foreign_entries(path: str) -> list[str]:
    """The names in folder `path` that no flowscope store holds (its tables and `_flowscope`), sorted; none
    for a folder that does not exist or is empty. The demo writes a store into the folder, and replaces an
    earlier demo by deleting the folder: with other files in it (`--store ~`), they were deleted too."""
    from flowscope.model import TABLES
    from flowscope.store.layout import META_DIR

    folder = _store_folder(path)
    if folder is None or not folder.is_dir():
        return []
    own = {*TABLES, META_DIR}
    return sorted(entry.name for entry in folder.iterdir() if entry.name not in own)


def _store_folder(path: str) -> Path | None:
    """The folder the store's `path` names, as the store reads it (a `file://` URL's path: taken as a path, it
    was a relative folder `file:` that held nothing, and the checks of the real folder were skipped); None
    for a URL or a path the store refuses (it says so itself)."""
    from flowscope.store import StoreError
    from flowscope.store.store import local_root, unwritable_path

    try:
        root = local_root(path)
    except StoreError:
        return None
    return None if unwritable_path(root) else root


def _refuse_foreign(path: str, why: str, *, new_store_only: bool = False) -> None:
    """Exit 2 naming the files of folder `path` that are not a store's (`_foreign_entries`); with
    `new_store_only`, only when the folder is no store yet: a writer creates a store in a new or empty
    folder, never among other files (`--store .` in the exports' folder: the next import of that folder
    read the store's own files as exports)."""
    from flowscope.store.layout import META_DIR

    folder = _store_folder(path)
    if new_store_only and folder is not None and (folder / META_DIR).is_dir():
        return
    foreign = _foreign_entries(path)
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise fail(f"{path} holds files that are not a flowscope store's: {shown}; {why}: pass --store "
                   "with a new or empty folder")


def _serve(store_path: str, port: int, address: str = "127.0.0.1", config: Path | None = None) -> None:
    from importlib.util import find_spec

    if find_spec("streamlit") is None:
        raise fail(f"the dashboard needs Streamlit: {install_command('ui')}", code=ExitCode.USAGE)
    from flowscope.ui.server import serve

    try:
        code = serve(store_path, port=port, address=address, config=config)
    except ValueError as exc:
        raise fail(str(exc)) from None
    if code:    # it never served, or stopped by itself: "Port 8501 is not available" was exit 0
        raise fail(f"the dashboard server stopped with exit code {code} (its messages are above; "
                   f"is port {port} already in use?)")


DASHBOARD_HELP = literal("Serve the dashboard (Streamlit) on localhost. Exit 2 when the store does not exist, "
                          "the config's thresholds or [auth] table is wrong, or the server stops by itself (a port "
                          "already in use); 0 when stopped with Ctrl-C or SIGTERM.")


@app.command(help=DASHBOARD_HELP)
def dashboard(
    store: ReadStoreOpt = None,
    config: ConfigOpt = None,
    port: PortOpt = 8501,
    address: Annotated[str, typer.Option(
        help=literal("Address to bind; other than loopback only with [auth] configured."))] = "127.0.0.1",
) -> None:
    """Serve the dashboard (`DASHBOARD_HELP`)."""
    settings = _settings(config, store)
    _thresholds(settings)       # pages computed with the defaults in place of bad thresholds said nothing
    _open_store(settings.store_path)
    _serve(settings.store_path, port, address, config)


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


EXTRAS = {"aws": ("boto3",), "azure": ("azure.identity",), "gcp": ("google.auth",), "dashboard": ("streamlit",),
          "report": ("jinja2", "vl_convert", "openpyxl"), "spark": ("pyspark",)}
"""Each optional part doctor reports, and the modules that tell it is installed (all of them: a report needs its
template engine, its charts' libraries and its workbook writer; a PDF also Chromium, which `report` checks)."""
EXTRA_NAMES = {"dashboard": "ui"}
"""The pyproject extra of a part named otherwise (the dashboard's is `flowscope[ui]`)."""


def _extra_lines() -> list[str]:
    """One line per optional part; a cloud without live collection says so, as `sync` does."""
    from importlib.util import find_spec

    from flowscope.collectors.sync import live_collection_available, unavailable_reason
    from flowscope.model import Cloud

    lines = []
    def found(module: str) -> bool:
        try:
            return find_spec(module) is not None
        except ModuleNotFoundError:
            return False

    for extra, modules in EXTRAS.items():
        if extra in {c.value for c in Cloud} and not live_collection_available(extra):
            lines.append(f"  {extra:<9} {unavailable_reason(extra)}")
            continue
        present = all(found(module) for module in modules)
        wanted = f"missing: {install_command(EXTRA_NAMES.get(extra, extra))}"
        lines.append(f"  {extra:<9} {'installed' if present else wanted}")
    return lines


DOCTOR_HELP = literal(
    "Check the configuration, the store, the last sync of every scope and the installed extras.\n\n"
    "Exit codes: 0 healthy; 2 configuration error (a [[sources]] entry sync would refuse, bad thresholds, "
    "a [report] table `run` would refuse, an [auth] table sign-in cannot use, a [[notify]] entry that is wrong, or "
    "whose environment variable is not set here or whose webhook URL variable holds no http(s) address a send "
    "can use) or not a store; 3 no "
    "executions yet, a configured scope never synced, a failed last sync (unless a later sync of the same "
    "source succeeded under another scope id), a last sync interrupted (still 'running' though its process "
    "is gone, or for more than a day), or no sync of a scope for more than a day (a scheduler that stopped). "
    "--read-all also decodes every page of every file of the store (a damaged file is exit 2, named).")


def _doctor_reads(target: "Store", path: str, *, read_all: bool) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """The store's row counts and latest collection runs (and with `read_all` every page of every file),
    a damaged or unreadable store one error naming it (exit 2)."""
    from flowscope.store import StoreError

    try:
        counts: dict[str, int] = {}
        for table in ("executions", "steps", "workflows"):    # one at a time: a damaged file's table is named
            counts.update(target.row_counts((table,)))
        runs = target.latest_collection_runs()
        if read_all:
            target.read_every_file()
    except (StoreError, OSError) as exc:
        said = str(exc)   # a StoreDamagedError names the store itself: not "store X: store X is damaged"
        raise fail(said if said.startswith("store ") else f"store {path}: {said}") from None
    return counts, runs


@app.command(help=DOCTOR_HELP)
def doctor(store: ReadStoreOpt = None, config: ConfigOpt = None,
           read_all: Annotated[bool, typer.Option(
               "--read-all", help="Also read every page of every file of the store: a file whose data is damaged "
                                  "(a disk error, a partial copy) has whole footers and row counts, which is all "
                                  "the other checks read.")] = False) -> None:
    """Check the configuration, the store, the syncs and the notifications (`DOCTOR_HELP`)."""
    from flowscope import __version__
    from flowscope.analysis.run import NEXT_STEP
    from flowscope.format import fmt_duration
    from flowscope.model import C, superseded_failures
    from flowscope.runstate import interrupted, is_import
    from flowscope.timewindow import STALE_AFTER

    settings = _settings(config, store)
    planned = _configured_scopes(settings)
    _run_options(settings, None, None, None, None)      # the [report] table, as `run` reads it
    from flowscope.ui.server import auth_problem

    auth_refused = auth_problem(settings.auth, settings.config_path)     # as `dashboard` refuses it
    if auth_refused:
        raise fail(auth_refused)
    out.print(f"flowscope {__version__}; config: {settings.config_path or 'none (defaults)'}; "
              f"sources: {len(settings.sources)}", highlight=False, markup=False, soft_wrap=True)
    for line in _extra_lines():
        out.print(line, highlight=False, markup=False, soft_wrap=True)
    unready = _notify_lines(settings)
    target = _open_store(settings.store_path)
    counts, runs = _doctor_reads(target, settings.store_path, read_all=read_all)
    # the workflows table holds definitions: an import of runs alone has workflows but no definition
    summary = ", ".join(f"{fmt_count(n)} {'workflow definitions' if table == 'workflows' else table}"
                        for table, n in counts.items())
    note(f"store {settings.store_path}: {summary}" + ("; every file read whole" if read_all else ""), console=out)
    from flowscope.collectors.upkeep import COMPACT_AFTER_FILES

    crowded = target.crowded_partitions(COMPACT_AFTER_FILES)
    if crowded:
        note(f"  small files: {', '.join(f'{n} partition(s) of {t}' for t, n in crowded.items())} hold more "
             f"than {COMPACT_AFTER_FILES} files each (scans slow down); the next sync or import merges them",
             console=out)
    from flowscope.collectors.stored_encoding import STEP as ENCODING_STEP

    older = {} if target.upgrade_done(ENCODING_STEP) else target.dictionary_stamp_partitions()
    if older:
        note(f"  older files: {', '.join(f'{n} partition(s) of {t}' for t, n in older.items())} hold timestamps "
             "as an earlier flowscope wrote them (larger, slower to scan); the next sync or import rewrites them",
             console=out)
    now = dt.datetime.now(dt.timezone.utc)

    def last(run: dict) -> dt.datetime:
        return run[C.ended_at] or run[C.started_at]

    superseded = superseded_failures(runs)
    stopped = {run[C.run_id]: why for run in runs if (why := interrupted(run, now))}
    for run in runs:
        later = superseded.get(run[C.run_id])
        status = f"interrupted ({stopped[run[C.run_id]]}), started" if run[C.run_id] in stopped else run[C.status]
        what = f"import of {run[C.cloud]}" if is_import(run) else f"sync of {run[C.scope]}"
        note(f"  last {what}: {status} at {fmt_time(last(run))} "
             f"({fmt_duration(now - last(run))} ago)"
             + (f" - {run[C.error]}" if isinstance(run[C.error], str) else "")
             + (f" (superseded: {later})" if later else ""), console=out)
    stopped_imports = sum(1 for run in runs if run[C.run_id] in stopped and is_import(run))
    if len(stopped) > stopped_imports:
        note(f"{len(stopped) - stopped_imports} sync(s) stopped before they ended (killed, or the machine lost): "
             "their scopes were not fully collected; run `flowscope sync` again", console=out)
    if stopped_imports:
        note(f"{stopped_imports} import(s) stopped before they ended: the executions of the chunks they wrote "
             "are stored; import the same files again (what is stored already is not written twice)", console=out)
    runs = [run for run in runs if run[C.run_id] not in superseded]
    stale = [run for run in runs if now - last(run) > STALE_AFTER and not is_import(run)]   # no scheduler imports
    if stale:
        note(f"no sync of {len(stale)} scope(s) for {fmt_duration(now - max(map(last, stale)))} or more: is the "
             "scheduler that runs `flowscope run` or `flowscope sync` still running?", console=out)
    never = _never_synced(planned, [str(run[C.scope]) for run in runs])
    for index, scope_id in never:
        note(f"  never synced: {scope_id} (sources[{index}] of the config): no data yet for it; run "
             "`flowscope sync`", console=out)
    executions = counts.get("executions", 0)
    if not executions:
        note(f"no data yet: {NEXT_STEP}", console=out)
    if unready:
        raise fail(f"{unready} notification(s) cannot be sent from this environment (see above)")
    if not executions or stale or stopped or never or any(run[C.status] == "failed" for run in runs):
        raise typer.Exit(ExitCode.NO_DATA)


def _configured_scopes(settings: Any) -> list[tuple[int, Any]]:
    """(sources index, scope) of every configured source, checked by the function `sync` checks them
    with (an invalid entry is the configuration error sync gives, exit 2), and the thresholds as the
    analyses read them. No call is made."""
    from flowscope.collectors.sync import validate_sources
    from flowscope.settings import ConfigError, located

    _thresholds(settings)
    try:
        plan = validate_sources(settings.sources) if settings.sources else []
    except (ConfigError, ValueError) as exc:
        said = located(str(exc), settings.config_path)
        raise fail(said if said != str(exc) else f"config file {settings.config_path or '(none)'}: {exc}") from None
    return [(index, scope) for index, _, module, scopes in plan if module is not None for scope in scopes]


def _never_synced(planned: list[tuple[int, Any]], synced: list[str]) -> list[tuple[int, str]]:
    """The configured scopes no collection_runs row names. A scope whose account is learnt only when it
    syncs (AWS without role_arn: `aws:<account>:<region>`) matches any account's row of its region."""
    out = []
    for index, scope in planned:
        scope_id = scope.scope_id(None)
        if scope_id in synced:
            continue
        rest = aws_ids.scope_without_account(scope_id)
        if rest is not None and getattr(scope, "role_arn", None) is None:
            if any(aws_ids.scope_without_account(s) == rest for s in synced):
                continue
        out.append((index, scope_id))
    return out


def _notify_lines(settings: Any) -> int:
    """`doctor`'s lines on the [[notify]] entries, as `run` reads them (a bad entry is a configuration
    error, exit 2); returns how many need an environment variable this environment does not set (a
    webhook URL variable of white space only is not set), or whose webhook URL variable holds no http(s)
    address a send can use: every send would fail, by the rule the send applies (`notify.url_problem`)."""
    from flowscope.report.notify import parse_targets, unaddressed_problems, unset_variables

    try:
        targets = parse_targets(settings.notify)
    except ValueError as exc:
        raise config_fail(settings, str(exc)) from None
    unready = 0
    for target in targets:
        unset, unaddressed = unset_variables(target), unaddressed_problems(target)
        unready += bool(unset or unaddressed)
        problems = ([f"{', '.join(unset)} not set here"] if unset else []) + unaddressed
        said = f"not ready: {'; '.join(problems)}" if problems else "configured, its variables set"
        note(f"  notify {target.name} ({target.type}, {target.min_severity} and above, "
             f"{'changes only' if target.only_changes else 'every run'}): {said}", console=out)
    return unready


SEVERITY_RANK = {"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}


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


@contextlib.contextmanager
def _stdout_written() -> Iterator[None]:
    """Exit 2 when standard output refuses what is written to it (a full disk behind `> findings.json`), as
    for a report file that cannot be written: it was an OSError said as a bug in flowscope (exit 5).
    Flushed here, so the refusal is not left for the interpreter's exit. A reader that stopped early
    (BrokenPipeError) is left to the callers: it has its own code."""
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise fail(f"standard output: cannot write it: {exc.strerror or exc}") from None


def _coverage_notes(coverage: "Coverage") -> None:
    """Why a window holds nothing, and which collections failed (analyze, report and run say the same)."""
    for said in (coverage.message(), coverage.gap_note()):
        if said:
            note(said)
    for failed in coverage.failed_notes():
        note(failed)


def verdict(severities: Iterable[str], status: str, fail_on: str | None, *,
            delivery_failed: bool = False, history_failed: bool = False) -> ExitCode:
    """The one exit rule of analyze, report and run: 1 a finding at or above --fail-on (it wins: the
    findings are real whatever else); else 3 no data or a failed collection; else 4 a failed delivery
    (people were not told); else 6 a findings history the store refused (people may be told twice); else 0."""
    if fail_on is not None and any(SEVERITY_RANK.get(str(s), -1) >= SEVERITY_RANK[fail_on] for s in severities):
        return ExitCode.FINDINGS
    if status != "ok":
        return ExitCode.NO_DATA
    if delivery_failed:
        return ExitCode.DELIVERY_FAILED
    return ExitCode.HISTORY_NOT_RECORDED if history_failed else ExitCode.OK


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


REPORT_HELP = (
    "Write a report of one window: html (one self-contained file; --charts cdn for a small one), pdf, "
    "md, csv or parquet (a folder, one file per table) or xlsx (a sheet per table).\n\n"
    "The findings are kept in the store with their stable ids (--no-history: read only), so the report "
    "says what is new, ongoing and resolved since the last one; the same window again changes nothing.\n\n"
    f"Exit codes ({exit_code_table()}): as `analyze`: 1 a finding at or above --fail-on (it wins), "
    "else 3 no executions in the window, a failed last collection or data ending well before the window "
    "does, else 6 the store refused the findings history, else 0; 2 for a bad flag or path."
)
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


def _report_content(target: "Store", settings: Any, *, since: Any, until: Any, cloud: list[str] | None,
                    workflow: list[str] | None, title: str, history: bool,
                    collections_as_of: dt.datetime | None = None) -> Any:
    """Analyses + measures of one window (report/content.py), then the findings history recorded."""
    from flowscope.report import build_content
    from flowscope.report import history as findings_history
    from flowscope.store import StoreError

    thresholds = _thresholds(settings)
    try:
        with status("analysing"):
            content = build_content(target, since=since, until=until, clouds=cloud, workflows=workflow,
                                    thresholds=thresholds, title=title, collections_as_of=collections_as_of)
    except (StoreError, ValueError) as exc:
        raise fail(str(exc)) from None
    try:
        findings_history.record(target, content, write=history)
    except (StoreError, OSError) as exc:     # exit 6 at the end; the report and the messages still go out
        fail(f"findings history not recorded (the next report tells this one's new findings again; on a "
             f"read-only store, `report --no-history` reads it without writing): {exc}")
    return content


@contextlib.contextmanager
def _history_held(target: "Store", history: bool = True) -> Iterator[None]:
    """`history.history_lock` (nothing with --no-history, which writes none): a second report or run
    of the store waits for the first to record what it found and told. Exit 2 naming the holder's pid
    when it waited too long, before anything is written or sent."""
    from flowscope.report.history import HISTORY_LOCK_TIMEOUT_S, history_lock
    from flowscope.store import StoreError

    with contextlib.ExitStack() as held:
        if history:
            try:
                held.enter_context(history_lock(target))
            except StoreError as exc:
                raise fail(f"another flowscope report or run has held this store's findings history for "
                           f"{HISTORY_LOCK_TIMEOUT_S:.0f} s, so nothing was written or sent ({exc}); run it "
                           "again when that one is done") from None
        yield


def _unrecorded(content: Any) -> bool:
    """Whether the store refused this report's findings history (`HistoryChange.not_recorded`)."""
    return content.history is not None and content.history.not_recorded is not None


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


@app.command(help=REPORT_HELP)
def report(
    out: Annotated[Path, typer.Option("--out", help="File to write (a folder for csv and parquet; - prints an "
                                                    "md or html report on standard output).",
                                      parser=_path_flag("--out"))],
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
    if format in CHARTED_FORMATS:
        _check_chart_libraries()
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


def _run_window(settings: Any, since: str, until: str | None, *,
                configured: bool) -> tuple[dt.datetime | None, dt.datetime]:
    """(start, end) of run's window: it ends at the start of this hour, or --until. A since that leaves no
    window is exit 2 before the sync, naming the config file's line when [report] gave it (`configured`):
    "the window is empty" named neither, where every other refusal of [report] since names both."""
    from flowscope.model import UTC
    from flowscope.timewindow import check_order, parse_window

    hour = dt.datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    try:
        end = parse_window(None, hour if until is None else until)[1] or hour
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
    start, end = _run_window(settings, since_text, until, configured=since is None and "since" in settings.report)
    names = {fmt: f"flowscope-{_file_stamp(end)}{SUFFIX[fmt] or '-' + fmt}" for fmt in formats}
    _check_report_dir(report_dir, names)
    _check_outside_store(report_dir, settings.store_path, folder=True)
    if "pdf" in names:
        _check_pdf_printer()
    if not CHARTED_FORMATS.isdisjoint(names):
        _check_chart_libraries()
    sync_failed = _run_sync(settings, do_sync)
    target = _open_store(settings.store_path)
    with _history_held(target):      # from reading the history to recording what the messages told
        # the window ends at the hour; the sync just run (after it) says how each scope stands now
        content = _report_content(target, settings, since=start, until=end, cloud=None, workflow=None, title=title,
                                  history=True, collections_as_of=None if until else dt.datetime.now(UTC))
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


def _check_chart_libraries() -> None:
    """Exit 2 before any work when the charts' libraries are not installed (`vega.check_libraries`)."""
    from flowscope.report.vega import ChartsUnavailable, check_libraries

    try:
        check_libraries()
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


def _output_closed() -> bool:
    """Whether Click replaced stdout after a broken pipe (it does so before exiting 1)."""
    return type(sys.stdout).__name__.endswith("PacifyFlushWrapper")


class _Interrupts:
    """Whether Ctrl-C came. DuckDB turns the KeyboardInterrupt raised inside one of its queries into
    `RuntimeError: Query interrupted`, which read as "a bug in flowscope" (exit 5, a crash file); the
    handler notes the signal, so whatever error it ends the command with, the exit is 130."""

    seen = False

    @classmethod
    def install(cls) -> None:
        import signal

        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:    # not ignored (a background job)
            signal.signal(signal.SIGINT, cls._on_sigint)

    @classmethod
    def _on_sigint(cls, signum: int, frame: Any) -> None:
        cls.seen = True
        raise KeyboardInterrupt


def main() -> None:
    """The console entry point: `app`, with an error nobody foresaw said in one line and exit 5, its
    traceback kept in a private file for a bug report (it exited 1, "findings", to a scheduler).
    FLOWSCOPE_DEBUG=1 shows the traceback instead. Ctrl-C exits 130, whatever error it caused."""
    _Interrupts.install()
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(INTERRUPTED)
    except SystemExit as done:
        if _Interrupts.seen:
            sys.exit(INTERRUPTED)
        if done.code == 1 and _output_closed():
            sys.exit(OUTPUT_CLOSED)
        raise
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, a code of its own
        if _Interrupts.seen:
            sys.exit(INTERRUPTED)
        if os.environ.get("FLOWSCOPE_DEBUG"):
            raise
        import tempfile
        import traceback

        handle, path = tempfile.mkstemp(prefix="flowscope-crash-", suffix=".txt")     # 0600
        with os.fdopen(handle, "w") as out_file:
            traceback.print_exc(file=out_file)
        err.print(f"[bold red]error:[/] {escape(shown(f'{type(exc).__name__}: {exc}')[:500])} - a bug in "
                  f"flowscope, not in your input: please report it with {path} (FLOWSCOPE_DEBUG=1 shows the "
                  "traceback here)", highlight=False, soft_wrap=True)
        sys.exit(ExitCode.INTERNAL)


if __name__ == "__main__":  # pragma: no cover
    main()
