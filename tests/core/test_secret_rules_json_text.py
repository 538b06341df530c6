"""`textsafety.SECRET_RULES` run over a whole JSON text (a Step Functions definition as the cloud wrote it, stored
compact) must stay inside one string: a user:password rule that read `https://docs","Result":"u:p@` as one URL
swallowed the `Result` key and left valid, silently wrong JSON; a query value that took the backslash of an
escaped quote (`sig=abc\\"`) left the quote bare and the JSON broken. Each rule runs in Python's `re` (one text)
and Arrow's RE2 (the store's columns): both are checked."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from flowscope.textsafety import SECRET_RULES, without_secrets


def _re2(text: str) -> str:
    col = pa.array([text])
    for pattern, replacement in SECRET_RULES:
        col = pc.replace_substring_regex(col, pattern=pattern, replacement=replacement)
    return str(col[0].as_py())


ENGINES = pytest.mark.parametrize("clean", [without_secrets, _re2], ids=["re", "re2"])

CASES = [
    # (compact JSON text, what each string must read after cleaning)
    ('{"Comment":"see https://docs","Result":"u:p@q"}',
     {"Comment": "see https://docs", "Result": "u:p@q"}),
    ('{"Comment":"see https://docs","Mirror":"https://deploy:hunter22@git.example/repo"}',
     {"Comment": "see https://docs", "Mirror": "https://REDACTED@git.example/repo"}),
    ('{"a":"ftp://x","b":"y","c":"z:w@h"}',
     {"a": "ftp://x", "b": "y", "c": "z:w@h"}),
    # a password written with a JSON escape (`ensure_ascii`) is still one password
    ('{"Mirror":"https://deploy:p\\u00e9ss@git.example/r","Next":"keep"}',
     {"Mirror": "https://REDACTED@git.example/r", "Next": "keep"}),
    ('{"Url":"https://h.example/x?sig=abc\\"def","Next":"keep"}',
     {"Url": "https://h.example/x?sig=REDACTED\"def", "Next": "keep"}),
    ('{"Url":"https://h.example/x?token=abc\\\\","Next":"keep"}',
     {"Url": "https://h.example/x?token=REDACTED", "Next": "keep"}),
    ('{"Url":"https://h.example/x?code=a\\/b&c=1","Next":"keep"}',
     {"Url": "https://h.example/x?code=REDACTED&c=1", "Next": "keep"}),
    ('{"Auth":"Bearer","Token":"abcdefghijkl"}',
     {"Auth": "Bearer", "Token": "abcdefghijkl"}),
    ('{"Auth":"Bearer abcdefghij\\"x","Next":"keep"}',
     {"Auth": "Bearer REDACTED\"x", "Next": "keep"}),
]


@ENGINES
@pytest.mark.parametrize(("text", "expected"), CASES, ids=[str(i) for i in range(len(CASES))])
def test_a_rule_over_compact_json_text_stays_inside_one_string(clean, text, expected):
    out = clean(text)
    value = json.loads(out)                  # still JSON
    assert value == expected                 # every key kept, each string cleaned on its own


@ENGINES
@pytest.mark.parametrize("text", [
    "https://svc:hunter2hunter2@proxy.example/",
    "via https://user:pr0xyp4ss@mgmt.example:8080/x",
    "git+ssh://deploy:p%22ss@git.example/repo",
])
def test_a_urls_user_password_is_still_taken_out(clean, text):
    out = clean(text)
    assert "REDACTED@" in out and "hunter2" not in out and "pr0xy" not in out and "p%22ss" not in out
