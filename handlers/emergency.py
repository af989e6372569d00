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
emergency told again within ``services.emergency.REPEAT_WINDOW_S`` goes on the open
ticket's timeline and to the people working it, instead of opening a second ticket.

The short dialogue that follows (``FLOW``) takes the call-back phone (saved on
``resident.phone``, put on the timeline, pushed to the worker and leaders) and the place
(timeline and push); anything else said in it is recorded on the ticket as well. This module
is the chat adapter: it reads the text and runs the dialogue; who is told and what goes on
the ticket are ``services.emergency``.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from handlers import community, continues, location
from handlers.opening import open_pending
from handlers.report import NEW_TOPIC
from handlers.turn import Turn
from intents.emergency import Emergency
from intents.slots import extract_phone
from services import emergency
from services.messages import msg
from storage.models import Ticket, TicketStatus

FLOW = "emergency"
MAX_TRIES = 2
"""Answers in the dialogue that give neither phone nor place before the questions stop."""
ADVICE_LINES = 2
"""At most this many kinds get a line of advice (the leading ones)."""


def respond(turn: Turn, found: Emergency) -> str:
    """Reply to a live emergency: numbers first, advice, the urgent ticket, then questions.

    Opens (or adds to) the urgent ticket in ``turn``'s transaction and may leave the
    dialogue waiting for the call-back phone and/or the place.
    """
    resident = turn.resident
    assert resident is not None
    repeat = emergency.repeat_of(turn.session, resident.id, found.category, turn.now)
    if repeat is not None:
        ticket = repeat
        emergency.add_words(turn.session, ticket, resident, turn.text, turn.now)
        opened = msg("emergency.more", no=ticket.number)
    else:
        ticket = _open(turn, found)
        opened = emergency.opened_text(turn.session, ticket, turn.now)
    numbers = emergency.numbers_text(turn.session, found.numbers, ticket,
                                     turn.settings.gas_emergency_phone)
    lines = [msg("emergency.call", numbers=numbers)]
    lines += [msg(f"emergency.advice_{kind}") for kind in found.kinds[:ADVICE_LINES]]
    lines.append(opened)
    awaiting = [a for a, missing in (("phone", resident.phone is None),
                                     ("where", emergency.placeless(ticket))) if missing]
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
        emergency.give_phone(turn.session, ticket, turn.resident, phone, turn.now)
        awaiting.remove("phone")
        said.append(msg("emergency.phone_saved"))
    where = location.locate(turn.session, turn.text, community.community_of(turn)
                            ).where if "where" in awaiting else None
    if where is not None:
        label = location.label(turn.session, where, turn.resident)
        emergency.give_place(turn.session, ticket, turn.resident, label, turn.now)
        awaiting.remove("where")
        said.append(msg("emergency.where_saved", where=label))
    u = turn.understanding
    if not said and u is not None and u.intent in NEW_TOPIC and (
            u.confidence >= turn.classifier.threshold):
        return None  # a new request (楼道灯坏了): handled afresh, the questions dropped
    if not said:
        emergency.add_words(turn.session, ticket, turn.resident, turn.text, turn.now)
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


# -- wording ---------------------------------------------------------------------------------

def _ask(awaiting: list[str]) -> str:
    """The question for what is still missing ("phone", "where" or both)."""
    if awaiting == ["phone"]:
        return msg("emergency.ask_phone")
    if awaiting == ["where"]:
        return msg("emergency.ask_where")
    return msg("emergency.ask_phone_where")
