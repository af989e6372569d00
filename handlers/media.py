"""Photos and locations (item of a report, never guessed onto a ticket).

Sent before the words, they are kept in the dialogue state (``Turn.attachments``) and go
with the report that follows; sent while a report is being asked about (「问题在哪里？」),
they join it (a location answers the question). A resident with open tickets is shown them
as a numbered list — 「回复1加到工单…（楼道灯），回复0作为新问题」 — and a photo or location
is added to an open ticket only when picked from it (``@continues("attach")``); anything
else they write is handled afresh, the attachments kept for a new report.
"""

from __future__ import annotations

from typing import Any

from wechatpy.messages import ImageMessage, LocationMessage

from handlers import continues, shortref
from handlers import location as loc
from handlers.turn import Turn
from services.messages import msg
from services.tickets import attach
from storage import tickets
from storage.models import Ticket, TicketStatus

FLOW = "attach"
LISTED_MAX = 5
"""Open tickets offered in the list, newest first."""


def image(turn: Turn, message: ImageMessage) -> str:
    """Keep the photo (PicUrl) for the report being made or the next one, or offer the
    resident's open tickets to add it to."""
    state = dict(turn.state or {})
    if isinstance(state.get("pending"), dict):  # a report (or duplicate offer) in progress
        state["pending"]["photos"] = [*state["pending"].get("photos", []), message.image]
        turn.ask(state)
        return msg("location.noted")
    kept = {**_kept(state), "photos": [*state.get("photos", []), message.image]}
    return _offer(turn, kept, msg("location.photo_which"), msg("photo_kept"))


def location(turn: Turn, message: LocationMessage) -> str:
    """A shared location: the answer to 「问题在哪里？」, part of the report being made, or
    kept for the next one (offering the open tickets to add it to)."""
    lat, lng = message.location
    point = loc.shared(lat, lng, message.label)
    state = dict(turn.state or {})
    pending = state.get("pending")
    if isinstance(pending, dict):
        if state.get("flow") == "report" and state.get("awaiting") == "where":
            from handlers.report import open_after_where  # the report flow imports this module

            return open_after_where(turn, pending, point)
        pending["location"] = point
        turn.ask(state)
        return msg("location.noted")
    kept = {**_kept(state), "location": point}
    return _offer(turn, kept, msg("location.location_which", label=point["label"]),
                  msg("location_kept", label=point["label"]))


def _kept(state: dict[str, Any]) -> dict[str, Any]:
    return {k: state[k] for k in ("photos", "location") if k in state}


def _open_tickets(turn: Turn) -> list[Ticket]:
    latest = tickets.of_resident(turn.session, turn.resident.id, limit=LISTED_MAX * 4)
    return [t for t in latest if t.status in TicketStatus.OPEN][:LISTED_MAX]


def _offer(turn: Turn, kept: dict[str, Any], header: str, no_tickets: str) -> str:
    """The numbered list of open tickets to add ``kept`` to (the state waits for the pick);
    ``no_tickets`` with ``kept`` saved for the next report when there are none."""
    open_tickets = _open_tickets(turn)
    if not open_tickets:
        turn.ask(kept)
        return no_tickets
    turn.ask({**kept, "flow": FLOW, "ids": [t.id for t in open_tickets]})
    lines = [msg("location.attach_option", no=t.number, **shortref.line(n, t))
             for n, t in enumerate(open_tickets, start=1)]
    return "\n".join([header, *lines, msg("location.attach_new")])


@continues(FLOW)
def answer_attach(turn: Turn) -> str | None:
    """「1」…: add what was kept to that open ticket; 「0」: keep it for a new report; anything
    else: None (handled afresh; the attachments stay for a report)."""
    state = turn.state or {}
    ids = list(state.get("ids", []))
    text = turn.text.strip().rstrip("。.").translate(str.maketrans("０１２３４５", "012345"))
    if text not in {str(n) for n in range(len(ids) + 1)}:
        return None
    kept = _kept(state)
    if text == "0":
        turn.ask(kept)
        return msg("photo_kept") if kept.get("photos") else msg(
            "location_kept", label=kept.get("location", {}).get("label", ""))
    ticket = turn.session.get(Ticket, ids[int(text) - 1])
    if ticket is None or ticket.resident_id != turn.resident.id or (
            ticket.status not in TicketStatus.OPEN):
        turn.ask({**kept, "flow": FLOW, "ids": ids})
        return msg("location.attach_again", count=len(ids))
    turn.finish()
    point = kept.get("location")
    attach(turn.session, ticket, turn.resident, turn.now, photos=kept.get("photos", []),
           point=(point["latitude"], point["longitude"], point["label"]) if point else None)
    if kept.get("photos"):
        return msg("photo_attached", no=ticket.number)
    return msg("location_attached", no=ticket.number)
