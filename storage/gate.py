"""The one Redis round trip in front of every WeChat delivery: replay check, retry claim and
rate limit, done atomically by one Lua script.

1. Replay (plaintext mode only). The signature covers token + timestamp + nonce, not the
   body, so a signed URL seen in a log could carry any body within the timestamp window.
   ``<timestamp>:<nonce>`` is bound to the first delivery that used it (kept 2 × the window);
   the same URL with another delivery is a replay. ``InboundMessage.nonce_key`` (unique) is
   the database backstop. Safe mode needs none of it: ``msg_signature`` covers the body.
2. Retry claim (``storage.dedup``): the first delivery of a MsgId claims it; WeChat's
   retries are "retry".
3. Rate limit: a token bucket per OpenID, ``burst`` messages at once and ``per_minute``
   sustained; only new deliveries take a token.

Redis unavailable (down, frozen past its timeout): the verdict is "unknown" and nothing is
refused — the database's unique keys decide, and the message is worth more than the limit.

The script touches keys of several hash slots: use a single Redis or Sentinel, not Cluster.
Source: developers.weixin.qq.com/doc/offiaccount/Basic_Information/Access_Overview.html
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import redis as redis_lib
from redis.exceptions import RedisError

from storage.dedup import PENDING
from storage.dedup import PREFIX as SEEN_PREFIX

log = logging.getLogger("gridbot.gate")
NONCE_PREFIX = "gridbot:nonce:"
RATE_PREFIX = "gridbot:rate:"

_ADMIT = """
-- KEYS: seen, rate, nonce;  ARGV: pending, dedup ttl s, delivery, nonce ttl s (0: no check),
--       burst, tokens per s, now s
if tonumber(ARGV[4]) > 0 then
  local prev = redis.call('GET', KEYS[3])
  if prev and prev ~= ARGV[3] then return {'replay', 0} end
  if not prev then redis.call('SET', KEYS[3], ARGV[3], 'EX', ARGV[4]) end
end
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return {'retry', 1} end
local burst, rate, now = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local b = redis.call('HMGET', KEYS[2], 'tokens', 'at')
local tokens = tonumber(b[1]) or burst
local at = tonumber(b[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local allowed = 0
if tokens >= 1 then tokens = tokens - 1; allowed = 1 end
redis.call('HSET', KEYS[2], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[2], math.ceil((burst - tokens) / rate) + 1)
return {'new', allowed}
"""


def nonce_key(params: Mapping[str, str]) -> str:
    """"<timestamp>:<nonce>" of a push's query parameters."""
    return f"{params.get('timestamp', '')}:{params.get('nonce', '')}"


@dataclass(frozen=True)
class Verdict:
    """``state``: "new" (this process handles it), "retry" (seen before), "replay" (refuse)
    or "unknown" (Redis unavailable); ``allowed``: False when the OpenID is over its rate."""

    state: str
    allowed: bool = True


class Gate:
    """Admits deliveries; ``dedup_ttl_s``, ``nonce_ttl_s`` in seconds; ``burst`` messages,
    ``per_minute`` messages a minute per OpenID."""

    def __init__(self, redis: redis_lib.Redis, *, dedup_ttl_s: int, nonce_ttl_s: int,
                 burst: int, per_minute: float) -> None:
        self.dedup_ttl_s = dedup_ttl_s
        self.nonce_ttl_s = nonce_ttl_s
        self.burst = burst
        self.per_s = per_minute / 60.0
        self._admit = redis.register_script(_ADMIT)

    def admit(self, key: str, openid: str, nonce: str | None, now_s: float) -> Verdict:
        """The verdict for delivery ``key`` from ``openid``; ``nonce`` is ``nonce_key(params)``
        in plaintext mode, None in safe mode; ``now_s`` Unix seconds. Never raises."""
        keys = [SEEN_PREFIX + key, RATE_PREFIX + openid, NONCE_PREFIX + (nonce or "-")]
        args = [PENDING, self.dedup_ttl_s, key, self.nonce_ttl_s if nonce else 0,
                self.burst, self.per_s, now_s]
        try:
            state, allowed = self._admit(keys=keys, args=args)
        except RedisError as exc:
            log.warning("gate unavailable for %s (%s: %s); database backstop", key,
                        type(exc).__name__, exc)
            return Verdict("unknown")
        return Verdict(state.decode() if isinstance(state, bytes) else state, bool(allowed))
