"""Timed work of the lending and care services, as arq jobs of the worker process.

- ``lending_tick`` (cron, every minute): expires reservations not collected in time and
  offers their units to the next resident in the queue; sends the due-date reminders (the
  day before, on the day, then once a day while overdue, ``OVERDUE_REMINDERS`` times).
- ``care_tick`` (cron, every minute): expires place offers not confirmed in time and offers
  the place to the next family; sends the reminder the day before a child's first class.

Both are idempotent and safe with several workers: expiries re-check each row under its
lock (``services.lending``/``services.care``), and each reminder is claimed once in
``storage.reminders`` in the same transaction as its outbox row. Jobs read
``ctx["engine"]``, ``ctx["clock"]`` (aware UTC) and ``ctx["settings"]`` (timezone); the
database work runs in a thread (``asyncio.to_thread``). Pushes are outbox rows; the jobs
nudge the relay for them when ``ctx["redis"]`` (the worker's ArqRedis) is there, and the
outbox sweep sends them otherwise.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from arq import cron
from arq.worker import func
from redis.exceptions import RedisError
from sqlalchemy import Engine

from services import care_notify, lending_notify
from storage.db import session_scope
from storage.outbox import staged_ids

log = logging.getLogger("gridbot.jobs_services")


def _expire_then_remind(engine: Engine, label: str, expire: Callable[..., int],
                        remind: Callable[..., int], now: datetime, tz: str) -> dict[str, Any]:
    """Run ``expire`` then ``remind`` (each ``(session, now, tz) -> count``), each in its own
    transaction. Returns {"expired": n, "reminded": m, "outbox_ids": [...]}."""
    with session_scope(engine) as session:
        expired = expire(session, now, tz)
        ids = staged_ids(session)
    with session_scope(engine) as session:
        reminded = remind(session, now, tz)
        ids += staged_ids(session)
    if expired or reminded:
        log.info("%s: %d expired, %d reminders", label, expired, reminded)
    return {"expired": expired, "reminded": reminded, "outbox_ids": ids}


def run_lending(engine: Engine, now: datetime, tz: str = "Asia/Shanghai") -> dict[str, Any]:
    """Expire uncollected holds (the next in the queue is offered), then stage due-date
    reminders. Returns {"expired": n, "reminded": m, "outbox_ids": [...]}."""
    return _expire_then_remind(engine, "lending", lending_notify.expire_holds,
                               lending_notify.send_due_reminders, now, tz)


def run_care(engine: Engine, now: datetime, tz: str = "Asia/Shanghai") -> dict[str, Any]:
    """Expire unconfirmed place offers, then stage first-class reminders.
    Returns {"expired": n, "reminded": m, "outbox_ids": [...]}."""
    return _expire_then_remind(engine, "care", care_notify.expire_offers,
                               care_notify.send_first_class_reminders, now, tz)


async def _nudge(ctx: dict[str, Any], outbox_ids: list[int]) -> None:
    """Queue one relay job for the new outbox rows; on failure the outbox sweep sends them."""
    redis = ctx.get("redis")
    if redis is None:
        return
    if not outbox_ids:
        return
    try:
        await redis.enqueue_job("relay", *outbox_ids, _job_id=f"relay:{outbox_ids[0]}")
    except (RedisError, OSError):
        log.exception("could not enqueue relay of outbox rows %s; the sweep will", outbox_ids)


async def lending_tick(ctx: dict[str, Any]) -> dict[str, int]:
    """Lending expiries and reminders at ``ctx["clock"]()``; returns the counts."""
    result = await asyncio.to_thread(run_lending, ctx["engine"], ctx["clock"](),
                                     ctx["settings"].timezone)
    await _nudge(ctx, result.pop("outbox_ids"))
    return result


async def care_tick(ctx: dict[str, Any]) -> dict[str, int]:
    """Care offer expiries and first-class reminders at ``ctx["clock"]()``; returns counts."""
    result = await asyncio.to_thread(run_care, ctx["engine"], ctx["clock"](),
                                     ctx["settings"].timezone)
    await _nudge(ctx, result.pop("outbox_ids"))
    return result


FUNCTIONS = [func(lending_tick, name="lending_tick", keep_result=0, max_tries=1),
             func(care_tick, name="care_tick", keep_result=0, max_tries=1)]
CRON_JOBS = [cron(lending_tick, second=5, unique=True, run_at_startup=True),
             cron(care_tick, second=35, unique=True, run_at_startup=True)]
"""Every minute (at :05 and :35 s past), once across all workers (arq ``unique``)."""
