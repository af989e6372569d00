"""How many Open311 POSTs one API key may make: ``per_minute`` in each clock minute and
``per_hour`` in each clock hour, counted in Redis.

Fixed windows: the counter keys carry the window's number (Unix seconds // window length) of
the caller's ``now``, so a new minute or hour starts a fresh count and a settable clock
(tests, the sandbox) moves the windows too; each key expires a little after its window.
A check and the counting are one Lua script (atomic across web processes): a POST is
counted only when it is let through, so refused attempts do not eat the hour's allowance.

Redis unavailable (down, frozen past its timeout): the POST is let through and a warning
logged, as ``storage.gate`` does for chat messages — a report is worth more than the limit.
The ``memory://`` backend (fakeredis) runs the script too.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime

from redis.exceptions import RedisError

log = logging.getLogger("gridbot.open311")

PREFIX = "gridbot:open311:posts"
MINUTE_S = 60
HOUR_S = 3600

_TAKE = """
-- KEYS: minute counter, hour counter;  ARGV: per minute, per hour, minute ttl s, hour ttl s
local m = tonumber(redis.call('GET', KEYS[1]) or '0')
local h = tonumber(redis.call('GET', KEYS[2]) or '0')
if m >= tonumber(ARGV[1]) then return 1 end
if h >= tonumber(ARGV[2]) then return 2 end
if redis.call('INCR', KEYS[1]) == 1 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
if redis.call('INCR', KEYS[2]) == 1 then redis.call('EXPIRE', KEYS[2], ARGV[4]) end
return 0
"""


@dataclass(frozen=True)
class Verdict:
    """``allowed``: whether the POST may go on; ``retry_after_s``: when refused, whole
    seconds until the full window ends (the HTTP Retry-After value), else 0."""

    allowed: bool
    retry_after_s: int = 0


class PostLimit:
    """The POST allowance of Open311 API keys over a sync Redis client (``app.state.redis``);
    ``per_minute`` and ``per_hour`` are POSTs per key (each ≥ 1)."""

    def __init__(self, redis: object, per_minute: int, per_hour: int) -> None:
        if per_minute < 1 or per_hour < 1:
            raise ValueError("Open311 POST limits must be at least 1")
        self.per_minute = per_minute
        self.per_hour = per_hour
        self._take = redis.register_script(_TAKE)  # type: ignore[attr-defined]

    def take(self, key_id: int, now: datetime) -> Verdict:
        """Count one POST by API key ``key_id`` at ``now`` (aware UTC) if the key is within
        both limits. Returns the verdict; never raises (Redis unavailable: allowed)."""
        at = now.timestamp()
        minute, hour = int(at // MINUTE_S), int(at // HOUR_S)
        keys = [f"{PREFIX}:{key_id}:m:{minute}", f"{PREFIX}:{key_id}:h:{hour}"]
        try:
            full = int(self._take(keys=keys, args=[self.per_minute, self.per_hour,
                                                   MINUTE_S + 60, HOUR_S + 60]))
        except RedisError as exc:
            log.warning("open311 post limit unavailable for key %s (%s: %s); not applied",
                        key_id, type(exc).__name__, exc)
            return Verdict(True)
        if full == 0:
            return Verdict(True)
        window = MINUTE_S if full == 1 else HOUR_S
        ends = (minute + 1) * MINUTE_S if full == 1 else (hour + 1) * HOUR_S
        return Verdict(False, max(1, min(window, math.ceil(ends - at))))
