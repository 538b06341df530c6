"""What a Logic Apps workflow id says about where the workflow runs, for collectors and analyses alike.

The canonical ids themselves are built by `collectors/azure/transform/ids.py`; this module holds
the little the analysis must read back from them too, so that neither reaches into the other.
"""

from __future__ import annotations

import re

_SITE = re.compile(r"^.*?/providers/microsoft\.web/sites/[^/]+", re.IGNORECASE)


def site_of(workflow_id: str) -> str | None:
    """The Standard app (site) id a workflow id belongs to, case kept as written; None for a
    Consumption workflow (`.../microsoft.logic/workflows/<name>`), which has no site.

    A Standard workflow is billed by its app's App Service plan, shared by the app's workflows, and
    runs only while its app runs: its plan and whether it is stopped are the site's, looked up by
    this. The site ends after `/sites/<app>` (not at the id's first `/workflows/`, which a resource
    group or app named "workflows" holds); ARM ids are case-insensitive, so any case is found.
    """
    found = _SITE.match(workflow_id)
    return found.group(0) if found else None
