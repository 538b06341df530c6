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

Optionally, ``STREAMS: dict[str, StreamKey]``: formats whose JSON Lines files the importer may
read in bounded memory (`collectors/streaming.py`), with the function that names a record's
execution and says when that execution is whole. A chunk of such records goes to the format's
handler like any document; the output is the same as for the whole file. A streamable format's
handler emits an execution row for every execution it emits steps for, and its cloud never stores
steps without their execution, so the importer looks up only the executions table to tell which
executions have stored rows to merge.

Optionally, ``HAS_NO_RUN(execution_id) -> bool``: the ids a cloud keys rows by that never get an
execution row (Logic Apps: a trigger poll that fired nothing, billed but starting no run); the
importer does not count them as steps waiting for their run.

Optionally, ``link_parents(executions, store)``: fill, in place, what links the execution rows of one
batch to other executions (AWS: a Distributed Map child's `parent_execution_id`, from its parent in the
batch or the store), before `collectors/assemble.py` assembles them. With it, optionally,
``stored_children(executions, store) -> set[str]``: the ids of stored executions still waiting for
a link that one of `executions` gives (AWS: Map Run children imported before their parent), which
the assembly merges into the write so `link_parents` links them. The only hooks that may read the
store, and only its stored executions.

Optionally, ``moved_executions(batch, store) -> {stored id: (id now, workflow id now)}``: stored executions
that are incoming ones of `batch` kept under the id an earlier flowscope gave them (Azure: a deployment slot's
runs and trigger polls, stored under the production workflow before ids kept the slot). The importer moves
their rows to the id now, in the same write as the batch, so the store never holds one run twice.

Optionally, ``import_options(docs, stored) -> dict``: given (format, document) of each of the cloud's documents
read whole in one import, options added to every one of those documents' `ImportContext` (Azure: the
loop visit each repetition record names, for the request histories of other files, which do not; GCP: each
workflow's current revision, the newest any of its files or the store holds). `stored(table)` (`StoredRows`)
is the cloud's rows of a stored table, read only when called ([] before the first import): the one read of the
store it may make.

Handlers and `assemble` do no I/O. The importer and the live collectors both use them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, cast

from flowscope.model import MAX_DEFINITION_CHARS, MAX_TEXT_CHARS, Batch, C, Source, json_object, truncate
from flowscope.textsafety import without_secrets

if TYPE_CHECKING:
    from flowscope.store import Store


@dataclass(frozen=True)
class ImportContext:
    """What a handler may need beyond the document itself."""

    source_name: str = "<memory>"                 # file name or API call, for error messages
    seen_at: dt.datetime | None = None            # when the records were read (aware UTC)
    source: Source = Source.IMPORT
    execution_id: str | None = None               # e.g. `--execution-arn` for a bare get-execution-history
    options: dict[str, Any] = field(default_factory=dict)


FormatHandler = Callable[[Any, ImportContext], Batch]


def cloud_of(fmt: str) -> str:
    """The cloud of a format name ("gcp.workflow" -> "gcp"): names are ``<cloud>.<what>`` (the module doc), so
    the importer finds a format's transforms, and checks `--format` against `--cloud`, by this one reading."""
    return fmt.split(".", 1)[0]


Row = dict[str, Any]
StreamKey = Callable[[Any], "tuple[str, int, int] | None"]
"""A record -> (its execution, its event id, the id of the execution's last event when this record
is that last event, else 0); None when the record names no execution (the handler reports it).
An execution is whole once its ids run 1..last without a hole."""

DEFER_ASSEMBLE = "defer_assemble"
"""`ImportContext.options` key: the caller runs `assemble_batch` on the handler's output, so the
handler may leave assembly to it (it is idempotent: doing it twice gives the same rows)."""


END_WITHOUT_START = "execution end logged without its start in these files or the store"
"""The skip of an execution whose end is logged but not its start (GCP system logs split across
files). Its handler still emits its execution row, without a start (`started_at` None), and the
assembly completes it from the start another file of the import holds, or an earlier import stored
(`collectors/assemble.py`; the importer withdraws the skip then), or drops it."""


def row_attributes(row: Mapping[str, Any]) -> dict[str, Any]:
    """A model row's `attributes` JSON object; {} when it has none, or text that is not a JSON object
    (`model.json_object`: nested too deeply to read included)."""
    return json_object(row.get(C.attributes))


def cleaned(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    """`text` without the credentials it quotes (`SECRET_RULES`), then cut to `limit` (`model.truncate`), in
    that order: cut first, a `user:password@` or a token across the cut kept the part before it, which no
    rule matches any more. Every kept message of the collectors goes through it."""
    return str(truncate(without_secrets(text), limit))


def error_text(value: Any, limit: int = MAX_TEXT_CHARS) -> str | None:
    """A cloud's error or cause text as stored: without the credentials it quotes (`SECRET_RULES`), then cut
    to `limit` (`model.truncate`). Cut first, a `user:password@` or a token across the cut kept the part
    before it, which no rule matches any more (the store cleans what it writes again). Only the first
    `2 * limit` characters are read: a 32 KB cause is cut anyway, and a credential begun before the cut
    ends within them."""
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return cleaned(text[: 2 * limit], limit)


TOO_DEEP = "nested too deeply to read"
"""Why a JSON text (or value) thousands of levels deep is not read: Python's parser and writer recurse."""


def json_or_problem(text: str) -> tuple[Any, str | None]:
    """(the value of a JSON text, None), or (None, why it cannot be read): "not JSON: ..." (the parser's
    position, no quote of the text), or "nested too deeply to read" (a text thousands of levels deep raises
    RecursionError, not ValueError). The one reading of a definition's text for its warning, every cloud."""
    try:
        return json.loads(text), None
    except ValueError as exc:
        return None, f"not JSON: {exc}"
    except RecursionError:
        return None, TOO_DEEP


def canonical_json(value: Any) -> str:
    """A JSON value as one text whatever form it came in (keys sorted, no spaces, non-ASCII escaped): what a
    definition's hash is of when the cloud names no revision, so the same definition is one revision whether
    it arrived as text, with any spacing and key order, or as a parsed object. Raises RecursionError on a value
    nested deeper than Python recurses."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def definition_too_large(text: str | None) -> str | None:
    """Why a definition's text is not stored, for its warning: over `MAX_DEFINITION_CHARS` (a cut one would be
    broken JSON or YAML, read and drawn as some other workflow); None when it fits or there is none. Every
    cloud stores no definition then, and says so, naming the workflow."""
    if text is None or len(text) <= MAX_DEFINITION_CHARS:
        return None
    return f"{len(text):,} characters, over the {MAX_DEFINITION_CHARS:,} a workflows row keeps"


def cleaned_texts(value: Any, limit: int = MAX_TEXT_CHARS) -> Any:
    """A JSON value with every text in it (keys too) cleaned of credentials, then cut (`error_text`): what a
    row's `attributes` keep of a cloud's fields (a description, a label, a state error's details, a tracking
    id), which no later pass cleans. Numbers, booleans and None stay; a value nested deeper than Python
    recurses is kept as `TOO_DEEP`, never raised."""
    try:
        return _cleaned_texts(value, limit)
    except RecursionError:
        return TOO_DEEP


def _cleaned_texts(value: Any, limit: int) -> Any:
    if isinstance(value, str):
        return error_text(value, limit)
    if isinstance(value, dict):
        return {error_text(str(k), limit): _cleaned_texts(v, limit) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_cleaned_texts(v, limit) for v in value]
    return value


def text_field(record: dict[str, Any], key: str) -> str | None:
    """A record's text field: its string, None when absent. Anything else raises ValueError naming
    the field, so the handler skips the record with its line instead of carrying a number or an
    object into a text column, where it failed the whole import at the write or crashed the assembly."""
    value = record.get(key)
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"{key} is {type(value).__name__}, not text")


class CloudTransforms(Protocol):
    FORMATS: dict[str, FormatHandler]

    def detect(self, doc: Any) -> str | None: ...

    def assemble(
        self, execution: Row | None, steps: list[Row], attempts: list[Row], workflow: Row | None
    ) -> tuple[list[Row], list[Row], list[Row]]: ...

    # Optional, so not members a module must have: `link_parents` (`LinkParents`) and
    # `stored_children` (`StoredChildren`), read through `link_parents_of` / `stored_children_of`.


LinkParents = Callable[[list[Row], "Store | None"], None]
"""The optional ``link_parents(executions, store)`` hook of `CloudTransforms` (see the module doc)."""
StoredChildren = Callable[[list[Row], "Store | None"], set[str]]
"""The optional ``stored_children(executions, store)`` hook of `CloudTransforms` (see the module doc)."""


def link_parents_of(transforms: "CloudTransforms") -> LinkParents | None:
    """A cloud's `link_parents` hook, None when it has none (only AWS links runs across rows)."""
    hook = getattr(transforms, "link_parents", None)
    return cast(LinkParents, hook) if callable(hook) else None


def stored_children_of(transforms: "CloudTransforms") -> StoredChildren | None:
    """A cloud's `stored_children` hook, None when it has none."""
    hook = getattr(transforms, "stored_children", None)
    return cast(StoredChildren, hook) if callable(hook) else None


StoredRows = Callable[[str], list[Row]]
"""table -> one cloud's rows stored in it ([] with no store yet): what `import_options` may read of the store."""


def nothing_stored(table: str) -> list[Row]:
    """`StoredRows` of an empty store (a hook called on documents alone, as in a test)."""
    return []


ImportOptions = Callable[[list[tuple[str, Any]], StoredRows], dict[str, Any]]
"""The optional ``import_options(docs, stored)`` hook of `CloudTransforms` (see the module doc)."""


def import_options_of(transforms: "CloudTransforms") -> ImportOptions | None:
    """A cloud's `import_options` hook, None when it has none (Azure's: its repetition records' loop visits; GCP's:
    its workflows' current revisions, the store's among them)."""
    hook = getattr(transforms, "import_options", None)
    return cast(ImportOptions, hook) if callable(hook) else None


MovedExecutions = Callable[[Batch, "Store"], dict[str, tuple[str, str]]]
"""The optional ``moved_executions(batch, store)`` hook of `CloudTransforms` (see the module doc)."""


def moved_executions_of(transforms: "CloudTransforms") -> MovedExecutions | None:
    """A cloud's `moved_executions` hook, None when it has none (only Azure re-keys stored runs on import)."""
    hook = getattr(transforms, "moved_executions", None)
    return cast(MovedExecutions, hook) if callable(hook) else None


class NativeFormatError(ValueError):
    """A document that claims a format but does not fit it; the message names what is wrong."""

    def __init__(self, source_name: str, location: str, reason: str) -> None:
        super().__init__(f"{source_name}: {location}: {reason}")
        self.source_name = source_name
        self.location = location
        self.reason = reason
