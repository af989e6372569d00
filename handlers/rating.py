"""Ratings (评价) after 办结: 1–5, or 满意/不满意, closes the ticket."""

from __future__ import annotations

from handlers import handles
from handlers.lifecycle import rate
from handlers.messages import msg
from handlers.turn import Turn
from storage import tickets

SATISFIED_FROM = 4
"""Scores from this up are thanked; lower ones get an apology and a follow-up."""


@handles("rating")
def rating(turn: Turn) -> str:
    """Rate the resident's latest resolved ticket with the ``rating`` slot."""
    ticket = tickets.awaiting_rating(turn.session, turn.resident.id)
    if ticket is None:
        return msg("rating_nothing")
    score = turn.understanding.slots.get("rating") if turn.understanding else None
    if score is None:
        return msg("rating_ask_score", no=ticket.number)
    rate(turn.session, ticket, turn.resident, int(score), turn.now, comment=turn.text)
    turn.finish()
    key = "rating_thanks" if score >= SATISFIED_FROM else "rating_sorry"
    if score < SATISFIED_FROM:
        turn.needs_staff = True
    return msg(key, score=score, no=ticket.number)
