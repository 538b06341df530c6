"""A Step Functions definition arrives as the cloud's JSON text (the API, `describe-state-machine` output) or,
in a file some tool rewrote, as the parsed object. Either way one definition is one stored revision, and an
object is stored compact: it was re-dumped with `indent=2`, larger than the text the cloud kept (over the
2,000,000-character limit for a definition AWS kept under it) and hashed to another revision than its text."""

from __future__ import annotations

import datetime as dt
import json

from flowscope.collectors.aws.transform.state_machines import transform_state_machine
from flowscope.collectors.native import ImportContext
from flowscope.model import MAX_DEFINITION_CHARS, Batch, C
from flowscope.store import Store
from flowscope.textsafety import json_without_secrets

SM_ARN = "arn:aws:states:eu-west-1:111111111111:stateMachine:OrderFlow"
CTX = ImportContext(source_name="describe.json", seen_at=dt.datetime(2026, 11, 20, tzinfo=dt.timezone.utc))
DEFINITION = {"Comment": "café ✓ see https://docs.example", "StartAt": "Call", "States": {
    "Call": {"Type": "Task", "Resource": "arn:aws:states:::http:invoke", "Next": "Done",
             "Parameters": {"ApiEndpoint": "https://hooks.example/run?token=s3cr3tT0ken", "Note": "u:p@q"}},
    "Done": {"Type": "Pass", "End": True}}}


def _row(definition) -> dict:
    doc = {"stateMachineArn": SM_ARN, "name": "OrderFlow", "type": "STANDARD", "definition": definition}
    (row,) = transform_state_machine(doc, CTX).workflows
    return row


def test_a_definition_as_an_object_and_as_its_text_is_one_revision(tmp_path):
    as_text, as_object = _row(json.dumps(DEFINITION, indent=4)), _row(DEFINITION)
    assert as_text[C.revision] == as_object[C.revision]
    assert as_object[C.revision] == _row(json.dumps(DEFINITION, separators=(",", ":")))[C.revision]
    store = Store(tmp_path / "store")
    store.write(Batch(workflows=[as_text]))
    store.write(Batch(workflows=[as_object]))
    assert len(store.read_rows("workflows")) == 1
    changed = json.loads(json.dumps(DEFINITION))
    changed["States"]["Done"]["Comment"] = "changed"
    assert _row(changed)[C.revision] != as_object[C.revision]


def test_an_object_is_stored_compact_stable_and_without_its_credentials():
    stored = _row(DEFINITION)[C.definition]
    assert stored == json.dumps(json_without_secrets(DEFINITION), separators=(",", ":"), ensure_ascii=False)
    assert "s3cr3tT0ken" not in stored and json.loads(stored)["States"]["Call"]["Parameters"] == {
        "ApiEndpoint": "https://hooks.example/run?token=REDACTED", "Note": "u:p@q"}    # strings cleaned one by one
    assert _row(json.loads(json.dumps(DEFINITION)))[C.definition] == stored


def test_an_object_whose_compact_text_fits_is_stored():
    """400,000 list items: about 800,000 characters compact, over 2,000,000 with `indent=2`."""
    big = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": [0] * 400_000, "End": True}}}
    row = _row(big)
    assert len(json.dumps(big, indent=2)) > MAX_DEFINITION_CHARS
    assert row[C.definition] is not None and json.loads(row[C.definition]) == big


def test_a_compact_definition_text_keeps_every_key():
    """The cloud's compact text is cleaned as one text: the user:password rule read
    `https://docs","Result":"u:p@` as one URL and stored the definition without its `Result` (valid JSON)."""
    text = '{"Comment":"see https://docs","Result":"u:p@q","Mirror":"https://deploy:hunter22@git.example/r"}'
    stored = _row(text)[C.definition]
    assert json.loads(stored) == {"Comment": "see https://docs", "Result": "u:p@q",
                                  "Mirror": "https://REDACTED@git.example/r"}
