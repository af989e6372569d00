"""The worker asks the resident a question (询问 <工单号> <问题>): the ticket waits for the
resident (waiting_resident, SLA clocks paused) and the question is pushed to them; their
next message is relayed back to the worker and the clocks resume.

How the answer is caught: in the worker's transaction the resident's dialogue state
(``storage.dialogue``, on the resident row) is set to ``{"flow": "ticket_answer", "no": …}``
for ``ANSWER_TTL_S``, so ``@continues("ticket_answer")`` gets their next message. If it
lapses unanswered, the worker resumes the clock with 「恢复 <工单号>」 and the ticket is still
found by ``storage.tickets.waiting_for``.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlmodel import Session

from handlers import continues
from handlers.lifecycle import actor, handlers_of, tell_owner, tell_resident, tell_staff
from handlers.turn import Turn
from services.messages import msg
from storage import Conflict, NotFound, dialogue, sla
from storage import tickets as repo
from storage.models import GridWorker, Resident, Ticket, TicketStatus

log = logging.getLogger("gridbot.questions")
S = TicketStatus
FLOW = "ticket_answer"
ANSWER_TTL_S = 7 * 86400
"""How long the resident's next message counts as the answer (seconds)."""
ASKABLE = (S.ASSIGNED, S.ACCEPTED, S.IN_PROGRESS, S.REOPENED)


def ask(session: Session, ticket: Ticket, worker: GridWorker, question: str,
        now: datetime) -> None:
    """Pause the ticket on a question to the resident (counts as the first response).

    Raises Conflict unless the ticket is assigned, accepted, in progress or reopened.
    """
    if ticket.status not in ASKABLE:
        raise Conflict(f"{ticket.number}: cannot ask in {ticket.status}")
    if ticket.assignee_id is None:
        ticket.assignee_id = worker.id
    sla.mark_response(ticket, now)
    repo.move(session, ticket, S.WAITING_RESIDENT, actor(worker), now, question)
    sla.pause(ticket, now)
    sla.plan(session, ticket, now)
    tell_resident(session, ticket, "ticket_question",
                  msg("push.ticket_question", no=ticket.number, worker=worker.name,
                      question=question), now)


def answer(session: Session, ticket: Ticket, who: Resident | GridWorker, text: str | None,
           now: datetime) -> None:
    """The resident answered (or a worker resumes with 恢复): the clocks resume with the due
    times moved on by the paused working time; back to in_progress. Raises Conflict."""
    if ticket.status != S.WAITING_RESIDENT:
        raise Conflict(f"{ticket.number}: not waiting for the resident")
    if text is not None:
        repo.record(session, ticket, "answer", actor(who), now, text)
    sla.resume(ticket, now)
    repo.move(session, ticket, S.IN_PROGRESS, actor(who), now)
    sla.plan(session, ticket, now)
    if isinstance(who, Resident):
        text_for_staff = msg("push.resident_answer", no=ticket.number, text=text or "")
        tell_staff(session, handlers_of(session, ticket), ticket, "resident_answer", text_for_staff)
        tell_owner(session, ticket, "resident_answer", text_for_staff)


def await_answer(resident: Resident | None, ticket: Ticket, now: datetime) -> None:
    """Route the resident's next message to ``FLOW`` for ``ANSWER_TTL_S`` seconds (see the
    module doc); written on the resident row in the worker's transaction."""
    if resident is None or not resident.openid:
        return
    dialogue.remember(resident, {"flow": FLOW, "no": ticket.number}, now, ANSWER_TTL_S)


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
