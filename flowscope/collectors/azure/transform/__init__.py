"""Pure transforms: Azure Logic Apps management-API JSON -> flowscope model rows.

The transform contract (`collectors.native`): `FORMATS`, `detect`, `assemble`. One module per
native format (`workflows`, `runs`, `actions` for run actions and action repetitions,
`scope_repetitions`, `request_histories`, `trigger_histories`), the ids they key rows by (`ids`),
what they share (`records`), format detection (`detect`), the document reader (`documents`),
the assembly rules (`assemble`), the Consumption metering rule (`billing`), the slot runs an earlier
flowscope stored under their production workflow (`slots`: the `moved_executions` hook), and the loop visits
an import's repetition records name for its request histories (`request_histories`: the `import_options` hook).

Display names keep their spelling: workflow_name, the run's `name` and step names (the
definition's, once it is known) are never lower-cased; of two spellings of one name that differ
only in case (a lower-cased re-export), the one with upper-case letters is kept
(`collectors.assemble.merge_rows`), so the portal can be searched by what flowscope shows.
"""

from __future__ import annotations

from flowscope.collectors.azure.transform.assemble import assemble
from flowscope.collectors.azure.transform.detect import detect, record_format
from flowscope.collectors.azure.transform.documents import FORMATS, transform
from flowscope.collectors.azure.transform.ids import (
    ArmId,
    canonical_execution_id,
    canonical_workflow_id,
    parse_step_key,
    step_key,
    trigger_key,
)
from flowscope.collectors.azure.transform.records import CLOUD, ITERATION_NATIVE_TYPE, STATUS_MAP
from flowscope.collectors.azure.transform.request_histories import import_options
from flowscope.collectors.azure.transform.slots import moved_executions
from flowscope.collectors.azure.transform.trigger_histories import is_trigger_poll
from flowscope.collectors.azure.transform.workflows import DEFINITION_FORMAT

HAS_NO_RUN = is_trigger_poll
"""`collectors.native`: the execution ids that never get a run record (trigger polls)."""

__all__ = [
    "CLOUD", "DEFINITION_FORMAT", "FORMATS", "ITERATION_NATIVE_TYPE", "STATUS_MAP", "ArmId", "assemble",
    "HAS_NO_RUN", "canonical_execution_id", "canonical_workflow_id", "detect", "import_options", "is_trigger_poll",
    "moved_executions",
    "parse_step_key", "record_format", "step_key",
    "transform", "trigger_key",
]
