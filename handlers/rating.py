"""Ratings (评价) after 办结: 1–5, or 满意/不满意.

A rating of the resident's latest resolved ticket closes it — or, at most
``[rating] reopen_score_max`` (不满意), reopens it and alerts the grid leader. A resident
whose ticket was closed as 默认满意 (no rating within ``auto_close_days``) may still rate it
within ``reopen_window_days``; 不满意 then reopens it too.
"""

from __future__ import annotations

from handlers import handles
from handlers.lifecycle import rate, reopen_window_start
from handlers.messages import msg
from handlers.turn import Turn
from storage import tickets
from storage.models import TicketStatus

SATISFIED_FROM = 4
"""Scores from this up are thanked; lower ones get an apology and a follow-up."""


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
    outcome = rate(turn.session, ticket, turn.resident, int(score), turn.now, comment=turn.text)
    turn.finish()
    if outcome == TicketStatus.REOPENED:
        turn.needs_staff = True
        return msg("followup.rating_reopened", score=score, no=ticket.number)
    key = "rating_thanks" if score >= SATISFIED_FROM else "rating_sorry"
    if score < SATISFIED_FROM:
        turn.needs_staff = True
    return msg(key, score=score, no=ticket.number)
