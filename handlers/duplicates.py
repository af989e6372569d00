"""Duplicate reports: a new report of the same kind and category in the same building (or
at the same public place, 东门 …), while an earlier one is open and younger than
``[duplicates] window_hours``, is offered to be joined to it. A resident who joins becomes
a follower told every update of that ticket (``services.duplicates``: ``find``,
``follow``); one who declines gets a ticket of their own.

``offer`` is called by the report flow before a ticket is opened; ``@continues("join")``
takes the answer (1 = join, 2 = new ticket; anything else is handled afresh).
"""

from __future__ import annotations

from typing import Any

from handlers import continues
from handlers.opening import open_pending
from handlers.turn import Turn
from services import duplicates
from services.messages import msg
from services.notify import describe
from services.promise import inline
from storage import NotFound
from storage import tickets as repo
from storage.models import TicketStatus

FLOW = "join"
YES = ("1", "１", "加入", "是", "好", "好的", "可以", "加入跟进")
NO = ("2", "２", "新建", "不", "不用", "否", "新建工单")


def offer(turn: Turn, pending: dict[str, Any]) -> str | None:
    """The offer to join an open duplicate of ``pending`` (a report about to be opened),
    with the dialogue state set; None when there is no duplicate."""
    resident = turn.resident
    where = pending.get("where")  # where the problem is (handlers.location); absent: home
    ticket = duplicates.find(
        turn.session, pending["kind"], pending.get("category"), turn.now,
        building_id=where.get("building_id") if where is not None else resident.building_id,
        place_id=where.get("place_id") if where is not None else None, reporter_id=resident.id)
    if ticket is None:
        return None
    turn.ask({"flow": FLOW, "no": ticket.number, "pending": pending})
    key = "location.duplicate_offer_place" if ticket.place_id else "followup.duplicate_offer"
    return msg(key, due=inline(ticket, turn.now, contact=False), **describe(turn.session, ticket))


@continues(FLOW)
def answer_offer(turn: Turn) -> str | None:
    """1: follow the open ticket; 2: open a new one; anything else: handled afresh."""
    state = turn.state or {}
    text = turn.text.strip().rstrip("。.!！")
    if text in NO:
        turn.finish()
        return open_pending(turn, state["pending"])
    if text not in YES:
        return None
    turn.finish()
    try:
        ticket = repo.by_number(turn.session, state["no"], for_update=True)
    except NotFound:
        ticket = None
    if ticket is None or ticket.status not in TicketStatus.OPEN:
        return open_pending(turn, state["pending"])
    duplicates.follow(turn.session, ticket, turn.resident, state["pending"].get("text"), turn.now)
    return msg("followup.duplicate_joined", no=ticket.number,
               due=inline(ticket, turn.now, contact=False))
