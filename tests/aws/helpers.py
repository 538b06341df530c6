"""Helpers shared by the AWS collector tests; fixtures live in conftest.py."""

from __future__ import annotations

import time
from typing import Any

HOLD_S = 8
"""How long the held execution runs: long enough that the first sync, on a loaded 2-core machine,
still finds it running (3 s was not, in CI with other suites beside it)."""
HOLD = {"StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": HOLD_S, "Next": "Done"},
                                      "Done": {"Type": "Succeed"}}}


def stored_running(moto: Any, store: Any, name: str, **source: Any) -> tuple[str, dict[str, Any]]:
    """Start an execution of HOLD_S seconds and sync while it runs: (its ARN, the source used)."""
    from flowscope.collectors.aws import collector as aws
    from flowscope.model import RunStatus

    run = moto.run(moto.machine(name, HOLD))
    time.sleep(1.3)
    config = moto.source(lag="1s", **source)
    assert aws.sync(config, store)[0].status == RunStatus.SUCCEEDED
    return run, config
