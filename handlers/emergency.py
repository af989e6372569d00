"""Emergencies (三必到: danger first): the numbers to dial at once, then an urgent ticket to
the grid worker and the grid leader(s), then a call-back number and the place if unknown.

``handlers.dispatch.handle_text`` calls ``respond`` before anything else a resident says is
handled (open dialogues included; staff commands come first) whenever the classifier's
``Understanding.emergency`` (``intents.emergency``) is set. The reply's first line names
only the numbers of the kinds found (``emergency.toml`` ``numbers``: 120 for a fall, 96333
and the property company for a trapped lift, 119 and the gas line for a gas smell …), the
next lines what to do meanwhile, then the ticket and the promised time.

The ticket (``opening.open_pending``, urgent: the SLA policy with ``urgent = true`` applies;
``services.tickets.open_ticket`` pushes it to the worker and the grid leaders) is opened
where the text says the danger is (a building or place, ``handlers.location``), else at the
resident's home; the home address is never changed here. With no home and no place named,
the ticket goes to community staff (unassigned) and the resident is asked where. The same
emergency told again within ``REPEAT_WINDOW_S`` goes on the open ticket's timeline and to
the people working it, instead of opening a second ticket.

The short dialogue that follows (``FLOW``) takes the call-back phone (saved on
``resident.phone``, put on the timeline, pushed to the worker and leaders) and the place
(timeline and push); anything else said in it is recorded on the ticket as well.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import Session, col, select

from handlers import community, continues, location
from handlers.opening import open_pending
from handlers.report import NEW_TOPIC
from handlers.turn import Turn
from intents.emergency import Emergency
from intents.slots import extract_phone
from services import promise
from services.messages import msg
from services.notify import describe, tell_staff
from services.people import grid_leaders, handlers_of
from services.tickets import actor
from storage import org, tickets
from storage.models import Department, Ticket, TicketStatus

FLOW = "emergency"
REPEAT_WINDOW_S = 1800
"""An emergency of the same category from the same resident within this many seconds is the
same emergency told again: it is added to the open ticket."""
MAX_TRIES = 2
"""Answers in the dialogue that give neither phone nor place before the questions stop."""
ADVICE_LINES = 2
"""At most this many kinds get a line of advice (the leading ones)."""
PROPERTY_WORD = "物业"
"""A department whose name holds this word is the property company ("property" numbers)."""


def respond(turn: Turn, found: Emergency) -> str:
    """Reply to a live emergency: numbers first, advice, the urgent ticket, then questions.

    Opens (or adds to) the urgent ticket in ``turn``'s transaction and may leave the
    dialogue waiting for the call-back phone and/or the place.
    """
    resident = turn.resident
    assert resident is not None
    repeat = _repeat(turn, found)
    if repeat is not None:
        ticket = repeat
        _add(turn, ticket, turn.text)
        opened = msg("emergency.more", no=ticket.number)
    else:
        ticket = _open(turn, found)
        opened = _opened(turn, ticket)
    lines = [msg("emergency.call", numbers=_numbers(turn, found, ticket))]
    lines += [msg(f"emergency.advice_{kind}") for kind in found.kinds[:ADVICE_LINES]]
    lines.append(opened)
    awaiting = [a for a, missing in (("phone", resident.phone is None),
                                     ("where", _placeless(ticket))) if missing]
    if awaiting:
        turn.ask({"flow": FLOW, "ticket_id": ticket.id, "awaiting": awaiting, "tries": 0})
        lines.append(_ask(awaiting))
    else:
        turn.finish()
    return "\n".join(lines)


@continues(FLOW)
def continue_emergency(turn: Turn) -> str | None:
    """Take the call-back phone and/or the place after an emergency; anything else said is
    recorded on the ticket. None (handled afresh) when the ticket is gone or closed, or the
    message is a confident new request naming neither."""
    state = turn.state or {}
    ticket = turn.session.get(Ticket, state.get("ticket_id"))
    if ticket is None or ticket.status not in TicketStatus.OPEN:
        return None
    awaiting = list(state.get("awaiting", []))
    said: list[str] = []
    phone = extract_phone(turn.text) if "phone" in awaiting else None
    if phone:
        turn.resident.phone = phone
        tickets.record(turn.session, ticket, "supplement", actor(turn.resident), turn.now,
                       msg("emergency.phone_note", phone=phone))
        _tell(turn, ticket, msg("emergency.push_phone", no=ticket.number, phone=phone))
        awaiting.remove("phone")
        said.append(msg("emergency.phone_saved"))
    where = location.locate(turn.session, turn.text, community.community_of(turn)
                            ).where if "where" in awaiting else None
    if where is not None:
        label = location.label(turn.session, where, turn.resident)
        tickets.record(turn.session, ticket, "location", actor(turn.resident), turn.now, label)
        _tell(turn, ticket, msg("emergency.push_where", no=ticket.number, where=label))
        awaiting.remove("where")
        said.append(msg("emergency.where_saved", where=label))
    u = turn.understanding
    if not said and u is not None and u.intent in NEW_TOPIC and (
            u.confidence >= turn.classifier.threshold):
        return None  # a new request (楼道灯坏了): handled afresh, the questions dropped
    if not said:
        _add(turn, ticket, turn.text)
        said.append(msg("emergency.noted", no=ticket.number))
    tries = int(state.get("tries", 0)) + (0 if phone or where else 1)
    if awaiting and tries < MAX_TRIES:
        turn.ask({**state, "awaiting": awaiting, "tries": tries})
        said.append(_ask(awaiting))
    else:
        turn.finish()
    return "\n".join(said)


# -- the ticket ------------------------------------------------------------------------------

def _open(turn: Turn, found: Emergency) -> Ticket:
    """Open the urgent ticket where the text places the danger (else at home)."""
    pending: dict[str, Any] = {"kind": found.ticket_kind, "category": found.category,
                               "text": turn.text, "urgent": True, **turn.attachments()}
    where = location.locate(turn.session, turn.text, community.community_of(turn)).where
    if where is None and isinstance(pending.get("location"), dict):
        where = pending.pop("location")  # shared just before: that is the place
    if where is not None:
        pending["where"] = where
    open_pending(turn, pending)
    return turn.session.exec(select(Ticket).where(
        Ticket.source_msg_id == turn.inbound_id()).order_by(col(Ticket.id).desc())).first()


def _repeat(turn: Turn, found: Emergency) -> Ticket | None:
    """The resident's open urgent ticket of the same category opened within
    ``REPEAT_WINDOW_S``, if any."""
    since = turn.now - timedelta(seconds=REPEAT_WINDOW_S)
    return turn.session.exec(select(Ticket).where(
        Ticket.resident_id == turn.resident.id, Ticket.urgent, Ticket.created_at >= since,
        Ticket.category == found.category, col(Ticket.status).in_(TicketStatus.OPEN),
    ).order_by(col(Ticket.id).desc())).first()


def _add(turn: Turn, ticket: Ticket, text: str) -> None:
    """Put what the resident said on the timeline and push it to the people working it."""
    tickets.record(turn.session, ticket, "supplement", actor(turn.resident), turn.now, text)
    _tell(turn, ticket, msg("emergency.push_more", no=ticket.number, text=text))


def _tell(turn: Turn, ticket: Ticket, text: str) -> None:
    """Push ``text`` to whoever works the ticket and to its grid leaders."""
    people = handlers_of(turn.session, ticket) + grid_leaders(turn.session, ticket)
    tell_staff(turn.session, people, ticket, "emergency_update", text)


def _placeless(ticket: Ticket) -> bool:
    return (ticket.building_id is None and ticket.place_id is None
            and ticket.latitude is None)


# -- wording ---------------------------------------------------------------------------------

def _ask(awaiting: list[str]) -> str:
    """The question for what is still missing ("phone", "where" or both)."""
    if awaiting == ["phone"]:
        return msg("emergency.ask_phone")
    if awaiting == ["where"]:
        return msg("emergency.ask_where")
    return msg("emergency.ask_phone_where")


def _opened(turn: Turn, ticket: Ticket) -> str:
    """「社区已加急：工单…已派给网格员…并报网格长，预计…」."""
    fields = describe(turn.session, ticket)
    when = promise.for_ticket(ticket, turn.now)
    worker = org.staff(turn.session, ticket.assignee_id) if ticket.assignee_id else None
    if worker is None:
        return msg("emergency.opened_unassigned", no=fields["no"], promise=when)
    leaders = msg("emergency.and_leader") if grid_leaders(turn.session, ticket) else ""
    return msg("emergency.opened", no=fields["no"], worker=worker.name, leaders=leaders,
               promise=when)


def _numbers(turn: Turn, found: Emergency, ticket: Ticket) -> str:
    """The numbers to dial as people read them: 「120急救」「96333电梯应急、物业024-…」."""
    names = []
    for token in found.numbers:
        if token == "gas":
            names.append(msg("emergency.number_gas", phone=turn.settings.gas_emergency_phone))
        elif token == "property":
            phone = _property_phone(turn.session, ticket)
            names.append(msg("emergency.number_property", phone=phone) if phone
                         else msg("emergency.number_property_unknown"))
        else:
            names.append(msg(f"emergency.number_{token}"))
    return msg("emergency.joiner").join(names)


def _property_phone(session: Session, ticket: Ticket) -> str | None:
    """The phone of the property company (a department named …物业…) of the ticket's
    community, or of any community when the ticket has none; None when unknown."""
    grid = org.grid(session, ticket.grid_id) if ticket.grid_id else None
    query = select(Department).where(col(Department.name).contains(PROPERTY_WORD),
                                     col(Department.phone).is_not(None))
    if grid is not None:
        query = query.where((Department.community_id == grid.community_id)
                            | col(Department.community_id).is_(None))
    department = session.exec(query.order_by(col(Department.id))).first()
    return department.phone if department else None
