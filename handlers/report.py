"""Complaints (投诉) and repairs (报修): collect the address once, then open a ticket.

A resident whose address is unknown is asked 「几号楼几单元几室」 once; the answer is
remembered on the resident, and the building decides the grid.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from handlers import continues, duplicates, handles
from handlers.lifecycle import NewTicket, actor, describe, open_ticket
from handlers.messages import msg
from handlers.promise import for_ticket
from handlers.turn import Turn
from intents.slots import extract_address
from storage import org, tickets
from storage.models import Ticket

FLOW = "report"
MAX_ADDRESS_TRIES = 2
NEW_TOPIC = ("repair", "complaint", "tool_lending", "care_signup", "status_query")


@handles("complaint", "repair")
def report(turn: Turn) -> str:
    """Open a ticket, or ask for the address first."""
    u = turn.understanding
    assert u is not None and turn.resident is not None
    pending = {
        "kind": u.intent, "category": u.category, "text": turn.text, "urgent": u.urgent,
        **turn.attachments(),
    }
    prefix = ""
    if "building" in u.slots:
        problem = _save_address(turn, u.slots)
        if problem:
            turn.ask({"flow": FLOW, "awaiting": "address", "pending": pending, "tries": 0})
            return problem
        prefix = msg("address_saved", address=org.address_of(turn.session, turn.resident)) + "\n"
    if turn.resident.building_id is None:
        turn.ask({"flow": FLOW, "awaiting": "address", "pending": pending, "tries": 0})
        return msg("ask_address")
    return prefix + _open(turn, pending)


@continues(FLOW)
def continue_report(turn: Turn) -> str | None:
    """Handle the answer to 「您住几号楼几单元几室？」; None when the resident changed topic
    (a confident new request that carries no address)."""
    state = turn.state or {}
    u = turn.understanding
    address = extract_address(turn.text)
    if u is not None and "building" not in address and u.intent in NEW_TOPIC and (
            u.confidence >= turn.classifier.threshold):
        return None
    if "building" in address:
        problem = _save_address(turn, address)
        if problem:
            return problem
        turn.finish()
        return _open(turn, state["pending"])
    tries = int(state.get("tries", 0)) + 1
    if tries >= MAX_ADDRESS_TRIES:
        turn.finish()
        turn.needs_staff = True
        return msg("gave_up")
    turn.ask({**state, "tries": tries})
    return msg("ask_address_again")


def _save_address(turn: Turn, slots: dict[str, Any]) -> str | None:
    """Remember the address on the resident; the problem text when the building is unknown."""
    building = org.building_by_number(turn.session, int(slots["building"]))
    if building is None:
        return msg("unknown_building", building=slots["building"])
    resident = turn.resident
    resident.building_id = building.id
    resident.unit = slots.get("unit")
    resident.room = slots.get("room")
    turn.session.add(resident)
    return None


def _open(turn: Turn, pending: dict[str, Any]) -> str:
    """Add to the resident's burst thread, offer to join an open duplicate
    (handlers.duplicates), else open the ticket. Urgent reports always open a ticket."""
    if not pending.get("urgent"):
        if (thread := _burst_thread(turn)) is not None:
            return _add_to(turn, thread, pending)
        if (offer := duplicates.offer(turn, pending)) is not None:
            return offer
    return open_pending(turn, pending)


def _burst_thread(turn: Turn) -> Ticket | None:
    """The resident's latest ticket when they already opened ``settings.report_burst_max``
    within ``settings.report_burst_window_s``: a burst of reports (a flood, or one story told
    in many messages) becomes one ticket thread, not hundreds of tickets and pushes."""
    settings = turn.settings
    since = turn.now - timedelta(seconds=settings.report_burst_window_s)
    recent = tickets.opened_since(turn.session, turn.resident.id, since, settings.report_burst_max)
    if len(recent) < settings.report_burst_max:
        return None
    return turn.session.get(Ticket, recent[0])


def _add_to(turn: Turn, ticket: Ticket, pending: dict[str, Any]) -> str:
    """Record ``pending`` on ``ticket``'s timeline as the resident's supplement (补充); no
    new ticket and no push."""
    who = actor(turn.resident)
    tickets.record(turn.session, ticket, "supplement", who, turn.now, pending["text"])
    for url in pending.get("photos", []):
        tickets.record(turn.session, ticket, "photo", who, turn.now, url)
    turn.finish()
    return msg("report_added", no=ticket.number)


def open_pending(turn: Turn, pending: dict[str, Any]) -> str:
    """Open the ticket of ``pending`` and return the reply that names it."""
    if turn.understanding and "phone" in turn.understanding.slots and turn.resident.phone is None:
        turn.resident.phone = turn.understanding.slots["phone"]
    report = NewTicket(
        kind=pending["kind"], category=pending.get("category"), description=pending["text"],
        urgent=bool(pending.get("urgent")), location=pending.get("location"),
        source_msg_id=turn.inbound_id(),
    )
    ticket = open_ticket(turn.session, turn.resident, report, turn.now, turn.settings.ticket_prefix)
    for url in pending.get("photos", []):
        tickets.record(turn.session, ticket, "photo", actor(turn.resident), turn.now, url)
    turn.finish()
    fields = describe(turn.session, ticket)
    worker = org.staff(turn.session, ticket.assignee_id) if ticket.assignee_id else None
    if worker is not None:
        grid = org.get_grid(turn.session, ticket.grid_id)
        reply = msg("ticket_opened", grid=grid.name, worker=worker.name,
                    promise=for_ticket(ticket, turn.now), **fields)
    else:
        reply = msg("ticket_opened_unassigned", promise=for_ticket(ticket, turn.now), **fields)
    if ticket.urgent:
        reply = msg("urgent_notice", gas_phone=turn.settings.gas_emergency_phone) + "\n" + reply
    return reply
