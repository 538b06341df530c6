"""Helpers shared by the AWS collector tests; fixtures live in conftest.py."""

from __future__ import annotations

import time
from typing import Any

HOLD_3S = {"StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": 3, "Next": "Done"},
                                         "Done": {"Type": "Succeed"}}}


def stored_running(moto: Any, store: Any, name: str, **source: Any) -> tuple[str, dict[str, Any]]:
    """Start a 3-second execution and sync while it runs: (its ARN, the source used)."""
    from flowscope.collectors.aws import collector as aws
    from flowscope.model import RunStatus

    run = moto.run(moto.machine(name, HOLD_3S))
    time.sleep(1.3)
    config = moto.source(lag="1s", **source)
    assert aws.sync(config, store)[0].status == RunStatus.SUCCEEDED
    return run, config
