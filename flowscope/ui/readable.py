"""How a table reads on screen: pure, from a query's frame to the frame a page shows.

Columns are read by their names (the queries' naming: `*_ms` durations, `*_minutes` lags, `*_usd`
money), so every page gets units without configuring them: "5 min 12 s" instead of 5163647 ms,
"$12.34" at the precision its size needs, counts as integers, evidence as a sentence and no
"None" or "nan" cell (a blank reads "—"). The CSV download keeps the raw numbers.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from flowscope.format import BLANK, fmt_count, fmt_duration, fmt_evidence, fmt_pct, fmt_usd, is_missing

RATIO_WORDS = ("rate", "share", "ratio", "pct", "cv", "drift", "amplification", "factor", "mean", "avg", "score")


def _label(column: str, config: Any) -> str:
    given = config.get("label") if isinstance(config, dict) else None
    if given:
        return str(given).replace(" (ms)", "").replace(" (min)", "")
    for suffix in ("_ms", "_minutes"):
        column = column.removesuffix(suffix)
    return column.replace("_", " ")


def _printf(template: str, value: Any) -> str:
    """A number through a column's printf format (Streamlit's NumberColumn syntax), else plainly."""
    if template == "percent":
        return fmt_pct(value)
    if template in ("dollar", "accounting"):
        return fmt_usd(value)
    try:
        return template.replace("%d", "%.0f") % float(value)
    except (TypeError, ValueError):
        return f"{float(value):,.4g}"


def _text(values: pd.Series, format_one: Any) -> pd.Series:
    return values.map(lambda v: BLANK if is_missing(v) else format_one(v)).astype(object)


def _is_count(column: str, values: pd.Series) -> bool:
    if not pd.api.types.is_float_dtype(values) or any(w in column.lower() for w in RATIO_WORDS):
        return False
    present = values.dropna()
    return bool(len(present)) and bool((present == present.round()).all())


def _cell(value: Any) -> Any:
    if isinstance(value, dict):
        return fmt_evidence(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) if value else BLANK
    try:
        return BLANK if is_missing(value) else value
    except ValueError:  # an array: its truth value is ambiguous
        return value


def _number_format(config: Any) -> str | None:
    if not isinstance(config, dict):
        return None
    type_config = config.get("type_config") or {}
    return type_config.get("format") if type_config.get("type") == "number" else None


def _column(column: str, values: pd.Series, config: Any) -> tuple[pd.Series, bool]:
    """(display values, whether they became text) for one column."""
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if numeric and column.endswith("_ms"):
        return _text(values, fmt_duration), True
    if numeric and column.endswith("_minutes"):
        return _text(values, lambda v: fmt_duration(float(v) * 60_000)), True
    if numeric and (column.endswith("_usd") or column == "usd"):
        return _text(values, fmt_usd), True
    if _is_count(column, values):
        if values.isna().any():
            return _text(values, fmt_count), True
        return values.astype("int64"), False
    if numeric and values.isna().any():
        template = _number_format(config)
        return _text(values, lambda v: _printf(template, v) if template else f"{float(v):,.4g}"), True
    if pd.api.types.is_datetime64_any_dtype(values) and values.isna().any():
        return _text(values, lambda v: f"{pd.Timestamp(v):%Y-%m-%d %H:%M:%S}"), True
    if pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values):
        return values.map(_cell).astype(object), False
    return values, False


def display_frame(frame: pd.DataFrame, column_config: dict[str, Any] | None = None
                  ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The frame a table shows and the column labels of the columns turned into text (their
    number formats no longer apply): {column: label}."""
    config = column_config or {}
    out = frame.copy()
    relabel: dict[str, Any] = {}
    for column in out.columns:
        name = str(column)
        given = config.get(name)
        kind = (given.get("type_config") or {}).get("type") if isinstance(given, dict) else None
        if kind not in (None, "number", "text"):
            continue   # links, charts, images: shown as configured
        values, as_text = _column(name, out[column], config.get(name))
        out[column] = values
        if as_text:
            relabel[name] = _label(name, config.get(name))
    return out, relabel
