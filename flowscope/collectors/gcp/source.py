"""A GCP `[[sources]]` entry: its keys, their checks, and the scopes it names (`GcpScope`).

Apart from `collector.py` (which collects a scope) so the step modules' shared context
(`context.py`) can name the scope's type without importing the module that imports it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flowscope.collectors import source_config as cfg
from flowscope.collectors.source_config import SourceConfigError
from flowscope.collectors.throttle import Quota

SOURCE_KEYS = {
    "cloud": "gcp",
    "name": "a label for this source (optional)",
    "project": "Google Cloud project id (required)",
    "locations": "list of locations, e.g. [\"us-central1\"] (optional; default: every location with workflows)",
    "workflows": "list of workflow name globs (optional)",
    "endpoint": "root URL of every Google API called, '{service}' standing for the API's host name "
                "(private endpoints, emulators) (optional)",
    "lag": "re-list window before the last watermark, e.g. '15m' (optional)",
    "concurrency": "threads per scope for step-entry fetches (optional, default 8)",
    "max_attempts": "attempts per call, retries included (optional, default 6)",
    "read_timeout": "seconds (optional, default 30)",
    "write_every": "executions per store commit (optional, default 250)",
    "quotas": "per-API token buckets, e.g. {\"stepEntries.list\" = [100, 10]} (optional)",
    "metrics": "collect Cloud Monitoring metrics of workflows.googleapis.com (optional, default true)",
    "path": "'step_entries' (default) or 'logs': finished executions of workflows logging all calls get their "
            "call steps from Cloud Logging in bulk instead of one step-entries listing each (optional)",
}
PATHS = ("step_entries", "logs")
_LOCATION = re.compile(r"^[a-z][a-z0-9-]*$")

def validate(source: Mapping[str, Any]) -> None:
    """Raise SourceConfigError naming the first unknown or ill-typed key."""
    from flowscope.collectors.gcp.clients import endpoint_problem

    cfg.check_common(source, "gcp", SOURCE_KEYS)
    project = source.get("project")
    if not isinstance(project, str) or not project or "/" in project:
        raise SourceConfigError('gcp source: project must be a project id, e.g. project = "acme-prod"')
    if project.isdigit():
        # the APIs take either, but Cloud Logging labels, workflows and stored rows name the
        # project by its id: a scope keyed by the number never meets its call logs
        raise SourceConfigError(f'gcp source: project = "{project}" is a project number; give the project id '
                                '(gcloud projects describe NUMBER --format="value(projectId)"), e.g. '
                                'project = "acme-prod"')
    cfg.string_list(source, "locations", "gcp", 'location ids, e.g. ["us-central1"]', forbid="/")
    for location in source.get("locations") or ():
        if not _LOCATION.match(location):   # " europe-west1" or "US-CENTRAL1" failed each sync at its first call
            raise SourceConfigError(f'gcp source: locations: {location!r} is not a valid location id (lower case '
                                    'letters, digits and hyphens, e.g. "us-central1")')
    cfg.string_list(source, "workflows", "gcp", "workflow name globs", forbid="/")
    cfg.strings(source, ("endpoint",), "gcp")
    if "endpoint" in source and (problem := endpoint_problem(source["endpoint"])):
        raise SourceConfigError(f"gcp source: {problem}")
    cfg.positive_seconds(source, "read_timeout", "gcp")
    if source.get("path", "step_entries") not in PATHS:
        raise SourceConfigError(f"gcp source: path must be one of {', '.join(repr(p) for p in PATHS)}")
    cfg.quotas(source.get("quotas"), "gcp")


@dataclass(frozen=True)
class GcpScope(cfg.ScopeSettings):
    """One (project, location) of one source entry; location None: every location with workflows."""

    project: str
    location: str | None = None
    endpoint: str | None = None
    max_attempts: int = field(default=6, kw_only=True)
    quotas: tuple[tuple[str, Quota], ...] = field(default_factory=tuple)
    path: str = "step_entries"

    def scope_id(self, _account: str | None = None) -> str:
        suffix = ""
        if self.globs:
            suffix = "#" + hashlib.sha256("\n".join(sorted(self.globs)).encode()).hexdigest()[:8]
        return f"gcp:{self.project}:{self.location or 'all-locations'}{suffix}"


def scopes(source: Mapping[str, Any]) -> list[GcpScope]:
    validate(source)
    common: dict[str, Any] = dict(
        project=source["project"], endpoint=source.get("endpoint"),
        quotas=tuple(sorted(cfg.quotas(source.get("quotas"), "gcp").items())), path=source.get("path", "step_entries"),
        **cfg.scope_settings(source, "gcp", globs_key="workflows", max_attempts=6),
    )
    locations = source.get("locations")
    if not locations:
        return [GcpScope(location=None, **common)]
    return [GcpScope(location=loc, **common) for loc in dict.fromkeys(locations)]
