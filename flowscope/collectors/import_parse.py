"""A file's text and the documents it holds: decoding (UTF-8, or the UTF-16/32 its first bytes say),
parsing JSON, JSON Lines or YAML, and finding the line each record starts on.

One job: bytes to parsed documents with their lines, for `import_load` (a file read whole) and, for the
lone-surrogate repair, `import_stream`. It knows no format and no cloud, so the parsing rules (and the
errors that name file, line and column) are in one place and testable alone (`tests/core/test_parse_document.py`).
"""

from __future__ import annotations

import codecs
import datetime as dt
import gzip
import json
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import yaml

from flowscope import bounded_yaml
from flowscope.collectors.deep_json import loads_keeping_deep_definitions
from flowscope.collectors.native import NativeFormatError
from flowscope.collectors.streaming import EXPORT_LINE_PREFIX

LineOf = Callable[[str, int], "int | None"]
"""(array key, index) -> 1-based line where that record starts ("" = the top-level list)."""


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
