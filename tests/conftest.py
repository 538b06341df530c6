"""What every test folder shares."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _main_module_kept() -> Iterator[None]:
    """Put back `sys.modules["__main__"]` after a test. Streamlit's AppTest runs its script as `__main__` and
    leaves it there; a process pool started later (the demo's, through the forkserver) then ran that
    temporary script in every worker ("NameError: name '__args' is not defined", BrokenProcessPool) in
    whichever test first built a demo after an AppTest."""
    main = sys.modules.get("__main__")
    yield
    if main is not None:
        sys.modules["__main__"] = main


@pytest.fixture(scope="session", autouse=True)
def _own_cache_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The tests' user cache (`XDG_CACHE_HOME`: the dashboard's kept findings, `ui/kept_findings.py`) is a
    folder of the run's own, never the machine user's: a dashboard or analyses process a session fixture
    starts inherits it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
        yield


@pytest.fixture(autouse=True)
def _fresh_cache_folder(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test its own empty user cache: findings one test's dashboard kept would answer another's
    window at once (a preemption test's job would end before it could be interrupted)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
