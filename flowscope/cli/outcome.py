"""How an analysis ends, the same for `analyze`, `report` and `run`: the one exit rule (`verdict`, with the
severities `--fail-on` ranks) and the notes on what the window held (no data, failed collections).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from flowscope.cli.output import note
from flowscope.exitcodes import ExitCode

if TYPE_CHECKING:
    from flowscope.analysis.run import Coverage


SEVERITY_RANK = {"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}


def _coverage_notes(coverage: "Coverage") -> None:
    """Why a window holds nothing, and which collections failed (analyze, report and run say the same)."""
    for said in (coverage.message(), coverage.gap_note()):
        if said:
            note(said)
    for failed in coverage.failed_notes():
        note(failed)


def verdict(severities: Iterable[str], status: str, fail_on: str | None, *,
            delivery_failed: bool = False, history_failed: bool = False) -> ExitCode:
    """The one exit rule of analyze, report and run: 1 a finding at or above --fail-on (it wins: the
    findings are real whatever else); else 3 no data or a failed collection; else 4 a failed delivery
    (people were not told); else 6 a findings history the store refused (people may be told twice); else 0."""
    if fail_on is not None and any(SEVERITY_RANK.get(str(s), -1) >= SEVERITY_RANK[fail_on] for s in severities):
        return ExitCode.FINDINGS
    if status != "ok":
        return ExitCode.NO_DATA
    if delivery_failed:
        return ExitCode.DELIVERY_FAILED
    return ExitCode.HISTORY_NOT_RECORDED if history_failed else ExitCode.OK
