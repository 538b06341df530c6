"""The AWS collection scope id (`aws:<account>:<region>[#<8 hex of the name globs>]`) and what a state
machine ARN says of where it runs, for collectors and analyses alike.

The collector writes a scope id into every `collection_runs` row and the analysis reads the account and
region back out of it to tell which machines a run collected; each spelled the format itself, so a change
on one side would have silently matched no machine on the other. Analysis may not import collectors, so
the format lives here, below both (as `azure_ids` does for Logic Apps ids). Stored ids must not change:
the history of every scope is keyed by them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

PREFIX = "aws"
"""The cloud word that opens an AWS scope id (`model.Cloud.AWS`)."""


def globs_suffix(globs: Iterable[str]) -> str:
    """'#' and 8 hex digits of the sorted name globs (two entries of one account and region that collect
    different machines are two scopes), or '' without globs (every machine of the region)."""
    ordered = sorted(globs)
    if not ordered:
        return ""
    return "#" + hashlib.sha256("\n".join(ordered).encode()).hexdigest()[:8]


def scope_id(account: str, region: str, suffix: str = "") -> str:
    """`aws:<account>:<region><suffix>`; `suffix` is `globs_suffix`'s. `account` is the account id once
    known, else what stands for it until a sync learns it (a role's account, a profile, 'default')."""
    return f"{PREFIX}:{account}:{region}{suffix}"


def scope_account_region(scope: str) -> tuple[str, str] | None:
    """(account, region) of an AWS scope id, its globs' suffix ignored; None for another cloud's scope or
    an id not of that form (never a guess: a wrong pair would attribute a run to other machines)."""
    parts = scope.split("#", 1)[0].split(":")
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def scope_without_account(scope: str) -> str | None:
    """`<region>[#globs]` of an AWS scope id: what stays when the account is not known yet (a scope
    without role_arn names no account until it syncs, then matches a row of any account); None for
    another cloud's scope or an id not of that form."""
    if scope_account_region(scope) is None:
        return None
    return scope.split(":", 2)[2]


def arn_account_region(arn: str) -> tuple[str, str] | None:
    """(account, region) of an ARN (`arn:<partition>:<service>:<region>:<account>:...`); None for
    anything else (an Azure or GCP workflow id, a bare name)."""
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn":
        return None
    return parts[4], parts[3]
