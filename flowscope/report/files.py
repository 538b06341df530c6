"""Report files written whole or not at all: next to the target, then renamed over it.

A scheduler's re-run that fails half-way (a full disk, a killed job, a cell a writer refuses) must
leave last week's good report in place, not half of this week's. A folder of tables (csv, parquet)
is written whole beside it first and its files moved in only then (`write_files_whole`). The temporary file is private
(0600, `tempfile.mkstemp`) while it is written. Renamed into place it takes its final mode (`_final_mode`):
a file replaced keeps its own (a report a web server published, 0644, came back 0600 after the next
run), a new one what the umask gives any new file (0644 under umask 022; kept 0600, a report dated by
day was refused by the web server every day until someone ran chmod). Who may read a new report is
the umask's to say, as for every other file the user writes: 077 keeps reports private.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Collection, Mapping
from pathlib import Path


def through_link(path: Path) -> Path:
    """The file a link points to (the link itself when it is none): renamed over, a `latest.html` link
    to the published report became a file of its own and the published one stayed last week's."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def _final_mode(new: Path, old: Path) -> None:
    """Give `new` the permissions of the file `old` it replaces, or when there is none those a new file
    gets from the umask (`_new_file_mode`)."""
    try:
        mode = stat.S_IMODE(old.stat().st_mode)
    except FileNotFoundError:
        mode = _new_file_mode()
    new.chmod(mode)


def _new_file_mode() -> int:
    """0666 less the process umask. Linux says the umask in /proc/self/status; elsewhere it can only be
    read by setting it, briefly to 077, so a file another thread creates meanwhile is private, never
    more open than it would have been."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o077)
    os.umask(mask)
    return 0o666 & ~mask


def check_writable(path: Path) -> None:
    """OSError when no file can be made where `path` (a report file, or a folder of them) will be: in
    `path` itself when it is a folder already there, else in the nearest folder above it that exists.
    Tried with a temporary file, as the writers make theirs: a report that failed only at the end had
    analysed the window and recorded the findings history for a file no one got."""
    path = through_link(path)
    place = path if path.is_dir() else next((p for p in path.parents if p.exists()), Path("."))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=place)
    os.close(fd)
    os.unlink(tmp)


def write_whole(path: Path, write: Callable[[Path], object]) -> None:
    """Call `write` with a temporary path beside `path` (beside the file it links to), then rename it
    to `path`."""
    path = through_link(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        _final_mode(Path(tmp), path)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_whole(path: Path, text: str) -> None:
    write_whole(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_files_whole(folder: Path, writes: Mapping[str, Callable[[Path], object]],
                      stale: Collection[str] = ()) -> list[Path]:
    """Write each file of `writes` (file name -> writer) into a private folder beside `folder`, and
    only once every one is written move them into `folder` (renames, which do not fail half-way as a
    writer can), then remove the `stale` names it no longer holds (another report's tables). Written
    one by one over the last report, a failure at the third table left this report's summary beside
    the last one's findings. Other files in `folder` are left alone. Returns the paths written."""
    folder = through_link(folder)        # staged beside the real folder: a rename does not cross disks
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))    # 0700
    try:
        for name, write in writes.items():
            write(staging / name)
            (staging / name).chmod(0o600)
        written = []
        for name in writes:
            _final_mode(staging / name, folder / name)
            os.replace(staging / name, folder / name)
            written.append(folder / name)
        for name in set(stale) - set(writes):
            (folder / name).unlink(missing_ok=True)
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)
