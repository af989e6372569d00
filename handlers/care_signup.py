"""After-school care sign-up (四点半课堂/托管报名) — until the sign-up service lands, the
request is kept for staff and the parent is told so."""

from __future__ import annotations

from handlers import handles
from handlers.messages import msg
from handlers.turn import Turn


@handles("care_signup")
def care_signup(turn: Turn) -> str:
    turn.needs_staff = True
    return msg("service_care")
