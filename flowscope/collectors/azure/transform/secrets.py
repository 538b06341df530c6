"""A Logic Apps definition as stored: without the credentials its author typed into it.

A definition is the workflow as written, and authors write credentials into it: another Logic App's
callback URL with its `sig` (whoever holds the URL can run that workflow), an Azure Functions `code`,
an `Authorization` or API-key header, an HTTP action's `authentication` password or client secret, a
SecureString parameter's default. The workflows table keeps the definition for the dashboard's graph
and for exports, so these are taken out before it is stored (`stored_definition`), string by string
(rewriting the JSON text could run a rule across two strings): `textsafety.SECRET_RULES` (the store's
rules for error texts, which the AWS definitions get too) on every string, and the values of the keys
that only ever hold a credential. An expression that only names where the value comes from
(`@parameters('apiKey')`, `@appsetting('Key')`) is no credential and stays.
"""

from __future__ import annotations

import re
from typing import Any

from flowscope.textsafety import CREDENTIAL_KEYS, REDACTED, without_secrets

SECURE_TYPES = frozenset({"securestring", "secureobject"})
"""Definition parameter types whose `defaultValue` is a secret."""
_REFERENCE = re.compile(r"^@\{?[A-Za-z]+\('[^']*'\)\}?$")
"""An expression that only names a parameter, app setting or variable: no credential in it."""


def stored_definition(definition: Any) -> Any:
    """`definition` (a JSON value) with every credential written into it replaced by `REDACTED`."""
    if isinstance(definition, dict):
        secure = str(definition.get("type", "")).lower() in SECURE_TYPES
        out: dict[Any, Any] = {}
        for key, value in definition.items():
            word = str(key).lower()
            if isinstance(value, str) and (word in CREDENTIAL_KEYS or (secure and word == "defaultvalue")):
                out[key] = value if _REFERENCE.match(value) else REDACTED
            elif secure and word == "defaultvalue" and value is not None:
                out[key] = REDACTED                                 # a SecureObject's default
            else:
                out[key] = stored_definition(value)
        return out
    if isinstance(definition, list):
        return [stored_definition(item) for item in definition]
    if isinstance(definition, str):
        return without_secrets(definition)
    return definition
