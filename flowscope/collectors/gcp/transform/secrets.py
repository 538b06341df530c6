"""A workflow's source as stored: without the credentials its author typed into it.

The source (YAML or JSON text) is the workflow as written, and authors write credentials into it: an
API key in a URL's query, a bearer or Basic `Authorization` header, a password in a body. The
workflows table keeps the source for the dashboard's graph and for exports, so these are taken out
before it is stored (`stored_source`): `textsafety.SECRET_RULES` (the store's rules for error texts,
which AWS definitions get too) on the text, and the value of a key that only ever holds a credential,
quoted or not. An expression that fetches the value (`${sys.get_env("TOKEN")}`) is no credential and
stays. Every rule stops at a line's end or a quote: none can run from one value into another.
"""

from __future__ import annotations

import re

from flowscope.textsafety import CREDENTIAL_KEYS, REDACTED, without_secrets

_KEYS = "|".join(re.escape(k) for k in sorted(CREDENTIAL_KEYS, key=lambda k: (-len(k), k)))
_KEY_VALUE = re.compile(
    r"""(?im)((?:^|[\s{,])["']?(?:""" + _KEYS + r""")["']?[ \t]*:[ \t]*)"""
    r"""(?:"(?!\$\{)[^"\n]*"|'(?!\$\{)[^'\n]*'|(?![$"'\s])[^\n,}\]#]+)""")


def stored_source(source: str) -> str:
    """`source` with every credential written into it replaced by `REDACTED`."""
    return _KEY_VALUE.sub(_redacted_value, without_secrets(source))


def _redacted_value(match: re.Match[str]) -> str:
    value = match.group(0)[len(match.group(1)):]
    quote = value[0] if value[:1] in ("'", '"') else ""
    return f"{match.group(1)}{quote}{REDACTED}{quote}"
