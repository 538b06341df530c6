"""`flowscope import`: read exported native files, detect their format, transform, store.

Every file is read and transformed before anything is written, so a bad file stops the import
with an error naming it (and its line where one is known), and the store is left as it was (a
store that does not exist yet is created only when there is something to write). One
bad record inside a good file is skipped, counted and reported with its file and line. An import
in which nothing was usable fails (`NothingImportedError`) and writes nothing, not even a
collection_runs row. Writing replaces by execution; executions already stored exactly as they
would be written are left alone, so importing the same file twice changes nothing.

Files are JSON, JSON Lines or YAML (gcloud's default output; a ``---`` stream is read document by
document), optionally gzipped. A lone UTF-16 surrogate escaped in the JSON (``"\\ud800"``: no
text can hold it) is replaced by U+FFFD and reported, so the rest of the file still imports.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import re
import uuid
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import yaml

from flowscope.collectors.assemble import assemble_batch
from flowscope.collectors.native import ImportContext, NativeFormatError
from flowscope.collectors.registry import transforms_for
from flowscope.model import (
    EXECUTION_TABLES,
    TABLES,
    UTC,
    Batch,
    C,
    Cloud,
    RunStatus,
    Skip,
    Source,
    to_arrow,
)

if TYPE_CHECKING:
    from flowscope.store import Store

CLOUD_ORDER = (Cloud.AWS, Cloud.AZURE, Cloud.GCP)
LineOf = Callable[[str, int], "int | None"]
"""(array key, index) -> 1-based line where that record starts ("" = the top-level list)."""


class NothingImportedError(ValueError):
    """Every record of the import was skipped (or there were none): nothing usable, nothing written."""

    def __init__(self, skips: list[Skip]) -> None:
        super().__init__(f"nothing imported: {len(skips)} record(s) skipped")
        self.skips = skips


@dataclass
class ImportResult:
    files: int = 0
    documents: int = 0
    formats: dict[str, int] = field(default_factory=dict)
    written: dict[str, int] = field(default_factory=dict)
    skips: list[Skip] = field(default_factory=list)
    unknown_event_types: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    new_executions: int = 0
    changed_executions: int = 0
    unchanged_executions: int = 0
    """Executions already stored exactly as this import would write them: not rewritten."""


@dataclass
class Parsed:
    """One document read from a file, and how to find a record's line in that file."""

    doc: Any
    line_of: LineOf | None = None
    part: str = ""          # "document N" of a YAML stream
    replaced: int = 0       # lone surrogates replaced by U+FFFD


def _open_text(path: Path) -> str:
    opener: Callable[..., Any] = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            return handle.read()
    except UnicodeDecodeError as exc:
        raise NativeFormatError(str(path), f"byte {exc.start}", "not UTF-8 text") from exc
    except (EOFError, zlib.error) as exc:      # a truncated or corrupt .gz
        raise NativeFormatError(str(path), "file", f"truncated or corrupt gzip data: {exc}") from exc
    except OSError as exc:
        raise NativeFormatError(str(path), "file", str(exc)) from exc


def parse_document(text: str, source_name: str) -> Any:
    """A file's document: JSON, JSON Lines (one object per line) as a list, or YAML (a ``---``
    stream of several documents as a list).

    A truncated or malformed file raises NativeFormatError naming the line and column.
    """
    parsed = parse_documents(text, source_name)
    return parsed[0].doc if len(parsed) == 1 and not parsed[0].part else [p.doc for p in parsed]


def parse_documents(text: str, source_name: str) -> list[Parsed]:
    """A file's documents, each with a way to find its records' lines.

    Text that starts like JSON (``{`` or ``[``) is JSON or JSON Lines; anything else is read as
    YAML, which is what gcloud prints by default. Too deeply nested input is an error naming the
    file, not a crash.
    """
    stripped = text.strip()
    if not stripped:
        raise NativeFormatError(source_name, "line 1", "empty file")
    try:
        if stripped[0] in "{[":
            parsed = _parse_json(text, stripped, source_name)
        else:
            parsed = _parse_yaml(stripped, source_name)
        for item in parsed:
            item.doc, item.replaced = _without_lone_surrogates(item.doc) if _SURROGATE.search(text) \
                else (item.doc, 0)
    except RecursionError:
        raise NativeFormatError(source_name, "document", "nested too deeply to read") from None
    return parsed


def _parse_json(text: str, stripped: str, source_name: str) -> list[Parsed]:
    try:
        return [Parsed(json.loads(stripped), _line_finder(text))]
    except json.JSONDecodeError as whole_error:
        lines = stripped.splitlines()
        if not _is_json_object(lines[0]):
            raise NativeFormatError(source_name, f"line {whole_error.lineno} column {whole_error.colno}",
                                    f"invalid JSON: {whole_error.msg}") from whole_error
    records: list[Any] = []
    numbers: list[int] = []
    offset = len(text) - len(text.lstrip())
    first = text.count("\n", 0, offset)           # blank lines before the first record
    for number, line in enumerate(lines, start=1 + first):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise NativeFormatError(source_name, f"line {number} column {exc.colno}",
                                    f"invalid JSON Lines record: {exc.msg}") from exc
        numbers.append(number)
    return [Parsed(records, lambda key, index: numbers[index] if not key and index < len(numbers) else None)]


def _parse_yaml(stripped: str, source_name: str) -> list[Parsed]:
    try:
        docs = [d for d in yaml.safe_load_all(stripped) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}" if mark is not None else "document"
        problem = getattr(exc, "problem", None) or str(exc)
        raise NativeFormatError(source_name, where, f"neither JSON nor valid YAML: {problem}") from None
    if not docs or not all(isinstance(d, (dict, list)) for d in docs):
        raise NativeFormatError(source_name, "line 1", "not a JSON or YAML document (an object or a list)")
    docs = [_plain(d) for d in docs]
    if len(docs) == 1:
        return [Parsed(docs[0])]
    return [Parsed(d, part=f"document {n}") for n, d in enumerate(docs, start=1)]


def _plain(doc: Any) -> Any:
    """YAML's own types as JSON would give them: timestamps and dates as ISO strings."""
    def convert(value: Any) -> Any:
        if isinstance(value, (dt.datetime, dt.date)):
            return value.isoformat()
        return value
    return _map_scalars(doc, convert)


_SURROGATE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_LONE = re.compile("[\ud800-\udfff]")


def _without_lone_surrogates(doc: Any) -> tuple[Any, int]:
    """Lone UTF-16 surrogates (no UTF-8 text, Arrow or Delta can hold them) -> U+FFFD.

    A valid escaped pair was already joined by the JSON decoder, so any surrogate left is lone.
    """
    count = 0

    def clean(value: Any) -> Any:
        nonlocal count
        if isinstance(value, str) and _LONE.search(value):
            value, n = _LONE.subn("\ufffd", value)
            count += n
        return value
    return _map_scalars(doc, clean), count


def _map_scalars(doc: Any, convert: Callable[[Any], Any]) -> Any:
    """Apply `convert` to every scalar and dict key of a parsed document, in place, without recursion."""
    if not isinstance(doc, (dict, list)):
        return convert(doc)
    stack: list[Any] = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            for i, value in enumerate(node):
                if isinstance(value, (dict, list)):
                    stack.append(value)
                else:
                    node[i] = convert(value)
            continue
        for key in list(node):
            value = node[key]
            if isinstance(value, (dict, list)):
                stack.append(value)
            else:
                node[key] = convert(value)
            new_key = convert(key)
            if new_key != key or type(new_key) is not type(key):
                node[new_key] = node.pop(key)
    return doc


_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def _skip_ws(text: str, pos: int) -> int:
    """The position of the first non-whitespace character at or after `pos`."""
    blank = _WS.match(text, pos)     # matches always (possibly empty): the None branch is for the type checker
    return blank.end() if blank is not None else pos


def _line_finder(text: str) -> LineOf:
    """`LineOf` for a JSON document: each array's element lines are found once, on first use."""
    found: dict[str, list[int]] = {}

    def line_of(key: str, index: int) -> int | None:
        if key not in found:
            found[key] = _record_lines(text, key)
        lines = found[key]
        return lines[index] if index < len(lines) else None
    return line_of


def _record_lines(text: str, key: str) -> list[int]:
    """The 1-based line where each element of the document's array starts: the top-level array
    (key ""), or the array under top-level `key`. Scans the text with the JSON decoder (only when
    a skip needs it), so it is exact whatever the formatting."""
    lines: list[int] = []
    try:
        pos = _skip_ws(text, 0)
        if key:
            if text[pos] != "{":
                return lines
            pos += 1
            while True:
                pos = _skip_ws(text, pos)
                if text[pos] == "}":
                    return lines
                name, pos = _DECODER.raw_decode(text, pos)       # the member's name, a JSON string
                pos = _skip_ws(text, pos) + 1             # the colon
                pos = _skip_ws(text, pos)
                if name == key:
                    break
                _, pos = _DECODER.raw_decode(text, pos)
                pos = _skip_ws(text, pos)
                if text[pos] == ",":
                    pos += 1
        if text[pos] != "[":
            return lines
        pos += 1
        line, counted = 1, 0
        while True:
            pos = _skip_ws(text, pos)
            if text[pos] == "]":
                return lines
            line += text.count("\n", counted, pos)
            counted = pos
            lines.append(line)
            _, pos = _DECODER.raw_decode(text, pos)
            pos = _skip_ws(text, pos)
            if text[pos] != ",":
                return lines
            pos += 1
    except (IndexError, ValueError, RecursionError):
        return lines


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except (json.JSONDecodeError, RecursionError):
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


@dataclass
class Loaded:
    """A document ready to transform: its format, context and where its records are in the file."""

    fmt: str
    doc: Any
    ctx: ImportContext
    line_of: LineOf | None = None
    paired: bool = False       # a describe-execution consumed by the history it was paired with


def _load(paths: Iterable[Path], *, cloud: str | None, fmt: str | None, execution_id: str | None,
          seen_at: dt.datetime, warnings: list[str] | None = None) -> Iterator[Loaded]:
    if fmt and cloud and not fmt.startswith(f"{cloud}."):
        raise ValueError(f"--format {fmt} is not a format of --cloud {cloud}")
    if fmt:
        handler_for(fmt)
    for path in paths:
        name = str(path)
        for parsed in parse_documents(_open_text(path), name):
            where = f"{name} ({parsed.part})" if parsed.part else name
            if parsed.replaced and warnings is not None:
                warnings.append(f"{where}: {parsed.replaced} lone UTF-16 surrogate(s) replaced by U+FFFD")
            found = fmt or detect_format(parsed.doc, where, cloud)
            yield Loaded(found, parsed.doc, ImportContext(source_name=where, seen_at=seen_at, source=Source.IMPORT,
                                                          execution_id=execution_id), parsed.line_of)


def read_files(paths: Iterable[Path], *, cloud: str | None = None, fmt: str | None = None,
               execution_id: str | None = None, seen_at: dt.datetime | None = None,
               ) -> Iterator[tuple[str, Any, ImportContext]]:
    """Parse and detect each file; yields (format, document, context)."""
    for item in _load(paths, cloud=cloud, fmt=fmt, execution_id=execution_id,
                      seen_at=seen_at or dt.datetime.now(UTC)):
        yield item.fmt, item.doc, item.ctx


def _pair_aws_histories(loaded: list[Loaded]) -> None:
    """Give each bare get-execution-history the describe-execution imported with it (by start time)."""
    aws = transforms_for(Cloud.AWS)
    histories = [item for item in loaded if item.fmt == aws.HISTORY and not item.ctx.execution_id]
    if not histories:
        return
    describes = [item for item in loaded if item.fmt == aws.EXECUTION and aws.is_describe_execution(item.doc)]
    pairs = aws.pair_histories([(h.ctx.source_name, h.doc) for h in histories],
                               [(d.ctx.source_name, d.doc) for d in describes])
    used = {id(doc) for doc in pairs.values()}
    for item in histories:
        describe = pairs[item.ctx.source_name]
        item.ctx = replace(item.ctx, options={**item.ctx.options, "describe_execution": describe})
    for item in describes:
        item.paired = id(item.doc) in used


_INDEXED = re.compile(r"^(?P<key>[A-Za-z_]\w*)?\[(?P<index>\d+)\]\.?(?P<rest>.*)$")


def _with_line(skip: Skip, line_of: LineOf | None) -> Skip:
    """A skip located by record index (``events[3]``) -> by the line where that record starts."""
    if line_of is None:
        return skip
    found = _INDEXED.match(skip.location)
    if found is None:
        return skip
    line = line_of(found["key"] or "", int(found["index"]))
    if line is None:
        return skip
    rest = found["rest"].strip()
    return replace(skip, location=f"line {line}" + (f" ({rest})" if rest else ""))


def _transform(loaded: list[Loaded], result: ImportResult) -> Batch:
    """Every document to one Batch. A handler that fails on something it did not foresee stops the
    import with an error naming the file, never a traceback."""
    batch = Batch()
    for item in loaded:
        result.documents += 1
        result.formats[item.fmt] = result.formats.get(item.fmt, 0) + 1
        if item.paired:
            continue
        try:
            part = handler_for(item.fmt)(item.doc, item.ctx)
        except NativeFormatError:
            raise
        except RecursionError:
            raise NativeFormatError(item.ctx.source_name, "document", "nested too deeply to read") from None
        except Exception as exc:  # noqa: BLE001 - a hostile file must give an error naming it, not a crash
            raise NativeFormatError(item.ctx.source_name, "document",
                                    f"could not be read as {item.fmt}: {type(exc).__name__}: {exc}") from None
        part.skips = [_with_line(skip, item.line_of) for skip in part.skips]
        batch.extend(part)
    return batch


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
                                   "unknown_event_types": result.unknown_event_types,
                                   "unchanged_executions": result.unchanged_executions,
                                   "warnings": result.warnings}),
        })
    return rows


def _has_rows(batch: Batch) -> bool:
    return any(batch.rows(table) for table in TABLES if table != "collection_runs")


_IGNORED = frozenset({C.collected_at})
"""When an import read a record says nothing about the execution: not a change."""


def _fingerprints(rows_by_table: dict[str, list[dict[str, Any]]]) -> dict[tuple[str, str], Counter]:
    """(cloud, execution_id) -> its rows in every execution table, as the store would hold them."""
    prints: dict[tuple[str, str], Counter] = {}
    for table in EXECUTION_TABLES:
        rows = rows_by_table.get(table) or []
        if not rows:
            continue
        names = [f.name for f in TABLES[table].schema if f.name not in _IGNORED]
        for row in to_arrow(table, rows).select(names).to_pylist():
            key = (row[C.cloud], row[C.execution_id])
            prints.setdefault(key, Counter())[(table, *row.values())] += 1
    return prints


def _drop_unchanged(batch: Batch, store: "Store", result: ImportResult, imported: set[tuple[str, str]]) -> None:
    """Leave executions already stored exactly as they would be written out of the batch, and count
    new / changed / unchanged executions of the files (`imported`): a re-import of the same file
    then writes nothing. Stored executions re-assembled because their workflow arrived count too
    when they changed, not otherwise."""
    incoming = _fingerprints({table: batch.rows(table) for table in EXECUTION_TABLES})
    if not incoming:
        return
    stored: dict[tuple[str, str], Counter] = {}
    by_cloud: dict[str, list[str]] = {}
    for cloud, execution_id in incoming:
        by_cloud.setdefault(cloud, []).append(execution_id)
    for cloud, ids in by_cloud.items():
        rows = store.read_execution_rows(cloud, ids)
        stored.update(_fingerprints({table: rows.rows(table) for table in EXECUTION_TABLES}))
    unchanged = {key for key, rows in incoming.items() if stored.get(key) == rows}
    result.unchanged_executions = len(unchanged & imported)
    result.new_executions = sum(1 for key in incoming if key not in stored)
    result.changed_executions = sum(1 for key in incoming if key in stored and key not in unchanged)
    if unchanged:
        for table in EXECUTION_TABLES:
            setattr(batch, table, [row for row in batch.rows(table)
                                   if (row[C.cloud], row[C.execution_id]) not in unchanged])


StoreTarget = Union["Store", str, "os.PathLike[str]", Callable[[], "Store"]]
"""Where an import writes: an open Store, a store path, or a function that opens one."""


def _open_target(target: StoreTarget) -> "Store":
    from flowscope.store import Store

    if isinstance(target, (str, os.PathLike)):
        return Store(os.fspath(target))
    if isinstance(target, Store):
        return target
    return target()


def import_files(store: StoreTarget, paths: list[Path], *, cloud: str | None = None, fmt: str | None = None,
                 execution_id: str | None = None) -> ImportResult:
    """Read, transform and store native files; all files are checked before the first write.

    `store` is an open Store, or a path (or a function returning a Store) that is opened, and
    created if new, only once every file has been read and something is to be written: a refused
    import into a new path leaves no empty store folder behind.

    Raises NativeFormatError (a file that cannot be read) or NothingImportedError (no usable
    record in any file); in both cases nothing is written.
    """
    started = dt.datetime.now(UTC)
    result = ImportResult(files=len(paths))
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise NativeFormatError(missing[0], "file", "no such file")
    loaded = list(_load(paths, cloud=cloud, fmt=fmt, execution_id=execution_id, seen_at=started,
                        warnings=result.warnings))
    _pair_aws_histories(loaded)
    batch = _transform(loaded, result)
    result.skips = batch.skips
    result.unknown_event_types = batch.unknown_event_types
    result.warnings.extend(w for w in batch.warnings if w not in result.warnings)
    if not _has_rows(batch):
        raise NothingImportedError(batch.skips)
    imported = {(row[C.cloud], row[C.execution_id]) for table in EXECUTION_TABLES for row in batch.rows(table)}
    target = _open_target(store)
    complete = assemble_batch(batch, target, transforms_for=transforms_for)
    _drop_unchanged(complete, target, result, imported)
    complete.collection_runs.extend(import_run_rows(result, complete, started))
    result.written = target.write(complete)
    return result
