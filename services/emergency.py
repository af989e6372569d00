"""Emergencies (三必到) after the urgent ticket is open: who is told, what goes on the
ticket, which numbers a resident is given.

The chat adapter (``handlers.emergency``) detects the emergency, opens the urgent ticket
(``services.tickets.open_ticket`` pushes it to the worker and the grid leaders) and runs the
short dialogue that asks for a call-back phone and the place; everything it learns on the
way goes through here:

    repeat_of(session, resident_id, category, now)   the same emergency told again?
    add_words(session, ticket, resident, text, now)   what the resident said → timeline + push
    give_phone(session, ticket, resident, phone, now) call-back phone → resident, timeline, push
    give_place(session, ticket, resident, label, now) the place → timeline + push
    tell(session, ticket, text)                      push to whoever works it + grid leaders
    numbers_text(session, numbers, ticket, gas_phone) 「120急救、96333电梯应急、物业…」
    opened_text(session, ticket, now)                 「社区已加急：工单…已派给…」
    property_phone(session, ticket)                   the property company's phone

All run in the caller's transaction (nothing is committed) and push through the outbox
(``services.notify.tell_staff``: recused staff are never told). ``now`` is aware UTC.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from services import promise
from services.messages import msg
from services.notify import describe, tell_staff
from services.people import grid_leaders, handlers_of
from services.tickets import actor
from storage import org, tickets
from storage.models import Department, Resident, Ticket, TicketStatus

REPEAT_WINDOW_S = 1800
"""An emergency of the same category from the same resident within this many seconds is the
same emergency told again: it is added to the open ticket."""
PROPERTY_WORD = "物业"
"""A department whose name holds this word is the property company ("property" numbers)."""
UPDATE_EVENT = "emergency_update"
"""Outbox event of every follow-up push to staff."""


def repeat_of(session: Session, resident_id: int, category: str, now: datetime) -> Ticket | None:
    """The resident's open urgent ticket of ``category`` opened within ``REPEAT_WINDOW_S``
    seconds before ``now`` (the newest), or None."""
    since = now - timedelta(seconds=REPEAT_WINDOW_S)
    return session.exec(select(Ticket).where(
        Ticket.resident_id == resident_id, Ticket.urgent, Ticket.created_at >= since,
        Ticket.category == category, col(Ticket.status).in_(TicketStatus.OPEN),
    ).order_by(col(Ticket.id).desc())).first()


def tell(session: Session, ticket: Ticket, text: str) -> int:
    """Push ``text`` to whoever works ``ticket`` (assignee, department members or community
    staff) and to its grid leaders, each once; returns how many were told."""
    people = handlers_of(session, ticket) + grid_leaders(session, ticket)
    return tell_staff(session, people, ticket, UPDATE_EVENT, text)


def add_words(session: Session, ticket: Ticket, resident: Resident, text: str,
              now: datetime) -> None:
    """Put what the resident said on the timeline (a supplement) and push it to the people
    working the ticket (``tell``)."""
    tickets.record(session, ticket, "supplement", actor(resident), now, text)
    tell(session, ticket, msg("emergency.push_more", no=ticket.number, text=text))


def give_phone(session: Session, ticket: Ticket, resident: Resident, phone: str,
               now: datetime) -> None:
    """The resident's call-back ``phone`` (already checked): kept on the resident, noted on
    the timeline and pushed to the people working the ticket."""
    resident.phone = phone
    session.add(resident)
    tickets.record(session, ticket, "supplement", actor(resident), now,
                   msg("emergency.phone_note", phone=phone))
    tell(session, ticket, msg("emergency.push_phone", no=ticket.number, phone=phone))


def give_place(session: Session, ticket: Ticket, resident: Resident, label: str,
               now: datetime) -> None:
    """Where the emergency is, as people read it (``label``): on the timeline (a "location"
    event) and pushed to the people working the ticket. The ticket's own building/place is
    not changed (it is routed already)."""
    tickets.record(session, ticket, "location", actor(resident), now, label)
    tell(session, ticket, msg("emergency.push_where", no=ticket.number, where=label))


def placeless(ticket: Ticket) -> bool:
    """Whether nothing says where ``ticket`` is (no building, place or point)."""
    return ticket.building_id is None and ticket.place_id is None and ticket.latitude is None


def property_phone(session: Session, ticket: Ticket) -> str | None:
    """The phone of the property company (a department named …物业…) of the ticket's
    community, else of a street-level one (no community); any community's only when the
    ticket has no grid. None when unknown."""
    grid = org.grid(session, ticket.grid_id) if ticket.grid_id else None
    query = select(Department).where(col(Department.name).contains(PROPERTY_WORD),
                                     col(Department.phone).is_not(None))
    if grid is not None:
        query = query.where((Department.community_id == grid.community_id)
                            | col(Department.community_id).is_(None))
    # the community's own first (NULLs sort last on PostgreSQL, first on SQLite: be explicit)
    query = query.order_by(col(Department.community_id).is_(None), col(Department.id))
    department = session.exec(query).first()
    return department.phone if department else None


def numbers_text(session: Session, numbers: list[str] | tuple[str, ...], ticket: Ticket,
                 gas_phone: str) -> str:
    """The numbers to dial as people read them (「120急救」「96333电梯应急、物业024-…」).

    ``numbers``: the detector's tokens ("120", "119", "110", "96333", "gas", "property" …,
    ``intents.emergency``); ``gas_phone``: the gas company's line (settings).
    """
    names = []
    for token in numbers:
        if token == "gas":
            names.append(msg("emergency.number_gas", phone=gas_phone))
        elif token == "property":
            phone = property_phone(session, ticket)
            names.append(msg("emergency.number_property", phone=phone) if phone
                         else msg("emergency.number_property_unknown"))
        else:
            names.append(msg(f"emergency.number_{token}"))
    return msg("emergency.joiner").join(names)


def opened_text(session: Session, ticket: Ticket, now: datetime) -> str:
    """「社区已加急：工单…已派给网格员…并报网格长，预计…」, or the unassigned wording."""
    fields = describe(session, ticket)
    when = promise.for_ticket(ticket, now)
    worker = org.staff(session, ticket.assignee_id) if ticket.assignee_id else None
    if worker is None:
        return msg("emergency.opened_unassigned", no=fields["no"], promise=when)
    leaders = msg("emergency.and_leader") if grid_leaders(session, ticket) else ""
    return msg("emergency.opened", no=fields["no"], worker=worker.name, leaders=leaders,
               promise=when)
