"""Duplicate reports: a new report of the same kind and category at the same building (or
public place) while an earlier one is open and younger than ``[duplicates] window_hours``
(sla.toml) — ``find`` — and another resident joining it as a follower — ``follow``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from services.errors import WrongState
from services.messages import msg
from services.notify import tell_staff
from services.people import handlers_of
from services.tickets import actor
from storage import sla
from storage import tickets as repo
from storage.models import Resident, Ticket, TicketFollower, TicketStatus

S = TicketStatus


def find(session: Session, kind: str, category: str | None, now: datetime,
         building_id: int | None = None, place_id: int | None = None,
         reporter_id: int | None = None) -> Ticket | None:
    """The open ticket a report (kind, category, at ``place_id`` or else ``building_id``)
    duplicates, opened within the duplicate window before ``now`` (aware UTC) by someone
    other than ``reporter_id``; None when there is none (or no category, no place)."""
    since = now - timedelta(seconds=sla.load().duplicate_window_s)
    ticket = repo.open_duplicate(session, building_id, kind, category, since, place_id=place_id)
    if ticket is None or (reporter_id is not None and ticket.resident_id == reporter_id):
        return None
    return ticket


def follow(session: Session, ticket: Ticket, resident: Resident, text: str | None,
           now: datetime) -> bool:
    """A resident joins an open ticket someone else reported (a duplicate report): they
    become a ``TicketFollower`` told of every update (``services.notify.tell_resident``),
    a ``joined`` event goes on the timeline and the people working it are pushed ``text``.
    Returns False (nothing changed) when they follow it already. Raises WrongState for a
    ticket no longer open.
    """
    if ticket.status not in S.OPEN:
        raise WrongState(f"{ticket.number}: cannot follow in {ticket.status}")
    try:
        with session.begin_nested():
            session.add(TicketFollower(ticket_id=ticket.id, resident_id=resident.id, note=text,
                                       created_at=now))
    except IntegrityError:
        return False
    repo.record(session, ticket, "joined", actor(resident), now, text)
    tell_staff(session, handlers_of(session, ticket), ticket, "ticket_joined",
               msg("push.ticket_joined", no=ticket.number, text=text or ""))
    return True
