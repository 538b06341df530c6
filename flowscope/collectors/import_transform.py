"""Documents through their format's transform to rows (`Batch`), a skip located by its line in the file.

One job: calling the pure transforms on what was read. A transform that fails on something it did not
foresee stops the import with an error naming the file (and where in it), never a traceback; whole
documents (`_transform`) and streamed chunks (`_call_handler`, from `import_stream`) alike.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from flowscope.collectors.import_formats import handler_for
from flowscope.collectors.import_load import Loaded
from flowscope.collectors.import_parse import LineOf
from flowscope.collectors.import_result import ImportResult
from flowscope.collectors.native import ImportContext, NativeFormatError
from flowscope.model import Batch, Skip


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
