"""flowscope: observability and cost analysis for managed cloud workflows.

Notebook API::

    import flowscope
    s = flowscope.open("~/.flowscope")
    s.executions(since="7d", cloud="aws")      # pandas DataFrame, model columns
    flowscope.analyze(s, since="7d")           # findings DataFrame
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
version = __version__

if TYPE_CHECKING:
    import pandas as pd

    from flowscope.session import Session


def open(path: str | None = None) -> "Session":  # noqa: A001 - the documented notebook entry point
    """Open a store: `flowscope.open(path).executions(since="7d")`."""
    from flowscope.session import open_store

    return open_store(path)


def analyze(store: "Session | str | None" = None, **options: Any) -> "pd.DataFrame":
    """Findings as a DataFrame, most severe and most expensive first (see flowscope.analysis)."""
    from flowscope.analysis.run import analyze_store
    from flowscope.session import Session, open_store

    session = store if isinstance(store, Session) else open_store(store)
    return analyze_store(session.store, **options)


__all__ = ["__version__", "analyze", "open", "version"]
