"""The Redis conversation store against a real redis-server: atomic, ordered, bounded, expiring."""

from __future__ import annotations

import asyncio
import itertools
import shutil
import socket
import ssl
import subprocess

import pytest
import redis
from agent_helpers import run
from redis.crc import key_slot

from agentwatch.agent.errors import AgentError
from agentwatch.agent.state import ConversationStore, meta_key, turns_key
from agentwatch.local.processes import RedisServer

pytestmark = pytest.mark.live

_ids = itertools.count()


def _cid(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}"


def _store(url: str, **kw) -> ConversationStore:
    return ConversationStore(url, **{"window": 6, "cap": 200, "ttl_seconds": 300, **kw})


async def _say(store: ConversationStore, cid: str, text: str, **flags):
    args = {"low_confidence": False, "complaint": False, "escalate": None, "order": None, **flags}
    return await store.append(cid, ts="2026-01-01T00:00:00.000Z", user_text=text,
                              agent_text=f"re: {text}", **args)


def test_turns_are_numbered_in_order_with_user_and_agent_entries_adjacent(redis_server):
    async def scenario():
        store, cid = _store(redis_server.url), _cid("order")
        results = [await _say(store, cid, f"message {i}") for i in range(1, 6)]
        history = await store.history(cid)
        await store.aclose()
        return results, history

    results, history = run(scenario())
    assert [r.turn for r in results] == [1, 2, 3, 4, 5]
    assert [r.started for r in results] == [True, False, False, False, False]
    assert [(t["turn"], t["role"]) for t in history.turns] == [
        (n, role) for n in range(1, 6) for role in ("user", "agent")]
    assert history.turns[2]["text"] == "message 2" and history.turns[3]["text"] == "re: message 2"


def test_an_append_retried_with_its_request_id_is_stored_once(redis_server):
    """A write whose answer was lost (timeout, dropped connection, failover) is retried by the
    client library; the request id makes the retry return the first turn instead of a second."""
    async def scenario():
        store, cid = _store(redis_server.url), _cid("retry")
        first = await _say(store, cid, "hello", request_id="a1b2")
        others = [await _say(store, cid, f"other {i}", request_id=f"o{i}") for i in range(5)]
        again = await _say(store, cid, "hello", request_id="a1b2")
        fresh = await _say(store, cid, "hello", request_id="c3d4")  # same text, new request: a new turn
        tricky = await _say(store, cid, 'hi "rid": "zz9"', request_id="")
        spoof = await _say(store, cid, "anything", request_id="zz9")  # text cannot fake a request id
        history = await store.history(cid)
        await store.aclose()
        return first, others, again, fresh, tricky, spoof, history

    first, others, again, fresh, tricky, spoof, history = run(scenario())
    assert (first.turn, again.turn, fresh.turn) == (1, 1, 7)
    assert [o.turn for o in others] == [2, 3, 4, 5, 6] and (tricky.turn, spoof.turn) == (8, 9)
    assert [t["turn"] for t in history.turns if t["role"] == "user"] == list(range(1, 10))


def test_four_concurrent_writers_on_one_conversation_lose_no_turn(redis_server):
    writers, per_writer = 4, 100

    async def writer(url: str, cid: str, w: int) -> list[int]:
        store = _store(url, cap=2 * writers * per_writer)  # each writer is its own "instance"
        try:
            return [(await _say(store, cid, f"w{w}-{i}")).turn for i in range(per_writer)]
        finally:
            await store.aclose()

    async def scenario():
        cid = _cid("race")
        turns = await asyncio.gather(*(writer(redis_server.url, cid, w) for w in range(writers)))
        store = _store(redis_server.url, cap=2 * writers * per_writer)
        history = await store.history(cid)
        await store.aclose()
        return turns, history

    turns, history = run(scenario())
    assigned = sorted(t for per in turns for t in per)
    assert assigned == list(range(1, writers * per_writer + 1)), "turn numbers must be unique and dense"
    users = [t for t in history.turns if t["role"] == "user"]
    assert len(users) == writers * per_writer
    assert [t["turn"] for t in users] == sorted(t["turn"] for t in users)
    for user, agent in itertools.pairwise(history.turns):
        if user["role"] == "user":
            assert agent == {**agent, "role": "agent", "turn": user["turn"], "text": f"re: {user['text']}"}
    # Each writer's own messages keep their order.
    for w in range(writers):
        mine = [int(t["text"].split("-")[1]) for t in users if t["text"].startswith(f"w{w}-")]
        assert mine == list(range(per_writer))


def test_a_fetch_reads_only_the_window_and_history_is_capped(redis_server):
    async def scenario():
        store, cid = _store(redis_server.url, window=4, cap=10), _cid("cap")
        for i in range(1, 31):
            await _say(store, cid, f"m{i}")
        snap, history = await store.fetch(cid), await store.history(cid)
        length = await store.client.llen(turns_key(cid))
        await store.aclose()
        return snap, history, length

    snap, history, length = run(scenario())
    assert [t["text"] for t in snap.turns] == ["m29", "re: m29", "m30", "re: m30"]
    assert snap.number("user_turns") == 30
    assert length == 10 and len(history.turns) == 10
    assert history.turns[-1]["turn"] == 30 and history.turns[0]["turn"] == 26


def test_conversations_expire_after_the_configured_ttl(redis_server):
    async def scenario():
        store, cid = _store(redis_server.url, ttl_seconds=120), _cid("ttl")
        await _say(store, cid, "hello")
        ttls = [await store.client.ttl(turns_key(cid)), await store.client.ttl(meta_key(cid))]
        await store.aclose()
        return ttls

    for ttl in run(scenario()):
        assert 0 < ttl <= 120


def test_both_keys_of_a_conversation_hash_to_one_cluster_slot():
    assert key_slot(turns_key("abc-123").encode()) == key_slot(meta_key("abc-123").encode())
    assert "{abc-123}" in turns_key("abc-123")


def test_escalation_and_close_are_recorded_once_even_when_repeated(redis_server):
    async def scenario():
        store, cid = _store(redis_server.url), _cid("esc")
        first = await _say(store, cid, "human please", escalate="user_request")
        second = await _say(store, cid, "again", escalate="max_turns")
        snap = await store.fetch(cid)
        closes = [await store.close(cid, "resolved", "t"), await store.close(cid, "abandoned", "t")]
        after = await _say(store, cid, "still there?")
        missing = await store.close(_cid("never"), "resolved", "t")
        await store.aclose()
        return first, second, snap, closes, after, missing

    first, second, snap, closes, after, missing = run(scenario())
    assert first.escalated_now and not second.escalated_now
    assert snap.meta["escalation_reason"] == "user_request" and snap.status == "escalated"
    assert closes == [("closed", "escalated", 2), ("already_closed", "escalated", 2)]
    assert after is None, "a closed conversation takes no more turns"
    assert missing[0] == "missing"


def test_flags_count_complaints_and_reset_the_low_confidence_streak(redis_server):
    async def scenario():
        store, cid = _store(redis_server.url), _cid("flags")
        await _say(store, cid, "a", low_confidence=True, complaint=True)
        await _say(store, cid, "b", low_confidence=True)
        streak = (await store.fetch(cid)).number("low_streak")
        await _say(store, cid, "c", complaint=True, order="A12345")
        snap = await store.fetch(cid)
        await store.aclose()
        return streak, snap

    streak, snap = run(scenario())
    assert streak == 2
    assert snap.number("low_streak") == 0 and snap.number("complaints") == 2 and snap.meta["order"] == "A12345"


def test_a_password_protected_redis_works_through_the_url_and_fails_clearly_without_it():
    async def scenario(url: str, bad_url: str):
        good, bad = _store(url), _store(bad_url)
        try:
            ok = await _say(good, "pw-1", "hello")
            with pytest.raises(AgentError) as failed:
                await bad.fetch("pw-1")
            return ok, failed.value, await bad.ping()
        finally:
            await good.aclose()
            await bad.aclose()

    with RedisServer(password="s3cret-pass") as server:
        ok, error, bad_ping = run(scenario(server.url, f"redis://127.0.0.1:{server.port}/0"))
        assert redis.Redis.from_url(server.url).exists(turns_key("pw-1")) == 1
    assert ok.turn == 1
    assert error.error_class == "state_store_unavailable" and error.status == 503
    assert bad_ping is False


def test_a_stopped_redis_is_unavailable_and_the_store_recovers_when_it_returns(fresh_redis):
    async def scenario():
        store = _store(fresh_redis.url, timeout_s=0.5)
        await _say(store, "down-1", "before")
        fresh_redis.stop()
        with pytest.raises(AgentError) as failed:
            await store.fetch("down-1")
        down_ping = await store.ping()
        fresh_redis.start()
        up_ping = await store.ping()
        result = await _say(store, "down-2", "after")
        await store.aclose()
        return failed.value, down_ping, up_ping, result

    error, down_ping, up_ping, result = run(scenario())
    assert error.error_class == "state_store_unavailable"
    assert (down_ping, up_ping) == (False, True)
    assert result.turn == 1


class TlsRedis(RedisServer):
    """redis-server serving TLS only, with a self-signed certificate for 127.0.0.1."""

    def __init__(self, password: str) -> None:
        super().__init__(password)
        self.cert, self.key = self.workdir / "cert.pem", self.workdir / "key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-keyout", str(self.key), "-out", str(self.cert), "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)

    @property
    def url(self) -> str:
        return f"rediss://:{self.password}@127.0.0.1:{self.port}/0?ssl_ca_certs={self.cert}"

    def command(self) -> list[str]:
        return [*super().command()[:1], "--port", "0", "--tls-port", str(self.port), "--bind", "127.0.0.1",
                "--tls-cert-file", str(self.cert), "--tls-key-file", str(self.key), "--tls-auth-clients", "no",
                "--requirepass", str(self.password), "--save", "", "--appendonly", "no", "--dir", str(self.workdir)]

    def ready(self) -> bool:
        context = ssl.create_default_context(cafile=str(self.cert))
        with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as raw, \
                context.wrap_socket(raw, server_hostname="127.0.0.1") as sock:
            sock.sendall(f"AUTH {self.password}\r\nPING\r\n".encode())
            answer = b""
            while b"+PONG" not in answer and (chunk := sock.recv(64)):
                answer += chunk
            return b"+PONG" in answer


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is needed to make a certificate")
def test_a_tls_redis_works_through_a_rediss_url_with_its_ca():
    async def scenario(url: str, plain_url: str):
        store, plain = _store(url), _store(plain_url)
        try:
            result = await _say(store, "tls-1", "hello over TLS")
            return result, await store.ping(), await plain.ping()
        finally:
            await store.aclose()
            await plain.aclose()

    with TlsRedis(password="tls-pass") as server:
        result, ping, plain_ping = run(scenario(server.url, f"redis://:tls-pass@127.0.0.1:{server.port}/0"))
    assert result.turn == 1 and ping is True
    assert plain_ping is False, "a plaintext client must not get through to the TLS port"
