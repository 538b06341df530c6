"""A workflow source that cannot be parsed is reported, and its calls follow the one documented
rule for calls whose target is unknown: billed external (the dearer meter, never an undercount),
except connector and subworkflow calls, which are Google-internal by their step type alone."""

from __future__ import annotations

import datetime as dt
import json

from flowscope.collectors.assemble import assemble_batch
from flowscope.collectors.gcp import transform as t
from flowscope.collectors.importer import import_files
from flowscope.collectors.native import ImportContext
from flowscope.collectors.registry import transforms_for
from flowscope.model import UTC, C, Meter
from flowscope.store import Store

WF = "projects/acme/locations/europe-west1/workflows/orders"
EX = f"{WF}/executions/0b5e3c1a-7d0e-4f5a-9b1c-000000000002"
CTX = ImportContext(source_name="workflow.json", seen_at=dt.datetime(2026, 11, 2, tzinfo=UTC))
BROKEN = "main:\n  steps:\n    - charge:\n        call: http.post\n        args: {url: [unclosed\n"
IN, OUT = Meter.GCP_WORKFLOWS_INTERNAL_STEP.value, Meter.GCP_WORKFLOWS_EXTERNAL_STEP.value


def _workflow(source: str) -> dict:
    return {"name": WF, "revisionId": "000002-bad", "sourceContents": source,
            "revisionCreateTime": "2026-11-01T09:00:00Z"}


def _entry(n: int, step: str, step_type: str) -> dict:
    stamp = f"2026-11-01T10:00:{n:02d}.000000Z"
    return {"name": f"{EX}/stepEntries/{n}", "entryId": str(n), "step": step, "routine": "main",
            "stepType": step_type, "state": "STATE_SUCCEEDED", "createTime": stamp, "updateTime": stamp}


ENTRIES = {"stepEntries": [_entry(1, "init", "STEP_ASSIGN"), _entry(2, "charge", "STEP_STD_LIB_CALL"),
                           _entry(3, "save", "STEP_CONNECTOR_CALL"), _entry(4, "audit", "STEP_SUBWORKFLOW_CALL"),
                           _entry(5, "ping", "STEP_CALL")]}
EXECUTION = {"name": EX, "state": "SUCCEEDED", "startTime": "2026-11-01T10:00:00.000000Z",
             "endTime": "2026-11-01T10:00:06.000000Z", "workflowRevisionId": "000002-bad"}


def test_an_unparsable_source_is_reported_naming_the_workflow_and_the_error():
    batch = t.transform_workflows(_workflow(BROKEN), CTX)
    assert len(batch.workflows) == 1                       # the revision is still recorded
    (warning,) = batch.warnings
    assert WF in warning and "could not be parsed" in warning
    assert "line" in warning                               # the parser's own words, with where
    assert "external" in warning                           # and what that means for the bill
    assembled = assemble_batch(batch, transforms_for=transforms_for)
    assert assembled.warnings == batch.warnings                # and it reaches the importer


def test_a_source_without_routines_is_reported_too():
    (warning,) = t.transform_workflows(_workflow("just: a mapping\n"), CTX).warnings
    assert WF in warning and "no routine" in warning


def test_a_good_source_gives_no_warning():
    assert t.transform_workflows(_workflow("- done:\n    return: 1\n"), CTX).warnings == []


def test_calls_of_a_workflow_whose_source_cannot_be_parsed_follow_the_documented_meter(tmp_path):
    files = []
    for name, doc in (("workflow", _workflow(BROKEN)), ("execution", EXECUTION), ("entries", ENTRIES)):
        files.append(tmp_path / f"{name}.json")
        files[-1].write_text(json.dumps(doc))
    store = Store(tmp_path / "store")
    result = import_files(store, files)
    assert [w for w in result.warnings if WF in w and "could not be parsed" in w]
    meters = {row[C.step_key]: row[C.meter] for row in store.read_rows("usage")}
    assert meters == {"1": IN, "2": OUT, "3": IN, "4": IN, "5": OUT}


def test_without_any_definition_unknown_calls_are_external_until_it_arrives():
    batch = t.transform_executions(EXECUTION, CTX).extend(t.transform_step_entries(ENTRIES, CTX))
    _, _, usage = t.assemble(batch.executions[0], batch.steps, batch.attempts, None)
    assert {u[C.step_key]: u[C.meter] for u in usage} == {"1": IN, "2": OUT, "3": IN, "4": IN, "5": OUT}
    good = t.transform_workflows(_workflow("- charge:\n    call: sys.log\n- ping:\n    call: sys.sleep\n"), CTX)
    _, _, usage = t.assemble(batch.executions[0], batch.steps, batch.attempts, good.workflows[0])
    assert {u[C.step_key]: u[C.meter] for u in usage} == {"1": IN, "2": IN, "3": IN, "4": IN, "5": IN}


def test_a_parse_error_quoting_a_credential_of_the_source_is_said_without_it():
    """A source that does not parse: the YAML reader's message quotes the line it stopped at, and the warning
    quoted it as written: a `password:` the author typed there (taken out of the stored source) went into the
    run's warnings and the printed summary, and a URL's user:password across the 300th character kept its
    start."""
    said = []
    for pad in (0, 200, 250, 280):
        source = ("main:\n  steps:\n    - login:\n        call: http.post\n        args:\n          body:\n"
                  f"            note: {'x' * pad}\n"
                  "            password: hunter2secret: x\n")
        url = ("main:\n  steps:\n    - login:\n        call: http.get\n        args:\n"
               f"          url: {'y' * pad} https://svc:hunter2hunter2@api.example/x: [\n")
        for text in (source, url):
            batch = t.transform(_workflow(text), CTX)
            (warning,) = batch.warnings
            said.append(warning)
    assert [w for w in said if "hunt" in w] == []
    assert all("could not be parsed" in w for w in said)


def test_a_source_over_the_models_limit_is_not_stored_and_said():
    """A source over the model's 2,000,000 characters was dropped with only `definitionTooLarge` in the
    row's attributes: nothing told the user why its calls bill as external. A warning says it now."""
    from flowscope.model import MAX_DEFINITION_CHARS

    source = "main:\n  steps:\n    - init:\n        assign:\n          - x: '" + "y" * MAX_DEFINITION_CHARS + "'\n"
    batch = t.transform_workflows(_workflow(source), CTX)
    (row,) = batch.workflows
    assert row[C.definition] is None and json.loads(row[C.attributes])["definitionTooLarge"] is True
    (warning,) = batch.warnings
    assert "workflow.json" in warning and WF in warning and "not stored" in warning, warning
    assert f"{MAX_DEFINITION_CHARS:,}" in warning


def test_the_too_large_rule_reads_the_source_as_it_would_be_stored():
    """`definition_too_large` was checked against the source as the cloud gave it, while what is stored is
    the source without its credentials (`secrets.stored_source`), which may be longer or shorter: a source
    just under the limit whose short keys became `REDACTED` was stored over it, and one just over it only
    because of a long token was dropped though its stored text fits. The rule reads the stored text, as AWS
    and Azure do."""
    from flowscope.collectors.gcp.transform.secrets import stored_source
    from flowscope.model import MAX_DEFINITION_CHARS

    head = "main:\n  steps:\n    - call:\n        call: http.get\n        args:\n"
    short_keys = "".join(f"          url{i}: https://api.example/x?key=k\n" for i in range(2000))
    pad = "    - fill:\n        assign:\n          - x: '" + "y" * MAX_DEFINITION_CHARS + "'\n"
    grows = head + short_keys + pad[: MAX_DEFINITION_CHARS - len(head) - len(short_keys) - 2] + "'\n"
    assert len(grows) <= MAX_DEFINITION_CHARS < len(stored_source(grows))
    (row,) = (batch := t.transform_workflows(_workflow(grows), CTX)).workflows
    assert row[C.definition] is None and [w for w in batch.warnings if "not stored" in w]

    token = "          auth: https://api.example/x?access_token=" + "t" * 5000 + "\n"
    base = head + token + "    - fill:\n        assign:\n          - x: '"
    shrinks = base + "y" * (MAX_DEFINITION_CHARS + 10 - len(base) - 2) + "'\n"
    assert len(stored_source(shrinks)) <= MAX_DEFINITION_CHARS < len(shrinks)
    (row,) = (batch := t.transform_workflows(_workflow(shrinks), CTX)).workflows
    assert row[C.definition] == stored_source(shrinks) and not [w for w in batch.warnings if "not stored" in w]
