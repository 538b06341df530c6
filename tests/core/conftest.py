"""Fixtures of the core tests: small simulated histories of every cloud."""

from __future__ import annotations

import pytest

from flowscope.model import Cloud
from tests.core.helpers import small_sim


@pytest.fixture
def sims():
    return {cloud: small_sim(cloud) for cloud in Cloud}
