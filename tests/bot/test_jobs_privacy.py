"""Unsubscribe: the resident's own rows are scrubbed in the webhook's transaction; everyone
else's rows mentioning them are swept by the worker's ``privacy_sweep`` job, from a durable
``privacy_sweep`` row that survives a crash and is gone once the sweep commits."""

from __future__ import annotations

import asyncio
import logging

import arq.worker
import pytest
from arq import cron
from arq.worker import Worker
from sqlmodel import Session, select

from bot import jobs_privacy
from services import privacy
from storage.db import session_scope
from storage.forgetting import PrivacySweep
from storage.models import InboundMessage, Resident, Ticket, TicketEvent
from storage.redis import arq_pool, is_memory
from tests.privacy_support import as_text, dump, where_found

A = "oXq7w1Kd3mZ0pA9bT4rC6yL2nV8sE5"
PHONE = "13912345678"
NEEDLES = [A, PHONE, "3号楼2单元1702"]


def _report_then_unsubscribe(chat) -> int:
    """A reports a leak with address and phone; the grid worker's 办结 message quotes the
    phone (the worker's own row); A unsubscribes. Returns A's resident id."""
    assert "GD20261122-0001" in chat.say(A, f"3号楼2单元1702 厨房漏水了 电话{PHONE}")
    chat.say("worker-g1", "接单 GD20261122-0001")
    chat.say("worker-g1", f"办结 GD20261122-0001 已电话{PHONE}联系，更换水管")
    with Session(chat.engine) as s:
        resident_id = s.exec(select(Resident.id).where(Resident.openid == A)).one()
    assert chat.event(A, "unsubscribe") == ""
    return resident_id


def _own_rows_hold(engine, resident_id: int) -> list[str]:
    """Needles still in rows about the resident: their inbound messages, pushes, tickets
    and their tickets' timeline."""
    anon = privacy.marker(resident_id)
    data = dump(engine)
    own_tickets = {t["id"] for t in data["ticket"] if t["resident_id"] == resident_id}
    rows = [*(r for r in data["inboundmessage"] if r["openid"] == anon),
            *(r for r in data["outbox"] if r["openid"] == anon or r["ticket_id"] in own_tickets),
            *(r for r in data["ticket"] if r["id"] in own_tickets),
            *(r for r in data["ticketevent"] if r["ticket_id"] in own_tickets),
            *(r for r in data["resident"] if r["id"] == resident_id)]
    return [n for r in rows for v in r.values() if (t := as_text(v)) for n in NEEDLES if n in t]


def _staff_message(engine) -> InboundMessage:
    with Session(engine) as s:
        return s.exec(select(InboundMessage).where(InboundMessage.openid == "worker-g1",
                                                   InboundMessage.content.contains("办结"))).one()


def _run_job(engine, clock) -> dict[str, int]:
    return asyncio.run(jobs_privacy.privacy_sweep({"engine": engine, "clock": clock}))


def test_own_rows_at_once_others_rows_after_the_job(chat, clock):
    resident_id = _report_then_unsubscribe(chat)

    assert _own_rows_hold(chat.engine, resident_id) == []
    assert PHONE in _staff_message(chat.engine).content  # others' rows wait for the worker
    with Session(chat.engine) as s:
        [sweep] = s.exec(select(PrivacySweep)).all()
        assert sweep.resident_id == resident_id and [A, privacy.marker(resident_id)] in sweep.swaps

    assert _run_job(chat.engine, clock) == {"swept": 1, "pushes": 0}

    assert where_found(chat.engine, NEEDLES) == {}
    assert _staff_message(chat.engine).content == f"办结 GD20261122-0001 已电话{privacy.MASK}联系，更换水管"
    with Session(chat.engine) as s:
        assert s.exec(select(PrivacySweep)).all() == []
        ticket = s.exec(select(Ticket)).one()
        assert ticket.status == "resolved" and ticket.resident_id == resident_id  # statistics stay
        assert s.exec(select(TicketEvent.kind).where(TicketEvent.kind == "resolved")).all()


def test_the_job_run_twice_is_harmless(chat, clock):
    _report_then_unsubscribe(chat)
    assert _run_job(chat.engine, clock)["swept"] == 1
    after_first = dump(chat.engine)
    assert _run_job(chat.engine, clock) == {"swept": 0, "pushes": 0}
    assert dump(chat.engine) == after_first


def test_a_crash_mid_sweep_leaves_the_marker_and_a_restarted_worker_finishes(
        chat, clock, redis_url, caplog, flush_redis):
    _report_then_unsubscribe(chat)
    with Session(chat.engine) as s:
        [sweep_id] = privacy.pending_sweeps(s)
    with session_scope(chat.engine) as s:
        assert privacy.note_attempt(s, sweep_id, clock()) == 1
    crashed = Session(chat.engine)
    assert privacy.run_sweep(crashed, sweep_id) == 0  # swept, not committed …
    crashed.close()  # … when the process died: the transaction is rolled back

    assert PHONE in _staff_message(chat.engine).content
    with Session(chat.engine) as s:
        sweep = s.get(PrivacySweep, sweep_id)
        assert sweep is not None and sweep.attempts == 1 and sweep.last_attempt_at is not None

    # the restart finds the work in the database alone: Redis lost everything (and no queued
    # relay job of the conversation, which this worker does not run, is left to fail)
    flush_redis()
    with caplog.at_level(logging.WARNING, logger="gridbot.jobs_privacy"):
        asyncio.run(_start_worker(redis_url, chat.engine, clock))

    assert where_found(chat.engine, NEEDLES) == {}
    with Session(chat.engine) as s:
        assert s.exec(select(PrivacySweep)).all() == []
    assert f"privacy sweep {sweep_id}: try 2" in caplog.text


def test_a_sweep_another_worker_holds_is_skipped(chat, clock, engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("row locks (FOR UPDATE SKIP LOCKED) are PostgreSQL's")
    _report_then_unsubscribe(chat)
    with Session(chat.engine) as holder:
        [sweep_id] = privacy.pending_sweeps(holder)
        holder.exec(select(PrivacySweep).where(PrivacySweep.id == sweep_id).with_for_update()).one()
        with Session(chat.engine) as other:
            assert privacy.run_sweep(other, sweep_id) is None
            other.rollback()
        holder.rollback()
    assert PHONE in _staff_message(chat.engine).content
    assert _run_job(chat.engine, clock)["swept"] == 1


def test_forgetting_requests_no_sweep_when_nothing_is_known(community, clock):
    with session_scope(community) as s:
        resident = Resident(openid=None)
        s.add(resident)
        s.flush()
        assert privacy.forget_resident(s, resident, clock())["sweep requested"] == 0
        assert privacy.pending_sweeps(s) == []


def test_the_worker_runs_the_sweep_every_few_seconds_and_at_start_up():
    [job] = [c for c in jobs_privacy.CRON_JOBS if c.name == "cron:privacy_sweep"]
    assert job.run_at_startup and job.unique
    assert job.second == set(range(3, 60, jobs_privacy.SWEEP_EVERY_S))
    from bot.worker import CRON_JOBS, FUNCTIONS

    assert "privacy_sweep" in {f.name for f in FUNCTIONS}
    assert "cron:privacy_sweep" in {c.name for c in CRON_JOBS}


async def _start_worker(redis_url: str, engine, clock) -> None:
    """A freshly started arq worker (burst mode) with the privacy job and its cron: the
    start-up run finds the leftover sweep."""
    if is_memory(redis_url):  # fakeredis has no INFO, which arq only logs at start-up
        async def _no_info(*_args, **_kwargs) -> None:
            return None

        arq.worker.log_redis_info = _no_info
    pool = await arq_pool(redis_url)
    worker = Worker(functions=jobs_privacy.FUNCTIONS, redis_pool=pool, burst=True,
                    cron_jobs=[cron(jobs_privacy.privacy_sweep, name="cron:privacy_sweep",
                                    second=59, microsecond=0, run_at_startup=True, unique=True)],
                    handle_signals=False, poll_delay=0.05, ctx={"engine": engine, "clock": clock})
    try:
        await worker.main()
    finally:
        await worker.close()
    assert worker.jobs_complete == 1, (worker.jobs_complete, worker.jobs_failed)
