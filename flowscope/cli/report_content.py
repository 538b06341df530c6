"""What `report` and `run` report on: the analyses and measures of one window, and the findings history
recorded in the store, under its lock (a second report or run of the store waits for the first).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from flowscope.cli.loading import _thresholds
from flowscope.cli.output import fail, status

if TYPE_CHECKING:
    from flowscope.store import Store


def _report_content(target: "Store", settings: Any, *, since: Any, until: Any, cloud: list[str] | None,
                    workflow: list[str] | None, title: str, history: bool,
                    collections_as_of: dt.datetime | None = None,
                    history_as_of: dt.datetime | None = None) -> Any:
    """Analyses + measures of one window (report/content.py), then the findings history recorded (a
    window ending later recorded as ending at `history_as_of`; default: when the report was made)."""
    from flowscope.report import build_content
    from flowscope.report import history as findings_history
    from flowscope.store import StoreError

    thresholds = _thresholds(settings)
    try:
        with status("analysing"):
            content = build_content(target, since=since, until=until, clouds=cloud, workflows=workflow,
                                    thresholds=thresholds, title=title, collections_as_of=collections_as_of)
    except (StoreError, ValueError) as exc:
        raise fail(str(exc)) from None
    try:
        findings_history.record(target, content, write=history, as_of=history_as_of)
    except (StoreError, OSError) as exc:     # exit 6 at the end; the report and the messages still go out
        fail(f"findings history not recorded (the next report tells this one's new findings again; on a "
             f"read-only store, `report --no-history` reads it without writing): {exc}")
    return content


@contextlib.contextmanager
def _history_held(target: "Store", history: bool = True) -> Iterator[None]:
    """`history.history_lock` (nothing with --no-history, which writes none): a second report or run
    of the store waits for the first to record what it found and told. Exit 2 naming the holder's pid
    when it waited too long, before anything is written or sent."""
    from flowscope.report.history import HISTORY_LOCK_TIMEOUT_S, history_lock
    from flowscope.store import StoreError

    with contextlib.ExitStack() as held:
        if history:
            try:
                held.enter_context(history_lock(target))
            except StoreError as exc:
                raise fail(f"another flowscope report or run has held this store's findings history for "
                           f"{HISTORY_LOCK_TIMEOUT_S:.0f} s, so nothing was written or sent ({exc}); run it "
                           "again when that one is done") from None
        yield


def _unrecorded(content: Any) -> bool:
    """Whether the store refused this report's findings history (`HistoryChange.not_recorded`)."""
    return content.history is not None and content.history.not_recorded is not None
