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
