"""Automatic pipelining: the Redis scripts called during one event-loop iteration go as one pipeline.

Under load the requests of one inference batch finish together and each appends its turn; new
requests arrive together and each reads its conversation. One ``EVALSHA`` per request costs a
round trip and redis-py's per-command bookkeeping (connection checkout and health check, socket
timeout, reply-parser setup: about 60 µs of CPU each on this machine, a third of the agent's own
work per message). The script calls are independent — each touches one conversation's two
hash-tagged keys — so sending those issued in the same iteration as one non-transactional
pipeline changes no result, only the cost. A call waits at most until the end of the current
iteration. redis-py has no such mode (ioredis's ``enableAutoPipelining`` is the model), hence
this small class.

Usage::

    pipe = AutoPipeline(client)
    script = client.register_script("return redis.call('GET', KEYS[1])")
    value = await pipe.run(script, keys=["k"], args=[])
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from redis.exceptions import NoScriptError

__all__ = ["AutoPipeline"]


class AutoPipeline:
    """Queues script calls and sends each event-loop iteration's calls as one pipeline."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._queued: list[tuple[Any, Sequence[Any], Sequence[Any], asyncio.Future[Any]]] = []
        #: Pipelines sent and calls they carried (tests, debugging).
        self.pipelines = 0
        self.calls = 0

    async def run(self, script: Any, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        """The reply of ``script`` (a redis-py ``Script``) for ``keys``/``args``; errors raise here."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queued.append((script, keys, args, future))
        if len(self._queued) == 1:
            loop.call_soon(self._flush)  # runs after every task already runnable has queued its call
        return await future

    def _flush(self) -> None:
        batch, self._queued = self._queued, []
        asyncio.get_running_loop().create_task(self._send(batch))

    async def _send(self, batch: list[tuple[Any, Sequence[Any], Sequence[Any], asyncio.Future[Any]]]) -> None:
        self.pipelines += 1
        self.calls += len(batch)
        try:
            replies = await self._execute([(s, k, a) for s, k, a, _ in batch])
            missing = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
            if missing:  # first use on this server (or after SCRIPT FLUSH): load, then send those again
                for script in {id(batch[i][0]): batch[i][0] for i in missing}.values():
                    await self.client.script_load(script.script)
                again = await self._execute([batch[i][:3] for i in missing])
                for i, reply in zip(missing, again, strict=True):
                    replies[i] = reply
        except Exception as exc:  # the connection failed: every call of the pipeline fails with it
            for *_, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (*_, future), reply in zip(batch, replies, strict=True):
            if future.done():  # its request gave up (cancelled)
                continue
            if isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)

    async def _execute(self, calls: list[tuple[Any, Sequence[Any], Sequence[Any]]]) -> list[Any]:
        pipe = self.client.pipeline(transaction=False)
        for script, keys, args in calls:
            pipe.evalsha(script.sha, len(keys), *keys, *args)
        return list(await pipe.execute(raise_on_error=False))
