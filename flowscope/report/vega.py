"""The report's charts: the dashboard's Vega-Lite specs (`ui/charts.py`), drawn in the page by vega-embed.

One builder per chart for both surfaces: a report used to draw its charts again with plotly from the
same frames (`report/figures.py`, gone), two drawings of each rule to keep in step. The specs go into the
page as JSON data blocks (`<script type="application/json">`, never run; `<`, `>` and `&` written as
``\\u`` escapes so no text in them can close the block), and one nonce'd script hands each to vega-embed.
Vega draws text as text (no HTML is read in a label) and its tooltips escape HTML, so cloud names need
no escaping of their own here; the page's Content-Security-Policy lets no other script run, and Vega
runs without `eval` (its expression interpreter, `ast: true`), which that policy forbids.

The libraries (Vega, Vega-Lite, vega-embed: ~0.9 MB) are inlined from `vl-convert-python`'s bundle, so
the file opens offline, or loaded from jsDelivr (`cdn`: a file of ~120 kB). Making the bundle costs ~1.1 s of
CPU and ~140 MB (vl-convert starts a JavaScript engine), so it is kept in the user's cache folder
(`usercache`), one file per version, and a report's process reads it.

The CDN's scripts are the exact npm files of the bundle's versions (`CDN_FILES`, one entry per vl-convert
version), each with its Subresource Integrity hash: a report holds a team's data, and a CDN that served
other bytes (or a range such as `vega-lite@6.4`, which jsDelivr resolves to its newest patch) would run
them in it; the browser refuses a file whose hash differs, and the chart keeps its "not drawn" note. A
vl-convert the table does not know is refused for `cdn` (`check_libraries`) rather than loaded unpinned.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

from flowscope import usercache
from flowscope.extras import install_command

MODES = ("inline", "cdn")
CDN_ORIGIN = "https://cdn.jsdelivr.net"
NOT_DRAWN = ("Chart not drawn: its script did not load (this report loads Vega from cdn.jsdelivr.net; write it "
             "with --charts inline to open it offline).")
DRAWN_ATTR = "data-drawn"
"""Set on a chart's element once Vega has drawn it: what the PDF printer waits for."""
FAILED_ATTR = "data-failed"
"""Set on a chart's element, to Vega's error, when it could not be drawn: the PDF printer says it at once."""
EMBED_OPTIONS = {"actions": False, "renderer": "svg", "ast": True}
"""SVG: the PDF keeps vector charts and their text; `ast`: no `eval` (the page's policy forbids it)."""

_DRAW = """
for (const box of document.querySelectorAll(".chart[data-spec]")) {
  if (!window.vegaEmbed) break;
  const spec = JSON.parse(document.getElementById(box.dataset.spec).textContent);
  box.replaceChildren();
  vegaEmbed(box, spec, OPTIONS).then(() => box.setAttribute("DRAWN", "1"),
                                     (err) => { box.textContent = "Chart not drawn: " + err;
                                                box.setAttribute("FAILED", String(err)); });
}
"""
CACHE_FOLDER = "vega"
"""The bundles kept between processes, under the user's cache folder (`usercache.folder`)."""
KEEP_BUNDLES = 2
"""Bundles of other versions kept (an upgrade, and a downgrade back)."""


class ChartsUnavailable(RuntimeError):
    """vl-convert-python, which holds the inlined libraries, is not installed."""


class CdnFilesUnknown(ChartsUnavailable):
    """The installed vl-convert-python has no entry in `CDN_FILES`: its CDN files would load unpinned."""


@dataclass(frozen=True)
class CdnScript:
    """One library's published file on jsDelivr: an exact version and path (jsDelivr serves the npm file's
    own bytes there, where a bare `/npm/pkg@v` lets it pick and minify one) and the file's SRI hash."""

    package: str
    version: str
    path: str
    integrity: str

    @property
    def url(self) -> str:
        return f"{CDN_ORIGIN}/npm/{self.package}@{self.version}/{self.path}"


REGENERATE = "python scripts/cdn_integrity.py"
"""What prints the `CDN_FILES` entry of the installed vl-convert-python (it asks the npm registry)."""
_VEGA_6_2_0 = (
    CdnScript("vega", "6.2.0", "build/vega.min.js",
              "sha384-0Wc8+KeboSkAq/fK81pd4uFbWKu4ouB+y4KWCYxlC69hRWol7vnc6zZSruXOtc0F"),
    CdnScript("vega-lite", "6.4.1", "build/vega-lite.min.js",
              "sha384-QtG7pnWvq1Tk0Rcvl53B1TEVw7U1PUqfciCz3XMUqSmi1fNpJwiv5ml+m5NeOOzH"),
    CdnScript("vega-embed", "7.0.2", "build/vega-embed.min.js",
              "sha384-MsH1NE1KRDpmMJCcJ8Ulqhadgiz4lT0GIaHN7DKB1POKAoBhSWywPDQ2sJDkP8M7"),
)
CDN_FILES: dict[str, tuple[CdnScript, ...]] = {
    "1.9.0": _VEGA_6_2_0,
    "1.9.0.post1": _VEGA_6_2_0,     # a repackaging: its bundle is byte for byte 1.9.0's (checked, sha256)
}
"""The CDN files of each vl-convert-python version: Vega, Vega-Lite and vega-embed at the exact versions its
bundle holds (Vega-Lite's patch read from the bundle: vl-convert names only `6.4`), each file the package.json
`jsdelivr` field names, and its `sha384-` hash computed from the npm registry's tarball. A new vl-convert's
entry is printed by `python scripts/cdn_integrity.py` (run in the venv that has it installed; or name the
packages: `python scripts/cdn_integrity.py vega@6.2.0 vega-lite@6.4.1 vega-embed@7.0.2`)."""


def _vl_convert() -> Any:
    try:
        import vl_convert
    except ImportError:
        raise ChartsUnavailable(f"the HTML and PDF reports' charts need vl-convert-python (it holds Vega): "
                                f"{install_command('report')}") from None
    return vl_convert


def check_libraries(charts: str = "inline") -> None:
    """ChartsUnavailable when the charts' libraries are missing, or (CdnFilesUnknown) when `cdn` has no pinned
    files for this vl-convert: what `report` and `run` ask before any work."""
    _vl_convert()
    if charts == "cdn":
        cdn_scripts()


def _versions(vlc: Any) -> tuple[str, str, str]:
    """Vega's, Vega-Lite's and vega-embed's versions in vl-convert's bundle (its Vega-Lite: the newest it has,
    a minor version), which name the cached bundle."""
    return vlc.get_vega_version(), vlc.get_vegalite_versions()[-1], vlc.get_vega_embed_version()


@functools.cache
def inline_libraries() -> str:
    """Vega, Vega-Lite and vega-embed as one script (it sets `window.vegaEmbed`): the cached bundle of this
    vl-convert when the cache holds it (a file only this user could have written), else made and kept."""
    vlc = _vl_convert()
    where = usercache.folder(CACHE_FOLDER)
    name = f"vega-{version('vl-convert-python')}-{'-'.join(_versions(vlc))}.js"
    try:
        if usercache.private(where) and usercache.private(where / name):
            return (where / name).read_text(encoding="utf-8")
    except OSError:
        pass                        # not cached yet (or unreadable): made below
    bundle = str(vlc.javascript_bundle())
    try:
        if usercache.write_whole(where, name, bundle.encode("utf-8")):
            usercache.forget_oldest(where, "vega-*.js", KEEP_BUNDLES)
    except OSError:
        pass                        # a cache it cannot write: the next process makes the bundle again
    return bundle


def cdn_scripts() -> tuple[CdnScript, ...]:
    """The libraries' pinned jsDelivr files for the installed vl-convert (`CDN_FILES`), in load order;
    CdnFilesUnknown for a version the table lacks: never a script the browser cannot check."""
    _vl_convert()
    installed = version("vl-convert-python")
    try:
        return CDN_FILES[installed]
    except KeyError:
        raise CdnFilesUnknown(f"the CDN files of vl-convert-python {installed} are not known to this flowscope "
                              f"(no pinned versions and integrity hashes for them): write the report with "
                              f"--charts inline") from None


def script_json(value: Any) -> str:
    """JSON that can sit in an HTML script element: `<`, `>` and `&` as ``\\u`` escapes (no `</script>`,
    no `<!--` in it), the text JSON.parse reads back unchanged."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def chart_html(spec: dict[str, Any], div_id: str) -> str:
    """A chart's element (its note until Vega draws it: an empty space read as "no data") and its spec as
    a data block. The chart fills the element's width, and its height is the whole chart's, title, legend
    and axes included (the plot's alone, two trend charts a row ran past a printed page: 11 pages, not 8)."""
    sized = {**spec, "width": "container", "autosize": {"type": "fit", "contains": "padding"}}
    return (f'<div class="chart" id="{div_id}" data-spec="{div_id}-spec"><p class="muted">{NOT_DRAWN}</p></div>'
            f'<script type="application/json" id="{div_id}-spec">{script_json(sized)}</script>')


def draw_script() -> str:
    """The script that draws every chart of the page (put after the last chart); a chart whose libraries did
    not load keeps its note, one Vega could not draw says why."""
    return (_DRAW.replace("OPTIONS", json.dumps(EMBED_OPTIONS)).replace("DRAWN", DRAWN_ATTR)
            .replace("FAILED", FAILED_ATTR))
