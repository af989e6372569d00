"""Tickets (工单): numbering, the status machine, the timeline and the queries staff need.

This module changes rows and records timeline events; who is told what is decided in
``services/`` (``services.tickets``, ``services.notify``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from storage import Conflict, NotFound, numbers
from storage.models import DailyCounter, Ticket, TicketEvent, TicketStatus
from storage.times import local

S = TicketStatus
_WORK = (S.ASSIGNED, S.ACCEPTED, S.IN_PROGRESS, S.WAITING_RESIDENT, S.RESOLVED, S.CANCELLED,
         S.REJECTED)
ALLOWED: dict[str, tuple[str, ...]] = {
    S.SUBMITTED: (S.ASSIGNED, S.CANCELLED, S.REJECTED),
    S.ASSIGNED: _WORK,  # assigned → assigned: transferred (转派) again
    S.ACCEPTED: _WORK,
    S.IN_PROGRESS: tuple(s for s in _WORK if s != S.ACCEPTED),
    S.WAITING_RESIDENT: (S.IN_PROGRESS, S.ASSIGNED, S.RESOLVED, S.CANCELLED, S.REJECTED),
    S.RESOLVED: (S.CLOSED, S.REOPENED),
    S.REOPENED: _WORK,
    S.CLOSED: (S.REOPENED,),  # 不满意 within the reopen window
    S.CANCELLED: (),
    S.REJECTED: (),
}
"""Allowed status changes: from → (to, …)."""


NUMBER_FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION gridbot_next_number(prefix text, day text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  seq text := 'gridbot_seq_' || lower(prefix) || '_' || day;
BEGIN
  IF to_regclass(quote_ident(seq)) IS NULL THEN
    BEGIN  -- the first number of the day creates the day's sequence
      EXECUTE 'CREATE SEQUENCE IF NOT EXISTS ' || quote_ident(seq);
    EXCEPTION WHEN duplicate_table OR unique_violation THEN
      NULL;  -- a concurrent first report created it (IF NOT EXISTS is not race-free)
    END;
  END IF;
  RETURN nextval(quote_ident(seq));
END
$$;
"""
"""PostgreSQL function behind ``next_number``: one sequence per prefix and local day
(``gridbot_seq_gd_20261122``). Installed by the migrations and by ``storage.db.create_schema``."""


def next_number(session: Session, prefix: str, now: datetime, tz: str = "Asia/Shanghai") -> str:
    """The next people-facing number of the local day: "GD20261122-0007" (four digits at
    least; a busy day goes on to "…-10000").

    PostgreSQL: ``nextval`` of the day's sequence (``NUMBER_FUNCTION_SQL``) — one statement
    that locks nothing until commit, so reports in many processes never queue behind one
    counter row. A sequence is not rolled back: a report whose transaction fails leaves a gap
    in the day's numbers (documented; numbers are unique and increasing, not gapless).
    SQLite (embedded, one writer at a time): an upsert of the ``DailyCounter`` row.
    """
    day = local(now, tz).strftime("%Y%m%d")
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        value = session.execute(text("SELECT gridbot_next_number(:prefix, :day)"),
                                {"prefix": prefix, "day": day}).scalar_one()
        return numbers.number(prefix, day, value)
    stmt = sqlite_insert(DailyCounter).values(name=prefix, day=day, value=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=[DailyCounter.name, DailyCounter.day],
        set_={"value": DailyCounter.value + 1},
    ).returning(DailyCounter.value)
    value = session.exec(stmt).scalar_one()
    return numbers.number(prefix, day, value)


def by_number(session: Session, number: str, for_update: bool = False) -> Ticket:
    """The ticket with this number (case-insensitive). Raises NotFound."""
    query = select(Ticket).where(Ticket.number == number.strip().upper())
    if for_update:
        query = query.with_for_update()
    ticket = session.exec(query).first()
    if ticket is None:
        raise NotFound(number)
    return ticket


def record(session: Session, ticket: Ticket, kind: str, actor: str, now: datetime,
           note: str | None = None) -> TicketEvent:
    """Append one event to the ticket's timeline."""
    event = TicketEvent(ticket_id=ticket.id, kind=kind, actor=actor, note=note, at=now)
    session.add(event)
    return event


def move(session: Session, ticket: Ticket, to: str, actor: str, now: datetime,
         note: str | None = None) -> None:
    """Change the status to ``to``, stamp its time field, record the event.

    Raises Conflict when ``ALLOWED`` does not permit the change.
    """
    if to not in ALLOWED.get(ticket.status, ()):
        raise Conflict(f"{ticket.number}: cannot go from {ticket.status} to {to}")
    ticket.status = to
    stamp = {S.ASSIGNED: "assigned_at", S.ACCEPTED: "accepted_at", S.RESOLVED: "resolved_at",
             S.CLOSED: "closed_at", S.CANCELLED: "cancelled_at", S.REOPENED: "reopened_at",
             S.REJECTED: "rejected_at"}.get(to)
    if stamp:
        setattr(ticket, stamp, now)
    session.add(ticket)
    record(session, ticket, to, actor, now, note)


def timeline(session: Session, ticket: Ticket) -> list[TicketEvent]:
    """The ticket's events, oldest first."""
    return list(session.exec(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)
    ))


def is_open():
    """``status IN ('submitted', …)`` with the open statuses written into the SQL rather than
    bound, so that PostgreSQL matches the partial indexes on open tickets
    (``storage.models.OPEN_TICKETS_SQL``) in prepared (generic) plans too."""
    return col(Ticket.status).in_(bindparam("open_statuses", list(S.OPEN), expanding=True,
                                            literal_execute=True))


QUEUE_ORDER = (Ticket.priority, col(Ticket.resolve_due_at).asc().nulls_last(), Ticket.created_at,
               Ticket.id)
"""Queue order: priority (urgent = 0 first), then the resolution due time, then age."""


def grid_queue(session: Session, grid_id: int) -> list[Ticket]:
    """Open tickets of a grid in ``QUEUE_ORDER``."""
    return list(session.exec(
        select(Ticket)
        .where(Ticket.grid_id == grid_id, is_open())
        .order_by(*QUEUE_ORDER)
    ))


def assigned_to(session: Session, worker_id: int) -> list[Ticket]:
    """Open tickets whose assignee is this worker, in ``QUEUE_ORDER``."""
    return list(session.exec(
        select(Ticket)
        .where(Ticket.assignee_id == worker_id, is_open())
        .order_by(*QUEUE_ORDER)
    ))


def of_department(session: Session, department_ids: list[int]) -> list[Ticket]:
    """Open tickets transferred to any of these departments, in ``QUEUE_ORDER``."""
    if not department_ids:
        return []
    return list(session.exec(
        select(Ticket)
        .where(col(Ticket.department_id).in_(department_ids), is_open())
        .order_by(*QUEUE_ORDER)
    ))


def open_duplicate(session: Session, building_id: int | None, kind: str,
                   category: str | None, since: datetime, place_id: int | None = None
                   ) -> Ticket | None:
    """The newest open ticket of the same kind and category at the same place — the public
    place ``place_id`` when given, else the building — created at or after ``since`` (aware
    UTC), or None (no place, no building or no category: never a duplicate)."""
    if (building_id is None and place_id is None) or category is None:
        return None
    at = Ticket.place_id == place_id if place_id is not None else Ticket.building_id == building_id
    return session.exec(
        select(Ticket)
        .where(at, Ticket.kind == kind, Ticket.category == category, is_open(),
               Ticket.created_at >= since)
        .order_by(col(Ticket.created_at).desc(), col(Ticket.id).desc())
    ).first()


def recently_closed(session: Session, resident_id: int, since: datetime) -> Ticket | None:
    """The resident's latest ticket closed at or after ``since`` (the reopen window)."""
    return session.exec(
        select(Ticket).where(Ticket.resident_id == resident_id, Ticket.status == S.CLOSED,
                             Ticket.closed_at >= since)
        .order_by(col(Ticket.closed_at).desc(), col(Ticket.id).desc())
    ).first()


def waiting_for(session: Session, resident_id: int) -> Ticket | None:
    """The resident's latest ticket waiting for their answer (waiting_resident)."""
    return session.exec(
        select(Ticket).where(Ticket.resident_id == resident_id,
                             Ticket.status == S.WAITING_RESIDENT)
        .order_by(col(Ticket.paused_at).desc(), col(Ticket.id).desc())
    ).first()


def of_resident(session: Session, resident_id: int, limit: int = 5) -> list[Ticket]:
    """The resident's latest tickets, newest first."""
    return list(session.exec(
        select(Ticket).where(Ticket.resident_id == resident_id)
        .order_by(col(Ticket.created_at).desc(), col(Ticket.id).desc()).limit(limit)
    ))


def opened_since(session: Session, resident_id: int, since: datetime, limit: int) -> list[int]:
    """Ids of up to ``limit`` tickets the resident opened at or after ``since`` (aware UTC),
    newest first (one indexed query reading ids only; the burst cap of ``handlers.report``
    counts them)."""
    return list(session.exec(
        select(Ticket.id).where(Ticket.resident_id == resident_id, Ticket.created_at >= since)
        .order_by(col(Ticket.created_at).desc(), col(Ticket.id).desc()).limit(limit)
    ))


def awaiting_rating(session: Session, resident_id: int) -> Ticket | None:
    """The resident's most recently resolved ticket that has not been rated yet."""
    return session.exec(
        select(Ticket).where(Ticket.resident_id == resident_id, Ticket.status == S.RESOLVED)
        .order_by(col(Ticket.resolved_at).desc(), col(Ticket.id).desc())
    ).first()
