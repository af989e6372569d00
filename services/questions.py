"""The worker asks the resident a question (询问 <工单号> <问题>): the ticket waits for the
resident (waiting_resident, SLA clocks paused) and the question is pushed to them; their
next message is relayed back to the worker and the clocks resume.

How the answer is caught: in the worker's transaction the resident's dialogue state
(``storage.dialogue``, on the resident row) is set to ``{"flow": "ticket_answer", "no": …}``
for ``ANSWER_TTL_S``, so ``@continues("ticket_answer")`` gets their next message. If it
lapses unanswered, the worker resumes the clock with 「恢复 <工单号>」 and the ticket is still
found by ``storage.tickets.waiting_for``. The chat's side of it (``@continues(FLOW)``)
is ``handlers.questions``.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from services import permissions
from services.errors import WrongState
from services.messages import msg
from services.notify import tell_owner, tell_resident, tell_staff
from services.people import handlers_of
from services.tickets import actor, move
from storage import dialogue, sla
from storage import tickets as repo
from storage.models import GridWorker, Resident, Ticket, TicketStatus

S = TicketStatus
FLOW = "ticket_answer"
ANSWER_TTL_S = 7 * 86400
"""How long the resident's next message counts as the answer (seconds)."""
ASKABLE = (S.ASSIGNED, S.ACCEPTED, S.IN_PROGRESS, S.REOPENED)


def ask(session: Session, ticket: Ticket, worker: GridWorker, question: str,
        now: datetime) -> None:
    """Pause the ticket on a question to the resident (counts as the first response).

    Raises NotAllowed, WrongState unless the ticket is assigned, accepted, in progress or
    reopened.
    """
    permissions.require(session, worker, "ask", ticket)
    if ticket.status not in ASKABLE:
        raise WrongState(f"{ticket.number}: cannot ask in {ticket.status}")
    if ticket.assignee_id is None:
        ticket.assignee_id = worker.id
    sla.mark_response(ticket, now)
    move(session, ticket, S.WAITING_RESIDENT, actor(worker), now, question)
    sla.pause(ticket, now)
    sla.plan(session, ticket, now)
    tell_resident(session, ticket, "ticket_question",
                  msg("push.ticket_question", no=ticket.number, worker=worker.name,
                      question=question), now)


def answer(session: Session, ticket: Ticket, who: Resident | GridWorker, text: str | None,
           now: datetime) -> None:
    """The resident answered (or a worker resumes with 恢复): the clocks resume with the due
    times moved on by the paused working time; back to in_progress.
    Raises NotAllowed (not the reporter, or staff who may not act on it), WrongState."""
    permissions.require(session, who, "answer" if isinstance(who, Resident) else "resume",
                        ticket)
    if ticket.status != S.WAITING_RESIDENT:
        raise WrongState(f"{ticket.number}: not waiting for the resident")
    if text is not None:
        repo.record(session, ticket, "answer", actor(who), now, text)
    sla.resume(ticket, now)
    move(session, ticket, S.IN_PROGRESS, actor(who), now)
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
