"""SLA timers are one row per ticket (its next due step), planned by one upsert with no read
(issue 9, a lean request: it was 3 statements and 14 rows on a new ticket)."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlmodel import Session, func, select

from services import tickets as lifecycle
from services.escalation import fire
from services.tickets import NewTicket, Reporter, open_ticket
from storage import sla
from storage.models import GridWorker, Resident, Ticket, TicketTimer
from storage.times import FrozenClock, as_utc
from tests.bot.test_jobs_sla import at, seed
from tests.conftest import counting


@pytest.fixture
def plans(clean_db, monkeypatch) -> list[list[str]]:
    """The statements of each ``sla.plan`` call (pending ticket changes flushed first, so
    only the timer's own statements are counted)."""
    seen: list[list[str]] = []
    real = sla.plan

    def counted(session: Session, ticket: Ticket, now: datetime, cfg=None) -> None:
        session.flush()
        with counting(clean_db) as statements:
            real(session, ticket, now, cfg)
        seen.append(statements)

    monkeypatch.setattr(sla, "plan", counted)
    return seen


def timer(s: Session, ticket: Ticket) -> tuple[int, str | None, str | None, list[str]]:
    row = s.get(TicketTimer, ticket.id)
    s.refresh(row)
    return row.cycle, row.step, row.due_at and as_utc(row.due_at).isoformat(), row.fired


def test_plan_is_one_upsert_on_a_new_ticket_and_on_a_change(clean_db, plans):
    seed(clean_db, tickets=1)
    with Session(clean_db) as s:
        resident = s.exec(select(Resident)).first()
        worker = s.exec(select(GridWorker).where(GridWorker.openid == "oW1")).one()
        t = open_ticket(s, Reporter.of(resident), NewTicket(kind="repair", category="楼道灯",
                                               description="楼道灯又坏了"), at("2026-11-23 09:10"))
        s.commit()
        assert timer(s, t) == (0, "response:warn", at("2026-11-23 09:58").isoformat(), [])
        lifecycle.accept(s, t, worker, at("2026-11-23 09:20"))
        s.commit()
        assert timer(s, t)[1] == "resolve:warn"
        lifecycle.resolve(s, t, worker, "换了灯泡", at("2026-11-23 09:40"))
        s.commit()
        assert timer(s, t)[1] == "rating:autoclose"
        assert s.exec(select(func.count()).select_from(TicketTimer)).one() == 2  # seed's + t
    assert [len(p) for p in plans] == [1] * len(plans) and len(plans) >= 4
    assert all(p[0].lstrip().startswith("INSERT INTO tickettimer") and "ON CONFLICT" in p[0]
               for p in plans)


def test_fired_steps_are_skipped_by_the_upsert_and_a_reopen_starts_afresh(clean_db):
    seed(clean_db, tickets=1)
    clock = FrozenClock(at("2026-11-23 10:00"))  # warn (09:48) and L1 (10:00) are due
    with Session(clean_db) as s:
        t = s.exec(select(Ticket)).one()
    assert fire(clean_db, t.id, clock) == ["response:warn", "response:L1"]
    with Session(clean_db) as s:
        t = s.get(Ticket, t.id)
        assert timer(s, t) == (0, "response:L2", at("2026-11-23 11:00").isoformat(),
                               ["response:warn", "response:L1"])
        sla.plan(s, t, clock())  # a change that moves nothing: the fired steps stay skipped
        s.commit()
        assert timer(s, t)[1:] == ("response:L2", at("2026-11-23 11:00").isoformat(),
                                   ["response:warn", "response:L1"])
        worker = s.exec(select(GridWorker).where(GridWorker.openid == "oW1")).one()
        lifecycle.resolve(s, t, worker, "修好了", clock())
        resident = s.get(Resident, t.resident_id)
        lifecycle.rate(s, t, resident, 1, clock(), "没修好")  # reopened: a new SLA cycle
        s.commit()
        assert timer(s, t) == (1, "response:warn", at("2026-11-23 10:48").isoformat(), [])


def test_a_ticket_with_nothing_to_come_keeps_its_row_idle(clean_db):
    seed(clean_db, tickets=1)
    with Session(clean_db) as s:
        t = s.exec(select(Ticket)).one()
        worker = s.exec(select(GridWorker).where(GridWorker.openid == "oW1")).one()
        lifecycle.resolve(s, t, worker, "修好了", at("2026-11-23 09:30"))
        lifecycle.rate(s, t, s.get(Resident, t.resident_id), 5, at("2026-11-23 09:40"))
        s.commit()
        assert timer(s, t) == (0, None, None, [])
