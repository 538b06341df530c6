import gzip
import json
from pathlib import Path

import pytest

from flowscope.collectors.importer import _open_text, parse_document
from flowscope.collectors.native import NativeFormatError


def test_whole_json_document():
    assert parse_document('{"value": [1, 2]}', "f.json") == {"value": [1, 2]}


def test_json_lines_become_a_list():
    text = '{"id": "1"}\n\n{"id": "2"}\n'
    assert parse_document(text, "f.jsonl") == [{"id": "1"}, {"id": "2"}]


def test_truncated_json_names_file_line_and_column():
    text = json.dumps({"events": [{"id": 1}, {"id": 2}]}, indent=1)[:-9]
    with pytest.raises(NativeFormatError) as caught:
        parse_document(text, "history.json")
    assert caught.value.source_name == "history.json"
    assert caught.value.location.startswith("line ")
    assert "invalid JSON" in str(caught.value)


def test_bad_json_lines_record_names_its_line():
    text = '{"id": "1"}\n{"id": "2"}\n{"id": \n{"id": "4"}\n'
    with pytest.raises(NativeFormatError, match=r"f.jsonl: line 3 column"):
        parse_document(text, "f.jsonl")


def test_empty_file():
    with pytest.raises(NativeFormatError, match="empty file"):
        parse_document("  \n", "empty.json")


def test_gzip_and_non_utf8(tmp_path: Path):
    packed = tmp_path / "a.json.gz"
    with gzip.open(packed, "wt") as handle:
        handle.write('{"a": 1}')
    assert parse_document(_open_text(packed), str(packed)) == {"a": 1}
    binary = tmp_path / "b.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(NativeFormatError, match="not UTF-8"):
        _open_text(binary)
