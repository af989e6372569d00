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
        """Enqueue ONE ``relay`` job for the outbox rows of one change (job id "relay:<first
        id>", so queued at most once), giving up after ``timeout_s`` seconds.

        Never raises: a failed or timed-out enqueue is logged and left to the sweep.
        """
        ids = list(outbox_ids)
        if not ids:
            return
        try:
            async with asyncio.timeout(self.timeout_s):
                await self.pool.enqueue_job("relay", *ids, _job_id=f"relay:{ids[0]}")
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("could not enqueue relay of outbox rows %s (%s: %s); the sweep will",
                        ids, type(exc).__name__, exc)
