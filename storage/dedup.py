"""Retry de-duplication of WeChat deliveries, shared by every web process through Redis.

WeChat retries a push up to three times when it has no answer within 5 s, with the same
MsgId (events: FromUserName + CreateTime). The first delivery claims the key; a retry that
arrives while the first is still working waits for its reply; a later retry gets the stored
reply at once. The database's unique ``InboundMessage.dedup_key`` is the backstop when Redis
has been flushed or is unavailable: then every call here is a no-op that logs, never an
error that would lose the message.

Source: developers.weixin.qq.com/doc/offiaccount/Message_Management/Receiving_standard_messages.html
"""

from __future__ import annotations

import logging
import time

import redis as redis_lib
from redis.exceptions import RedisError
from wechatpy.messages import BaseMessage

log = logging.getLogger("gridbot.dedup")

PENDING = b"\x00pending"
PREFIX = "gridbot:seen:"


def dedup_key(message: BaseMessage) -> str:
    """Identity of one WeChat delivery: "msg:<MsgId>", or for events
    "evt:<FromUserName>:<CreateTime>:<Event>:<EventKey>".

    CreateTime is Unix seconds. WeChat identifies event retries by FromUserName + CreateTime;
    the event type and key are added so two different events of one user in the same second
    (a menu click and an unsubscribe) stay two. Raises ValueError if neither MsgId nor
    CreateTime is present.
    """
    msg_id = getattr(message, "id", None)
    if msg_id:
        return f"msg:{msg_id}"
    created = message._data.get("CreateTime")
    if not created:
        raise ValueError("delivery has neither MsgId nor CreateTime")
    event = message._data.get("Event") or ""
    key = message._data.get("EventKey") or ""
    return f"evt:{message.source}:{created}:{event}:{key}"


class RetryGuard:
    """Shares the replies of claimed deliveries across processes (``storage.gate`` claims).

    ``ttl_s``: how long a delivery's key is kept (seconds). ``wait_s``: how long a concurrent
    retry waits for the first delivery's reply before answering empty (seconds).
    """

    def __init__(self, redis: redis_lib.Redis, ttl_s: int, wait_s: float, poll_s: float = 0.02):
        self.redis = redis
        self.ttl_s = ttl_s
        self.wait_s = wait_s
        self.poll_s = poll_s

    def reply_of(self, key: str) -> str | None:
        """The reply stored for ``key``, waiting up to ``wait_s`` while it is still pending.

        Returns None when the first delivery has not finished in time, was released, or
        Redis is unavailable.
        """
        deadline = time.monotonic() + self.wait_s
        while True:
            try:
                value = self.redis.get(PREFIX + key)
            except RedisError as exc:
                log.warning("retry guard unavailable reading %s: %s", key, exc)
                return None
            if value is not None and value != PENDING:
                return value.decode()
            if value is None or time.monotonic() >= deadline:
                return None
            time.sleep(self.poll_s)

    def store(self, key: str, reply: str) -> None:
        """Record the reply text sent for ``key`` (kept ``ttl_s`` seconds). Only replies to
        messages that were kept are stored: an error reply is never an answer to retries."""
        try:
            self.redis.set(PREFIX + key, reply.encode(), ex=self.ttl_s)
        except RedisError as exc:
            log.warning("could not store the reply of %s: %s", key, exc)

    def release(self, key: str) -> None:
        """Forget a claim whose handling failed, so WeChat's next retry is handled afresh."""
        try:
            self.redis.delete(PREFIX + key)
        except RedisError as exc:
            log.warning("could not release %s: %s", key, exc)
