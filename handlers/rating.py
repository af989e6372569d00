"""Ratings (评价) after 办结: 1–5, or 满意/不满意.

A rating of the resident's latest resolved ticket closes it — or, at most
``[rating] reopen_score_max`` (不满意), reopens it and alerts the grid leader. A resident
whose ticket was closed as 默认满意 (no rating within ``auto_close_days``) may still rate it
within ``reopen_window_days``; 不满意 then reopens it too.

不满意 without a reason (「不满意」「1分」) first asks what was wrong — one question, dialogue
``{"flow": "rating_reason", "ticket_id", "score"}`` — and the answer, whatever it is, goes
on the timeline (``REASON`` event) before the rating reopens the ticket.
"""

from __future__ import annotations

import re

from handlers import continues, handles
from handlers.turn import Turn
from services.messages import msg
from services.tickets import actor, rate, reopen_window_start
from storage import sla, tickets
from storage.models import Ticket, TicketStatus

SATISFIED_FROM = 4
"""Scores from this up are thanked; lower ones get an apology and a follow-up."""
REASON_MIN_CHARS = 8
"""An unhappy rating at least this many characters long (punctuation and spaces left out,
the rating words counted: 「不满意，灯还是不亮」) already says what was wrong; a shorter one
(「不满意」「非常不满意！」「1分」) is asked once."""
REASON = "unhappy_reason"
"""TicketEvent.kind of what the resident said was wrong with the work."""
_NOT_WORDS = re.compile(r"[\W_]+")


@handles("rating")
def rating(turn: Turn) -> str:
    """Rate the resident's latest resolved (or recently closed) ticket with the ``rating`` slot."""
    ticket = tickets.awaiting_rating(turn.session, turn.resident.id)
    if ticket is None:
        ticket = tickets.recently_closed(turn.session, turn.resident.id,
                                         reopen_window_start(turn.now))
        if ticket is not None and ticket.rating is not None and not ticket.auto_closed:
            ticket = None  # rated already: a second rating is not taken
    if ticket is None:
        return msg("rating_nothing")
    score = turn.understanding.slots.get("rating") if turn.understanding else None
    if score is None:
        return msg("rating_ask_score", no=ticket.number)
    score = int(score)
    if score <= sla.load().reopen_score_max:
        if len(_NOT_WORDS.sub("", turn.text)) < REASON_MIN_CHARS:
            turn.ask({"flow": "rating_reason", "ticket_id": ticket.id, "score": score})
            return msg("rating.ask_reason", score=score, no=ticket.number)
        tickets.record(turn.session, ticket, REASON, actor(turn.resident), turn.now, turn.text)
    return _rated(turn, ticket, score, turn.text)


@continues("rating_reason")
def reason(turn: Turn) -> str | None:
    """The answer to 「哪里不满意？」 goes on the timeline, then the rating is taken; None
    (handled afresh) when the ticket can no longer be rated."""
    state = turn.state or {}
    ticket = turn.session.get(Ticket, state.get("ticket_id"), with_for_update=True)
    turn.finish()
    if ticket is None or ticket.status not in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
        return None
    tickets.record(turn.session, ticket, REASON, actor(turn.resident), turn.now, turn.text)
    return _rated(turn, ticket, int(state["score"]), turn.text)


def _rated(turn: Turn, ticket: Ticket, score: int, comment: str) -> str:
    """Store the rating and answer: reopened, thanked or apologised to."""
    outcome = rate(turn.session, ticket, turn.resident, score, turn.now, comment=comment)
    turn.finish()
    if outcome == TicketStatus.REOPENED:
        turn.needs_staff = True
        return msg("followup.rating_reopened", score=score, no=ticket.number)
    key = "rating_thanks" if score >= SATISFIED_FROM else "rating_sorry"
    if score < SATISFIED_FROM:
        turn.needs_staff = True
    return msg(key, score=score, no=ticket.number)
