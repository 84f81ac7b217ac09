"""Shared fixtures: real services on free ports, strict label checking for every test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from agentwatch.local.processes import RedisServer

# Tests run with strict labels: an out-of-set label value raises instead of folding into "other".
os.environ.setdefault("AGENTWATCH_STRICT_LABELS", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One real redis-server for the session; tests use distinct keys or flush it."""
    with RedisServer() as server:
        yield server


@pytest.fixture
def fresh_redis() -> Iterator[RedisServer]:
    """A redis-server of the test's own, free to stop and restart."""
    with RedisServer() as server:
        yield server
