"""WeChat events: subscribe (welcome), a QR code scanned (subscribe with a scene, SCAN: the
resident's community, handlers.community), unsubscribe (delete personal data:
services.privacy), menu CLICKs.

Source: developers.weixin.qq.com/doc/offiaccount/Message_Management/Receiving_event_pushes.html
"""

from __future__ import annotations

import logging

from wechatpy.events import BaseEvent

from handlers import HANDLERS, community
from handlers.turn import Turn
from intents.classify import Understanding
from services.privacy import forget_resident

log = logging.getLogger("gridbot.events")

MENU = {
    "HELP": "help",
    "PROGRESS": "status_query",
    "MY_TICKETS": "status_query",
}
"""Menu CLICK EventKey → intent whose handler answers it."""


def handle(turn: Turn, event: BaseEvent) -> str:
    """The reply to ``event`` ("" when there is nothing to say)."""
    kind = (event.event or "").lower()
    if kind == "subscribe":
        return community.subscribed_plain(turn)
    if kind in ("subscribe_scan", "scan"):  # a parametric QR code: wechatpy strips qrscene_
        return community.scanned(turn, getattr(event, "scene_id", None),
                                 subscribed=kind == "subscribe_scan")
    if kind == "unsubscribe":
        if turn.resident is not None:
            turn.inbound_id()  # this event's own row is anonymised with the rest
            forgotten = forget_resident(turn.session, turn.resident, turn.now)
            log.info("unsubscribe: resident %s forgotten, rows rewritten %s",
                     turn.resident.id, forgotten)
        turn.finish()  # no dialogue state survives (it held the pending report's text)
        return ""
    if kind == "click":
        intent = MENU.get(getattr(event, "key", "") or "", "help")
        turn.understanding = Understanding(intent=intent, category=None, confidence=1.0, slots={})
        return HANDLERS[intent](turn)
    return ""
