"""`azure.workflow`: a Logic Apps workflow or workflow version resource -> a workflows row.

Consumption (`Microsoft.Logic/workflows`, `.../versions`) and Standard (`Microsoft.Web/sites/workflows`,
whose definition sits in `files/workflow.json`) alike. The definition is stored as canonical JSON
(its hash is the revision when the record names none), without the credentials written into it
(`secrets.stored_definition`); the `$connections` parameter is kept as connection key -> managed
API name, which the definition's index needs to pick meters.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from flowscope.collectors.azure.definition import definition_object, definition_problem
from flowscope.collectors.azure.transform.ids import ArmId
from flowscope.collectors.azure.transform.records import CLOUD, properties_of, ts
from flowscope.collectors.azure.transform.secrets import stored_definition
from flowscope.collectors.native import TOO_DEEP, ImportContext, canonical_json, definition_too_large
from flowscope.model import Batch, C, Kind, Meter

DEFINITION_FORMAT = "logicapp-json"


def read_workflow(rec: dict[str, Any], ctx: ImportContext, batch: Batch) -> None:
    ids = ArmId(rec["id"])
    props = properties_of(rec)
    rtype = str(rec.get("type") or "").lower()
    definition = props.get("definition")
    if definition is None and isinstance(props.get("files"), dict):      # Microsoft.Web/sites/workflows
        wf_file = props["files"].get("workflow.json")
        definition = wf_file.get("definition") if isinstance(wf_file, dict) else None
    if definition is None:
        raise ValueError("workflow without properties.definition")
    text: str | None = None
    stored: str | None = None
    # JSON nested thousands of levels deep (a text, or an object too deep to write): the workflow is kept,
    # without its definition, and said
    try:
        problem = definition_problem(definition)
        if problem != TOO_DEEP:
            definition = definition_object(definition)
            text = canonical_json(definition)
            stored = canonical_json(stored_definition(definition))
    except RecursionError:
        problem = TOO_DEEP
    revision = ids.version or props.get("version")
    if not revision and text is None:
        raise ValueError(f"workflow {ids.workflow_name}: no version, and its definition ({problem}) gives none")
    revision = revision or hashlib.sha256(str(text).encode()).hexdigest()[:20]     # of the definition the cloud holds
    if problem:
        batch.warnings.append(
            f"{ctx.source_name}: workflow {ids.workflow_name} ({rec['id']}): its definition could not be "
            f"read whole ({problem}); the actions it does not describe are metered "
            f"{Meter.AZURE_LOGIC_UNCLASSIFIED_ACTION.value} until a readable definition is imported")
    too_large = definition_too_large(stored)
    if too_large:
        batch.warnings.append(
            f"{ctx.source_name}: workflow {ids.workflow_name} ({rec['id']}): its definition is not stored "
            f"({too_large}); its actions are metered {Meter.AZURE_LOGIC_UNCLASSIFIED_ACTION.value}")
    kind_word = rec.get("kind") or props.get("kind")
    standard = bool(ids.site) or rtype.startswith("microsoft.web/") or \
        (isinstance(kind_word, str) and kind_word.lower() in ("stateful", "stateless"))
    connections: dict[str, str] = {}
    params = props.get("parameters") or {}
    conns = params.get("$connections") if isinstance(params, dict) else None
    conn_values = conns.get("value") if isinstance(conns, dict) else None
    if isinstance(conn_values, dict):
        for key, val in conn_values.items():
            api_id = val.get("id") if isinstance(val, dict) else None
            if isinstance(api_id, str) and api_id:
                connections[key.lower()] = api_id.rstrip("/").rsplit("/", 1)[-1].lower()
    sku = props.get("sku")
    integration = props.get("integrationAccount")
    attributes = {
        "state": props.get("state"),
        "sku": sku.get("name") if isinstance(sku, dict) else None,
        "plan": (sku.get("plan") or {}).get("id", "").lower() or None if isinstance(sku, dict) else None,
        "integration_account": (integration.get("id") or "").lower() or None
        if isinstance(integration, dict) else None,
        "stateful": None if not isinstance(kind_word, str) else kind_word.lower() == "stateful",
        "connections": connections,
        "created": props.get("createdTime"),
        "changed": props.get("changedTime"),
    }
    seen = ctx.seen_at or ts(props.get("changedTime")) or ts(props.get("createdTime")) \
        or dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    batch.workflows.append({
        C.cloud: CLOUD, C.account: ids.sub,
        C.region: (rec.get("location") or "").replace(" ", "").lower() or None,
        C.workflow_id: ids.workflow_id, C.name: ids.workflow_name,
        C.kind: (Kind.LOGICAPP_STANDARD if standard else Kind.LOGICAPP_CONSUMPTION).value,
        C.revision: str(revision),
        C.definition: None if too_large else stored,
        C.definition_format: DEFINITION_FORMAT,
        C.attributes: json.dumps({k: v for k, v in attributes.items() if v not in (None, {})},
                                 sort_keys=True),
        C.seen_at: seen,
    })

