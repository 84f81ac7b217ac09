"""Agent settings from the environment: defaults, parsing, clear errors."""

from __future__ import annotations

import pytest

from agentwatch.agent.settings import AgentSettings, SettingsError, default_model_path


def test_defaults_point_at_local_redis_and_the_packaged_model():
    settings = AgentSettings.from_env({})
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.model_path == default_model_path()
    assert settings.max_batch == 8 and settings.torch_threads >= 1
    assert settings.fault_error_ratio == 0 and settings.fault_latency_ms == 0


def test_every_variable_is_read():
    env = {
        "REDIS_URL": "rediss://:pw@redis.example:6380/2", "AGENT_HISTORY_WINDOW": "4",
        "AGENT_HISTORY_MAX": "50", "AGENT_CONVERSATION_TTL_SECONDS": "60", "AGENT_MAX_BATCH": "16",
        "AGENT_MAX_WAIT_MS": "2.5", "AGENT_QUEUE_CAPACITY": "9", "AGENT_REQUEST_TIMEOUT_MS": "750",
        "AGENT_MODEL_NAME": "minilm", "AGENT_TORCH_THREADS": "1", "AGENT_GENERATOR_MODEL": "/models/tiny-lm",
        "AGENT_MAX_TURNS": "7", "AGENT_LOW_CONFIDENCE": "0.5", "AGENT_FAULT_ERROR_RATIO": "0.25",
        "AGENT_FAULT_LATENCY_MS": "300", "AGENT_FAULT_LATENCY_RATIO": "0.5", "AGENT_MAX_BODY_BYTES": "1024",
        "AGENT_INFERENCE_FLOOR_MS": "25",
    }
    s = AgentSettings.from_env(env)
    assert (s.redis_url, s.history_window, s.history_max, s.conversation_ttl_seconds) == (
        "rediss://:pw@redis.example:6380/2", 4, 50, 60)
    assert (s.max_batch, s.max_wait_ms, s.queue_capacity, s.request_timeout_ms) == (16, 2.5, 9, 750)
    assert (s.model_name, s.torch_threads, s.generator_model, s.generator_name) == (
        "minilm", 1, "/models/tiny-lm", "tiny-lm")
    assert (s.max_turns, s.low_confidence, s.max_body_bytes) == (7, 0.5, 1024)
    assert (s.fault_error_ratio, s.fault_latency_ms, s.fault_latency_ratio) == (0.25, 300, 0.5)
    assert s.inference_floor_ms == 25


@pytest.mark.parametrize(("env", "message"), [
    ({"AGENT_MAX_BATCH": "eight"}, "AGENT_MAX_BATCH must be an integer"),
    ({"AGENT_MAX_BATCH": "0"}, "AGENT_MAX_BATCH must be greater than 0"),
    ({"AGENT_FAULT_ERROR_RATIO": "1.5"}, "AGENT_FAULT_ERROR_RATIO must be between 0 and 1"),
    ({"AGENT_MAX_WAIT_MS": "-1"}, "AGENT_MAX_WAIT_MS must be 0 or more"),
    ({"AGENT_INFERENCE_FLOOR_MS": "-5"}, "AGENT_INFERENCE_FLOOR_MS must be 0 or more"),
    ({"REDIS_URL": "localhost:6379"}, "REDIS_URL must start with"),
    ({"AGENT_LOW_CONFIDENCE": "high"}, "AGENT_LOW_CONFIDENCE must be a number"),
], ids=["a word for a number", "a zero batch", "a ratio above one", "a negative wait", "a negative floor",
        "a URL without scheme", "a word for a threshold"])
def test_bad_values_name_the_variable(env, message):
    with pytest.raises(SettingsError, match=message):
        AgentSettings.from_env(env)


def test_the_settings_table_documents_every_variable():
    import agentwatch.agent.settings as module

    for field in AgentSettings.model_fields:
        name = module.env_name(AgentSettings, field)
        assert f"`{name}`" in module.__doc__, f"{name} is missing from the settings table"


def test_reliability_settings_and_the_cluster_scheme():
    s = AgentSettings.from_env({"REDIS_URL": "redis+cluster://:pw@10.0.0.5:7000", "AGENT_QUEUE_CAPACITY": "10",
                                "AGENT_MAX_BATCH": "4", "AGENT_ADMIN_PORT": "9100", "AGENT_DRAIN_SECONDS": "0",
                                "AGENT_READINESS_REQUIRES_STATE_STORE": "true"})
    assert s.redis_cluster and s.redis_node_url == "redis://:pw@10.0.0.5:7000"
    assert s.max_inflight == 14, "admission defaults to the queue plus one batch"
    assert (s.admin_port, s.drain_seconds, s.readiness_requires_state_store) == (9100, 0, True)
    plain = AgentSettings.from_env({"AGENT_REDIS_CLUSTER": "1", "AGENT_MAX_INFLIGHT": "5"})
    assert plain.redis_cluster and plain.redis_node_url == plain.redis_url and plain.max_inflight == 5


@pytest.mark.parametrize(("env", "message"), [
    ({"AGENT_ADMIN_PORT": "70000"}, "AGENT_ADMIN_PORT"),
    ({"AGENT_REDIS_CLUSTER": "maybe"}, "AGENT_REDIS_CLUSTER"),
    ({"AGENT_REDIS_CLUSTER": "true", "REDIS_URL": "unix:///tmp/redis.sock"}, "cluster node"),
    ({"AGENT_SHUTDOWN_TIMEOUT_SECONDS": "0"}, "AGENT_SHUTDOWN_TIMEOUT_SECONDS"),
], ids=["a port above 65535", "a word for a switch", "a cluster on a unix socket", "no time to shut down"])
def test_bad_reliability_settings_name_the_variable(env, message):
    with pytest.raises(SettingsError, match=message):
        AgentSettings.from_env(env)
