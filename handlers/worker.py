"""Grid workers' ticket commands in chat: 我的任务, 接单 <工单号>, 到场 <工单号>,
办结 <工单号> <说明>, 询问 <工单号> <问题>, 恢复 <工单号>, 上报 <工单号> <原因>,
转派 <工单号> <网格或部门> [原因], 驳回 <工单号> <原因及去处>.

<工单号> may be short (``handlers.shortref``): the position in the list last shown
(「接单 1」「办结 2 已修好」, numbered by 我的任务 or a bare 「接单」, which lists what waits to
be taken) or the last digits of the number (「接单 0007」).

This module only parses and answers: the actions are ``services`` calls, and every refusal
is raised as ``Refused(reply)`` and answered by ``handle`` — no number
(``worker.need_number``), unknown ticket (``ticket_not_found``), missing text
(``worker.need_*``), unknown grid or department (``worker.unknown_target``), and the
layer's typed errors mapped in ``acting``: NotAllowed → ``worker.not_allowed``, WrongState →
``worker.bad_state``.

Commands are registered with ``@worker_command``; ``parse`` recognises any registered verb
at the start of a message, so other modules add staff commands without touching this one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from handlers import WORKER_COMMANDS, shortref, worker_command
from handlers.turn import Turn
from services.errors import NotAllowed, WrongState
from services.handover import call_in, find_target, reject, transfer
from services.messages import msg
from services.notify import describe, status_text
from services.people import community_id_of, open_tickets_of
from services.permissions import allowed
from services.questions import answer, ask, await_answer
from services.tickets import accept, resolve, start
from storage import NotFound, tickets
from storage.models import Resident, Ticket, TicketStatus
from storage.times import as_utc, show

TAKEABLE = (TicketStatus.SUBMITTED, TicketStatus.ASSIGNED, TicketStatus.REOPENED)
"""Statuses a bare 「接单」 lists: waiting for someone to take them."""


def parse(text: str) -> tuple[str, str] | None:
    """(verb, argument text) when ``text`` starts with a registered staff command."""
    text = text.strip().replace("－", "-")
    for verb in sorted(WORKER_COMMANDS, key=len, reverse=True):
        if text.startswith(verb):
            return verb, text[len(verb):].strip()
    return None


class Refused(Exception):
    """A staff command stops with ``reply`` (bad input, or an action the layer refused)."""

    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.reply = reply


def handle(turn: Turn, command: tuple[str, str]) -> str:
    """Run one parsed staff command for ``turn.worker``; a refusal is the reply."""
    verb, argument = command
    try:
        return WORKER_COMMANDS[verb](turn, verb, argument)
    except Refused as refused:
        return refused.reply


@contextmanager
def acting(ticket: Ticket, verb: str) -> Iterator[None]:
    """Run a ``services`` action on ``ticket``, mapping its typed errors to replies."""
    try:
        yield
    except NotAllowed as exc:
        raise Refused(msg("worker.not_allowed", no=ticket.number)) from exc
    except WrongState as exc:
        raise Refused(bad_state(ticket, verb)) from exc


def split_number(turn: Turn, verb: str, argument: str) -> tuple[str, str]:
    """(ticket number, rest) from a command's argument — a full number, a list position or
    a number's tail (``handlers.shortref``). Raises Refused asking for it."""
    ref = shortref.parse(argument, turn.settings.ticket_prefix)
    if ref is None:
        raise Refused(msg("worker.need_number", command=verb))
    queue = open_tickets_of(turn.session, turn.worker) if ref.tail else []
    number, refusal = shortref.lookup(turn, ref, queue, msg("worker.list_hint"),
                                      shortref.QUEUE)
    if refusal is not None:
        raise Refused(refusal)
    return number, ref.rest


def load_ticket(turn: Turn, number: str) -> Ticket:
    """The ticket locked for update, if this worker may act on it
    (``services.permissions``). Raises Refused."""
    try:
        ticket = tickets.by_number(turn.session, number, for_update=True)
    except NotFound as exc:
        raise Refused(msg("ticket_not_found", no=number)) from exc
    if not allowed(turn.session, turn.worker, "view", ticket):
        raise Refused(msg("worker.not_allowed", no=ticket.number))
    return ticket


@worker_command("接单")
def accept_command(turn: Turn, verb: str, argument: str) -> str:
    """「接单 1」 takes a ticket; a bare 「接单」 lists (numbered) those waiting to be taken."""
    if not argument:
        return _show(turn, [t for t in open_tickets_of(turn.session, turn.worker)
                            if t.status in TAKEABLE], "worker.takeable_header",
                     "worker.takeable_empty")
    ticket, _ = _ticket_and_text(turn, verb, argument, None)
    with acting(ticket, verb):
        accept(turn.session, ticket, turn.worker, turn.now)
    return msg("worker.accepted", no=ticket.number)


@worker_command("办结")
def resolve_command(turn: Turn, verb: str, argument: str) -> str:
    ticket, note = _ticket_and_text(turn, verb, argument, "worker.need_note")
    with acting(ticket, verb):
        resolve(turn.session, ticket, turn.worker, note, turn.now)
    return msg("worker.resolved", no=ticket.number)


def bad_state(ticket: Ticket, action: str) -> str:
    """The reply when ``action`` is not allowed in the ticket's current status."""
    return msg("worker.bad_state", no=ticket.number, status=msg(f"status.{ticket.status}"),
               action=action)


@worker_command("我的任务", "待办")
def queue_command(turn: Turn, verb: str, argument: str) -> str:
    """The worker's open tickets (assigned, their departments', unassigned of their grid),
    by priority, then resolution due time."""
    return _show(turn, open_tickets_of(turn.session, turn.worker), "worker.queue_header",
                 "worker.queue_empty")


def _show(turn: Turn, shown: list[Ticket], header: str, empty: str) -> str:
    """A numbered list of ``shown``, remembered so 「接单 1」 means its first line."""
    if not shown:
        return msg(empty)
    lines = [msg(header, count=len(shown))]
    for n, t in enumerate(shown, start=1):
        urgent = msg("push.urgent_flag") if t.urgent else ""
        overdue = msg("worker.overdue_flag") if t.resolve_due_at and (
            as_utc(t.resolve_due_at) <= turn.now) else ""
        lines.append(msg("worker.queue_line", urgent=urgent, **shortref.line(n, t),
                         **describe(turn.session, t))
                     + msg("worker.queue_due", due=show(t.resolve_due_at, turn.settings.timezone),
                           overdue=overdue))
    lines.append(msg("worker.queue_footer"))
    shortref.remember(turn, shown, shortref.QUEUE)
    return "\n".join(lines)


def _ticket_and_text(turn: Turn, verb: str, argument: str, need: str | None
                     ) -> tuple[Ticket, str]:
    """(ticket, text) for "<verb> <工单号> <text>". Raises Refused.

    ``need`` is the catalogue key asking for a missing text (None: text optional).
    """
    number, text = split_number(turn, verb, argument)
    ticket = load_ticket(turn, number)
    if need and not text:
        raise Refused(msg(need, no=ticket.number, command=verb))
    return ticket, text


@worker_command("到场", "处理")
def start_command(turn: Turn, verb: str, argument: str) -> str:
    ticket, _ = _ticket_and_text(turn, verb, argument, None)
    with acting(ticket, verb):
        start(turn.session, ticket, turn.worker, turn.now)
    return msg("worker.started", no=ticket.number)


@worker_command("询问")
def ask_command(turn: Turn, verb: str, argument: str) -> str:
    """Ask the resident a question; the SLA clock pauses until they answer."""
    ticket, question = _ticket_and_text(turn, verb, argument, "worker.need_question")
    resident = turn.session.get(Resident, ticket.resident_id) if ticket.resident_id else None
    if resident is None or not resident.openid:
        return msg("worker.no_resident", no=ticket.number)
    with acting(ticket, verb):
        ask(turn.session, ticket, turn.worker, question, turn.now)
    await_answer(resident, ticket, turn.now)
    return msg("worker.asked", no=ticket.number)


@worker_command("恢复")
def resume_command(turn: Turn, verb: str, argument: str) -> str:
    """Resume a ticket waiting for the resident without an answer."""
    ticket, note = _ticket_and_text(turn, verb, argument, None)
    with acting(ticket, verb):
        answer(turn.session, ticket, turn.worker, note or None, turn.now)
    return msg("worker.resumed", no=ticket.number, due=show(ticket.resolve_due_at,
                                                             turn.settings.timezone))


@worker_command("上报")
def call_in_command(turn: Turn, verb: str, argument: str) -> str:
    """Escalate to the community (and the grid leader)."""
    ticket, reason = _ticket_and_text(turn, verb, argument, "worker.need_reason")
    with acting(ticket, verb):
        told = call_in(turn.session, ticket, turn.worker, reason, turn.now)
    return msg("worker.called_in", no=ticket.number, count=told,
               status=status_text(turn.session, ticket))


@worker_command("转派")
def transfer_command(turn: Turn, verb: str, argument: str) -> str:
    """Transfer to another grid (code or name) or a department (name); rest is the reason."""
    ticket, rest = _ticket_and_text(turn, verb, argument, "worker.need_target")
    name, _, reason = rest.partition(" ")
    try:  # grid codes are unique only within a community: the ticket's own is meant
        target = find_target(turn.session, name, community_id_of(turn.session, ticket))
    except NotFound:
        return msg("worker.unknown_target", target=name)
    with acting(ticket, verb):
        label = transfer(turn.session, ticket, turn.worker, target, reason.strip(), turn.now)
    return msg("worker.transferred", no=ticket.number, target=label,
               status=status_text(turn.session, ticket))


@worker_command("驳回")
def reject_command(turn: Turn, verb: str, argument: str) -> str:
    """Reject as not the community's business; the reason tells the resident where to go."""
    ticket, reason = _ticket_and_text(turn, verb, argument, "worker.need_reject_reason")
    with acting(ticket, verb):
        reject(turn.session, ticket, turn.worker, reason, turn.now)
    return msg("worker.rejected", no=ticket.number)
