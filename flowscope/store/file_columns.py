"""Each Parquet file's columns (names and Parquet types) as a digest, read from its footer once, then kept.

Why: a snapshot's open checks that a table's files share their columns (`reader.same_columns`); then DuckDB
reads them without `union_by_name`, binding a query by one footer instead of every file's. The check read
every file's footer: on a year of daily files (1,098 a table) ~0.75 s of a fresh process's store open, paid
by every `flowscope analyze` and by the dashboard's server and its analyses process at their start. A Delta
writer never rewrites a file (each one it writes has a new name), so what a footer says is kept: in the
process (a dashboard opens a new snapshot after every sync), and on disk for the next process, one JSON file
per table folder under the user's cache (`usercache`: `$XDG_CACHE_HOME/flowscope/columns`, the user's alone).

A kept digest counts only while its file is the one that was read: the same size and modification time
(`os.stat`, microseconds a file). A file cut short, overwritten or deleted since is read again, so the open
finds its damage as it does a file never read. A file of an object store (a URL, where a stat is a request)
is kept by name in the process only, as a Delta file name is never reused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from pathlib import Path

import duckdb

from flowscope import usercache
from flowscope.store.sqlutil import file_list

log = logging.getLogger(__name__)

FOLDER = "columns"
"""Under the user's cache folder (`usercache.folder`)."""
FORMAT = 1
"""Bumped when what a kept file holds changes shape, or the digest's definition does."""
MAX_TABLES = 256
"""Table folders kept on disk at most, the least recently written removed first."""

Identity = tuple[int, int] | None
"""A local file's (size, modification time in ns), None for an object store's file (trusted by name)."""
_GONE = (-1, -1)
"""The identity of a local file that cannot be stat'ed: it matches nothing kept, so the file is read (and fails)."""


def identity(file: str) -> Identity:
    """What says a file is still the one whose footer was read: its size and modification time."""
    if "://" in file:
        return None
    try:
        info = os.stat(file)
    except OSError:
        return _GONE
    return info.st_size, info.st_mtime_ns


def read_digests(con: duckdb.DuckDBPyConnection, files: list[str]) -> dict[str, int]:
    """Each file's columns as one sorted list, hashed in DuckDB (on 1,098 files 0.11 s a table against 0.15-0.19 s
    with the rows compared in Python). A missing or unreadable file raises DuckDB's error."""
    rows = con.execute(f"""
        SELECT file_name, hash(CAST(list(c ORDER BY c) AS VARCHAR)) FROM (
            SELECT file_name, (name, type, CAST(logical_type AS VARCHAR), CAST(converted_type AS VARCHAR)) AS c
            FROM parquet_schema({file_list(files)}))
        GROUP BY file_name""").fetchall()
    return {str(f): int(d) for f, d in rows}


def _kept_file(table_folder: str) -> Path:
    return usercache.folder(FOLDER) / f"{hashlib.sha256(table_folder.encode()).hexdigest()}.json"


def load_kept(table_folder: str) -> dict[str, tuple[Identity, int]]:
    """What an earlier process kept for the table folder: file -> (identity, digest); empty when nothing was kept
    or the file is not this user's alone, damaged or of another format (a miss, never an error)."""
    path = _kept_file(table_folder)
    try:
        if not (usercache.private(path.parent) and usercache.private(path)):
            log.warning("kept file columns at %s not read: another user owns it or can write it", path)
            return {}
        kept = json.loads(path.read_bytes())
        if kept.get("format") != FORMAT or kept.get("folder") != table_folder:
            return {}
        return {str(f): ((int(size), int(mtime)), int(digest)) for f, (size, mtime, digest) in kept["files"].items()}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        log.warning("kept file columns at %s not read (%s): reading the footers", path, type(exc).__name__)
        return {}


def keep(table_folder: str, digests: dict[str, tuple[Identity, int]]) -> None:
    """Write the table folder's files' identities and digests (whole, or nothing), then drop the least recently
    written table folders past `MAX_TABLES`. A cache that cannot be written is left as it is."""
    rows = {f: [ident[0], ident[1], d] for f, (ident, d) in digests.items() if ident is not None and ident != _GONE}
    path = _kept_file(table_folder)
    try:
        data = json.dumps({"format": FORMAT, "folder": table_folder, "files": rows}).encode()
        if usercache.write_whole(path.parent, path.name, data):
            usercache.forget_oldest(path.parent, "*.json", MAX_TABLES)
    except OSError as exc:
        log.debug("file columns not kept in %s: %s", path.parent, exc.strerror or exc)


class FileColumns:
    """File -> the digest of its columns, for the files this process has read the footer of or found kept on
    disk, each with the identity it had then. Bounded: forgets everything past `LIMIT` files."""

    LIMIT = 200_000

    def __init__(self) -> None:
        self._digests: dict[str, tuple[Identity, int]] = {}
        self._lock = threading.Lock()

    def of(self, con: duckdb.DuckDBPyConnection, files: list[str], table_folder: str | None = None) -> dict[str, int]:
        """The digest of each of `files` that reads (a file that does not read raises DuckDB's error). With the
        files' `table_folder` (a local one), digests are also looked up in, and kept to, the user's cache."""
        now = {f: identity(f) for f in files}
        with self._lock:
            known = {f: kept for f in files if (kept := self._digests.get(f)) is not None and kept[0] == now[f]}
        stale_on_disk = False
        if table_folder is not None and len(known) < len(now):
            kept_before = load_kept(table_folder)
            for f, ident in now.items():
                if f not in known and (kept := kept_before.get(f)) is not None and kept[0] == ident:
                    known[f] = kept
            stale_on_disk = kept_before != known       # files since written, changed or gone
        unread = sorted(f for f in files if f not in known)
        if unread:
            read = read_digests(con, unread)
            known.update((f, (now[f], read[f])) for f in unread if f in read)
        with self._lock:
            if len(self._digests) + len(known) > self.LIMIT:
                self._digests.clear()
            self._digests.update(known)
        if table_folder is not None and (unread or stale_on_disk):
            keep(table_folder, known)
        return {f: d for f, (_, d) in known.items()}


COLUMNS_OF = FileColumns()
