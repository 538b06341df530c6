"""Pure transforms: Google Cloud Workflows REST JSON and Cloud Logging entries -> model rows.

The transform contract (`collectors.native`): `FORMATS`, `detect`, `assemble`. One module per
native format:

- ``gcp.workflow`` (`workflows`): a Workflow resource, or ``{"workflows": [...]}`` -> workflows rows.
- ``gcp.executions`` (`executions`): an Execution, or ``{"executions": [...]}`` -> executions rows.
- ``gcp.step_entries`` (`step_entries`): StepEntry resources -> steps and attempts rows.
- ``gcp.log_entries`` (`log_entries`, `call_logs`): Cloud Logging entries of
  ``workflows.googleapis.com/Workflow`` resources: system logs rebuild executions, call logs
  rebuild call steps.

plus resource names (`names`), what the readers share (`records`), format detection (`detect`),
the assembly rules (`assemble`) and the billing rule (`billing`). Ids are resource names;
payloads are never stored, only the sizes and SHA-256 of argument and result.
"""

from __future__ import annotations

from flowscope.collectors.gcp.definition import UNKNOWN_RESOURCE
from flowscope.collectors.gcp.transform.assemble import assemble
from flowscope.collectors.gcp.transform.billing import BILLED_NATIVE_TYPES
from flowscope.collectors.gcp.transform.detect import detect
from flowscope.collectors.gcp.transform.documents import FORMATS, transform
from flowscope.collectors.gcp.transform.executions import transform_executions
from flowscope.collectors.gcp.transform.log_entries import (
    EXECUTION_ID_LABEL,
    WORKFLOW_RESOURCE_TYPE,
    transform_log_entries,
)
from flowscope.collectors.gcp.transform.names import execution_id, parse_name, workflow_id
from flowscope.collectors.gcp.transform.records import (
    CALL_LOG_NATIVE_TYPE,
    CALL_NATIVE_TYPES,
    CLOUD,
    EXECUTION_STATUS,
    KIND,
    STEP_STATUS,
    STEP_TYPES,
    ts,
)
from flowscope.collectors.gcp.transform.step_entries import transform_step_entries
from flowscope.collectors.gcp.transform.workflows import (
    CURRENT_WORKFLOWS,
    DEFINITION_FORMAT,
    import_options,
    transform_workflows,
)
from flowscope.model import Batch

__all__ = [
    "BILLED_NATIVE_TYPES", "CALL_LOG_NATIVE_TYPE", "CALL_NATIVE_TYPES", "CLOUD", "CURRENT_WORKFLOWS",
    "DEFINITION_FORMAT", "EXECUTION_ID_LABEL", "EXECUTION_STATUS", "FORMATS", "KIND", "STEP_STATUS", "STEP_TYPES",
    "UNKNOWN_RESOURCE", "WORKFLOW_RESOURCE_TYPE", "Batch", "assemble", "detect", "execution_id",
    "parse_name", "transform", "transform_executions", "transform_log_entries", "transform_step_entries",
    "import_options", "transform_workflows", "ts", "workflow_id",
]
