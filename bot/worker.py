"""The worker process (arq on Redis): relays the push outbox and runs timed work.

Jobs read what they need from ``ctx`` ("settings", "engine", "pusher", "clock"), built once
in ``startup``. Several worker processes may run on several hosts: arq hands each job to one
of them, and the outbox rows are locked while they are sent.

``FUNCTIONS`` and ``CRON_JOBS`` list every job, as arq's ``WorkerSettings`` would.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import arq.worker
from arq import cron
from arq.worker import Worker, func

from bot import jobs_services, jobs_sla
from bot.push import Pusher
from bot.relay import relay_due, relay_one
from bot.settings import Settings
from storage.db import make_engine
from storage.redis import arq_pool, is_memory, sync_client
from storage.times import Clock, utcnow

log = logging.getLogger("gridbot.worker")


async def relay(ctx: dict[str, Any], outbox_id: int) -> str:
    """Send one outbox row now (enqueued by the webhook right after its commit)."""
    return await asyncio.to_thread(relay_one, ctx["engine"], outbox_id, ctx["pusher"], ctx["clock"])


async def sweep_outbox(ctx: dict[str, Any]) -> int:
    """Send every due row: retries after backoff, and rows whose nudge was lost."""
    return await asyncio.to_thread(relay_due, ctx["engine"], ctx["pusher"], ctx["clock"])


FUNCTIONS = [func(relay, name="relay", keep_result=0, max_tries=1), *jobs_sla.FUNCTIONS,
             *jobs_services.FUNCTIONS]
CRON_JOBS = [cron(sweep_outbox, second=set(range(0, 60, 10)), unique=True, run_at_startup=True),
             *jobs_sla.CRON_JOBS, *jobs_services.CRON_JOBS]


def build_context(settings: Settings, clock: Clock = utcnow, engine: Any = None) -> dict[str, Any]:
    """The ctx every job reads: settings, engine, pusher (WeChat clients) and clock."""
    return {
        "settings": settings,
        "engine": engine or make_engine(settings.database_url),
        "pusher": Pusher(settings, sync_client(settings.redis_url)),
        "clock": clock,
    }


async def build_worker(settings: Settings, ctx: dict[str, Any], burst: bool = False) -> Worker:
    """An arq Worker on ``settings.redis_url`` with every job of this module."""
    if is_memory(settings.redis_url):
        # fakeredis has no INFO command, which arq only logs at start-up.
        async def _no_info(*_args: Any, **_kwargs: Any) -> None:
            return None

        arq.worker.log_redis_info = _no_info
    pool = await arq_pool(settings.redis_url)
    return Worker(
        functions=FUNCTIONS, cron_jobs=CRON_JOBS, redis_pool=pool, ctx=ctx, burst=burst,
        handle_signals=False, poll_delay=0.2, keep_result=60,
    )


async def run(settings: Settings, clock: Clock = utcnow, engine: Any = None) -> None:
    """Run the worker until cancelled (``gridbot worker``, or inside ``gridbot serve``)."""
    worker = await build_worker(settings, build_context(settings, clock, engine))
    log.info("worker started on %s", settings.redis_url)
    try:
        await worker.main()
    finally:
        await worker.close()
