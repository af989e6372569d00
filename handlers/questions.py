"""The resident's answer to a worker's question (询问): their next message, while the
dialogue state ``services.questions.FLOW`` is open, is relayed to the worker and the
ticket's clocks resume (``services.questions.answer``).
"""

from __future__ import annotations

from handlers import continues
from handlers.turn import Turn
from services.messages import msg
from services.questions import FLOW, answer
from storage import NotFound
from storage import tickets as repo
from storage.models import TicketStatus

S = TicketStatus


@continues(FLOW)
def relay_answer(turn: Turn) -> str | None:
    """The resident's message answers the worker's question: relay it, resume the clock."""
    turn.finish()
    resident = turn.resident
    number = (turn.state or {}).get("no")
    try:
        ticket = repo.by_number(turn.session, number, for_update=True) if number else None
    except NotFound:
        ticket = None
    if ticket is None or ticket.status != S.WAITING_RESIDENT or resident is None or (
            ticket.resident_id != resident.id):
        return None  # the question was settled meanwhile: handle the message afresh
    answer(turn.session, ticket, resident, turn.text, turn.now)
    return msg("followup.answer_relayed", no=ticket.number)
