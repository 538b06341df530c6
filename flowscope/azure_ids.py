"""What a Logic Apps workflow id says about where the workflow runs, for collectors and analyses alike.

The canonical ids themselves are built by `collectors/azure/transform/ids.py`; this module holds
the little the analysis must read back from them too, so that neither reaches into the other.
"""

from __future__ import annotations

import re

_APP = re.compile(r"^(?P<site>.*?/providers/microsoft\.web/sites/[^/]+)(?P<slot>/slots/[^/]+)?(?=/|$)",
                  re.IGNORECASE)


def site_of(workflow_id: str) -> str | None:
    """The Standard app a workflow id belongs to, case kept as written: its site (`.../sites/<app>`), or for a
    workflow in a deployment slot the slot (`.../sites/<app>/slots/<slot>`); None for a Consumption workflow
    (`.../microsoft.logic/workflows/<name>`), which has no app.

    A Standard workflow is billed by its app's App Service plan, shared by the app's workflows, and
    runs only while its app runs: its plan and whether it is stopped are the app's, looked up by
    this. A slot is an app of its own (ARM `Microsoft.Web/sites/slots`, with its own `serverFarmId` and
    state): read as its production app, it was priced with that app's plan and taken for stopped when
    production was. The app ends after `/sites/<app>[/slots/<slot>]` (not at the id's first `/workflows/`,
    which a resource group or app named "workflows" holds); ARM ids are case-insensitive, so any case is found.
    """
    found = _APP.match(workflow_id)
    return found.group(0) if found else None


def production_site_of(workflow_id: str) -> str | None:
    """The production site of a workflow's app (`.../sites/<app>`, for a slot's workflow too), case kept; None
    for a Consumption workflow. A slot runs on its production app's plan unless it was given one of its own,
    so that plan is what a slot whose own is unknown is priced by (`collectors.azure.standard.with_plans`)."""
    found = _APP.match(workflow_id)
    return found.group("site") if found else None


def in_slot(workflow_id: str) -> bool:
    """Whether a workflow id is a deployment slot's (`.../sites/<app>/slots/<slot>/workflows/<name>`)."""
    found = _APP.match(workflow_id)
    return bool(found and found.group("slot"))
