"""Display formatters: how a figure reads on every surface (CLI, analyses' titles, dashboard, reports).

One definition each, so the same figure reads the same wherever it is shown. Missing values
(None, NaN, pandas' NA and NaT) read as "n/a". Pure, and free of pandas, so the CLI stays quick
to start.
"""

from __future__ import annotations

from typing import Any

MISSING = "n/a"


def is_missing(value: Any) -> bool:
    """None, NaN, NaT or pandas' NA (without importing pandas: these are the values unequal to
    themselves, and NA's comparisons have no truth value)."""
    if value is None:
        return True
    try:
        return bool(value != value)
    except TypeError:
        return True


def fmt_usd(value: Any) -> str:
    """Dollars to the precision their size needs: $1,234 / $12.34 / $0.0123; zero is "$0" and a
    negative amount (a saving's other side) keeps its sign at the precision of its size."""
    if is_missing(value):
        return MISSING
    amount = float(value)
    if abs(amount) >= 100:
        return f"${amount:,.0f}"
    if abs(amount) >= 1:
        return f"${amount:,.2f}"
    return f"${amount:.4f}" if amount else "$0"


def fmt_ms(value: Any) -> str:
    """A duration in milliseconds with the unit a person reads: 850 ms, 1.5 s, 2.0 min, 8.0 h."""
    if is_missing(value):
        return MISSING
    ms = float(value)
    if ms >= 3_600_000:
        return f"{ms / 3_600_000:.1f} h"
    if ms >= 60_000:
        return f"{ms / 60_000:.1f} min"
    if ms >= 1_000:
        return f"{ms / 1_000:.1f} s"
    return f"{ms:.0f} ms"


def fmt_count(value: Any) -> str:
    """A count with thousands separators: 12,345."""
    return MISSING if is_missing(value) else f"{int(value):,}"


def fmt_pct(share: Any) -> str:
    """A share (0..1) as a percentage with one decimal: 0.123 -> 12.3%."""
    return MISSING if is_missing(share) else f"{float(share):.1%}"
