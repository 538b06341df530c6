"""Analyses: pure functions of the store's tables that return findings.

    from flowscope.analysis import analyze
    df = analyze({"executions": t1, "steps": t2, ...}, since=dt.datetime(...))

`tables` maps model table names to Ibis tables of any backend (DuckDB by default). Every
analysis aggregates in the engine; only small aggregated results reach pandas.

The names below load on first use: `flowscope.analysis.pricing` (which collectors use for
billing rules) must not pull Ibis and pandas into a collector or a demo worker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowscope.analysis.base import (
        FINDING_COLUMNS,
        Context,
        Finding,
        FindingKind,
        Severity,
        Thresholds,
        findings_frame,
    )
    from flowscope.analysis.suite import (
        ANALYSES,
        analyze,
        analyze_context,
        build_context,
        findings_to_json,
        findings_to_records,
        known_workflows,
    )

_FROM_BASE = frozenset({"FINDING_COLUMNS", "Context", "Finding", "FindingKind", "Severity", "Thresholds",
                        "findings_frame"})
_FROM_SUITE = frozenset({"ANALYSES", "analyze", "analyze_context", "build_context", "findings_to_json",
                         "findings_to_records", "known_workflows"})

__all__ = [
    "ANALYSES", "FINDING_COLUMNS", "Context", "Finding", "FindingKind", "Severity", "Thresholds", "analyze",
    "analyze_context", "build_context", "findings_frame", "findings_to_json", "findings_to_records", "known_workflows",
]


def __getattr__(name: str) -> Any:
    if name in _FROM_BASE:
        from flowscope.analysis import base

        return getattr(base, name)
    if name in _FROM_SUITE:
        from flowscope.analysis import suite

        return getattr(suite, name)
    raise AttributeError(f"module 'flowscope.analysis' has no attribute {name!r}")
