"""Opening the ticket of a pending report (complaint, repair, urgent help) and the reply
that names it: the last step of the report flow (``handlers.report``), of the duplicate
offer's 「新建」 (``handlers.duplicates``) and of an emergency (``handlers.emergency``).
A module of its own so that those flows need not import one another.
"""

from __future__ import annotations

from typing import Any

from handlers import community
from handlers.turn import Turn
from services import places
from services.messages import msg
from services.notify import describe
from services.promise import for_ticket
from services.tickets import NewTicket, Reporter, open_ticket
from storage import org


def open_pending(turn: Turn, pending: dict[str, Any]) -> str:
    """Open the ticket of ``pending`` and return the reply that names it.

    ``pending``: "kind", "category", "text", "urgent", optional "photos" (URLs), "location"
    (a location shared with it, ``handlers.location.shared``), "where" (where the problem
    is, ``handlers.location``; absent: the resident's home) and "where_text" (the resident's
    own words when no place matched)."""
    if turn.understanding and "phone" in turn.understanding.slots and turn.resident.phone is None:
        turn.resident.phone = turn.understanding.slots["phone"]
    where = pending.get("where")
    if where is None and turn.resident.building_id is not None:  # at home
        where = {"building_id": turn.resident.building_id, "unit": turn.resident.unit,
                 "room": turn.resident.room}
    fields = places.ticket_fields(turn.session, where, pending.get("location"),
                                    community.community_of(turn))
    if pending.get("where_text") and "location" not in fields:
        fields["location"] = pending["where_text"]
    report = NewTicket(
        kind=pending["kind"], category=pending.get("category"), description=pending["text"],
        urgent=bool(pending.get("urgent")), source_msg_id=turn.inbound_id(),
        photos=tuple(pending.get("photos", [])), **fields,
    )
    ticket = open_ticket(turn.session, Reporter.of(turn.resident), report, turn.now,
                         turn.settings.ticket_prefix)
    turn.finish()
    fields = describe(turn.session, ticket)
    worker = org.staff(turn.session, ticket.assignee_id) if ticket.assignee_id else None
    if worker is not None:
        grid = org.get_grid(turn.session, ticket.grid_id)
        reply = msg("ticket_opened", grid=grid.name, worker=worker.name,
                    promise=for_ticket(ticket, turn.now), **fields)
    else:
        reply = msg("ticket_opened_unassigned", promise=for_ticket(ticket, turn.now), **fields)
    return reply  # urgent ones: handlers.emergency leads with the numbers to dial
