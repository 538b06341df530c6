"""`flowscope doctor`: the configuration, the installed extras, the store, the last sync of every scope and
the notifications checked, each said in a line; what would fail a scheduled run is a non-zero exit.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any

import typer

from flowscope import aws_ids
from flowscope.cli.loading import _configured_scopes, _open_store, _settings, config_fail
from flowscope.cli.options import ConfigOpt, ReadStoreOpt
from flowscope.cli.output import fail, literal, note, out
from flowscope.cli.report_options import _run_options
from flowscope.cli.root import app
from flowscope.exitcodes import ExitCode
from flowscope.extras import install_command
from flowscope.format import fmt_count, fmt_time

if TYPE_CHECKING:
    from flowscope.store import Store


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


def _check_cdn_files(settings: Any, formats: list[str], charts: str) -> None:
    """Exit 2 when the [report] table asks `run` for an html report loading its charts from the CDN and the
    installed vl-convert-python has no pinned files (`vega.cdn_scripts`), which `run` refuses before any
    work; missing libraries are the extras' line."""
    if charts != "cdn" or "html" not in formats:
        return
    from flowscope.report.vega import CdnFilesUnknown, ChartsUnavailable, cdn_scripts

    try:
        cdn_scripts()
    except CdnFilesUnknown as exc:
        raise config_fail(settings, f"[report] charts: {exc}") from None
    except ChartsUnavailable:
        pass                      # said on the report part's line of the extras


DOCTOR_HELP = literal(
    "Check the configuration, the store, the last sync of every scope and the installed extras.\n\n"
    "Exit codes: 0 healthy; 2 configuration error (a [[sources]] entry sync would refuse, bad thresholds, "
    "a [report] table `run` would refuse (charts = \"cdn\" too, when the installed vl-convert-python has no "
    "pinned CDN files), an [auth] table sign-in cannot use, a [[notify]] entry that is wrong, or "
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
    formats, _since, _fail_on, charts, _title = _run_options(settings, None, None, None, None)  # as `run` reads it
    _check_cdn_files(settings, formats, charts)
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
