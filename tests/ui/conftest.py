"""Stores for the dashboard tests: three clouds, one cloud, empty, first sync still running."""

from __future__ import annotations

import datetime as dt

import pytest

from flowscope.model import UTC, Batch, C, Cloud, RunStatus
from flowscope.store import Store
from tests.ui.helpers import N, build


@pytest.fixture(scope="session", autouse=True)
def loopback_bind():
    """The page tests run as `flowscope dashboard` serves: bound to 127.0.0.1 (whatever the working
    directory's .streamlit/config.toml says); test_bind_guard.py changes it per test."""
    from streamlit import config as st_config

    before = st_config.get_option("server.address")
    st_config.set_option("server.address", "127.0.0.1")
    yield
    st_config.set_option("server.address", before)


@pytest.fixture(scope="session")
def three_cloud_store(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("ui-three")
    Store(path).write(build(N, days=6))
    return str(path)


@pytest.fixture(scope="session")
def one_cloud_store(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("ui-one")
    Store(path).write(build(90, days=6, clouds=(Cloud.AWS,), failed_scope=False))
    return str(path)


@pytest.fixture(scope="session")
def empty_store(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("ui-empty")
    Store(path)
    return str(path)


@pytest.fixture(scope="session")
def syncing_store(tmp_path_factory) -> str:
    """A first sync that has started (its collection run is RUNNING) and written no execution yet."""
    path = tmp_path_factory.mktemp("ui-syncing")
    now = dt.datetime.now(UTC)
    Store(path).write(Batch(collection_runs=[{
        C.run_id: "r1", C.cloud: Cloud.AWS.value, C.scope: "aws:111/us-east-1", C.started_at: now,
        C.ended_at: None, C.status: RunStatus.RUNNING.value, C.watermark: None, C.counts: "{}", C.error: None,
        C.details: "{}"}]))
    return str(path)


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """A 3-day demo store (its GCP workflows wrap calls in try/retry, with excepts), a prepared cursor
    of it and its window."""
    from flowscope.analysis import tables
    from flowscope.simulate.demo import build_demo

    end = dt.datetime(2026, 3, 31, tzinfo=UTC)
    store = Store(tmp_path_factory.mktemp("demo") / "s")
    build_demo(store, days=3, executions=600, seed=11, end=end)
    cursor = tables.prepare(store.connect().cursor())
    yield store, cursor, tables.Filters(end - dt.timedelta(days=3), end)
    cursor.close()
