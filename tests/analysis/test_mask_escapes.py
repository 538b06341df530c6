"""Error templates lose terminal escape sequences before numbers are masked: masked first, a colour's
`\\x1b[31m` became `\\x1b[<n>m`, the shown text's escape stripping took `\\x1b[<n` as a sequence and left
`>m`, and the dashboard's evidence read "boom >mred" where the run page read "boom red". In Python
(`mask_text`) and in the engine (`error_template`, here DuckDB) alike; texts without an escape character
keep the templates they always had, so errors group as before. Escapes written as text (a Lambda's JSON
errorMessage holds `\\u001b[31m`) go too: masked digit by digit, a message in colour had its own template; an OSC or
DCS written so goes whole, as the real one does (its introducer alone went, and "]8;;https://..." stayed)."""

from __future__ import annotations

import ibis
import pytest

from flowscope.analysis.base import error_template, mask_text
from flowscope.textsafety import markdown_text, terminal_text

ESCAPED = [
    ("boom \x1b[31mred", "boom red"),                                           # CSI colour
    ("boom \x1b[1;31mred\x1b[0m after 3 tries", "boom red after <n> tries"),   # colour and reset
    ("\x1b[2J\x1b[10;20Hcleared 9", "cleared <n>"),                            # clear screen, cursor move
    ("\x1b]0;x\x07boom 42", "boom <n>"),                                       # OSC title, BEL
    ("\x1b]0;title 7\x1b\\done", "done"),                                      # OSC title, ST
    ("\x1b]8;;http://e/1\x1b\\link\x1b]8;;\x1b\\ 5", "link <n>"),              # OSC 8 hyperlink
    ("\x1bP1$r0m\x1b\\ok 4", "ok <n>"),                                       # DCS
    ("a\x1bMb 1", "ab <n>"),                                                   # two-character escape
    ("reset\x1b(B\x1b[m done 3", "reset done <n>"),                            # tput sgr0: ESC ( B, then CSI m
    ("a\x1b7b\x1b8c 4", "abc <n>"),                                             # save and restore the cursor
    ("\x1bcreset 5", "reset <n>"),                                              # full reset (ESC c)
    ("\x1b#8line 6", "line <n>"),                                               # ESC # 8
    ("\x9b31mred 2", "red <n>"),                                               # 8-bit CSI
    ("boom \x1b 42", "boom  <n>"),                                             # lone ESC
    ("boom 42\x1b", "boom <n>"),                                               # ESC at the end
    ("boom \x1b[31", "boom <n>"),                                             # a CSI cut short: its ESC [ goes too
    ('{"errorMessage": "card 4 \x1b[31mdeclined", "errorType": "E"}', "card <n> declined"),
]

WRITTEN = [
    (r"\u001b[31mTimeout\u001b[0m after 30s", "Timeout after <n>s"),                # JSON's ESC, colour and reset
    (r"\u001B[1;31mred\u001B[0m 3", "red <n>"),                                     # upper-case hex
    (r"\x1b[31mred\x1B[0m 2", "red <n>"),                                           # as a log line prints it
    (r"\033[31mred\033[0m 2", "red <n>"),                                           # octal
    (r"\x1b(Breset\x1b[m done 3", "reset done <n>"),                                # tput sgr0
    (r"a\u001b7b\u001b8c 4", "abc <n>"),                                            # save and restore the cursor
    (r"\u009b31mred 2", "red <n>"),                                                 # 8-bit CSI
    (r"\x9B0mred\233m 2", "red <n>"),
    (r"boom \u001b 42", "boom  <n>"),                                               # lone ESC
    (r"boom \u001b[31", "boom <n>"),                                                # a CSI cut short: its ESC [ goes
    (r"boom 42\u009b", "boom <n>"),                                                 # CSI at the end
    ('{"errorMessage": "\\u001b[31mTimeout\\u001b[0m after 30s", "errorType": "E"}', "Timeout after <n>s"),
    ('{"errorMessage": "\\\\x1b[31mcard 4 declined", "errorType": "E"}', "card <n> declined"),  # "\\x1b" in JSON
    (r"\e[31mred\e[0m 2", "red <n>"),                                               # bash's ESC
    (r"\33[1;31mred\33[0m 2", "red <n>"),                                           # octal without its 0
    (r"\u001b]8;;https://x.example/7\u001b\\label\u001b]8;;\u001b\\ 5", "label <n>"),  # OSC 8, ST as in JSON
    (r"\x1b]8;;https://x.example/7\x1b\label\x1b]8;;\x1b\ 5", "label <n>"),         # OSC 8, ST as printed
    (r"\x1b]0;title 7\x07done 3", "done <n>"),                                      # OSC title, BEL
    (r"\u001b]8;;https://x.example/7\u0007label\u001b]8;;\u0007 5", "label <n>"),   # OSC 8, BEL
    (r"\u001b]0;a 1\u001b[31mred 2", "red <n>"),                                    # an OSC cut short by a CSI
    (r"\u001b]0;cut short 5", ""),                                                  # an OSC to the end
    (r"\u001bP1$r0m\u001b\\ok 4", "ok <n>"),                                        # DCS
    (r"\x1b_apc 1\x1b\ok 4", "ok <n>"),                                             # APC
    ('{"errorMessage": "\\u001b]8;;https://x.example/4\\u001b\\\\card 4\\u001b]8;;\\u001b\\\\ declined"}',
     "card <n> declined"),
]
"""Escape sequences written as text (a Lambda's JSON errorMessage, a printed log line): taken out as the real ones
are; masked digit by digit they left "\\u<n>b[<n>m" in the template."""

BACKSLASHES = [
    (r"C:\temp\new file 5", r"C:\temp\new file <n>"),
    (r'say \"hi\" \n then \t 2', r'say \"hi\" \n then \t <n>'),
    (r"\u001c and \x1c 4", r"\u<n>c and \x<n>c <n>"),          # other characters written as text: masked as before
    (r"a \\ b \[0m\] 1", r"a \\ b \[<n>m\] <n>"),             # a bracket after a backslash is no escape
    (r"C:\logs\0331.txt 2", r"C:\logs\<n>.txt <n>"),           # an octal-looking path segment is no ESC
    (r"C:\e\file 3", r"C:\e\file <n>"),                        # nor a bash-looking one
    (r"C:\33\e]x 1", r"C:\<n>\e]x <n>"),                       # bash's and octal ESC: only before a CSI's [
    (r"\x1c]0;x 1", r"\x<n>c]<n>;x <n>"),                      # no ESC, no OSC
]
"""Backslashes before anything else than an escape: the templates they always had (checked against the masking
before written escapes were taken out)."""

ORDINARY = [
    ("card 42 declined for order 3f2a9c1e-1111-2222-3333-444455550001", "card <n> declined for order <uuid>"),
    ("Timeout at 2026-01-02T03:04:05Z after 30.5 s", "Timeout at <ts> after <n> s"),
    ("arn:aws:lambda:us-east-1:123456789012:function:pay failed", "<arn> failed"),
    ("line 1\nline 2\tend", "line <n>\nline <n>\tend"),
    ('{"errorMessage": "boom 5", "errorType": "E"}', "boom <n>"),
    ("id deadbeef1 gone", "id <hex> gone"),
    ("bell \x07 rang 3 times", "bell \x07 rang <n> times"),
    ("x" * 250 + " 7", "x" * 200),
]
"""Templates as the masking gave them before escape sequences were taken out (checked against it)."""

PREFIXED_HEX = [
    ("fault at 0xdeadbeef", "fault at <hex>"),       # letters only after 0x: read "<n>xdeadbeef"
    ("fault at 0x1234 and 0X7FFF", "fault at <hex> and <hex>"),   # digits only: read "<n>x<n>"
    ("fault at 0x1f3a", "fault at <hex>"),           # mixed: as before
]
"""Hex ids written with their 0x: one mask for the whole id, whatever its digits."""


@pytest.mark.parametrize(("text", "template"), ESCAPED + WRITTEN + BACKSLASHES + ORDINARY + PREFIXED_HEX)
def test_mask_text(text, template):
    assert mask_text(text) == template


@pytest.mark.parametrize(("text", "template"), ESCAPED)
def test_the_shown_template_reads_as_the_run_page_reads(text, template):
    """Nothing is left for the shown text's stripping to take, so it shows the template as made."""
    assert terminal_text(mask_text(text)) == mask_text(text)
    assert ">m" not in markdown_text(mask_text(text)).replace("\\", "")


def test_error_template_in_the_engine_is_mask_text():
    cases = ESCAPED + WRITTEN + BACKSLASHES + ORDINARY + PREFIXED_HEX
    table = ibis.memtable({"i": list(range(len(cases))), "cause": [text for text, _ in cases]})
    got = ibis.duckdb.connect().execute(table.select("i", template=error_template(table.cause)).order_by("i"))
    assert got["template"].tolist() == [template for _, template in cases]


def test_same_error_with_and_without_colour_is_one_template():
    assert mask_text("card 12 declined") == mask_text("card \x1b[31m13\x1b[0m declined") == "card <n> declined"


def test_same_error_with_and_without_a_colour_written_as_text_is_one_template():
    """A Lambda's message in colour (its JSON cause writes the ESC as `\\u001b`) and the same message without."""
    coloured = '{"errorMessage": "\\u001b[31mTimeout\\u001b[0m after 30s", "errorType": "States.Timeout"}'
    assert mask_text(coloured) == mask_text(r"\u001b[31mTimeout\u001b[0m after 31s") == mask_text("Timeout after 30s")


@pytest.mark.parametrize(("written", "real"), [
    (r"\e[31mred\e[0m 2", "\x1b[31mred\x1b[0m 2"),
    (r"\33[31mred 2", "\x1b[31mred 2"),
    (r"\u001b]8;;https://x.example\u001b\\label\u001b]8;;\u001b\\ 5",
     "\x1b]8;;https://x.example\x1b\\label\x1b]8;;\x1b\\ 5"),
    (r"\x1b]8;;https://x.example\x07label\x1b]8;;\x07 5", "\x1b]8;;https://x.example\x07label\x1b]8;;\x07 5"),
    (r"\u001bP1$r0m\u001b\\ok 4", "\x1bP1$r0m\x1b\\ok 4"),
])
def test_an_escape_written_as_text_makes_the_template_the_real_one_makes(written, real):
    """An OSC or DCS written as text went as the real one does, not its introducer alone ("]8;;https://...")."""
    assert mask_text(written) == mask_text(real)


@pytest.mark.slow  # a local Spark (a JVM)
def test_error_template_on_spark_is_mask_text():
    """Spark reads the pattern with Java's regex: the same templates."""
    import shutil

    pytest.importorskip("pyspark", reason="pyspark is not installed (pip install 'flowscope[spark]')")
    if shutil.which("java") is None:
        pytest.skip("no Java runtime on PATH: PySpark needs Java 17")
    import pandas as pd

    from flowscope.analysis.engines import spark_session

    cases = ESCAPED + WRITTEN + BACKSLASHES + ORDINARY + PREFIXED_HEX
    session = spark_session(master="local[1]")
    frame = session.createDataFrame(pd.DataFrame({"i": list(range(len(cases))), "cause": [t for t, _ in cases]}))
    con = ibis.pyspark.connect(session)
    frame.createOrReplaceTempView("mask_escapes_causes")
    table = con.table("mask_escapes_causes")
    got = con.execute(table.select("i", template=error_template(table.cause)).order_by("i"))
    assert got["template"].tolist() == [template for _, template in cases]


@pytest.mark.parametrize(("text", "shown"), [
    ("reset\x1b(B\x1b[m done", "reset done"),       # tput sgr0 left "(B" on the terminal and in the dashboard
    ("a\x1b7b\x1b8c", "abc"),                       # a saved and restored cursor left "7" and "8"
    ("\x1bcreset", "reset"),
    ("boom \x1b 42", "boom  42"),                   # ESC and a space: the text after it stays
])
def test_the_shown_text_loses_every_escape_form(text, shown):
    assert terminal_text(text) == shown
