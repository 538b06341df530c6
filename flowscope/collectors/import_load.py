"""The files an import reads, and each document they hold with its format (`Loaded`).

One job: paths to documents ready to transform. A folder is every file under it, once; each file read
whole is parsed (`import_parse`), its format detected (`import_formats`), and an empty list page or file
set aside as a query that found nothing, before anything is transformed or written.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowscope.collectors.import_formats import _check_format, detect_format, is_empty_list
from flowscope.collectors.import_parse import LineOf, Parsed, _open_text, parse_documents
from flowscope.collectors.native import ImportContext, NativeFormatError
from flowscope.model import UTC, Source

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
            found = sorted(f for f in _under(path) if f.name not in EXPORT_MARKERS)
            if not found:
                raise NativeFormatError(str(path), "folder", "holds no files")
            for f in found:
                out.setdefault(f.resolve(), f)
        elif path.is_file():
            out.setdefault(path.resolve(), path)
        else:
            raise NativeFormatError(str(path), "file", "no such file" if not path.exists() else "not a file")
    return list(out.values())


def _under(folder: Path) -> Iterator[Path]:
    """Every file under `folder` but hidden ones and those under hidden folders; a symbolic link to a folder is
    followed (once: a link back up is not walked again). What would be passed over without a word is a
    NativeFormatError naming it, as a path given that is no file: a folder that cannot be listed (`Path.rglob`
    passed over it, so an import of `exports/` with a subfolder of another user's said "imported N file(s)",
    exit 0, its files never read), a symbolic link to nothing, and a pipe, socket or device (its reader would
    wait for ever). Linked folders and those three were left out in silence too."""
    def refuse(error: OSError) -> None:
        raise NativeFormatError(str(error.filename or folder), "folder",
                                f"cannot be read: {error.strerror or error}")

    walked: set[str] = set()
    for root, folders, names in os.walk(folder, onerror=refuse, followlinks=True):
        real = os.path.realpath(root)
        if real in walked:          # a link to a folder already walked (or back up the tree): its files are known
            folders[:] = []
            continue
        walked.add(real)
        folders[:] = [name for name in folders if not name.startswith(".")]
        for name in names:
            if name.startswith("."):
                continue
            path = Path(root) / name
            if not path.is_file():
                raise NativeFormatError(str(path), "file", "a symbolic link to nothing" if not path.exists()
                                        else "not a regular file (a pipe, socket or device)")
            yield path


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
