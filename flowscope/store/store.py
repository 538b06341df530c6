"""The Store facade: the one object collectors, analyses and surfaces use to touch data.

Writes: validate -> lock -> (replay a killed writer's batch) -> stage -> one Delta commit per
table -> manifest. Reads: a fresh in-memory DuckDB over the manifest's snapshot.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import re
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import duckdb
import pyarrow as pa
from deltalake.exceptions import DeltaError

from flowscope.model import COLLECTED_STATUSES, EXECUTION_TABLES, SOURCE_KEY, TABLES, Batch, C
from flowscope.settings import DEMO_STORE
from flowscope.store import delta, manifest, reader, spans, staging
from flowscope.store.errors import NotAStoreError, StoreDamagedError, StoreError
from flowscope.store.faults import crash_point
from flowscope.store.fileuri import readable_files
from flowscope.store.layout import META_DIR, Layout, delta_schema
from flowscope.store.lock import WriterLock
from flowscope.store.sqlutil import ident
from flowscope.store.validate import validate_batch

DEFAULT_LOCK_TIMEOUT_S = 10.0
DEFAULT_VACUUM_RETENTION = dt.timedelta(minutes=15)
MODE_ENV = "FLOWSCOPE_STORE_MODE"
DEFAULT_MODE = 0o700
"""New stores are private to the user: folders 0700, files 0600 (overridable, e.g. 0750 for a group)."""


def store_mode(value: str | int | None = None) -> int:
    """The permission bits for a new store's folders: argument, then FLOWSCOPE_STORE_MODE, then 0700."""
    raw = value if value is not None else os.environ.get(MODE_ENV)
    if raw is None or raw == "":
        return DEFAULT_MODE
    try:
        mode = raw if isinstance(raw, int) else int(str(raw), 8)
    except ValueError:
        raise StoreError(f"{MODE_ENV}: {raw!r} is not an octal mode like 0700 or 0750") from None
    if not 0 <= mode <= 0o777 or not mode & 0o700 == 0o700:
        raise StoreError(f"{MODE_ENV}: {oct(mode)} must keep the owner's rwx (0700 to 0777)")
    return mode


def local_root(path: str | Path) -> Path:
    """The absolute folder a store's path names (`~` expanded, `..` taken away, a `file://` URL's path);
    StoreError for another URL. Whatever works beside a store (the demo builds its replacement there) takes
    the folder from here: `file:///x` taken as a path is the relative folder `file:/x`. With its `..` kept,
    `--store ../prod` typed inside a store read as a folder inside that store (refused for a writer).
    A `file://` URL's escapes are decoded once (`Application%20Support` is the folder with a space); a
    '#' or '?' in it is part of the path, as typed, not a fragment or query."""
    text = str(path)
    if not text.removeprefix("file://").strip():
        # os.path.abspath("") is the working folder: a writer made it a store, beside whatever it holds
        raise StoreError(f"a store's path is empty ({text!r}: an unset variable?): name the store folder")
    if "://" in text and not text.startswith("file://"):
        raise StoreError(f"{text}: only local stores are supported for now "
                         "(the lock and manifest need a local file system)")
    if text.startswith("file://"):
        text = text.removeprefix("file://")
        text = unquote(text.removeprefix("localhost") if text.startswith("localhost/") else text)
    return Path(os.path.abspath(Path(text).expanduser()))


UNWRITABLE_PATH_CHARS = ("[", "]", "^", "|")
"""Characters of a local path that delta-rs cannot take in a table's location: it panics, "Invalid object store
url: InvalidDomainCharacter" (every ASCII punctuation character tried in a folder's name: these four, and the
backslash, refused below; `tests/store/test_odd_paths.py`)."""

_PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
"""A '%' and two hex digits in a local path: delta-rs 1.x writes a table's log under the folder as named
but decodes the escape ('%41' as 'A') when it reads the log, so the first write failed ('Kernel error: File
not found', exit 5) after making the folders. A '%' followed by anything else is taken literally."""


NAME_MAX = 255
"""The longest file or folder name, in bytes, of Linux's and macOS's file systems: a longer one was a raw
OSError ('File name too long') out of the first look at the folder, said as a bug in flowscope (exit 5)."""


def unwritable_path(root: Path) -> str | None:
    """Why delta-rs cannot keep a store's tables under `root`, or None."""
    if any(c in str(root) for c in UNWRITABLE_PATH_CHARS):
        # delta-rs parses a table's path as a URL and panics on these
        return f"cannot hold {', '.join(UNWRITABLE_PATH_CHARS[:-1])} or {UNWRITABLE_PATH_CHARS[-1]}"
    if "\\" in str(root):
        return "cannot hold a backslash (read as '/')"
    if any(ord(c) < 32 or ord(c) == 127 for c in str(root)):
        return "cannot hold a control character (a line break, a tab)"
    escape = _PERCENT_ESCAPE.search(str(root))
    if escape:
        return f"cannot hold {escape.group()!r} (a '%' and two hex digits: decoded when read)"
    if any(len(os.fsencode(part)) > NAME_MAX for part in root.parts):
        return f"cannot hold a folder name longer than {NAME_MAX} bytes (the file system's limit)"
    return None


_Snapshot = tuple[manifest.Manifest, duckdb.DuckDBPyConnection, Any, dict[str, reader.TableFiles], spans.SpanViews]
"""A snapshot's manifest, its DuckDB connection, the Ibis backend over it (None until asked for), its files and
its window views."""


class Store:
    """A folder of Delta tables (one per model table) with a consistent multi-table snapshot.

    `vacuum_retention`: how long files of a superseded snapshot survive `compact()`, so a
    reader that opened that snapshot can finish its queries.

    `Store(path)` is the writers' door (demo, import, sync): it creates the folder, private to the
    user (`mode`, default 0700 or FLOWSCOPE_STORE_MODE), with files written under umask 077.
    Readers use `Store.open(path)`, which never creates anything and names a path that is not a
    store.
    """

    def __init__(self, path: str | Path, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT_S,
                 vacuum_retention: dt.timedelta = DEFAULT_VACUUM_RETENTION,
                 storage_options: dict[str, str] | None = None, create: bool = True,
                 mode: str | int | None = None) -> None:
        root = local_root(path)
        refused = unwritable_path(root)
        if refused:
            raise StoreError(f"{root}: a store's path {refused}, which the Delta Lake writer cannot take: "
                             "choose another folder")
        self.mode = store_mode(mode)
        if create:
            _refuse_nested(root)
            _make_private_dirs(root / META_DIR, root, self.mode)
        else:
            with _refused_look(root):
                _check_is_store(root)
        self.path = root
        self.lock_timeout = lock_timeout
        self.vacuum_retention = vacuum_retention
        self.storage_options = storage_options
        self._layout = Layout(root)
        self._lock = WriterLock(self._layout.lock_file, str(root))
        self._cache_guard = threading.Lock()
        self._cache: _Snapshot | None = None
        self._tables: dict[str, delta.DeltaTable] = {}     # the writer's open tables (under the lock)
        self._files = reader.FileListCache()               # (table, version) -> files, immutable

    @classmethod
    def open(cls, path: str | Path, **options: Any) -> "Store":
        """An existing store, for readers: raises NotAStoreError instead of creating one."""
        return cls(path, create=False, **options)

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    def has_data(self) -> bool:
        """True once any table has been written (a created store may still be empty)."""
        return bool(self.version())

    # ------------------------------------------------------------------ writing

    @contextmanager
    def writer(self, timeout: float | None = None) -> Iterator["Store"]:
        """Hold the store's single-writer lock; on first entry, finish a killed writer's batch."""
        if not self._lock.held:
            self.check_present()    # the lock would make its folder again: a deleted store is not re-made
        try:
            outermost = self._lock.acquire(self.lock_timeout if timeout is None else timeout)
        except FileNotFoundError:
            self.check_present()    # deleted since the look above: said so
            raise
        previous_umask = os.umask(0o777 & ~self.mode) if outermost else None
        try:
            if outermost:
                self._recover()
                self._latest()      # a store whose manifests are gone is not written over
            yield self
        finally:
            if previous_umask is not None:
                os.umask(previous_umask)
            self._lock.release()

    def write(self, batch: Batch | Mapping[str, Any]) -> dict[str, int]:
        """Write a batch: execution tables replace by (cloud, execution_id), others upsert by key.

        All-or-nothing for readers (the manifest moves once every table committed). Returns rows
        written per table.
        """
        return self.write_and_delete(batch, {})

    def replace_executions(self, batch: Batch | Mapping[str, Any]) -> dict[str, int]:
        """Same as write(): named for callers re-collecting executions (RUNNING -> terminal)."""
        return self.write(batch)

    def write_and_delete(self, batch: Batch | Mapping[str, Any],
                         delete: Mapping[str, Iterable[Mapping[str, Any]]]) -> dict[str, int]:
        """Write `batch` and delete the rows named in `delete` (table -> the replace-key values of
        the rows to go; an execution named under `executions` takes its steps, attempts and usage
        with it), all in one write: readers see both or neither, and a writer killed half-way has
        the whole of it replayed (the deletions are staged with the batch). What re-keys stored rows
        (`collectors/gcp/project_numbers.py`) needs: a row written under its new key and removed
        under its old one in two writes would be seen twice, or lost, between them."""
        tables = validate_batch(batch)
        for name, keys in delete.items():
            table = delete_keys(name, keys)
            if table.num_rows:
                tables[name + DELETE_SUFFIX] = table
        if not tables:
            return {}
        with self._refused_io(), self.writer():
            self._refuse_unknown_columns(tables)
            write_id = staging.stage(self._layout.staging_dir, self._layout.intent_file, tables)
            counts = self._apply(tables, write_id)
            staging.finish(self._layout.staging_dir, self._layout.intent_file, write_id)
        return counts

    def _refuse_unknown_columns(self, tables: Mapping[str, pa.Table]) -> None:
        """A StoreError when a table this write adds rows to holds a column the model does not know: a newer
        flowscope wrote it. The append failed with delta-rs's SchemaMismatchError (exit 5, "a bug") after the
        batch was staged, and that staged batch failed every later write the same way; a replace would have
        written its rows without the newer column's values. Refused before anything is staged (the lock held)."""
        for name in tables:
            if name.endswith(DELETE_SUFFIX) or not self._layout.table_exists(name):
                continue
            known = set(delta_schema(name).names)
            unknown = [f.name for f in self._open_for_write(name).schema().fields if f.name not in known]
            if unknown:
                raise StoreError(f"store {self.path} was written by a newer flowscope: its {name} table holds "
                                 f"column(s) {', '.join(unknown)} this flowscope does not know, and rows written "
                                 "here would lack them; upgrade flowscope to write to this store (reading it "
                                 "works as it is)")

    def upgrade_done(self, step: str) -> bool:
        """True once the one-off upgrade of stored rows named `step` has run on this store (rows written
        by an earlier flowscope rewritten by today's rules: `flowscope.collectors.stored_texts`)."""
        return (self._layout.upgrades_dir / step).is_file()

    def mark_upgrade_done(self, step: str) -> None:
        with self.writer():
            self._layout.upgrades_dir.mkdir(exist_ok=True)
            (self._layout.upgrades_dir / step).touch()

    def crowded_partitions(self, max_files: int) -> dict[str, int]:
        """Per table, how many of its partitions hold more than `max_files` files (read from the Delta
        logs: nothing is written); tables with none are left out."""
        return self._partitions_per_table(lambda dtable, _name: delta.fragmented_partitions(dtable, max_files))

    def dictionary_stamp_partitions(self) -> dict[str, int]:
        """Per table, how many of its partitions hold a file an older flowscope wrote with its timestamps as a
        dictionary (what `reencode` rewrites; read from the logs and the files' footers: nothing is written);
        tables with none are left out."""
        return self._partitions_per_table(delta.dictionary_stamp_partitions)

    def _partitions_per_table(self, find: Callable[[delta.DeltaTable, str], Sequence[Any]]) -> dict[str, int]:
        """How many partitions `find(table, name)` names in each table that has any."""
        counts = {name: len(find(dtable, name)) for name, dtable in self._existing_tables()}
        return {name: n for name, n in counts.items() if n}

    def _existing_tables(self) -> Iterator[tuple[str, delta.DeltaTable]]:
        """Each table the store has, opened at its latest version (upkeep's reads, not the writer's handles)."""
        for name in TABLES:
            if self._layout.table_exists(name):
                yield name, delta.DeltaTable(self._layout.table_uri(name), storage_options=self.storage_options)

    def compact(self, max_files_per_partition: int | None = None) -> dict[str, Any]:
        """Merge small files of every table, then vacuum files no protected snapshot uses.

        `max_files_per_partition`: only the tables with a partition holding more files than that are
        merged (what `sync` and `import` do after writing, `COMPACT_AFTER_FILES`). One optimize per
        table, not one per crowded partition: on a week synced hourly (84 crowded partitions) 3.1 s
        against 24.7 s of optimize (docs/store.md, Upkeep). The other tables lose the files of rows
        replaced since (`files_replaced`): replacing never crowds a partition, and those files stayed."""
        with self._refused_io(), self.writer():
            current = self._latest()
            versions = dict(current.versions)
            tables: dict[str, dict[str, int]] = {}
            opened = dict(self._existing_tables())
            for name, dtable in opened.items():
                if max_files_per_partition is not None and not delta.fragmented_partitions(
                        dtable, max_files_per_partition):
                    continue
                tables[name] = delta.compact(dtable, name)
                versions[name] = tables[name]["version"]
            replaced = self._publish_rewrites(opened, tables, versions)
        return {
            "tables": tables,
            "files_before": sum(t["files_before"] for t in tables.values()),
            "files_after": sum(t["files_after"] for t in tables.values()),
            "files_vacuumed": sum(t["files_vacuumed"] for t in tables.values()),
            "files_replaced": replaced,
        }

    def reencode(self, on_start: Callable[[dict[str, int]], None] | None = None) -> dict[str, Any]:
        """Rewrite, with today's file encodings, the partitions holding a file an older flowscope wrote with its
        timestamps as a dictionary (`delta.reencode`: the same rows; since `delta.writer_properties` writes
        them as deltas, such files are only left by earlier versions), then vacuum as `compact` does. The
        tables' new versions are published together in one manifest, so a reader opens all or none.
        `on_start`: told the files to rewrite per table once every table's are found, before the first is
        rewritten, and only when there are some (seconds of work on a large store that a command says first)."""
        with self._refused_io(), self.writer():
            versions = dict(self._latest().versions)
            opened = dict(self._existing_tables())
            plans = {name: plan for name, dtable in opened.items() if (plan := delta.reencode_plan(dtable, name))}
            if plans and on_start is not None:
                on_start({name: sum(files for _, files, _ in plan) for name, plan in plans.items()})
            tables = {name: delta.reencode(opened[name], name, plan) for name, plan in plans.items()}
            versions.update({name: done["version"] for name, done in tables.items()})
            self._publish_rewrites(opened, tables, versions)
        return {"tables": tables, "files": sum(t["files_before"] for t in tables.values()),
                "partitions": sum(t["partitions"] for t in tables.values())}

    def _publish_rewrites(self, opened: dict[str, delta.DeltaTable], rewritten: dict[str, dict[str, int]],
                          versions: dict[str, int]) -> int:
        """After files were rewritten (`compact`, `reencode`; the writer's lock held): the new versions in a
        manifest, then the files no protected snapshot uses deleted (each rewritten table's count in its
        `files_vacuumed`); the other tables lose only the files of rows replaced since. Returns those."""
        if rewritten:
            manifest.write_next(self._layout.manifest_dir, versions)
        keep = manifest.protected(self._layout.manifest_dir, self.vacuum_retention)
        replaced = 0
        for name, dtable in opened.items():
            kept = [m.versions[name] for m in keep if name in m.versions]
            if name in rewritten:
                rewritten[name]["files_vacuumed"] = delta.vacuum(dtable, kept)
            else:
                replaced += delta.vacuum_replaced(dtable, Path(self._layout.table_uri(name)), kept)
        manifest.prune(self._layout.manifest_dir, self.vacuum_retention)
        return replaced

    def _apply(self, tables: dict[str, pa.Table], write_id: str) -> dict[str, int]:
        """Commit every table of a staged batch, then the manifest. Idempotent (replay-safe)."""
        deleted = {name.removesuffix(DELETE_SUFFIX): t for name, t in tables.items() if name.endswith(DELETE_SUFFIX)}
        tables = {name: t for name, t in tables.items() if not name.endswith(DELETE_SUFFIX)}
        executions = tables.get("executions")
        versions = dict(self._latest().versions)
        counts: dict[str, int] = {}
        for name in TABLES:
            data = tables.get(name)
            gone = deleted.get("executions" if name in EXECUTION_TABLES else name)
            implied = (name in EXECUTION_TABLES and executions is not None) or gone is not None
            if data is None and not (implied and self._layout.table_exists(name)):
                continue
            keys = delta.replace_keys(name, data, executions)
            if gone is not None:
                keys = pa.concat_tables([keys, gone.select(keys.column_names).cast(keys.schema)])
                keys = keys.group_by(keys.column_names, use_threads=False).aggregate([]).select(keys.column_names)
            if not keys.num_rows:
                continue
            dtable = self._open_for_write(name)
            result = delta.write_table(dtable, name, data, keys, write_id, self.storage_options)
            versions[name] = result.version
            self._files.remember(name, result.version, dtable)
            if data is not None:
                counts[name] = result.rows_added
            crash_point(f"commit:{name}")
        manifest.write_next(self._layout.manifest_dir, versions)
        crash_point("manifest")
        manifest.prune(self._layout.manifest_dir, self.vacuum_retention)
        return counts

    @contextmanager
    def _refused_io(self) -> Iterator[None]:
        """A write the file system refuses (disk full, quota, read-only, file size limit) is a StoreError
        naming the store, the OS's reason and what readers see: delta-rs's DeltaError ('... No space left
        on device (os error 28)') read as a bug in flowscope (exit 5)."""
        try:
            yield
        except (OSError, DeltaError) as exc:
            reason = _os_reason(exc)
            if reason is None:
                raise
            then = (f"its batch is staged ({self._layout.staging_dir}): the next write finishes it once that "
                    "is fixed" if self._layout.intent_file.exists() else "nothing of this write was stored")
            raise StoreError(f"cannot write the store {self.path}: {reason}; readers still see its last "
                             f"complete write, and {then}") from exc

    def _open_for_write(self, name: str) -> delta.DeltaTable:
        """The table, opened once per Store and brought up to date (another process may have
        committed since): re-opening costs a full log read on every commit."""
        dtable = self._tables.get(name)
        if dtable is None or not self._layout.table_exists(name):
            dtable = self._tables[name] = delta.open_or_create(self._layout.table_uri(name), name,
                                                               self.storage_options)
        else:
            dtable.update_incremental()
        return dtable

    def _recover(self) -> None:
        """Replay the batch of a writer killed after staging it; drop half-staged leftovers.

        The staged tables are validated again, into today's model: a batch staged by an older
        flowscope (killed, then flowscope upgraded) lacked the columns added since, and its replay
        failed every later write with a schema mismatch."""
        try:
            found = staging.pending(self._layout.staging_dir, self._layout.intent_file)
            replay = None if found is None else (found[0], _revalidated(found[1]))
        except (OSError, pa.ArrowInvalid, ValueError, KeyError, StoreError) as exc:
            self._drop_unreadable(exc)
            return
        if replay is not None:
            write_id, tables = replay
            self._apply(tables, write_id)
            staging.finish(self._layout.staging_dir, self._layout.intent_file, write_id)
        elif self._layout.staging_dir.is_dir() and any(self._layout.staging_dir.iterdir()):
            staging.finish(self._layout.staging_dir, self._layout.intent_file, None)

    def _drop_unreadable(self, exc: Exception) -> None:
        """An interrupted write whose staged batch cannot be read (a file of it cut or deleted) cannot
        be replayed: every table goes back to the last complete write (a Delta restore of the commits
        the killed writer made, which the next write would otherwise have made visible), the batch is
        dropped and a warning says so. It stopped every later write until the user deleted it by hand."""
        current = self._latest()
        undone = []
        for name, dtable in self._existing_tables():
            target = current.versions.get(name, 0)      # a table the batch created: back to empty
            if dtable.version() > target and set(readable_files(dtable)) != set(
                    reader.snapshot_table_files(self._layout, current, name, self.storage_options,
                                                self._files).files):
                dtable.restore(target)
                undone.append(name)
        self._tables.clear()
        staging.finish(self._layout.staging_dir, self._layout.intent_file, None)
        warnings.warn(f"store {self.path}: the staged batch of an interrupted write could not be read "
                      f"({type(exc).__name__}: {exc}) and was dropped"
                      + (f"; its commits to {', '.join(undone)} were undone" if undone else "")
                      + ": collect or import that data again (a sync re-collects from its last watermark)",
                      UserWarning, stacklevel=2)

    def _latest(self) -> manifest.Manifest:
        """The manifest of the current snapshot. None while tables hold data is a StoreDamagedError (the
        manifests deleted or not copied): it read as an empty store ("no executions yet"), and the next
        write made a snapshot of its own tables alone. A killed first write leaves its intent: not damage."""
        current = manifest.latest(self._layout.manifest_dir)
        if current.number == 0:
            self.check_present()    # after the look: a store deleted while it is read has no manifest either
        if current.number == 0 and self._tables_without_write():
            # a first write may have finished between the two looks (manifest written, then intent
            # removed): with the intent gone, a second look at the manifests is conclusive
            current = manifest.latest(self._layout.manifest_dir)
            if current.number == 0:
                raise StoreDamagedError(str(self.path), f"the snapshot manifest ({self._layout.manifest_dir})",
                                        "there is none, while the tables hold data")
        if current.number and self._files.of_lineage(current.lineage):
            self._tables.clear()    # another store at this path (deleted and built again): no handle of the old
        return current

    def check_present(self) -> None:
        """Raise NotAStoreError when the store's folder (its `_flowscope/`) is gone since this Store was made:
        its manifests' folder missing read as a store never written, so after `rm -r STORE` every table was
        an empty frame and an analysis "0 findings". A store built again at the path is read. `_flowscope/`
        gone while tables stay is a StoreDamagedError, as a missing manifest is."""
        with _refused_look(self.path):
            if self._layout.meta.is_dir():
                return
            if any(self._layout.table_exists(name) for name in TABLES):
                raise StoreDamagedError(str(self.path), f"its bookkeeping folder {self._layout.meta}",
                                        "it is gone, while the tables hold data")
            raise NotAStoreError(str(self.path), "deleted since it was opened")

    def _tables_without_write(self) -> bool:
        """Tables exist and no write is in progress or interrupted (no intent)."""
        return not self._layout.intent_file.exists() and any(self._layout.table_exists(n) for n in TABLES)

    # ------------------------------------------------------------------ reading

    def version(self) -> dict[str, int]:
        """Delta version of each table in the current snapshot (tables never written are absent)."""
        return dict(self._latest().versions)

    def snapshot_key(self) -> str:
        """What names the current snapshot across stores at this path (a cache key): the table versions
        and the store's lineage. Versions alone repeat when the store is deleted and built again the same
        way (a demo built again), and a cache keyed by them served the old store's results and files."""
        current = self._latest()
        return json.dumps({"lineage": current.lineage, "versions": current.versions}, sort_keys=True)

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A NEW in-memory DuckDB with one view per model table over the current snapshot."""
        return self._connect(self._latest())

    def _connect(self, snap: manifest.Manifest) -> duckdb.DuckDBPyConnection:
        return self._connect_snapshot(snap)[1]

    def _connect_snapshot(self, snap: manifest.Manifest) -> _Snapshot:
        files = reader.snapshot_files(self._layout, snap, self.storage_options, self._files)
        con, plans = reader.connect_planned(files, str(self.path))
        return snap, con, None, files, spans.SpanViews(con, files, plans)

    def ibis(self) -> Any:
        """An Ibis DuckDB backend over the current snapshot (reused while the snapshot holds).

        For multi-table expressions take it once: `con = s.ibis(); con.table(...)`.
        """
        return self._ibis_backend()

    def table(self, name: str) -> Any:
        self._check_table(name)
        return self.ibis().table(name)

    def tables(self, names: Iterable[str]) -> dict[str, Any]:
        """Ibis tables of one snapshot, by name: `table()` per name took the snapshot current at each
        call, so a write landing between two of them joined executions of one snapshot to steps of the next."""
        return self.tables_and_facts(names)[0]

    def tables_and_facts(self, names: Iterable[str]) -> tuple[dict[str, Any], dict[str, reader.ColumnFacts]]:
        """`tables(names)`, and what the Delta log's statistics say of each one's columns in that same snapshot
        (`reader.ColumnFacts`: no extra read): a query may leave out work only a null row, or a value below
        the least, would need."""
        held = self.pinned(names)
        return held.tables, held.facts

    def pinned(self, names: Iterable[str] = TABLES) -> PinnedSnapshot:
        """The current snapshot held for several reads (a report's findings and its measures): its Ibis backend
        and connection, its tables with their column facts (`tables_and_facts`), and `window(name, start, end)`:
        the table `name` over only the files that may hold rows started in [start, end) (`spans.SpanViews`; the
        table itself when that is every file), a superset of the window's rows the caller filters on top. A
        write that lands meanwhile is not seen by any of them."""
        wanted = list(names)
        for name in wanted:
            self._check_table(name)
        _snap, _con, backend, files, views = self._snapshot_backend()
        tables = {name: _view_table(backend, name) for name in wanted}

        def window(name: str, start: dt.datetime, end: dt.datetime) -> Any:
            view = views.view(name, start, end)
            return tables[name] if view is None else _view_table(backend, name, view)
        return PinnedSnapshot(backend, tables, {name: files[name].facts for name in wanted if name in files}, window)

    def sql(self, query: str, params: list[Any] | None = None) -> Any:
        """Run SQL over the current snapshot; returns a pandas DataFrame."""
        return self.cursor().sql(query, params=params).df()

    def df(self, table: str) -> Any:
        self._check_table(table)
        return self.sql(f"SELECT * FROM {ident(table)}")

    def read_rows(self, table: str, filter_sql: str | None = None) -> list[dict[str, Any]]:
        """Rows of a (small) table as dicts, optionally filtered by a SQL boolean expression."""
        self._check_table(table)
        with self._lookup(table) as (cur, src):
            query = f"SELECT * FROM {src[table]} t" + (f" WHERE {filter_sql}" if filter_sql else "")
            return cur.sql(query).to_arrow_table().to_pylist()

    def existing_execution_ids(self, cloud: str, ids: Iterable[str]) -> dict[str, str]:
        """execution_id -> status for the ids already stored (collectors skip terminal ones)."""
        return {eid: status for eid, (status, _redrives) in self.stored_execution_states(cloud, ids).items()}

    def stored_execution_states(self, cloud: str, ids: Iterable[str]) -> dict[str, tuple[str, int]]:
        """execution_id -> (status, redrive count) for the ids already stored: a collector fetches
        again an execution the cloud now lists with another status or a higher redrive count."""
        wanted = _id_table(ids)
        if not wanted.num_rows:
            return {}
        with self._lookup("executions") as (cur, src):
            cur.register("wanted_ids", wanted)
            rows = cur.execute(f"SELECT e.{C.execution_id}, e.{C.status}, e.{C.redrive_count} "
                               f"FROM {src['executions']} e JOIN wanted_ids w ON e.{C.execution_id} = w.id "
                               f"WHERE e.{C.cloud} = ?", [cloud]).fetchall()
        return {eid: (status, int(rc or 0)) for eid, status, rc in rows}

    def read_execution_rows(self, cloud: str, ids: Iterable[str]) -> Batch:
        """Executions, steps, attempts and usage rows of those executions, from one snapshot."""
        wanted = _id_table(ids)
        batch = Batch()
        if not wanted.num_rows:
            return batch
        with self._lookup(*EXECUTION_TABLES) as (cur, src):
            cur.register("wanted_ids", wanted)
            for name in EXECUTION_TABLES:
                rows = cur.sql(f"SELECT t.* FROM {src[name]} t SEMI JOIN wanted_ids w "
                               f"ON t.{C.execution_id} = w.id WHERE t.{C.cloud} = ?",
                               params=[cloud]).to_arrow_table().to_pylist()
                getattr(batch, name).extend(rows)
        return batch

    def last_watermark(self, scope: str) -> dt.datetime | None:
        """Latest (max) watermark of a succeeded or partial collection run of that scope."""
        with self._lookup("collection_runs") as (cur, src):
            row = cur.execute(
                f"SELECT max({C.watermark}) FROM {src['collection_runs']} t WHERE {C.scope} = ? "
                f"AND {C.status} IN (?, ?)", [scope, *COLLECTED_STATUSES]).fetchone()
        value = row[0] if row else None
        return value.astimezone(dt.timezone.utc) if value is not None else None

    def running_executions(self, cloud: str, *, account: str | None = None,
                           region: str | None = None) -> list[dict[str, Any]]:
        """Stored RUNNING executions of a cloud (optionally one account and region): the runs a
        collector revisits until they end."""
        conditions = [f"{C.cloud} = ?", f"{C.status} = ?"]
        params: list[Any] = [cloud, "RUNNING"]
        for column, value in ((C.account, account), (C.region, region)):
            if value is not None:
                conditions.append(f"{column} = ?")
                params.append(value)
        with self._lookup("executions") as (cur, src):
            return cur.sql(f"SELECT * FROM {src['executions']} t WHERE {' AND '.join(conditions)}",
                           params=params).to_arrow_table().to_pylist()

    def mean_event_count(self, cloud: str, workflow_id: str) -> float | None:
        """Average history length of a workflow's stored executions (None when none is known)."""
        with self._lookup("executions") as (cur, src):
            row = cur.execute(f"SELECT avg({C.event_count}) FROM {src['executions']} t "
                              f"WHERE {C.cloud} = ? AND {C.workflow_id} = ? AND {C.event_count} IS NOT NULL",
                              [cloud, workflow_id]).fetchone()
        value = row[0] if row else None
        return float(value) if value is not None else None

    def execution_ids_of_workflow(self, cloud: str, workflow_id: str) -> set[str]:
        """Ids of executions stored for a workflow, from its executions and its steps (steps can
        arrive before their execution row)."""
        found: set[str] = set()
        with self._lookup("executions", "steps") as (cur, src):
            for table in ("executions", "steps"):
                rows = cur.execute(f"SELECT DISTINCT {C.execution_id} FROM {src[table]} t "
                                   f"WHERE {C.cloud} = ? AND {C.workflow_id} = ?", [cloud, workflow_id]).fetchall()
                found.update(r[0] for r in rows)
        return found

    def row_counts(self, tables: Iterable[str] = TABLES) -> dict[str, int]:
        """Rows per table at the current snapshot."""
        names = list(tables)
        for name in names:
            self._check_table(name)
        counts: dict[str, int] = {}
        with self._lookup(*names) as (cur, src):
            for name in names:
                [(count,)] = cur.execute(f"SELECT count(*) FROM {src[name]} t").fetchall()   # always one row
                counts[name] = int(count)
        return counts

    def unreadable_file(self) -> tuple[str, str, str] | None:
        """The first Parquet file of the current snapshot whose data cannot be decoded, as (table, file,
        DuckDB's error), or None. Reads every column of every file: a diagnosis (`flowscope doctor
        --read-all`, a failed analysis), never part of a normal read. Footers and row counts, which is all
        the other checks read, are whole in a file whose data pages are damaged."""
        snap = self._latest()
        cur = delta.scratch().cursor()
        try:
            for table in TABLES:
                for file in reader.snapshot_table_files(self._layout, snap, table, self.storage_options,
                                                        self._files).files:
                    try:
                        for _ in cur.read_parquet(file).to_arrow_reader():
                            pass       # batch by batch: a big file is read, not held
                    except duckdb.Error as exc:
                        return table, file, f"{type(exc).__name__}: {exc}"
        finally:
            cur.close()
        return None

    def damaged_error(self, exc: BaseException) -> StoreDamagedError | None:
        """`exc`, a read that failed, as the StoreDamagedError that names the damaged file, when a file of the
        store cannot be decoded; None when every file reads (then `exc` is not the store's: a bug). DuckDB's
        errors for a damaged data page ("don't know what type", "Invalid data") name no file, and said as
        "a bug in flowscope" they sent the user to the wrong place. An error naming a file that is none of the
        snapshot's is not the store's either, said at once: a notebook's `s.sql()` reads files of its own, and
        reading every file of the store to learn so held a typo'd path's error 6.3-7.1 s on a 20M-step store."""
        if not isinstance(exc, duckdb.Error) or not reader.about_files(exc):
            return None
        said = str(exc)
        if reader.names_a_file(exc) and not any(f in said for table in self.snapshot_files().values()
                                                for f in table.files):
            return None
        try:
            self.read_every_file()
        except StoreDamagedError as damaged:
            return damaged
        return None

    def read_every_file(self) -> None:
        """Raise StoreDamagedError naming the first file whose data cannot be decoded (`unreadable_file`)."""
        found = self.unreadable_file()
        if found is not None:
            table, file, error = found
            raise StoreDamagedError(str(self.path), f"{file} (a Parquet file of {table})", error)

    def last_collected_scope(self, source: str) -> str | None:
        """The scope id of the newest succeeded or partial collection run of that source
        (`details.source`, `model.SOURCE_KEY`), or None."""
        with self._lookup("collection_runs") as (cur, src):
            row = cur.execute(
                f"SELECT {C.scope} FROM {src['collection_runs']} t WHERE {C.status} IN (?, ?) "
                f"AND json_extract_string({C.details}, '$.{SOURCE_KEY}') = ? ORDER BY {C.started_at} DESC LIMIT 1",
                [*COLLECTED_STATUSES, source]).fetchone()
        return str(row[0]) if row else None

    def latest_collection_runs(self) -> list[dict[str, Any]]:
        """The newest collection_runs row of every scope, ordered by scope."""
        with self._lookup("collection_runs") as (cur, src):
            return cur.sql(
                f"SELECT * FROM {src['collection_runs']} t QUALIFY row_number() OVER "
                f"(PARTITION BY {C.scope} ORDER BY {C.started_at} DESC) = 1 ORDER BY {C.scope}"
            ).to_arrow_table().to_pylist()

    def snapshot_files(self) -> dict[str, reader.TableFiles]:
        """Parquet files (and columns) of each model table at the current snapshot, for other
        engines (Spark) that read the files themselves."""
        snap = self._latest()
        return reader.snapshot_files(self._layout, snap, self.storage_options, self._files)

    @contextmanager
    def _lookup(self, *tables: str) -> Iterator[tuple[duckdb.DuckDBPyConnection, dict[str, str]]]:
        """A cursor of this thread's reused DuckDB and, per table, a parenthesised SELECT over its
        files at the current snapshot (all from one manifest).

        For the point reads collectors make after each of their commits: the snapshot connection
        (`cursor`) would be rebuilt every time, ~50 ms each, for a query that reads one table.
        """
        snap = self._latest()
        sources = {t: "(" + reader.select_sql(t, reader.snapshot_table_files(
            self._layout, snap, t, self.storage_options, self._files)) + ")" for t in tables}
        cur = delta.scratch().cursor()
        try:
            cur.execute("SET TimeZone = 'UTC'")
            yield cur, sources
        except (duckdb.IOException, duckdb.InvalidInputException) as exc:
            # a file of the snapshot deleted or overwritten behind our back: DuckDB's message names it (the
            # whole store deleted is said as such: "damaged ... restore it from a backup" sent the user astray)
            self.check_present()
            raise StoreDamagedError(str(self.path), f"a Parquet file of {', '.join(tables)}", str(exc)) from None
        finally:
            cur.close()

    def _check_table(self, name: str) -> None:
        if name not in TABLES:
            raise StoreError(f"unknown table {name!r} (model tables: {', '.join(TABLES)})")

    def _snapshot(self) -> _Snapshot:
        """Connection of the current snapshot (Ibis backend built on first use) and the files it reads,
        rebuilt when the manifest moves: another number, or the same number of another store at this path
        (deleted and built again: its numbers start at 1 again)."""
        snap = self._latest()
        with self._cache_guard:
            if self._cache is None or self._cache[0] != snap:
                self._cache = self._connect_snapshot(snap)
            return self._cache

    def _ibis_backend(self) -> Any:
        return self._snapshot_backend()[2]

    def _snapshot_backend(self) -> _Snapshot:
        """`_snapshot()` with its Ibis backend built."""
        snap, con, backend, files, views = self._snapshot()
        if backend is None:
            import ibis  # heavy import: only when a caller asks for Ibis

            backend = ibis.duckdb.from_connection(con)
            with self._cache_guard:
                if self._cache is not None and self._cache[1] is con:
                    self._cache = (snap, con, backend, files, views)
        return snap, con, backend, files, views

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor (UTC) of the current snapshot's connection, the one `sql()` and `ibis()` read: queries
        over it need no DuckDB of their own (`connect()` builds one, its views and footers, each time)."""
        cur = self._snapshot()[1].cursor()
        cur.execute("SET TimeZone = 'UTC'")
        return cur


@dataclass(frozen=True)
class PinnedSnapshot:
    """One snapshot of a store, held (`Store.pinned`): read through it, findings and measures cannot straddle a
    write. `table(name)` and `con` as an Ibis backend offers them, so a reader of a backend reads it too."""

    backend: Any
    tables: dict[str, Any]
    facts: dict[str, reader.ColumnFacts]
    window: Callable[[str, dt.datetime, dt.datetime], Any]

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        return self.backend.con

    def table(self, name: str) -> Any:
        return self.tables[name]


def _view_table(backend: Any, name: str, view: str | None = None) -> Any:
    """The Ibis table of the model table `name`'s view on `backend` (or of `view`, one of its window views over
    some of its files, `spans.SpanViews`), typed from the model: every view selects exactly the model's columns,
    cast to its types (`reader.select_sql`), so DuckDB's DESCRIBE of it (~3 ms a table, 23-31 ms a store open)
    says nothing the model does not. Nullable, as a view's columns are."""
    import ibis.expr.operations as ops  # heavy import: only when a caller asks for Ibis

    return ops.DatabaseTable(view or name, schema=_view_schema(name), source=backend,
                             namespace=ops.Namespace()).to_expr()


@functools.cache
def _view_schema(name: str) -> Any:
    import ibis

    return ibis.Schema.from_pyarrow(pa.schema([f.with_nullable(True) for f in TABLES[name].schema]))


_OS_ERROR = re.compile(r"\(os error (\d+)\)")
"""How a Rust I/O error (delta-rs) names the OS error it carries."""


def _os_reason(exc: BaseException) -> str | None:
    """The OS's reason when `exc` is a refusal of the file system (an OSError, or a delta-rs error
    carrying one), else None: any other failure is not the disk's."""
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    found = _OS_ERROR.search(str(exc))
    return f"{os.strerror(int(found.group(1)))} (os error {found.group(1)})" if found else None


def _make_private_dirs(meta: Path, root: Path, mode: int) -> None:
    """Create the store folder and its bookkeeping folder with `mode`; existing folders are kept."""
    for folder in (root, meta):
        if not folder.is_dir():
            folder.mkdir(parents=True, exist_ok=True)
            os.chmod(folder, mode)


DELETE_SUFFIX = ".delete"
"""A staged table named `<table>.delete` holds the replace keys `write_and_delete` removes from <table>."""


def delete_keys(table: str, keys: Iterable[Mapping[str, Any]]) -> pa.Table:
    """The replace-key values of rows to delete from `table`, typed as the model says; StoreError
    for a table that is not one, or a key value missing."""
    if table not in TABLES:
        raise StoreError(f"cannot delete from {table!r}: not a table ({', '.join(TABLES)})")
    fields = [TABLES[table].schema.field(k) for k in TABLES[table].replace_key]
    rows = list(keys)
    for i, row in enumerate(rows):
        missing = [f.name for f in fields if row.get(f.name) is None]
        if missing:
            raise StoreError(f"{table}: key to delete without {', '.join(missing)} (row {i})")
    return pa.table({f.name: pa.array([r[f.name] for r in rows], f.type) for f in fields})


def _revalidated(tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """A staged batch in today's model (`validate_batch`), its deletions (`DELETE_SUFFIX`) as staged."""
    kept = {n: t for n, t in tables.items() if not n.endswith(DELETE_SUFFIX)}
    return {**validate_batch(kept), **{n: t for n, t in tables.items() if n.endswith(DELETE_SUFFIX)}}


def _id_table(ids: Iterable[str]) -> pa.Table:
    unique = sorted({i for i in ids if i is not None})
    return pa.table({"id": pa.array(unique, pa.string())})


def _check_is_store(root: Path) -> None:
    """NotAStoreError when a reader's `root` holds no store (readers never create one)."""
    if not root.is_dir():
        raise NotAStoreError(str(root), "no such folder" if not root.exists() else "not a folder",
                             _demo_store_beside(root))
    if not (root / META_DIR).is_dir():
        inside = _store_above(root)
        if inside is not None:   # a table's folder or _flowscope/: the hint named the demo's store
            raise NotAStoreError(str(root), f"it is inside the store {inside}", inside=str(inside))
        raise NotAStoreError(str(root), f"no {META_DIR}/ folder in it", _demo_store_beside(root))


@contextmanager
def _refused_look(root: Path) -> Iterator[None]:
    """A look into a store the user may not enter is a StoreError saying so: another user's store is
    private (0700), and the PermissionError out of `is_dir` was said by the commands as a bug (exit 5)."""
    try:
        yield
    except PermissionError as exc:
        raise StoreError(f"cannot read the store {root}: permission denied ({exc.filename}): a store is private "
                         "to the user who made it; run as that user, or have the store made with "
                         f"{MODE_ENV}=0750 for its group to read (docs/store.md, Permissions)") from None


def _refuse_nested(root: Path) -> None:
    """A new store is never made inside a store (a `--store` one folder too deep, in a table's folder):
    it wrote a second store into the `executions` Delta table's folder and said "imported"."""
    if (root / META_DIR).is_dir():
        return
    inside = _store_above(root)
    if inside is not None or (root / "_delta_log").is_dir():
        raise StoreError(f"{root} is inside the store {inside or root.parent}: pass --store {inside or root.parent}")


def _store_above(root: Path) -> Path | None:
    """The store folder `root` lies inside (`root` itself excluded), or None."""
    return next((p for p in root.parents if (p / META_DIR).is_dir()), None)


def _demo_store_beside(root: Path) -> str | None:
    """The demo's store, when it holds one and the reader asked for another path: the usual first
    question after `flowscope demo` is `flowscope analyze` without --store, which reads ~/.flowscope."""
    demo = Path(DEMO_STORE).expanduser().absolute()
    return DEMO_STORE if demo != root and (demo / META_DIR).is_dir() else None
