"""Display formatters: how a figure reads on every surface (CLI, analyses' titles, dashboard, reports).

One definition each, so the same figure reads the same wherever it is shown. Missing values
(None, NaN, pandas' NA and NaT) read as "n/a". Pure, and free of pandas, so the CLI stays quick
to start.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
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


CENT = 0.01
"""The least amount the dashboard reads in cents: its tables' money columns are `dollar` ($0.66) when their
smallest amount is at least a cent (`ui.readable.money_format`), and its metric tiles say an amount as the
tables do (`fmt_usd(..., cents=True)`, through `ui.components.tile_usd`)."""


def fmt_usd(value: Any, *, cents: bool = False) -> str:
    """Dollars to the precision their size needs: $1,234 / $12.34 / $0.0123 / $0.000025 (a state
    transition's price); zero is "$0", an amount too small for six decimals "<$0.000001" (never a
    zero that is not one), and a negative amount (a saving's other side) keeps its sign.

    cents: the dashboard tables' rule (`CENT`): an amount of at least a cent in cents ("$0.66", "$0.01"),
    where it read "$0.6550" in a metric tile beside "$1.80" and the tables' "$0.66"; a smaller one as above."""
    if is_missing(value):
        return MISSING
    amount = float(value)
    if not amount:
        return "$0"
    sign, size = ("-" if amount < 0 else ""), abs(amount)
    # Each precision from where the amount rounds into it: $99.996 is "$100", not "$100.00".
    if float(f"{size:.2f}") >= 100:
        return f"{sign}${size:,.0f}"
    if float(f"{size:.4f}") >= (CENT if cents else 1):
        return f"{sign}${size:,.2f}"
    if float(f"{size:.6f}") >= 0.0001:
        return f"{sign}${size:.4f}"
    if float(f"{size:.6f}") >= 0.000001:
        return f"{sign}${size:.6f}"
    return f"{sign}<$0.000001"


NOT_PRICED = "no cost measured"
"""What a finding that prices nothing (a stuck run, a slow step, a failed collection) says for its money:
"$0" read as "nothing to lose"."""


def fmt_monthly(value: Any) -> str:
    """A finding's monthly dollars in a table cell: "$12.34", or NOT_PRICED."""
    if is_missing(value) or not float(value):
        return NOT_PRICED
    return fmt_usd(value)


def fmt_per_month(value: Any, *, once: bool = False) -> str:
    """A finding's dollars in a sentence: "$12.34/month", "$3.20 once" where they are what an episode
    cost, not a monthly rate (`analysis.checks.dollars_text` says which for a finding's kind), or
    NOT_PRICED."""
    shown = fmt_monthly(value)
    if shown == NOT_PRICED:
        return shown
    return f"{shown} once" if once else f"{shown}/month"


def fmt_count(value: Any) -> str:
    """A count with thousands separators: 12,345."""
    return MISSING if is_missing(value) else f"{int(value):,}"


def fmt_pct(share: Any) -> str:
    """A share (0..1) as a percentage with one decimal: 0.123 -> 12.3%. A share that is not none but
    rounds to 0.0% reads "<0.1%", and one that is not all but rounds to 100.0% ">99.9%": 1 failed run in
    5,000 read "failure rate 0.0%", an all-clear that is not one."""
    if is_missing(share):
        return MISSING
    value = float(share)
    shown = f"{value:.1%}"
    if 0 < value and shown == "0.0%":
        return "<0.1%"
    if value < 1 and shown == "100.0%":
        return ">99.9%"
    return shown


def fmt_pt_change(now: Any, before: Any) -> str | None:
    """The change between two shares (0..1) in percentage points: "+2.1 pt"; None when either is missing
    (a window where no run finished has no rate to compare). Written as every change is (`is_change`)."""
    if is_missing(now) or is_missing(before):
        return None
    return fmt_points(float(now) - float(before))


def fmt_points(change: float) -> str:
    """A change of a share (0..1) in percentage points, one decimal: "+2.1 pt". No change is "0.0 pt",
    unsigned (see `is_change`); one that is not none but rounds to 0.0 reads "+<0.1 pt", as `fmt_pct`
    says "<0.1%": "-0.0 pt" read as no change under a falling arrow."""
    if not change:
        return "0.0 pt"
    shown = f"{change * 100:+.1f}"
    return f"{shown[0]}<0.1 pt" if shown[1:] == "0.0" else f"{shown} pt"


def fmt_count_change(now: Any, before: Any) -> str | None:
    """The change between two counts: "+1,204", "-3", and "0" for none (`is_change`); None when either
    is missing."""
    if is_missing(now) or is_missing(before):
        return None
    change = int(now) - int(before)
    return f"{change:+,}" if change else "0"


def fmt_usd_change(now: Any, before: Any, *, cents: bool = False) -> str | None:
    """The change between two amounts, signed, at fmt_usd's precision: "+$1.20", "-$0.0340" ("-$0.03" with
    `cents`, as `fmt_usd` says it); "$0" for none."""
    if is_missing(now) or is_missing(before):
        return None
    change = float(now) - float(before)
    return (("+" if change > 0 else "-") if change else "") + fmt_usd(abs(change), cents=cents)


def is_change(delta: str) -> bool:
    """Whether a change written by this module's `fmt_*_change` says something changed. The rule of them
    all: a change is signed ("+3", "-$0.0340", "+<0.1 pt"), no change is not ("0", "$0", "0.0 pt"), so a
    metric shows no rising or falling arrow for a figure that stayed where it was ("+0" rose in red)."""
    return delta.startswith(("+", "-"))


def fmt_cause(text: Any) -> Any:
    """A failure's cause as a person reads it: a Lambda error's JSON (errorMessage, errorType,
    stackTrace, requestId: kept whole in the store, `aws/transform/causes.py`) as its type and message;
    any other value as it is."""
    if not isinstance(text, str) or not text.lstrip().startswith("{"):
        return text
    try:
        value = json.loads(text)
    except ValueError:
        return text
    if not isinstance(value, dict) or not isinstance(value.get("errorMessage"), str):
        return text
    kind = value.get("errorType")
    return f"{kind}: {value['errorMessage']}" if isinstance(kind, str) and kind else value["errorMessage"]


BLANK = "—"


def fmt_duration(ms: Any, missing: str = MISSING) -> str:
    """A duration in milliseconds (or a timedelta) with two units at most, so tables read like a person
    speaks: 0.4 ms, 850 ms, 1.2 s, 5 min 12 s, 2 h 5 min, 3 d 4 h. From an hour up it rounds to the minute
    before it splits, as the dashboard's tables do, so "1 h 22 min" here is "1 hr, 22 min" there."""
    if isinstance(ms, dt.timedelta):
        ms = ms.total_seconds() * 1000
    if is_missing(ms):
        return missing
    value = float(ms)
    sign, value = ("-" if value < 0 else ""), abs(value)
    if 0 < value < 1:       # a step of 0.4 ms read "0 ms", as one that took no time
        return f"{sign}{value:.2g} ms" if value >= 0.001 else f"{sign}<0.001 ms"     # never an exponent
    if value < 999.5:       # 999.6 ms read "1000 ms"
        return f"{sign}{value:.0f} ms"
    if value < 59_950:
        return f"{sign}{value / 1_000:.1f} s"
    seconds = int(round(value / 1_000))
    if seconds >= 3_600:    # to the minute first, as the tables round (`ui.readable.per_cell_durations`)
        seconds = int(round(value / 60_000)) * 60
    for big, big_unit, small, small_unit in ((86_400, "d", 3_600, "h"), (3_600, "h", 60, "min"),
                                             (60, "min", 1, "s")):
        if seconds >= big:
            whole, rest = divmod(seconds, big)
            part = rest // small
            return f"{sign}{whole} {big_unit}" + (f" {part} {small_unit}" if part else "")
    return f"{sign}{seconds} s"


def _humanize(key: str) -> str:
    for suffix in ("_ms", "_usd", "_minutes", "_pct"):
        key = key.removesuffix(suffix)
    return key.replace("_", " ").strip()


SHARE_WORDS = frozenset({"rate", "share", "ratio"})
"""Words of a name that make a fraction of one (failure_rate, share): shown as a percentage."""


def name_words(name: str) -> set[str]:
    """A column's or key's name as whole words ("retry_share" -> retry, share; "iterations" holds no
    "ratio"): what the unit rules of evidence, tables and sheets read names by."""
    return {w for w in re.split(r"[^a-z0-9]+", name.lower()) if w}


_ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})")


def fmt_time(value: Any) -> str | None:
    """A moment as the window lines read it ("2026-03-24 08:29 UTC"): an aware datetime (a pandas
    Timestamp is one) or the ISO text a finding's evidence becomes in JSON; None for anything else."""
    if isinstance(value, str) and _ISO_TIME.fullmatch(value.strip()):
        try:
            value = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return f"{value.astimezone(dt.timezone.utc):%Y-%m-%d %H:%M} UTC"
    return None


def _is_empty(value: Any) -> bool:
    """An evidence value that says nothing: missing, blank text, or a list or mapping of such values only.
    Its field is left out of the sentence, where it read "steps: ;" or "previous p95: —"."""
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, dict):
        return all(_is_empty(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(_is_empty(v) for v in value)
    try:
        return is_missing(value)
    except ValueError:  # an array: its truth value is ambiguous
        return False


def _evidence_value(key: str, value: Any, text: Callable[[str], str] = str) -> str:
    """One evidence value with its unit, chosen by the key's suffix (the analyses' naming); `text` is
    applied to a value that is text (an error, a name), not to the figures formatted here. Empty items
    of a list are left out (`_is_empty`)."""
    if isinstance(value, dict):
        return "(" + fmt_evidence(value, sentence=False, text=text) + ")"
    if isinstance(value, (list, tuple)):
        items = [v for v in value if not _is_empty(v)]
        shown = ", ".join(_evidence_value(key, v, text) for v in items[:5])
        return shown + (f" and {len(items) - 5} more" if len(items) > 5 else "")
    if is_missing(value):
        return BLANK
    moment = fmt_time(value)
    if moment is not None:
        return moment
    if isinstance(value, bool):
        return "yes" if value else "no"
    if not isinstance(value, (int, float)):
        return text(str(value))
    if key.endswith("_ms"):
        return fmt_duration(value)
    if key.endswith("_minutes"):
        return fmt_duration(float(value) * 60_000)
    if key.endswith("_usd"):
        return fmt_usd(value)
    if key.endswith("_pct"):
        return f"{float(value):.1f}%"
    if "change" in name_words(key) and not SHARE_WORDS.isdisjoint(name_words(key)):   # rate_change
        return fmt_points(float(value))
    if not SHARE_WORDS.isdisjoint(name_words(key)) and 0 <= float(value) <= 1:   # whole words: not "operations"
        return fmt_pct(value)
    if float(value).is_integer():
        return fmt_count(value)
    # Three significant digits, never an exponent: 3,390 rather than 3.39e+03, 0.0768, 43.6.
    return f"{float(value):,.0f}" if abs(float(value)) >= 100 else f"{float(value):.3g}"


def fmt_evidence(evidence: Any, *, sentence: bool = True, text: Callable[[str], str] = str) -> str:
    """A finding's evidence as a readable sentence ("P95: 5 min 12 s; executions: 1,234.") rather
    than raw JSON: each key humanised, each value with its unit; a field with no value (None, NaN, "",
    [], {}) left out, and evidence with none at all the blank.

    text: what the keys and the text values (errors, names: cloud text) go through, e.g. a Markdown
    escape, so the figures and punctuation formatted here are not escaped with them."""
    if isinstance(evidence, str) and evidence.startswith("{"):
        try:
            evidence = json.loads(evidence)
        except ValueError:
            pass
    if not isinstance(evidence, dict) or _is_empty(evidence):
        return BLANK if _is_empty(evidence) else text(str(evidence))
    shown = "; ".join(f"{text(_humanize(str(k)))}: {_evidence_value(str(k), v, text)}"
                      for k, v in evidence.items() if not _is_empty(v))
    return (shown[:1].upper() + shown[1:] + ".") if sentence else shown
