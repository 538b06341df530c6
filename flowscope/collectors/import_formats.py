"""Which native format a document is, and the transform that reads it (`--format` checked against `--cloud`).

One job: asking each cloud's transform package (`registry.transforms_for`) what a document is, so the
reading of whole files (`import_load`), the streamed files (`import_stream`) and the transforms
(`import_transform`) detect and name formats by one rule.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flowscope.collectors.native import ImportContext, NativeFormatError, cloud_of
from flowscope.collectors.registry import transforms_for
from flowscope.model import Batch, Cloud

CLOUD_ORDER = (Cloud.AWS, Cloud.AZURE, Cloud.GCP)


def detect_format(doc: Any, source_name: str, cloud: str | None = None) -> str:
    """The native format of a parsed document, asking each cloud's transform module."""
    clouds = [Cloud(cloud)] if cloud else list(CLOUD_ORDER)
    for candidate in clouds:
        found = transforms_for(candidate).detect(doc)
        if found:
            return str(found)
    where = f" of cloud {cloud}" if cloud else ""
    raise NativeFormatError(source_name, "document",
                            f"unknown format{where}: not a Step Functions history or log records, "
                            "a Logic Apps REST document, nor a Cloud Workflows REST/Logging document")


_PAGE_KEYS = frozenset({"nextLink", "nextPageToken", "nextToken", "totalSize", "unreachable"})
"""What a list response holds besides its list: the next page's token or link, counts."""


def is_empty_list(doc: Any) -> bool:
    """A list response that found nothing: ``[]`` (gcloud's JSON), ``{"value": [], "nextLink": ...}``
    (ARM), ``{"executions": []}`` (list-executions), ``{}`` (Google REST omits an empty list). No
    format can be told from it, and none is needed: it holds no record."""
    if isinstance(doc, list):
        return not doc
    if not isinstance(doc, dict):
        return False
    lists = [value for value in doc.values() if isinstance(value, list)]
    return not any(lists) and all(isinstance(value, list) or key in _PAGE_KEYS for key, value in doc.items())


def handler_for(fmt: str) -> Callable[[Any, ImportContext], Batch]:
    """The transform of `--format fmt`; a ValueError naming the formats there are for one that is not
    (`--format history` said only "unknown format 'history'", and no help lists them)."""
    try:
        formats = transforms_for(cloud_of(fmt)).FORMATS
        return formats[fmt]
    except (ValueError, KeyError):
        raise ValueError(f"unknown format {fmt!r}; formats: {', '.join(known_formats())}") from None


def _check_format(cloud: str | None, fmt: str | None) -> None:
    """ValueError for a `--format` that is not of `--cloud`, or names no format, before any file is read."""
    if fmt and cloud and cloud_of(fmt) != cloud:
        raise ValueError(f"--format {fmt} is not a format of --cloud {cloud}")
    if fmt:
        handler_for(fmt)


def known_formats() -> list[str]:
    """Every format `--format` takes, cloud by cloud ("aws.history", "gcp.step_entries", ...)."""
    return [name for cloud in Cloud for name in sorted(transforms_for(cloud).FORMATS)]
