"""How a table reads on screen: pure, from a query's frame to the frame a page shows and how each
column is formatted.

Columns are read by their names (the queries' naming: `*_ms` durations, `*_minutes` lags, `*_usd`
money), so every page gets units without configuring them. Cells stay numbers, so a click on a header
sorts by value ("$9.00" below "$10.00", "900 ms" below "2.1 s"); the unit goes into the column's
number format instead: one duration unit per column, picked from its typical value ("5.2 s",
"86.1 min"), money at the precision its smallest amount needs, counts as integers with thousands
separators. A missing number stays a null, drawn as "—" (`BLANK`, the table's placeholder), like a
missing text; never "None" or "nan". A signed column's no change reads "0 s", unsigned, its cells
still numbers (`unsigned_zeros`). Evidence reads as a sentence. The CSV download keeps raw numbers.

No Streamlit here: `components.table` turns the formats into `st.column_config` columns (and a signed
column's text into a pandas Styler's).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from flowscope.format import BLANK, SHARE_WORDS, fmt_cause, fmt_evidence, is_missing, name_words
from flowscope.textsafety import terminal_text

RATIO_WORDS = SHARE_WORDS | {"pct", "cv", "drift", "amplification", "factor", "mean", "avg", "score"}
"""Words of a column's name (whole words: "iterations" holds "ratio" and is a count) that make a float
column a measure rather than a count."""

DURATION_UNITS: tuple[tuple[str, float], ...] = (("ms", 1.0), ("s", 1_000.0), ("min", 60_000.0),
                                                 ("h", 3_600_000.0), ("d", 86_400_000.0))
"""(unit, milliseconds in one) from small to large."""

IDENTITY = ("title", "workflow", "step", "scope", "error", "run", "execution_id")
"""Columns that name a row, in the order they come first (the title of a finding says it all)."""

FINDING_MARKS = ("severity", "kind")
"""What a finding is, read beside its pinned title and its money (`layout`)."""

NUMBER, DATETIME, TEXT, SIGNED = "number", "datetime", "text", "signed"
"""Kinds of `Shown`: SIGNED is a number column whose cells are drawn as `signed_text` writes them
(`unsigned_zeros`), numbers still (they sort by value), its format the printf template of its changes."""

TIME_FORMAT = "YYYY-MM-DD HH:mm"
"""Moments in tables, to the minute in UTC (Streamlit's DatetimeColumn, moment.js syntax), as the window
lines and the reports write them; the default drew "2026-12-01 13:04:42+00:00", cut by the column."""


@dataclass(frozen=True)
class Shown:
    """How one column shows: its label, and for numbers and moments its format (Streamlit's
    NumberColumn and DatetimeColumn syntax); a text column gets only its label in words."""

    label: str
    format: str
    kind: str = NUMBER
    width: int | None = None
    """Pixels the column needs to show its longest cell whole (`fit_width`), where the grid's own sizing,
    measured on a few rows, cut it; None: the grid's (or the page's) width."""
    align: str | None = None


def _label(column: str, config: Any) -> str:
    """The page's label without a unit the format now carries, else the column name in words."""
    given = config.get("label") if isinstance(config, dict) else config if isinstance(config, str) else None
    if given:
        return str(given).replace(" (ms)", "").replace(" (min)", "")
    if column in ("usd", "cost_usd"):
        return "cost"
    if column == "monthly_usd":
        return "$/month"
    for suffix in ("_ms", "_minutes", "_usd"):
        column = column.removesuffix(suffix)
    return column.replace("_", " ")


def _given_format(config: Any) -> str | None:
    if not isinstance(config, dict):
        return None
    type_config = config.get("type_config") or {}
    return type_config.get("format") if type_config.get("type") == "number" else None


LONGEST_IN_UNIT = 1_000
"""A unit reads a value of a thousand of it or more as the next unit would read it better ("7200 s" is
2 h): `duration_unit` climbs while the longest value reaches it, and a table column whose longest value
still does (days) reads each cell in its own units (`per_cell_durations`)."""

SHORTEST_IN_UNIT = {"ms": 0.0, "s": 0.001, "min": 0.1, "h": 0.1, "d": 0.1}
"""The least part of each unit a non-zero value reads well as: seconds to the millisecond ("0.019 s", as
a stopwatch reads), a minute, an hour or a day to a tenth ("0.008 h" is 30 s, "0.008 min" half a
second). A table column whose shortest non-zero value reads less reads each cell in its own units
instead (`per_cell_durations`), unless it is signed (`_duration`)."""


def duration_unit(values_ms: pd.Series) -> tuple[str, float]:
    """The one unit a duration column or a chart's axis reads in: the largest unit its median value is
    at least one of, one larger while its longest value would read a thousand of it or more
    (`LONGEST_IN_UNIT`: an axis to 3 h read "10,800 s"). A table column in which its shortest non-zero
    value reads as a sliver of that unit reads per cell instead (`_duration`); an axis starts at 0 and
    needs no smaller unit."""
    present = pd.to_numeric(values_ms, errors="coerce").dropna().abs()
    typical = float(present.median()) if len(present) else 0.0
    longest = float(present.max()) if len(present) else 0.0
    index = 0
    for i, (_unit, size) in enumerate(DURATION_UNITS):
        if typical >= size:
            index = i
    while index + 1 < len(DURATION_UNITS) and longest / DURATION_UNITS[index][1] >= LONGEST_IN_UNIT:
        index += 1
    return DURATION_UNITS[index]


def _reads_in_one_unit(basis_ms: pd.Series, unit: str, size: float) -> bool:
    """Whether every value of a column reads well in `unit` (`size` ms): its longest under
    `LONGEST_IN_UNIT` of it, its shortest non-zero at least `SHORTEST_IN_UNIT` of it."""
    present = pd.to_numeric(basis_ms, errors="coerce").dropna().abs() / size
    nonzero = present[present > 0]
    return not len(nonzero) or (float(nonzero.max()) < LONGEST_IN_UNIT
                                and float(nonzero.min()) >= SHORTEST_IN_UNIT[unit])


def _decimals_for(values: pd.Series, low: int, high: int) -> int:
    """Decimals that show the first significant digit of the smallest non-zero value, within [low, high]."""
    present = values.dropna().abs()
    present = present[present > 0]
    if not len(present):
        return low
    smallest = float(present.min())
    decimals = low
    while decimals < high and smallest < 10.0 ** -decimals:
        decimals += 1
    return decimals


def money_format(values: pd.Series) -> str:
    """Dollars at the precision the column's smallest amount needs: "dollar" ($1,234.56) when cents
    suffice, "$%.4f" or "$%.6f" for sub-cent amounts (a state transition costs $0.000025)."""
    decimals = _decimals_for(pd.to_numeric(values, errors="coerce"), 2, 6)
    if decimals <= 2:
        return "dollar"
    return f"$%.{4 if decimals <= 4 else 6}f"


def _duration(column: str, values: pd.Series, config: Any, per_ms: float,
              together_ms: pd.Series | None = None) -> tuple[pd.Series, Shown]:
    """A duration column in one unit; with `together_ms` (its comparable columns' values, in ms, its
    own included: `comparable_durations`) in the unit and decimals they share. The decimals show the
    first significant digit of the smallest non-zero value (up to 6), so none reads 0.000. A column no one
    unit reads well (`_reads_in_one_unit`: 1 ms beside 2 h read "0.001 s" beside "7200.000 s") reads
    each cell in its own units."""
    ms = pd.to_numeric(values, errors="coerce").astype("float64") * per_ms
    basis = ms if together_ms is None else together_ms
    unit, size = duration_unit(basis)
    converted = ms / size
    sign = "+" if "+" in (_given_format(config) or "") else ""
    decimals = _decimals_for(basis / size, 0 if unit == "ms" else 1, 6)
    # A signed column (Compare's "B − A") keeps one unit and its "+" while one unit reads it; else it is read
    # per cell as its run columns are, a negative difference with its minus ("-233 ms"): in one unit, a run
    # waiting two days beside steps of milliseconds read "-0.000065 h".
    if not _reads_in_one_unit(basis, unit, size):
        cells = per_cell_durations(ms)
        label = _label(column, config)
        return cells, Shown(label, "localized", width=fit_width(cells.map(localized_duration), label))
    template = f"%{sign}d ms" if unit == "ms" and not decimals else f"%{sign}.{decimals}f {unit}"
    return converted, Shown(_label(column, config), template)


def per_cell_durations(ms: pd.Series) -> pd.Series:
    """Durations (timedelta) that Streamlit's "localized" format writes in their own units per cell ("40 ms",
    "12 sec, 300 ms", "3 days, 2 min") and sorts by value, to about three digits: under a minute to three
    significant digits (whole ms from 1 ms), under an hour to the second, else to the minute ("3 days,
    2 min, 3 sec, 456 ms" is noise)."""
    values = pd.to_numeric(ms, errors="coerce").astype("float64")
    size = values.abs()
    digits = np.floor(np.log10(size.where(size > 0))) - 2
    step = (10.0 ** digits).where(size < 1, np.maximum(10.0 ** digits, 1.0))      # "40 ms", not "40 ms, 400 μs"
    step = step.where(size < 60_000, np.where(size < 3_600_000, 1_000.0, 60_000.0))
    rounded = (values / step).round() * step
    return pd.to_timedelta(rounded.where(size > 0, values), unit="ms")


CHAR_PX, CELL_PAD_PX = 8, 28
"""About the width of a character of the grid's font (14 px Source Sans: digits 7.7 px) and what a cell
adds around its text (padding, a header's sort mark): what `fit_width` sizes a column by."""

WIDEST_PX = 240
"""The widest `fit_width` makes a column: two of them beside a pinned name still leave the rest of a
table in view at 1366 px."""


def fit_width(texts: Any, label: str, most: int = WIDEST_PX) -> int:
    """Pixels that show the longest of `texts` (and the header `label`) whole, at most `most`. The grid sizes
    a column by its header and its first rows: the Latency table's p95 "4 sec, 10 ms" (its tenth row) read
    "…c, 10 ms" in a column sized for "10 ms", a failing step's error "BadGateway" read "BadGate…"."""
    longest = max([len(str(t)) for t in texts if isinstance(t, str)] + [len(label) + 2])
    return min(most, CELL_PAD_PX + CHAR_PX * longest)


_DURATION_WORDS = ((86_400_000_000, "day"), (3_600_000_000, "hr"), (60_000_000, "min"), (1_000_000, "sec"),
                   (1_000, "ms"), (1, "μs"))


def localized_duration(value: Any) -> str:
    """A duration as Streamlit's "localized" format writes it in a table cell (the browser's
    Intl.DurationFormat, short style, English: "4 sec, 10 ms", "3 days, 2 min", "0 sec"), for sizing its
    column (`fit_width`); "" for a missing one."""
    if value is None or pd.isna(value):
        return ""
    micros = int(round(abs(pd.Timedelta(value).total_seconds()) * 1_000_000))
    parts = []
    for size, word in _DURATION_WORDS:
        whole, micros = divmod(micros, size)
        if whole:
            parts.append(f"{whole} {word}{'s' if word == 'day' and whole > 1 else ''}")
    text = ", ".join(parts) or "0 sec"
    return f"-{text}" if pd.Timedelta(value) < pd.Timedelta(0) else text


ROW_TEXTS = ("parent", "error", "cause")
"""Words of the text columns that tell what a row is or why it failed (a step's parent, its error and
cause; Compare's "A error"): sized to their longest cell (`fit_width`), where the grid cut them to the header."""


def text_width(column: str, values: pd.Series, label: str) -> int | None:
    """The width a text column of `ROW_TEXTS` needs (`fit_width`); None for any other column."""
    if name_words(column).isdisjoint(ROW_TEXTS) or not (
            pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
        return None
    return fit_width(values, label)


def signed_text(value: Any, template: str) -> str:
    """A cell of a signed column (`%+.3f s`: Compare's "B − A") as it reads: a change signed ("+0.104 s",
    "-3.292 s"), no change at the shown precision unsigned in the column's unit ("0 s", the rule of every
    delta: `format.is_change`), a missing one `BLANK`."""
    try:
        number = float(value)
    except (TypeError, ValueError):     # None, pd.NA
        return BLANK
    if np.isnan(number):
        return BLANK
    text = template % number
    if text.lstrip("+-") != template.replace("+", "", 1) % 0.0:
        return text
    unit = template.rsplit(" ", 1)[-1] if " " in template else ""
    return f"0 {unit}".strip()


def unsigned_zeros(values: pd.Series, shown: Shown) -> Shown | None:
    """How a signed number column (`%+.3f s`: Compare's "B − A") in which a cell reads zero at the shown
    precision shows: kind `SIGNED`, each cell drawn as `signed_text` writes it ("+0.104 s", "-3.292 s", "0 s")
    over its number, where the grid's printf wrote "+0.000 s" (it signs every number not below zero). The
    cells stay numbers, so the column sorts by value (as text "+0.104 s" sorted before "-3.292 s" and "0 s").
    None when the column is not signed or no cell reads zero: the grid's printf reads it."""
    template = shown.format
    if shown.kind != NUMBER or not template.startswith("%+"):
        return None
    zero = signed_text(0.0, template)
    if not any(signed_text(v, template) == zero for v in values):
        return None
    return replace(shown, kind=SIGNED)


_STATISTICS = {"min", "max", "mean", "median", "avg", "std"}


_SIDES = ("a", "b", "delta")
"""Prefixes of two runs' columns set side by side and their difference (Compare runs: a_ms, b_ms, delta_ms)."""


def _side_by_side(core: str) -> str:
    """A compared column's measure without its side: "a" and "b" (and "delta", B − A) of one measure
    read in one unit ("A total 30.0 s" beside "B total 2.50 min" could not be compared at a glance)."""
    for side in _SIDES:
        if core == side:
            return "runs' total"
        if core.startswith(side + "_"):
            return "runs' " + core.removeprefix(side + "_")
    return core


def comparable_durations(columns: Sequence[str]) -> dict[str, str]:
    """Duration columns (`*_ms`) read side by side, by the group whose one unit they share: a window's
    percentiles and extremes (p50, p95, p99, max) and the previous window's (`prev_p95_ms`), and any
    `prev_X_ms` with its `X_ms` ("p95" in s beside "previous p95" in min could not be compared), and two
    runs' `a_X_ms`, `b_X_ms` with their `delta_X_ms` (`_side_by_side`)."""
    groups: dict[str, str] = {}
    for column in columns:
        if not column.endswith("_ms"):
            continue
        core = _side_by_side(column.removesuffix("_ms").removeprefix("prev_"))
        stat = core.startswith("p") and core[1:].isdigit() or core in _STATISTICS
        groups[column] = "statistics" if stat else core
    counts = pd.Series(list(groups.values())).value_counts() if groups else pd.Series(dtype=int)
    return {c: g for c, g in groups.items() if counts.get(g, 0) > 1}


def _is_count(column: str, values: pd.Series) -> bool:
    if not pd.api.types.is_float_dtype(values) or not RATIO_WORDS.isdisjoint(name_words(column)):
        return False
    present = values.dropna()
    return bool(len(present)) and bool((present == present.round()).all())


def _missing_item(value: Any) -> bool:
    try:
        return is_missing(value)
    except ValueError:  # an array: its truth value is ambiguous
        return False


def plain(value: Any) -> str:
    """Cloud text as a table cell or a list's option shows it: without escape sequences, control
    characters and bidirectional marks, line breaks as spaces (`textsafety.terminal_text`). Neither the
    grid nor a select box reads Markdown or HTML, but both draw U+202E as it asks: a workflow named
    `orders\u202egnp.exe` read "ordersexe.png" in the sidebar and the tables, and BEL or an ANSI colour
    drew boxes, while the charts and captions (which drop them) named it otherwise."""
    return terminal_text(value)


def _cell(value: Any) -> Any:
    if isinstance(value, dict):
        return plain(fmt_evidence(value))
    if isinstance(value, (list, tuple)):      # its missing or blank items left out: never "a, None, nan"
        items = [plain(v) for v in value if not _missing_item(v) and str(v).strip()]
        return ", ".join(items) if items else BLANK
    if isinstance(value, str):
        return plain(value)
    try:
        return BLANK if is_missing(value) else value
    except ValueError:  # an array: its truth value is ambiguous
        return value


DURATION_MS, DURATION_MINUTES, MONEY, COUNT, SHARE = "duration_ms", "duration_minutes", "money", "count", "share"


def column_kind(column: str, values: pd.Series) -> str | None:
    """What a number column holds, read from its name (the analyses' unit suffixes: `_ms`, `_minutes`,
    `_usd`; a rate or share) and its values (whole numbers are counts): the one rule the dashboard's
    tables and the report's sheets format columns by. None for text, and for a float that is none of them."""
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return None
    if column.endswith("_ms"):
        return DURATION_MS
    if column.endswith("_minutes"):
        return DURATION_MINUTES
    if column.endswith("_usd") or column == "usd":
        return MONEY
    if _is_count(column, values) or pd.api.types.is_integer_dtype(values):
        return COUNT
    return SHARE if not SHARE_WORDS.isdisjoint(name_words(column)) else None


PERCENT_SHOWN = 0.00005
"""The least share Streamlit's "percent" (two decimals) shows as non-zero: a smaller one reads "0.00%"."""


def _share(column: str, values: pd.Series, config: Any) -> tuple[pd.Series, Shown]:
    """A share column as a percent ("percent", or the page's own format). One whose smallest non-zero
    value "percent" would show as 0.00% (a step failing 1 visit in 100,000) is shown in percent numbers
    to the decimals that value needs ("%.3f%%": "0.001%"): a rare failure never reads as none."""
    given = _given_format(config)
    if given and given != "percent":
        return values, Shown(_label(column, config), given)
    present = pd.to_numeric(values, errors="coerce").astype("float64").abs()
    nonzero = present[present > 0]
    if not len(nonzero) or float(nonzero.min()) >= PERCENT_SHOWN:
        return values, Shown(_label(column, config), "percent")
    percent = pd.to_numeric(values, errors="coerce").astype("float64") * 100
    return percent, Shown(_label(column, config), f"%.{_decimals_for(percent, 2, 6)}f%%")


def _column(column: str, values: pd.Series, config: Any,
            together_ms: pd.Series | None = None) -> tuple[pd.Series, Shown | None]:
    """(display values, its format or None for "as the page configured it") for one column;
    `together_ms`: the values of the comparable durations it shares a unit with."""
    if isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(values):
        return values, Shown(_label(column, config), TIME_FORMAT, DATETIME)
    kind = column_kind(column, values)
    if kind == DURATION_MS:
        return _duration(column, values, config, 1.0, together_ms)
    if kind == DURATION_MINUTES:
        return _duration(column, values, config, 60_000.0)
    if kind == MONEY:
        return values.astype("float64"), Shown(_label(column, config), money_format(values))
    if kind == COUNT:
        counts = values.round().astype("Int64") if pd.api.types.is_float_dtype(values) else values
        given = _given_format(config)
        return counts, Shown(_label(column, config), given or "localized")
    if kind == SHARE:       # a fraction (failure_rate 0.002967) reads as a percent, "0.30%", as metrics say it
        return _share(column, values, config)
    if pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values):
        if "cause" in name_words(column):       # a Lambda error's JSON reads as its type and message
            values = values.map(fmt_cause)
        words = None if config else Shown(_label(column, config), "", TEXT)   # "last_seen" reads "last seen"
        return values.map(_cell).astype(object), words
    return values, None


def display_frame(frame: pd.DataFrame, column_config: dict[str, Any] | None = None
                  ) -> tuple[pd.DataFrame, dict[str, Shown]]:
    """The frame a table shows (numbers stay numbers, in the unit of their format) and the number
    format of each column it chose: {column: Shown}. Columns configured as links, charts or images are
    left as configured."""
    config = column_config or {}
    out = frame.copy()
    formats: dict[str, Shown] = {}
    groups = {c: g for c, g in comparable_durations([str(c) for c in out.columns]).items()
              if column_kind(c, out[c]) == DURATION_MS}
    shared = {g: pd.concat([pd.to_numeric(out[c], errors="coerce").astype("float64")
                            for c, cg in groups.items() if cg == g], ignore_index=True)
              for g in set(groups.values())}
    for column in out.columns:
        name = str(column)
        given = config.get(name)
        kind = (given.get("type_config") or {}).get("type") if isinstance(given, dict) else None
        if kind not in (None, "number", "text"):
            continue   # links, charts, images: shown as configured
        together = shared.get(groups[name]) if name in groups else None
        values, shown = _column(name, out[column], given, together)
        out[column] = values
        if shown is not None:
            formats[name] = shown
    return out, formats


def leading(frame: pd.DataFrame, first: Sequence[str], *, drop: Sequence[str] = ()) -> pd.DataFrame:
    """`frame` with the columns of `first` it has first, in that order, then the rest (none of `drop`):
    what a page puts beside the names so it stays in view at 1366 px, where `layout` would leave it last."""
    head = [c for c in first if c in frame.columns]
    return frame[head + [c for c in frame.columns if c not in head and c not in drop]]


def layout(columns: Sequence[str]) -> tuple[list[str], list[str]]:
    """(column order, columns to pin): the pinned name first, then money, then the other name columns
    and the rest, so a narrow screen (1366 px with the sidebar open) keeps the name and the dollars in
    view. A finding's title is pinned alone (it names workflow and step), its severity and kind after the
    money; else workflow (or scope, or the execution) and step. An error text is pinned only when nothing
    else names the row: pinned columns wider than most of the grid make Streamlit pin none."""
    names = [str(c) for c in columns]
    identity = [c for c in IDENTITY if c in names]
    if "title" in identity:
        pinned = ["title"]
    else:
        pinned = [c for c in identity if c != "error"][:2] or identity[:1]
    money = [c for c in names if (c.endswith("_usd") or c == "usd") and c not in identity]
    # A row's status before its long texts, and a whole execution id last when "run" (its telling end) is
    # pinned: at 1366 px the Executions table's error and id pushed every status and duration off screen.
    status = ["status"] if "status" in names and "status" not in pinned else []
    # A finding's severity and kind beside its title and dollars: after the workflow and step (which the title
    # names) they were off the right edge of Overview's findings table at 1366 px.
    marks = [c for c in FINDING_MARKS if c in names] if pinned == ["title"] else []
    last = ["execution_id"] if "run" in pinned and "execution_id" in names else []
    order = [*pinned, *money, *status, *marks, *[c for c in identity if c not in pinned and c not in last]]
    return order + [c for c in names if c not in order and c not in last] + last, pinned


WorkflowKey = tuple[str, str]
"""(cloud, workflow_id): what tells a workflow apart, its name does not."""

_ID_PARTS = re.compile(r"[:/]+")


def _telling_parts(ids: Sequence[str], name: str) -> dict[str, str]:
    """Per id, the parts of it (split at ':' and '/') that not every id of `ids` holds, in order: two
    state machines named alike read by their region or account ("eu-west-1"), two Logic Apps by their
    resource group, two GCP workflows by their project or location. The whole id when nothing tells."""
    split = {i: [p for p in _ID_PARTS.split(i) if p and p != name] for i in ids}
    common = set.intersection(*(set(parts) for parts in split.values())) if split else set()
    out: dict[str, str] = {}
    for i, parts in split.items():
        telling = [p for p in dict.fromkeys(parts) if p not in common]
        out[i] = "/".join(telling)[:48] if telling else i
    return out


def workflow_labels(options: pd.DataFrame, *, with_cloud: bool = False) -> dict[WorkflowKey, str]:
    """The name each workflow reads by where its name alone does not tell it apart: {(cloud, id): label}
    for the workflows sharing their name with another (all of them with `with_cloud`), e.g.
    "orders (us-east-1)" beside "orders (eu-west-1)", "orders (aws)" beside "orders (azure)".

    Workflows in two regions or accounts often share a name: tables showed two "orders · aws" rows
    that could not be told apart, charts by "workflow / step" merged their series into one line, and
    the sidebar offered "orders (aws)" twice. `options`: cloud, workflow_id, workflow_name rows."""
    if options is None or options.empty:
        return {}
    rows = options[["cloud", "workflow_id", "workflow_name"]].drop_duplicates(["cloud", "workflow_id"])
    names = rows["workflow_name"].where(rows["workflow_name"].notna(), rows["workflow_id"]).astype(str).map(plain)
    out: dict[WorkflowKey, str] = {}
    for name, group in rows.assign(name=names).groupby("name", sort=False):
        keys = [(str(c), str(w)) for c, w in zip(group["cloud"], group["workflow_id"], strict=True)]
        if len(keys) < 2 and not with_cloud:
            continue
        clouds = {c for c, _ in keys}
        for cloud in sorted({c for c, _ in keys}):
            ids = [w for c, w in keys if c == cloud]
            telling = _telling_parts(ids, str(name)) if len(ids) > 1 else {}
            for wid in ids:
                bits = ([cloud] if with_cloud or len(clouds) > 1 else []) + ([telling[wid]] if wid in telling else [])
                out[(cloud, wid)] = f"{name} ({' · '.join(bits)})"
    order = zip(rows["cloud"].astype(str), rows["workflow_id"].astype(str), strict=True)
    return {key: out[key] for key in order if key in out}      # in the options' order (the sidebar's)


def with_workflow_labels(frame: pd.DataFrame, labels: dict[WorkflowKey, str]) -> pd.DataFrame:
    """`frame` with its `workflow` names replaced by `labels` where they are given (frames naming their
    workflows by cloud and workflow_id; any other frame as it is)."""
    if (not labels or not isinstance(frame, pd.DataFrame) or frame.empty
            or not {"workflow", "cloud", "workflow_id"} <= set(frame.columns)):
        return frame
    keys = list(zip(frame["cloud"].astype(str), frame["workflow_id"].astype(str), strict=True))
    if not any(k in labels for k in keys):
        return frame
    out = frame.copy()
    out["workflow"] = [labels.get(k, name) for k, name in zip(keys, frame["workflow"], strict=True)]
    if "title" in out.columns:      # findings: their titles name the workflow too
        out["title"] = [_titled(title, name, labels[k], step) if k in labels else title
                        for k, name, title, step in zip(keys, frame["workflow"], frame["title"],
                                                        frame.get("step", pd.Series([None] * len(frame))),
                                                        strict=True)]
    return out


def _titled(title: Any, name: Any, label: str, step: Any) -> Any:
    """A finding's title with its workflow's bare name (as the analyses write it: "ChargeCard in orders
    fails 11%") read as `label` ("... in orders (eu-west-1) ..."), so findings of two workflows sharing a
    name read apart where titles are shown alone (Overview's evidence list). The name's whole-word
    occurrences outside the step's own name are replaced; when there is none (a title naming the
    workflow otherwise) or the step's name holds the workflow's (which "orders" is which?), the label leads
    the title."""
    if not isinstance(title, str) or not isinstance(name, str) or not name:
        return title
    taken = [(m.start(), m.end()) for m in re.finditer(re.escape(step), title)] \
        if isinstance(step, str) and step else []
    pattern = re.compile(rf"(?<![\w-]){re.escape(name)}(?![\w-])")
    spans = [m for m in pattern.finditer(title) if not any(a <= m.start() < b for a, b in taken)]
    if not spans or any(a <= m.start() < b for m in pattern.finditer(title) for a, b in taken):
        return f"{label}: {title}"
    for m in reversed(spans):
        title = title[:m.start()] + label + title[m.end():]
    return title
