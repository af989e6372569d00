"""SLA timer jobs for the arq worker: fire one timer, and the periodic sweep that queues
upcoming timers and fires any that are overdue.

Design (the database is the source of truth, Redis only makes timers punctual):

1. A ticket change writes its timers (``TicketTimer`` rows, ``storage.sla.plan``) in the
   same transaction as the change — never lost, never ahead of the commit.
2. ``sweep_timers`` (cron, every ``SWEEP_EVERY_S`` s, ``unique``) queues each pending timer
   due within ``HORIZON_S`` as the job ``fire_timer(timer_id)`` deferred to its due time,
   with ``_job_id="timer:<id>"`` — arq refuses a second job with the same id, so several
   sweepers queue it once — and stamps ``enqueued_at``.
3. ``fire_timer`` fires the timer at most once (``handlers.escalation.fire`` locks the ticket
   and the timer and checks the row is still pending): a re-run, a second worker or a job of
   a cancelled timer does nothing.
4. The sweep also fires every pending timer already due. A timer whose job vanished (Redis
   flushed, worker killed) fires on the next sweep, at most ``SWEEP_EVERY_S`` seconds late.

Both jobs read ``ctx["engine"]`` and ``ctx["clock"]`` (aware UTC); ``ctx["redis"]`` is the
worker's ArqRedis. Timers are cancelled by state only: the queued job of a cancelled timer
finds it not pending and returns "already".
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from arq import cron
from arq.connections import ArqRedis
from arq.worker import func
from redis.exceptions import RedisError
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from handlers.escalation import Outcome, due_timer_ids, fire
from storage.models import TicketTimer, TimerState
from storage.sla import job_id
from storage.times import Clock, as_utc

log = logging.getLogger("gridbot.jobs_sla")
SWEEP_EVERY_S = 30
HORIZON_S = 120
"""Timers due within this many seconds are queued as deferred jobs by each sweep."""


async def fire_timer(ctx: dict[str, Any], timer_id: int) -> str:
    """Fire timer ``timer_id`` (job id "timer:<id>"); returns a ``handlers.escalation.Outcome``."""
    return await asyncio.to_thread(fire, ctx["engine"], timer_id, ctx["clock"])


async def sweep_timers(ctx: dict[str, Any]) -> dict[str, int]:
    """Fire overdue timers, then queue the ones due within ``HORIZON_S``.

    Returns counts: {"fired": n, "queued": m}.
    """
    engine, clock = ctx["engine"], ctx["clock"]
    fired = 0
    for timer_id in await asyncio.to_thread(due_timer_ids, engine, clock()):
        if await asyncio.to_thread(fire, engine, timer_id, clock) == Outcome.FIRED:
            fired += 1
    queued = await schedule(engine, ctx["redis"], clock)
    return {"fired": fired, "queued": queued}


def _upcoming(engine: Engine, clock: Clock) -> list[tuple[int, float]]:
    """(timer id, seconds until due) of pending, not yet queued timers due within the horizon."""
    now = clock()
    with Session(engine) as session:
        rows = session.exec(
            select(TicketTimer.id, TicketTimer.due_at)
            .where(TicketTimer.state == TimerState.PENDING,
                   col(TicketTimer.enqueued_at).is_(None),
                   TicketTimer.due_at <= now + timedelta(seconds=HORIZON_S))
            .order_by(TicketTimer.due_at)).all()
    return [(timer_id, max((as_utc(due) - now).total_seconds(), 0.0)) for timer_id, due in rows]


def _stamp(engine: Engine, ids: list[int], clock: Clock) -> None:
    with Session(engine) as session:
        session.exec(update(TicketTimer).where(col(TicketTimer.id).in_(ids))
                     .values(enqueued_at=clock()))
        session.commit()


async def schedule(engine: Engine, redis: ArqRedis, clock: Clock) -> int:
    """Queue ``fire_timer`` for each upcoming timer (deferred to its due time); returns how
    many jobs were queued now. A failed enqueue is logged and left to the next sweep."""
    queued: list[int] = []
    for timer_id, delay_s in await asyncio.to_thread(_upcoming, engine, clock):
        try:
            job = await redis.enqueue_job("fire_timer", timer_id, _job_id=job_id(timer_id),
                                          _defer_by=timedelta(seconds=delay_s))
        except (RedisError, OSError):
            log.exception("could not queue timer %s; the sweep will fire it", timer_id)
            continue
        queued.append(timer_id)
        if job is None:
            log.debug("timer %s was queued already", timer_id)
    if queued:
        await asyncio.to_thread(_stamp, engine, queued, clock)
    return len(queued)


FUNCTIONS = [
    func(fire_timer, name="fire_timer", keep_result=0, max_tries=3),
    func(sweep_timers, name="sweep_timers", keep_result=0, max_tries=1),
]
CRON_JOBS = [cron(sweep_timers, name="cron:sweep_timers",
                  second=set(range(0, 60, SWEEP_EVERY_S)), unique=True, run_at_startup=True)]
