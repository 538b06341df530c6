"""A window and filters that match no execution say so on every page (`components.page`, `has_executions`), with
the store's newest start: never a page of zeros that reads as "nothing failed, nothing cost"."""

from __future__ import annotations

import datetime as dt

import pytest

from flowscope.model import UTC, Cloud
from flowscope.store import Store
from tests.ui.helpers import build
from tests.ui.test_pages import app, no_exception, open_page

PAGES = ["overview", "workflows", "executions", "failures", "retries", "cost", "latency"]


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    """AWS runs over the last 3 days; GCP runs only three weeks ago."""
    path = tmp_path_factory.mktemp("empty-window")
    now = dt.datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    Store(path).write(build(60, days=3, clouds=(Cloud.AWS,), failed_scope=False))
    Store(path).write(build(6, end=now - dt.timedelta(days=21), days=1, clouds=(Cloud.GCP,), failed_scope=False))
    return str(path)


@pytest.mark.parametrize("page", PAGES)
def test_a_cloud_with_no_run_in_the_window_is_said_not_drawn_as_zeros(store, monkeypatch, page):
    at = open_page(app(store, monkeypatch, window="24h", cloud="gcp"), page)
    no_exception(at)
    said = [w.value for w in at.warning if "No executions match the filters in this window" in w.value]
    assert said and "The newest execution in the store started" in said[0], [w.value for w in at.warning]
    assert not at.metric, [m.label for m in at.metric]        # the page stopped there: no figures


@pytest.mark.parametrize("page", PAGES)
def test_the_same_window_with_runs_draws_the_page(store, monkeypatch, page):
    at = open_page(app(store, monkeypatch, window="24h", cloud="aws"), page)
    no_exception(at)
    assert not [w.value for w in at.warning if "No executions match" in w.value]
