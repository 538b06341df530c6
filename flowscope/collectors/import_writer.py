"""The writer of an import: assembles each batch with what the store holds and commits it, with the
import's collection_runs rows, opening (or creating) the store only on the first write.

One job: everything an import does to the store. Whole files and streamed chunks go through one `_Writer`, so
one import is one `collection_runs` row per cloud, a failure after a commit is `PartlyImportedError`, and a
refused import leaves no store behind.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Union

from flowscope.collectors.assemble import assemble_batch
from flowscope.collectors.import_result import ImportResult, NothingImportedError
from flowscope.collectors.import_unchanged import ExecKey, _drop_unchanged, _execution_keys, _fingerprints, _Tally
from flowscope.collectors.moved import with_moved
from flowscope.collectors.native import END_WITHOUT_START, NativeFormatError, StoredRows
from flowscope.collectors.registry import transforms_for
from flowscope.collectors.store_upgrades import upgrade_store
from flowscope.collectors.upkeep import compact_crowded
from flowscope.model import EXECUTION_TABLES, TABLES, UTC, Batch, C, Cloud, RunStatus
from flowscope.runstate import IMPORT_SCOPE_PREFIX, WRITER_KEY, writer_details

if TYPE_CHECKING:
    from flowscope.collectors.upgrade_once import Say
    from flowscope.store import Store


def _has_rows(batch: Batch) -> bool:
    return any(batch.rows(table) for table in TABLES if table != "collection_runs")


StoreTarget = Union["Store", str, "os.PathLike[str]", Callable[[], "Store"]]
"""Where an import writes: an open Store, a store path, or a function that opens one."""


def _only_unstarted(batch: Batch) -> bool:
    """Whether a batch holds nothing but execution ends logged without their start."""
    return all(row[C.started_at] is None for row in batch.executions) and not any(
        batch.rows(table) for table in TABLES if table not in ("executions", "collection_runs"))


def _store_exists(target: StoreTarget) -> bool:
    """Whether the target is a store already (a path may name none yet: opening it would create it)."""
    from flowscope.store import NotAStoreError, Store

    if not isinstance(target, (str, os.PathLike)):
        return True
    try:
        Store.open(os.fspath(target))
    except NotAStoreError:
        return False
    return True


def _open_target(target: StoreTarget) -> "Store":
    from flowscope.store import Store

    if isinstance(target, (str, os.PathLike)):
        return Store(os.fspath(target))
    if isinstance(target, Store):
        return target
    return target()


class PartlyImportedError(NativeFormatError):
    """A file failed part way through a streamed read, after whole executions read before the failing
    line were committed (each chunk is one atomic write); importing the fixed file again completes it."""

    def __init__(self, error: NativeFormatError, executions: int) -> None:
        super().__init__(error.source_name, error.location,
                         f"{error.reason} ({executions} execution(s) read before it were stored, whole; "
                         "fix the file and import it again to complete the import: what is already "
                         "stored unchanged is not rewritten)")
        self.executions_written = executions


class _Writer:
    """Assembles and writes an import's batches in order, holding the latest one back so the last
    write carries the import's collection_runs rows. The store is opened on the first write, so a
    refused import never creates one."""

    def __init__(self, target: StoreTarget, result: ImportResult, started: dt.datetime,
                 say: "Say | None" = None) -> None:
        self.target = target
        self.result = result
        self.started = started
        self.say = say
        """Where a one-off upgrade of the store that takes seconds says it starts and ends (`upgrade_store`)."""
        self.store: Store | None = None
        self.opened: Store | None = None
        """The store read before the first write (`stored_rows_of`), which that write then opens no more."""
        self.held: Batch | None = None
        self.held_whole = False
        self.tally = _Tally()
        self.rows = 0                    # incoming rows of every batch (nothing usable: nothing written)
        self.commits = 0
        self.executions_written = 0
        self.counts: dict[str, Counter] = {}
        self.run_ids: dict[str, str] = {}
        """cloud -> the import's collection_runs run_id: its `running` row and the end's are the same row."""

    def add(self, batch: Batch, *, whole: bool = False) -> None:
        """Queue a batch. `whole`: every execution of it comes with its execution row, and no
        execution of its cloud is ever stored without one (AWS), so one look-up in the executions
        table tells which have stored rows to merge and the other tables are read for those only."""
        if not _has_rows(batch):
            return
        self.rows += 1
        if self.held is not None:
            self._write(self.held, whole=self.held_whole)
        self.held = Batch(workflows=batch.workflows, executions=batch.executions, steps=batch.steps,
                          attempts=batch.attempts, usage=batch.usage, metrics=batch.metrics)
        self.held_whole = whole

    def finish(self) -> None:
        """Write the held batch with one collection_runs row per cloud imported."""
        self._write(self.held or Batch(), final=True, whole=self.held_whole)
        self.held = None
        self.tally.settle(self.result)
        if self.store is not None:
            self.result.upkeep = compact_crowded(self.store)

    def stored_rows_of(self, cloud: str) -> StoredRows:
        """`StoredRows` of `cloud` for its `import_options` hook: a table's rows of that cloud, read when the hook
        asks (GCP: the revisions stored, only for an import holding workflows). A target that is no store yet
        holds none, and is not created for the read."""
        def rows(table: str) -> list[dict[str, Any]]:
            store = self.store or self.opened
            if store is None:
                if not _store_exists(self.target):
                    return []
                store = self.opened = _open_target(self.target)
            return store.read_rows(table, f"{C.cloud} = '{Cloud(cloud).value}'")
        return rows

    def _upgrade(self, store: "Store") -> None:
        """The one-off upgrades of what an earlier flowscope stored, before this import's first write: a store the
        import creates (or one holding no data yet) is marked upgraded at once, where they ran after the writes
        and read every row the import had just written by today's rules (the dates' scan alone: 1.2 s on a
        1,000,000-execution store)."""
        self.result.upgraded = upgrade_store(store, self.say)

    def fail(self, error: NativeFormatError) -> NativeFormatError:
        """The error to raise for a failed file: as is when nothing was committed yet; otherwise
        recorded as a failed import in collection_runs, and said to have stored part."""
        if not self.commits:
            return error
        if self.held is not None:         # whole executions read before the failing line
            self._write(self.held, whole=self.held_whole)
            self.held = None
        self.tally.settle(self.result)
        if self.store is not None:
            self.store.write(Batch(collection_runs=self._run_rows(error=str(error))))
        return PartlyImportedError(error, self.executions_written)

    def _write(self, batch: Batch, *, final: bool = False, whole: bool = False) -> None:
        unstarted = {(row[C.cloud], row[C.execution_id]) for row in batch.executions if row[C.started_at] is None}
        if self.store is None and unstarted and _only_unstarted(batch) and not _store_exists(self.target):
            if final and not self.commits:      # ends whose start no file has, and no store to hold it
                raise NothingImportedError.of(self.result)
            return
        if self.store is None:
            self.store = self.opened or _open_target(self.target)
            self._upgrade(self.store)
        prints: dict[ExecKey, Counter] = {}
        imported = _execution_keys(batch)
        batch, gone, said = with_moved(batch, self.store)       # stored under an id an earlier flowscope gave
        self.result.warnings.extend(said)
        complete = assemble_batch(batch, self.store, transforms_for=transforms_for,
                                  absent=self._absent(batch) if whole else (),
                                  on_stored=lambda stored: prints.update(_fingerprints(
                                      {t: stored.rows(t) for t in EXECUTION_TABLES})))
        if unstarted:
            self._withdraw_end_skips(unstarted, complete)
            if final and not self.commits and not _has_rows(complete):
                # only ends whose start nobody has
                raise NothingImportedError.of(self.result)
        _drop_unchanged(complete, prints, self.tally, imported)
        for table in ("workflows", *EXECUTION_TABLES):
            for cloud, n in Counter(row[C.cloud] for row in complete.rows(table)).items():
                self.counts.setdefault(cloud, Counter())[table] += n
        if final:
            self.tally.settle(self.result)
            complete.collection_runs.extend(self._run_rows())
        else:
            # one of several commits: a `running` row (replaced by each) goes with it, as a sync writes one,
            # so an import stopped before its end (Ctrl-C, a full disk, SIGKILL) says what it stored
            complete.collection_runs.extend(self._run_rows(running=True))
        written = self.store.write_and_delete(complete, {"executions": gone}) if gone else self.store.write(complete)
        self.commits += 1
        self.executions_written += len(complete.executions)
        for table, n in written.items():
            self.result.written[table] = self.result.written.get(table, 0) + n

    def _withdraw_end_skips(self, unstarted: set[ExecKey], complete: Batch) -> None:
        """Ends logged without their start (GCP system logs split across files) that the assembly
        completed with a start from another file or the store are no longer skips."""
        started = {(row[C.cloud], row[C.execution_id]) for row in complete.executions} & unstarted
        ids = {execution_id for _, execution_id in started}
        self.result.skips = [skip for skip in self.result.skips
                             if not (skip.reason == END_WITHOUT_START and skip.location in ids)]

    def _absent(self, batch: Batch) -> set[ExecKey]:
        """The batch's executions not in the store's executions table."""
        store = self.store
        if store is None:
            return set()
        ids: dict[str, list[str]] = {}
        for row in batch.executions:
            ids.setdefault(row[C.cloud], []).append(row[C.execution_id])
        absent: set[ExecKey] = set()
        for cloud, wanted in ids.items():
            stored = store.existing_execution_ids(cloud, wanted)
            absent.update((cloud, execution_id) for execution_id in wanted if execution_id not in stored)
        return absent

    def _run_rows(self, error: str | None = None, *, running: bool = False) -> list[dict[str, Any]]:
        return import_run_rows(self.result, self.counts, self.started, error=error, run_ids=self.run_ids,
                               running=running)


def import_run_rows(result: ImportResult, counts: dict[str, Counter], started: dt.datetime, *,
                    error: str | None = None, run_ids: dict[str, str] | None = None,
                    running: bool = False) -> list[dict[str, Any]]:
    """A collection_runs row per cloud imported (`counts`: cloud -> rows written per table): imports
    show up in collection health too, and so does an import that failed after storing a part, or that
    stopped while `running` (its process named, `runstate`). `run_ids` (cloud -> run_id, filled as
    needed) keeps one row per cloud across an import's writes."""
    ended = None if running else dt.datetime.now(UTC)
    run_ids = {} if run_ids is None else run_ids
    rows = []
    for cloud in sorted(cloud for cloud, n in counts.items() if n["workflows"] or n["executions"] or n["steps"]):
        row_counts = {table: counts[cloud][table]
                      for table in ("workflows", "executions", "steps", "attempts", "usage")}
        row_counts["skipped_records"] = len(result.skips)
        status = RunStatus.RUNNING if running else RunStatus.FAILED if error else \
            RunStatus.PARTIAL if result.skips else RunStatus.SUCCEEDED
        details: dict[str, Any] = {"files": result.files, "formats": result.formats,
                                   "unknown_event_types": result.unknown_event_types,
                                   "unchanged_executions": result.unchanged_executions,
                                   "warnings": result.warnings}
        if running:
            details[WRITER_KEY] = writer_details()
        rows.append({
            C.run_id: run_ids.setdefault(cloud, f"import-{uuid.uuid4()}"), C.cloud: cloud,
            C.scope: f"{IMPORT_SCOPE_PREFIX}{cloud}",
            C.started_at: started, C.ended_at: ended,
            C.status: status.value,
            C.watermark: None, C.counts: json.dumps(row_counts),
            C.error: error,
            C.details: json.dumps(details),
        })
    return rows
