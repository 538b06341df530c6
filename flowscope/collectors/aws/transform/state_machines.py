"""``describe-state-machine`` output -> one workflows row (the definition read by `aws.definition`)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from flowscope.collectors.aws import events as E
from flowscope.collectors.aws.definition import definition_digest, definition_problem, definition_text
from flowscope.collectors.aws.transform.names import CLOUD
from flowscope.collectors.aws.transform.values import as_doc
from flowscope.collectors.native import ImportContext, NativeFormatError, cleaned_texts, definition_too_large
from flowscope.model import Batch, C, Kind

_ATTRIBUTE_KEYS = (("versionDescription", "version_description"), ("description", "description"),
                   ("label", "label"), ("stateMachineVersionArn", "version_arn"),
                   ("stateMachineAliasArn", "alias_arn"), ("routingConfiguration", "routing"),
                   ("versions", "versions"), ("aliases", "aliases"),
                   ("metadataListedAt", "metadata_listed_at"), ("metadataDenied", "metadata_denied"))


def transform_state_machine(doc: Any, ctx: ImportContext) -> Batch:
    """`describe-state-machine` output -> one workflows row.

    ``revision`` is the ``revisionId`` when Step Functions gives one (it does after an update or
    for a version), else the first 16 hex digits of the definition's SHA-256 (`definition_digest`, of its
    JSON in one form): a definition that did not change keeps its revision, whether it arrives as text or
    as an object, so re-describing or re-importing it does not add a row.
    """
    doc = as_doc(doc, ctx)
    if not isinstance(doc, dict) or "stateMachineArn" not in doc or "definition" not in doc:
        raise NativeFormatError(ctx.source_name, "$", "not a describe-state-machine document "
                                "(expected 'stateMachineArn' and 'definition')")
    _check_shape(doc, ctx)
    arn = doc["stateMachineArn"]
    parts = E.parse_arn(arn)
    if parts is None:
        raise NativeFormatError(ctx.source_name, "stateMachineArn", f"{arn!r} is not a state machine ARN")
    definition = definition_text(doc.get("definition"))
    too_large = definition_too_large(definition)
    revision = revision_of(doc)
    sm_type = (doc.get("type") or "STANDARD").upper()
    attributes = _attributes(doc)
    # describe-state-machine of a version: the ARN ends in ':<version number>'
    # (a Map Run's `stateMachine:SM/label` keeps its own row: its definition is the item
    # processor's, not SM's)
    sm_arn = arn if "/" in arn else (E.state_machine_arn(arn) or arn)
    if sm_arn != arn:
        attributes["version_arn"] = arn
    seen = ctx.seen_at or E.parse_timestamp(doc.get("updateDate") or doc.get("creationDate"))
    if seen is None:
        seen = dt.datetime.now(dt.timezone.utc)
    row = {
        C.cloud: CLOUD,
        C.account: parts["account"] or None,
        C.region: parts["region"] or None,
        C.workflow_id: sm_arn,
        C.name: doc.get("name") or sm_arn.rsplit(":", 1)[-1],
        C.kind: (Kind.SFN_EXPRESS if sm_type == "EXPRESS" else Kind.SFN_STANDARD).value,
        C.revision: revision,
        C.definition: None if too_large else definition,
        C.definition_format: "asl-json",
        C.attributes: json.dumps(cleaned_texts(attributes), sort_keys=True, default=str),
        C.seen_at: seen,
    }
    batch = Batch(workflows=[row])
    if too_large:
        batch.warnings.append(
            f"{ctx.source_name}: state machine {row[C.name]} ({sm_arn}, revision {revision}): its definition "
            f"is not stored ({too_large}); Parallel branches and Task resources missing from its histories "
            "are not filled from it, and its graph cannot be drawn")
    problem = None if too_large else definition_problem(doc.get("definition"))
    if problem:
        batch.warnings.append(
            f"{ctx.source_name}: state machine {row[C.name]} ({sm_arn}, revision {revision}): its definition "
            f"could not be read ({problem}); Parallel branches and Task resources missing from its "
            "histories are not filled from it, and its graph cannot be drawn, until a readable "
            "definition is imported")
    return batch


_TEXT_FIELDS = ("name", "type", "revisionId", "status", "description", "label", "versionDescription")
_OBJECT_FIELDS = ("loggingConfiguration", "tracingConfiguration")


def _check_shape(doc: dict[str, Any], ctx: ImportContext) -> None:
    """The fields read here, of the types the API gives, else an error naming the field: a number
    or a list where text belongs failed the import with a Python error ("'int' object has no
    attribute 'upper'") or the store's ("column 'name' expects string"), naming neither the field
    nor the file."""
    def bad(where: str, value: Any, expected: str) -> NativeFormatError:
        return NativeFormatError(ctx.source_name, where, f"{type(value).__name__} where {expected} belongs")

    for key in _TEXT_FIELDS:
        if doc.get(key) is not None and not isinstance(doc[key], str):
            raise bad(key, doc[key], "text")
    if not isinstance(doc["definition"], (str, dict)):
        raise bad("definition", doc["definition"], "the definition's JSON text")
    for key in _OBJECT_FIELDS:
        if doc.get(key) is not None and not isinstance(doc[key], dict):
            raise bad(key, doc[key], "an object")
    logging_cfg = doc.get("loggingConfiguration") or {}
    if logging_cfg.get("level") is not None and not isinstance(logging_cfg["level"], str):
        raise bad("loggingConfiguration.level", logging_cfg["level"], "text")
    destinations = logging_cfg.get("destinations")
    if destinations is not None and not isinstance(destinations, list):
        raise bad("loggingConfiguration.destinations", destinations, "a list")


def revision_of(doc: dict[str, Any]) -> str:
    """The workflows row's `revision` of a describe-state-machine document (see above)."""
    return str(doc.get("revisionId") or definition_digest(definition_text(doc.get("definition")) or "")[:16])


def _attributes(doc: dict[str, Any]) -> dict[str, Any]:
    """Logging, tracing, versions and aliases of a state machine, for the row's attributes JSON."""
    logging_cfg = doc.get("loggingConfiguration") or {}
    groups = [d.get("cloudWatchLogsLogGroup", {}).get("logGroupArn")
              for d in logging_cfg.get("destinations") or [] if isinstance(d, dict)]
    attributes: dict[str, Any] = {
        "logging_level": logging_cfg.get("level"),
        "include_execution_data": logging_cfg.get("includeExecutionData"),
        "log_group_arns": [g for g in groups if g],
        "status": doc.get("status"),
        "tracing_enabled": (doc.get("tracingConfiguration") or {}).get("enabled"),
    }
    for key, out in _ATTRIBUTE_KEYS:
        if doc.get(key):
            attributes[out] = doc[key]
    return attributes
