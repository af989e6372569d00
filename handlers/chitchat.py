"""Help, greetings, and what we could not place (kept for staff)."""

from __future__ import annotations

from handlers import handles
from handlers.messages import msg
from handlers.turn import Turn


@handles("help")
def help_(turn: Turn) -> str:
    return msg("help")


@handles("greeting", "confirm", "deny")
def greeting(turn: Turn) -> str:
    """Greetings, and a yes/no with no open question, get a friendly opener."""
    return msg("greeting")


@handles("other")
def other(turn: Turn) -> str:
    """A message we cannot place: kept for staff, answered politely."""
    turn.needs_staff = True
    return msg("fallback")
