"""The ticket life cycle as people live it: every change is a timeline event, replans the
ticket's SLA timers (``storage.sla.plan``) and tells the right person through the outbox —
all in the caller's transaction.

submitted → assigned → accepted → in_progress → resolved → closed (rated, or 默认满意 after
the rating window), or cancelled / rejected; 不满意 reopens. The grid's worker is the
assignee and the 首问责任人 (``first_owner_id``); a grid with no worker leaves the ticket
submitted and alerts the community's staff. Hand-over lives in ``handlers.handover``, the
waiting_resident dialogue in ``handlers.questions``, timers firing in ``handlers.escalation``.

Functions raise ``storage.Conflict`` when the status does not allow the change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, and_, col, or_, select

from services import conflict, promise
from services.messages import msg
from storage import Conflict, sla
from storage import org as org_repo
from storage import tickets as repo
from storage.models import (
    Department,
    DepartmentMember,
    Grid,
    GridWorker,
    Priority,
    Resident,
    Role,
    Ticket,
    TicketFollower,
    TicketStatus,
)
from storage.outbox import add_push
from storage.times import as_utc, show

VULNERABLE_LEVELS = ("红", "橙", "黄")
"""Care levels (红橙黄蓝绿) that raise a ticket to Priority.HIGH; urgent dangers stay first."""

S = TicketStatus


@dataclass(frozen=True)
class NewTicket:
    """What a resident reported. ``kind`` is "complaint", "repair" or "emergency" (急救, 治安,
    走失, 求助: ``intents/emergency.toml``).

    Where the problem is (``handlers.location.ticket_fields``): a building (+unit/room), a
    public place, and/or a shared WeChat location (WGS-84 degrees, ``location`` its label
    as text). None of them: the resident's home.
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


def actor(who: Resident | GridWorker | None) -> str:
    """Timeline actor label: "resident:<id>", "worker:<id>" or "system"."""
    if isinstance(who, Resident):
        return f"resident:{who.id}"
    if isinstance(who, GridWorker):
        return f"worker:{who.id}"
    return "system"


def describe(session: Session, ticket: Ticket) -> dict[str, str]:
    """Fields people see: no, kind, category, address, status (Chinese)."""
    building = org_repo.building(session, ticket.building_id) if ticket.building_id else None
    place = org_repo.place(session, ticket.place_id) if ticket.place_id else None
    address = (org_repo.format_address(building.name, ticket.unit, ticket.room) if building
               else place.name if place else ticket.location or "未填写")
    return {
        "no": ticket.number,
        "kind": msg(f"kind.{ticket.kind}"),
        "category": ticket.category or "其他",
        "address": address,
        "status": status_text(session, ticket),
        "text": ticket.description,
    }


def status_text(session: Session, ticket: Ticket) -> str:
    """The status as people read it, hand-overs included: 「已转交物业公司，待接单」 after a
    转派 to a department, and 「（社区已介入）」 added while an open ticket is escalated to
    the community (上报, or the 督办 ladder's level 2 and up)."""
    text = msg(f"status.{ticket.status}")
    if ticket.department_id is not None and ticket.status == S.ASSIGNED:
        department = session.get(Department, ticket.department_id)
        text = msg("handover.status_department", department=department.name if department
                   else "-")
    if ticket.escalation_level >= COMMUNITY_LEVEL and ticket.status in S.OPEN:
        text += msg("handover.status_escalated")
    return text


def _template(fields: dict[str, str], now: datetime, remark: str = "") -> dict[str, str]:
    """Template message data (first/keyword1…/remark) for a ticket push."""
    return {"first": f"{fields['kind']}工单进度", "keyword1": fields["no"],
            "keyword2": fields["status"], "keyword3": show(now), "remark": remark}


def open_ticket(session: Session, resident: Resident, report: NewTicket, now: datetime,
                prefix: str = "GD") -> Ticket:
    """Create the ticket in the grid covering where the problem is (the report's building or
    place; else the resident's home building, also for a shared location that matched no
    known building or place) and push it to its worker.

    With no grid found the ticket stays submitted for community staff. Urgent reports get
    Priority.URGENT and are pushed to the grid's leaders as well; residents with a
    ``VULNERABLE_LEVELS`` care level get Priority.HIGH.
    The SLA policy is matched, both due times set and the timers planned.
    """
    own = report.building_id is not None or report.place_id is not None
    at_home = not own and report.latitude is None  # nothing but the home address
    building_id = report.building_id if own else resident.building_id
    building = org_repo.building(session, building_id) if building_id else None
    place = org_repo.place(session, report.place_id) if report.place_id else None
    grid_id = place.grid_id if place else building.grid_id if building else None
    priority = Priority.NORMAL
    if resident.vulnerability in VULNERABLE_LEVELS:
        priority = Priority.HIGH
    if report.urgent:
        priority = Priority.URGENT
    ticket = Ticket(
        number=repo.next_number(session, prefix, now),
        kind=report.kind, category=report.category, description=report.description,
        location=report.location, building_id=building_id if own or at_home else None,
        unit=report.unit if own else resident.unit if at_home else None,
        room=report.room if own else resident.room if at_home else None,
        place_id=report.place_id, latitude=report.latitude, longitude=report.longitude,
        priority=priority, urgent=report.urgent, grid_id=grid_id, resident_id=resident.id,
        source_msg_id=report.source_msg_id, created_at=now,
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
    repo.record(session, ticket, S.SUBMITTED, actor(resident), now, report.description)
    conflict.record(session, ticket, pick, now)
    if worker is not None:
        repo.record(session, ticket, S.ASSIGNED, "system", now, worker.name)
    fields = describe(session, ticket)
    urgent = msg("push.urgent_flag") if ticket.urgent else ""
    if worker is not None:
        add_push(session, openid=worker.openid, audience="worker", event="task_assigned",
                 text=msg("push.task_assigned", urgent=urgent, phone=resident.phone or "未留",
                          **fields),
                 data=_template(fields, now, "请尽快接单"), ticket_id=ticket.id)
    else:
        repo.record(session, ticket, "unassigned", "system", now)
        for staff in _community_staff(session, ticket):
            add_push(session, openid=staff.openid, audience="worker", event="task_unassigned",
                     text=msg("push.task_unassigned", **fields),
                     data=_template(fields, now, "请派单"), ticket_id=ticket.id)
    if ticket.urgent:  # 三必到: the grid leaders hear of every emergency at once, too
        tell_staff(session, grid_leaders(session, ticket), ticket, "urgent_leader",
                   msg("emergency.push_leader", phone=resident.phone or "未留",
                       worker=worker.name if worker else msg("status.submitted"), **fields),
                   skip=worker)
    sla.plan(session, ticket, now)
    return ticket


# -- who is told -------------------------------------------------------------------------------

def community_id_of(session: Session, ticket: Ticket) -> int | None:
    grid = org_repo.grid(session, ticket.grid_id) if ticket.grid_id else None
    return grid.community_id if grid else None


def _community_staff(session: Session, ticket: Ticket) -> list[GridWorker]:
    return community_staff(session, community_id_of(session, ticket))


def community_staff(session: Session, community_id: int | None) -> list[GridWorker]:
    """Active community_admin staff of the community (all of them when None)."""
    query = select(GridWorker).where(GridWorker.role == Role.COMMUNITY_ADMIN, GridWorker.active)
    if community_id is not None:
        query = query.where(GridWorker.community_id == community_id)
    return list(session.exec(query.order_by(GridWorker.id)))


def grid_leaders(session: Session, ticket: Ticket) -> list[GridWorker]:
    """Active grid leaders (网格长) of the ticket's grid."""
    if ticket.grid_id is None:
        return []
    return list(session.exec(
        select(GridWorker).where(GridWorker.grid_id == ticket.grid_id,
                                 GridWorker.role == Role.GRID_LEADER, GridWorker.active)
        .order_by(GridWorker.id)))


def department_members(session: Session, department_id: int | None) -> list[GridWorker]:
    """Active members of the department."""
    if department_id is None:
        return []
    return list(session.exec(
        select(GridWorker).join(DepartmentMember, DepartmentMember.worker_id == GridWorker.id)
        .where(DepartmentMember.department_id == department_id, GridWorker.active)
        .order_by(GridWorker.id)))


def departments_of(session: Session, worker: GridWorker) -> list[int]:
    """Ids of the departments the worker acts for."""
    return list(session.exec(
        select(DepartmentMember.department_id).where(DepartmentMember.worker_id == worker.id)))


def handlers_of(session: Session, ticket: Ticket) -> list[GridWorker]:
    """Who works the ticket now: the assignee; else the department's members; else the
    community's staff."""
    assignee = org_repo.staff(session, ticket.assignee_id) if ticket.assignee_id else None
    if assignee is not None and assignee.active:
        return [assignee]
    return (department_members(session, ticket.department_id)
            or _community_staff(session, ticket))


def tell_staff(session: Session, people: list[GridWorker], ticket: Ticket, event: str,
               text: str, skip: GridWorker | None = None) -> int:
    """Push ``text`` to each distinct person (not ``skip``, nor anyone recused from the
    ticket: ``services.conflict``); returns how many were told."""
    seen: set[int] = {skip.id} if skip is not None else set()
    recused = conflict.recused_ids(session, ticket)
    for person in people:
        if person.id in seen or person.id in recused:
            continue
        seen.add(person.id)
        add_push(session, openid=person.openid, audience="worker", event=event, text=text,
                 ticket_id=ticket.id)
    return len(seen) - (1 if skip is not None else 0)


def tell_owner(session: Session, ticket: Ticket, event: str, text: str,
               skip: GridWorker | None = None) -> None:
    """首问负责: keep the first owner informed when someone else works the ticket."""
    owner = org_repo.staff(session, ticket.first_owner_id) if ticket.first_owner_id else None
    if owner is not None and owner.active and owner.id != ticket.assignee_id:
        tell_staff(session, [owner], ticket, event, text, skip=skip)


def can_handle(session: Session, worker: GridWorker, ticket: Ticket) -> bool:
    """Who may act on a ticket: its assignee; its 首问责任人; a member of the department it
    was transferred to; a leader/admin of its community; or — for an unassigned ticket —
    any worker of its grid. Never someone recused from it (``services.conflict``)."""
    if worker.id in conflict.recused_ids(session, ticket):
        return False
    if worker.id in (ticket.assignee_id, ticket.first_owner_id):
        return True
    if ticket.department_id is not None and ticket.department_id in departments_of(session, worker):
        return True
    if worker.role in (Role.COMMUNITY_ADMIN, Role.GRID_LEADER):
        community_id = community_id_of(session, ticket)
        if worker.role == Role.GRID_LEADER and worker.grid_id is not None:
            return worker.grid_id == ticket.grid_id
        return community_id is None or worker.community_id in (None, community_id)
    return ticket.assignee_id is None and worker.grid_id == ticket.grid_id


def tell_resident(session: Session, ticket: Ticket, event: str, text: str, now: datetime,
                  remark: str = "") -> None:
    """Push to the reporting resident and to every follower (joined duplicates)."""
    ids = [ticket.resident_id] if ticket.resident_id else []
    ids += list(session.exec(select(TicketFollower.resident_id)
                             .where(TicketFollower.ticket_id == ticket.id)
                             .order_by(TicketFollower.id)))
    data = _template(describe(session, ticket), now, remark)
    for resident_id in dict.fromkeys(ids):
        resident = session.get(Resident, resident_id)
        if resident is None or not resident.openid:
            continue  # anonymised (unsubscribed): nobody to tell
        add_push(session, openid=resident.openid, audience="resident", event=event, text=text,
                 data=data, ticket_id=ticket.id)




# -- life cycle --------------------------------------------------------------------------------

def accept(session: Session, ticket: Ticket, worker: GridWorker, now: datetime) -> None:
    """The worker takes the ticket (first response; stops the response clock).

    Allowed from submitted, assigned and reopened. Raises Conflict.
    """
    if ticket.status == S.SUBMITTED:
        ticket.assignee_id = worker.id
        repo.move(session, ticket, S.ASSIGNED, actor(worker), now, worker.name)
    elif ticket.status not in (S.ASSIGNED, S.REOPENED):
        raise Conflict(f"{ticket.number}: cannot accept in {ticket.status}")
    ticket.assignee_id = worker.id
    if ticket.first_owner_id is None:
        ticket.first_owner_id = worker.id
    repo.move(session, ticket, S.ACCEPTED, actor(worker), now)
    sla.mark_response(ticket, now)
    sla.plan(session, ticket, now)
    tell_resident(session, ticket, "ticket_accepted",
                  msg("push.ticket_accepted", no=ticket.number, worker=worker.name,
                      phone=worker.phone or "-", due=promise.inline(ticket, now)), now)
    tell_owner(session, ticket, "ticket_accepted_owner",
               msg("push.owner_update", no=ticket.number, who=worker.name,
                   what=msg("event.accepted")), skip=worker)


def start(session: Session, ticket: Ticket, worker: GridWorker, now: datetime) -> None:
    """到场/处理: the worker is on it (in_progress). Accepts first when needed. Raises Conflict."""
    if ticket.status in (S.SUBMITTED, S.ASSIGNED, S.REOPENED):
        accept(session, ticket, worker, now)
    repo.move(session, ticket, S.IN_PROGRESS, actor(worker), now)
    sla.mark_response(ticket, now)
    sla.plan(session, ticket, now)
    tell_resident(session, ticket, "ticket_in_progress",
                  msg("push.ticket_in_progress", no=ticket.number, worker=worker.name), now)


def resolve(session: Session, ticket: Ticket, worker: GridWorker, note: str,
            now: datetime) -> None:
    """The worker closes the work (办结) with ``note``; the resident is asked to rate.

    A ticket resolved without a separate 接单 counts as accepted at the same moment; both
    clocks stop and the rating follow-up timer is planned. Raises Conflict.
    """
    if ticket.status == S.SUBMITTED:
        raise Conflict(f"{ticket.number} is not assigned")
    if ticket.status in (S.ASSIGNED, S.REOPENED):
        accept(session, ticket, worker, now)
    ticket.resolution = note
    sla.mark_resolved(ticket, now)
    repo.move(session, ticket, S.RESOLVED, actor(worker), now, note)
    sla.plan(session, ticket, now)
    tell_resident(session, ticket, "ticket_resolved",
                  msg("push.ticket_resolved", no=ticket.number, note=note), now, "请评价")
    tell_owner(session, ticket, "ticket_resolved_owner",
               msg("push.owner_update", no=ticket.number, who=worker.name,
                   what=msg("event.resolved") + "：" + note), skip=worker)


def rate(session: Session, ticket: Ticket, resident: Resident, score: int, now: datetime,
         comment: str | None = None) -> str:
    """Store the resident's 1–5 rating of a resolved (or recently closed) ticket.

    A score up to ``reopen_score_max`` (不满意) reopens the ticket and alerts the grid
    leader, unless it was reopened ``max_reopens`` times already (then it closes and the
    community is alerted). Returns the new status ("closed" or "reopened").
    Raises Conflict, ValueError (score outside 1–5).
    """
    if not 1 <= score <= 5:
        raise ValueError(f"rating {score} outside 1–5")
    cfg = sla.load()
    ticket.rating = score
    ticket.rating_comment = comment
    unhappy = score <= cfg.reopen_score_max
    assignee = org_repo.staff(session, ticket.assignee_id) if ticket.assignee_id else None
    if assignee is not None:
        add_push(session, openid=assignee.openid, audience="worker", event="ticket_rated",
                 text=msg("push.ticket_rated", no=ticket.number, score=score),
                 ticket_id=ticket.id)
    if unhappy and ticket.reopened_count < cfg.max_reopens:
        reopen(session, ticket, resident, now, f"{score}分：{comment or ''}".rstrip("："))
        return S.REOPENED
    if ticket.status == S.CLOSED:  # a late rating of a ticket closed as 默认满意
        ticket.auto_closed = False
        repo.record(session, ticket, "rated", actor(resident), now, f"{score}分")
    else:
        repo.move(session, ticket, S.CLOSED, actor(resident), now, f"{score}分")
    sla.plan(session, ticket, now)
    if unhappy:
        tell_staff(session, grid_leaders(session, ticket) + _community_staff(session, ticket),
                   ticket, "ticket_unhappy",
                   msg("push.ticket_unhappy", no=ticket.number, score=score,
                       comment=comment or ""))
    return S.CLOSED


def reopen(session: Session, ticket: Ticket, resident: Resident | None, now: datetime,
           reason: str) -> None:
    """不满意: back to work in a new SLA cycle (fresh due times from ``now``); the assignee
    and the grid leader (else the community) are alerted. Raises Conflict."""
    repo.move(session, ticket, S.REOPENED, actor(resident), now, reason)
    ticket.reopened_count += 1
    ticket.sla_cycle += 1
    ticket.resolve_met = None
    ticket.auto_closed = False
    sla.start_clocks(ticket, now)
    sla.plan(session, ticket, now)
    text = msg("push.ticket_reopened", no=ticket.number, reason=reason,
               **{k: v for k, v in describe(session, ticket).items() if k != "no"})
    leaders = grid_leaders(session, ticket) or _community_staff(session, ticket)
    tell_staff(session, handlers_of(session, ticket) + leaders, ticket, "ticket_reopened", text)


def auto_close(session: Session, ticket: Ticket, now: datetime) -> None:
    """No rating within the window: close as default-satisfied (默认满意), marked
    ``auto_closed``. Raises Conflict when the ticket is no longer resolved."""
    ticket.auto_closed = True
    repo.move(session, ticket, S.CLOSED, "system", now, msg("event.default_satisfied"))
    sla.plan(session, ticket, now)
    tell_resident(session, ticket, "ticket_auto_closed",
                  msg("push.ticket_auto_closed", no=ticket.number,
                      days=sla.load().reopen_window_s // 86400), now)


def reopen_window_start(now: datetime) -> datetime:
    """Tickets closed at or after this instant may still be reopened by 不满意."""
    return as_utc(now) - timedelta(seconds=sla.load().reopen_window_s)


def cancel(session: Session, ticket: Ticket, resident: Resident, now: datetime) -> None:
    """The resident withdraws an open ticket; the assignee is told. Raises Conflict."""
    if ticket.status not in S.OPEN:
        raise Conflict(f"{ticket.number}: cannot cancel in {ticket.status}")
    repo.move(session, ticket, S.CANCELLED, actor(resident), now)
    sla.plan(session, ticket, now)
    assignee = org_repo.staff(session, ticket.assignee_id) if ticket.assignee_id else None
    if assignee is not None:
        add_push(session, openid=assignee.openid, audience="worker", event="ticket_cancelled",
                 text=msg("push.ticket_cancelled", no=ticket.number), ticket_id=ticket.id)


def open_tickets_of(session: Session, worker: GridWorker) -> list[Ticket]:
    """The worker's queue, in ``storage.tickets.QUEUE_ORDER``: assigned to them, transferred
    to their departments, the unassigned tickets of their grid; for a grid leader also the
    grid's tickets escalated to them (督办 level ≥ 1); for community staff the community's
    tickets escalated to it (上报 or level ≥ 2) and those no one was assigned. Tickets the
    worker is recused from (``services.conflict``) are left out."""
    mine = repo.assigned_to(session, worker.id)
    seen = {t.id for t in mine}
    extra = repo.of_department(session, departments_of(session, worker))
    if worker.grid_id is not None:
        leader = worker.role == Role.GRID_LEADER
        extra += [t for t in repo.grid_queue(session, worker.grid_id)
                  if t.assignee_id is None or (leader and t.escalation_level >= 1)]
    if worker.role == Role.COMMUNITY_ADMIN:
        extra += _community_queue(session, worker.community_id)
    for t in extra:
        if t.id not in seen:
            seen.add(t.id)
            mine.append(t)
    recused = conflict.recused_from(session, worker, [t.id for t in mine])
    return sorted((t for t in mine if t.id not in recused), key=queue_key)


COMMUNITY_LEVEL = 2
"""Escalation level at which a ticket is the community's (上报, or the 督办 ladder's L2)."""


def _community_queue(session: Session, community_id: int | None) -> list[Ticket]:
    """Open tickets of the community (all when None) escalated to it or left unassigned."""
    query = (select(Ticket).join(Grid, Grid.id == Ticket.grid_id)
             .where(repo.is_open(),
                    or_(Ticket.escalation_level >= COMMUNITY_LEVEL,
                        and_(col(Ticket.assignee_id).is_(None),
                             col(Ticket.department_id).is_(None)))))
    if community_id is not None:
        query = query.where(Grid.community_id == community_id)
    return list(session.exec(query.order_by(*repo.QUEUE_ORDER)))


_FAR = datetime.max.replace(tzinfo=UTC)


def queue_key(ticket: Ticket) -> tuple:
    """Sort key matching ``storage.tickets.QUEUE_ORDER`` (priority, due time, age, id)."""
    due = as_utc(ticket.resolve_due_at) if ticket.resolve_due_at else _FAR
    return ticket.priority, due, as_utc(ticket.created_at), ticket.id
