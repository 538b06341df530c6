"""Fixtures the analysis tests share."""

from __future__ import annotations

import pytest

from flowscope.simulate.demo import build_demo
from flowscope.store import Store
from tests.analysis.helpers import DEMO_END


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory) -> Store:
    """A 14-day demo store of 1,500 executions ending at `DEMO_END`, built once for the tests that only read it
    (the two lanes', the window reads')."""
    s = Store(tmp_path_factory.mktemp("demo14") / "demo")
    build_demo(s, days=14, executions=1_500, seed=5, end=DEMO_END, workers=1)
    return s
