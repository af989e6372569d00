"""催办: a resident chasing an earlier report (「报修好几天了怎么还没人来」).

The follow-up attaches to the resident's open ticket — the one it names (number, list
position 「1」, number tail 「0007」), the only open one, or the one picked from a numbered
list when there are several — and never opens a second ticket. The reply tells the ticket's
state and the time it is due (``services.promise.for_ticket``); a 催办 event goes on the
timeline and the people working it get one nudge push, at most one per ticket per
``services.tickets.NUDGE_EVERY_S`` (the action is ``services.tickets.urge``).
"""

from __future__ import annotations

from sqlmodel import Session, select

from handlers import continues, handles, shortref
from handlers.turn import Turn
from services import promise
from services import tickets as actions
from services.errors import NotAllowed, WrongState
from services.messages import msg
from services.notify import status_text
from storage import NotFound, tickets
from storage.models import Ticket, TicketStatus


@handles("urge")
def urge(turn: Turn) -> str:
    """Attach the follow-up to the resident's open ticket, or ask which, or offer to report."""
    open_ones = [t for t in tickets.of_resident(turn.session, turn.resident.id,
                                                shortref.RESIDENT_LOOKED_AT)
                 if t.status in TicketStatus.OPEN]
    ref = _named(turn)
    if ref is not None:
        number, refusal = shortref.lookup(turn, ref, open_ones, msg("urge.list_hint"),
                                          shortref.MINE)
        if refusal is not None:
            return refusal
        return _urge_number(turn, number)
    if not open_ones:
        return msg("urge.none")
    if len(open_ones) == 1:
        return urge_ticket(turn, _locked(turn.session, open_ones[0].id), turn.text)
    lines = [msg("urge.which")]
    lines += [msg("urge.which_line", no=t.number, status=status_text(turn.session, t),
                  **shortref.line(n, t)) for n, t in enumerate(open_ones, start=1)]
    shortref.remember(turn, open_ones, shortref.MINE)
    turn.ask({**turn.next_state, "flow": "urge", "text": turn.text})
    return "\n".join(lines)


@continues("urge")
def pick(turn: Turn) -> str | None:
    """The answer to 「是哪一件？」: a position or number tail; None for anything else."""
    ref = shortref.parse(turn.text, turn.settings.ticket_prefix)
    if ref is None or ref.rest:
        return None
    number, refusal = shortref.lookup(turn, ref, [], msg("urge.list_hint"), shortref.MINE)
    if refusal is not None:
        return refusal
    state = turn.state or {}
    turn.ask({k: v for k, v in state.items() if k not in ("flow", "text")})  # the list stays
    return _urge_number(turn, number, state.get("text") or turn.text)


def _named(turn: Turn) -> shortref.Ref | None:
    """The ticket the message names: the ``ticket_no`` slot, or 「催办 1」「催一下0007」."""
    number = turn.understanding.slots.get("ticket_no") if turn.understanding else None
    if number:
        return shortref.Ref(number=number)
    return shortref.find_ref(turn.text, turn.settings.ticket_prefix)


def _urge_number(turn: Turn, number: str, text: str | None = None) -> str:
    try:
        ticket = tickets.by_number(turn.session, number, for_update=True)
    except NotFound:
        return msg("ticket_not_found", no=number)
    try:
        return urge_ticket(turn, ticket, text or turn.text)
    except NotAllowed:
        return msg("ticket_not_yours", no=ticket.number)
    except WrongState:
        return msg("urge.not_open", no=ticket.number, status=msg(f"status.{ticket.status}"))


def _locked(session: Session, ticket_id: int) -> Ticket:
    return session.exec(select(Ticket).where(Ticket.id == ticket_id).with_for_update()).one()


def urge_ticket(turn: Turn, ticket: Ticket, text: str) -> str:
    """Record the 催办 on ``ticket`` (locked; ``services.tickets.urge`` nudges its handlers
    at most once per ``NUDGE_EVERY_S``) and answer with its state and due time.
    Raises NotAllowed (not the resident's), WrongState (not open)."""
    session, now = turn.session, turn.now
    nudged = actions.urge(session, ticket, turn.resident, text, now)
    parts = [msg("urge.state", no=ticket.number, status=status_text(session, ticket),
                 category=ticket.category or msg(f"kind.{ticket.kind}"))]
    if ticket.status == TicketStatus.WAITING_RESIDENT:
        parts.append(msg("urge.waiting_you"))
    elif promised := promise.for_ticket(ticket, now):
        parts.append(msg("urge.promise", promise=promised))
    parts.append(msg("urge.nudged" if nudged else "urge.nudged_already"))
    return "".join(parts)
