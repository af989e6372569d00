"""Complaints (投诉) and repairs (报修): find where the problem is, then open a ticket there.

Where (``handlers.location``): a building or public place the message names; else a location
the resident shared just before; else their home — except for a public category (停车,
公共设施 … in handlers/location.toml) with no word of home, which asks 「问题在哪里？」 once
(answer: a building, a place, or 「我家」). The building or place decides the grid.

The home address is the resident's own statement, never a by-product of a report: a resident
with no home yet is asked 「几号楼几单元几室」 once (or names a household address in the
report) and that is saved; one who has a home and says 「我家住…」 is asked to confirm the
change (``handlers.home``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from handlers import community, continues, duplicates, handles, home, location
from handlers.opening import open_pending
from handlers.turn import Turn
from intents.slots import extract_address
from services.messages import msg
from services.tickets import attach
from storage import org, tickets
from storage.models import Ticket

FLOW = "report"
MAX_ADDRESS_TRIES = 2
MAX_WHERE_TRIES = 2
"""Answers to 「问题在哪里？」 that name no known place before the words are kept as text."""
PLACES_SHOWN = 6
NEW_TOPIC = ("repair", "complaint", "tool_lending", "care_signup", "status_query")


@handles("complaint", "repair")
def report(turn: Turn) -> str:
    """Open a ticket where the problem is, or ask where (or, with no home yet, the address)."""
    u = turn.understanding
    assert u is not None and turn.resident is not None
    pending = {
        "kind": u.intent, "category": u.category, "text": turn.text, "urgent": u.urgent,
        **turn.attachments(),
    }
    resident = turn.resident
    found = location.locate(turn.session, turn.text, community.community_of(turn))
    prefix = ""
    claim = found.claim
    if claim is not None and resident.building_id is None:
        problem = home.offer(turn, claim.address)  # saved: the resident told us where they live
        if problem:
            turn.ask({"flow": FLOW, "awaiting": "address", "pending": pending, "tries": 0})
            return problem
        prefix = msg("address_saved", address=org.address_of(turn.session, resident)) + "\n"
        claim = None
    if found.unknown_building is not None:
        awaiting = "where" if resident.building_id is not None else "address"
        turn.ask({"flow": FLOW, "awaiting": awaiting, "pending": pending, "tries": 0})
        return msg("unknown_building", building=found.unknown_building)
    where = found.where
    if where is None and isinstance(pending.get("location"), dict) and not found.at_home:
        where = pending.pop("location")  # shared just before the words: that is the place
    public = location.is_public(u.category) and not found.at_home
    if where is None and claim is not None and not public:  # 「我家住6号楼…，楼道灯坏了」
        building = location.find_building(turn.session, claim.address["building"],
                                          community.community_of(turn))
        if building is not None:
            where = {"building_id": building.id, "unit": claim.address.get("unit"),
                     "room": claim.address.get("room")}
    if where is None and public and not u.urgent:  # danger is never kept waiting on a question
        turn.ask({"flow": FLOW, "awaiting": "where", "pending": pending, "tries": 0})
        return prefix + _ask_where(turn)
    if where is None and resident.building_id is None:
        turn.ask({"flow": FLOW, "awaiting": "address", "pending": pending, "tries": 0})
        return msg("ask_address")
    if (where and "building_id" in where and resident.building_id is None and not public
            and (where.get("unit") or where.get("room"))):
        home.save(turn, where["building_id"], where)  # a household address: theirs
        prefix = msg("address_saved", address=org.address_of(turn.session, resident)) + "\n"
    if where is not None:
        pending["where"] = where
    reply = prefix + _open(turn, pending)
    if claim is not None and turn.next_state is None:  # opened: now the home change, if any
        question = home.offer(turn, claim.address, quiet_if_same=True)
        reply += "\n" + question if question else ""
    return reply


@continues(FLOW)
def continue_report(turn: Turn) -> str | None:
    """Handle the answer to 「您住几号楼几单元几室？」 or 「问题在哪里？」; None when the
    resident changed topic (a confident new request that names no address or place)."""
    state = turn.state or {}
    if state.get("awaiting") == "where":
        return _answer_where(turn, state)
    u = turn.understanding
    address = extract_address(turn.text)
    if u is not None and "building" not in address and u.intent in NEW_TOPIC and (
            u.confidence >= turn.classifier.threshold):
        return None
    if "building" in address:
        problem = _save_address(turn, address)
        if problem:
            return problem
        turn.finish()
        return _open(turn, state["pending"])
    tries = int(state.get("tries", 0)) + 1
    if tries >= MAX_ADDRESS_TRIES:
        turn.finish()
        turn.needs_staff = True
        return msg("gave_up")
    turn.ask({**state, "tries": tries})
    return msg("ask_address_again")


def _ask_where(turn: Turn, key: str = "location.ask_where") -> str:
    """「问题在哪里？」 naming up to PLACES_SHOWN of the community's places (if it has any)."""
    names = [p.name for p in org.places(turn.session, community.community_of(turn))][:PLACES_SHOWN]
    return msg(key, places=msg("text.list_sep").join(names)) if names else msg(key + "_plain")


def _answer_where(turn: Turn, state: dict[str, Any]) -> str | None:
    """A building, a place or 「我家」 opens the ticket there; a new request is handled
    afresh (None); anything else is asked once more, then kept as the ticket's location
    text for staff (routed to the home grid)."""
    pending = state["pending"]
    found = location.locate(turn.session, turn.text, community.community_of(turn))
    u = turn.understanding
    if (found.where is None and found.unknown_building is None and not found.at_home
            and u is not None and u.intent in NEW_TOPIC
            and u.confidence >= turn.classifier.threshold):
        return None
    if found.unknown_building is not None:
        turn.ask(state)
        return msg("unknown_building", building=found.unknown_building)
    if found.where is not None:
        pending["where"] = found.where
    elif found.at_home and turn.resident.building_id is None:
        turn.ask({**state, "awaiting": "address", "tries": 0})
        return msg("ask_address")
    elif not found.at_home:
        tries = int(state.get("tries", 0)) + 1
        if tries < MAX_WHERE_TRIES:
            turn.ask({**state, "tries": tries})
            return _ask_where(turn, "location.ask_where_again")
        pending["where_text"] = turn.text
        turn.needs_staff = True
    turn.finish()
    return _open(turn, pending)


def open_after_where(turn: Turn, pending: dict[str, Any], where: dict[str, Any]) -> str:
    """「问题在哪里？」 answered with ``where`` (e.g. a shared location): open the report."""
    pending["where"] = where
    turn.finish()
    return _open(turn, pending)


def _save_address(turn: Turn, slots: dict[str, Any]) -> str | None:
    """Save the answer to 「您住几号楼…」 as the resident's home; the problem text when the
    building is unknown."""
    building = location.find_building(turn.session, slots["building"], community.community_of(turn))
    if building is None:
        return msg("unknown_building", building=slots["building"])
    home.save(turn, building.id, slots)
    return None


def _open(turn: Turn, pending: dict[str, Any]) -> str:
    """Add to the resident's burst thread, offer to join an open duplicate
    (handlers.duplicates), else open the ticket. Urgent reports always open a ticket."""
    if not pending.get("urgent"):
        if (thread := _burst_thread(turn)) is not None:
            return _add_to(turn, thread, pending)
        if (offer := duplicates.offer(turn, pending)) is not None:
            return offer
    return open_pending(turn, pending)


def _burst_thread(turn: Turn) -> Ticket | None:
    """The resident's latest ticket when they already opened ``settings.report_burst_max``
    within ``settings.report_burst_window_s``: a burst of reports (a flood, or one story told
    in many messages) becomes one ticket thread, not hundreds of tickets and pushes."""
    settings = turn.settings
    since = turn.now - timedelta(seconds=settings.report_burst_window_s)
    recent = tickets.opened_since(turn.session, turn.resident.id, since, settings.report_burst_max)
    if len(recent) < settings.report_burst_max:
        return None
    return turn.session.get(Ticket, recent[0])


def _add_to(turn: Turn, ticket: Ticket, pending: dict[str, Any]) -> str:
    """Record ``pending`` on ``ticket``'s timeline as the resident's supplement (补充); no
    new ticket and no push."""
    attach(turn.session, ticket, turn.resident, turn.now, text=pending["text"],
           photos=pending.get("photos", []))
    turn.finish()
    return msg("report_added", no=ticket.number)
