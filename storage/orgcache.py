"""A per-process cache of the organisation: buildings, public places, grids, communities
and staff.

Every report resolves building → grid → grid worker, and every message asks "is this OpenID
staff?". These rows change only when staff import a file, so each web process keeps them:
looked up once, then served with no SQL. Templates are detached ORM objects; a lookup hands
the caller ``session.merge(template, load=False)``, a persistent instance of its own session
that costs no query (SQLAlchemy's documented pattern for cached objects).

Freshness: an entry lives ``ttl_s`` seconds (60 by default); ``gridbot import`` bumps a
generation counter in Redis (``bump_generation``), which each process reads at most every
``check_every_s`` seconds and then drops everything. Redis unavailable: the TTL alone bounds
staleness. The whole cache is dropped past ``max_entries`` keys, so memory stays bounded.

Install it on a session with ``attach(session, cache)``; ``storage.org`` uses it when present
and queries the database otherwise (CLI, worker jobs, tests of storage).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import redis as redis_lib
from redis.exceptions import RedisError
from sqlalchemy import Engine
from sqlmodel import Session, SQLModel

log = logging.getLogger("gridbot.orgcache")
GENERATION_KEY = "gridbot:org:generation"
INFO_KEY = "org_cache"
T = TypeVar("T", bound=SQLModel)
_MISSING = object()


def bump_generation(redis: redis_lib.Redis) -> None:
    """Tell every process's cache that the organisation changed (after an import commits).
    Raises redis.exceptions.RedisError when Redis is unavailable (caches expire by TTL)."""
    redis.incr(GENERATION_KEY)


class OrgCache:
    """Lazily filled, TTL-bounded cache of organisation rows for one process (thread-safe)."""

    def __init__(self, engine: Engine, redis: redis_lib.Redis | None = None, *, ttl_s: float = 60.0,
                 check_every_s: float = 2.0, max_entries: int = 200_000,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self.redis = redis
        self.ttl_s = ttl_s
        self.check_every_s = check_every_s
        self.max_entries = max_entries
        self._now = monotonic
        self._lock = threading.Lock()
        self._entries: dict[tuple, tuple[float, Any]] = {}
        self._generation: bytes | None = None
        self._checked_at = float("-inf")

    def clear(self) -> None:
        """Drop every entry (this process)."""
        with self._lock:
            self._entries.clear()

    def get(self, key: tuple, load: Callable[[Session], Any]) -> Any:
        """The cached value of ``key``, or ``load(session)`` on a private session (detached
        ORM objects, plain values or None) cached for ``ttl_s`` seconds."""
        self._check_generation()
        now = self._now()
        hit = self._entries.get(key, _MISSING)
        if hit is not _MISSING and hit[0] > now:
            return hit[1]
        with Session(self.engine, expire_on_commit=False) as session:
            value = load(session)
            session.expunge_all()
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[key] = (now + self.ttl_s, value)
        return value

    def _check_generation(self) -> None:
        if self.redis is None:
            return
        now = self._now()
        if now - self._checked_at < self.check_every_s:
            return
        self._checked_at = now
        try:
            generation = self.redis.get(GENERATION_KEY)
        except RedisError as exc:
            log.debug("org cache generation unreadable: %s", exc)
            return
        if generation != self._generation:
            if self._generation is not None or self._entries:
                log.info("organisation changed (generation %s): cache dropped", generation)
            self._generation = generation
            self.clear()


def attach(session: Session, cache: OrgCache) -> None:
    """Let ``storage.org`` serve ``session``'s organisation lookups from ``cache``."""
    session.info[INFO_KEY] = cache


def of(session: Session) -> OrgCache | None:
    """The cache attached to ``session``, if any."""
    return session.info.get(INFO_KEY)


def merged(session: Session, template: T | None) -> T | None:
    """``template`` as a persistent instance of ``session`` (no SQL), or None."""
    return None if template is None else session.merge(template, load=False)
