"""An install hint installs the extra from where this flowscope came from, with this interpreter's pip: flowscope
is not on PyPI, and `pip install 'flowscope[aws]'` sent a fresh environment there (`flowscope/extras.py`)."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest

from flowscope import extras

ROOT = Path(__file__).resolve().parents[2]


def _direct_url(url: str, **dir_info: object) -> str:
    return json.dumps({"url": url, "dir_info": dir_info})


def test_a_folder_install_is_named_with_this_interpreter(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'flowscope'\n")
    pip = [sys.executable, "-m", "pip", "install"]
    editable = _direct_url(tmp_path.as_uri(), editable=True)
    monkeypatch.setattr(extras, "_installed_from", lambda: extras.folder_of(editable))
    assert shlex.split(extras.install_command("aws")) == [*pip, "-e", f"{tmp_path}[aws]"]
    monkeypatch.setattr(extras, "_installed_from", lambda: extras.folder_of(_direct_url(tmp_path.as_uri())))
    assert shlex.split(extras.install_command("ui")) == [*pip, f"{tmp_path}[ui]"]


@pytest.mark.parametrize("direct_url", [
    None,                                                                   # from an index: no direct_url.json
    "not json",
    json.dumps({"url": "https://example.invalid/flowscope-0.1.0.tar.gz", "archive_info": {}}),
    json.dumps({"url": "git+https://example.invalid/flowscope.git", "vcs_info": {"vcs": "git"}}),
    _direct_url("file:///no/such/folder/anywhere"),                         # the checkout was deleted since
])
def test_anything_else_names_the_distribution(monkeypatch, direct_url):
    monkeypatch.setattr(extras, "_installed_from", lambda: extras.folder_of(direct_url))
    assert shlex.split(extras.install_command("report")) == [sys.executable, "-m", "pip", "install",
                                                             "flowscope[report]"]


def test_this_checkout_s_install_is_found():
    """The development install (`pip install -e '.[dev]'`, scripts/setup.sh) names this checkout."""
    folder, editable = extras._installed_from()
    assert folder is not None and Path(folder).resolve() == ROOT.resolve() and editable


def test_no_hint_in_the_code_names_the_index():
    """Each missing-extra message goes through `install_command`: none writes its own `pip install`."""
    written = [f"{path.relative_to(ROOT)}:{n}" for path in sorted((ROOT / "flowscope").rglob("*.py"))
               for n, line in enumerate(path.read_text().splitlines(), 1) if "pip install" in line
               and path.name != "extras.py"]
    assert not written, written
