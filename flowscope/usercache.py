"""The user's cache folder for what flowscope keeps between processes: files only this user may read or write.

Why one module: the dashboard's kept findings (`ui/kept_findings.py`) and the store's file columns
(`store/file_columns.py`) both keep files under `$XDG_CACHE_HOME/flowscope` (default `~/.cache/flowscope`),
and both must read only what this user alone could have written (a folder or file another user owns or may
write could say anything) and write a file whole or not at all (a reader never sees half of one).
"""

from __future__ import annotations

import os
import stat
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

LEFTOVER_PREFIX = ".writing-"
"""The name `write_whole`'s temporary files start with."""

LEFTOVER_AGE_S = 3600.0
"""A temporary file last written longer ago than this is a killed writer's leftover: a write in progress (one
`write` of a few kilobytes to megabytes) is never that old, so another process's is never removed."""


def folder(name: str, env: Mapping[str, str] | None = None) -> Path:
    """`$XDG_CACHE_HOME/flowscope/<name>` (default `~/.cache/flowscope/<name>`), not created."""
    values = os.environ if env is None else env
    base = values.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "flowscope" / name


def private(path: Path) -> bool:
    """Owned by this user and writable by no one else, and not a symbolic link (raises OSError when missing)."""
    info = path.lstat()
    return (not stat.S_ISLNK(info.st_mode) and info.st_uid == os.getuid()
            and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH))


def write_whole(where: Path, name: str, data: bytes) -> bool:
    """Write `data` as `where/name` (0600) through a temporary file renamed over it, making `where` (0700) if
    needed. False, nothing written, when `where` is not this user's alone; OSError when it cannot be written."""
    where.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not private(where):
        return False
    fd, tmp = tempfile.mkstemp(dir=where, prefix=LEFTOVER_PREFIX)     # 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, where / name)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def forget_oldest(where: Path, pattern: str, keep: int) -> None:
    """Remove the files of `where` matching `pattern` past the `keep` most recently modified, and the
    leftovers of killed writes (`forget_leftovers`)."""
    forget_leftovers(where)
    files = []
    for path in where.glob(pattern):
        try:
            files.append((path.stat().st_mtime, path))
        except FileNotFoundError:     # another process removed it meanwhile
            continue
    for _, path in sorted(files, reverse=True)[keep:]:
        path.unlink(missing_ok=True)


def forget_leftovers(where: Path) -> None:
    """Remove the temporary files of `where` that `write_whole`s killed mid-write left (SIGKILL skips their
    cleanup, and no other pattern matches them), once older than `LEFTOVER_AGE_S` by their last write."""
    cutoff = time.time() - LEFTOVER_AGE_S
    for path in where.glob(f"{LEFTOVER_PREFIX}*"):
        try:
            info = path.lstat()
        except FileNotFoundError:     # another process removed it meanwhile
            continue
        if stat.S_ISREG(info.st_mode) and info.st_mtime < cutoff:
            path.unlink(missing_ok=True)
