"""Photos and locations: attached to the resident's fresh ticket, or kept for the next one."""

from __future__ import annotations

from datetime import timedelta

from wechatpy.messages import ImageMessage, LocationMessage

from handlers.lifecycle import actor
from handlers.messages import msg
from handlers.turn import Turn
from storage import tickets
from storage.models import Ticket, TicketStatus
from storage.times import as_utc

ATTACH_WINDOW = timedelta(minutes=30)
"""A photo or location this soon after a ticket was opened is attached to it."""


def _fresh_ticket(turn: Turn) -> Ticket | None:
    latest = tickets.of_resident(turn.session, turn.resident.id, limit=1)
    if latest and latest[0].status in TicketStatus.OPEN and (
        turn.now - as_utc(latest[0].created_at) <= ATTACH_WINDOW
    ):
        return latest[0]
    return None


def image(turn: Turn, message: ImageMessage) -> str:
    """Attach the photo (PicUrl) to a fresh ticket, else keep it for the next report."""
    ticket = _fresh_ticket(turn)
    if ticket is not None:
        tickets.record(turn.session, ticket, "photo", actor(turn.resident), turn.now, message.image)
        return msg("photo_attached", no=ticket.number)
    state = dict(turn.state or {})
    state["photos"] = [*state.get("photos", []), message.image]
    turn.ask(state)
    return msg("photo_kept")


def location(turn: Turn, message: LocationMessage) -> str:
    """Attach the location (label and lat,lng) to a fresh ticket, else keep it."""
    lat, lng = message.location
    label = message.label or f"{lat},{lng}"
    where = f"{label} ({lat},{lng})"
    ticket = _fresh_ticket(turn)
    if ticket is not None:
        tickets.record(turn.session, ticket, "location", actor(turn.resident), turn.now, where)
        return msg("location_attached", no=ticket.number)
    turn.ask({**(turn.state or {}), "location": where})
    return msg("location_kept", label=label)
