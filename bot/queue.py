"""The web side of the job queue (arq on Redis): nudging the worker after a commit.

The outbox table is the source of truth; a nudge only makes the relay immediate. If a nudge
is lost (Redis flushed, enqueue failed), the worker's periodic sweep still sends the row.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from arq.connections import ArqRedis
from redis.exceptions import RedisError

log = logging.getLogger("gridbot.queue")


class JobQueue:
    """Enqueues worker jobs on ``pool`` (an ArqRedis)."""

    def __init__(self, pool: ArqRedis) -> None:
        self.pool = pool

    async def nudge(self, outbox_ids: Iterable[int]) -> None:
        """Enqueue ``relay`` for each outbox row (job id "relay:<id>", so at most once queued).

        Never raises: a failed enqueue is logged and left to the sweep.
        """
        for outbox_id in outbox_ids:
            try:
                await self.pool.enqueue_job("relay", outbox_id, _job_id=f"relay:{outbox_id}")
            except (RedisError, OSError):
                log.exception("could not enqueue relay of outbox row %s; the sweep will", outbox_id)
