"""Whether a collection run recorded as `running` is still running.

A sync writes its collection_runs row with status `running` first and replaces it when it ends;
a sync that was killed (SIGKILL, a lost machine, a container stopped) leaves the `running` row
for ever. Such a row reads as interrupted when the process that wrote it is gone (its pid and host
are in `details.writer`, and that pid no longer exists on this host) or when it has been running
for longer than `RUNNING_LIMIT` (a row without a writer, one written on another host, or a pid
reused by another process).
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Mapping
from typing import Any

from flowscope.model import C, RunStatus, run_details, utc

IMPORT_SCOPE_PREFIX = "import:"
"""The scope of an import's collection_runs row ("import:aws"): no scheduler runs imports, so `doctor`
says its age but never reads it as a sync that stopped."""


def is_import(run: Mapping[str, Any]) -> bool:
    """Whether a collection run is an import's (`IMPORT_SCOPE_PREFIX`), not a sync's."""
    return str(run.get(C.scope) or "").startswith(IMPORT_SCOPE_PREFIX)


RUNNING_LIMIT = dt.timedelta(hours=24)
"""A sync still `running` after this long is taken as interrupted, whatever its process."""
WRITER_KEY = "writer"


def writer_details() -> dict[str, Any]:
    """This process, as a running collection run names its writer (`details.writer`)."""
    return {"host": socket.gethostname(), "pid": os.getpid()}


def interrupted(run: Mapping[str, Any], now: dt.datetime, details: Mapping[str, Any] | None = None) -> str | None:
    """Why a `running` collection run is no longer running, or None (it may still be running,
    or it is not `running`). `details`: the run's parsed details, when the caller has them."""
    if run.get(C.status) != RunStatus.RUNNING.value:
        return None
    started = utc(run.get(C.started_at))
    if started is not None and now - started > RUNNING_LIMIT:
        return f"running for more than {RUNNING_LIMIT.total_seconds() / 3600:.0f} h"
    if details is None:
        details = run_details(run.get(C.details))
    writer = details.get(WRITER_KEY) if isinstance(details, Mapping) else None
    if not isinstance(writer, Mapping) or writer.get("host") != socket.gethostname():
        return None
    pid = writer.get("pid")
    if not isinstance(pid, int) or pid == os.getpid() or process_alive(pid):
        return None
    return f"its {'import' if is_import(run) else 'sync'} (pid {pid}) is gone"


def process_alive(pid: int) -> bool:
    """Whether a process has this pid in this pid namespace (signal 0 checks, sends nothing). Another user's
    process is alive, and so is a pid no process can have (nothing to judge it by: kept, never removed)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    except OSError:
        return False
    return True
