"""Big JSON Lines exports read in bounded memory: lines in order, records grouped by execution.

A CloudWatch Logs export of months of Express runs holds millions of records, one per line, in
time order: records of many executions interleave, and each execution is finished a few
hundred lines after it started. `read_records` decodes the file line by line (orjson; the
standard decoder only for a line orjson refuses, so an error names the same line and column
and a lone surrogate is still repaired), and `ExecutionGroups` holds the records of the
executions still open, handing out each one once it is whole (its format's `StreamKey` says
when), so memory is bounded by the open executions, not by the file.
"""

from __future__ import annotations

import codecs
import gzip
import json
import re
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

import orjson

from flowscope.collectors.native import NativeFormatError, StreamKey

SNIFF_RECORDS = 50
"""Records read to tell a file's format (the whole-document path reads the same first ones)."""

MAX_LINE_BYTES = 4 << 20
"""Longer than any log record (CloudWatch caps an event at 256 KB): a first line this long is a
minified document, not JSON Lines."""

EXPORT_LINE_PREFIX = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)? (?:[^\s{]\S* )?(?=\{)"
"""What starts each line of a CloudWatch Logs export to S3 (`aws logs create-export-task`: the
``000000.gz`` files: the event's time, then the log message as logged) and of `aws logs tail`'s
output (``2024-04-24T11:54:30.672000+00:00 <log stream> {...}``; ``--format short``: the time only)."""
_EXPORT_PREFIX = re.compile(b"^" + EXPORT_LINE_PREFIX.encode())


def without_export_prefix(lines: list[bytes]) -> list[bytes]:
    """Lines with their CloudWatch Logs export time prefix (`EXPORT_LINE_PREFIX`) taken off."""
    match = _EXPORT_PREFIX.match
    return [line[found.end():] if (found := match(line)) is not None else line for line in lines]


def _is_exported(line: bytes) -> bool:
    return _EXPORT_PREFIX.match(line) is not None


Cleaner = Callable[[Any], "tuple[Any, int]"]
"""A decoded record -> (the record with lone UTF-16 surrogates replaced, how many were)."""


def _open_binary(path: Path) -> IO[bytes]:
    """The file's bytes (gunzipped), after a UTF-8 byte order mark if it starts with one (Windows
    tools write it; it holds no newline, so line numbers are unchanged)."""
    handle = cast(IO[bytes], gzip.open(path, "rb")) if path.suffix == ".gz" else path.open("rb")
    try:
        if handle.read(len(codecs.BOM_UTF8)) != codecs.BOM_UTF8:
            handle.seek(0)
    except BaseException:
        handle.close()
        raise
    return handle


def sniff_json_lines(path: Path) -> list[Any] | None:
    """The first records of a JSON Lines file (at least two lines, the first an object on its
    own), or None when the file is anything else (a JSON or YAML document: read whole)."""
    first: list[Any] = []
    exported: bool | None = None     # lines of a CloudWatch Logs export to S3 (`EXPORT_LINE_PREFIX`)
    try:
        with _open_binary(path) as handle:
            for line in iter(lambda: handle.readline(MAX_LINE_BYTES), b""):
                if len(line) >= MAX_LINE_BYTES and not line.endswith(b"\n"):
                    return None  # a one-line document (minified JSON): read whole, once
                if not line.strip():
                    continue
                if exported is None:
                    exported = _is_exported(line)
                if exported:
                    line = without_export_prefix([line])[0]
                try:
                    record = orjson.loads(line)
                except ValueError:
                    return first if len(first) >= 2 else None
                if not first and not isinstance(record, dict):
                    return None
                first.append(record)
                if len(first) >= SNIFF_RECORDS:
                    break
    except (OSError, EOFError, zlib.error):
        return None          # the whole-document path reads it again and names the problem
    return first if len(first) >= 2 else None


BLOCK_BYTES = 4 << 20
"""Bytes read at a time: the lines of a block are decoded in one call (no Python loop per line)."""


@dataclass
class Block:
    """The records of consecutive lines (blank lines left out), with the line of each."""

    lines: Sequence[int]
    records: list[Any]
    replaced: int = 0          # lone UTF-16 surrogates replaced by U+FFFD


def _read_block(handle: IO[bytes], size: int) -> tuple[bytes, BaseException | None]:
    """Up to `size` bytes, and the error that stopped the read short (a truncated or corrupt .gz), if one
    did: what was decompressed before it is kept (one `read(size)` raised and dropped it, and the error
    named the block's first line, not the line where the data ends)."""
    read = getattr(handle, "read1", handle.read)
    parts: list[bytes] = []
    got = 0
    try:
        while got < size:
            data = read(size - got)
            if not data:
                break
            parts.append(data)
            got += len(data)
    except (EOFError, zlib.error) as exc:
        return b"".join(parts), exc
    return b"".join(parts), None


def read_records(path: Path, source_name: str, clean: Cleaner) -> Iterator[Block]:
    """The records of a JSON Lines file, a block of lines at a time, in order.

    A line that is not JSON stops the read with a NativeFormatError naming file, line and column,
    as does a file that is not UTF-8 or a truncated .gz.
    """
    first = 1                   # line number of the block's first line
    exported: bool | None = None      # lines of a CloudWatch Logs export to S3: their time prefix is dropped
    try:
        with _open_binary(path) as handle:
            rest = b""
            while True:
                data, broken = _read_block(handle, BLOCK_BYTES)
                if data:
                    lines = (rest + data).split(b"\n")
                    rest = lines.pop()
                    if exported is None:
                        exported = next((_is_exported(line) for line in lines if line.strip()), None)
                    yield _decode(without_export_prefix(lines) if exported else lines, first, source_name, clean)
                    first += len(lines)
                if broken is not None:
                    raise broken              # the line it names is the one the data ends in
                if not data:
                    break
            if rest:
                lines = [rest]
                if exported is None:
                    exported = _is_exported(rest)
                yield _decode(without_export_prefix(lines) if exported else lines, first, source_name, clean)
    except (EOFError, zlib.error) as exc:
        raise NativeFormatError(source_name, f"line {first}", f"truncated or corrupt gzip data: {exc}") from None
    except OSError as exc:
        raise NativeFormatError(source_name, f"line {first}", str(exc)) from None


def _decode(lines: list[bytes], first: int, source_name: str, clean: Cleaner) -> Block:
    try:
        return Block(range(first, first + len(lines)), list(map(orjson.loads, lines)))
    except ValueError:
        pass                    # a blank line, a lone surrogate, bad JSON: line by line
    block = Block([], [])
    numbers = cast(list[int], block.lines)
    for number, line in enumerate(lines, start=first):
        try:
            record = orjson.loads(line)
        except ValueError:
            parsed = _slow(line, number, source_name, clean)
            if parsed is None:
                continue
            record = parsed[0]
            block.replaced += parsed[1]
        numbers.append(number)
        block.records.append(record)
    return block


def _slow(line: bytes, number: int, source_name: str, clean: Cleaner) -> tuple[Any, int] | None:
    """A line orjson refused: blank, a lone surrogate, a number orjson cannot hold, or bad JSON
    (the standard decoder's message, line and column, as the whole-document path gives)."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NativeFormatError(source_name, f"line {number} byte {exc.start}", "not UTF-8 text") from None
    if not text.strip():
        return None
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NativeFormatError(source_name, f"line {number} column {exc.colno}",
                                f"invalid JSON Lines record: {exc.msg}") from None
    except RecursionError:
        raise NativeFormatError(source_name, f"line {number}", "nested too deeply to read") from None
    return clean(record)


@dataclass
class _Open:
    """The records of one execution read so far, with their lines."""

    records: list[Any] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    ids: set[int] = field(default_factory=set)
    top: int = 0           # highest event id seen
    end: int = 0           # id of its terminal record, once seen


@dataclass
class Chunk:
    """Records of whole executions (and records no execution claims), with the line of each."""

    records: list[Any] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)

    def line_of(self, key: str, index: int) -> int | None:
        return self.lines[index] if not key and index < len(self.lines) else None


class ExecutionGroups:
    """Records grouped by execution as lines arrive; whole executions handed out early.

    An execution is whole once its terminal event is in and its ids run 1..terminal without a
    hole; everything else waits for `take_all` at the end of the file. A record of an execution
    already handed out (a duplicate, a redrive read after the first end) marks it for a second
    read of the file (`revisit`), which rebuilds it from all its records, as if read whole.
    """

    def __init__(self, key: StreamKey) -> None:
        self.key = key
        self.open: dict[str, _Open] = {}
        self.ready = Chunk()
        self.in_ready: set[str] = set()       # handed out but not yet taken: later records join them
        self.handed_out: set[str] = set()
        self.revisit: set[str] = set()

    def add(self, number: int, record: Any) -> bool:
        """Hold one record; False when it names no execution (the caller reports it)."""
        return not self.add_all(Block([number], [record]))

    def add_all(self, block: Block) -> list[int]:
        """Hold a block's records; returns the lines of those naming no execution.

        One loop with everything in locals: it runs once per line of the file."""
        key, open_, in_ready, handed_out = self.key, self.open, self.in_ready, self.handed_out
        ready_records, ready_lines = self.ready.records, self.ready.lines
        strays: list[int] = []
        for number, record in zip(block.lines, block.records, strict=True):
            found = key(record)
            if found is None:
                strays.append(number)
                continue
            name, event_id, end = found
            entry = open_.get(name)
            if entry is None:
                if name in in_ready:          # handed out, not yet taken: goes with it
                    ready_records.append(record)
                    ready_lines.append(number)
                    continue
                if name in handed_out:
                    self.revisit.add(name)
                    continue
                entry = open_[name] = _Open()
            entry.records.append(record)
            entry.lines.append(number)
            if event_id > 0:
                entry.ids.add(event_id)
                if event_id > entry.top:
                    entry.top = event_id
            if end > entry.end:
                entry.end = end
            if entry.end and entry.top == entry.end and len(entry.ids) == entry.end:
                del open_[name]
                ready_records.extend(entry.records)
                ready_lines.extend(entry.lines)
                in_ready.add(name)
        return strays

    @property
    def ready_records(self) -> int:
        return len(self.ready.records)

    def take_ready(self) -> Chunk:
        chunk, self.ready = self.ready, Chunk()
        self.handed_out |= self.in_ready
        self.in_ready = set()
        return chunk

    def take_all(self) -> Chunk:
        """Everything held, whole or not (the end of the file)."""
        for name, entry in self.open.items():
            self.ready.records.extend(entry.records)
            self.ready.lines.extend(entry.lines)
            self.in_ready.add(name)
        self.open = {}
        return self.take_ready()
