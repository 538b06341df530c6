"""Small readers of native values every AWS format shares: payloads, error texts, JSON text,
and what an execution ARN alone says (account, region, state machine, kind)."""

from __future__ import annotations

import json
from typing import Any

from flowscope.collectors.aws import events as E
from flowscope.collectors.aws.transform.names import KIND_EXPRESS, KIND_STANDARD
from flowscope.collectors.native import ImportContext, NativeFormatError, error_text
from flowscope.model import C, payload_size_and_hash

_IDENTITIES: dict[str, dict[str, Any]] = {}
_IDENTITIES_MAX = 4096


MAX_COUNT = 2**31 - 1
"""The largest count the store's int32 columns hold (`redrive_count`)."""


def redrive_count(value: Any) -> int:
    """A redrive count as given (a number or its text); ValueError naming the value when it is no
    count: out of range, it went through and failed the whole import at the store's int32 column."""
    try:
        count = int(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"redrive count {value!r} is not a number") from None
    if not 0 <= count <= MAX_COUNT or (isinstance(value, float) and value != count):
        raise ValueError(f"redrive count {value!r} is not a count")
    return count


def payload(value: Any) -> tuple[int | None, str | None]:
    """Size and hash of a payload. The API sends JSON strings; already-parsed values (as in
    normalised recordings) are re-serialised compactly so the size is close to the wire size."""
    if value is None or isinstance(value, (str, bytes)):
        return payload_size_and_hash(value)
    return payload_size_and_hash(json.dumps(value, separators=(",", ":"), sort_keys=True))


def text(value: Any) -> str | None:
    """Error / cause text, truncated. Causes are JSON strings in the API; keep them as text."""
    if value is None:
        return None
    if not isinstance(value, str):
        value = json.dumps(value, separators=(",", ":"), sort_keys=True)
    return error_text(value)


def error_from_output(output: Any) -> tuple[Any, Any]:
    """A Catch passes ``{"Error": ..., "Cause": ...}`` on as the state's output (with the default
    ResultPath); it is the only place where a caught Parallel / Map failure names its error."""
    if isinstance(output, str):
        if '"Error"' not in output:
            return None, None
        try:
            output = json.loads(output)
        except (ValueError, RecursionError):        # RecursionError: nested thousands of levels deep
            return None, None
    if isinstance(output, dict) and "Error" in output:
        return output.get("Error"), output.get("Cause")
    return None, None


def parse_json(text: str | bytes, source_name: str = "<memory>") -> Any:
    """Parse a document's text; a broken (e.g. truncated) file raises NativeFormatError with the
    line and column where parsing stopped, instead of a bare JSONDecodeError."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise NativeFormatError(source_name, f"line {exc.lineno} column {exc.colno}",
                                f"not valid JSON: {exc.msg}") from None


def as_doc(doc: Any, ctx: ImportContext) -> Any:
    """A handler's document, parsed when it came as text."""
    return parse_json(doc, ctx.source_name) if isinstance(doc, (str, bytes)) else doc


def identity(execution_arn: str) -> dict[str, Any]:
    """Account, region, state machine (workflow_id / workflow_name) and kind from the ARN alone.

    They depend only on the ARN up to the state machine (``arn:P:states:R:A:execution:SM``), so
    they are computed once per machine (a bounded cache), not once per execution.
    """
    cut = execution_arn.split(":", 7)
    key = ":".join(cut[:7]) if len(cut) == 8 else None
    ident = _IDENTITIES.get(key) if key is not None else None
    if ident is None:
        sm_arn = E.state_machine_arn(execution_arn)
        parts = execution_arn.split(":")
        ident = {
            C.account: (parts[4] or None) if len(parts) > 4 else None,
            C.region: (parts[3] or None) if len(parts) > 3 else None,
            C.workflow_id: sm_arn or execution_arn,
            C.workflow_name: sm_arn.rsplit(":", 1)[-1] if sm_arn else execution_arn,
            C.kind: KIND_EXPRESS if E.is_express_arn(execution_arn) else KIND_STANDARD,
        }
        if key is not None and sm_arn is not None and len(_IDENTITIES) < _IDENTITIES_MAX:
            _IDENTITIES[key] = ident
    return ident


def execution_name(execution_arn: str) -> str | None:
    """The execution's name, from its ARN (cheaply when its state machine is already known)."""
    cut = execution_arn.split(":", 7)
    if len(cut) == 8 and ":".join(cut[:7]) in _IDENTITIES and cut[5] in ("execution", "express"):
        return cut[7].split(":", 1)[0]
    return E.execution_name(execution_arn)


def is_execution_arn(arn: Any) -> bool:
    if not isinstance(arn, str):
        return False
    cut = arn.split(":", 7)
    if len(cut) == 8 and ":".join(cut[:7]) in _IDENTITIES:
        return True
    return E.parse_arn(arn) is not None
