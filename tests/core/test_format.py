"""The display formatters every surface shares: one output for each figure."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from flowscope.format import fmt_count, fmt_duration, fmt_pct, fmt_per_month, fmt_usd


@pytest.mark.parametrize("value,text", [
    (1234.5, "$1,234"), (12.345, "$12.35"), (0.01234, "$0.0123"), (0, "$0"), (0.0, "$0"),
    (-150.0, "-$150"), (-2.5, "-$2.50"), (None, "n/a"), (math.nan, "n/a"), (pd.NA, "n/a"),
    (0.000025, "$0.000025"), (0.0001, "$0.0001"), (-0.00005, "-$0.000050"), (3e-9, "<$0.000001"),
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


@pytest.mark.parametrize("kind,text", [
    ("retry_storm", "$3.20 once"), ("synchronized_retries", "$3.20 once"), ("failing_step", "$3.20/month"),
    ("polling_loop", "$3.20/month"), ("stuck_execution", "$3.20/month"), (None, "$3.20/month"),
])
def test_an_episode_cost_reads_once_not_monthly(kind, text):
    """A retry storm's dollars are what the storm cost, once (`checks.Dollars.ONCE`): "$3.20/month" in the
    CLI, reports and chat promised a monthly rate the episode need not repeat."""
    from flowscope.analysis.checks import dollars_text

    assert dollars_text(3.2, kind) == text


@pytest.mark.parametrize("value,text", [
    (850, "850 ms"), (1500.0, "1.5 s"), (120_000, "2 min"), (8 * 3_600_000, "8 h"),
    (47.9 * 3_600_000, "1 d 23 h"), (648 * 3_600_000, "27 d"), (5.1 * 86_400_000, "5 d 2 h"),
    (None, "n/a"), (math.nan, "n/a"), (pd.NaT, "n/a"), (pd.NA, "n/a"),
])
def test_one_duration_format_for_titles_and_tables(value, text):
    """Titles said "running for up to 5.1 d (p99 11.1 min)" (format.fmt_ms) beside evidence and tables
    saying "5 d 2 h" and "11 min 7 s" (fmt_duration) for the same numbers: one format now."""
    assert fmt_duration(value) == text


def test_counts_and_percentages():
    assert fmt_count(12345) == "12,345" and fmt_count(None) == "n/a"
    assert fmt_pct(0.123) == "12.3%" and fmt_pct(math.nan) == "n/a"


def test_changes_are_signed_and_missing_rates_have_no_change():
    """The Overview page and the HTML report wrote their own deltas: with a window where no run
    finished (no rate) they printed 'nan pt' or failed. One rule each, missing in, None out."""
    from flowscope.format import fmt_evidence, fmt_pt_change, fmt_usd_change

    assert fmt_pt_change(0.125, 0.1) == "+2.5 pt" and fmt_pt_change(0.1, 0.125) == "-2.5 pt"
    assert fmt_pt_change(math.nan, 0.1) is None and fmt_pt_change(0.1, None) is None
    assert fmt_usd_change(3.5, 2.0) == "+$1.50" and fmt_usd_change(0.01, 0.0440) == "-$0.0340"
    assert fmt_usd_change(None, 1.0) is None
    # a failing step's change of rate read "rate change: -0.022" (a share, shown raw)
    assert fmt_evidence({"failure_rate": 0.378, "rate_change": -0.022}) == (
        "Failure rate: 37.8%; rate change: -2.2 pt.")


@pytest.mark.parametrize("evidence,text", [
    ({"steps": [], "executions": 2}, "Executions: 2."),                    # read "Steps: ; executions: 2."
    ({"error": "", "cause": "  ", "executions": 2}, "Executions: 2."),      # read "Error: ; cause:   ; ..."
    ({"previous_p95_ms": None, "p95_ms": 1_500}, "P95: 1.5 s."),           # read "Previous p95: —; p95: ..."
    ({"detail": {}, "runs": [None, "", "r1"]}, "Runs: r1."),                # read "Detail: (—); runs: —, , r1."
    ({"detail": {"gap": None}, "failure_rate": float("nan")}, "—"),        # nothing to say: the blank
])
def test_evidence_leaves_out_empty_fields(evidence, text):
    """An evidence field with no value (None, NaN, "", [], {}) printed its name and nothing ("Steps: ;"),
    or a dash, in the sentence a finding shows; it is now left out, and evidence with none reads blank."""
    from flowscope.format import fmt_evidence

    assert fmt_evidence(evidence) == text


@pytest.mark.parametrize("share,text", [(0.0002, "<0.1%"), (0.00049, "<0.1%"), (0.0, "0.0%"), (0.0005, "0.1%"),
                                        (0.9998, ">99.9%"), (1.0, "100.0%"), (0.375 / 100, "0.4%")])
def test_a_share_that_is_not_none_never_reads_as_none(share, text):
    """1 failed run in 5,000 read "Run failure rate 0.0%" on Overview and in reports (an all-clear that is
    not one), and 4,999 in 5,000 "100.0%". A share between 0 and 0.1% now reads "<0.1%", one between
    99.9% and 100% ">99.9%"."""
    assert fmt_pct(share) == text


@pytest.mark.parametrize("value,text", [(0.4, "0.4 ms"), (0.5, "0.5 ms"), (0.043, "0.043 ms"), (0, "0 ms"),
                                        (0.0, "0 ms"), (-0.3, "-0.3 ms"), (999.6, "1.0 s"), (1.0, "1 ms"),
                                        (1e-9, "<0.001 ms")])
def test_a_duration_under_a_millisecond_is_not_zero(value, text):
    """A step of 0.4 ms (Logic Apps and Workflows time to the microsecond) read "0 ms", as a step that took
    no time; 999.6 ms read "1000 ms". It now reads "0.4 ms" (two significant digits), and 999.6 ms "1.0 s"."""
    assert fmt_duration(value) == text


@pytest.mark.parametrize("value,text", [(99.996, "$100"), (0.99996, "$1.00"), (0.00009996, "$0.0001"),
                                        (-99.996, "-$100"), (99.994, "$99.99"), (0.99994, "$0.9999")])
def test_an_amount_at_a_precision_boundary_reads_as_the_amount_it_rounds_to(value, text):
    """fmt_usd chose its precision before rounding: $99.996 read "$100.00" beside "$100", $0.99996 "$1.0000"
    beside "$1.00", $0.00009996 "$0.000100". An amount now reads at the precision of what it rounds to."""
    assert fmt_usd(value) == text


@pytest.mark.parametrize("ms", [81.52 * 60_000, 119.8 * 60_000, 3_599_700, 47.9 * 3_600_000, 86_399_000,
                                2 * 3_600_000 + 30_000, 5.1 * 86_400_000])
def test_a_duration_reads_the_same_minute_in_a_sentence_and_in_a_table(ms):
    """The Latency page's "Slowest workflow p95" read "1 h 21 min" above a table whose p95 read "1 hr, 22 min"
    for the same 81.5 minutes: a sentence cut the minutes, the table (`per_cell_durations`) rounds them.
    Now both round to the minute from an hour up, and a sentence keeps the table's two largest units."""
    from flowscope.ui.readable import per_cell_durations

    cell = per_cell_durations(pd.Series([ms])).iloc[0]
    days, rest = divmod(int(cell.total_seconds()) // 60, 24 * 60)
    hours, minutes = divmod(rest, 60)
    units = [(days, "d"), (hours, "h"), (minutes, "min")]
    first = next(i for i, (n, _) in enumerate(units) if n)
    shown = [f"{n} {u}" for n, u in units[first:first + 2] if n]
    assert fmt_duration(ms) == " ".join(shown)


def test_no_change_is_unsigned_and_a_change_that_rounds_away_is_still_signed():
    """The Overview read "Retries 0, +0" and "Run failure rate 0.0%, +0.0 pt" under a red rising arrow, and
    a fall of 0.04 pt as "-0.0 pt": the deltas were signed whatever they were. No change is now unsigned
    (`is_change`), and a change too small for one decimal keeps its sign ("-<0.1 pt")."""
    from flowscope.format import fmt_count_change, fmt_evidence, fmt_pt_change, fmt_usd_change, is_change

    assert fmt_count_change(5, 5) == "0" and fmt_count_change(5, 3) == "+2" and fmt_count_change(3, 1_205) == "-1,202"
    assert fmt_count_change(None, 3) is None
    assert fmt_pt_change(0.0, 0.0) == "0.0 pt" and fmt_pt_change(0.25, 0.25) == "0.0 pt"
    assert fmt_pt_change(0.0010, 0.0014) == "-<0.1 pt" and fmt_pt_change(0.0014, 0.0010) == "+<0.1 pt"
    assert fmt_pt_change(0.0014, 0.0004) == "+0.1 pt"
    assert fmt_usd_change(2.0, 2.0) == "$0" and fmt_usd_change(2.00001, 2.0) == "+$0.000010"
    assert fmt_evidence({"rate_change": -0.0001}) == "Rate change: -<0.1 pt."
    assert [is_change(d) for d in ("0", "$0", "0.0 pt", "+2", "-$0.0340", "-<0.1 pt")] == [
        False, False, False, True, True, True]
