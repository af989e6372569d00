"""The ticket life cycle as people live it: every change is a timeline event, replans the
ticket's SLA timers (``storage.sla.plan``) and tells the right person through the outbox
(``services.notify``) — all in the caller's transaction.

submitted → assigned → accepted → in_progress → resolved → closed (rated, or 默认满意 after
the rating window), or cancelled / rejected; 不满意 reopens. The grid's worker is the
assignee and the 首问责任人 (``first_owner_id``); a grid with no worker leaves the ticket
submitted and alerts the community's staff. Hand-over lives in ``services.handover``, the
waiting_resident dialogue in ``services.questions``, timers firing in
``services.escalation``.

Every action that an acting person takes checks ``services.permissions.require`` first
(raises ``NotAllowed``); a status that does not allow the change raises ``WrongState``;
a bad value ``Invalid`` (``services.errors``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, and_, col, or_, select

from services import conflict, permissions, promise
from services.errors import Invalid, WrongState
from services.messages import msg
from services.notify import describe, tell_owner, tell_resident, tell_staff, template_data
from services.people import community_id_of, grid_leaders, handlers_of, staff_of_community
from storage import Conflict, sla, vulnerability
from storage import org as org_repo
from storage import tickets as repo
from storage.models import (
    Grid,
    GridWorker,
    Priority,
    Resident,
    Role,
    Ticket,
    TicketEvent,
    TicketStatus,
)
from storage.numbers import DEFAULT_TICKET_PREFIX
from storage.outbox import Recipient, add_push
from storage.times import as_utc

VULNERABLE_LEVELS = vulnerability.LEVELS[:3]
"""Care levels (红橙黄蓝绿) that raise a ticket to Priority.HIGH; urgent dangers stay first."""

S = TicketStatus


@dataclass(frozen=True)
class NewTicket:
    """What was reported. ``kind`` is "complaint", "repair" or "emergency" (急救, 治安,
    走失, 求助: ``intents/emergency.toml``).

    Where the problem is (``services.places.ticket_fields`` fills it from a "where"): a building
    (+unit/room), a public place, and/or a location (WGS-84 degrees, ``location`` its label
    as text). None of them: the reporter's home. ``photos``: URLs of pictures sent with it.
    """

    kind: str
    category: str | None
    description: str
    urgent: bool = False
    location: str | None = None
    source_msg_id: int | None = None
    building_id: int | None = None
    unit: int | None = None
    room: str | None = None
    place_id: int | None = None
    latitude: float | None = None
    longitude: float | None = None
    photos: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reporter:
    """Who reported: a resident (``resident_id``; WeChat or not) and/or just a name and a
    phone (another door, e.g. Open311, with ``source`` its timeline actor label such as
    "open311:<client>"). The home (``building_id``/``unit``/``room``) places a report that
    names no place; ``vulnerability`` (红橙黄蓝绿) raises its priority."""

    resident_id: int | None = None
    name: str | None = None
    phone: str | None = None
    building_id: int | None = None
    unit: int | None = None
    room: str | None = None
    vulnerability: str | None = None
    source: str = "system"

    @classmethod
    def of(cls, resident: Resident) -> Reporter:
        """The reporter a resident row stands for."""
        return cls(resident_id=resident.id, phone=resident.phone,
                   building_id=resident.building_id, unit=resident.unit, room=resident.room,
                   vulnerability=resident.vulnerability)

    @property
    def actor(self) -> str:
        """Timeline actor label: "resident:<id>", else ``source``."""
        return f"resident:{self.resident_id}" if self.resident_id else self.source


def actor(who: Resident | GridWorker | None) -> str:
    """Timeline actor label: "resident:<id>", "worker:<id>" or "system"."""
    if isinstance(who, Resident):
        return f"resident:{who.id}"
    if isinstance(who, GridWorker):
        return f"worker:{who.id}"
    return "system"


def move(session: Session, ticket: Ticket, to: str, who: str, now: datetime,
         note: str | None = None) -> None:
    """``storage.tickets.move`` raising WrongState instead of storage's Conflict."""
    try:
        repo.move(session, ticket, to, who, now, note)
    except WrongState:
        raise
    except Conflict as exc:
        raise WrongState(str(exc)) from exc


def open_ticket(session: Session, reporter: Reporter, report: NewTicket, now: datetime,
                prefix: str = DEFAULT_TICKET_PREFIX) -> Ticket:
    """Create the ticket in the grid covering where the problem is (the report's building or
    place; else the reporter's home building, also for a shared location that matched no
    known building or place) and push it to its worker.

    With no grid found the ticket stays submitted for community staff. Urgent reports get
    Priority.URGENT and are pushed to the grid's leaders as well; reporters with a
    ``VULNERABLE_LEVELS`` care level get Priority.HIGH. A reporter with no resident row has
    their name and phone written on the timeline. The SLA policy is matched, both due times
    set and the timers planned.
    """
    own = report.building_id is not None or report.place_id is not None
    at_home = not own and report.latitude is None  # nothing but the home address
    building_id = report.building_id if own else reporter.building_id
    building = org_repo.building(session, building_id) if building_id else None
    place = org_repo.place(session, report.place_id) if report.place_id else None
    grid_id = place.grid_id if place else building.grid_id if building else None
    priority = Priority.NORMAL
    if reporter.vulnerability in VULNERABLE_LEVELS:
        priority = Priority.HIGH
    if report.urgent:
        priority = Priority.URGENT
    ticket = Ticket(
        number=repo.next_number(session, prefix, now),
        kind=report.kind, category=report.category, description=report.description,
        location=report.location, building_id=building_id if own or at_home else None,
        unit=report.unit if own else reporter.unit if at_home else None,
        room=report.room if own else reporter.room if at_home else None,
        place_id=report.place_id, latitude=report.latitude, longitude=report.longitude,
        priority=priority, urgent=report.urgent, grid_id=grid_id,
        resident_id=reporter.resident_id, source_msg_id=report.source_msg_id, created_at=now,
    )
    sla.start_clocks(ticket, now)
    pick = conflict.assignee(session, ticket)  # 回避: never the person complained about
    worker = pick.worker
    if worker is not None:  # inserted already assigned: one INSERT, no UPDATE
        ticket.assignee_id = worker.id
        ticket.first_owner_id = worker.id
        ticket.status = S.ASSIGNED
        ticket.assigned_at = now
    session.add(ticket)
    session.flush()
    note = report.description
    if reporter.resident_id is None and (reporter.name or reporter.phone):
        note += "\n" + msg("reporter.contact", name=reporter.name or "-",
                           phone=reporter.phone or "-")
    repo.record(session, ticket, S.SUBMITTED, reporter.actor, now, note)
    for url in report.photos:
        repo.record(session, ticket, PHOTO, reporter.actor, now, url)
    conflict.record(session, ticket, pick, now)
    if worker is not None:
        repo.record(session, ticket, S.ASSIGNED, "system", now, worker.name)
    fields = describe(session, ticket)
    urgent = msg("push.urgent_flag") if ticket.urgent else ""
    phone = reporter.phone or msg("text.no_phone")
    if worker is not None:
        add_push(session, to=Recipient.staff(worker), event="task_assigned",
                 text=msg("push.task_assigned", urgent=urgent, phone=phone, **fields),
                 data=template_data(fields, now, msg("push.remark_accept")), ticket_id=ticket.id)
    else:
        repo.record(session, ticket, "unassigned", "system", now)
        for staff in staff_of_community(session, ticket):
            add_push(session, to=Recipient.staff(staff), event="task_unassigned",
                     text=msg("push.task_unassigned", **fields),
                     data=template_data(fields, now, msg("push.remark_assign")), ticket_id=ticket.id)
    if ticket.urgent:  # 三必到: the grid leaders hear of every emergency at once, too
        tell_staff(session, grid_leaders(session, ticket), ticket, "urgent_leader",
                   msg("emergency.push_leader", phone=phone,
                       worker=worker.name if worker else msg("status.submitted"), **fields),
                   skip=worker)
    sla.plan(session, ticket, now)
    return ticket


def accept(session: Session, ticket: Ticket, worker: GridWorker, now: datetime) -> None:
    """The worker takes the ticket (first response; stops the response clock).

    Allowed from submitted, assigned and reopened. Raises NotAllowed, WrongState.
    """
    permissions.require(session, worker, "accept", ticket)
    if ticket.status == S.SUBMITTED:
        ticket.assignee_id = worker.id
        move(session, ticket, S.ASSIGNED, actor(worker), now, worker.name)
    elif ticket.status not in (S.ASSIGNED, S.REOPENED):
        raise WrongState(f"{ticket.number}: cannot accept in {ticket.status}")
    ticket.assignee_id = worker.id
    if ticket.first_owner_id is None:
        ticket.first_owner_id = worker.id
    move(session, ticket, S.ACCEPTED, actor(worker), now)
    sla.mark_response(ticket, now)
    sla.plan(session, ticket, now)
    tell_resident(session, ticket, "ticket_accepted",
                  msg("push.ticket_accepted", no=ticket.number, worker=worker.name,
                      phone=worker.phone or "-", due=promise.inline(ticket, now)), now)
    tell_owner(session, ticket, "ticket_accepted_owner",
               msg("push.owner_update", no=ticket.number, who=worker.name,
                   what=msg("event.accepted")), skip=worker)


ASSIGNABLE = (S.SUBMITTED, S.ASSIGNED, S.ACCEPTED, S.IN_PROGRESS, S.WAITING_RESIDENT,
              S.REOPENED)
"""Statuses in which a ticket may be assigned (派单) to someone (again)."""
ASSIGNEE_ROLES = (Role.GRID_WORKER, Role.GRID_LEADER, Role.COMMUNITY_ADMIN)
"""Roles a ticket may be assigned to: the community's own staff (not a department member,
who gets tickets by 转派 to the department, nor station staff)."""


def assign(session: Session, ticket: Ticket, by: GridWorker, to: GridWorker,
           now: datetime) -> None:
    """派单: ``by`` (a grid leader, community staff or street admin who may act on the
    ticket: ``permissions`` action "assign") makes ``to`` its assignee; ``to`` must still
    accept it (接单), the ticket is ``assigned``.

    ``to`` is an active ``ASSIGNEE_ROLES`` staff member of the ticket's community (a worker
    of another grid of it takes the ticket into their grid's queue and becomes its
    首问责任人, as a 转派 to a grid does), never someone recused from it (回避). A ticket with
    a department leaves it. A waiting_resident ticket resumes its SLA clocks; due times do
    not restart (they are the resident's promise) and the timers are replanned. ``to`` is
    pushed the task, a previous assignee is told it went to someone else, the 首问责任人 is
    kept informed. Raises NotAllowed, WrongState (a final or resolved ticket, or ``to``
    already has it), Invalid (``to`` inactive, of another community, of a role that takes no
    tickets, or recused).
    """
    permissions.require(session, by, "assign", ticket)
    if ticket.status not in ASSIGNABLE:
        raise WrongState(f"{ticket.number}: cannot assign in {ticket.status}")
    if to.id == ticket.assignee_id and ticket.status == S.ASSIGNED:
        raise WrongState(f"{ticket.number} is already assigned to {to.name}")
    community_id = community_id_of(session, ticket)
    to_grid = org_repo.grid(session, to.grid_id) if to.grid_id else None
    to_community = to_grid.community_id if to_grid else to.community_id
    if not to.active or to.role not in ASSIGNEE_ROLES:
        raise Invalid(f"{to.name} takes no tickets")
    if community_id is not None and to_community not in (None, community_id):
        raise Invalid(f"{to.name} is not staff of the ticket's community")
    if to.id in conflict.recused_ids(session, ticket):
        raise Invalid(f"{to.name} is recused from {ticket.number}")
    previous = org_repo.staff(session, ticket.assignee_id) if ticket.assignee_id else None
    sla.resume(ticket, now)
    if to_grid is not None and to_grid.id != ticket.grid_id:
        ticket.grid_id = to_grid.id
        ticket.first_owner_id = to.id
    elif ticket.first_owner_id is None:
        ticket.first_owner_id = to.id
    ticket.department_id = None
    ticket.assignee_id = to.id
    move(session, ticket, S.ASSIGNED, actor(by), now,
         msg("assign.note", who=by.name, to=to.name))
    sla.plan(session, ticket, now)
    fields = describe(session, ticket)
    add_push(session, to=Recipient.staff(to), event="task_assigned",
             text=msg("push.task_assigned_by", who=by.name, **fields),
             data=template_data(fields, now, msg("push.remark_accept")), ticket_id=ticket.id)
    if previous is not None and previous.id != to.id:
        tell_staff(session, [previous], ticket, "task_reassigned",
                   msg("push.task_reassigned", no=ticket.number, who=by.name, to=to.name),
                   skip=by)
    if previous is None or ticket.first_owner_id != previous.id:  # told just above
        tell_owner(session, ticket, "ticket_assigned_owner",
                   msg("push.owner_update", no=ticket.number, who=by.name,
                       what=msg("assign.what", to=to.name)), skip=by)


def assignable_to(session: Session, ticket: Ticket) -> list[GridWorker]:
    """Whom ``assign`` accepts for ``ticket``: active ``ASSIGNEE_ROLES`` staff of its
    community (of every community for a ticket with no grid), not recused from it; grid
    staff by grid, then community staff, by name."""
    community_id = community_id_of(session, ticket)
    query = select(GridWorker).where(GridWorker.active, col(GridWorker.role).in_(ASSIGNEE_ROLES))
    if community_id is not None:
        grids = select(Grid.id).where(Grid.community_id == community_id)
        query = query.where(or_(col(GridWorker.grid_id).in_(grids),
                                and_(col(GridWorker.grid_id).is_(None),
                                     GridWorker.community_id == community_id)))
    recused = conflict.recused_ids(session, ticket)
    people = [w for w in session.exec(query) if w.id not in recused]
    return sorted(people, key=lambda w: (w.grid_id is None, w.grid_id or 0, w.name, w.id))


def start(session: Session, ticket: Ticket, worker: GridWorker, now: datetime) -> None:
    """到场/处理: the worker is on it (in_progress). Accepts first when needed.
    Raises NotAllowed, WrongState."""
    permissions.require(session, worker, "start", ticket)
    if ticket.status in (S.SUBMITTED, S.ASSIGNED, S.REOPENED):
        accept(session, ticket, worker, now)
    move(session, ticket, S.IN_PROGRESS, actor(worker), now)
    sla.mark_response(ticket, now)
    sla.plan(session, ticket, now)
    tell_resident(session, ticket, "ticket_in_progress",
                  msg("push.ticket_in_progress", no=ticket.number, worker=worker.name), now)


def resolve(session: Session, ticket: Ticket, worker: GridWorker, note: str,
            now: datetime) -> None:
    """The worker closes the work (办结) with ``note``; the resident is asked to rate.

    A ticket resolved without a separate 接单 counts as accepted at the same moment; both
    clocks stop and the rating follow-up timer is planned. Raises NotAllowed, WrongState,
    Invalid (an empty note).
    """
    permissions.require(session, worker, "resolve", ticket)
    if not note.strip():
        raise Invalid("a resolution needs a note")
    if ticket.status == S.SUBMITTED:
        raise WrongState(f"{ticket.number} is not assigned")
    if ticket.status in (S.ASSIGNED, S.REOPENED):
        accept(session, ticket, worker, now)
    ticket.resolution = note
    sla.mark_resolved(ticket, now)
    move(session, ticket, S.RESOLVED, actor(worker), now, note)
    sla.plan(session, ticket, now)
    tell_resident(session, ticket, "ticket_resolved",
                  msg("push.ticket_resolved", no=ticket.number, note=note), now,
                  msg("push.remark_rate"))
    tell_owner(session, ticket, "ticket_resolved_owner",
               msg("push.owner_update", no=ticket.number, who=worker.name,
                   what=msg("push.owner_resolved", note=note)), skip=worker)


def rate(session: Session, ticket: Ticket, resident: Resident, score: int, now: datetime,
         comment: str | None = None) -> str:
    """Store the resident's 1–5 rating of a resolved (or recently closed) ticket.

    A score up to ``reopen_score_max`` (不满意) reopens the ticket and alerts the grid
    leader, unless it was reopened ``max_reopens`` times already (then it closes and the
    community is alerted). Returns the new status ("closed" or "reopened").
    Raises NotAllowed (not the reporter), WrongState, Invalid (score outside 1–5).
    """
    permissions.require(session, resident, "rate", ticket)
    if not 1 <= score <= 5:
        raise Invalid(f"rating {score} outside 1–5")
    cfg = sla.load()
    ticket.rating = score
    ticket.rating_comment = comment
    unhappy = score <= cfg.reopen_score_max
    assignee = org_repo.staff(session, ticket.assignee_id) if ticket.assignee_id else None
    if assignee is not None:
        add_push(session, to=Recipient.staff(assignee), event="ticket_rated",
                 text=msg("push.ticket_rated", no=ticket.number, score=score),
                 ticket_id=ticket.id)
    if unhappy and ticket.reopened_count < cfg.max_reopens:
        reopen(session, ticket, resident, now,
               msg("rating.score_comment_note", score=score, comment=comment) if comment
               else msg("rating.score_note", score=score))
        return S.REOPENED
    if ticket.status == S.CLOSED:  # a late rating of a ticket closed as 默认满意
        ticket.auto_closed = False
        repo.record(session, ticket, "rated", actor(resident), now,
                    msg("rating.score_note", score=score))
    else:
        move(session, ticket, S.CLOSED, actor(resident), now, msg("rating.score_note", score=score))
    sla.plan(session, ticket, now)
    if unhappy:
        tell_staff(session, grid_leaders(session, ticket) + staff_of_community(session, ticket),
                   ticket, "ticket_unhappy",
                   msg("push.ticket_unhappy", no=ticket.number, score=score,
                       comment=comment or ""))
    return S.CLOSED


def reopen(session: Session, ticket: Ticket, resident: Resident | None, now: datetime,
           reason: str) -> None:
    """不满意: back to work in a new SLA cycle (fresh due times from ``now``); the assignee
    and the grid leader (else the community) are alerted. Raises WrongState."""
    move(session, ticket, S.REOPENED, actor(resident), now, reason)
    ticket.reopened_count += 1
    ticket.sla_cycle += 1
    ticket.resolve_met = None
    ticket.auto_closed = False
    sla.start_clocks(ticket, now)
    sla.plan(session, ticket, now)
    text = msg("push.ticket_reopened", no=ticket.number, reason=reason,
               **{k: v for k, v in describe(session, ticket).items() if k != "no"})
    leaders = grid_leaders(session, ticket) or staff_of_community(session, ticket)
    tell_staff(session, handlers_of(session, ticket) + leaders, ticket, "ticket_reopened", text)


def auto_close(session: Session, ticket: Ticket, now: datetime) -> None:
    """No rating within the window: close as default-satisfied (默认满意), marked
    ``auto_closed``. Raises WrongState when the ticket is no longer resolved."""
    ticket.auto_closed = True
    move(session, ticket, S.CLOSED, "system", now, msg("event.default_satisfied"))
    sla.plan(session, ticket, now)
    tell_resident(session, ticket, "ticket_auto_closed",
                  msg("push.ticket_auto_closed", no=ticket.number,
                      days=sla.load().reopen_window_s // 86400), now)


def reopen_window_start(now: datetime) -> datetime:
    """Tickets closed at or after this instant may still be reopened by 不满意."""
    return as_utc(now) - timedelta(seconds=sla.load().reopen_window_s)


def cancel(session: Session, ticket: Ticket, resident: Resident, now: datetime) -> None:
    """The resident withdraws an open ticket; the assignee is told.
    Raises NotAllowed (not the reporter), WrongState."""
    permissions.require(session, resident, "cancel", ticket)
    if ticket.status not in S.OPEN:
        raise WrongState(f"{ticket.number}: cannot cancel in {ticket.status}")
    move(session, ticket, S.CANCELLED, actor(resident), now)
    sla.plan(session, ticket, now)
    assignee = org_repo.staff(session, ticket.assignee_id) if ticket.assignee_id else None
    if assignee is not None:
        add_push(session, to=Recipient.staff(assignee), event="ticket_cancelled",
                 text=msg("push.ticket_cancelled", no=ticket.number), ticket_id=ticket.id)


def note(session: Session, ticket: Ticket, worker: GridWorker, text: str,
         now: datetime) -> None:
    """民情日记: a staff note on the timeline (``NOTE`` event); nobody is pushed.
    Raises NotAllowed, Invalid (empty text)."""
    permissions.require(session, worker, "note", ticket)
    if not text.strip():
        raise Invalid("a note needs text")
    repo.record(session, ticket, NOTE, actor(worker), now, text.strip())


def attach(session: Session, ticket: Ticket, who: Resident | GridWorker | None,
           now: datetime, text: str | None = None, photos: tuple[str, ...] | list[str] = (),
           point: tuple[float, float, str] | None = None) -> None:
    """Add what was sent later to a ticket's timeline, telling nobody: a supplement
    ``text`` (``SUPPLEMENT``), photo URLs (``PHOTO``) and a point (latitude, longitude in
    WGS-84 degrees, label; ``LOCATION``), which also becomes the ticket's coordinates when
    it had none. Raises NotAllowed (a resident other than the reporter, or staff out of
    scope)."""
    permissions.require(session, who, "attach", ticket)
    label = actor(who)
    if text:
        repo.record(session, ticket, SUPPLEMENT, label, now, text)
    for url in photos:
        repo.record(session, ticket, PHOTO, label, now, url)
    if point is not None:
        latitude, longitude, where = point
        repo.record(session, ticket, LOCATION, label, now, f"{where} ({latitude},{longitude})")
        if ticket.latitude is None:
            ticket.latitude, ticket.longitude = latitude, longitude


PHOTO = "photo"
"""TicketEvent.kind of a picture (note: its URL)."""
LOCATION = "location"
"""TicketEvent.kind of a location sent later (note: label and coordinates)."""
SUPPLEMENT = "supplement"
"""TicketEvent.kind of what the reporter added later (补充)."""
NOTE = "note"
"""TicketEvent.kind of a staff note (民情日记)."""

URGE = "urge"
"""TicketEvent.kind of a resident's 催办 that nudged the people working the ticket."""
URGE_HELD = "urge_held"
"""TicketEvent.kind of a 催办 within ``NUDGE_EVERY_S`` of the last nudge (no push)."""
NUDGE_EVENT = "ticket_urged"
"""Outbox.event of the nudge pushed to the people working the ticket."""
NUDGE_EVERY_S = 4 * 3600
"""At most one nudge per ticket in this many seconds: the SLA warnings and the 督办 ladder
already chase an overdue ticket, so a resident asking every few minutes should be heard (every
催办 is on the timeline) without flooding the worker — one nudge per half working day."""


def urge(session: Session, ticket: Ticket, resident: Resident, text: str,
         now: datetime) -> bool:
    """催办: record the resident's follow-up on ``ticket`` (locked) and nudge the people
    working it unless a nudge went out in the last ``NUDGE_EVERY_S`` seconds; returns
    whether anyone was nudged. Raises NotAllowed (not the reporter), WrongState (not open).
    """
    permissions.require(session, resident, "urge", ticket)
    if ticket.status not in S.OPEN:
        raise WrongState(f"{ticket.number}: cannot urge in {ticket.status}")
    nudged = False
    if not _nudged_since(session, ticket, now - timedelta(seconds=NUDGE_EVERY_S)):
        nudged = tell_staff(session, handlers_of(session, ticket), ticket, NUDGE_EVENT,
                            msg("urge.push", **describe(session, ticket))) > 0
    repo.record(session, ticket, URGE if nudged else URGE_HELD, actor(resident), now, text)
    return nudged


def _nudged_since(session: Session, ticket: Ticket, since: datetime) -> bool:
    return session.exec(
        select(TicketEvent.id).where(TicketEvent.ticket_id == ticket.id,
                                     TicketEvent.kind == URGE, col(TicketEvent.at) >= since)
        .limit(1)).first() is not None
