"""Tool lending (工具借用) — until the lending service lands, the request is kept for the
station's staff and the resident is told so."""

from __future__ import annotations

from handlers import handles
from handlers.messages import msg
from handlers.turn import Turn


@handles("tool_lending")
def lend_tool(turn: Turn) -> str:
    turn.needs_staff = True
    tool = (turn.understanding.slots.get("tool") if turn.understanding else None) or "工具"
    return msg("service_lending", tool=tool)
