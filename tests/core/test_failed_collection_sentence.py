"""A failed collection is said in one sentence (`Coverage.failed_notes`) by every surface: the commands, the
notebook and the reports each wrote their own (with the time, without it, "scope: error" under a heading),
so the same failure read differently depending on where it was looked at."""

from __future__ import annotations

import dataclasses
import datetime as dt
import warnings

import pytest
from markupsafe import escape
from typer.testing import CliRunner

import flowscope
from flowscope.cli import app
from flowscope.model import Batch
from flowscope.report import build_content
from flowscope.report.html import render_html
from flowscope.report.markdown import md, render_markdown
from flowscope.store import Store

from .test_no_silent_all_clear import T0, WINDOW, make_store, rows, run_row

SENTENCE = "last collection of aws:1/r1 failed at 2026-11-11 00:01 UTC: AccessDenied (the role is gone)"
SINCE, UNTIL = dt.datetime(2026, 11, 9, tzinfo=dt.timezone.utc), dt.datetime(2026, 11, 12, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def failed(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("failed") / "store"
    run = run_row("aws:1/r1", "failed", error="AccessDenied (the role is gone)", at=T0 + dt.timedelta(days=1))
    return make_store(path, rows("payments"), Batch(collection_runs=[run]))


def test_the_coverage_says_it(failed):
    content = build_content(Store.open(failed), since=SINCE, until=UNTIL, now=UNTIL)
    assert content.coverage.failed_notes() == [SENTENCE]
    assert SENTENCE in content.data_reasons()        # what a notification and a table export say


def test_the_command_says_it(failed):
    result = CliRunner().invoke(app, ["analyze", "--store", failed, *WINDOW])
    assert SENTENCE in result.output, result.output


def test_the_notebook_says_it(failed):
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always", UserWarning)
        flowscope.analyze(failed, since=SINCE, until=UNTIL)
    assert any(SENTENCE in str(w.message) for w in said), [str(w.message) for w in said]


def test_the_reports_say_it(failed):
    content = build_content(Store.open(failed), since=SINCE, until=UNTIL, now=UNTIL)
    # the cloud's text escaped, flowscope's own words as written (a ticket's raw text reads them)
    assert (f"- last collection of {md('aws:1/r1')} failed at 2026-11-11 00:01 UTC: "
            f"{md('AccessDenied (the role is gone)')}") in render_markdown(content)
    assert str(escape(SENTENCE)) in render_html(content, charts="cdn")


def test_a_failure_without_an_end_or_an_error_is_said_without_them(failed):
    """A run recorded failed with no end time and no error (a killed sync) reads "failed: no error recorded",
    not "failed at None: None"."""
    coverage = build_content(Store.open(failed), since=SINCE, until=UNTIL, now=UNTIL).coverage
    bare = dataclasses.replace(coverage, failed_collections=[{"scope": "aws:1/r1", "cloud": "aws",
                                                               "ended_at": None, "error": None}])
    assert bare.failed_notes() == ["last collection of aws:1/r1 failed: no error recorded"]
