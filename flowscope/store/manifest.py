"""The store manifest: which Delta version of each table forms the last complete write.

Delta commits are per table; a write touches several. The manifest `<n>.json` is written
(atomically, os.replace) only after every table of a write committed, and readers read each
table at the manifest's version, so they never see half a write. Numbered files, never
overwritten, keep old snapshots nameable (vacuum keeps their files for the retention window).
Each names its store's `lineage`, drawn by the first manifest and copied by every next one: a store
deleted and built again at the same path starts its numbers (and its tables' versions) at 1 again,
and the lineage is what tells a reader's caches that it is another store.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

from flowscope.store.errors import StoreDamagedError

_SUFFIX = ".json"


@dataclass(frozen=True)
class Manifest:
    number: int
    versions: dict[str, int] = field(default_factory=dict)
    written_at: dt.datetime | None = None
    lineage: str | None = None      # None: no manifest yet, or one written before lineages


def _numbers(directory: Path) -> list[int]:
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    except NotADirectoryError:      # a file where the folder goes: said as a bug in flowscope (exit 5)
        raise StoreDamagedError(str(directory.parent.parent), f"the snapshot manifests' folder {directory}",
                                "it is a file, not a folder") from None
    return sorted(int(n[: -len(_SUFFIX)]) for n in names
                  if n.endswith(_SUFFIX) and n[: -len(_SUFFIX)].isdigit())


def _load(directory: Path, number: int) -> Manifest:
    """One manifest; a damaged one (truncated, edited, not JSON) is a StoreDamagedError naming its file:
    a JSONDecodeError without a path read as a flowscope bug (`doctor` exit 5, a bare traceback in a
    notebook). FileNotFoundError passes through (pruned while listed: the callers try the next)."""
    path = directory / f"{number:020d}{_SUFFIX}"
    try:
        doc = json.loads(path.read_text())
        lineage = doc.get("lineage")
        return Manifest(number, {str(k): int(v) for k, v in doc["versions"].items()},
                        dt.datetime.fromisoformat(doc["written_at"]), None if lineage is None else str(lineage))
    except FileNotFoundError:
        raise
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StoreDamagedError(str(directory.parent.parent), f"the snapshot manifest {path}",
                                f"{type(exc).__name__}: {exc}") from None


def latest(directory: Path) -> Manifest:
    """The newest manifest, or an empty one (number 0) for a store never written."""
    for number in reversed(_numbers(directory)):
        try:
            return _load(directory, number)
        except FileNotFoundError:  # pruned between listing and reading: try the next one
            continue
    return Manifest(0)


def all_manifests(directory: Path) -> list[Manifest]:
    out = []
    for number in _numbers(directory):
        try:
            out.append(_load(directory, number))
        except FileNotFoundError:
            continue
    return out


def write_next(directory: Path, versions: dict[str, int]) -> Manifest:
    """Write manifest n+1 atomically (temp file, fsync, os.replace). Caller holds the lock."""
    directory.mkdir(parents=True, exist_ok=True)
    previous = latest(directory)
    number = previous.number + 1
    lineage = previous.lineage or uuid.uuid4().hex
    now = dt.datetime.now(dt.timezone.utc)
    doc = {"versions": dict(sorted(versions.items())), "written_at": now.isoformat(), "pid": os.getpid(),
           "lineage": lineage}
    atomic_write(directory / f"{number:020d}{_SUFFIX}", json.dumps(doc, indent=1))
    return Manifest(number, dict(versions), now, lineage)


def protected(directory: Path, retention: dt.timedelta) -> list[Manifest]:
    """Manifests a reader may still be using: the latest, and any superseded less than
    `retention` ago. Their table versions' files must survive vacuum."""
    manifests = all_manifests(directory)
    if not manifests:
        return []
    cutoff = dt.datetime.now(dt.timezone.utc) - retention
    keep = [m for m, nxt in pairwise(manifests)
            if nxt.written_at is not None and nxt.written_at > cutoff]
    return keep + [manifests[-1]]


def prune(directory: Path, retention: dt.timedelta) -> int:
    """Delete manifests no reader can still be using; returns how many were deleted."""
    keep = {m.number for m in protected(directory, retention)}
    gone = 0
    for number in _numbers(directory):
        if number not in keep:
            (directory / f"{number:020d}{_SUFFIX}").unlink(missing_ok=True)
            gone += 1
    return gone


def atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
