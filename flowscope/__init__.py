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

DEFAULT_SINCE = "7d"
"""The window read when none is given, defined once: `flowscope.analyze`, `flowscope analyze --since` (and
`report`), and the dashboard's default window."""

if TYPE_CHECKING:
    import os
    from collections.abc import Sequence

    import pandas as pd

    from flowscope.session import Session
    from flowscope.store import Store


def open(  # noqa: A001 - the documented notebook entry point
        path: "str | os.PathLike[str] | bytes | Store | None" = None) -> "Session":
    """Open an existing store: `flowscope.open(path).executions(since="7d")`.

    `path`: the store's folder (a str, a Path, bytes) or a Store; default: the configured store. Raises
    flowscope.store.NotAStoreError naming the path when it holds no store (readers never create one).
    """
    from flowscope.session import open_store

    return open_store(path)


def analyze(store: "Session | Store | str | os.PathLike[str] | None" = None, *, since: Any = DEFAULT_SINCE,
            until: Any = None,
            cloud: "str | Sequence[str] | None" = None, workflow: "str | Sequence[str] | None" = None,
            thresholds: Any = None, now: Any = None, clouds: "str | Sequence[str] | None" = None,
            workflows: "str | Sequence[str] | None" = None) -> "pd.DataFrame":
    """Findings as a DataFrame, most severe and most expensive first (see flowscope.analysis).

    The window is the last 7 days by default, as `flowscope analyze` and the dashboard read (it was the whole
    store: 20 findings where the command said 11); `since=None` reads the whole store. The filters are the
    table readers': `cloud` and `workflow` (name or id), one or a list
    (`clouds` / `workflows` are the same filters under the analyses' own names). Without `until` the
    window ends now, or where the store's data ends when that is earlier (said in a warning), as on
    the dashboard: the days after a stopped sync or an old import are not read as days without spend.
    `now` (default: now) is the instant they count from; it, `since` and `until` take what the table readers
    take (a duration, an ISO text, a datetime or date, pandas' or numpy's times; naive is UTC).
    `thresholds` default to the config file's [thresholds] (FLOWSCOPE_CONFIG or ./flowscope.toml), as
    `flowscope analyze` reads them. Beside `monthly_usd`, `monthly_usd_is` says what the dollars are
    ("saving", "cost", "cost_once", "spend", or missing for a kind that prices nothing), as in the JSON and
    CSV exports: savings, costs and spend are never added together. Raises NotAStoreError for a path that
    is not a store and ValueError naming what exists for a typo'd cloud or workflow (or the file and line
    of a bad [thresholds]);
    warns (UserWarning) when the window holds no executions or the last collection of an in-scope
    scope failed, so an empty frame is never read as "healthy"; where warnings are silenced, the frame's
    `attrs["coverage"]` says the same (the header of `flowscope analyze --format json`: window, counts,
    status "ok", "no_data", "collection_failed" or "stale", message, note).
    """
    import datetime as dt
    import warnings

    from flowscope.analysis.run import analyze_report
    from flowscope.dialect import PYTHON
    from flowscope.session import (
        Session,
        as_now,
        as_time,
        check_thresholds,
        clouds_list,
        configured_thresholds,
        damage_unchained,
        filter_values,
        open_store,
        safe_errors,
        with_dollars_meaning,
        workflows_list,
    )
    from flowscope.textsafety import one_line
    from flowscope.timewindow import parse_window

    for name, one, many in (("cloud", cloud, clouds), ("workflow", workflow, workflows)):
        if one is not None and many is not None:
            raise TypeError(f"flowscope.analyze() takes {name} or {name}s, not both")
    given = filter_values({"cloud": cloud, "clouds": clouds, "workflow": workflow, "workflows": workflows})
    cloud, clouds, workflow, workflows = (given[k] for k in ("cloud", "clouds", "workflow", "workflows"))
    since, until, now = as_time(since, "since"), as_time(until, "until"), as_now(now)
    session = store if isinstance(store, Session) else open_store(store, "flowscope.analyze")
    session.still_there()
    if thresholds is None:      # the config's, as `flowscope analyze` reads them
        thresholds = configured_thresholds()
    check_thresholds(thresholds)
    collections_as_of, end_note = None, None
    if until is None:        # where it ends is said once the filters are known good (a typo is said alone)
        (until, end_note), collections_as_of = session.window_end_note(now), now or dt.datetime.now(dt.timezone.utc)
    # the window is read here, in this call's words (since=..., not the commands' --since), then handed on
    since, until = parse_window(since, until, now, words=PYTHON)
    # a typo's error names the store's workflows: cloud text; a damaged file (which `analyze_report` names) is said
    # without DuckDB's error chained to it
    with safe_errors(), damage_unchained():
        report = analyze_report(session.store, since=since, until=until, now=now, thresholds=thresholds,
                                collections_as_of=collections_as_of,
                                clouds=clouds_list(cloud if cloud is not None else clouds),
                                workflows=workflows_list(workflow if workflow is not None else workflows))
    if end_note:
        warnings.warn(end_note, UserWarning, stacklevel=2)
    gap = report.coverage.gap_note(PYTHON)
    if gap:
        warnings.warn(one_line(gap), UserWarning, stacklevel=2)
    # a collection's error is the cloud's text: one safe line
    problems = [report.coverage.message(PYTHON), *report.coverage.failed_notes()]
    if any(problems):
        warnings.warn(one_line("; ".join(p for p in problems if p)), UserWarning, stacklevel=2)
    findings = with_dollars_meaning(report.findings)
    # what the window held, as `flowscope analyze --format json` prints it: read where warnings are silenced
    findings.attrs["coverage"] = report.header(PYTHON)
    return findings


__all__ = ["__version__", "analyze", "open", "version"]
