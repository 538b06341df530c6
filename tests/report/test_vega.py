"""The report's charts as vega-embed reads them (`report/vega.py`): specs in data blocks no text can close, and the
Vega libraries' bundle kept between processes in the user's cache, trusted only when this user alone could have
written it. The browser side (charts drawn offline, under the page's policy) is tests/report/test_browser.py."""

from __future__ import annotations

import json
import math
import re
from importlib.metadata import version

import pytest

from flowscope.report import vega

vl_convert = pytest.importorskip("vl_convert")


def test_spec_json_cannot_close_its_script_element_and_reads_back_unchanged():
    hostile = {"name": "</script><script>alert(1)</script> <!-- & -->", "n": 3}
    text = vega.script_json(hostile)
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == hostile
    with pytest.raises(ValueError):        # a NaN is no JSON: the builders give null, never NaN
        vega.script_json({"x": math.nan})


def test_a_chart_is_its_note_and_its_spec_as_a_data_block():
    html = vega.chart_html({"mark": "bar", "title": {"text": "</script>"}}, "chart-x")
    note = f'<p class="muted">{vega.NOT_DRAWN}</p>'
    assert html.startswith(f'<div class="chart" id="chart-x" data-spec="chart-x-spec">{note}</div>')
    block = html.split('<script type="application/json" id="chart-x-spec">', 1)[1].removesuffix("</script>")
    spec = json.loads(block)
    assert spec["title"]["text"] == "</script>" and spec["width"] == "container"


@pytest.fixture()
def counted(monkeypatch, tmp_path):
    """The bundle made by vl-convert counted, the cache in a folder of this test's own."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    made = []
    real = vl_convert.javascript_bundle

    def bundle(*args, **kwargs):
        made.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(vl_convert, "javascript_bundle", bundle)
    vega.inline_libraries.cache_clear()
    yield made
    vega.inline_libraries.cache_clear()


def test_the_bundle_is_made_once_and_read_from_the_cache_after(counted, tmp_path):
    """Making it costs ~1.1 s of CPU and ~140 MB a process (vl-convert starts a JavaScript engine): a report's
    process reads the kept one instead."""
    first = vega.inline_libraries()
    assert "window.vegaEmbed" in first and counted == [1]
    vega.inline_libraries.cache_clear()             # as a new process
    assert vega.inline_libraries() == first and counted == [1]
    kept = list((tmp_path / "cache" / "flowscope" / vega.CACHE_FOLDER).glob("vega-*.js"))
    assert len(kept) == 1 and kept[0].stat().st_mode & 0o077 == 0


def test_a_cached_bundle_another_user_could_have_written_is_not_run(counted, tmp_path):
    vega.inline_libraries()
    (kept,) = (tmp_path / "cache" / "flowscope" / vega.CACHE_FOLDER).glob("vega-*.js")
    kept.write_text("window.__pwned = 1;", encoding="utf-8")
    kept.chmod(0o666)                               # anyone may have written it: made again, not read
    vega.inline_libraries.cache_clear()
    assert "__pwned" not in vega.inline_libraries() and counted == [1, 1]


def test_the_installed_vl_convert_has_pinned_cdn_files():
    """An upgrade of vl-convert-python (pyproject: `>=1.9`) fails here, not in a user's `--charts cdn`: add
    the new version's entry to `CDN_FILES`, printed by the command this message names."""
    installed = version("vl-convert-python")
    assert installed in vega.CDN_FILES, (
        f"vl-convert-python {installed} has no CDN_FILES entry in flowscope/report/vega.py: its `--charts cdn` "
        f"is refused. Add the entry that `{vega.REGENERATE}` prints (it asks the npm registry).")


def test_cdn_scripts_are_the_bundles_exact_versions():
    """The pinned files are the libraries the inlined bundle holds: Vega and vega-embed at the versions
    vl-convert names, Vega-Lite at the patch of the minor it names that the bundle itself carries."""
    scripts = vega.cdn_scripts()
    assert [s.package for s in scripts] == ["vega", "vega-lite", "vega-embed"]       # in load order
    assert scripts[0].version == vl_convert.get_vega_version()
    assert scripts[2].version == vl_convert.get_vega_embed_version()
    lite = scripts[1].version
    assert lite.rpartition(".")[0] == vl_convert.get_vegalite_versions()[-1]
    assert f'"{lite}"' in vega.inline_libraries()
    assert [s.url for s in scripts] == [f"{vega.CDN_ORIGIN}/npm/{s.package}@{s.version}/build/{s.package}.min.js"
                                        for s in scripts]


def test_an_unknown_vl_convert_is_refused_for_cdn_only(monkeypatch):
    """Its CDN files would load unpinned (no integrity, maybe a range): refused, naming the way out."""
    installed = version("vl-convert-python")
    monkeypatch.delitem(vega.CDN_FILES, installed)
    with pytest.raises(vega.CdnFilesUnknown, match=f"vl-convert-python {re.escape(installed)} are not known"
                                                   ".*--charts inline"):
        vega.cdn_scripts()
    with pytest.raises(vega.ChartsUnavailable, match="--charts inline"):
        vega.check_libraries("cdn")
    vega.check_libraries("inline")
    vega.check_libraries()
