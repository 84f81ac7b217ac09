"""The one mapping to OpenTelemetry GenAI semantic-convention attributes.

The GenAI conventions are still marked Development and their names move; this module is the only
place that spells them, so a rename is a one-line change. They go on spans, never on metric labels.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ERROR_TYPE", "SYSTEM", "inference_attributes"]

OPERATION_NAME = "gen_ai.operation.name"
REQUEST_MODEL = "gen_ai.request.model"
#: Identifies the conversation a span belongs to (an id, never its content).
CONVERSATION_ID = "gen_ai.conversation.id"
PROVIDER_NAME = "gen_ai.provider.name"
USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
#: Stable general attribute: the error class of a failed operation (our closed error taxonomy).
ERROR_TYPE = "error.type"
#: Non-standard, namespaced: requests answered by the same forward pass.
BATCH_SIZE = "agentwatch.inference.batch_size"
#: Non-standard, namespaced: seconds the request waited in the queue before its forward pass.
QUEUE_WAIT_SECONDS = "agentwatch.queue.wait_seconds"
#: Provider value for a model run in-process with transformers.
SYSTEM = "transformers"

#: Our inference operations → the GenAI ``gen_ai.operation.name`` well-known values.
_OPERATIONS = {"classify": "embeddings", "embed": "embeddings", "warmup": "embeddings", "generate": "text_completion"}


def inference_attributes(operation: str, model: str, *, batch_size: int | None = None,
                         input_tokens: int | None = None,
                         output_tokens: int | None = None) -> dict[str, Any]:
    """Span attributes for one inference call; unknown counts are left out, not zeroed."""
    attributes: dict[str, Any] = {
        OPERATION_NAME: _OPERATIONS.get(operation, operation),
        REQUEST_MODEL: model,
        PROVIDER_NAME: SYSTEM,
    }
    if batch_size is not None:
        attributes[BATCH_SIZE] = batch_size
    if input_tokens is not None:
        attributes[USAGE_INPUT_TOKENS] = input_tokens
    if output_tokens is not None:
        attributes[USAGE_OUTPUT_TOKENS] = output_tokens
    return attributes
