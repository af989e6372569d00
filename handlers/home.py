"""The resident's home address: changed only when they say so (「我家住3号楼2单元501」
「地址改为…」「我搬到…了」) and confirm (「确认把住址改为…吗？回复 是/否」).

A resident with no home address yet is taking the first step, not changing anything: what
they say is saved at once (as the report flow's 「您住几号楼…」 answer is). Where a problem
is never changes the home (``handlers.location``).
"""

from __future__ import annotations

import re
from typing import Any

from handlers import community, continues
from handlers.location import find_building, home_claim
from handlers.turn import Turn
from services.messages import msg
from storage import estates, org

FLOW = "home"
REST_MAX_CHARS = 2
"""A message of another intent is a mere home claim when at most this many characters
(besides punctuation and spaces) are left beside it (「了」「的」)."""
_WORDLESS = re.compile(r"[\W_]+")
ASK_AGAIN = ("other", "greeting", "chitchat", "help")
"""Intents that are no matter of their own: a home claim in such a message is its point, and
such an answer to the confirm question gets it asked once more."""


def statement(turn: Turn) -> str | None:
    """The reply to a message that only says where the resident lives (「我搬到7号楼1单元
    302了」), or None when it says no such thing (or is a report, or comes from staff)."""
    u = turn.understanding
    if turn.resident is None or turn.worker is not None or u is None:
        return None
    claim = home_claim(turn.text)
    if claim is None:
        return None
    if u.intent not in ASK_AGAIN and len(_WORDLESS.sub("", claim.rest)) > REST_MAX_CHARS:
        return None  # a request of its own (查询, 报修 …) that happens to name the home
    reply = offer(turn, claim.address)
    return reply if reply is not None else msg("address_saved", address=org.address_of(
        turn.session, turn.resident))


def offer(turn: Turn, address: dict[str, Any], quiet_if_same: bool = False) -> str | None:
    """Act on a home claim (``address`` slots): save it when the resident has no home yet
    (None: saved); otherwise ask to confirm a different address (the dialogue state is set)
    and return the question, or say it is the same (None when ``quiet_if_same``). A
    building the community does not have gets ``unknown_building``."""
    building = find_building(turn.session, address["building"], community.community_of(turn))
    if building is None:
        return msg("unknown_building", building=address["building"])
    resident = turn.resident
    if resident.building_id is None:
        save(turn, building.id, address)
        return None
    new = org.format_address(building.name, address.get("unit"), address.get("room"))
    if _agrees(address, building.id, resident):
        return None if quiet_if_same else msg(
            "location.home_same", address=org.address_of(turn.session, resident))
    turn.ask({"flow": FLOW, "building_id": building.id, "unit": address.get("unit"),
              "room": address.get("room"), "address": new, "tries": 0})
    return msg("location.confirm_home", address=new)


@continues(FLOW)
def answer(turn: Turn) -> str | None:
    """是 → the home changes; 否 → it stays; asked once more, then the question lapses
    (None: the message is handled afresh)."""
    state = turn.state or {}
    intent = turn.understanding.intent if turn.understanding else None
    if intent == "confirm":
        turn.finish()
        save(turn, state["building_id"], state)
        return msg("location.home_changed", address=state["address"])
    if intent == "deny":
        turn.finish()
        return msg("location.home_kept",
                   address=org.address_of(turn.session, turn.resident) or msg("location.your_home"))
    u = turn.understanding
    if int(state.get("tries", 0)) >= 1 or (u is not None and u.intent not in ASK_AGAIN
                                          and u.confidence >= turn.classifier.threshold):
        return None  # another matter: handled afresh
    turn.ask({**state, "tries": 1})
    return msg("location.confirm_home_again", address=state["address"])


def _agrees(address: dict[str, Any], building_id: int, resident: Any) -> bool:
    """The claim says nothing new: same building, and any unit/room it gives is the same
    (「我是3号楼的住户」 agrees with a home at 3号楼2单元501)."""
    return building_id == resident.building_id and all(
        address.get(part) in (None, getattr(resident, part)) for part in ("unit", "room"))


def save(turn: Turn, building_id: int, address: dict[str, Any]) -> None:
    resident = turn.resident
    resident.building_id = building_id
    found = org.building(turn.session, building_id)
    if found is not None:  # a building belongs to one community: the resident's, now
        estates.settle(turn.session, resident, found.community_id)
    resident.unit = address.get("unit")
    resident.room = address.get("room")
    turn.session.add(resident)
