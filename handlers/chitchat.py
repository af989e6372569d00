"""Help, greetings, chit-chat, thanks, and what we could not place (kept for staff)."""

from __future__ import annotations

from handlers import handles
from handlers.turn import Turn
from services.messages import msg
from storage import tickets


@handles("help")
def help_(turn: Turn) -> str:
    return msg("help")


@handles("greeting", "confirm", "deny")
def greeting(turn: Turn) -> str:
    """Greetings, and a yes/no with no open question, get a friendly opener."""
    return msg("greeting")


@handles("chitchat")
def chitchat(turn: Turn) -> str:
    """「你会唱歌吗」「帮我写作业」: a friendly answer saying what the bot is for; never a ticket."""
    return msg("chitchat.reply")


@handles("thanks")
def thanks(turn: Turn) -> str:
    """「谢谢」: 「不客气」 — and a reminder to rate when a resolved ticket waits for it."""
    waiting = tickets.awaiting_rating(turn.session, turn.resident.id) if turn.resident else None
    if waiting is not None:
        return msg("chitchat.thanks_rate", no=waiting.number)
    return msg("chitchat.thanks")


@handles("other")
def other(turn: Turn) -> str:
    """A message we cannot place: kept for staff, answered politely."""
    turn.needs_staff = True
    return msg("fallback")
