"""The folder a store is written in: what in it is no store's, and where it is on disk.

The demo, `import`, `sync` and `run` refuse to write a store among other files (or to delete them with an
earlier demo), and a report is refused inside the store: each asks here.
"""

from __future__ import annotations

from pathlib import Path

from flowscope.cli.output import fail


def _foreign_entries(path: str) -> list[str]:
    """The names in folder `path` that no flowscope store holds (its tables and `_flowscope`), sorted; none
    for a folder that does not exist or is empty. The demo writes a store into the folder, and replaces an
    earlier demo by deleting the folder: with other files in it (`--store ~`), they were deleted too."""
    from flowscope.model import TABLES
    from flowscope.store.layout import META_DIR

    folder = _store_folder(path)
    if folder is None or not folder.is_dir():
        return []
    own = {*TABLES, META_DIR}
    return sorted(entry.name for entry in folder.iterdir() if entry.name not in own)


def _store_folder(path: str) -> Path | None:
    """The folder the store's `path` names, as the store reads it (a `file://` URL's path: taken as a path, it
    was a relative folder `file:` that held nothing, and the checks of the real folder were skipped); None
    for a URL or a path the store refuses (it says so itself)."""
    from flowscope.store import StoreError
    from flowscope.store.store import local_root, unwritable_path

    try:
        root = local_root(path)
    except StoreError:
        return None
    return None if unwritable_path(root) else root


def _refuse_foreign(path: str, why: str, *, new_store_only: bool = False) -> None:
    """Exit 2 naming the files of folder `path` that are not a store's (`_foreign_entries`); with
    `new_store_only`, only when the folder is no store yet: a writer creates a store in a new or empty
    folder, never among other files (`--store .` in the exports' folder: the next import of that folder
    read the store's own files as exports)."""
    from flowscope.store.layout import META_DIR

    folder = _store_folder(path)
    if new_store_only and folder is not None and (folder / META_DIR).is_dir():
        return
    foreign = _foreign_entries(path)
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise fail(f"{path} holds files that are not a flowscope store's: {shown}; {why}: pass --store "
                   "with a new or empty folder")
