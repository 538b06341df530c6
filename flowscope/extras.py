"""How to install an optional part of flowscope, said one way wherever one is missing.

flowscope is installed from its repository folder, not from PyPI (README), so a hint of
`pip install 'flowscope[aws]'` sent a fresh environment to an index that has no flowscope (or, one day,
someone else's), and named no interpreter: with a venv not activated, `pip` is often another Python's.
Where this flowscope came from is in its installed metadata (PEP 610 `direct_url.json`): a folder, installed
editable or not. The hint installs the extra from there, with this interpreter's pip.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

DISTRIBUTION = "flowscope"


def install_command(extra: str) -> str:
    """The command that adds `extra` (a pyproject extra: aws, azure, gcp, ui, report, spark) to this install:
    `/path/.venv/bin/python -m pip install -e '/path/flowscope[aws]'` for an install from a folder that is
    still there, else `... -m pip install 'flowscope[aws]'` (an install from an index or a wheel)."""
    folder, editable = _installed_from()
    target = f"{folder}[{extra}]" if folder is not None else f"{DISTRIBUTION}[{extra}]"
    return shlex.join([sys.executable, "-m", "pip", "install", *(["-e"] if editable else []), target])


def _installed_from() -> tuple[str | None, bool]:
    """(the folder this flowscope was installed from, whether editable), or (None, False) when it came
    from an index or a wheel, or its folder is gone."""
    from importlib.metadata import distributions

    # Every record of the name, not the first: run from a checkout, its `flowscope.egg-info` (the editable
    # build's) comes first on the path and holds no direct_url.json; the install's dist-info does.
    for dist in distributions(name=DISTRIBUTION):
        text = dist.read_text("direct_url.json")
        if text:
            return folder_of(text)
    return None, False


def folder_of(direct_url: str | None) -> tuple[str | None, bool]:
    """`direct_url.json`'s folder and whether it was installed editable (PEP 610); (None, False) for
    anything but a `file:` URL of a folder that exists (an archive, a VCS URL, unreadable text)."""
    try:
        info = json.loads(direct_url) if direct_url else None
    except ValueError:
        return None, False
    if not isinstance(info, dict) or not isinstance(info.get("dir_info"), dict):
        return None, False
    url = urlsplit(str(info.get("url", "")))
    if url.scheme != "file" or url.netloc not in ("", "localhost"):
        return None, False
    folder = Path(unquote(url.path))
    if not (folder / "pyproject.toml").is_file():
        return None, False
    return str(folder), bool(info["dir_info"].get("editable"))
