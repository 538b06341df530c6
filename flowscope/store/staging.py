"""Stage a batch before committing it, so a killed writer's batch can be replayed.

Order: staged Arrow IPC files under `_flowscope/staging/<id>/`, then the intent file
(atomic). A writer finding an intent replays that batch (writes replace by key, so replaying a
half-applied batch is idempotent) before doing anything else. A staging folder without an
intent is a writer killed while staging: nothing was committed, it is deleted. The staged files
are fsynced before the intent, which names them, is written.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc

from flowscope.store.faults import crash_point
from flowscope.store.manifest import atomic_write

_IPC = ipc.IpcWriteOptions(compression="lz4")


def stage(staging_dir: Path, intent_file: Path, tables: dict[str, pa.Table]) -> str:
    """Write the batch's tables, then the intent naming them; returns the write id."""
    write_id = uuid.uuid4().hex
    folder = staging_dir / write_id
    folder.mkdir(parents=True)
    for name, data in tables.items():
        with ipc.new_file(folder / f"{name}.arrow", data.schema, options=_IPC) as writer:
            writer.write_table(data)
        _flush(folder / f"{name}.arrow")
    _flush(folder)      # its entries: the intent must never name files a power cut could lose
    crash_point("staged")
    atomic_write(intent_file, json.dumps({"write_id": write_id, "tables": sorted(tables)}))
    crash_point("intent")
    return write_id


def _flush(path: Path) -> None:
    """Put a file's data (or a folder's entries) on disk: fsync through a read-only descriptor."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def pending(staging_dir: Path, intent_file: Path) -> tuple[str, dict[str, pa.Table]] | None:
    """The batch of a killed writer (write id, tables), or None."""
    try:
        doc = json.loads(intent_file.read_text())
    except FileNotFoundError:
        return None
    folder = staging_dir / doc["write_id"]
    tables = {}
    for name in doc["tables"]:
        with ipc.open_file(folder / f"{name}.arrow") as reader:
            tables[name] = reader.read_all()
    return doc["write_id"], tables


def finish(staging_dir: Path, intent_file: Path, write_id: str | None) -> None:
    """Drop the intent, then every staging folder (the finished one and any orphans)."""
    intent_file.unlink(missing_ok=True)
    if staging_dir.is_dir():
        for child in staging_dir.iterdir():
            shutil.rmtree(child, ignore_errors=True)
