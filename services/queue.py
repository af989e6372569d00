"""The staff console's ticket queue: the tickets a staff member may see, filtered, searched
and ordered by urgency then due time, each with its SLA countdowns.

``list_tickets(session, worker, QueueFilter(...), now)`` reads only. Visibility is
``services.scope``'s (``ticket_filter(scope_of(session, worker))``); tickets the worker is
recused from (回避, ``services.conflict``) are left out as in the chat's 我的任务. Order is
``storage.tickets.QUEUE_ORDER`` (priority — urgent first —, resolution due time, age), the
order of ``services.people.queue_key``.

Countdowns (``Countdown``): seconds left to a clock's due time (negative: overdue), frozen
at the pause while the ticket waits for the resident; colour "green" while more than half of
the clock's time is left, "amber" for the last half, "red" once overdue. A clock's time runs
from the ticket's creation (or its latest reopen) to the due time, on the wall clock.

Search (``QueueFilter.q``): each word must match the ticket number (any part:
「GD20261122-0007」 or 「0007」), the description, the category or the location text; a word
of exactly four digits also matches the last four digits of the reporter's phone (a resident
row's phone; reporters through other doors keep theirs only on the timeline).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, func, or_
from sqlmodel import Session, col, select

from services.conflict import RECUSED
from services.errors import Invalid
from services.notify import describe
from services.scope import scope_of, ticket_filter
from storage import org as org_repo
from storage import tickets as repo
from storage.models import (
    Community,
    Department,
    Grid,
    GridWorker,
    Resident,
    Ticket,
    TicketEvent,
    TicketStatus,
)
from storage.times import as_utc

S = TicketStatus

STATES = {
    "open": S.OPEN,
    "done": (S.RESOLVED, *S.FINAL),
    "all": None,
}
"""Named groups of statuses ``QueueFilter.state`` accepts besides a single status:
"open" (the queue: every open status), "done" (resolved, closed, cancelled, rejected),
"all"."""
ALL_STATUSES = (*S.OPEN, S.RESOLVED, *S.FINAL)

GREEN, AMBER, RED = "green", "amber", "red"
"""Countdown colours: more than half the time left, the last half, overdue."""

MAX_LIMIT = 200
"""The most rows one page may ask for."""


@dataclass(frozen=True)
class QueueFilter:
    """What a staff member asks of the queue; every field optional.

    ``grid_id``: one grid; ``kind``: "repair", "complaint", "emergency"; ``category``: the
    category as stored (「楼道灯」); ``state``: a ``TicketStatus`` value or a group of
    ``STATES`` (default "open"); ``overdue``: only tickets with a clock past due;
    ``q``: search words (module docstring).
    """

    grid_id: int | None = None
    kind: str | None = None
    category: str | None = None
    state: str = "open"
    overdue: bool = False
    q: str = ""


@dataclass(frozen=True)
class Countdown:
    """One SLA clock of a ticket: ``clock`` "response" or "resolve", ``due_at`` (aware UTC),
    ``seconds_left`` (int, negative when overdue), ``colour`` (GREEN/AMBER/RED),
    ``paused`` (waiting for the resident: the count is frozen) and ``seconds_total`` (the
    clock's whole time, start to due, at least 1)."""

    clock: str
    due_at: datetime
    seconds_left: int
    colour: str
    paused: bool
    seconds_total: int = 1

    @property
    def overdue(self) -> bool:
        """Whether the due time has passed (on the running or frozen count)."""
        return self.seconds_left < 0


@dataclass(frozen=True)
class QueueRow:
    """One line of the queue: the ticket, what people read about it (``fields`` as
    ``services.notify.describe``: no, kind, category, address, status, text), the grid's and
    assignee's names ("" when none) and the countdowns of the clocks still running
    (``response`` until the first response, ``resolve`` until 办结/驳回; None when stopped)."""

    ticket: Ticket
    fields: dict[str, str]
    grid_name: str
    assignee_name: str
    response: Countdown | None
    resolve: Countdown | None
    department_name: str = ""
    """The department it was transferred to (转派), "" when none."""

    @property
    def countdown(self) -> Countdown | None:
        """The clock to watch: the response while it runs, else the resolution."""
        return self.response or self.resolve

    @property
    def overdue(self) -> bool:
        """Whether any running clock is past due."""
        return any(c is not None and c.overdue for c in (self.response, self.resolve))


def list_tickets(session: Session, worker: GridWorker, flt: QueueFilter, now: datetime,
                 limit: int = 50, offset: int = 0) -> list[QueueRow]:
    """The page of the queue ``worker`` may see that matches ``flt``, ``limit`` rows (at most
    ``MAX_LIMIT``) from ``offset``, in queue order, with countdowns at ``now`` (aware UTC).

    Raises Invalid for an unknown state or kind, or a negative offset.
    """
    if offset < 0 or limit < 1:
        raise Invalid(f"bad page: limit {limit}, offset {offset}")
    query = select(Ticket).where(*_conditions(session, worker, flt, now))
    tickets = list(session.exec(query.order_by(*repo.QUEUE_ORDER)
                                .limit(min(limit, MAX_LIMIT)).offset(offset)))
    return [_row(session, t, now) for t in tickets]


def count_tickets(session: Session, worker: GridWorker, flt: QueueFilter,
                  now: datetime) -> int:
    """How many tickets ``list_tickets`` would give over all pages. Raises Invalid as it."""
    query = select(func.count()).select_from(Ticket).where(*_conditions(session, worker, flt, now))
    return int(session.exec(query).one())


def grid_choices(session: Session, worker: GridWorker) -> list[tuple[int, str]]:
    """The grids ``worker``'s queue may be filtered by: (grid id, label) for every grid of
    the communities in their scope and their own grids, by community then code; the label
    names the community too when there are several (「阳光社区 · 阳光一网格」)."""
    scope = scope_of(session, worker)
    query = (select(Grid, Community.name).join(Community, Community.id == Grid.community_id)
             .order_by(Grid.community_id, Grid.code))
    if scope.community_ids is not None:
        query = query.where(or_(col(Grid.community_id).in_(sorted(scope.community_ids)),
                                col(Grid.id).in_(sorted(scope.grid_ids))))
    rows = list(session.exec(query))
    several = len({grid.community_id for grid, _ in rows}) > 1
    return [(grid.id, f"{community} · {grid.name}" if several else grid.name)
            for grid, community in rows]


def countdowns(ticket: Ticket, now: datetime) -> tuple[Countdown | None, Countdown | None]:
    """(response, resolve) countdowns of ``ticket`` at ``now``; a clock that stopped (the
    response once answered, both once resolved or closed) or has no due time gives None."""
    if ticket.status not in S.OPEN:
        return None, None
    start = as_utc(ticket.reopened_at if ticket.sla_cycle and ticket.reopened_at
                   else ticket.created_at)
    paused = ticket.paused_at is not None
    at = as_utc(ticket.paused_at) if paused else as_utc(now)
    response = None
    if ticket.responded_at is None and ticket.response_due_at is not None:
        response = _countdown("response", start, as_utc(ticket.response_due_at), at, paused)
    resolve = None
    if ticket.resolve_due_at is not None:
        resolve = _countdown("resolve", start, as_utc(ticket.resolve_due_at), at, paused)
    return response, resolve


def _countdown(clock: str, start: datetime, due: datetime, at: datetime,
               paused: bool) -> Countdown:
    left = int((due - at).total_seconds())
    total = max((due - start).total_seconds(), 1.0)
    colour = RED if left < 0 else GREEN if left > total / 2 else AMBER
    return Countdown(clock, due, left, colour, paused, int(total))


def _row(session: Session, ticket: Ticket, now: datetime) -> QueueRow:
    grid = org_repo.grid(session, ticket.grid_id) if ticket.grid_id else None
    assignee = org_repo.staff(session, ticket.assignee_id) if ticket.assignee_id else None
    department = session.get(Department, ticket.department_id) if ticket.department_id else None
    response, resolve = countdowns(ticket, now)
    return QueueRow(ticket=ticket, fields=describe(session, ticket),
                    grid_name=grid.name if grid else "",
                    assignee_name=assignee.name if assignee else "",
                    response=response, resolve=resolve,
                    department_name=department.name if department else "")


def _conditions(session: Session, worker: GridWorker, flt: QueueFilter, now: datetime) -> list:
    where = [ticket_filter(scope_of(session, worker)), _not_recused(worker)]
    state = flt.state or "open"
    if state in STATES:
        if STATES[state] is not None:
            where.append(repo.is_open() if state == "open"
                         else col(Ticket.status).in_(STATES[state]))
    elif state in ALL_STATUSES:
        where.append(Ticket.status == state)
    else:
        raise Invalid(f"unknown state {state!r}")
    if flt.grid_id is not None:
        where.append(Ticket.grid_id == flt.grid_id)
    if flt.kind:
        if flt.kind not in ("repair", "complaint", "emergency"):
            raise Invalid(f"unknown kind {flt.kind!r}")
        where.append(Ticket.kind == flt.kind)
    if flt.category:
        where.append(Ticket.category == flt.category)
    if flt.overdue:
        where.append(_overdue(now))
    for word in flt.q.split():
        where.append(_matches(word))
    return where


def _not_recused(worker: GridWorker):
    return ~exists().where(TicketEvent.ticket_id == Ticket.id, TicketEvent.kind == RECUSED,
                           TicketEvent.actor == f"worker:{worker.id}")


def _overdue(now: datetime):
    """An open ticket with a running (or paused-after-due) clock past its due time."""
    def past(due):
        return or_(and_(col(Ticket.paused_at).is_(None), due < now),
                   and_(col(Ticket.paused_at).is_not(None), due < Ticket.paused_at))

    response = and_(col(Ticket.responded_at).is_(None), past(col(Ticket.response_due_at)))
    return and_(repo.is_open(), or_(response, past(col(Ticket.resolve_due_at))))


def _matches(word: str):
    like = f"%{_escape(word)}%"
    either = [col(Ticket.number).ilike(like.upper(), escape="\\"),
              col(Ticket.description).ilike(like, escape="\\"),
              col(Ticket.category).ilike(like, escape="\\"),
              col(Ticket.location).ilike(like, escape="\\")]
    if len(word) == 4 and word.isascii() and word.isdigit():
        either.append(exists().where(Resident.id == Ticket.resident_id,
                                     col(Resident.phone).like(f"%{word}")))
    return or_(*either)


def _escape(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
