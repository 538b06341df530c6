"""Replacing a demo store beside itself: build the new one in a folder next to it, then swap the two.

A build's folders are `.NAME.building-PID-TOKEN` (the new demo) and `.NAME.replaced-PID-TOKEN` (the earlier
one between the two renames of the swap). The build holds an exclusive `flock` on `.NAME.build-PID-TOKEN.lock`
from before its first folder exists until after its last is gone. The kernel releases it when the process
ends, however it ends, so a later build removes exactly the folders of builds that were killed outright.

Whether a build lives is read from its lock, not from its pid: a pid names a process in one pid namespace
only. A demo building in another container on a shared volume has a pid this one does not see (its folder
read as a dead build's and was deleted under it), or one this process has too (PID 1 in both: the second
build removed the first's folder as its own leftover). The token keeps two builds' names apart, and the
lock is read the same from every namespace. A folder without a token (written before this rule) is judged
by its pid, as it was.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from flowscope.runstate import process_alive

if TYPE_CHECKING:
    from flowscope.store import Store

T = TypeVar("T")

BUILDING, REPLACED = "building", "replaced"
"""`.NAME.building-PID-TOKEN`: a replacement demo being built; `.NAME.replaced-PID-TOKEN`: the earlier demo
between the two renames of the swap. Both are removed by their build, unless it was killed outright."""
_LOCK = "build"


def rebuild_beside(path: str | Path, build: Callable[["Store"], T], *,
                   say: Callable[[str], None] | None = None) -> T:
    """`build` a demo store that replaces the earlier demo at `path` in a folder beside it, then swap the
    two: the old one was deleted first, so a dashboard or notebook reading it for the whole build (minutes
    at 1M executions) was told the store was damaged and to restore it from a backup. Readers now read the
    old demo whole until the swap (two renames; their next read takes the new snapshot), and a build that
    fails or is interrupted leaves the old demo as it was and no half-built folder. The folders of builds
    killed outright (no `finally` ran) are removed first (`remove_killed_builds`), and `say` names them."""
    from flowscope.store import Store
    from flowscope.store.store import local_root

    # beside the folder itself: through a link (~/.flowscope-demo on a bigger disk) the swap renamed the link
    # away, put the new demo in its place and left the old one where the link pointed
    path = local_root(path).resolve()
    build_id = f"{os.getpid()}-{secrets.token_hex(4)}"
    fresh = path.parent / f".{path.name}.{BUILDING}-{build_id}"
    old = path.parent / f".{path.name}.{REPLACED}-{build_id}"
    with _held(path.parent / f".{path.name}.{_LOCK}-{build_id}.lock"):
        clear_killed_builds(path, say)
        try:
            result = build(Store(fresh))
            path.rename(old)
            try:
                fresh.rename(path)
            except BaseException:
                old.rename(path)
                raise
        finally:
            shutil.rmtree(fresh, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return result


def clear_killed_builds(path: str | Path, say: Callable[[str], None] | None = None) -> None:
    """`remove_killed_builds` beside the store `path` (as the store reads it, through a link to where it lies),
    and `say` in one line what was removed: a new demo too, after `rm -r STORE`, whose replacement was killed."""
    from flowscope.store.store import local_root

    removed = remove_killed_builds(local_root(path).resolve())
    if removed and say is not None:
        say(f"removed {len(removed)} folder(s) of demo builds killed before they finished: "
            + ", ".join(str(folder) for folder in removed))


def remove_killed_builds(path: Path) -> list[Path]:
    """Remove the build folders beside the store `path` whose build is over (its lock is free, or it has no
    lock and its pid names no process), and return them. A SIGKILLed build left its folder for ever (a
    store's size each), and removing every such folder would delete the one a demo still building in
    another process writes: a live build's is never deleted."""
    pattern = re.compile(rf"\.{re.escape(path.name)}\.({BUILDING}|{REPLACED})-([1-9][0-9]{{0,9}})(-[0-9a-f]{{8}})?")
    removed = []
    for entry in sorted(path.parent.iterdir()) if path.parent.is_dir() else []:
        found = pattern.fullmatch(entry.name)
        if found is None or not entry.is_dir() or entry.is_symlink():
            continue
        if found.group(3) is None:       # named before builds held a lock: its pid is all there is
            if process_alive(int(found.group(2))):
                continue
            over: contextlib.AbstractContextManager[bool] = contextlib.nullcontext(True)
        else:
            over = _taken_if_free(path.parent / f".{path.name}.{_LOCK}-{found.group(2)}{found.group(3)}.lock")
        with over as free:
            if not free:
                continue
            if found.group(1) == REPLACED and not path.exists():
                continue      # killed between the swap's renames: the earlier demo is only there
            shutil.rmtree(entry, ignore_errors=True)
            if not entry.exists():      # one that cannot be removed (another user's files) is not said removed
                removed.append(entry)
    return removed


@contextlib.contextmanager
def _held(lock: Path) -> Iterator[None]:
    """An exclusive lock on `lock` (created private, removed at the end) for as long as the block runs."""
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()
        os.close(fd)


@contextlib.contextmanager
def _taken_if_free(lock: Path) -> Iterator[bool]:
    """Whether the build that `lock` stands for is over (True: its lock was free, and is held by this
    process until the block ends and then removed; or it is gone). False while its build runs."""
    try:
        fd = os.open(lock, os.O_RDWR)
    except FileNotFoundError:
        yield True          # no lock: its build removed it as its last step, or never made it
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()
    finally:
        os.close(fd)
