"""Grid workers' ticket commands in chat: 我的任务, 接单 <工单号>, 办结 <工单号> <说明>.

Commands are registered with ``@worker_command``; ``parse`` recognises any registered verb
at the start of a message, so other modules add staff commands without touching this one.
"""

from __future__ import annotations

import re

from handlers import WORKER_COMMANDS, worker_command
from handlers.lifecycle import accept, can_handle, describe, resolve
from handlers.messages import msg
from handlers.turn import Turn
from storage import Conflict, NotFound, tickets
from storage.models import Ticket

TICKET_NO = re.compile(r"^(?P<no>[A-Za-z]{2}\d{8}-\d{1,6})\s*(?P<rest>.*)$", re.S)


def parse(text: str) -> tuple[str, str] | None:
    """(verb, argument text) when ``text`` starts with a registered staff command."""
    text = text.strip().replace("－", "-")
    for verb in sorted(WORKER_COMMANDS, key=len, reverse=True):
        if text.startswith(verb):
            return verb, text[len(verb):].strip()
    return None


def handle(turn: Turn, command: tuple[str, str]) -> str:
    """Run one parsed staff command for ``turn.worker``."""
    verb, argument = command
    return WORKER_COMMANDS[verb](turn, verb, argument)


def split_number(verb: str, argument: str) -> tuple[str, str] | str:
    """(ticket number, rest) from a command's argument, or the reply asking for the number."""
    match = TICKET_NO.match(argument)
    if match is None:
        return msg("worker.need_number", command=verb)
    return match["no"].upper(), match["rest"].strip()


def load_ticket(turn: Turn, number: str) -> Ticket | str:
    """The ticket locked for update and checked for this worker, or the refusal reply."""
    try:
        ticket = tickets.by_number(turn.session, number, for_update=True)
    except NotFound:
        return msg("ticket_not_found", no=number)
    if not can_handle(turn.session, turn.worker, ticket):
        return msg("worker.not_allowed", no=ticket.number)
    return ticket


@worker_command("接单")
def accept_command(turn: Turn, verb: str, argument: str) -> str:
    parsed = split_number(verb, argument)
    if isinstance(parsed, str):
        return parsed
    ticket = load_ticket(turn, parsed[0])
    if isinstance(ticket, str):
        return ticket
    try:
        accept(turn.session, ticket, turn.worker, turn.now)
    except Conflict:
        return bad_state(ticket, verb)
    return msg("worker.accepted", no=ticket.number)


@worker_command("办结")
def resolve_command(turn: Turn, verb: str, argument: str) -> str:
    parsed = split_number(verb, argument)
    if isinstance(parsed, str):
        return parsed
    number, note = parsed
    ticket = load_ticket(turn, number)
    if isinstance(ticket, str):
        return ticket
    if not note:
        return msg("worker.need_note", no=ticket.number)
    try:
        resolve(turn.session, ticket, turn.worker, note, turn.now)
    except Conflict:
        return bad_state(ticket, verb)
    return msg("worker.resolved", no=ticket.number)


def bad_state(ticket: Ticket, action: str) -> str:
    """The reply when ``action`` is not allowed in the ticket's current status."""
    return msg("worker.bad_state", no=ticket.number, status=msg(f"status.{ticket.status}"),
               action=action)


@worker_command("我的任务", "待办")
def queue_command(turn: Turn, verb: str, argument: str) -> str:
    """The worker's open tickets, plus unassigned ones of their grid, in queue order."""
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
