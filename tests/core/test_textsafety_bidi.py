"""Bidirectional controls from a cloud's names are dropped on every surface: they would show a name's
end reversed ("Trojan Source"), so what an SRE reads is not what the cloud holds."""

from __future__ import annotations

import pytest

from flowscope.textsafety import chart_text, markdown_text, neutralise_formula, terminal_text

SPOOFED = "invoice\u202egnp.exe \u2066x\u2069 \u200fy\u200e \u061cz \u202ab\u202c"


@pytest.mark.parametrize("safe", [terminal_text, chart_text, neutralise_formula])
def test_bidi_controls_are_removed(safe):
    assert safe(SPOOFED) == "invoicegnp.exe x y z b"


def test_bidi_controls_are_removed_in_markdown():
    assert markdown_text(SPOOFED) == r"invoicegnp\.exe x y z b"


def test_right_to_left_names_keep_their_letters():
    name = "\u05d4\u05d6\u05de\u05e0\u05d4-orders \u0637\u0644\u0628"
    assert terminal_text(name) == name and chart_text(name) == name


def test_csv_cells_are_neutralised_whatever_dtype_holds_the_text():
    """`csv_safe_frame` touched object and 'string'/'str' columns only: a categorical (a frame grouped by
    step name, `astype('category')`) or an Arrow large_string column (DuckDB's Arrow results) sent "=1+1"
    to Excel as a formula. Numbers stay numbers."""
    import pandas as pd
    import pyarrow as pa

    from flowscope.textsafety import csv_safe_frame

    frame = pd.DataFrame({"step": pd.Categorical(["=1+1", "ok"]),
                          "error": pd.array(["@SUM(A1)", "x"], dtype=pd.ArrowDtype(pa.large_string())),
                          "usd": [-1.5, 2.0]})
    out = csv_safe_frame(frame)
    assert out["step"].tolist() == ["'=1+1", "ok"]
    assert out["error"].tolist() == ["'@SUM(A1)", "x"]
    assert out["usd"].tolist() == [-1.5, 2.0]
