"""A window's findings kept on disk between dashboard servers, per store snapshot, window and settings.

Why: the dashboard computes every finding once per store snapshot and window (`ui/jobs.py`), but only for
the life of its server. A server started again (a deploy, a crash, `flowscope demo` run again, a second
server on the same store) computed the default window again while its first visitor's page drew: on the
1,000,000-execution bench store that is 2-2.5 s of CPU on the cores the page and the browser need, and
the Overview's findings came 2-3 s after its charts. Findings kept by an earlier server come back in
milliseconds (docs/dashboard.md, "Findings kept between servers").

What keys them: everything a window's findings depend on (`kept_key`): the store (its resolved path and
`Store.snapshot_key`: table versions and lineage, so a rebuilt store never reads an older one's), the
window, the thresholds, and flowscope's own code (`code_identity`: a new or edited flowscope is another
key). Only a window that ended before its analysis ran is kept (`keepable`): its findings no longer
depend on the clock (the stuck check ages runs to the earlier of now and the window's end; a failed
collection is one whose run is the last before now, and a snapshot's runs all precede it).

Where: `$XDG_CACHE_HOME/flowscope/findings` (default `~/.cache/flowscope/findings`), a folder of the
user's own (0700) holding one pickled frame per key (0600). Pickle is exact for the frame's evidence (dicts,
timestamps, lists) and is Python's own format for its caches; since unpickling runs code, a folder or file
that another user owns or could write is never read. At most `MAX_KEPT` files, the oldest removed first.
`FLOWSCOPE_UI_KEEP_FINDINGS=0` turns it off. A file that cannot be read or written is a cache miss,
never a failed analysis: the findings are then computed as before.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import logging
import os
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowscope import usercache

if TYPE_CHECKING:
    import pandas as pd

KEEP_VARIABLE = "FLOWSCOPE_UI_KEEP_FINDINGS"
"""Set to "0" to compute every window afresh in each server (nothing read or written)."""
MAX_KEPT = 64
"""Files kept at most (a window of a store version each; a 1M store's ~30-90 KB): the oldest go first."""
FORMAT = 1
"""Bumped when what a file holds changes shape."""

log = logging.getLogger(__name__)


def folder(env: Mapping[str, str] | None = None) -> Path | None:
    """Where findings are kept, or None when keeping is off (`KEEP_VARIABLE` "0")."""
    values = os.environ if env is None else env
    if values.get(KEEP_VARIABLE, "1") == "0":
        return None
    return usercache.folder("findings", values)


@functools.cache
def code_identity() -> str:
    """A digest of flowscope's own source files (every module an analysis may run), read once per process:
    findings kept by another version, or by the same version edited in place, are never read."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix in {".py", ".json", ".toml", ".csv"}:
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def kept_key(store: str, snapshot: str, since: dt.datetime, until: dt.datetime,
             thresholds: Mapping[str, Any]) -> str:
    """The text naming one window's findings: store, snapshot, window, thresholds and code (see the module)."""
    return json.dumps({"format": FORMAT, "code": code_identity(), "store": str(Path(store).resolve()),
                       "snapshot": snapshot, "since": since.isoformat(), "until": until.isoformat(),
                       "thresholds": dict(thresholds)}, sort_keys=True, default=str)


def keepable(until: dt.datetime, now: dt.datetime) -> bool:
    """Whether a window analysed at `now` gives the same findings at any later time: it ended by then."""
    return until <= now


def _file(where: Path, key: str) -> Path:
    return where / f"{hashlib.sha256(key.encode()).hexdigest()}.pickle"


def load(where: Path | None, key: str) -> pd.DataFrame | None:
    """The findings kept under `key`, or None (nothing kept, keeping off, or a file not ours or unreadable)."""
    import pandas as pd

    if where is None:
        return None
    path = _file(where, key)
    try:
        if not (usercache.private(where) and usercache.private(path)):
            log.warning("kept findings at %s not read: another user owns it or can write it", path)
            return None
        with path.open("rb") as fh:
            kept = pickle.load(fh)
    except FileNotFoundError:
        return None
    except Exception as exc:  # noqa: BLE001 - a damaged or foreign file is a miss: the findings are computed
        log.warning("kept findings at %s not read (%s): computing them", path, type(exc).__name__)
        return None
    if not isinstance(kept, dict) or kept.get("key") != key or not isinstance(kept.get("findings"), pd.DataFrame):
        return None
    try:
        os.utime(path)            # read: the newest to keep (`usercache.forget_oldest` goes by the time of last use)
    except OSError:
        pass
    return kept["findings"]


def keep(where: Path | None, key: str, findings: pd.DataFrame) -> None:
    """Write `findings` under `key` (whole or not at all: a temporary file renamed), then drop the oldest
    files past `MAX_KEPT`. A folder that cannot be made or written is left alone: the next server computes."""
    if where is None:
        return
    try:
        data = pickle.dumps({"key": key, "findings": findings}, protocol=pickle.HIGHEST_PROTOCOL)
        if not usercache.write_whole(where, _file(where, key).name, data):
            log.warning("findings not kept: %s is not this user's alone", where)
            return
        usercache.forget_oldest(where, "*.pickle", MAX_KEPT)
    except OSError as exc:
        log.warning("findings not kept in %s: %s", where, exc.strerror or exc)
