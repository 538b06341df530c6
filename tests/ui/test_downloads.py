"""The dashboard's CSV downloads: names from other people's clouds never run as spreadsheet formulas."""

from __future__ import annotations

import io

import pandas as pd

from flowscope.model import C
from flowscope.ui import components

HOSTILE = ["=HYPERLINK(\"http://x\",\"click\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)",
           "\tTAB", "plain"]


def hostile_frame() -> pd.DataFrame:
    return pd.DataFrame({C.workflow_name: HOSTILE, C.name: list(reversed(HOSTILE)), C.error: HOSTILE,
                         "monthly_usd": [-1.5, 2.0, -3.25, 0.0, 4.0, -0.5],
                         C.details: [{"cause": "=1+1"}] * len(HOSTILE)})


def downloaded(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(components.csv_bytes(frame)), dtype=str, keep_default_na=False)


def test_download_bytes_neutralise_formula_cells():
    out = downloaded(hostile_frame())
    for column in (C.workflow_name, C.name, C.error):
        starts = {value[:1] for value in out[column]}
        assert not starts & {"=", "+", "-", "@", "\t", "\r"}, (column, list(out[column]))
    assert list(out[C.workflow_name]) == ["'" + v for v in HOSTILE[:-1]] + ["plain"]   # kept, only defused
    assert list(out["monthly_usd"]) == ["-1.5", "2.0", "-3.25", "0.0", "4.0", "-0.5"]   # numbers stay numbers
    assert out[C.details][0] == '{"cause": "=1+1"}'                                     # JSON cells as before


def test_the_table_download_button_gets_the_safe_bytes(monkeypatch):
    """components.table hands exactly csv_bytes' safe output to the download button."""
    got: dict = {}
    monkeypatch.setattr(components.st, "dataframe", lambda *a, **k: None)
    monkeypatch.setattr(components.st, "download_button", lambda label, data, **k: got.update(data=data, **k))
    components.table(hostile_frame(), "errors", hide=[C.details])
    assert callable(got["data"]) and got["on_click"] == "ignore"     # made on click, not on every page run
    out = pd.read_csv(io.BytesIO(got["data"]()), dtype=str, keep_default_na=False)
    assert got["file_name"] == "flowscope-errors.csv"
    assert C.details in out.columns                                # the download keeps hidden columns
    assert out[C.error][0] == "'" + HOSTILE[0]
