"""Reading an ARM page in which a workflow's definition nests deeper than Python's JSON reader goes."""

from __future__ import annotations

import json

import pytest

from flowscope.collectors.deep_json import definition_spans, loads_keeping_deep_definitions

DEEP = '{"a":' * 3000 + "1" + "}" * 3000


def _page(*definitions: str) -> str:
    items = [f'{{"id": "w{i}", "note": "say \\"definition\\": {{[", "properties": {{"definition" : {d}, '
             f'"parameters": {{"definition": "text"}}}}}}' for i, d in enumerate(definitions)]
    return '{"value": [' + ", ".join(items) + '], "nextLink": "https://x/?a=1"}'


def test_a_page_without_deep_definitions_reads_as_json_does():
    text = _page('{"actions": {"A": {"type": "Http", "definition": {"x": [1]}}}}', '[1, {"b": "}"}]', '{}')
    assert loads_keeping_deep_definitions(text) == json.loads(text)
    assert len(definition_spans(text)) == 3               # outermost only; a string naming one is no key


def test_only_the_deep_definition_is_kept_as_its_text():
    text = _page('{"actions": {}}', DEEP, '{"triggers": {}}')
    with pytest.raises(RecursionError):
        json.loads(text)
    doc = loads_keeping_deep_definitions(text)
    definitions = [item["properties"]["definition"] for item in doc["value"]]
    assert definitions == [{"actions": {}}, DEEP, {"triggers": {}}]
    assert doc["value"][1]["note"] == 'say "definition": {[' and doc["nextLink"] == "https://x/?a=1"


def test_too_deep_outside_a_definition_is_still_a_recursion_error():
    with pytest.raises(RecursionError):
        loads_keeping_deep_definitions('{"value": [{"tags": ' + DEEP + ', "properties": {"definition": {}}}]}')
