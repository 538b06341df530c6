"""`flowscope import`: read exported native files, detect their format, transform, store.

Every file is read and transformed before anything is written, so a bad file stops the import
with an error naming it and its line, and the store is left as it was. One bad record inside a
good file is skipped, counted and reported. Writing replaces by key, so importing the same file
twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowscope.collectors.assemble import assemble_batch, transforms_for
from flowscope.collectors.native import ImportContext, NativeFormatError
from flowscope.model import UTC, Batch, C, Cloud, RunStatus, Skip, Source

if TYPE_CHECKING:
    from flowscope.store import Store

CLOUD_ORDER = (Cloud.AWS, Cloud.AZURE, Cloud.GCP)


@dataclass
class ImportResult:
    files: int = 0
    documents: int = 0
    formats: dict[str, int] = field(default_factory=dict)
    written: dict[str, int] = field(default_factory=dict)
    skips: list[Skip] = field(default_factory=list)
    unknown_event_types: dict[str, int] = field(default_factory=dict)


def _open_text(path: Path) -> str:
    opener: Callable[..., Any] = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            return handle.read()
    except UnicodeDecodeError as exc:
        raise NativeFormatError(str(path), f"byte {exc.start}", "not UTF-8 text") from exc
    except OSError as exc:
        raise NativeFormatError(str(path), "file", str(exc)) from exc


def parse_document(text: str, source_name: str) -> Any:
    """A file's JSON: one document, or JSON Lines (one object per line) as a list.

    A truncated or malformed file raises NativeFormatError naming the line and column.
    """
    stripped = text.strip()
    if not stripped:
        raise NativeFormatError(source_name, "line 1", "empty file")
    try:
        return json.loads(stripped)
    except json.JSONDecodeError as whole_error:
        lines = stripped.splitlines()
        if not _is_json_object(lines[0]):
            raise NativeFormatError(source_name, f"line {whole_error.lineno} column {whole_error.colno}",
                                    f"invalid JSON: {whole_error.msg}") from whole_error
    records: list[Any] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise NativeFormatError(source_name, f"line {number} column {exc.colno}",
                                    f"invalid JSON Lines record: {exc.msg}") from exc
    return records


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except json.JSONDecodeError:
        return False


def detect_format(doc: Any, source_name: str, cloud: str | None = None) -> str:
    """The native format of a parsed document, asking each cloud's transform module."""
    clouds = [Cloud(cloud)] if cloud else list(CLOUD_ORDER)
    for candidate in clouds:
        found = transforms_for(candidate).detect(doc)
        if found:
            return str(found)
    where = f" of cloud {cloud}" if cloud else ""
    raise NativeFormatError(source_name, "document",
                            f"unknown format{where}: not a Step Functions history or log records, "
                            "a Logic Apps REST document, nor a Cloud Workflows REST/Logging document")


def handler_for(fmt: str) -> Callable[[Any, ImportContext], Batch]:
    cloud = fmt.split(".", 1)[0]
    try:
        formats = transforms_for(cloud).FORMATS
        return formats[fmt]
    except (ValueError, KeyError):
        raise ValueError(f"unknown format {fmt!r}") from None


def transform_documents(
    documents: Iterable[tuple[str, Any, ImportContext]], result: ImportResult | None = None
) -> Batch:
    """(format, document, context) triples to one Batch; formats already known."""
    batch = Batch()
    for fmt, doc, ctx in documents:
        part = handler_for(fmt)(doc, ctx)
        batch.extend(part)
        if result is not None:
            result.documents += 1
            result.formats[fmt] = result.formats.get(fmt, 0) + 1
    return batch


def read_files(paths: Iterable[Path], *, cloud: str | None = None, fmt: str | None = None,
               execution_id: str | None = None, seen_at: dt.datetime | None = None,
               ) -> Iterator[tuple[str, Any, ImportContext]]:
    """Parse and detect each file; yields (format, document, context)."""
    seen_at = seen_at or dt.datetime.now(UTC)
    if fmt and cloud and not fmt.startswith(f"{cloud}."):
        raise ValueError(f"--format {fmt} is not a format of --cloud {cloud}")
    if fmt:
        handler_for(fmt)
    for path in paths:
        name = str(path)
        doc = parse_document(_open_text(path), name)
        found = fmt or detect_format(doc, name, cloud)
        yield found, doc, ImportContext(source_name=name, seen_at=seen_at, source=Source.IMPORT,
                                        execution_id=execution_id)


def import_run_rows(result: ImportResult, batch: Batch, started: dt.datetime) -> list[dict[str, Any]]:
    """A collection_runs row per cloud imported: imports show up in collection health too."""
    clouds = sorted({row[C.cloud] for table in ("workflows", "executions", "steps")
                     for row in batch.rows(table)})
    ended = dt.datetime.now(UTC)
    rows = []
    for cloud in clouds:
        counts = {table: sum(1 for row in batch.rows(table) if row.get(C.cloud) == cloud)
                  for table in ("workflows", "executions", "steps", "attempts", "usage")}
        counts["skipped_records"] = len(result.skips)
        rows.append({
            C.run_id: f"import-{uuid.uuid4()}", C.cloud: cloud, C.scope: f"import:{cloud}",
            C.started_at: started, C.ended_at: ended,
            C.status: (RunStatus.PARTIAL if result.skips else RunStatus.SUCCEEDED).value,
            C.watermark: None, C.counts: json.dumps(counts),
            C.error: None,
            C.details: json.dumps({"files": result.files, "formats": result.formats,
                                   "unknown_event_types": result.unknown_event_types}),
        })
    return rows


def import_files(store: "Store", paths: list[Path], *, cloud: str | None = None, fmt: str | None = None,
                 execution_id: str | None = None) -> ImportResult:
    """Read, transform and store native files; all files are checked before the first write."""
    started = dt.datetime.now(UTC)
    result = ImportResult(files=len(paths))
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise NativeFormatError(missing[0], "file", "no such file")
    documents = list(read_files(paths, cloud=cloud, fmt=fmt, execution_id=execution_id, seen_at=started))
    batch = transform_documents(documents, result)
    result.skips = batch.skips
    result.unknown_event_types = batch.unknown_event_types
    complete = assemble_batch(batch, store)
    complete.collection_runs.extend(import_run_rows(result, complete, started))
    result.written = store.write(complete)
    return result
