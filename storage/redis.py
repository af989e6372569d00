"""Redis clients from a URL: a real server, or ``memory://`` for the embedded default.

``memory://`` gives fakeredis clients that share one in-process server, so the sync client
used by the webhook and the asyncio client used by the arq worker see the same keys.
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


def sync_client(url: str) -> redis.Redis:
    """A synchronous client (bytes responses) for ``url`` (redis://… or memory://…)."""
    if is_memory(url):
        return fakeredis.FakeRedis(server=_server(url))
    return redis.Redis.from_url(url)


def async_client(url: str) -> redis.asyncio.Redis:
    """An asyncio client for ``url``, sharing the in-process server for memory://."""
    if is_memory(url):
        return fakeredis.aioredis.FakeRedis(server=_server(url))
    return redis.asyncio.Redis.from_url(url)


async def arq_pool(url: str):  # -> arq.connections.ArqRedis
    """An arq job-queue connection for ``url``; memory:// shares the in-process server."""
    from arq.connections import ArqRedis, RedisSettings, create_pool

    if is_memory(url):
        fake = fakeredis.aioredis.FakeRedis(server=_server(url))
        return ArqRedis(connection_pool=fake.connection_pool)
    return await create_pool(RedisSettings.from_dsn(url))
