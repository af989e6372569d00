"""Cancelling: 「撤销 工单号」 withdraws a ticket; 「取消」 inside a dialogue ends it."""

from __future__ import annotations

from handlers import handles
from handlers.lifecycle import cancel as cancel_ticket
from handlers.messages import msg
from handlers.turn import Turn
from storage import Conflict, NotFound, tickets
from storage.models import TicketStatus


@handles("cancel")
def cancel(turn: Turn) -> str:
    """Cancel the ticket named by ``ticket_no``, or end the current dialogue."""
    number = turn.understanding.slots.get("ticket_no") if turn.understanding else None
    if number is None:
        if turn.state:
            turn.finish()
            return msg("dialogue_cancelled")
        open_ones = [t.number for t in tickets.of_resident(turn.session, turn.resident.id, 20)
                     if t.status in TicketStatus.OPEN]
        if not open_ones:
            return msg("cancel_nothing")
        return msg("cancel_need_number", numbers="、".join(open_ones))
    try:
        ticket = tickets.by_number(turn.session, number, for_update=True)
    except NotFound:
        return msg("ticket_not_found", no=number)
    if ticket.resident_id != turn.resident.id:
        return msg("ticket_not_yours", no=ticket.number)
    try:
        cancel_ticket(turn.session, ticket, turn.resident, turn.now)
    except Conflict:
        return msg("cancel_not_allowed", no=ticket.number, status=msg(f"status.{ticket.status}"))
    return msg("cancel_done", no=ticket.number)
