"""The contract every cloud's pure transform module (the package `collectors/<cloud>/transform/`) fulfils.

A transform module exposes:

- ``FORMATS: dict[str, FormatHandler]``: native document format name -> handler that turns one
  parsed document into model rows (a `Batch`). Format names are ``"<cloud>.<what>"``.
- ``detect(doc) -> str | None``: the format name of a parsed JSON document (a dict, or a list
  of dicts for JSON Lines), or None when the document is not of this cloud.
- ``assemble(execution, steps, attempts, workflow) -> (steps, attempts, usage)``: finish the
  rows of ONE execution once everything known about it is together (records may arrive in any
  order and across several imports): link steps to the workflow definition (types, connectors,
  internal vs external calls), settle parents and iterations, and count billable usage by the
  cloud's rules. Pure and idempotent: assembling its own output again gives the same rows.
  Steps and attempts may repeat a key (stored rows first, then the incoming ones): `assemble`
  settles them deterministically.

Handlers and `assemble` do no I/O. The importer and the live collectors both use them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from flowscope.model import Batch, Source


@dataclass(frozen=True)
class ImportContext:
    """What a handler may need beyond the document itself."""

    source_name: str = "<memory>"                 # file name or API call, for error messages
    seen_at: dt.datetime | None = None            # when the records were read (aware UTC)
    source: Source = Source.IMPORT
    execution_id: str | None = None               # e.g. `--execution-arn` for a bare get-execution-history
    options: dict[str, Any] = field(default_factory=dict)


FormatHandler = Callable[[Any, ImportContext], Batch]
Row = dict[str, Any]


class CloudTransforms(Protocol):
    FORMATS: dict[str, FormatHandler]

    def detect(self, doc: Any) -> str | None: ...

    def assemble(
        self, execution: Row | None, steps: list[Row], attempts: list[Row], workflow: Row | None
    ) -> tuple[list[Row], list[Row], list[Row]]: ...


class NativeFormatError(ValueError):
    """A document that claims a format but does not fit it; the message names what is wrong."""

    def __init__(self, source_name: str, location: str, reason: str) -> None:
        super().__init__(f"{source_name}: {location}: {reason}")
        self.source_name = source_name
        self.location = location
        self.reason = reason
