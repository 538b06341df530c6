"""Quoting helpers for the SQL we build (DuckDB and delta-rs/DataFusion both take "ident")."""

from __future__ import annotations

from collections.abc import Iterable


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def file_list(paths: Iterable[str]) -> str:
    return "[" + ", ".join(literal(p) for p in paths) + "]"
