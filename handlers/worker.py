"""Grid workers' commands in chat: 我的任务, 接单 <工单号>, 办结 <工单号> <说明>."""

from __future__ import annotations

import re

from handlers.lifecycle import accept, can_handle, describe, resolve
from handlers.messages import msg
from handlers.turn import Turn
from storage import Conflict, NotFound, tickets
from storage.models import Ticket

COMMAND = re.compile(
    r"^\s*(?P<verb>接单|办结|我的任务|任务|待办)\s*(?P<no>[A-Za-z]{2}\d{8}-\d{1,6})?\s*(?P<rest>.*)$",
    re.S,
)


def parse(text: str) -> re.Match[str] | None:
    """The command in ``text`` (verb, no, rest), or None if it is not a worker command."""
    return COMMAND.match(text.replace("－", "-"))


def handle(turn: Turn, command: re.Match[str]) -> str:
    """Run one worker command for ``turn.worker``."""
    verb, number, rest = command["verb"], command["no"], command["rest"].strip()
    if verb in ("我的任务", "任务", "待办"):
        return _queue(turn)
    if not number:
        return msg("worker.need_number", command=verb)
    try:
        ticket = tickets.by_number(turn.session, number, for_update=True)
    except NotFound:
        return msg("ticket_not_found", no=number.upper())
    if not can_handle(turn.session, turn.worker, ticket):
        return msg("worker.not_allowed", no=ticket.number)
    try:
        if verb == "接单":
            accept(turn.session, ticket, turn.worker, turn.now)
            return msg("worker.accepted", no=ticket.number)
        if not rest:
            return msg("worker.need_note", no=ticket.number)
        resolve(turn.session, ticket, turn.worker, rest, turn.now)
        return msg("worker.resolved", no=ticket.number)
    except Conflict:
        return _bad_state(ticket, verb)


def _bad_state(ticket: Ticket, action: str) -> str:
    return msg("worker.bad_state", no=ticket.number, status=msg(f"status.{ticket.status}"),
               action=action)


def _queue(turn: Turn) -> str:
    mine = tickets.assigned_to(turn.session, turn.worker.id)
    if turn.worker.grid_id is not None:
        seen = {t.id for t in mine}
        mine += [t for t in tickets.grid_queue(turn.session, turn.worker.grid_id)
                 if t.assignee_id is None and t.id not in seen]
    if not mine:
        return msg("worker.queue_empty")
    lines = [msg("worker.queue_header", count=len(mine))]
    for t in mine:
        urgent = msg("push.urgent_flag") if t.urgent else ""
        lines.append(msg("worker.queue_line", urgent=urgent, **describe(turn.session, t)))
    return "\n".join(lines)
