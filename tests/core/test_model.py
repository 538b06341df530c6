import datetime as dt

import pyarrow as pa
import pytest

from flowscope import model
from flowscope.model import TABLES, C, utc


def test_every_schema_column_has_a_constant():
    names = {value for key, value in vars(C).items() if not key.startswith("_")}
    for spec in TABLES.values():
        missing = set(spec.schema.names) - names
        assert not missing, f"{spec.name}: columns without a C constant: {missing}"
        assert set(spec.key) <= set(spec.schema.names)
        assert set(spec.replace_key) <= set(spec.schema.names)
        assert set(spec.partition_by) <= set(spec.schema.names)


def test_timestamps_are_utc_microseconds():
    for spec in TABLES.values():
        for field in spec.schema:
            if pa.types.is_timestamp(field.type):
                assert field.type == pa.timestamp("us", tz="UTC"), (spec.name, field.name)


@pytest.mark.parametrize(("value", "expected"), [
    ("2018-04-18T17:05:57.2264835Z", dt.datetime(2018, 4, 18, 17, 5, 57, 226483, tzinfo=model.UTC)),
    ("2026-11-01T10:00:00.123456789Z", dt.datetime(2026, 11, 1, 10, 0, 0, 123456, tzinfo=model.UTC)),
    ("1713959670672", dt.datetime(2024, 4, 24, 11, 54, 30, 672000, tzinfo=model.UTC)),
    (1713959670672, dt.datetime(2024, 4, 24, 11, 54, 30, 672000, tzinfo=model.UTC)),
    ("2026-11-01T12:00:00+02:00", dt.datetime(2026, 11, 1, 10, tzinfo=model.UTC)),
    (None, None),
])
def test_utc_parses_every_clouds_timestamps(value, expected):
    assert utc(value) == expected


def test_truncate_and_payload_hash():
    assert model.truncate("x" * 5000).__len__() == model.MAX_TEXT_CHARS
    assert model.truncate(None) is None
    size, digest = model.payload_size_and_hash('{"a": 1}')
    assert size == 8 and len(digest) == 64


def test_to_arrow_rejects_missing_required_column():
    with pytest.raises((pa.ArrowInvalid, pa.ArrowTypeError, ValueError)):
        model.to_arrow("executions", [{C.cloud: "aws"}])


def test_json_object_of_text_nested_too_deeply_is_empty_not_a_recursion_error():
    """A stored `details` or definition nested 3,000 levels deep: `json.loads` raised RecursionError, which
    nothing caught (doctor, the dashboard and every reader of `run_details` broke on it). It reads as
    unreadable text does: {}."""
    from flowscope.model import json_object, run_details

    deep = '{"a":' * 3000 + "1" + "}" * 3000
    assert json_object(deep) == {} and run_details(deep) == {}
    assert json_object('{"a": {"b": 1}}') == {"a": {"b": 1}}


def test_attributes_nested_too_deeply_read_as_unreadable_not_a_recursion_error():
    """A row's `attributes` nested 3,000 deep raised RecursionError out of the assembly and the live collectors'
    merges (`row_attributes`, `merge_attributes`): it reads as unreadable text does."""
    import json

    from flowscope.collectors.native import row_attributes
    from flowscope.collectors.window import merge_attributes

    deep = '{"a":' * 3000 + "1" + "}" * 3000
    assert row_attributes({C.attributes: deep}) == {}
    row = {C.attributes: deep}
    merge_attributes(row, {"gone": True})
    assert json.loads(row[C.attributes]) == {"raw": deep, "gone": True}
