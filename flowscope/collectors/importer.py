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

import codecs
import datetime as dt
import gc
import gzip
import json
import os
import re
import uuid
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import orjson
import yaml

from flowscope import bounded_yaml
from flowscope.collectors.assemble import assemble_batch
from flowscope.collectors.deep_json import loads_keeping_deep_definitions
from flowscope.collectors.moved import with_moved
from flowscope.collectors.native import (
    DEFER_ASSEMBLE,
    END_WITHOUT_START,
    ImportContext,
    NativeFormatError,
    StoredRows,
    StreamKey,
    cloud_of,
    import_options_of,
)
from flowscope.collectors.registry import transforms_for
from flowscope.collectors.sink import gc_paused
from flowscope.collectors.store_upgrades import Upgraded, upgrade_store
from flowscope.collectors.streaming import (
    EXPORT_LINE_PREFIX,
    Chunk,
    ExecutionGroups,
    read_records,
    sniff_json_lines,
)
from flowscope.collectors.upkeep import compact_crowded
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
from flowscope.runstate import IMPORT_SCOPE_PREFIX, WRITER_KEY, writer_details

if TYPE_CHECKING:
    from flowscope.collectors.upgrade_once import Say
    from flowscope.store import Store

CLOUD_ORDER = (Cloud.AWS, Cloud.AZURE, Cloud.GCP)
LineOf = Callable[[str, int], "int | None"]
"""(array key, index) -> 1-based line where that record starts ("" = the top-level list)."""


class NothingImportedError(ValueError):
    """Every record of the import was skipped (or there were none): nothing usable, nothing written."""

    def __init__(self, skips: list[Skip], empty: list[str] | None = None,
                 unread: Mapping[str, int] | None = None) -> None:
        empty, unread = empty or [], dict(unread or {})
        said = f"; {len(empty)} document(s) an empty list or file, a query that found nothing: " \
            f"{', '.join(empty[:5])}{' ...' if len(empty) > 5 else ''}" if empty else ""
        # records of the format but of kinds not read (a page of Logic Apps triggers): said, not "0 skipped" alone
        kinds = sorted(unread.items(), key=lambda kv: (-kv[1], kv[0]))
        said += f"; {sum(unread.values())} record(s) of kinds flowscope does not read: " \
            f"{', '.join(f'{k} x{n}' for k, n in kinds[:5])}{' ...' if len(kinds) > 5 else ''}" if unread else ""
        super().__init__(f"nothing imported: {len(skips)} record(s) skipped{said}")
        self.skips = skips
        self.empty = empty
        self.unread = unread

    @classmethod
    def of(cls, result: ImportResult) -> NothingImportedError:
        """The error for an import whose `result` stored nothing: its skips, its empty documents and the kinds
        of record it did not read (the one way each place that finds nothing usable says so)."""
        return cls(result.skips, result.empty_documents, result.unknown_event_types)


@dataclass
class ImportResult:
    files: int = 0
    documents: int = 0
    formats: dict[str, int] = field(default_factory=dict)
    written: dict[str, int] = field(default_factory=dict)
    skips: list[Skip] = field(default_factory=list)
    unknown_event_types: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    empty_documents: list[str] = field(default_factory=list)
    empty_files: set[str] = field(default_factory=set)
    """Of `empty_documents`, the files with no text at all: what gcloud's default YAML prints for a query
    that found nothing."""
    """Documents that are an empty list page (`is_empty_list`): read, and said, never an unknown format."""
    new_executions: int = 0
    changed_executions: int = 0
    unchanged_executions: int = 0
    """Executions already stored exactly as this import would write them: not rewritten."""
    upgraded: Upgraded = field(default_factory=Upgraded)
    """What the one-off upgrades rewrote of what an earlier flowscope stored (`store_upgrades`)."""
    runless_executions: int = 0
    """Executions the files gave steps, attempts or usage of but no run record of (nor the store): the
    dashboard and the run measures count runs from run records, so they wait for one."""
    trigger_polls: int = 0
    """Ids a cloud keys rows by that never get a run (Logic Apps trigger polls that fired nothing: their
    usage is billed and stored), counted apart from the executions."""
    upkeep: str | None = None
    """What merging small files did after the import (`upkeep.compact_crowded`), None when nothing."""


@dataclass
class Parsed:
    """One document read from a file, and how to find a record's line in that file."""

    doc: Any
    line_of: LineOf | None = None
    part: str = ""          # "document N" of a YAML stream
    replaced: int = 0       # lone surrogates replaced by U+FFFD


def _open_text(path: Path) -> str:
    """A file's text. UTF-8, or what its first bytes say as JSON reads them (`json.detect_encoding`):
    a byte order mark, or UTF-16/32 zero bytes. Windows PowerShell 5.1 writes `az ... > runs.json`
    as UTF-16 with a BOM, and `Out-File -Encoding utf8` UTF-8 with one."""
    opener: Callable[..., Any] = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            data = handle.read()
    except (EOFError, zlib.error) as exc:      # a truncated or corrupt .gz
        raise NativeFormatError(str(path), "file", f"truncated or corrupt gzip data: {exc}") from exc
    except OSError as exc:
        raise NativeFormatError(str(path), "file", str(exc)) from exc
    return _decoded(data, str(path))


def _decoded(data: bytes, source_name: str) -> str:
    """The bytes as text, its line ends (CR LF, CR) made LF as a file opened as text reads them. Bytes that
    are not UTF-8 are named by line and the bytes before them on it (`_undecodable_at`), as the
    streamed JSON Lines path names them; bytes not the UTF-16/32 their first bytes said, by their
    offset in the file (lines read in an encoding the file is not in would mean nothing)."""
    encoding = json.detect_encoding(data[:4])
    if encoding.startswith("utf-8"):
        encoding, data = "utf-8", data.removeprefix(codecs.BOM_UTF8)    # line 1's bytes as an editor shows them
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        if encoding == "utf-8":
            raise NativeFormatError(source_name, _undecodable_at(data, exc.start), "not UTF-8 text") from None
        raise NativeFormatError(source_name, f"byte {exc.start}",
                                f"not UTF-8 text, nor {encoding.upper()} as its first bytes say") from None
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def _undecodable_at(data: bytes, offset: int) -> str:
    """``line N byte B`` of the byte at `offset`: B bytes come before it on line N (the streamed path's
    words: `streaming.read_records`)."""
    newline = b"\n"
    line_start = data.rfind(newline, 0, offset) + 1
    return f"line {data.count(newline, 0, offset) + 1} byte {offset - line_start}"


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
    file, not a crash, unless what nests too deeply is a workflow's definition (`deep_json`: kept as
    its text, which the transform says it cannot read).
    """
    stripped = text.strip()
    if not stripped:
        raise NativeFormatError(source_name, "line 1", "empty file")
    try:
        if stripped[0] in "{[":
            parsed = _parse_json(text, stripped, source_name)
        elif _EXPORT_PREFIX.match(stripped):        # a CloudWatch Logs export to S3: JSON Lines behind a time
            text = _EXPORT_PREFIX.sub("", text)
            parsed = _parse_json(text, text.strip(), source_name)
        else:
            parsed = _parse_yaml(text, source_name)      # whole: its lines as the file numbers them
        for item in parsed:
            item.doc, item.replaced = _without_lone_surrogates(item.doc) if _SURROGATE.search(text) \
                else (item.doc, 0)
    except RecursionError:
        raise NativeFormatError(source_name, "document", "nested too deeply to read") from None
    return parsed


def _loads(text: str) -> Any:
    """orjson (several times faster); the standard decoder for what orjson refuses (a lone
    surrogate, a number beyond 64 bits, NaN) and for its exact error message, line and column."""
    try:
        return orjson.loads(text)
    except ValueError:
        try:
            return json.loads(text)
        except RecursionError:      # a definition too deep to read: kept as text, the rest read (deep_json)
            return loads_keeping_deep_definitions(text)


def _parse_json(text: str, stripped: str, source_name: str) -> list[Parsed]:
    try:
        return [Parsed(_loads(stripped), _line_finder(text))]
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
            records.append(_loads(line))
        except json.JSONDecodeError as exc:
            raise NativeFormatError(source_name, f"line {number} column {exc.colno}",
                                    f"invalid JSON Lines record: {exc.msg}") from exc
        numbers.append(number)
    return [Parsed(records, lambda key, index: numbers[index] if not key and index < len(numbers) else None)]


def _parse_yaml(text: str, source_name: str) -> list[Parsed]:
    try:
        docs = [d for d in bounded_yaml.safe_load_all(text) if d is not None]
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


_EXPORT_PREFIX = re.compile("^" + EXPORT_LINE_PREFIX, re.MULTILINE)


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


_PAGE_KEYS = frozenset({"nextLink", "nextPageToken", "nextToken", "totalSize", "unreachable"})
"""What a list response holds besides its list: the next page's token or link, counts."""


def is_empty_list(doc: Any) -> bool:
    """A list response that found nothing: ``[]`` (gcloud's JSON), ``{"value": [], "nextLink": ...}``
    (ARM), ``{"executions": []}`` (list-executions), ``{}`` (Google REST omits an empty list). No
    format can be told from it, and none is needed: it holds no record."""
    if isinstance(doc, list):
        return not doc
    if not isinstance(doc, dict):
        return False
    lists = [value for value in doc.values() if isinstance(value, list)]
    return not any(lists) and all(isinstance(value, list) or key in _PAGE_KEYS for key, value in doc.items())


def handler_for(fmt: str) -> Callable[[Any, ImportContext], Batch]:
    """The transform of `--format fmt`; a ValueError naming the formats there are for one that is not
    (`--format history` said only "unknown format 'history'", and no help lists them)."""
    try:
        formats = transforms_for(cloud_of(fmt)).FORMATS
        return formats[fmt]
    except (ValueError, KeyError):
        raise ValueError(f"unknown format {fmt!r}; formats: {', '.join(known_formats())}") from None


def _check_format(cloud: str | None, fmt: str | None) -> None:
    """ValueError for a `--format` that is not of `--cloud`, or names no format, before any file is read."""
    if fmt and cloud and cloud_of(fmt) != cloud:
        raise ValueError(f"--format {fmt} is not a format of --cloud {cloud}")
    if fmt:
        handler_for(fmt)


def known_formats() -> list[str]:
    """Every format `--format` takes, cloud by cloud ("aws.history", "gcp.step_entries", ...)."""
    return [name for cloud in Cloud for name in sorted(transforms_for(cloud).FORMATS)]


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
          seen_at: dt.datetime, warnings: list[str] | None = None,
          empty: list[str] | None = None, empty_files: set[str] | None = None) -> Iterator[Loaded]:
    """Each document of the files with its format. An empty list page (`is_empty_list`) or an empty file
    (also added to `empty_files`) is named in `empty` and left out, when given: a query that found nothing
    is no unknown format, nor a bad file."""
    _check_format(cloud, fmt)
    for path in paths:
        name = str(path)
        text = _open_text(path)
        if empty is not None and not text.strip():
            empty.append(name)
            if empty_files is not None:
                empty_files.add(name)
            continue
        for parsed in parse_documents(text, name):
            where = f"{name} ({parsed.part})" if parsed.part else name
            if parsed.replaced and warnings is not None:
                warnings.append(f"{where}: {parsed.replaced} lone UTF-16 surrogate(s) replaced by U+FFFD")
            if not fmt and empty is not None and is_empty_list(parsed.doc):
                empty.append(where)
                continue
            try:
                found = fmt or detect_format(parsed.doc, where, cloud)
            except NativeFormatError:
                one = _as_one_record(parsed, text, cloud)
                if one is None:
                    raise
                found = one
            yield Loaded(found, parsed.doc, ImportContext(source_name=where, seen_at=seen_at, source=Source.IMPORT,
                                                          execution_id=execution_id), parsed.line_of)


def _as_one_record(parsed: Parsed, text: str, cloud: str | None) -> str | None:
    """The format of a lone object no cloud reads as a document but one reads as a list of one record
    (a JSON Lines file of one line: one CloudWatch Logs record); `parsed` then holds that list."""
    if not isinstance(parsed.doc, dict) or parsed.part:
        return None
    try:
        found = detect_format([parsed.doc], "", cloud)
    except NativeFormatError:
        return None
    line = text.count("\n", 0, len(text) - len(text.lstrip())) + 1
    parsed.doc, parsed.line_of = [parsed.doc], lambda key, index: line if not key and index == 0 else None
    return found


def read_files(paths: Iterable[Path], *, cloud: str | None = None, fmt: str | None = None,
               execution_id: str | None = None, seen_at: dt.datetime | None = None,
               ) -> Iterator[tuple[str, Any, ImportContext]]:
    """Parse and detect each file; yields (format, document, context)."""
    for item in _load(paths, cloud=cloud, fmt=fmt, execution_id=execution_id,
                      seen_at=seen_at or dt.datetime.now(UTC)):
        yield item.fmt, item.doc, item.ctx


NAMED_BY_EXECUTION_ID = frozenset({"aws.history", "gcp.step_entries"})
"""The formats whose documents may not name their execution and read it from `--execution-arn`
(`ImportContext.execution_id`): a bare get-execution-history, GCP step entries without their resource names."""


def _check_execution_id_read(formats: list[str]) -> None:
    """ValueError, before anything is read further or written, for an `--execution-arn` no document reads:
    given with CloudWatch log records or an Azure runs list (a history meant, the wrong file passed), it
    was ignored without a word, and "1 new execution" read as that history imported. Empty files alone
    are "nothing imported" (exit 3), said as such."""
    if not formats or NAMED_BY_EXECUTION_ID.intersection(formats):
        return
    read = ", ".join(f"{formats.count(f)} {f}" for f in sorted(set(formats)))
    raise ValueError("--execution-arn names the execution of a bare get-execution-history (aws stepfunctions "
                     f"get-execution-history output), and no file here is one (read: {read}): it would change "
                     "nothing; leave it out, or add the history it names")


def _pair_aws_histories(loaded: list[Loaded]) -> None:
    """Give each bare get-execution-history the describe-execution imported with it (by start time).
    NativeFormatError for histories of different executions (started at other times) under one
    --execution-arn: each was stored as that one execution, the last read replacing the others, and
    "1 new execution" said nothing of it. Snapshots of one execution (fetched while it ran, then after)
    start alike and are settled as ever."""
    aws = transforms_for(Cloud.AWS)
    named = [item for item in loaded if item.fmt == aws.HISTORY and item.ctx.execution_id]
    starts = {start: item for item in named if (start := aws.history_start(item.doc)) is not None}
    if len(starts) > 1:
        names = ", ".join(f"{item.ctx.source_name} (started {start.isoformat()})" for start, item in starts.items())
        raise NativeFormatError(list(starts.values())[1].ctx.source_name, "document",
                                f"--execution-arn names one execution, and these get-execution-history documents "
                                f"are of {len(starts)} executions: {names}; import each history with its own "
                                "--execution-arn, or together with its describe-execution JSON and without "
                                "--execution-arn")
    histories = [item for item in loaded if item.fmt == aws.HISTORY and not item.ctx.execution_id]
    if not histories:
        return
    describes = [item for item in loaded if item.fmt == aws.EXECUTION and aws.is_describe_execution(item.doc)]
    pairs = aws.pair_histories([(h.ctx.source_name, h.doc) for h in histories],
                               [(d.ctx.source_name, d.doc) for d in describes])
    used = {id(doc) for doc in pairs.values()}
    source_of = {id(d.doc): d.ctx.source_name for d in describes}
    for item in histories:
        describe = pairs[item.ctx.source_name]
        item.ctx = replace(item.ctx, options={**item.ctx.options, "describe_execution": describe,
                                              aws.DESCRIBE_SOURCE: source_of[id(describe)]})
    for item in describes:
        item.paired = id(item.doc) in used


def _share_import_options(loaded: list[Loaded], stored: Callable[[str], StoredRows]) -> None:
    """Give each cloud's documents the options its `import_options` hook reads from all of them together
    (Azure: the loop visit a repetition record in one file names, for a request history in another; GCP: each
    workflow's current revision, the newest of all its files and the store, so the others are dated as past
    ones). `stored(cloud)`: what the hook may read of that cloud's stored rows (`_Writer.stored_rows_of`)."""
    by_cloud: dict[str, list[Loaded]] = {}
    for item in loaded:
        by_cloud.setdefault(cloud_of(item.fmt), []).append(item)
    for cloud, items in by_cloud.items():
        hook = import_options_of(transforms_for(cloud))
        options = hook([(item.fmt, item.doc) for item in items], stored(cloud)) if hook is not None else {}
        if options:
            for item in items:
                item.ctx = replace(item.ctx, options={**item.ctx.options, **options})


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


def _has_rows(batch: Batch) -> bool:
    return any(batch.rows(table) for table in TABLES if table != "collection_runs")


_IGNORED = frozenset({C.collected_at})
"""When an import read a record says nothing about the execution: not a change."""

ExecKey = tuple[str, str]


def _fingerprints(rows_by_table: dict[str, list[dict[str, Any]]]) -> dict[ExecKey, Counter]:
    """(cloud, execution_id) -> its rows in every execution table, as the store would hold them."""
    from flowscope.store.validate import without_secrets  # the store's own rule for what it keeps

    prints: dict[ExecKey, Counter] = {}
    for table in EXECUTION_TABLES:
        rows = rows_by_table.get(table) or []
        if not rows:
            continue
        names = [f.name for f in TABLES[table].schema if f.name not in _IGNORED]
        for row in without_secrets(to_arrow(table, rows)).select(names).to_pylist():
            key = (row[C.cloud], row[C.execution_id])
            prints.setdefault(key, Counter())[(table, *row.values())] += 1
    return prints


def _execution_keys(batch: Batch) -> set[ExecKey]:
    return {(row[C.cloud], row[C.execution_id]) for table in EXECUTION_TABLES for row in batch.rows(table)}


@dataclass
class _Tally:
    """Executions seen new / changed / unchanged over every write of one import."""

    new: set[ExecKey] = field(default_factory=set)
    changed: set[ExecKey] = field(default_factory=set)
    unchanged: set[ExecKey] = field(default_factory=set)
    with_run: set[ExecKey] = field(default_factory=set)      # an execution row written or already stored
    runless: set[ExecKey] = field(default_factory=set)       # steps, attempts or usage only, so far
    polls: set[ExecKey] = field(default_factory=set)         # ids that never get a run (`_has_no_run`)

    def settle(self, result: ImportResult) -> None:
        """An execution written twice by one import (read again after a late record) counts once. Ids
        that never get a run (Logic Apps trigger polls that fired nothing) are counted apart, not as
        executions: "12,345 new executions" read of an export with 10,000 polls and 2,345 runs."""
        polls = self.polls
        result.new_executions = len(self.new - polls)
        result.changed_executions = len(self.changed - self.new - polls)
        result.unchanged_executions = len(self.unchanged - self.new - self.changed - polls)
        result.runless_executions = len(self.runless - self.with_run)
        result.trigger_polls = len(polls)


def _drop_unchanged(batch: Batch, stored: dict[ExecKey, Counter], tally: _Tally, imported: set[ExecKey]) -> None:
    """Leave executions already stored exactly as they would be written out of the batch, and count
    new / changed / unchanged executions of the files (`imported`): a re-import of the same file
    then writes nothing. Stored executions re-assembled because their workflow arrived count too
    when they changed, not otherwise. `stored`: fingerprints of the stored rows `assemble_batch`
    read for this batch; only executions found there are fingerprinted again."""
    keys = _execution_keys(batch)
    overlap = keys & stored.keys()
    has_run = {(row[C.cloud], row[C.execution_id]) for row in batch.executions}
    has_run |= {key for key in overlap if any(entry[0] == "executions" for entry in stored[key])}
    tally.with_run |= has_run
    polls = {key for key in keys - has_run if _has_no_run(key)}
    tally.polls |= polls
    tally.runless |= keys - has_run - polls
    incoming = _fingerprints({table: [row for row in batch.rows(table)
                                      if (row[C.cloud], row[C.execution_id]) in overlap]
                              for table in EXECUTION_TABLES}) if overlap else {}
    unchanged = {key for key in overlap if incoming.get(key) == stored[key]}
    tally.unchanged |= unchanged & imported
    tally.new |= keys - overlap
    tally.changed |= overlap - unchanged
    if unchanged:
        for table in EXECUTION_TABLES:
            setattr(batch, table, [row for row in batch.rows(table)
                                   if (row[C.cloud], row[C.execution_id]) not in unchanged])


def _has_no_run(key: ExecKey) -> bool:
    """An execution id its cloud says never gets a run record (`HAS_NO_RUN`: Logic Apps trigger polls)."""
    has_no_run = getattr(transforms_for(key[0]), "HAS_NO_RUN", None)
    return has_no_run is not None and has_no_run(key[1])


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


# ---------------------------------------------------------------- streamed files

Progress = Callable[[str], None]
"""Where an import says how far it is, a line at a time ("orders.jsonl: line 1,200,000 read, 14,000 executions
stored"): the CLI's spinner. Paths and counts only, never a record's content."""


def _silent(_text: str) -> None:
    """The default `Progress`: says nothing."""


CHUNK_RECORDS = 100_000
"""Records of whole executions transformed, assembled and committed together when streaming."""
COLLECT_EVERY = 10
"""Chunks between two collections of cyclic garbage (each costs about as much as one per chunk)."""


@dataclass
class _Streamed:
    path: Path
    fmt: str
    key: StreamKey
    sample: list[Any]


def _stream_plan(path: Path, *, cloud: str | None, fmt: str | None) -> _Streamed | None:
    """A JSON Lines file of a format its cloud can stream (`STREAMS`), or None: read it whole."""
    sample = sniff_json_lines(path)
    if sample is None:
        return None
    try:
        found = fmt or detect_format(sample, str(path), cloud)
    except NativeFormatError:
        return None                      # the whole-document path detects from every record and says why
    streams: dict[str, StreamKey] = getattr(transforms_for(cloud_of(found)), "STREAMS", {})
    key = streams.get(found)
    return _Streamed(path, found, key, sample) if key is not None else None


def _call_handler(handler: Callable[[Any, ImportContext], Batch], doc: Any, ctx: ImportContext, fmt: str,
                  where: str = "document") -> Batch:
    """A handler that fails on something it did not foresee stops the import with an error naming
    the file (and `where` in it), never a traceback."""
    try:
        return handler(doc, ctx)
    except NativeFormatError:
        raise
    except RecursionError:
        raise NativeFormatError(ctx.source_name, where, "nested too deeply to read") from None
    except Exception as exc:  # noqa: BLE001 - a hostile file must give an error naming it, not a crash
        raise NativeFormatError(ctx.source_name, where,
                                f"could not be read as {fmt}: {type(exc).__name__}: {exc}") from None


class _FileStream:
    """One streamed file: chunks of whole executions through the format's handler to the writer."""

    def __init__(self, plan: _Streamed, ctx: ImportContext, result: ImportResult, writer: _Writer,
                 progress: Progress = _silent) -> None:
        self.plan, self.ctx, self.result, self.writer = plan, ctx, result, writer
        self.progress = progress
        self.handler = handler_for(plan.fmt)
        self.reported: set[tuple[str, str]] = set()
        self.chunks = 0

    def run(self) -> None:
        plan, name = self.plan, self.ctx.source_name
        _call_handler(self.handler, plan.sample, self.ctx, plan.fmt)   # the format's own whole-file checks
        groups = ExecutionGroups(plan.key)
        replaced = 0
        for block in read_records(plan.path, name, _without_lone_surrogates):
            replaced += block.replaced
            for number in groups.add_all(block):
                self._skip(Skip(name, f"line {number}", "not a record of an execution (no readable execution id)"))
            if groups.ready_records >= CHUNK_RECORDS:
                self._transform(groups.take_ready())
            if block.lines:
                self.progress(f"{name}: line {block.lines[-1]:,} read, {self.writer.executions_written:,} "
                              "execution(s) stored")
        self._transform(groups.take_all())
        if groups.revisit:
            # records of executions already written came later: read them again, whole
            again = Chunk()
            for block in read_records(plan.path, name, _without_lone_surrogates):
                for number, record in zip(block.lines, block.records, strict=True):
                    found = plan.key(record)
                    if found is not None and found[0] in groups.revisit:
                        again.records.append(record)
                        again.lines.append(number)
            self._transform(again)
        if replaced:
            self.result.warnings.append(f"{name}: {replaced} lone UTF-16 surrogate(s) replaced by U+FFFD")

    def _transform(self, chunk: Chunk) -> None:
        if not chunk.records:
            return
        self._transform_chunk(chunk)
        # the cyclic collector is paused for the whole import (it would rescan the open records
        # again and again); the little cyclic garbage a chunk leaves (the store's writers) is
        # collected every few chunks, so memory does not grow with the file
        self.chunks += 1
        if self.chunks % COLLECT_EVERY == 0:
            gc.collect(1)

    def _transform_chunk(self, chunk: Chunk) -> None:
        part = _call_handler(self.handler, chunk.records, self.ctx, self.plan.fmt,
                             where=f"lines {min(chunk.lines)}-{max(chunk.lines)}")
        for skip in part.skips:
            self._skip(_with_line(skip, chunk.line_of))
        for event_type, n in part.unknown_event_types.items():
            self.result.unknown_event_types[event_type] = self.result.unknown_event_types.get(event_type, 0) + n
        self.result.warnings.extend(w for w in part.warnings if w not in self.result.warnings)
        self.writer.add(part, whole=self.plan.key is not None)

    def _skip(self, skip: Skip) -> None:
        """Report a skip once (a chunk read again after a late record reports its skips again)."""
        seen = (skip.location, skip.reason)
        if seen not in self.reported:
            self.reported.add(seen)
            self.result.skips.append(skip)


# ---------------------------------------------------------------- the import

EXPORT_MARKERS = frozenset({"aws-logs-write-test"})
"""Files an export writes beside its data, no record in them: CloudWatch Logs puts
``aws-logs-write-test`` ("Permission Check Successful") at the prefix of every export to S3."""


def files_of(paths: list[Path]) -> list[Path]:
    """The files to read: a file as given, a folder as every file under it (sorted, hidden ones and
    `EXPORT_MARKERS` left out: an export is often a folder of parts), each once, also when named again
    by another path (`dir/../dir/f.json`, a symbolic link, a folder holding it). A path that is neither
    is an error."""
    out: dict[Path, Path] = {}          # the file itself (resolved) -> the path it was first named by
    for path in paths:
        if path.is_dir():
            found = sorted(f for f in path.rglob("*")
                           if f.is_file() and f.name not in EXPORT_MARKERS
                           and not any(part.startswith(".") for part in f.relative_to(path).parts))
            if not found:
                raise NativeFormatError(str(path), "folder", "holds no files")
            for f in found:
                out.setdefault(f.resolve(), f)
        elif path.is_file():
            out.setdefault(path.resolve(), path)
        else:
            raise NativeFormatError(str(path), "file", "no such file" if not path.exists() else "not a file")
    return list(out.values())


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
