"""JSON that Python's reader gives up on because one workflow's definition nests too deeply.

Python's reader stops at its recursion limit (about 1,000 levels; orjson at 1,024), and a Logic Apps
workflows listing (an ARM page, or a file exported from one) holds every workflow's whole definition: ONE
definition nested 3,000 levels deep made the whole page or file unreadable, and the other workflows in it
were lost. `loads_keeping_deep_definitions` reads such a text with every `definition` value set aside first
(found by a scan that counts brackets, without recursion), then puts each back: as its JSON value when it
reads on its own, else as its text. The transforms read a definition given as text as they read one given
as an object, and say one too deep to read in a warning naming its workflow, keeping the workflow without
it. The live Azure collector (`azure/clients.py`) and the importer both read through it.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[{}\[\],]', re.DOTALL)
"""A JSON string (escapes included), or a bracket or comma: all the scan needs to follow the nesting."""
_KEY = re.compile(r"\s*:")

DEFINITION_KEY = '"definition"'


def definition_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each object or array that is the value of a `definition` key, outermost only, in order."""
    spans: list[tuple[int, int]] = []
    stack: list[tuple[int, bool]] = []       # (where the container opens, whether it is a definition's value)
    key: str | None = None                   # the key just read, when the next value is an object member's
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token[0] == '"':
            key = token if _KEY.match(text, match.end()) else None
            continue
        if token in "{[":
            stack.append((match.start(), key == DEFINITION_KEY))
        elif token in "}]" and stack:
            start, is_definition = stack.pop()
            if is_definition and not any(opened for _, opened in stack):
                spans.append((start, match.end()))
        key = None
    return spans


def loads_keeping_deep_definitions(text: str) -> Any:
    """`text` as JSON, each `definition` too deep to read kept as its JSON text (the rest as JSON values).

    Raises RecursionError when what nests too deeply is not a definition, ValueError when it is no JSON."""
    spans = definition_spans(text)
    if not spans:
        return json.loads(text)
    nonce = f"\x00flowscope-definition-{uuid.uuid4().hex}-"
    parts, kept, last = [], {}, 0
    for i, (start, end) in enumerate(spans):
        placeholder = f"{nonce}{i}"
        kept[placeholder] = text[start:end]
        parts += [text[last:start], json.dumps(placeholder)]
        last = end
    doc = json.loads("".join(parts) + text[last:])
    return _put_back(doc, kept)


def _put_back(doc: Any, kept: dict[str, str]) -> Any:
    """`doc` with each placeholder string replaced by its definition (iteratively: no recursion)."""
    def restored(value: Any) -> Any:
        if isinstance(value, str) and value in kept:
            try:
                return json.loads(kept[value])
            except (ValueError, RecursionError):
                return kept[value]          # the transform says why it cannot read it, naming the workflow
        return value

    doc = restored(doc)
    stack = [doc]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for k, v in list(items):
            if isinstance(v, (dict, list)):
                stack.append(v)
            elif isinstance(v, str) and v in kept:
                node[k] = restored(v)
    return doc
