"""One writer per store: an OS file lock, released by the kernel if the holder dies.

`fcntl.flock` locks belong to the open file description, so a SIGKILLed writer never leaves
a stale lock behind. The holder writes its pid into the file so a refused writer can say who.
The lock is re-entrant for the thread holding it (write() inside `with store.writer():`).
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path

from flowscope.store.errors import StoreLockedError

_POLL_S = 0.05


class WriterLock:
    def __init__(self, path: Path, store_name: str) -> None:
        self._path = path
        self._store_name = store_name
        self._fd: int | None = None
        self._depth = 0
        self._owner: int | None = None
        self._mutex = threading.Lock()

    @property
    def held(self) -> bool:
        """True when the calling thread holds the lock."""
        return self._depth > 0 and self._owner == threading.get_ident()

    def acquire(self, timeout: float) -> bool:
        """Take the lock (waiting up to `timeout` s); True if this call took it first (outermost).

        FileNotFoundError when the lock's folder is gone: the lock never makes it, so a store deleted
        just before it is taken is not made again, empty, under the writer."""
        if self.held:
            self._depth += 1
            return False
        start = time.monotonic()
        if not self._mutex.acquire(timeout=max(timeout, 0.0)):
            raise StoreLockedError(self._store_name, os.getpid(), time.monotonic() - start)
        try:
            # no mkdir: the folder is the store's (made when the store is); one deleted is not made again
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)   # private: the store may be shared read-only
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    waited = time.monotonic() - start
                    if waited >= timeout:
                        holder = _read_pid(fd)
                        os.close(fd)
                        raise StoreLockedError(self._store_name, holder, waited) from None
                    time.sleep(_POLL_S)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except BaseException:
            self._mutex.release()
            raise
        self._fd, self._depth, self._owner = fd, 1, threading.get_ident()
        return True

    def release(self) -> None:
        if not self.held:
            raise RuntimeError("release of a store lock this thread does not hold")
        self._depth -= 1
        if self._depth:
            return
        fd, self._fd, self._owner = self._fd, None, None
        try:
            assert fd is not None
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        finally:
            self._mutex.release()


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 64, 0).decode().strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None
