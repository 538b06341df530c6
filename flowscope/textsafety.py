"""Untrusted text from the clouds made safe for each place it is shown.

Workflow, step and error names, causes and ids come from other people's accounts. Shown as they
are, they can run as a spreadsheet formula (`=HYPERLINK(...)` in a CSV opened in Excel), move the
cursor or retitle a terminal (ANSI / OSC escapes), or be read as Rich markup (`[bold]`). Every
surface goes through these functions; HTML escaping belongs to the HTML writers (Jinja autoescape,
`html.escape`). In Markdown (the reports' and the dashboard's) such text can make a link, load an
image from anywhere (`![](https://tracker/...)`), emphasise or hide itself, or, in Streamlit's
Markdown, draw LaTeX (`$...$`), icons and colours (`:red[...]`, `:material/...:`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
"""Cell starts that spreadsheets evaluate (OWASP CSV injection), tab and carriage return included."""

ESCAPE_SEQUENCES = re.compile(
    r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"      # OSC ... BEL or ST (titles, hyperlinks)
    r"|\x1b[P^_X][^\x1b]*(?:\x1b\\)?"          # DCS / PM / APC / SOS strings
    r"|\x1b\[[0-?]*[ -/]*[@-~]"                 # CSI sequences (colours, cursor moves)
    r"|\x1b[!-/]*[0-~]"                        # every other escape: ESC ( B, ESC 7, ESC M, ESC c
    r"|\x9b[0-?]*[ -/]*[@-~]"                   # 8-bit CSI
)
"""Terminal escape sequences (OSC, DCS / PM / APC / SOS, CSI, 8-bit CSI, and ESC with its intermediates and final
byte: ECMA-35's nF (but for a space after ESC, which is text more often than not), Fp, Fe and Fs forms; only Fe
was read, so `tput sgr0`'s "\\x1b(B" left "(B" and a saved cursor's "\\x1b7" left "7" in the text). Read outside
this module too: `ESCAPE_SEQUENCES.pattern` in an engine's regex (DuckDB's RE2 and Spark's Java read it as Python
does). Error templates take them out before masking numbers (`analysis.base.error_template`): a colour's "31"
masked first left "\\x1b[<n>m", which this pattern no longer read whole, so "boom >mred" was shown for "boom red"."""

_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
"""C0 and C1 controls, and the explicit bidirectional marks, embeddings, overrides and isolates
("Trojan Source"): a name holding U+202E shows its end reversed, so `invoice\u202egnp.exe` reads as
`invoiceexe.png`. Arabic and Hebrew names keep their natural direction without them."""


_MARKDOWN_PUNCT = re.compile(r"([\\`*_{}\[\]()#+\-.!|~@:$])")

_WORD_JOINER = "\u2060"
_AUTOLINK_LITERALS = re.compile(r"(?i)(?=://)|(?<=www)(?=\.)|(?=@)")
"""Where `markdown_text` puts a `_WORD_JOINER`: before every "://", between "www" and a dot, before every "@"
(GFM's autolink literals: `http://`, `https://`, `www.`, e-mail addresses, `mailto:` and `xmpp:` ones)."""


SECRET_PARAMS = ("sig", "signature", "code", "token", "access_token", "refresh_token", "id_token", "key",
                 "apikey", "api_key", "api-key", "password", "pwd", "secret", "client_secret", "auth",
                 "authorization", "x-amz-signature", "x-amz-security-token", "x-amz-credential",
                 "x-goog-signature", "x-goog-credential")
"""URL query parameters that carry a credential: a Logic Apps callback URL's `sig` (whoever holds the URL
can run the workflow), an Azure Functions `code`, presigned S3 / GCS URLs, tokens and keys."""

REDACTED = "REDACTED"

CREDENTIAL_KEYS = frozenset({
    "authorization", "proxy-authorization", "x-functions-key", "ocp-apim-subscription-key", "api-key", "apikey",
    "x-api-key", "password", "secret", "clientsecret", "client_secret", "pfx", "sharedaccesskey",
    "sharedaccesssignature", "accesskey", "access_token", "refresh_token",
})
"""Keys (any case) whose literal value is a credential wherever an author writes one into a workflow's
definition or source: headers, an `authentication` block's or a body's fields. The Logic Apps definitions
(`azure.transform.secrets`) and the Cloud Workflows sources (`gcp.transform.secrets`) read this one list."""

SECRET_RULES: tuple[tuple[str, str], ...] = (
    (r"(?i)([?&](?:" + "|".join(re.escape(p) for p in SECRET_PARAMS) + r")=)(?:[^&#\s\"'<>\\]|\\[^&#\s\"'<>])+",
     r"\1" + REDACTED),
    (r"(?i)(\bbearer\s+)[a-z0-9._~+/=-]{8,}", r"\1" + REDACTED),
    (r"(?i)(\b[a-z][a-z0-9+.-]*://)(?:[^/\s:@\"\\]|\\[^/\s:@\"])+:(?:[^/\s@\"\\]|\\[^/\s@\"])+@",
     r"\1" + REDACTED + "@"),
)
"""(pattern, replacement) pairs that take credentials out of a text a cloud wrote: a query parameter's
value, a bearer token, a URL's user:password. Applied to the store's error texts on every write, in bulk
with Arrow's RE2 (`store.validate.without_secrets`); Python's `re` reads the same syntax. They also run over
whole JSON texts (an AWS definition as the cloud wrote it, often compact), so no match may cross a `"` nor
split an escape: `https://docs","Result":"u:p@` read as one URL's user:password dropped the `Result` key,
and `sig=abc\\` taken from `sig=abc\\"` left the quote bare (RFC 3986 allows neither `"` nor `\\` in a
user, a password or a query value unencoded). A backslash is read with the character after it, so a value
written with JSON escapes (`p\\u00e9ss`) is still matched whole."""


def without_secrets(text: str) -> str:
    """`text` with every credential `SECRET_RULES` knows replaced by `REDACTED`: the one loop over the rules for
    a single text (a definition, a source's string, a receiver's refusal; `re` caches the compiled patterns).
    The store applies the same rules to whole columns with Arrow's RE2 (`store.validate.without_secrets`)."""
    for pattern, replacement in SECRET_RULES:
        text = re.sub(pattern, replacement, text)
    return text


def json_text_without_secrets(text: str) -> str:
    """A JSON text with `SECRET_RULES` applied to each of its strings (keys included), decoded: a credential
    written with JSON escapes (`\\u0040` for `@`) is found, and the text is written again with correct
    escapes. A text that is no JSON (or nests deeper than the parser goes) is cleaned as one text."""
    try:
        value = json.loads(text)
        cleaned = json_without_secrets(value)
    except (ValueError, RecursionError):
        return without_secrets(text)
    return text if cleaned == value else json.dumps(cleaned, ensure_ascii=False)


def json_without_secrets(value: Any) -> Any:
    """A JSON value (dicts, lists, strings, numbers) with `SECRET_RULES` applied to every string in it."""
    return _each_string(value, without_secrets)


def _each_string(value: Any, clean: Callable[[str], str]) -> Any:
    """A JSON-like value (dicts, lists, tuples, strings, numbers) with `clean` applied to every string in it,
    keys included; lists and tuples come back as lists, anything else as it is."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {_each_string(k, clean): _each_string(v, clean) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_each_string(v, clean) for v in value]
    return value


def markdown_text(value: Any) -> str:
    """Text as literal Markdown (CommonMark and Streamlit's): HTML's special characters as entities,
    line breaks as spaces, every character Markdown could read as syntax backslash-escaped, and no bare
    address GFM would make a link of.

    GFM's autolink literals (Streamlit's react-markdown with remark-gfm, GitHub's Markdown) are found in
    the parsed text, after the backslash escapes are gone: `http\\://evil\\.example`, `www\\.evil\\.example`
    and `a\\@evil\\.example` were live links on the dashboard. One rule takes them all: an invisible
    U+2060 WORD JOINER before every "://" (any scheme, any case: `http<U+2060>://`), between "www" and a
    dot (`www<U+2060>.`) and before every "@" (`a<U+2060>@b`, which breaks `mailto:` and `xmpp:` addresses
    too). Each literal GFM knows needs those characters side by side (`https?://`, `www.`, `[-.+\\w]+@`),
    so no renderer's reading of the characters around it (a word boundary, a domain with a dot) matters.
    The joiner (not a zero width space) draws nothing and allows no line break, so the text reads and
    wraps as written; only a copy of it holds the joiner. Text with none of those forms is unchanged."""
    if value is None:
        return ""
    text = _without_escapes(value if isinstance(value, str) else str(value), keep="\n\r\t")
    text = text.replace("&", "&amp;").replace("<", "&lt;")
    text = re.sub(r"[\r\n\t]+", " ", text.replace(">", "&gt;"))
    text = _AUTOLINK_LITERALS.sub(_WORD_JOINER, text)
    return _MARKDOWN_PUNCT.sub(r"\\\1", text)


def chart_text(value: Any) -> str:
    """Text a Vega-Lite chart shows (titles, labels, legends, tooltips): one line, without escape sequences
    or control characters. Vega draws text as text (SVG or canvas) and its tooltips escape HTML, so `<`
    and `&` stay what they are."""
    if value is None:
        return ""
    text = _without_escapes(value if isinstance(value, str) else str(value), keep="\n\r\t")
    return re.sub(r"[\r\n\t]+", " ", text)


def neutralise_formula(value: Any) -> Any:
    """A text cell a spreadsheet would evaluate gets a leading apostrophe, and loses the escape
    sequences and control characters a terminal would run (a CSV printed by `analyze --format csv`)
    and Excel refuses (openpyxl raised on them, leaving half a workbook); other values pass."""
    if not isinstance(value, str):
        return value
    value = _without_escapes(value, keep="\n\t")
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def _without_escapes(text: str, keep: str) -> str:
    """`text` without terminal escape sequences, and without control characters except those in `keep`."""
    if text.isprintable():
        return text          # the common case: nothing to look for
    text = ESCAPE_SEQUENCES.sub("", text)
    return "".join(ch for ch in text if ch in keep or not _CONTROLS.match(ch))


def data_text(value: Any) -> Any:
    """Cloud text sent as data (the generic webhook's JSON): as written, markup included (the receiver escapes
    for wherever it shows it), but without terminal escapes and control characters other than line breaks and
    tabs, which no name or error legitimately holds and which a relay printing the field to a terminal or a chat
    would act on (a `\x1b]8;` hyperlink, `\x1b[2J`, a U+202E reversing the end of a name). Lists and mappings
    are cleaned through; anything else is returned as it is."""
    return _each_string(value, lambda text: _without_escapes(text, keep="\n\t"))


def csv_safe_frame(frame: "pd.DataFrame") -> "pd.DataFrame":
    """A copy whose text cells (and column names) cannot run as formulas in Excel, Sheets or Calc, nor
    as escape sequences on a terminal (`neutralise_formula`).

    Numbers stay numbers: only str cells are touched, so a negative dollar figure is not quoted. Text is
    text whatever holds it: object, pandas' and Arrow's strings (large ones too) and categoricals, whose
    "=1+1" went out as written.
    """
    import pandas as pd

    out = frame.copy()
    for column in out.columns:
        dtype = out[column].dtype
        types = pd.api.types
        if types.is_object_dtype(dtype) or types.is_string_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype):
            out[column] = out[column].astype(object).map(neutralise_formula).astype(object)
    out.columns = [neutralise_formula(str(c)) for c in out.columns]
    return out


def terminal_text(value: Any) -> str:
    """Text safe to print on a terminal: escape sequences and control characters removed.

    Newlines and tabs become spaces (a name never spans lines in a table). Returned as plain text:
    callers print it with markup off (or as a `rich.text.Text`), so `[bold]` stays literal.
    """
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    text = ESCAPE_SEQUENCES.sub("", text)
    text = text.replace("\n", " ").replace("\t", " ")
    return _CONTROLS.sub("", text)


def one_line(value: Any) -> str:
    """`terminal_text` with its runs of white space made one space: cloud text as one line of a chat
    message, a mail or an error line (every notification channel and a refusal's reason read it so)."""
    return " ".join(terminal_text(value).split())
