"""Report files written whole or not at all: next to the target, then renamed over it.

A scheduler's re-run that fails half-way (a full disk, a killed job, a cell a writer refuses) must
leave last week's good report in place, not half of this week's. A folder of tables (csv, parquet)
is written whole beside it first and its files moved in only then (`write_files_whole`). The temporary file is private
(0600, `tempfile.mkstemp`): reports carry error causes from the clouds. A file replaced keeps its own
mode (`_keep_mode`): a report a web server published (0644) came back 0600 after the next run.
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


def _keep_mode(new: Path, old: Path) -> None:
    """Give `new` the permissions of the file `old` it replaces (nothing when there is none)."""
    try:
        mode = stat.S_IMODE(old.stat().st_mode)
    except FileNotFoundError:
        return
    new.chmod(mode)


def write_whole(path: Path, write: Callable[[Path], object]) -> None:
    """Call `write` with a temporary path beside `path` (beside the file it links to), then rename it
    to `path`."""
    path = through_link(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        _keep_mode(Path(tmp), path)
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
            _keep_mode(staging / name, folder / name)
            os.replace(staging / name, folder / name)
            written.append(folder / name)
        for name in set(stale) - set(writes):
            (folder / name).unlink(missing_ok=True)
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)
