"""The display formatters every surface shares: one output for each figure."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from flowscope.format import fmt_count, fmt_ms, fmt_pct, fmt_per_month, fmt_usd


@pytest.mark.parametrize("value,text", [
    (1234.5, "$1,234"), (12.345, "$12.35"), (0.01234, "$0.0123"), (0, "$0"), (0.0, "$0"),
    (-150.0, "$-150"), (-2.5, "$-2.50"), (None, "n/a"), (math.nan, "n/a"), (pd.NA, "n/a"),
    (0.000025, "$0.000025"), (0.0001, "$0.0001"), (-0.00005, "$-0.000050"), (3e-9, "<$0.000001"),
    (-3e-9, "-<$0.000001"),
])
def test_fmt_usd(value, text):
    assert fmt_usd(value) == text


@pytest.mark.parametrize("value,text", [
    (12.345, "$12.35/month"), (0.00002, "$0.000020/month"), (0.0, "no cost measured"), (None, "no cost measured"),
    (math.nan, "no cost measured"),
])
def test_a_finding_that_prices_nothing_does_not_read_as_free(value, text):
    """A stuck run or a failed collection carries no dollar figure: "$0/month" read as "nothing to lose"."""
    assert fmt_per_month(value) == text


@pytest.mark.parametrize("value,text", [
    (850, "850 ms"), (1500.0, "1.5 s"), (120_000, "2.0 min"), (8 * 3_600_000, "8.0 h"),
    (47.9 * 3_600_000, "47.9 h"), (648 * 3_600_000, "27.0 d"),
    (None, "n/a"), (math.nan, "n/a"), (pd.NaT, "n/a"), (pd.NA, "n/a"),
])
def test_fmt_ms(value, text):
    assert fmt_ms(value) == text


def test_counts_and_percentages():
    assert fmt_count(12345) == "12,345" and fmt_count(None) == "n/a"
    assert fmt_pct(0.123) == "12.3%" and fmt_pct(math.nan) == "n/a"
