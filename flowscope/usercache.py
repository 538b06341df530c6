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
from collections.abc import Mapping
from pathlib import Path


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
    fd, tmp = tempfile.mkstemp(dir=where, prefix=".writing-")     # 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, where / name)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def forget_oldest(where: Path, pattern: str, keep: int) -> None:
    """Remove the files of `where` matching `pattern` past the `keep` most recently modified."""
    files = []
    for path in where.glob(pattern):
        try:
            files.append((path.stat().st_mtime, path))
        except FileNotFoundError:     # another process removed it meanwhile
            continue
    for _, path in sorted(files, reverse=True)[keep:]:
        path.unlink(missing_ok=True)
