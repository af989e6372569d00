"""Dialogue state per resident, in Redis with a TTL: what the bot is waiting for.

A state is a small JSON dict, e.g. ``{"flow": "report", "awaiting": "address",
"pending": {...}}``. It expires after ``Settings.dialogue_ttl_s`` seconds of silence, so a
resident who walks away starts fresh.
"""

from __future__ import annotations

import json
from typing import Any

import redis as redis_lib

PREFIX = "gridbot:dialogue:"


class DialogueStore:
    """Get, set and clear the dialogue state of one OpenID. ``ttl_s`` in seconds."""

    def __init__(self, redis: redis_lib.Redis, ttl_s: int) -> None:
        self.redis = redis
        self.ttl_s = ttl_s

    def get(self, openid: str) -> dict[str, Any] | None:
        raw = self.redis.get(PREFIX + openid)
        return json.loads(raw) if raw else None

    def set(self, openid: str, state: dict[str, Any]) -> None:
        self.redis.set(PREFIX + openid, json.dumps(state, ensure_ascii=False), ex=self.ttl_s)

    def clear(self, openid: str) -> None:
        self.redis.delete(PREFIX + openid)
