"""The dashboard's failed-collection banner says a failed collection in the sentence `flowscope analyze`,
the notebook and the reports say (`Coverage.failed_notes`): it wrote its own ("**SCOPE** (failed): ERROR",
without the time, the error cut at 200 characters), so one failure read differently on the dashboard.
Partial and interrupted scopes keep their own lines."""

from __future__ import annotations

import datetime as dt

import pytest
from typer.testing import CliRunner

from flowscope.cli import app as cli
from flowscope.model import Batch
from flowscope.textsafety import markdown_text
from tests.core.test_no_silent_all_clear import T0, WINDOW, make_store, rows, run_row
from tests.ui.test_pages import app, no_exception, open_page

ERROR = "AccessDenied (the role is gone) ![p](http://127.0.0.1:9/p.png) " + "x" * 220


@pytest.fixture(scope="module")
def failed(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("banner") / "store"
    runs = [run_row("aws:1/r1", "failed", error=ERROR, at=T0 + dt.timedelta(days=1)),
            run_row("aws:1/r2", "partial", error="ThrottlingException on 2 workflows", at=T0 + dt.timedelta(days=1))]
    return make_store(path, rows("payments"), Batch(collection_runs=runs))


def _cli_sentence(store: str) -> str:
    result = CliRunner().invoke(cli, ["analyze", "--store", store, *WINDOW], terminal_width=2000)
    said = [line.strip() for line in result.output.splitlines() if line.strip().startswith("last collection of")]
    assert len(said) == 1, result.output
    return said[0]


def _banner(at) -> str:
    shown = [str(e.value) for e in at.error if "Collection failed" in str(e.value)]
    assert len(shown) == 1, [str(e.value) for e in at.error]
    return shown[0]


# Every page of numbers, not only Overview: Failures read "0 failed executions" beside a scope that could not be read,
# and the Executions page's search "0 matching" runs.
@pytest.mark.parametrize("page", ["overview", "collection_health", "workflows", "failures", "retries", "cost",
                                  "latency", "executions"])
def test_the_dashboard_says_a_failed_collection_as_analyze_does(failed, monkeypatch, page):
    sentence = _cli_sentence(failed)
    assert sentence.startswith("last collection of aws:1/r1 failed at 2026-11-11 00:01 UTC: AccessDenied")
    at = open_page(app(failed, monkeypatch, window="30d"), page)
    no_exception(at)
    banner = _banner(at)
    assert f"- {markdown_text(sentence)}" in banner, banner       # whole, escaped as the pages escape cloud text
    assert "![p](" not in banner
    assert f"- **{markdown_text('aws:1/r2')}** (partial): ThrottlingException on 2 workflows" in banner
    assert "Collection failed for 2 scope(s)" in banner
