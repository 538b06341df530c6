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
    binary.write_bytes(b"garbage\x80\xff")
    with pytest.raises(NativeFormatError, match="not UTF-8"):
        _open_text(binary)
    # FF FE is UTF-16's byte order mark (Windows PowerShell's files): read as UTF-16, still no document
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(NativeFormatError, match="b.json: line 1: not a JSON or YAML document"):
        parse_document(_open_text(binary), str(binary))
    binary.write_bytes(b"\xff\xfe\x00garbage!")
    with pytest.raises(NativeFormatError, match="b.json: byte 10: not UTF-8 text, nor UTF-16 as its first"):
        _open_text(binary)


def test_yaml_documents_and_streams_read_like_json():
    assert parse_document("name: a\nstartTime: 2026-11-01T10:00:00Z\n", "d.yaml") == {
        "name": "a", "startTime": "2026-11-01T10:00:00+00:00"}
    assert parse_document("a: 1\n---\na: 2\n", "l.yaml") == [{"a": 1}, {"a": 2}]
    with pytest.raises(NativeFormatError, match=r"t.yaml: line 1: not a JSON or YAML document"):
        parse_document("just words", "t.yaml")


def test_record_lines_of_a_json_array_document():
    from flowscope.collectors.importer import parse_documents

    text = '{"other": [1, 2],\n "events": [\n  {"id": 1},\n\n  {"id": 2,\n   "x": "]"}, {"id": 3}]}'
    [parsed] = parse_documents(text, "f.json")
    assert [parsed.line_of("events", i) for i in range(4)] == [3, 5, 6, None]
    [lines] = parse_documents('\n{"id": 1}\n\n{"id": 2}\n', "f.jsonl")
    assert [lines.line_of("", 0), lines.line_of("", 1)] == [2, 4]
