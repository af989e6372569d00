"""Redis clients from a URL: a real server, or ``memory://`` for the embedded default.

``memory://`` gives fakeredis clients that share one in-process server, so the sync client
used by the webhook and the asyncio client used by the arq worker see the same keys.

Every client to a real server has connect and read timeouts (``timeout_s``, seconds;
``Settings.redis_timeout_s``, 1 s by default): a Redis that is down or frozen makes a call
fail fast with ``redis.exceptions.ConnectionError``/``TimeoutError`` (both RedisError), well
inside WeChat's 5 s, instead of hanging the request.

Redis Sentinel (failover): ``redis+sentinel://[[user]:password@]host:port[,host:port…]/service[/db]``
names the sentinels (port 26379 by default), the master's service name (``sentinel monitor
<service> …``) and the database; the password is the master's. Clients ask the sentinels
for the current master (redis-py ``Sentinel.master_for``) and follow a failover. Redis
Cluster is not supported: storage/gate.py's script touches keys of several hash slots.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import fakeredis
import redis
import redis.asyncio
import redis.asyncio.sentinel
import redis.sentinel

SENTINEL_SCHEME = "redis+sentinel://"
SENTINEL_PORT = 26379

_memory_servers: dict[str, fakeredis.FakeServer] = {}


def is_memory(url: str) -> bool:
    return url.startswith("memory://")


def is_sentinel(url: str) -> bool:
    return url.startswith(SENTINEL_SCHEME)


def sentinel_parts(url: str) -> tuple[list[tuple[str, int]], str, dict[str, object]]:
    """``redis+sentinel://…`` → (sentinel (host, port) list, service name, master connection
    kwargs: db, username, password). Raises ValueError without a service name or with a bad
    port or db."""
    parts = urlsplit(url)
    userinfo, _, hosts = parts.netloc.rpartition("@")
    username, _, password = userinfo.partition(":")
    addresses = []
    for item in hosts.split(","):
        host, sep, port = item.rpartition(":")
        if not sep or (host.startswith("[") and not host.endswith("]")):  # no port
            host, port = item, str(SENTINEL_PORT)
        addresses.append((host.strip("[]"), int(port)))
    path = [p for p in parts.path.split("/") if p]
    if not path or not all(h for h, _ in addresses):
        raise ValueError("a redis+sentinel:// URL names sentinels and the master's service: "
                         "redis+sentinel://:password@host1:26379,host2:26379/mymaster/0")
    master = {"db": int(path[1]) if len(path) > 1 else 0,
              "username": unquote(username) or None, "password": unquote(password) or None}
    return addresses, path[0], master


def _server(url: str) -> fakeredis.FakeServer:
    return _memory_servers.setdefault(url, fakeredis.FakeServer())


DEFAULT_TIMEOUT_S = 1.0


def _timeouts(timeout_s: float) -> dict[str, float]:
    return {"socket_connect_timeout": timeout_s, "socket_timeout": timeout_s}


def sync_client(url: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> redis.Redis:
    """A synchronous client (bytes responses) for ``url`` (redis://… or memory://…)."""
    if is_memory(url):
        return fakeredis.FakeRedis(server=_server(url))
    if is_sentinel(url):
        sentinels, service, master = sentinel_parts(url)
        return redis.sentinel.Sentinel(sentinels, sentinel_kwargs=_timeouts(timeout_s)
                                       ).master_for(service, **master, **_timeouts(timeout_s))
    return redis.Redis.from_url(url, **_timeouts(timeout_s))


def async_client(url: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> redis.asyncio.Redis:
    """An asyncio client for ``url``, sharing the in-process server for memory://."""
    if is_memory(url):
        return fakeredis.aioredis.FakeRedis(server=_server(url))
    if is_sentinel(url):
        sentinels, service, master = sentinel_parts(url)
        return redis.asyncio.sentinel.Sentinel(sentinels, sentinel_kwargs=_timeouts(timeout_s)
                                               ).master_for(service, **master, **_timeouts(timeout_s))
    return redis.asyncio.Redis.from_url(url, **_timeouts(timeout_s))


async def arq_pool(url: str, timeout_s: float = DEFAULT_TIMEOUT_S):  # -> arq.connections.ArqRedis
    """An arq job-queue connection for ``url`` with connect/read timeouts of ``timeout_s``
    seconds; memory:// shares the in-process server. Connecting is lazy: a Redis that is
    down fails the first command, not this call."""
    from arq.connections import ArqRedis

    if is_memory(url):
        fake = fakeredis.aioredis.FakeRedis(server=_server(url))
        return ArqRedis(connection_pool=fake.connection_pool)
    if is_sentinel(url):
        sentinels, service, master = sentinel_parts(url)
        return redis.asyncio.sentinel.Sentinel(sentinels, sentinel_kwargs=_timeouts(timeout_s)).master_for(
            service, redis_class=ArqRedis, **master, **_timeouts(timeout_s))
    pool = redis.asyncio.ConnectionPool.from_url(url, **_timeouts(timeout_s))
    return ArqRedis(connection_pool=pool)
