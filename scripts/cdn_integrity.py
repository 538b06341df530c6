"""Print the `flowscope.report.vega.CDN_FILES` entry of a vl-convert-python version: each library's exact
version, the file its package.json `jsdelivr` field names, and that file's `sha384-` SRI hash, read from the
npm registry's tarball (`npm pack`, which checks the tarball against the registry's own integrity).

    python scripts/cdn_integrity.py                      # the installed vl-convert's versions
    python scripts/cdn_integrity.py vega@6.2.0 vega-lite@6.4.1 vega-embed@7.0.2

Without arguments the versions are the installed vl-convert's bundle's: Vega's and vega-embed's as it names
them, Vega-Lite's patch read from the bundle (vl-convert names only its minor, `6.4`, which jsDelivr would
resolve to the newest patch rather than the bundled one).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import sys
import tarfile
import tempfile
from importlib.metadata import version
from pathlib import Path


def bundled() -> list[str]:
    """vega@X, vega-lite@X.Y.Z and vega-embed@X of the installed vl-convert's bundle."""
    import vl_convert as vlc

    minor = vlc.get_vegalite_versions()[-1]
    found = set(re.findall(rf'"({re.escape(minor)}\.\d+)"', str(vlc.javascript_bundle())))
    if len(found) != 1:
        sys.exit(f"cannot tell the bundle's Vega-Lite {minor}.x patch (found {sorted(found)}): name the packages")
    return [f"vega@{vlc.get_vega_version()}", f"vega-lite@{found.pop()}", f"vega-embed@{vlc.get_vega_embed_version()}"]


def entry(spec: str, folder: Path) -> str:
    """The `CdnScript(...)` line of one `package@version`, from its npm tarball."""
    name, _, exact = spec.rpartition("@")
    packed = subprocess.run(["npm", "pack", "--json", spec], cwd=folder, check=True, capture_output=True, text=True)
    with tarfile.open(folder / json.loads(packed.stdout)[0]["filename"]) as tar:
        manifest = json.load(tar.extractfile("package/package.json"))
        path = manifest["jsdelivr"]
        data = tar.extractfile(f"package/{path}").read()
    digest = base64.b64encode(hashlib.sha384(data).digest()).decode()
    return f'CdnScript("{name}", "{exact}", "{path}", "sha384-{digest}"),'


def main(specs: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        lines = [entry(spec, Path(tmp)) for spec in specs or bundled()]
    key = version("vl-convert-python") if not specs else "VL_CONVERT_VERSION"
    print(f'"{key}": (\n' + "".join(f"    {line}\n" for line in lines) + "),")


if __name__ == "__main__":
    main(sys.argv[1:])
