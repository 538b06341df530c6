"""What an import reports (`ImportResult`), and the error of an import that found nothing usable.

One job: the import's outcome, counted by the transforms, the writer and the streamed files alike; it is
apart from them so each can fill it without importing the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from flowscope.collectors.store_upgrades import Upgraded
from flowscope.model import Skip


class NothingImportedError(ValueError):
    """Every record of the import was skipped (or there were none): nothing usable, nothing written."""

    def __init__(self, skips: list[Skip], empty: list[str] | None = None,
                 unread: Mapping[str, int] | None = None) -> None:
        empty, unread = empty or [], dict(unread or {})
        said = f"; {len(empty)} document(s) an empty list or file, a query that found nothing: " \
            f"{', '.join(empty[:5])}{' ...' if len(empty) > 5 else ''}" if empty else ""
        # records of the format but of kinds not read (a page of Logic Apps triggers): said, not "0 skipped" alone
        kinds = sorted(unread.items(), key=lambda kv: (-kv[1], kv[0]))
        said += f"; {sum(unread.values())} record(s) of kinds flowscope does not read: " \
            f"{', '.join(f'{k} x{n}' for k, n in kinds[:5])}{' ...' if len(kinds) > 5 else ''}" if unread else ""
        super().__init__(f"nothing imported: {len(skips)} record(s) skipped{said}")
        self.skips = skips
        self.empty = empty
        self.unread = unread

    @classmethod
    def of(cls, result: ImportResult) -> NothingImportedError:
        """The error for an import whose `result` stored nothing: its skips, its empty documents and the kinds
        of record it did not read (the one way each place that finds nothing usable says so)."""
        return cls(result.skips, result.empty_documents, result.unknown_event_types)


@dataclass
class ImportResult:
    files: int = 0
    documents: int = 0
    formats: dict[str, int] = field(default_factory=dict)
    written: dict[str, int] = field(default_factory=dict)
    skips: list[Skip] = field(default_factory=list)
    unknown_event_types: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    empty_documents: list[str] = field(default_factory=list)
    empty_files: set[str] = field(default_factory=set)
    """Of `empty_documents`, the files with no text at all: what gcloud's default YAML prints for a query
    that found nothing."""
    """Documents that are an empty list page (`is_empty_list`): read, and said, never an unknown format."""
    new_executions: int = 0
    changed_executions: int = 0
    unchanged_executions: int = 0
    """Executions already stored exactly as this import would write them: not rewritten."""
    upgraded: Upgraded = field(default_factory=Upgraded)
    """What the one-off upgrades rewrote of what an earlier flowscope stored (`store_upgrades`)."""
    runless_executions: int = 0
    """Executions the files gave steps, attempts or usage of but no run record of (nor the store): the
    dashboard and the run measures count runs from run records, so they wait for one."""
    trigger_polls: int = 0
    """Ids a cloud keys rows by that never get a run (Logic Apps trigger polls that fired nothing: their
    usage is billed and stored), counted apart from the executions."""
    upkeep: str | None = None
    """What merging small files did after the import (`upkeep.compact_crowded`), None when nothing."""
