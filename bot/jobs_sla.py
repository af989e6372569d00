"""SLA timer jobs for the arq worker: fire one ticket's timer step, and the periodic sweep
that queues upcoming steps and fires any that are overdue.

Design (the database is the source of truth, Redis only makes timers punctual):

1. A ticket change points its timer (one ``TicketTimer`` row per ticket: the next due step,
   ``storage.sla.plan``) in the same transaction as the change — never lost, never ahead
   of the commit.
2. ``sweep_timers`` (cron, every ``SWEEP_EVERY_S`` s, ``unique``) queues each timer whose
   step is due within ``HORIZON_S`` as the job ``fire_timer(ticket_id, token)`` deferred to
   its due time, with ``_job_id="timer:<ticket id>:<cycle>:<step>:<due µs>"``
   (``storage.sla.job_id``) — arq refuses a second job with the same id, so several
   sweepers queue it once, while a re-planned or advanced timer gets a fresh id — and
   stamps ``enqueued_at`` if the row still holds that step.
3. ``fire_timer`` fires the step at most once (``services.escalation.fire`` locks the ticket
   and its timer row and checks the row still holds the job's token): a re-run, a second
   worker or a job of a re-planned timer does nothing.
4. The sweep also fires every timer already due. A step whose job vanished (Redis flushed,
   worker killed) fires on the next sweep, at most ``SWEEP_EVERY_S`` seconds late.

Both jobs read ``ctx["engine"]`` and ``ctx["clock"]`` (aware UTC); ``ctx["redis"]`` is the
worker's ArqRedis. A re-planned timer's old job is not removed from Redis: it finds its
token changed and returns "stale".
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
from sqlalchemy import Engine, tuple_
from sqlmodel import Session, col, select

from services.escalation import due_timer_ids, fire
from storage.models import TicketTimer
from storage.sla import Due, job_id
from storage.times import Clock, as_utc

log = logging.getLogger("gridbot.jobs_sla")
SWEEP_EVERY_S = 30
HORIZON_S = 120
"""Timers due within this many seconds are queued as deferred jobs by each sweep."""


async def fire_timer(ctx: dict[str, Any], ticket_id: int, token: str) -> str:
    """Fire the step ``token`` (``storage.sla.Due.token``) of ticket ``ticket_id``'s timer;
    returns the steps fired ("response:warn", "response:L2,response:remind1") or "stale"."""
    steps = await asyncio.to_thread(fire, ctx["engine"], ticket_id, ctx["clock"], token)
    return ",".join(steps) or "stale"


async def sweep_timers(ctx: dict[str, Any]) -> dict[str, int]:
    """Fire overdue timers, then queue the steps due within ``HORIZON_S``.

    Returns counts: {"fired": steps fired, "queued": jobs queued}.
    """
    engine, clock = ctx["engine"], ctx["clock"]
    fired = 0
    for ticket_id in await asyncio.to_thread(due_timer_ids, engine, clock()):
        fired += len(await asyncio.to_thread(fire, engine, ticket_id, clock))
    queued = await schedule(engine, ctx["redis"], clock)
    return {"fired": fired, "queued": queued}


def _upcoming(engine: Engine, clock: Clock) -> list[tuple[int, Due]]:
    """(ticket id, its next step) of timers not yet queued whose step is due within the
    horizon, soonest first."""
    now = clock()
    with Session(engine) as session:
        rows = session.exec(
            select(TicketTimer.ticket_id, TicketTimer.cycle, TicketTimer.step, TicketTimer.due_at)
            .where(col(TicketTimer.step).is_not(None), col(TicketTimer.enqueued_at).is_(None),
                   col(TicketTimer.due_at) <= now + timedelta(seconds=HORIZON_S))
            .order_by(TicketTimer.due_at)).all()
    return [(ticket_id, Due(cycle, step, as_utc(due))) for ticket_id, cycle, step, due in rows]


def _stamp(engine: Engine, queued: list[tuple[int, Due]], clock: Clock) -> None:
    """Mark the rows queued — only those still holding the queued step (a ticket change
    between the read and now re-planned the others, which the next sweep queues)."""
    timers = TicketTimer.__table__
    key = tuple_(timers.c.ticket_id, timers.c.cycle, timers.c.step, timers.c.due_at)
    with Session(engine) as session:
        session.exec(timers.update()
                     .where(key.in_([(t, d.cycle, d.step, d.due_at) for t, d in queued]))
                     .values(enqueued_at=clock()))
        session.commit()


async def schedule(engine: Engine, redis: ArqRedis, clock: Clock) -> int:
    """Queue ``fire_timer`` for each upcoming step (deferred to its due time); returns how
    many jobs were queued now. A failed enqueue is logged and left to the next sweep."""
    queued: list[tuple[int, Due]] = []
    now = clock()
    for ticket_id, due in await asyncio.to_thread(_upcoming, engine, clock):
        delay_s = max((due.due_at - now).total_seconds(), 0.0)
        try:
            job = await redis.enqueue_job("fire_timer", ticket_id, due.token,
                                          _job_id=job_id(ticket_id, due),
                                          _defer_by=timedelta(seconds=delay_s))
        except (RedisError, OSError):
            log.exception("could not queue the timer of ticket %s; the sweep will fire it",
                          ticket_id)
            continue
        queued.append((ticket_id, due))
        if job is None:
            log.debug("timer %s was queued already", job_id(ticket_id, due))
    if queued:
        await asyncio.to_thread(_stamp, engine, queued, clock)
    return len(queued)


FUNCTIONS = [
    func(fire_timer, name="fire_timer", keep_result=0, max_tries=3),
    func(sweep_timers, name="sweep_timers", keep_result=0, max_tries=1),
]
CRON_JOBS = [cron(sweep_timers, name="cron:sweep_timers",
                  second=set(range(0, 60, SWEEP_EVERY_S)), unique=True, run_at_startup=True)]
