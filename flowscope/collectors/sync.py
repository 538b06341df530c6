"""`flowscope sync`: every configured `[[sources]]` entry, every scope, in parallel, into the store.

`run_sync(settings, since=..., clouds=...)` validates the whole configuration first (an unknown
key or cloud stops the sync before any call, with a message naming it), then collects every
scope with bounded concurrency. Each scope writes its own collection_runs row; a failing scope is
recorded and never stops the others. The CLI turns `SyncReport.exit_code` into the process exit
code (ExitCode.NO_DATA when any scope failed: its collection is missing, not absent).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

from flowscope.collectors import registry
from flowscope.collectors.scope_runs import DEFAULT_PARALLEL_SCOPES
from flowscope.collectors.store_upgrades import Upgraded, upgrade_store
from flowscope.collectors.throttle import bounded_map
from flowscope.collectors.upkeep import compact_crowded
from flowscope.collectors.window import ScopeResult
from flowscope.exitcodes import ExitCode
from flowscope.model import CONFIGURED_KEY, SOURCE_KEY, UTC, Cloud, RunStatus, cloud_spelling
from flowscope.settings import ConfigError
from flowscope.textsafety import without_secrets

if TYPE_CHECKING:
    from flowscope.collectors.upgrade_once import Say
    from flowscope.settings import Settings
    from flowscope.store import Store



@dataclass
class SyncReport:
    results: list[ScopeResult] = field(default_factory=list)
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    upgraded: Upgraded = field(default_factory=Upgraded)
    """What the one-off upgrades rewrote of what an earlier flowscope stored (`store_upgrades`)."""
    upkeep: str | None = None
    """What merging small files did after the scopes (`upkeep.compact_crowded`), None when nothing."""

    @property
    def failed(self) -> list[ScopeResult]:
        return [r for r in self.results if r.status == RunStatus.FAILED]

    @property
    def partial(self) -> list[ScopeResult]:
        return [r for r in self.results if r.status == RunStatus.PARTIAL]

    @property
    def unmatched(self) -> list[ScopeResult]:
        """Scopes (not failed) whose name globs matched none of the workflows listed: nothing of them
        was collected, which is no data, not a clean success (`source_config.match_names`)."""
        return [r for r in self.results if r.status != RunStatus.FAILED and unmatched_line(r)]

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def exit_code(self) -> ExitCode:
        """OK: every scope succeeded or was partial (details recorded); NO_DATA: a scope failed, or its
        name globs matched no workflow (nothing of it collected)."""
        return ExitCode.NO_DATA if self.failed or self.unmatched else ExitCode.OK

    def summary_lines(self) -> list[str]:
        """One line per scope: status, rows written ("3 executions, 12 steps", or "nothing new to store": never
        a count of rows read again as stored, which are not written), error; then its warnings.

        Plain text holding cloud-originated errors: the printer makes it terminal-safe; the credentials
        an SDK's message quotes are gone already (`ScopeResult` keeps none) and are taken out again here, for
        a warning a collector added to the list itself.
        """
        lines = []
        for r in self.results:
            written = ", ".join(f"{v:,} {k.removeprefix('written_')}" for k, v in r.counts.items()
                                if k.startswith("written_") and v)
            line = f"{r.scope}: {RunStatus(r.status).value}" + _written_part(r, written)
            if r.error:
                line += f" - {r.error}"
            if r.status != RunStatus.FAILED and (said := unmatched_line(r)):
                line += f" - {said}"
            lines.append(without_secrets(line))
            lines.extend(f"  warning: {without_secrets(w)}" for w in r.warnings)
        lines.extend(self.upgraded.lines())
        if self.upkeep:
            lines.append(self.upkeep)
        return lines



def _written_part(result: ScopeResult, written: str) -> str:
    """", wrote 3 executions, 12 steps"; ", nothing new to store" for a scope that read only what the store held
    (a failed one says its error instead, one whose name globs matched nothing that nothing was collected)."""
    if written:
        return f", wrote {written}"
    return "" if result.status == RunStatus.FAILED or unmatched_line(result) else ", nothing new to store"


def unmatched_line(result: ScopeResult) -> str | None:
    """"0 of 7 workflows match ['ordrs-*']" for a scope whose name globs matched nothing it listed."""
    globs = result.details.get("globs")
    if "glob_listed" not in result.counts or result.counts.get("glob_matched") or not isinstance(globs, dict):
        return None
    return (f"0 of {result.counts['glob_listed']:,} {globs.get('of', 'workflows')} match {globs.get('patterns')}: "
            "nothing collected (check the name globs)")


def live_collection_available(cloud: str) -> bool:
    """Whether this version can collect `cloud` live (the one rule `sync` and `doctor` share: the
    registry names a collector). Loads no SDK."""
    return registry.parts_of(cloud).collector is not None


def unavailable_reason(cloud: str) -> str:
    """What `sync` records and `doctor` prints for a cloud without live collection."""
    return (f"live collection of cloud {Cloud(cloud).value!r} is not available in this version "
            "(use `flowscope import` with exported files)")


def validate_sources(sources: Iterable[Mapping[str, Any]], clouds: Iterable[str] | None = None
                     ) -> list[tuple[int, Mapping[str, Any], ModuleType | None, list[Any]]]:
    """Every selected source checked before any call: (index, source, collector, scopes)."""
    known = [c.value for c in Cloud]
    for typed in clouds or ():
        if cloud_spelling(typed) not in known:
            raise ConfigError(f"--cloud must be one of {', '.join(known)}, not {typed!r}")
    wanted = {Cloud(cloud_spelling(c)).value for c in clouds} if clouds else None
    out: list[tuple[int, Mapping[str, Any], ModuleType | None, list[Any]]] = []
    sources = list(sources)
    if not sources:
        raise ConfigError(no_sources_message(None))
    for index, source in enumerate(sources, start=1):
        if not isinstance(source, Mapping):
            raise ConfigError(f"sources[{index}] must be a table")
        cloud = cloud_spelling(source.get("cloud"))
        if cloud not in {c.value for c in Cloud}:
            raise ConfigError(f"sources[{index}]: unknown cloud {cloud!r}; known: "
                              f"{', '.join(c.value for c in Cloud)}")
        if cloud != source["cloud"]:
            source = {**source, "cloud": cloud}     # cloud = "AWS" is aws everywhere after this
        if wanted is not None and cloud not in wanted:
            continue
        module = registry.collector_for(cloud)
        if module is None:
            out.append((index, source, None, []))   # recorded as a failed scope, others go on
            continue
        try:
            found = list(module.scopes(source))
        except ValueError as exc:
            raise ConfigError(f"sources[{index}]: {exc}") from None
        out.append((index, source, module, found))
    return out


def no_sources_message(config_path: Any) -> str:
    """What `sync` says to a configuration without [[sources]]: the file it read (or that it found none,
    the usual cause), and an example in words, since the message is printed on one line (an example
    written as TOML lines ran together into one line that is no TOML)."""
    where = (f"in config file {config_path}" if config_path is not None else
             "no config file was found (--config, FLOWSCOPE_CONFIG or ./flowscope.toml)")
    return (f"no [[sources]] configured: {where}; add a [[sources]] table with "
            'cloud = "aws" and regions = ["us-east-1"] on lines of their own (README, Configuration)')


def sync_store(store: "Store", sources: Iterable[Mapping[str, Any]], *, since: dt.datetime | None = None,
               clouds: Iterable[str] | None = None, now: dt.datetime | None = None,
               max_parallel_scopes: int = DEFAULT_PARALLEL_SCOPES, say: "Say | None" = None) -> SyncReport:
    """Sync every scope of every selected source into `store`. `say`: where a one-off upgrade of the store that
    takes seconds says it starts and ends (`store_upgrades.upgrade_store`), before the scopes."""
    started_at = dt.datetime.now(UTC)
    report = SyncReport(started_at=started_at)
    now = now or started_at
    plan = validate_sources(sources, clouds)
    report.upgraded = upgrade_store(store, say)
    jobs = [(str(source["cloud"]), module, scope) for _, source, module, scopes in plan if module is not None
            for scope in scopes]
    for index, source, module, _ in plan:
        if module is None:
            missing = ScopeResult(cloud=str(source["cloud"]), scope=f"{source['cloud']}:sources[{index}]",
                                  started_at=now)
            missing.finish(failed=NotImplementedError(unavailable_reason(str(source["cloud"]))))
            store.write(_run_batch(missing))
            report.results.append(missing)

    def run(job: tuple[str, ModuleType, Any]) -> ScopeResult:
        _, module, scope = job
        return module.collect_scope(scope, store, since=since, now=now)

    for outcome in bounded_map(run, jobs, max_parallel_scopes, thread_name_prefix="flowscope-scope"):
        cloud, _, scope = outcome.item
        if outcome.result is not None:
            result = outcome.result
        else:
            name = scope.scope_id(None) if hasattr(scope, "scope_id") else repr(scope)
            result = ScopeResult(cloud=cloud, scope=name, started_at=now).finish(failed=outcome.error)
        result.details.setdefault(SOURCE_KEY, source_key_of(scope))
        report.results.append(result)
    _stamp_configured(store, report.results, jobs)
    if any(r.counts.get(k) for r in report.results for k in r.counts if k.startswith("written_")):
        report.upkeep = compact_crowded(store)
    report.ended_at = dt.datetime.now(UTC)
    return report


def source_key_of(scope: Any) -> str:
    """What identifies a scope's configuration (`model.SOURCE_KEY`): its `source_key()` where the scope id
    depends on what the cloud answers (AWS: the account), else its scope id, which the config alone makes."""
    if hasattr(scope, "source_key"):
        return str(scope.source_key())
    return str(scope.scope_id(None))


def _stamp_configured(store: "Store", results: list[ScopeResult], jobs: list[tuple[str, ModuleType, Any]]) -> None:
    """Record, on every run of this sync, its source and the sources its cloud's configuration named
    (`model.CONFIGURED_KEY`), in one write after the scopes: a scope whose source a later sync no longer
    names (name globs changed, a region removed) stops being "the last collection failed" for ever
    (`model.superseded_failures`). A store that cannot take the write leaves the runs as they were."""
    configured: dict[str, list[str]] = {}
    for cloud, _, scope in jobs:
        configured.setdefault(cloud, []).append(source_key_of(scope))
    rows = []
    for result in results:
        if result.cloud in configured:
            result.details[CONFIGURED_KEY] = sorted(set(configured[result.cloud]))
            rows.append(result.row())
    if not rows:
        return
    from flowscope.model import Batch

    try:
        store.write(Batch(collection_runs=rows))
    except Exception as exc:  # noqa: BLE001 - the runs are written already; this only adds to them
        for result in results:
            result.warn(f"could not record the configured sources: {type(exc).__name__}: {exc}")


def _run_batch(result: ScopeResult) -> Any:
    from flowscope.model import Batch

    return Batch(collection_runs=[result.row()])


def run_sync(settings: "Settings", *, since: str | dt.datetime | None = None,
             clouds: Iterable[str] | None = None, now: dt.datetime | None = None,
             say: "Say | None" = None) -> SyncReport:
    """`flowscope sync`: the configured sources into the configured store (`say`: as `sync_store`'s).

    Raises ConfigError (before any API call) for an unusable configuration.
    """
    from flowscope.store import Store
    from flowscope.timewindow import parse_start

    now = now or dt.datetime.now(UTC)
    try:
        since_at = parse_start(since, now=now)
    except ValueError as exc:
        raise ConfigError(f"--since: {exc}") from None
    plan_sources = settings.sources
    if not plan_sources:
        raise ConfigError(no_sources_message(settings.config_path))
    plan = validate_sources(plan_sources, clouds)     # fail fast, before opening the store
    if not plan:
        where = settings.config_path or "the configuration"
        raise ConfigError(f"no [[sources]] for cloud {', '.join(clouds or ())} in {where}: nothing to sync")
    try:
        target = Store(settings.store_path)
    except OSError as exc:   # a file where the folder should be, a parent that cannot be created
        raise ConfigError(f"store {settings.store_path}: cannot write a store there: {exc.strerror or exc} "
                          "(nothing was written)") from None
    return sync_store(target, plan_sources, since=since_at, clouds=clouds, now=now, say=say)
