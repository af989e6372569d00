"""SLA timers on the real job queue: two arq workers on the same Redis never fire a timer
twice; deferred jobs fire on time; a flushed Redis loses no timer (the sweep fires it)."""

from __future__ import annotations

import asyncio
from datetime import datetime

import arq.worker
from arq.worker import Worker
from sqlmodel import Session, func, select

from bot import jobs_sla
from services.tickets import NewTicket, Reporter, open_ticket
from storage.models import (
    GridWorker,
    Outbox,
    Resident,
    Role,
    TicketEvent,
    TicketTimer,
)
from storage.redis import arq_pool, is_memory
from storage.sla import Due, job_id
from storage.times import SHANGHAI, FrozenClock, as_utc
from tests.org_support import org


def at(text: str) -> datetime:
    return as_utc(datetime.fromisoformat(text).replace(tzinfo=SHANGHAI))


def seed(engine, tickets: int) -> None:
    """One grid with a worker, a leader and a community admin; ``tickets`` open tickets
    reported on Monday 2026-11-23 09:00 (response due 10:00)."""
    with Session(engine) as s:
        town = org(s, {"幸福新社区": {"G01": [1]}})
        community, grid, building = town.community(), town.grid("G01"), town.building(1)
        s.add_all([
            GridWorker(openid="oW1", name="王芳", grid_id=grid.id, community_id=community.id),
            GridWorker(openid="oL1", name="李强", role=Role.GRID_LEADER, grid_id=grid.id,
                       community_id=community.id),
            GridWorker(openid="oA1", name="赵敏", role=Role.COMMUNITY_ADMIN,
                       community_id=community.id),
        ])
        s.flush()
        for i in range(tickets):
            resident = Resident(openid=f"oR{i}", building_id=building.id, unit=1, room=f"{i}01")
            s.add(resident)
            s.flush()
            open_ticket(s, Reporter.of(resident), NewTicket(kind="repair", category="楼道灯",
                                               description="楼道灯坏了"), at("2026-11-23 09:00"))
        s.commit()


async def run_workers(redis_url: str, engine, clock, count: int = 2) -> None:
    """``count`` arq workers in burst mode on the same Redis, concurrently, until idle."""
    if is_memory(redis_url):  # fakeredis has no INFO, which arq only logs at start-up
        async def _no_info(*_args, **_kwargs) -> None:
            return None

        arq.worker.log_redis_info = _no_info
    workers = []
    for _ in range(count):
        pool = await arq_pool(redis_url)
        workers.append(Worker(functions=jobs_sla.FUNCTIONS, redis_pool=pool, burst=True,
                              handle_signals=False, poll_delay=0.05, max_jobs=8,
                              ctx={"engine": engine, "clock": clock}))
    try:
        await asyncio.gather(*(w.main() for w in workers))
    finally:
        for w in workers:
            await w.close()


def counts(engine) -> tuple[int, int, int]:
    with Session(engine) as s:
        fired = sum(len(steps) for steps in s.exec(select(TicketTimer.fired)))
        events = s.exec(select(func.count()).select_from(TicketEvent)
                        .where(TicketEvent.kind == "supervise")).one()
        pushes = s.exec(select(func.count()).select_from(Outbox)
                        .where(Outbox.event.like("supervise%"))).one()
    return fired, events, pushes


def test_two_workers_never_fire_a_timer_twice(clean_db, redis, redis_url):
    seed(clean_db, tickets=5)
    clock = FrozenClock(at("2026-11-23 12:30"))  # warn, L1, L2, remind1, remind2 are due
    with Session(clean_db) as s:  # one timer row per ticket, at its next step (the warning)
        due = [(t.ticket_id, Due(t.cycle, t.step, as_utc(t.due_at)))
               for t in s.exec(select(TicketTimer).where(TicketTimer.due_at <= clock()))]
    assert len(due) == 5 and {d.step for _, d in due} == {"response:warn"}

    async def enqueue_and_run() -> None:
        pool = await arq_pool(redis_url)
        for ticket_id, d in due:  # queued twice by two sweepers: arq keeps one job per id
            assert await pool.enqueue_job("fire_timer", ticket_id, d.token,
                                          _job_id=job_id(ticket_id, d))
            assert await pool.enqueue_job("fire_timer", ticket_id, d.token,
                                          _job_id=job_id(ticket_id, d)) is None
            # and a replay under another id races the first on purpose
            await pool.enqueue_job("fire_timer", ticket_id, d.token, _job_id=f"replay:{ticket_id}")
        await pool.enqueue_job("sweep_timers", _job_id="sweep:a")
        await pool.enqueue_job("sweep_timers", _job_id="sweep:b")
        await pool.aclose()
        await run_workers(redis_url, clean_db, clock)

    asyncio.run(enqueue_and_run())
    assert counts(clean_db) == (25, 25, 25)
    with Session(clean_db) as s:
        pairs = list(s.exec(select(TicketEvent.ticket_id, TicketEvent.note)
                            .where(TicketEvent.kind == "supervise")))
    assert len(set(pairs)) == 25


def test_sweep_queues_deferred_jobs_and_survives_a_redis_flush(clean_db, redis, redis_url,
                                                              flush_redis):
    seed(clean_db, tickets=2)
    clock = FrozenClock(at("2026-11-23 09:47:59"))  # 1 s before the warnings

    async def scenario() -> tuple[int, int, dict]:
        pool = await arq_pool(redis_url)
        queued = await jobs_sla.schedule(clean_db, pool, clock)
        assert await jobs_sla.schedule(clean_db, pool, clock) == 0  # stamped: not again
        clock.advance(1)
        await run_workers(redis_url, clean_db, clock, count=2)
        fired_warn = counts(clean_db)[0]
        # the next steps are queued, then Redis is flushed: the sweep still fires them
        clock.advance(12 * 60 - 30)  # 09:59:30, L1 at 10:00 within the horizon
        assert await jobs_sla.schedule(clean_db, pool, clock) == 2
        flush_redis()
        clock.advance(30)
        result = await jobs_sla.sweep_timers({"engine": clean_db, "clock": clock, "redis": pool})
        await pool.aclose()
        return queued, fired_warn, result

    queued, fired_warn, result = asyncio.run(scenario())
    assert (queued, fired_warn) == (2, 2)
    assert result["fired"] == 2
    assert counts(clean_db) == (4, 4, 4)
