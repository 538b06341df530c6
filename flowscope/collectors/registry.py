"""Each cloud's collecting parts: its pure transforms and its live collector (if this version has one).

One table in plain code, so a reader (and a tool) can follow `sync` and `import` to the module that
does the work. Each part is loaded on first use by a small function with an ordinary import inside:
the cloud SDKs behind a live collector stay unloaded until a sync needs them.

A new cloud fills both parts here (and its simulator in `flowscope.simulate.demo.SIMULATORS`, which sits
above the collectors: the demo feeds the simulated documents through these transforms); until its
live collector exists, `collector` is None and `sync` records its scopes as "not available in this
version".
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from flowscope.model import Cloud

Loader = Callable[[], ModuleType]


@dataclass(frozen=True)
class CloudParts:
    """Where a cloud's parts live; each field loads its module when called."""

    cloud: Cloud
    transforms: Loader
    """`flowscope.collectors.<cloud>.transform`: FORMATS, detect(doc), assemble(...)."""
    collector: Loader | None
    """`flowscope.collectors.<cloud>.collector`: validate, scopes, collect_scope, sync; None when not built."""


def _aws_transforms() -> ModuleType:
    from flowscope.collectors.aws import transform

    return transform


def _aws_collector() -> ModuleType:
    from flowscope.collectors.aws import collector

    return collector


def _azure_transforms() -> ModuleType:
    from flowscope.collectors.azure import transform

    return transform


def _azure_collector() -> ModuleType:
    from flowscope.collectors.azure import collector

    return collector


def _gcp_transforms() -> ModuleType:
    from flowscope.collectors.gcp import transform

    return transform


def _gcp_collector() -> ModuleType:
    from flowscope.collectors.gcp import collector

    return collector


CLOUDS: dict[Cloud, CloudParts] = {
    Cloud.AWS: CloudParts(Cloud.AWS, transforms=_aws_transforms, collector=_aws_collector),
    Cloud.AZURE: CloudParts(Cloud.AZURE, transforms=_azure_transforms, collector=_azure_collector),
    Cloud.GCP: CloudParts(Cloud.GCP, transforms=_gcp_transforms, collector=_gcp_collector),
}


def parts_of(cloud: str | Cloud) -> CloudParts:
    """The parts of `cloud` (ValueError for a name that is not a cloud)."""
    return CLOUDS[Cloud(cloud)]


@functools.cache
def transforms_for(cloud: str | Cloud) -> ModuleType:
    """The pure transform module of a cloud (cached: the assembler asks once per execution)."""
    return parts_of(cloud).transforms()


def collector_for(cloud: str | Cloud) -> ModuleType | None:
    """The live collector module of a cloud, or None when this version cannot collect it live."""
    load = parts_of(cloud).collector
    return load() if load is not None else None
