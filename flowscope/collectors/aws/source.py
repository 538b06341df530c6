"""An AWS `[[sources]]` entry: its keys, their checks, and the scopes it names (`AwsScope`: one account
and region each), apart from `collector.py`, which collects a scope (as for Azure and GCP).
"""

from __future__ import annotations

import difflib
import functools
import os
import re
import shlex
import sys
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from flowscope import aws_ids
from flowscope.collectors import source_config as cfg
from flowscope.collectors.source_config import SourceConfigError
from flowscope.collectors.throttle import Quota

SOURCE_KEYS = {
    "cloud": "aws",
    "name": "a label for this source (optional)",
    "regions": "list of region names the installed botocore knows (required)",
    "profile": "AWS profile name (optional; default credential chain otherwise)",
    "role_arn": "role ARN, or a list of them (one per account) to assume (optional)",
    "external_id": "external id for assuming role_arn (optional)",
    "endpoint_url": "endpoint for every service (moto, LocalStack; http on a loopback host only) (optional)",
    "state_machines": "list of state machine name globs (optional)",
    "lag": "re-list window before the last watermark, e.g. '15m' (optional)",
    "concurrency": "threads per scope for history fetches (optional, default 8)",
    "max_attempts": "botocore attempts per call, retries included (optional, default 8)",
    "read_timeout": "seconds (optional, default 30)",
    "metrics": "collect CloudWatch metrics (optional, default true)",
    "standard_path": "'auto' | 'history' | 'logs' for Standard machines (optional, default auto)",
    "write_every": "executions per store commit (optional, default 250)",
    "quotas": "per-API token buckets, e.g. {GetExecutionHistory = [400, 20]} (optional)",
}


def validate(source: Mapping[str, Any]) -> None:
    """Raise SourceConfigError naming the first unknown or ill-typed key."""
    cfg.check_common(source, "aws", SOURCE_KEYS)
    regions = source.get("regions")
    if not isinstance(regions, list) or not regions or not all(isinstance(r, str) and r for r in regions):
        raise SourceConfigError("aws source: regions must be a non-empty list of region names, "
                                'e.g. regions = ["us-east-1"]')
    _once(regions, "regions")
    cfg.strings(source, ("profile", "external_id", "endpoint_url"), "aws")
    if "endpoint_url" in source:
        _check_endpoint(source["endpoint_url"])
    roles = source.get("role_arn")
    if roles is not None:
        roles = [roles] if isinstance(roles, str) else roles
        if not isinstance(roles, list) or not roles or not all(isinstance(r, str) for r in roles):
            raise SourceConfigError("aws source: role_arn must be a role ARN or a non-empty list of role ARNs")
        for role in roles:
            if not _ROLE_ARN.match(role):
                raise SourceConfigError(f"aws source: role_arn {role!r} is not a role ARN "
                                        "(arn:aws:iam::<12-digit account>:role/<name>)")
        _once(roles, "role_arn")
    cfg.string_list(source, "state_machines", "aws", "state machine name globs")  # [] was every machine
    cfg.positive_seconds(source, "read_timeout", "aws")
    if source.get("standard_path", "auto") not in ("auto", "history", "logs"):
        raise SourceConfigError("aws source: standard_path must be 'auto', 'history' or 'logs'")
    cfg.quotas(source.get("quotas"), "aws")
    _check_regions(regions)


def _check_endpoint(url: str) -> None:
    """`endpoint_url` by the endpoints' one rule (`netaddr.endpoint_fault`): `127.0.0.1:5057` failed the scope at
    its first call (exit 3 for a mistake in the file), and `http://example.com` sent signed requests, a session
    token with them, in the clear."""
    from flowscope.netaddr import endpoint_fault

    if fault := endpoint_fault(url):
        raise SourceConfigError(f"aws source: endpoint_url {fault}")


def _check_regions(regions: list[str]) -> None:
    """Every region one the installed botocore knows, before any call: `us-esat-1` went to moto, which answered
    an HTML 500 page (exit 3), or to real AWS, a DNS error deep in botocore. Checked with an `endpoint_url` too:
    moto (and LocalStack by default) serve only the regions botocore lists, and a private endpoint of real AWS
    signs for a real region; a mock's region is only a label, so a known one costs nothing."""
    known = known_regions()
    if known is None:
        return
    version, names = known
    for region in regions:
        if fault := region_fault(region, names, version):
            raise SourceConfigError(f"aws source: regions {fault}; a region newer than this botocore needs an "
                                    f"upgrade: {shlex.join([sys.executable, '-m', 'pip', 'install', '-U', 'boto3'])}")


def region_fault(region: str, known: Collection[str], botocore_version: str) -> str | None:
    """What is wrong with `region` against the `known` region names (None: it is one), the closest names
    suggested (difflib's, a name of the same letters first: a typo is most often two letters swapped). The
    installed botocore's version is named: its list may predate a truly new region."""
    if region in known:
        return None
    wanted = region.strip().lower()
    close = difflib.get_close_matches(wanted, sorted(known), n=len(known), cutoff=0.6)
    close = sorted(close, key=lambda name: sorted(name) != sorted(wanted))[:3]   # swapped letters first (us-esat-1)
    hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
    return f"names {region!r}, a region the installed botocore {botocore_version} does not know{hint}"


@functools.cache
def known_regions() -> tuple[str, frozenset[str]] | None:
    """(botocore's version, every region of every partition in its endpoint data, Step Functions' own endpoints
    included), or None without botocore (then sync says the aws extra is missing) or when the data lists none.

    Read from the data files alone, not a botocore Session: a Session reads ~/.aws/config, and a missing
    profile or a broken file would fail this check with an unrelated error. `AWS_DATA_PATH` is honoured as
    botocore honours it, so data added there counts."""
    try:
        import botocore
        from botocore.loaders import create_loader
        from botocore.regions import EndpointResolver
    except ImportError:
        return None
    data = create_loader(os.environ.get("AWS_DATA_PATH") or None).load_data("endpoints")
    resolver = EndpointResolver(data)
    names = {region for partition in data.get("partitions", []) for region in partition.get("regions", {})}
    for partition in resolver.get_available_partitions():
        names.update(resolver.get_available_endpoints("states", partition))   # Step Functions' endpoint prefix
    return (str(botocore.__version__), frozenset(names)) if names else None


_ROLE_ARN = re.compile(r"arn:[a-z-]+:iam::\d{12}:role/.+")
"""A role ARN: its account names the scope (`AwsScope.scope_id`), so one without fails every sync."""


def _once(values: list[str], key: str) -> None:
    """A region or role listed twice made two scopes of one id, collected at once into the same rows."""
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise SourceConfigError(f"aws source: {key} names {value!r} twice")
        seen.add(value)


@dataclass(frozen=True)
class AwsScope(cfg.ScopeSettings):
    """One (account, region) of one source entry."""

    region: str
    profile: str | None = None
    role_arn: str | None = None
    external_id: str | None = None
    endpoint_url: str | None = None
    standard_path: str = "auto"
    quotas: tuple[tuple[str, Quota], ...] = field(default_factory=tuple)

    def scope_id(self, account: str | None) -> str:
        """`aws_ids.scope_id` of the account once known, else of the role's account, the profile or
        'default' (the format the analysis reads back)."""
        who = account or (self.role_arn.split(":")[4] if self.role_arn else None) or self.profile or "default"
        return aws_ids.scope_id(who, self.region, self._suffix())

    def _suffix(self) -> str:
        return aws_ids.globs_suffix(self.globs)

    def source_key(self) -> str:
        """What identifies this scope's configuration whatever its account (`model.SOURCE_KEY`):
        profile, role, region, endpoint and name globs."""
        return (f"aws:profile={self.profile or ''}:role={self.role_arn or ''}:{self.region}{self._suffix()}"
                f"@{self.endpoint_url or ''}")


def scopes(source: Mapping[str, Any]) -> list[AwsScope]:
    validate(source)
    roles = source.get("role_arn")
    role_list: list[str | None] = ([roles] if isinstance(roles, str) else list(roles)) if roles else [None]
    common = dict(
        profile=source.get("profile"), external_id=source.get("external_id"),
        endpoint_url=source.get("endpoint_url"), standard_path=source.get("standard_path", "auto"),
        quotas=tuple(sorted(cfg.quotas(source.get("quotas"), "aws").items())),
        **cfg.scope_settings(source, "aws", globs_key="state_machines", max_attempts=8),
    )
    return [AwsScope(region=region, role_arn=role, **common) for role in role_list for region in source["regions"]]
