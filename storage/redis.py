"""Redis clients from a URL: a real server, or ``memory://`` for the embedded default.

``memory://`` gives fakeredis clients that share one in-process server, so the sync client
used by the webhook and the asyncio client used by the arq worker see the same keys.

Every client to a real server has connect and read timeouts (``timeout_s``, seconds;
``Settings.redis_timeout_s``, 1 s by default): a Redis that is down or frozen makes a call
fail fast with ``redis.exceptions.ConnectionError``/``TimeoutError`` (both RedisError), well
inside WeChat's 5 s, instead of hanging the request.
"""

from __future__ import annotations

import fakeredis
import redis
import redis.asyncio

_memory_servers: dict[str, fakeredis.FakeServer] = {}


def is_memory(url: str) -> bool:
    return url.startswith("memory://")


def _server(url: str) -> fakeredis.FakeServer:
    return _memory_servers.setdefault(url, fakeredis.FakeServer())


DEFAULT_TIMEOUT_S = 1.0


def _timeouts(timeout_s: float) -> dict[str, float]:
    return {"socket_connect_timeout": timeout_s, "socket_timeout": timeout_s}


def sync_client(url: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> redis.Redis:
    """A synchronous client (bytes responses) for ``url`` (redis://… or memory://…)."""
    if is_memory(url):
        return fakeredis.FakeRedis(server=_server(url))
    return redis.Redis.from_url(url, **_timeouts(timeout_s))


def async_client(url: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> redis.asyncio.Redis:
    """An asyncio client for ``url``, sharing the in-process server for memory://."""
    if is_memory(url):
        return fakeredis.aioredis.FakeRedis(server=_server(url))
    return redis.asyncio.Redis.from_url(url, **_timeouts(timeout_s))


async def arq_pool(url: str, timeout_s: float = DEFAULT_TIMEOUT_S):  # -> arq.connections.ArqRedis
    """An arq job-queue connection for ``url`` with connect/read timeouts of ``timeout_s``
    seconds; memory:// shares the in-process server. Connecting is lazy: a Redis that is
    down fails the first command, not this call."""
    from arq.connections import ArqRedis

    if is_memory(url):
        fake = fakeredis.aioredis.FakeRedis(server=_server(url))
        return ArqRedis(connection_pool=fake.connection_pool)
    pool = redis.asyncio.ConnectionPool.from_url(url, **_timeouts(timeout_s))
    return ArqRedis(connection_pool=pool)
