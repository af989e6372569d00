"""The ticket life cycle as people live it: every change is a timeline event and tells
the right person through the outbox.

submitted → assigned → accepted → resolved → closed (rated), or cancelled. The grid's worker
is the assignee (首问负责); a grid with no worker leaves the ticket submitted and alerts the
community's staff.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from handlers.messages import msg
from storage import Conflict
from storage import org as org_repo
from storage import tickets as repo
from storage.models import (
    Building,
    Grid,
    GridWorker,
    Priority,
    Resident,
    Role,
    Ticket,
    TicketStatus,
)
from storage.outbox import add_push
from storage.times import show

S = TicketStatus


@dataclass(frozen=True)
class NewTicket:
    """What a resident reported. ``kind`` is "complaint" or "repair"."""

    kind: str
    category: str | None
    description: str
    urgent: bool = False
    location: str | None = None
    source_msg_id: int | None = None


def actor(who: Resident | GridWorker | None) -> str:
    """Timeline actor label: "resident:<id>", "worker:<id>" or "system"."""
    if isinstance(who, Resident):
        return f"resident:{who.id}"
    if isinstance(who, GridWorker):
        return f"worker:{who.id}"
    return "system"


def describe(session: Session, ticket: Ticket) -> dict[str, str]:
    """Fields people see: no, kind, category, address, status (Chinese)."""
    building = session.get(Building, ticket.building_id) if ticket.building_id else None
    address = org_repo.format_address(building.name, ticket.unit, ticket.room) if building else (
        ticket.location or "未填写")
    return {
        "no": ticket.number,
        "kind": msg(f"kind.{ticket.kind}"),
        "category": ticket.category or "其他",
        "address": address,
        "status": msg(f"status.{ticket.status}"),
        "text": ticket.description,
    }


def _template(fields: dict[str, str], now: datetime, remark: str = "") -> dict[str, str]:
    """Template message data (first/keyword1…/remark) for a ticket push."""
    return {"first": f"{fields['kind']}工单进度", "keyword1": fields["no"],
            "keyword2": fields["status"], "keyword3": show(now), "remark": remark}


def open_ticket(session: Session, resident: Resident, report: NewTicket, now: datetime,
                prefix: str = "GD") -> Ticket:
    """Create the ticket in the grid of the resident's building and push it to its worker.

    The resident must have a building. Urgent reports get Priority.URGENT; residents with a
    red/orange care level get Priority.HIGH.
    """
    building = session.get(Building, resident.building_id) if resident.building_id else None
    priority = Priority.NORMAL
    if resident.vulnerability in ("红", "橙"):
        priority = Priority.HIGH
    if report.urgent:
        priority = Priority.URGENT
    ticket = Ticket(
        number=repo.next_number(session, prefix, now),
        kind=report.kind, category=report.category, description=report.description,
        location=report.location, building_id=resident.building_id, unit=resident.unit,
        room=resident.room, priority=priority, urgent=report.urgent,
        grid_id=building.grid_id if building else None, resident_id=resident.id,
        source_msg_id=report.source_msg_id, created_at=now,
    )
    session.add(ticket)
    session.flush()
    repo.record(session, ticket, S.SUBMITTED, actor(resident), now, report.description)
    worker = org_repo.grid_worker_of(session, ticket.grid_id) if ticket.grid_id else None
    if worker is not None:
        ticket.assignee_id = worker.id
        repo.move(session, ticket, S.ASSIGNED, "system", now, worker.name)
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
    return ticket


def _community_staff(session: Session, ticket: Ticket) -> list[GridWorker]:
    community_id = None
    if ticket.grid_id is not None:
        community_id = session.get(Grid, ticket.grid_id).community_id
    query = select(GridWorker).where(GridWorker.role == Role.COMMUNITY_ADMIN, GridWorker.active)
    if community_id is not None:
        query = query.where(GridWorker.community_id == community_id)
    return list(session.exec(query))


def can_handle(session: Session, worker: GridWorker, ticket: Ticket) -> bool:
    """The assignee, a leader/admin of the ticket's community, or — for an unassigned
    ticket — any worker of its grid may act on it (首问负责)."""
    if ticket.assignee_id == worker.id:
        return True
    if worker.role in (Role.COMMUNITY_ADMIN, Role.GRID_LEADER):
        grid = session.get(Grid, ticket.grid_id) if ticket.grid_id else None
        return grid is None or worker.community_id in (None, grid.community_id)
    return ticket.assignee_id is None and worker.grid_id == ticket.grid_id


def _tell_resident(session: Session, ticket: Ticket, event: str, text: str, now: datetime,
                   remark: str = "") -> None:
    resident = session.get(Resident, ticket.resident_id) if ticket.resident_id else None
    if resident is None or not resident.openid:
        return  # anonymised (unsubscribed): nobody to tell
    add_push(session, openid=resident.openid, audience="resident", event=event, text=text,
             data=_template(describe(session, ticket), now, remark), ticket_id=ticket.id)


def accept(session: Session, ticket: Ticket, worker: GridWorker, now: datetime) -> None:
    """The worker takes the ticket (first response). Raises Conflict."""
    if ticket.status == S.SUBMITTED:
        ticket.assignee_id = worker.id
        repo.move(session, ticket, S.ASSIGNED, actor(worker), now, worker.name)
    elif ticket.assignee_id != worker.id:
        ticket.assignee_id = worker.id
    repo.move(session, ticket, S.ACCEPTED, actor(worker), now)
    _tell_resident(session, ticket, "ticket_accepted",
                   msg("push.ticket_accepted", no=ticket.number, worker=worker.name,
                       phone=worker.phone or "-"), now)


def resolve(session: Session, ticket: Ticket, worker: GridWorker, note: str,
            now: datetime) -> None:
    """The worker closes the work (办结) with ``note``; the resident is asked to rate.

    A ticket resolved without a separate 接单 counts as accepted at the same moment.
    Raises Conflict.
    """
    if ticket.status == S.SUBMITTED:
        raise Conflict(f"{ticket.number} is not assigned")
    if ticket.status == S.ASSIGNED:
        repo.move(session, ticket, S.ACCEPTED, actor(worker), now)
    ticket.resolution = note
    repo.move(session, ticket, S.RESOLVED, actor(worker), now, note)
    _tell_resident(session, ticket, "ticket_resolved",
                   msg("push.ticket_resolved", no=ticket.number, note=note), now, "请评价")


def rate(session: Session, ticket: Ticket, resident: Resident, score: int, now: datetime,
         comment: str | None = None) -> None:
    """Store the resident's 1–5 rating and close the ticket. Raises Conflict, ValueError."""
    if not 1 <= score <= 5:
        raise ValueError(f"rating {score} outside 1–5")
    ticket.rating = score
    ticket.rating_comment = comment
    repo.move(session, ticket, S.CLOSED, actor(resident), now, f"{score}分")
    assignee = session.get(GridWorker, ticket.assignee_id) if ticket.assignee_id else None
    if assignee is not None:
        add_push(session, openid=assignee.openid, audience="worker", event="ticket_rated",
                 text=msg("push.ticket_rated", no=ticket.number, score=score,
                          comment=comment or ""),
                 ticket_id=ticket.id)


def cancel(session: Session, ticket: Ticket, resident: Resident, now: datetime) -> None:
    """The resident withdraws an open ticket; the assignee is told. Raises Conflict."""
    repo.move(session, ticket, S.CANCELLED, actor(resident), now)
    assignee = session.get(GridWorker, ticket.assignee_id) if ticket.assignee_id else None
    if assignee is not None:
        add_push(session, openid=assignee.openid, audience="worker", event="ticket_cancelled",
                 text=msg("push.ticket_cancelled", no=ticket.number), ticket_id=ticket.id)
