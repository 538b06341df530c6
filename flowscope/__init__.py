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
    """Open an existing store: `flowscope.open(path).executions(since="7d")`.

    Raises flowscope.store.NotAStoreError naming the path when it holds no store (readers never create one).
    """
    from flowscope.session import open_store

    return open_store(path)


def analyze(store: "Session | str | None" = None, **options: Any) -> "pd.DataFrame":
    """Findings as a DataFrame, most severe and most expensive first (see flowscope.analysis).

    Raises NotAStoreError for a path that is not a store and ValueError naming what exists for a
    typo'd cloud or workflow; warns (UserWarning) when the window holds no executions or the last
    collection of an in-scope scope failed, so an empty frame is never read as "healthy".
    """
    import warnings

    from flowscope.analysis.run import analyze_report
    from flowscope.session import Session, open_store

    session = store if isinstance(store, Session) else open_store(store)
    report = analyze_report(session.store, **options)
    if report.coverage.status != "ok":
        problems = [report.coverage.message()] + [
            f"last collection of {f['scope']} failed: {f['error']}" for f in report.coverage.failed_collections]
        warnings.warn("; ".join(p for p in problems if p), UserWarning, stacklevel=2)
    return report.findings


__all__ = ["__version__", "analyze", "open", "version"]
