"""An Azure `[[sources]]` entry: its keys, their checks, and the scope it names (`AzureScope`).

Apart from `collector.py` (which collects a scope) so the steps of a collection (`workflows.py`,
`logs_path.py`, ...) can name the scope's type without importing the module that imports them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flowscope.collectors import source_config as cfg
from flowscope.collectors.source_config import SourceConfigError
from flowscope.collectors.throttle import Quota
from flowscope.model import C

SOURCE_KEYS = {
    "cloud": "azure",
    "name": "a label for this source (optional)",
    "subscription_id": "the subscription to collect (required)",
    "resource_groups": "list of resource group names (optional; default: the whole subscription)",
    "workflows": "list of workflow name globs (optional)",
    "workspace_id": "Log Analytics workspace id (optional): the bulk path for workflows without loops",
    "arm_endpoint": "management endpoint (optional, default https://management.azure.com; http only on loopback)",
    "logs_endpoint": "Log Analytics endpoint (optional, default https://api.loganalytics.io; http only on loopback)",
    "metrics_endpoint": "Azure Monitor metrics batch endpoint, '{region}' standing for each workflow's region, "
                        "e.g. https://{region}.metrics.monitor.azure.com (optional; default: the ARM metrics API)",
    "lag": "re-list window before the last watermark, e.g. '15m' (optional)",
    "concurrency": "threads per scope for run details (optional, default 8)",
    "max_attempts": "HTTP attempts per call, retries included (optional, default 8)",
    "read_timeout": "seconds (optional, default 30)",
    "write_every": "runs per store commit (optional, default 250)",
    "metrics": "collect Azure Monitor metrics through the ARM metrics API (optional, default true)",
    "request_histories": "read retried actions' request histories for each try's own times (optional, default "
                         "false: the permission also exposes request headers)",
    "quota": "ARM read bucket [burst, refill_per_second] (optional, default [250, 25])",
}
_SUBSCRIPTION = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")
"""A subscription id is a GUID: its name ("Pay-As-You-Go") passed and failed each sync at its first call."""
_RESOURCE_GROUP = re.compile(r"^[-\w.()]{1,90}$")
QUOTA_EXAMPLE = "[250, 25]"


def validate(source: Mapping[str, Any]) -> None:
    """Raise SourceConfigError naming the first unknown or ill-typed key."""
    from flowscope.collectors.azure.clients import AzureConfigError, check_endpoint

    cfg.check_common(source, "azure", SOURCE_KEYS)
    sub = source.get("subscription_id")
    if not isinstance(sub, str) or not _SUBSCRIPTION.match(sub):
        raise SourceConfigError('azure source: subscription_id must be a subscription id (a GUID, not the '
                                "subscription's name: az account show --query id), e.g. "
                                'subscription_id = "00000000-0000-0000-0000-000000000000"')
    cfg.string_list(source, "resource_groups", "azure", "resource group names", pattern=_RESOURCE_GROUP)
    cfg.string_list(source, "workflows", "azure", "workflow name globs")
    cfg.strings(source, ("workspace_id",), "azure")
    for key in ("arm_endpoint", "logs_endpoint", "metrics_endpoint"):
        if key in source:
            try:
                check_endpoint(source[key], key)
            except AzureConfigError as exc:
                raise SourceConfigError(str(exc)) from None
    cfg.positive_seconds(source, "read_timeout", "azure")
    cfg.flags(source, ("request_histories",), "azure")
    cfg.quota(source.get("quota"), "azure", QUOTA_EXAMPLE)


@dataclass(frozen=True)
class AzureScope(cfg.ScopeSettings):
    """One subscription (optionally some resource groups and workflow globs) of one source entry."""

    subscription: str
    resource_groups: tuple[str, ...] = ()
    arm_endpoint: str = "https://management.azure.com"
    workspace_id: str | None = None
    logs_endpoint: str = "https://api.loganalytics.io"
    metrics_endpoint: str | None = None
    request_histories: bool = False
    quota: Quota | None = None

    def holds(self, execution: Mapping[str, Any]) -> bool:
        """Whether a stored execution row belongs to this scope: its subscription, resource groups
        and workflow globs (also when its workflow is no longer listed)."""
        workflow_id = str(execution.get(C.workflow_id) or "").lower()
        if not workflow_id.startswith(f"/subscriptions/{self.subscription.lower()}/"):
            return False
        parts = workflow_id.split("/")
        group = parts[4] if len(parts) > 4 and parts[3] == "resourcegroups" else None
        if self.resource_groups and group not in {g.lower() for g in self.resource_groups}:
            return False
        name = str(execution.get(C.workflow_name) or workflow_id.rsplit("/", 1)[-1]).rsplit("/", 1)[-1]
        return cfg.name_matches(name, self.globs)

    def scope_id(self, _account: str | None = None) -> str:
        suffix = ""
        if self.resource_groups or self.globs:
            text = "\n".join(sorted(g.lower() for g in self.resource_groups)) + "\0" + "\n".join(sorted(self.globs))
            suffix = "#" + hashlib.sha256(text.encode()).hexdigest()[:8]
        return f"azure:{self.subscription.lower()}{suffix}"



def scopes(source: Mapping[str, Any]) -> list[AzureScope]:
    """The scopes of one source entry (one: its subscription)."""
    from flowscope.collectors.azure.clients import DEFAULT_ARM_ENDPOINT, check_endpoint

    validate(source)
    return [AzureScope(
        subscription=str(source["subscription_id"]),
        resource_groups=tuple(source.get("resource_groups") or ()),
        arm_endpoint=check_endpoint(source.get("arm_endpoint", DEFAULT_ARM_ENDPOINT), "arm_endpoint"),
        workspace_id=source.get("workspace_id"),
        logs_endpoint=check_endpoint(source.get("logs_endpoint", "https://api.loganalytics.io"), "logs_endpoint"),
        metrics_endpoint=source.get("metrics_endpoint"),
        request_histories=bool(source.get("request_histories", False)),
        quota=cfg.quota(source.get("quota"), "azure", QUOTA_EXAMPLE),
        **cfg.scope_settings(source, "azure", globs_key="workflows", max_attempts=8),
    )]
