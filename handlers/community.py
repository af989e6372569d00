"""Which community (社区/小区) a resident lives in, on an account that serves several.

- A QR scene (``subscribe`` with ``EventKey qrscene_<scene>``, ``SCAN`` with ``<scene>``)
  settles it: ``scanned``.
- An estate or community name in a message (「阳光小区3号楼…」) settles it: ``gate``.
- Otherwise a message that needs a place (a report, a loan, a care sign-up, a home claim)
  first gets one question, the numbered list of the account's estates; the answer (a
  number or a name) settles it and the original message is then handled (``answer``
  returns None and ``handlers.dispatch`` runs it). A plain ``subscribe`` asks at once.

Routing then uses ``community_of``: the community a message names, else the resident's
(``storage.estates``). An account with one community never asks.
"""

from __future__ import annotations

import re
from typing import Any

from handlers.turn import Turn
from intents.slots import ESTATE_SUFFIXES
from services.messages import msg
from storage import estates, org

FLOW = "community"
NEEDS_PLACE = ("repair", "complaint", "tool_lending", "care_signup")
"""Intents whose handling depends on the community (its buildings, grids, stations)."""
MAX_TRIES = 2
_SUFFIXES_LONGEST_FIRST = sorted(ESTATE_SUFFIXES, key=len, reverse=True)
_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")
_WORDLESS = re.compile(r"[\W_]+")


def community_of(turn: Turn) -> int | None:
    """The community a message is about: the one it names (「和谐家园3号楼」), else the
    resident's; None when unknown (then org lookups find nothing on an account of several
    communities: never the first one)."""
    named = _named(turn)
    if named is not None:
        return named.community_id
    return estates.home_community_id(turn.session, turn.resident)


def _named(turn: Turn) -> estates.Estate | None:
    u = turn.understanding
    slot = u.slots.get("estate") if u is not None else None
    return estates.named_in(turn.session, turn.text, slot, estate_stem)


def estate_stem(name: str) -> str:
    """An estate name without its ending (阳光小区 → 阳光; endings are
    ``intents.slots.ESTATE_SUFFIXES``); the name itself when under two characters would be
    left."""
    for suffix in _SUFFIXES_LONGEST_FIRST:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return name


def gate(turn: Turn, home_claim: bool = False) -> str | None:
    """Before a resident's message is handled, when their community is unknown: settle it
    from an estate the message names; else, when the message needs a place
    (``NEEDS_PLACE`` or ``home_claim``), ask which estate (the message waits in the
    dialogue state). None: go on handling the message."""
    resident = turn.resident
    if resident is None or turn.worker is not None:
        return None
    if estates.home_community_id(turn.session, resident) is not None:
        return None  # known: a name in the text routes this message only (``community_of``)
    named = _named(turn)
    if named is not None:
        estates.settle(turn.session, resident, named.community_id, named.estate)
        return None
    u = turn.understanding
    if not estates.unknown(turn.session, resident):
        return None
    if not home_claim and (u is None or u.intent not in NEEDS_PLACE):
        return None
    return ask(turn, text=turn.text, tries=0)


def ask(turn: Turn, text: str | None, tries: int, key: str = "community.ask") -> str:
    """Ask 「您住哪个小区？」 with the numbered list; ``text`` is the message to handle after
    the answer (None: nothing waits)."""
    state: dict[str, Any] = {**turn.attachments(), "flow": FLOW, "tries": tries}
    if text is not None:
        state["text"] = text
    turn.ask(state)
    options = "\n".join(msg("community.option", n=n, name=e.name)
                        for n, e in enumerate(estates.choices(turn.session), start=1))
    return msg(key, options=options)


def answer(turn: Turn) -> str | None:
    """The answer to ``ask``: a number of the list or a name settles the community; then the
    waiting message is put back in ``turn.text`` and None returned (the caller handles it),
    or, when nothing waits (asked at subscribe), the reply says what was recorded — unless
    the message says more than the choice: it is then handled as itself (None, ``turn.text``
    unchanged), as is one that chooses nothing. Otherwise an answer that chooses nothing
    is asked once more, then kept for staff; 「算了」「不用了」(cancel, deny) drop the waiting message."""
    state = turn.state or {}
    u = turn.understanding
    if u is not None and u.intent in ("cancel", "deny") and "ticket_no" not in u.slots:
        turn.finish()
        return msg("dialogue_cancelled")
    chosen = _choice(turn)
    waiting = state.get("text")
    if chosen is None:
        if waiting is None:
            turn.state = turn.attachments()
            turn.finish()
            return None
        tries = int(state.get("tries", 0)) + 1
        if tries >= MAX_TRIES:
            turn.finish()
            turn.needs_staff = True
            return msg("community.gave_up")
        return ask(turn, text=waiting, tries=tries, key="community.ask_again")
    estates.settle(turn.session, turn.resident, chosen.community_id, chosen.estate)
    turn.state = turn.attachments()
    turn.finish()
    if waiting is not None:
        turn.text = waiting
        return None
    if _bare(turn.text, chosen):
        return _noted(turn, chosen)
    return None  # 「和谐家园3号楼暖气不热」: the estate and a request of its own, handled now


def _bare(text: str, chosen: estates.Estate) -> bool:
    """The text is just the number or the name chosen (and punctuation)."""
    rest = _WORDLESS.sub("", text.translate(_DIGITS)).replace(chosen.name, "")
    return rest.isdigit() or not rest


def _choice(turn: Turn) -> estates.Estate | None:
    listed = estates.choices(turn.session)
    text = turn.text.strip().translate(_DIGITS).rstrip("。.号")
    if text.isdigit() and 1 <= int(text) <= len(listed):
        return listed[int(text) - 1]
    return _named(turn)


def _noted(turn: Turn, estate: estates.Estate) -> str:
    community = next(c for c in org.communities(turn.session) if c.id == estate.community_id)
    return _noted_in(community.name, estate.estate)


def _noted_in(community: str, estate: str | None) -> str:
    name = msg("community.label", estate=estate, community=community) if estate else community
    return msg("community.noted", name=name)


def scanned(turn: Turn, scene: str | None, subscribed: bool) -> str:
    """A QR code scanned: ``subscribe`` (``subscribed``, a new follower) or ``SCAN``. A scene
    of ours settles the resident's community (unless their home is elsewhere) and the reply
    says so; any other scene on a multi-community account asks which estate."""
    lines = [msg("welcome")] if subscribed else []
    resident = turn.resident
    found = estates.from_scene(turn.session, scene)
    if resident is None:
        pass
    elif found is None:
        if estates.unknown(turn.session, resident):
            lines.append(ask(turn, text=None, tries=0))
    elif estates.settle(turn.session, resident, found[0].id):
        lines.append(_noted_in(found[0].name, None))
    else:
        lines.append(msg("community.home_elsewhere",
                         address=org.address_of(turn.session, resident) or ""))
    return "\n".join(lines)


def subscribed_plain(turn: Turn) -> str:
    """A ``subscribe`` with no scene: the welcome, and on a multi-community account the
    question which estate (nothing waits for its answer)."""
    if turn.resident is not None and estates.unknown(turn.session, turn.resident):
        return msg("welcome") + "\n" + ask(turn, text=None, tries=0)
    return msg("welcome")
