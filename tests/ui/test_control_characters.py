"""Control characters and bidirectional marks in cloud text never reach a table cell or a list's option.

A workflow named with U+202E (RIGHT-TO-LEFT OVERRIDE) read reversed from that point in the sidebar's
workflow list and in the tables' cells, unlike the same name in a chart or a caption (which drop it), and
an error holding BEL or an ANSI colour sequence drew boxes in its cell. Tables and option labels now show
the text without them (`textsafety.terminal_text`), as every other surface does; the CSV download keeps
its own rule (`csv_safe_frame`)."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from flowscope.model import C, Cloud
from flowscope.store import Store
from tests.ui.helpers import build
from tests.ui.test_pages import app, no_exception, open_page

WORKFLOW = "orders\u202egnp.exe\u202c \x1b[31mred\x1b[0m"
STEP = "Charge\u200fCard\x07"
ERROR = "Declined\x07 by \x1b]0;owned\x07issuer\u2066!"
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


@pytest.fixture(scope="module")
def control_store(tmp_path_factory) -> str:
    batch = build(120, days=4, clouds=(Cloud.AWS,), failed_scope=False)
    for row in batch.workflows:
        row[C.name] = WORKFLOW
    for row in batch.executions:
        row[C.workflow_name] = WORKFLOW
    for row in batch.steps:
        if row[C.name] == "ChargeCard":
            row[C.name] = STEP
    for table in ("steps", "attempts", "executions"):
        for row in getattr(batch, table):
            if row.get(C.error):
                row[C.error], row[C.cause] = ERROR, ERROR
    path = tmp_path_factory.mktemp("ui-control")
    Store(path).write(batch)
    return str(path)


def _shown_text(at) -> list[str]:
    texts: list[str] = []
    for df in at.dataframe:
        frame: pd.DataFrame = df.value
        for column in frame.columns:
            texts += [v for v in frame[column].tolist() if isinstance(v, str)]
    for widget in (*at.selectbox, *at.multiselect):
        texts += [str(o) for o in widget.options]
    return texts


@pytest.mark.parametrize("page", ["executions", "failures", "retries", "latency", "workflows"])
def test_tables_and_lists_show_cloud_text_without_control_characters(control_store, monkeypatch, page):
    at = open_page(app(control_store, monkeypatch), page)
    no_exception(at)
    shown = _shown_text(at)
    assert any("orders" in t for t in shown), "the workflow is listed"
    leaked = [t for t in shown if CONTROL.search(t)]
    assert not leaked, leaked[:3]
    if page in ("executions", "failures"):
        assert any("Declined by issuer!" in t for t in shown), "the error reads without its controls"
