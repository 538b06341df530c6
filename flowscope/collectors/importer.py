"""`flowscope import`: read exported native files, detect their format, transform, store.

Every document file is read and transformed before anything is written, so a bad file stops the
import with an error naming it (and its line where one is known), and the store is left as it was
(a store that does not exist yet is created only when there is something to write). JSON Lines
files of a streamable format (CloudWatch Logs records) are read after them in bounded memory
(`collectors/streaming.py`): whole executions are committed in chunks while the rest is read, so a
failure far into such a file leaves the whole executions before it stored and says so
(`PartlyImportedError`; docs/import.md says why). One bad record inside a good file is skipped,
counted and reported with its file and line. An import in which nothing was usable fails
(`NothingImportedError`) and writes nothing, not even a collection_runs row. Writing replaces by
execution; executions already stored exactly as they would be written are left alone, so
importing the same file twice changes nothing.

Files are JSON, JSON Lines or YAML (gcloud's default output; a ``---`` stream is read document by
document), optionally gzipped. A lone UTF-16 surrogate escaped in the JSON (``"\\ud800"``: no
text can hold it) is replaced by U+FFFD and reported, so the rest of the file still imports.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from flowscope.collectors.import_across_documents import (
    _check_execution_id_read,
    _pair_aws_histories,
    _share_import_options,
)
from flowscope.collectors.import_formats import (
    _check_format,
    detect_format,
    handler_for,
    is_empty_list,
    known_formats,
)
from flowscope.collectors.import_load import EXPORT_MARKERS, _load, files_of, read_files
from flowscope.collectors.import_parse import _open_text, parse_document, parse_documents
from flowscope.collectors.import_result import ImportResult, NothingImportedError
from flowscope.collectors.import_stream import Progress, _FileStream, _silent, _stream_plan
from flowscope.collectors.import_transform import _transform, transform_documents
from flowscope.collectors.import_writer import PartlyImportedError, StoreTarget, _Writer
from flowscope.collectors.native import DEFER_ASSEMBLE, ImportContext, NativeFormatError
from flowscope.collectors.sink import gc_paused
from flowscope.model import UTC, Source

if TYPE_CHECKING:
    from flowscope.collectors.upgrade_once import Say

__all__ = [
    # the entry, and what it raises and returns
    "import_files", "ImportResult", "NothingImportedError", "PartlyImportedError", "Progress", "StoreTarget",
    # what other code, tests and docs use from here (defined in the import_* modules)
    "EXPORT_MARKERS", "detect_format", "files_of", "handler_for", "is_empty_list", "known_formats",
    "parse_document", "parse_documents", "read_files", "transform_documents", "_open_text",
]


# ---------------------------------------------------------------- the import

def _announced(paths: list[Path], progress: Progress) -> Iterator[Path]:
    """`paths`, each said as it is read (a folder of thousands of exported documents takes minutes)."""
    for number, path in enumerate(paths, start=1):
        progress(f"reading {path} ({number:,} of {len(paths):,} file(s))")
        yield path


def import_files(store: StoreTarget, paths: list[Path], *, cloud: str | None = None, fmt: str | None = None,
                 execution_id: str | None = None, say: "Say | None" = None,
                 progress: Progress = _silent) -> ImportResult:
    """Read, transform and store native files.

    JSON and YAML documents (and JSON Lines of formats read whole) are all read and checked
    before the first write. JSON Lines files of a streamable format (`STREAMS` of a cloud's
    transforms: CloudWatch Logs records) are read after them, in bounded memory: whole
    executions are assembled and committed in chunks while the rest of the file is read. A file
    that fails part way after a chunk was committed raises PartlyImportedError (whole executions
    only are stored; a failed import is recorded in collection_runs; importing the fixed file
    again completes it and rewrites nothing already stored unchanged).

    `store` is an open Store, or a path (or a function returning a Store) that is opened, and
    created if new, only when something is to be written: a refused import into a new path
    leaves no empty store folder behind.

    `say`: where a one-off upgrade of the store that takes seconds says it starts and ends, before the
    first write (`store_upgrades.upgrade_store`). `progress`: where it says how far it is (`Progress`).

    Raises NativeFormatError (a file that cannot be read) or NothingImportedError (no usable
    record in any file); in both cases nothing is written, unless PartlyImportedError says so.
    """
    started = dt.datetime.now(UTC)
    paths = files_of(paths)
    result = ImportResult(files=len(paths))
    _check_format(cloud, fmt)
    with gc_paused():
        plans = {path: _stream_plan(path, cloud=cloud, fmt=fmt) for path in paths}
        whole = [path for path, plan in plans.items() if plan is None]
        loaded = list(_load(_announced(whole, progress), cloud=cloud, fmt=fmt, execution_id=execution_id,
                            seen_at=started,
                            warnings=result.warnings, empty=result.empty_documents,
                            empty_files=result.empty_files))
        result.warnings.extend(f"{where}: an empty {'file' if where in result.empty_files else 'list'} (a query "
                               "that found nothing): no records" for where in result.empty_documents)
        if execution_id is not None:
            _check_execution_id_read([item.fmt for item in loaded] + [p.fmt for p in plans.values() if p])
        _pair_aws_histories(loaded)
        writer = _Writer(store, result, started, say)
        _share_import_options(loaded, writer.stored_rows_of)
        if loaded:
            progress(f"transforming and storing {len(loaded):,} document(s)")
        batch = _transform(loaded, result)
        result.skips.extend(batch.skips)
        result.unknown_event_types.update(batch.unknown_event_types)
        result.warnings.extend(w for w in batch.warnings if w not in result.warnings)
        writer.add(batch)
        del batch, loaded
        for plan in plans.values():
            if plan is None:
                continue
            result.documents += 1
            result.formats[plan.fmt] = result.formats.get(plan.fmt, 0) + 1
            ctx = ImportContext(source_name=str(plan.path), seen_at=started, source=Source.IMPORT,
                                execution_id=execution_id, options={DEFER_ASSEMBLE: True})
            try:
                _FileStream(plan, ctx, result, writer, progress).run()
            except NativeFormatError as exc:
                raise writer.fail(exc) from None
        if not writer.rows:
            raise NothingImportedError.of(result)
        writer.finish()
    return result
