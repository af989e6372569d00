"""The web side of the job queue (arq on Redis): nudging the worker after a commit.

The outbox table is the source of truth; a nudge only makes the relay immediate. If a nudge
is lost (Redis flushed, enqueue failed), the worker's periodic sweep still sends the row.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from arq.connections import ArqRedis
from redis.exceptions import RedisError

log = logging.getLogger("gridbot.queue")


class JobQueue:
    """Enqueues worker jobs on ``pool`` (an ArqRedis)."""

    def __init__(self, pool: ArqRedis, timeout_s: float = 2.0) -> None:
        self.pool = pool
        self.timeout_s = timeout_s

    async def nudge(self, outbox_ids: Iterable[int]) -> None:
        """Enqueue ``relay`` for each outbox row (job id "relay:<id>", so at most once queued),
        giving up after ``timeout_s`` seconds in all.

        Never raises: a failed or timed-out enqueue is logged and left to the sweep.
        """
        ids = list(outbox_ids)
        try:
            async with asyncio.timeout(self.timeout_s):
                for outbox_id in ids:
                    await self.pool.enqueue_job("relay", outbox_id, _job_id=f"relay:{outbox_id}")
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("could not enqueue relay of outbox rows %s (%s: %s); the sweep will",
                        ids, type(exc).__name__, exc)
