"""Formal hand-over of a ticket (首问负责 ends only here): 转派 to another grid or to a
department, 上报 to the community (小事不出网格、大事不出社区), and 驳回 (not our business).

Each function runs in the caller's transaction, records the reason in the timeline, replans
the timers and pushes to the people concerned. SLA due times are the resident's promise and
do not restart on a transfer. Raises ``services.errors.NotAllowed`` unless the acting
worker may (``services.permissions``), ``WrongState`` when the status does not allow it,
``NotFound`` for an unknown grid or department (``find_target``).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, or_, select

from services import conflict, permissions
from services.errors import Invalid, NotFound, WrongState
from services.messages import msg
from services.notify import describe, tell_owner, tell_resident, tell_staff
from services.people import (
    community_id_of,
    community_staff,
    department_members,
    grid_leaders,
    staff_of_community,
)
from services.tickets import actor, move
from storage import org, sla
from storage import tickets as repo
from storage.models import Department, Grid, GridWorker, Ticket, TicketStatus

S = TicketStatus
TRANSFERABLE = (S.SUBMITTED, S.ASSIGNED, S.ACCEPTED, S.IN_PROGRESS, S.WAITING_RESIDENT,
                S.REOPENED)


def find_target(session: Session, name: str, community_id: int | None = None
                ) -> Grid | Department:
    """The grid (by code "G02" or name "第二网格") or department (by name) called ``name``;
    grids are looked up within ``community_id`` when given (codes are unique only within
    their community); a department is that community's own one first, then a street-level
    one (``storage.org.department_by_name``: 转派 物业公司 from a ticket of 阳光社区 reaches
    阳光社区's 物业公司, 转派 城管 the street's 城管 from any community).

    Raises NotFound.
    """
    name = name.strip()
    query = select(Grid).where(or_(Grid.code == name.upper(), Grid.name == name))
    if community_id is not None:
        query = query.where(Grid.community_id == community_id)
    grid = session.exec(query.order_by(Grid.id)).first()
    if grid is not None:
        return grid
    department = org.department_by_name(session, name, community_id)
    if department is not None:
        return department
    raise NotFound(name)


def transfer_targets(session: Session, ticket: Ticket) -> list[Grid | Department]:
    """Where ``ticket`` may be transferred (转派): the other grids of its community (every
    grid for a ticket with no grid), by code, then the departments of its community and those
    of none, by name — the one it is with left out."""
    community_id = community_id_of(session, ticket)
    grids = select(Grid).order_by(Grid.community_id, Grid.code)
    departments = select(Department).order_by(Department.name)
    if community_id is not None:
        grids = grids.where(Grid.community_id == community_id)
        departments = departments.where(or_(col(Department.community_id).is_(None),
                                            Department.community_id == community_id))
    found: list[Grid | Department] = [
        g for g in session.exec(grids) if g.id != ticket.grid_id or ticket.department_id]
    found += [d for d in session.exec(departments) if d.id != ticket.department_id]
    return found


def transfer(session: Session, ticket: Ticket, worker: GridWorker, target: Grid | Department,
             reason: str, now: datetime) -> str:
    """转派 to ``target``; returns its display name. Raises NotAllowed, WrongState.

    To a grid: the ticket joins that grid's queue and its grid worker becomes assignee and
    首问责任人 (a formal hand-over). To a department: the department's members are pushed and
    any of them may take it; the 首问责任人 stays and is told each step.
    A waiting_resident ticket resumes its clock first.
    """
    permissions.require(session, worker, "transfer", ticket)
    if ticket.status not in TRANSFERABLE:
        raise WrongState(f"{ticket.number}: cannot transfer in {ticket.status}")
    if isinstance(target, Grid) and target.id == ticket.grid_id and ticket.department_id is None:
        raise WrongState(f"{ticket.number} is already in grid {target.code}")
    if isinstance(target, Department) and target.id == ticket.department_id:
        raise WrongState(f"{ticket.number} is already with {target.name}")
    sla.resume(ticket, now)
    label = target.name
    if isinstance(target, Grid):
        new_worker = conflict.assignee_in_grid(session, ticket, target.id)
        ticket.grid_id = target.id
        ticket.department_id = None
        ticket.assignee_id = new_worker.id if new_worker else None
        ticket.first_owner_id = new_worker.id if new_worker else ticket.first_owner_id
        people = [new_worker] if new_worker else community_staff(session, target.community_id)
    else:
        ticket.department_id = target.id
        ticket.assignee_id = None
        people = department_members(session, target.id) or staff_of_community(session, ticket)
    note = msg("handover.note_transfer", target=label, reason=reason or "-", who=worker.name)
    move(session, ticket, S.ASSIGNED, actor(worker), now, note)
    sla.plan(session, ticket, now)
    fields = describe(session, ticket)
    tell_staff(session, people, ticket, "task_transferred",
               msg("push.task_transferred", who=worker.name, reason=reason or "-", **fields),
               skip=worker)
    tell_owner(session, ticket, "ticket_transferred_owner",
               msg("push.owner_update", no=ticket.number, who=worker.name,
                   what=msg("handover.what_transfer", target=label)), skip=worker)
    tell_resident(session, ticket, "ticket_transferred",
                  msg("push.ticket_transferred", no=ticket.number, target=label), now)
    return label


def call_in(session: Session, ticket: Ticket, worker: GridWorker, reason: str,
            now: datetime) -> int:
    """上报: ask the community (and the grid leader) to take charge; the worker stays on
    it. Returns how many staff were told. Raises NotAllowed, WrongState (not open)."""
    permissions.require(session, worker, "call_in", ticket)
    if ticket.status not in S.OPEN:
        raise WrongState(f"{ticket.number}: cannot escalate in {ticket.status}")
    ticket.escalation_level = max(ticket.escalation_level, 2)
    session.add(ticket)
    repo.record(session, ticket, "escalated", actor(worker), now,
                msg("handover.note_call_in", who=worker.name, reason=reason))
    people = grid_leaders(session, ticket) + staff_of_community(session, ticket)
    return tell_staff(session, people, ticket, "task_escalated",
                      msg("push.task_escalated", who=worker.name, reason=reason,
                          **describe(session, ticket)), skip=worker)


def reject(session: Session, ticket: Ticket, worker: GridWorker, reason: str,
           now: datetime) -> None:
    """驳回: close the ticket as not the community's business; ``reason`` says why and where
    to go and is pushed to the resident. Raises NotAllowed, WrongState, Invalid (no reason)."""
    permissions.require(session, worker, "reject", ticket)
    if not reason.strip():
        raise Invalid("a rejection needs a reason and where to go")
    ticket.resolution = reason
    sla.mark_resolved(ticket, now)
    move(session, ticket, S.REJECTED, actor(worker), now, reason)
    sla.plan(session, ticket, now)
    tell_resident(session, ticket, "ticket_rejected",
                  msg("push.ticket_rejected", no=ticket.number, reason=reason), now)
